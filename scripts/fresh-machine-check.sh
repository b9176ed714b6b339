#!/usr/bin/env bash
# fresh-machine-check.sh — prove that `make demo` works first time on a machine
# without the test bed's packages and tools, and that a run which died leaves
# no second copy of a build behind.
#
#   1. tear the test bed down and remove its state;
#   2. apt-get purge docker.io docker-registry (and what only they pulled in);
#   3. remove the tools the test bed builds (Compose plugin, Temporal CLI) and bin/;
#      with --cold also Go's build and module caches (a machine that never built);
#   4. start `testbed.sh up` and kill it once its builds are in flight, as a run
#      that died would leave them;
#   5. `make demo`: it must pass on this first try, wait for the builds already
#      in flight (never start second copies), and the test bed must be whole.
#
# Destructive for this machine's test bed and packages, by design. As root.
# Prints the wall time of step 5 (and of the whole check).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
TB=${HOIST_TB_DIR:-/var/lib/hoist-testbed}
TESTBED=$REPO/scripts/testbed/testbed.sh
export PATH=/usr/local/go/bin:$PATH
COLD=0
[[ ${1:-} == --cold ]] && COLD=1

say() { printf '\n[fresh-machine-check %s] %s\n' "$(date +%T)" "$*"; }
fail() { say "FAILED: $*"; exit 1; }
[[ $(id -u) == 0 ]] || fail "must run as root"
t0=$SECONDS

say "1. test bed down, state removed"
"$TESTBED" purge || true
# Builds a died run left behind would put the tools back behind our back.
pkill -f 'go (build|install).*(docker-compose|temporalio/cli)' 2>/dev/null || true

say "2. purge the packages"
export DEBIAN_FRONTEND=noninteractive
apt-get purge -y -q docker.io docker-registry >/dev/null
apt-get autoremove -y -q --purge >/dev/null
! command -v dockerd >/dev/null || fail "dockerd still installed after the purge: $(command -v dockerd)"
[[ ! -e /usr/bin/docker-registry ]] || fail "docker-registry still installed after the purge"

say "3. remove the built tools"
rm -rf /usr/local/lib/docker/cli-plugins/docker-compose "${HOME:-/root}/.cache/hoist/tools" "$REPO/bin"  # tools: Temporal CLI, Caddy
if ((COLD)); then
	say "   --cold: Go build and module caches too"
	go clean -cache -modcache
fi

say "4. a first run that dies with its builds in flight"
mkdir -p "$TB"
died_log=$(mktemp)
HOIST_TB_LOCKED=$TB "$TESTBED" up >"$died_log" 2>&1 &
up_pid=$!
for ((i = 0; i < 600; i++)); do
	[[ $(grep -c 'in background' "$died_log") == 2 ]] && break
	kill -0 "$up_pid" 2>/dev/null || { cat "$died_log"; fail "testbed up ended before both builds started"; }
	sleep 0.5
done
[[ $(grep -c 'in background' "$died_log") == 2 ]] || fail "the builds did not start within 300 s"
kill -TERM "$up_pid"
wait "$up_pid" 2>/dev/null || true
sed 's/^/   /' "$died_log"
pgrep -f 'go (build|install).*(docker-compose|temporalio/cli)' >/dev/null ||
	fail "no build is in flight after the kill: the check would prove nothing"

say "5. make demo, first try"
demo_log=$TB/logs/fresh-machine-demo.log
mkdir -p "$TB/logs"
t1=$SECONDS
rc=0
make -C "$REPO" demo 2>&1 | tee "$demo_log" || rc=$?
demo_secs=$((SECONDS - t1))
((rc == 0)) || fail "make demo exited $rc (log $demo_log)"
for tool in compose temporal; do
	grep -q "$tool: a build is already in flight" "$demo_log" ||
		fail "the $tool build of the run that died was not waited for (see $demo_log)"
done
for tool in compose temporal; do
	n=$(grep -c "$tool: building" "$demo_log" "$died_log" | awk -F: '{s+=$2} END {print s}')
	# One "building" per run is the start; the second run must have waited.
	((n <= 2)) || fail "$tool was built $n times"
done
"$TESTBED" status >/dev/null || { "$TESTBED" status; fail "test bed not whole after make demo"; }
grep -q 'Successfully deployed' "$demo_log" || fail "the demo deployed nothing"
# The zero-downtime proxy's image, built from Caddy's module by images.sh.
[[ $(curl -sf http://127.0.0.1:5000/v2/caddy/tags/list) == *'"2.11.9"'* ]] ||
	fail "the caddy:2.11.9 image is not in the test bed's registry after make demo"

say "PASSED: make demo on a fresh machine took ${demo_secs}s (whole check $((SECONDS - t0))s; Go caches $( ((COLD)) && echo cold || echo warm))"
