#!/usr/bin/env bash
# record-histories.sh — re-record the workflow histories the replay test
# (workflows/replay_test.go) runs today's code against. One command:
#
#   make record-histories
#
# It runs the end-to-end suite against the test bed, then exports, from the
# dev server, the latest run of each workflow path the suite drives (a
# cancelled deploy is driven here: the suite has no cancel case), into
# workflows/testdata/NAME.json. Commit the files with the workflow change
# that needed them; never re-record to make a replay failure go away
# without a workflow.GetVersion for in-flight deploys.
set -euo pipefail
cd "$(dirname "$0")/.."
source "${HOIST_TB_DIR:-/var/lib/hoist-testbed}/env"
T=$HOIST_TB_TEMPORAL_BIN
ADDR=$HOIST_TB_TEMPORAL
OUT=workflows/testdata
# Histories of today's flow are written as preflight-NAME.json. Those
# recorded before each change stay and keep proving that deploys in flight
# across an upgrade replay: NAME.json (before the hardening change, issue
# 8) and hardened-NAME.json (hardened, before pre-flight, issue 9).
PREFIX=preflight-
# HOIST_RECORD_SINCE=<RFC 3339 time> reuses an e2e run that started then
# instead of running the suite again.
since=${HOIST_RECORD_SINCE:-$(date -u +%Y-%m-%dT%H:%M:%SZ)}

[[ -n ${HOIST_RECORD_SINCE:-} ]] || go test -count=1 -tags integration ./e2e/ >/dev/null

# latest PREFIX STATUS [EXCLUDE]: "workflowId runId" of the newest run
# since $since whose ID does not contain EXCLUDE.
# A rollout's parent is a Deploy, its hosts' children DeployHost with IDs
# under the parent's: TYPE tells them apart.
latest() {
	"$T" workflow list --address "$ADDR" -o json \
		--query "WorkflowId STARTS_WITH \"$1\" AND ExecutionStatus = \"$2\" AND StartTime > \"$since\" AND WorkflowType = \"${TYPE:-Deploy}\"" |
		go run ./scripts/testbed/firstrun -exclude "${3:-//none//}"
}

export_run() { # NAME PREFIX STATUS [EXCLUDE]
	# HOIST_RECORD_ONLY=PREFIX exports only that family (with HOIST_RECORD_SINCE: a partial run).
	[[ -z ${HOIST_RECORD_ONLY:-} || $PREFIX == "$HOIST_RECORD_ONLY" ]] || return 0
	read -r id run < <(latest "$2" "$3" "${4:-}")
	[[ -n ${run:-} ]] || { echo "no $3 run of $2* since $since" >&2; exit 1; }
	"$T" workflow show --address "$ADDR" -w "$id" -r "$run" -o json >"$OUT/$PREFIX$1.json"
	echo "$OUT/$PREFIX$1.json <- $id $run"
}

# Fleet rollouts (issue 9): parents and DeployHost children, as fleet-NAME.
PREFIX=fleet- export_run deploy-approved deploy/e2e-fleet-approve- Completed
PREFIX=fleet- export_run deploy-rejected deploy/e2e-fleet-approve- Failed
PREFIX=fleet- export_run deploy-timeout deploy/e2e-fleet-timeout- Failed
PREFIX=fleet- export_run deploy-crash-rollback deploy/e2e-fleet-crash-rollback- Failed
PREFIX=fleet- export_run deploy-crash-halt deploy/e2e-fleet-crash-halt- Failed
PREFIX=fleet- export_run deploy-budget deploy/e2e-fleet-budget- Failed
PREFIX=fleet- export_run deploy-preflight-failed deploy/e2e-fleet-preflight- Failed
PREFIX=fleet- export_run deploy-cancelled deploy/e2e-fleet-cancel- Canceled
TYPE=DeployHost PREFIX=fleet- export_run host-prepare deploy/e2e-fleet-budget- Completed /start
TYPE=DeployHost PREFIX=fleet- export_run host-start deploy/e2e-fleet-budget- Completed /prepare
TYPE=DeployHost PREFIX=fleet- export_run host-start-failed deploy/e2e-fleet-crash-rollback- Failed /prepare
TYPE=DeployHost PREFIX=fleet- export_run host-revert deploy/e2e-fleet-crash-rollback- Completed /start

# What surrounds a deploy (issue 10): --at, windows, notifications, hooks,
# and the bundle held by a ReleaseBundle run, as around-NAME.
PREFIX=around- export_run deploy-at deploy/e2e-at- Completed at-cancel
PREFIX=around- export_run deploy-at-cancelled deploy/e2e-at-cancel- Canceled
PREFIX=around- export_run deploy-window-wait deploy/e2e-window-wait- Completed
PREFIX=around- export_run deploy-window-refused deploy/e2e-window-refuse- Failed
PREFIX=around- export_run deploy-window-override deploy/e2e-window-refuse- Completed
PREFIX=around- export_run deploy-notify-rolled-back deploy/e2e-notify- Failed notify-kill
PREFIX=around- export_run deploy-notify-unconfirmed deploy/e2e-notify-kill- Completed
PREFIX=around- export_run deploy-hooks-failed deploy/e2e-hooks- Failed
TYPE=DeployHost PREFIX=around- export_run host-hooks-failed deploy/e2e-hooks- Failed /prepare

# Strategy zero-downtime and the health gate (issue 11), as zd-NAME.
PREFIX=zd- export_run deploy-success deploy/e2e-zdl- Completed
PREFIX=zd- export_run deploy-never-healthy deploy/e2e-zdn- Failed
PREFIX=zd- export_run deploy-crash-after-switch deploy/e2e-zdc- Failed
PREFIX=zd- export_run deploy-worker-killed deploy/e2e-zdk- Completed
PREFIX=zd- export_run rollback-manual deploy/e2e-zds- Completed
TYPE=DeployHost PREFIX=zd- export_run host-start deploy/e2e-zdf- Completed /prepare
TYPE=DeployHost PREFIX=zd- export_run host-revert deploy/e2e-zdb- Completed /start

export_run deploy-success deploy/e2e-first- Completed
export_run deploy-warning deploy/e2e-unhealthy- Completed unhealthyrb
export_run deploy-rollback deploy/e2e-crash- Failed crashfirst
export_run deploy-first-failure deploy/e2e-crashfirst- Failed
export_run deploy-two-hosts-rollback deploy/e2e-twohosts- Failed
TYPE=Status export_run status status/e2e- Completed
export_run deploy-pull-failed deploy/e2e-causeshell- Failed
export_run deploy-up-failed deploy/e2e-dependson- Failed
export_run rollback-manual deploy/e2e-mixednames- Completed
export_run deploy-preflight-failed deploy/e2e-hostgone- Failed

[[ -z ${HOIST_RECORD_ONLY:-} ]] || exit 0

# A cancelled deploy: v1, then an unhealthy v2 cancelled during its wait.
dir=$(mktemp -d)
svc=record-cancel
trap 'kill ${wp:-} 2>/dev/null; ssh -F "$HOIST_TB_SSH_CONFIG" h1 "docker compose -p $svc down -t 1 >/dev/null 2>&1; rm -rf /srv/hoist/$svc"; rm -rf "$dir"' EXIT
mkdir "$dir/files"
cat >"$dir/hoist.yml" <<YML
service: $svc
remote_base: /srv/hoist/$svc
files: ./files
hosts: [deploy@10.77.0.11]
wait: { retries: 10, delay: 3s }
YML
compose() {
	cat >"$dir/files/compose.yaml" <<YML
services:
  web:
    image: $HOIST_TB_REGISTRY/testapp:$1
    ports: ["18200:8080"]
    environment: { UNHEALTHY: "$2" }
    healthcheck: { test: ["CMD", "/app", "-healthcheck"], interval: 1s, timeout: 1s, retries: 100, start_period: 60s }
YML
}
export TEMPORAL_ADDRESS=$ADDR HOIST_TASK_QUEUE=record-$$
make build >/dev/null
bin/hoist worker --ssh-key "$HOIST_TB_SSH_KEY" --known-hosts "$HOIST_TB_KNOWN_HOSTS" >"$dir/worker.log" 2>&1 &
wp=$!
compose v1 0
bin/hoist deploy -c "$dir/hoist.yml" --version c1 >/dev/null
compose v2 1
bin/hoist deploy -c "$dir/hoist.yml" --version c2 --detach >/dev/null
sleep 6
bin/hoist cancel -c "$dir/hoist.yml" >/dev/null || true
export_run deploy-cancelled "deploy/$svc" Canceled
