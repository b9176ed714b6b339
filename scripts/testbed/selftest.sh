#!/usr/bin/env bash
# selftest.sh — check that a running test bed behaves as the tests expect:
# isolation between hosts, compose with published ports, registry pulls (plain
# and with auth), ProxyJump, many sessions on one connection. The fault
# commands are NOT exercised (they would disturb tests running in parallel).
# Leaves nothing behind (project tbselftest-$$, /srv/tbselftest-$$).
set -euo pipefail

TB=${HOIST_TB_DIR:-/var/lib/hoist-testbed}
[[ -s $TB/env ]] || { echo "no $TB/env: run scripts/testbed/testbed.sh up" >&2; exit 1; }
# shellcheck disable=SC1091
source "$TB/env"
IFS=, read -r -a HOSTS <<<"$HOIST_TB_HOSTS"
SSH=(ssh -F "$HOIST_TB_SSH_CONFIG")
P=tbselftest-$$
PORT=$((18000 + $$ % 1000))
fails=0

ok() { printf 'ok    %s\n' "$*"; }
bad() {
	printf 'FAIL  %s\n' "$*"
	fails=$((fails + 1))
}
check() { # DESCRIPTION CMD...
	local d=$1 out
	shift
	if out=$("$@" 2>&1); then ok "$d"; else
		bad "$d"
		tail -n 3 <<<"$out" | sed 's/^/      /'
	fi
}
on() { "${SSH[@]}" "h$1" "${@:2}"; }

cleanup() {
	on 1 "cd /srv/$P 2>/dev/null && docker compose -p $P down -t 1 >/dev/null 2>&1; rm -rf /srv/$P; docker rm -f $P >/dev/null 2>&1" || true
	for i in 2 3; do on "$i" "docker logout $HOIST_TB_AUTH_REGISTRY >/dev/null 2>&1; docker rmi $HOIST_TB_AUTH_REGISTRY/testapp:v1 >/dev/null 2>&1" || true; done
}
trap cleanup EXIT

for i in 1 2 3; do
	check "h$i: ssh as $HOIST_TB_USER, hostname h$i, own engine" \
		bash -c "[[ \$(${SSH[*]} h$i 'hostname; docker info --format {{.DockerRootDir}}') == \$'h$i\n$TB/hosts/h$i/docker' ]]"
done
check "h1: docker compose $(on 1 'docker compose version --short' 2>/dev/null || true)" on 1 'docker compose version'

on 1 "mkdir -p /srv/$P && echo h1 >/srv/$P/marker && docker run -d --name $P $HOIST_TB_REGISTRY/testapp:v1" >/dev/null 2>&1
check "engines separate (container on h1 invisible on h2)" \
	bash -c "[[ -n \$(${SSH[*]} h1 'docker ps -q -f name=$P') && -z \$(${SSH[*]} h2 'docker ps -aq -f name=$P') ]]"
check "/srv separate (h1's file absent on h2)" on 2 "test -d /srv && test ! -e /srv/$P/marker"
check "/home/deploy separate" bash -c "${SSH[*]} h1 'touch ~/.tbselftest-$$' && ${SSH[*]} h2 'test ! -e ~/.tbselftest-$$' && ${SSH[*]} h1 'rm ~/.tbselftest-$$'"
on 1 "docker rm -f $P" >/dev/null

on 1 "cd /srv/$P && cat >compose.yaml && docker compose -p $P up -d --wait --wait-timeout 60" >/dev/null 2>&1 <<EOF || bad "h1: compose up"
services:
  web:
    image: $HOIST_TB_REGISTRY/testapp:v2
    environment: {PORT: "$PORT"}
    ports: ["$PORT:$PORT"]
    healthcheck: {test: ["CMD", "/app", "-healthcheck"], interval: 1s, retries: 5}
EOF
check "published port: root ns -> ${HOSTS[0]}:$PORT answers v2" \
	bash -c "[[ \$(curl -s -m 5 http://${HOSTS[0]}:$PORT/) == v2 ]]"
check "published port: h2 -> ${HOSTS[0]}:$PORT" on 2 "exec 3<>/dev/tcp/${HOSTS[0]}/$PORT"

check "h3: pull $HOIST_TB_REGISTRY/testapp:v3" on 3 "docker pull -q $HOIST_TB_REGISTRY/testapp:v3"
check "h3: auth registry refuses anonymous pull" on 3 "! docker pull -q $HOIST_TB_AUTH_REGISTRY/testapp:v1"
check "h2: docker login + pull from $HOIST_TB_AUTH_REGISTRY" bash -c \
	"${SSH[*]} h2 'docker login -u $HOIST_TB_AUTH_USER --password-stdin $HOIST_TB_AUTH_REGISTRY && docker pull -q $HOIST_TB_AUTH_REGISTRY/testapp:v1' <$HOIST_TB_AUTH_PASSWORD_FILE"
check "ProxyJump h1 -> h3" bash -c "[[ \$(${SSH[*]} -J h1 h3 hostname) == h3 ]]"

cm=$(mktemp -u /tmp/tbselftest-cm.XXXXXX)
"${SSH[@]}" -o ControlMaster=yes -o ControlPath="$cm" -fN h2
n=0
for k in $(seq 1 20); do "${SSH[@]}" -o ControlPath="$cm" h2 "sleep 1; echo $k" & done >"$cm.out" 2>&1
wait
n=$(grep -c '^[0-9]*$' "$cm.out" || true)
"${SSH[@]}" -o ControlPath="$cm" -O exit h2 >/dev/null 2>&1 || true
rm -f "$cm.out"
if ((n == 20)); then ok "20 concurrent sessions on one connection"; else bad "20 concurrent sessions: only $n"; fi

((fails == 0)) && echo "selftest: all ok" || { echo "selftest: $fails failed"; exit 1; }
