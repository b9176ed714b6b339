#!/usr/bin/env bash
# make demo: a real deploy through a real Temporal server, shown in the Web UI.
# Brings the test bed up, starts a worker, then deploys the demo app to host
# h1 (10.77.0.11): v1, then v2 while an HTTP probe shows the old version
# keeps answering during the pull, then a crashing version that hoist rolls
# back automatically.
set -euo pipefail
cd "$(dirname "$0")"
REPO=$(cd .. && pwd)
TB=${HOIST_TB_DIR:-/var/lib/hoist-testbed}
HOIST=$REPO/bin/hoist
URL=http://10.77.0.11:8080/
export TEMPORAL_ADDRESS=${TEMPORAL_ADDRESS:-127.0.0.1:7233}
export HOIST_TASK_QUEUE=${HOIST_TASK_QUEUE:-hoist-demo}

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "Test bed, images and hoist"
make -C "$REPO" --no-print-directory testbed-up images build >/dev/null
mkdir -p "$TB/logs"

say "Worker (log: $TB/logs/demo-worker.log)"
"$HOIST" worker --ssh-key "$TB/ssh/id_ed25519" --known-hosts "$TB/ssh/known_hosts" \
	>"$TB/logs/demo-worker.log" 2>&1 &
worker=$!
probe_pid=
trap 'kill $worker ${probe_pid:-} 2>/dev/null || true' EXIT

# release TAG CRASH_AFTER: write the release files for one version.
release() {
	rm -rf release && mkdir release
	sed -e "s/@TAG@/$1/" -e "s/@CRASH_AFTER@/$2/" compose.yaml.tmpl >release/compose.yaml
}

# deploy: run hoist deploy with its default version (UTC now, as the
# playbook's), print its output, keep its exit code.
deploy() {
	local rc=0
	"$HOIST" deploy -c hoist.yml || rc=$?
	echo "(hoist deploy exited $rc)"
	sleep 1 # the next default version is a later second
	return 0
}

say "Deploy the app's v1"
release v1 ""
deploy
printf 'h1 answers: %s' "$(curl -s -m 2 $URL)"

say "Deploy v2 while probing $URL every 50 ms"
release v2 ""
probe_log=$(mktemp)
( while :; do printf '%s %s\n' "$(date +%s.%N)" "$(curl -s -m 0.5 $URL || echo DOWN)"; sleep 0.05; done ) >"$probe_log" &
probe_pid=$!
deploy
kill $probe_pid; probe_pid=
awk '{n++; seen[$2]++} $2=="DOWN"{down++} END {
	printf "probe: %d requests, %d unanswered (the container swap in compose up)\n", n, down+0
	for (v in seen) if (v != "DOWN") printf "  answered %-4s %d times\n", v, seen[v] }' "$probe_log"
printf 'h1 answers: %s' "$(curl -s -m 2 $URL)"

say "Deploy a version that crashes on start: hoist rolls back to the v2 release"
release v3 0
deploy
printf 'h1 answers: %s' "$(curl -s -m 2 $URL)"

say "hoist status"
"$HOIST" status -c hoist.yml || true

say "Where to look"
cat <<MSG
Web UI:    http://localhost:8233/namespaces/default/workflows?query=WorkflowId%3D%22deploy%2Fhono-demo%22
           each deploy is a workflow "deploy/hono-demo"; open one and read its
           event history: every step is an activity, the rollback's steps too.
Host h1:   ssh -F $TB/ssh/config h1 'ls -l /srv/studio/js-apps/hono-demo'
Worker:    $TB/logs/demo-worker.log
Stop all:  make testbed-down
MSG
