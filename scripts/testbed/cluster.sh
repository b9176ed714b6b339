#!/usr/bin/env bash
# cluster.sh — a production-shaped Temporal cluster beside the test bed's dev
# server: Debian's PostgreSQL, the schema applied with temporal-sql-tool, and
# two temporal-server processes (all four services each) forming one cluster,
# plus the Web UI. The server, the SQL tool and the UI server are built from
# their Go modules, at the versions docker-compose.temporal.yml pins.
#
# Usage: cluster.sh up|down|status|purge
#        cluster.sh server-kill N|server-start N   (N: 1 or 2; kill is kill -9)
#        cluster.sh pg-restart|pg-stop|pg-start
#
# Clients reach the cluster at temporal-cluster:7233: /etc/hosts names both
# server processes' addresses (127.0.0.2, 127.0.0.3) and gRPC, resolving
# the name itself, balances over them and leaves out one that is down, as a
# DNS name or load balancer in front of a production cluster does. Each
# process binds its own loopback address with the same ports, and finds the
# other through the cluster_membership table in PostgreSQL.
#
# The frontends serve TLS and require a client certificate (mTLS), as a
# production cluster should: the CA and certificates come from
# tls-certs.sh (in $TB/cluster/tls); the servers' own system worker and the
# UI connect with them too. Clients need --tls-ca, --tls-cert, --tls-key.
#
# Idempotent like testbed.sh; must run as root. Writes HOIST_TB_CLUSTER_* to
# $TB/cluster/env.
set -euo pipefail
# testbed.sh's helpers (log, die, start_bg, stop_pid, wait_until, tcp_open,
# build_locked); sourcing it runs nothing.
# shellcheck source=testbed.sh
source "$(dirname "${BASH_SOURCE[0]}")/testbed.sh"

# One version everywhere: docker-compose.temporal.yml pins the same images
# (checked by a test). v1.32.2 and ui-server v2.56+ need Go 1.26.9 or newer.
TEMPORAL_SERVER_VERSION=v1.32.1
UI_SERVER_VERSION=v2.55.0

CL=$TB/cluster
TOOLS=${HOME:-/root}/.cache/hoist/tools
SERVER_DIR=$TOOLS/temporal-server-${TEMPORAL_SERVER_VERSION#v}
SERVER_BIN=$SERVER_DIR/temporal-server
SQL_TOOL=$SERVER_DIR/temporal-sql-tool
UI_BIN=$TOOLS/ui-server-${UI_SERVER_VERSION#v}/ui-server

CLUSTER_NAME=temporal-cluster
CLUSTER_PORT=7233
SERVER_IPS=(127.0.0.2 127.0.0.3)
UI_ADDR=127.0.0.1:8234
PG_PORT=5433
PG_DATA=$CL/pg
PG_SOCK=$CL/pg-run
DB_USER=temporal
DB_PASSWORD=temporal # loopback-only test database

TLS_DIR=$CL/tls
# chromium: the e2e browser test drives it (headless) against the Web UI.
CLUSTER_APT=(postgresql openssl chromium)

# The temporal CLI's flags for the cluster: its name, TLS and a client certificate.
tctl_flags() {
	echo --address "$CLUSTER_NAME:$CLUSTER_PORT" --tls-ca-path "$TLS_DIR/ca.pem" \
		--tls-cert-path "$TLS_DIR/client.pem" --tls-key-path "$TLS_DIR/client-key.pem"
}

ensure_tls() { "$SCRIPT_DIR/tls-certs.sh" "$TLS_DIR" >/dev/null 2>>"$LOGS/cluster-tls.log" || die "tls-certs.sh failed, see $LOGS/cluster-tls.log"; }

# ---------------------------------------------------------------- install, build

pg_bin() {
	local d
	d=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -1)
	[[ -x $d/postgres ]] || die "PostgreSQL binaries not found under /usr/lib/postgresql after installing ${CLUSTER_APT[*]}"
	echo "$d"
}

ensure_cluster_apt() {
	local APT_PACKAGES=("${CLUSTER_APT[@]}")
	ensure_apt
}

# module_dir MODULE@VERSION: where the module cache holds it (downloaded first).
module_dir() {
	local d
	d=$(cd /tmp && GOFLAGS=-mod=mod go mod download -json "$1" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
	[[ -d $d ]] || { echo "could not download $1" >&2; return 1; }
	echo "$d"
}

server_built() { [[ -x $SERVER_BIN && -x $SQL_TOOL ]]; }
ui_built() { [[ -x $UI_BIN ]]; }

# Built inside the module (as compose is), outside any other module; the
# module cache is read-only, so -o points outside it; installed atomically.
build_server() {
	local d
	d=$(module_dir "go.temporal.io/server@$TEMPORAL_SERVER_VERSION")
	mkdir -p "$SERVER_DIR"
	(cd "$d" && GOFLAGS=-mod=mod go build -o "$SQL_TOOL.tmp" ./cmd/tools/sql &&
		GOFLAGS=-mod=mod go build -o "$SERVER_BIN.tmp" ./cmd/server) &&
		mv -f "$SQL_TOOL.tmp" "$SQL_TOOL" && mv -f "$SERVER_BIN.tmp" "$SERVER_BIN"
}

build_ui() {
	local d
	d=$(module_dir "github.com/temporalio/ui-server/v2@$UI_SERVER_VERSION")
	mkdir -p "$(dirname "$UI_BIN")"
	(cd "$d" && GOFLAGS=-mod=mod go build -o "$UI_BIN.tmp" ./cmd/server) && mv -f "$UI_BIN.tmp" "$UI_BIN"
}

cluster_builds() {
	local b
	BUILD_PIDS=()
	if ! server_built; then
		command -v go >/dev/null || die "go is needed to build the Temporal server"
		log "cluster: building temporal-server $TEMPORAL_SERVER_VERSION in background (log $LOGS/build-temporal-server.log)"
		build_locked temporal-server server_built build_server
	fi
	if ! ui_built; then
		log "cluster: building ui-server $UI_SERVER_VERSION in background (log $LOGS/build-ui-server.log)"
		build_locked ui-server ui_built build_ui
	fi
	for b in ${BUILD_PIDS[@]+"${BUILD_PIDS[@]}"}; do
		wait "${b#*:}" || die "${b%%:*} build failed, see $LOGS/build-${b%%:*}.log"
		log "${b%%:*}: build done"
	done
	BUILD_PIDS=()
	server_built || die "temporal-server missing: $SERVER_BIN"
	ui_built || die "ui-server missing: $UI_BIN"
}

# ---------------------------------------------------------------- PostgreSQL

pg() { runuser -u postgres -- "$(pg_bin)/$1" "${@:2}"; }
pg_ok() { [[ -d $PG_DATA ]] && runuser -u postgres -- "$(pg_bin)/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" 2>/dev/null; }

# Its own instance (data in $CL/pg, port 5433), not the package's cluster:
# tests stop and restart it, and it goes with the test bed.
ensure_pg() {
	mkdir -p "$CL"
	if [[ ! -s $PG_DATA/PG_VERSION ]]; then
		log "postgres: initdb $PG_DATA"
		rm -rf "$PG_DATA"
		install -d -o postgres -g postgres -m 700 "$PG_DATA"
		local pw
		pw=$(mktemp)
		echo "$DB_PASSWORD" >"$pw"
		chown postgres "$pw"
		pg initdb -D "$PG_DATA" -U "$DB_USER" --pwfile="$pw" --auth-local=peer --auth-host=scram-sha-256 >>"$LOGS/postgres.log" 2>&1 ||
			{ rm -f "$pw"; die "initdb failed, see $LOGS/postgres.log"; }
		rm -f "$pw"
	fi
	start_pg
}

start_pg() {
	pg_ok && return 0
	install -d -o postgres -g postgres -m 755 "$PG_SOCK"
	log "postgres: starting on 127.0.0.1:$PG_PORT"
	touch "$LOGS/postgres.log" && chown postgres "$LOGS/postgres.log"
	pg pg_ctl -D "$PG_DATA" -l "$LOGS/postgres.log" -w -t 60 \
		-o "-p $PG_PORT -c listen_addresses=127.0.0.1 -k $PG_SOCK -c max_connections=200" start >/dev/null ||
		die "postgres did not start, see $LOGS/postgres.log"
}

stop_pg() { [[ -s $PG_DATA/postmaster.pid ]] && pg pg_ctl -D "$PG_DATA" -m fast -w stop >/dev/null 2>&1 || true; }

restart_pg() {
	pg pg_ctl -D "$PG_DATA" -l "$LOGS/postgres.log" -m fast -w -t 60 \
		-o "-p $PG_PORT -c listen_addresses=127.0.0.1 -k $PG_SOCK -c max_connections=200" restart >/dev/null ||
		die "postgres did not restart, see $LOGS/postgres.log"
}

# ---------------------------------------------------------------- schema

sqltool() { SQL_PASSWORD=$DB_PASSWORD "$SQL_TOOL" --plugin postgres12 --ep 127.0.0.1 -p "$PG_PORT" -u "$DB_USER" "$@"; }

psql1() { PGPASSWORD=$DB_PASSWORD "$(pg_bin)/psql" -h 127.0.0.1 -p "$PG_PORT" -U "$DB_USER" -d "$1" -tAc "$2" 2>/dev/null; }
db_exists() { [[ $(psql1 postgres "select 1 from pg_database where datname = '$1'") == 1 ]]; }
schema_version_table() { [[ $(psql1 "$1" "select 1 from information_schema.tables where table_name = 'schema_version'") == 1 ]]; }

# What admin-tools' schema job does in docker-compose.temporal.yml:
# create, set up at 0.0, then update to the module's newest versions. Each
# step is skipped when done, and update-schema is idempotent.
ensure_schema() {
	local mod db dir
	mod=$(module_dir "go.temporal.io/server@$TEMPORAL_SERVER_VERSION")
	for db in temporal temporal_visibility; do
		dir=$mod/schema/postgresql/v12/temporal/versioned
		[[ $db == temporal ]] || dir=$mod/schema/postgresql/v12/visibility/versioned
		db_exists "$db" || sqltool --db "$db" create-database >>"$LOGS/cluster-schema.log" 2>&1 ||
			die "create-database $db failed, see $LOGS/cluster-schema.log"
		schema_version_table "$db" || sqltool --db "$db" setup-schema -v 0.0 >>"$LOGS/cluster-schema.log" 2>&1 ||
			die "setup-schema $db failed, see $LOGS/cluster-schema.log"
		sqltool --db "$db" update-schema -d "$dir" >>"$LOGS/cluster-schema.log" 2>&1 ||
			die "update-schema $db failed, see $LOGS/cluster-schema.log"
	done
	log "schema: temporal and temporal_visibility at $TEMPORAL_SERVER_VERSION's versions"
}

# ---------------------------------------------------------------- servers

# The name clients dial, on both processes' addresses (see the top).
ensure_hosts_entry() {
	local ip
	for ip in "${SERVER_IPS[@]}"; do
		grep -qE "^$ip[[:space:]]+$CLUSTER_NAME\$" /etc/hosts || echo "$ip $CLUSTER_NAME" >>/etc/hosts
	done
}

write_dynamic_config() {
	# forceSearchAttributesCacheRefreshOnRead: a search attribute added by
	# `cluster up` is usable at once (the dev server does the same); without
	# it each frontend sees it after its cache refresh.
	cat >"$CL/dynamicconfig.yaml" <<'EOF'
system.forceSearchAttributesCacheRefreshOnRead:
  - value: true
frontend.enableUpdateWorkflowExecution:
  - value: true
frontend.enableUpdateWorkflowExecutionAsyncAccepted:
  - value: true
EOF
}

# write_server_config N: process N's config (its own address, same ports).
write_server_config() {
	local n=$1 ip=${SERVER_IPS[$(($1 - 1))]} f
	f=$CL/s$n.yaml
	mkdir -p "$CL/s$n"
	cat >"$f.new" <<EOF
# generated by scripts/testbed/cluster.sh: temporal-server process $n of 2
log:
  stdout: true
  level: warn
persistence:
  defaultStore: default
  visibilityStore: visibility
  numHistoryShards: 4
  datastores:
    default:
      sql:
        pluginName: postgres12
        databaseName: temporal
        connectAddr: "127.0.0.1:$PG_PORT"
        connectProtocol: tcp
        user: $DB_USER
        password: $DB_PASSWORD
        maxConns: 20
        maxIdleConns: 20
        maxConnLifetime: 1h
    visibility:
      sql:
        pluginName: postgres12
        databaseName: temporal_visibility
        connectAddr: "127.0.0.1:$PG_PORT"
        connectProtocol: tcp
        user: $DB_USER
        password: $DB_PASSWORD
        maxConns: 5
        maxIdleConns: 5
        maxConnLifetime: 1h
global:
  membership:
    maxJoinDuration: 30s
    broadcastAddress: "$ip"
  tls:
    frontend:
      server:
        certFile: $TLS_DIR/server.pem
        keyFile: $TLS_DIR/server-key.pem
        requireClientAuth: true
        clientCaFiles: [$TLS_DIR/ca.pem]
      client:
        serverName: $CLUSTER_NAME
        rootCaFiles: [$TLS_DIR/ca.pem]
    systemWorker:
      certFile: $TLS_DIR/server.pem
      keyFile: $TLS_DIR/server-key.pem
      client:
        serverName: $CLUSTER_NAME
        rootCaFiles: [$TLS_DIR/ca.pem]
  metrics:
    prometheus:
      framework: tally
      timerType: histogram
      listenAddress: "$ip:8000"
services:
  frontend:
    rpc: { grpcPort: $CLUSTER_PORT, membershipPort: 6933, httpPort: 7243, bindOnIP: "$ip" }
  history:
    rpc: { grpcPort: 7234, membershipPort: 6934, bindOnIP: "$ip" }
  matching:
    rpc: { grpcPort: 7235, membershipPort: 6935, bindOnIP: "$ip" }
  worker:
    rpc: { grpcPort: 7239, membershipPort: 6939, bindOnIP: "$ip" }
clusterMetadata:
  enableGlobalNamespace: false
  failoverVersionIncrement: 10
  masterClusterName: active
  currentClusterName: active
  clusterInformation:
    active:
      enabled: true
      initialFailoverVersion: 1
      rpcName: frontend
      rpcAddress: "$CLUSTER_NAME:$CLUSTER_PORT"
dcRedirectionPolicy:
  policy: noop
dynamicConfigClient:
  filepath: "$CL/dynamicconfig.yaml"
  pollInterval: 10s
EOF
	mv -f "$f.new" "$f"
}

server_ip() { echo "${SERVER_IPS[$(($1 - 1))]}"; }
server_ok() { pid_alive "$PIDS/cluster-s$1.pid" && tcp_open "$(server_ip "$1")" "$CLUSTER_PORT"; }
frontend_serving() {
	# shellcheck disable=SC2046
	[[ $(timeout 10 "$TEMPORAL_BIN" operator cluster health $(tctl_flags) --address "$1:$CLUSTER_PORT" --tls-server-name "$CLUSTER_NAME" 2>/dev/null) == *SERVING* ]]
}

start_server() {
	local n=$1
	[[ $n == 1 || $n == 2 ]] || die "server number must be 1 or 2, got '$n'"
	server_ok "$n" && return 0
	stop_pid "$PIDS/cluster-s$n.pid" 10
	write_server_config "$n"
	log "cluster: starting temporal-server $n on $(server_ip "$n"):$CLUSTER_PORT"
	start_bg "$PIDS/cluster-s$n.pid" "$LOGS/cluster-s$n.log" "$SERVER_BIN" --config-file "$CL/s$n.yaml" --allow-no-auth start
	wait_until "$BG_PID" 120 frontend_serving "$(server_ip "$n")" ||
		die "temporal-server $n did not become SERVING, see $LOGS/cluster-s$n.log"
}

kill_server() {
	local n=$1
	[[ $n == 1 || $n == 2 ]] || die "server number must be 1 or 2, got '$n'"
	pid_alive "$PIDS/cluster-s$n.pid" && kill -KILL "$(<"$PIDS/cluster-s$n.pid")"
	rm -f "$PIDS/cluster-s$n.pid"
}

stop_server() { stop_pid "$PIDS/cluster-s$1.pid" 20; }

# The default namespace and hoist's search attributes, as the compose
# file's schema job makes them.
ensure_namespace() {
	local t
	read -ra t <<<"$(tctl_flags)"
	if ! timeout 20 "$TEMPORAL_BIN" operator namespace describe "${t[@]}" -n default >/dev/null 2>&1; then
		log "cluster: creating namespace default"
		timeout 30 "$TEMPORAL_BIN" operator namespace create "${t[@]}" -n default --retention 72h >>"$LOGS/cluster-schema.log" 2>&1 ||
			die "namespace create failed, see $LOGS/cluster-schema.log"
	fi
	# A namespace just created is unknown to the frontends until their
	# namespace cache refreshes (seconds): retry until the attributes are in.
	wait_until "" 60 search_attributes_added ||
		die "search-attribute create failed for a minute, see $LOGS/cluster-schema.log"
	# A new namespace reaches every frontend's cache within its refresh.
	wait_until "" 60 namespace_usable || die "namespace default is not usable on both frontends"
}

search_attributes_added() {
	local t sa
	read -ra t <<<"$(tctl_flags)"
	for sa in HoistService HoistEnvironment HoistVersion; do
		timeout 20 "$TEMPORAL_BIN" operator search-attribute list "${t[@]}" -n default 2>/dev/null | grep -qw "$sa" && continue
		timeout 30 "$TEMPORAL_BIN" operator search-attribute create "${t[@]}" -n default --name "$sa" --type Keyword >>"$LOGS/cluster-schema.log" 2>&1 || return 1
	done
}

namespace_usable() {
	local ip t
	read -ra t <<<"$(tctl_flags)"
	for ip in "${SERVER_IPS[@]}"; do
		timeout 10 "$TEMPORAL_BIN" workflow list "${t[@]}" --address "$ip:$CLUSTER_PORT" --tls-server-name "$CLUSTER_NAME" -n default --limit 1 >/dev/null 2>&1 || return 1
	done
}

# ---------------------------------------------------------------- UI

ui_ok() { [[ $(http_code "http://$UI_ADDR/") == 200 ]]; }

start_ui() {
	ui_ok && return 0
	stop_pid "$PIDS/cluster-ui.pid" 10
	mkdir -p "$CL/ui/config"
	cat >"$CL/ui/config/cluster.yaml" <<EOF
# generated by scripts/testbed/cluster.sh
temporalGrpcAddress: $CLUSTER_NAME:$CLUSTER_PORT
host: ${UI_ADDR%:*}
port: ${UI_ADDR#*:}
enableUi: true
defaultNamespace: default
cors:
  allowOrigins: ["http://$UI_ADDR"]
tls:
  caFile: $TLS_DIR/ca.pem
  certFile: $TLS_DIR/client.pem
  keyFile: $TLS_DIR/client-key.pem
  serverName: $CLUSTER_NAME
  enableHostVerification: true
codec:
  endpoint: ${HOIST_CLUSTER_CODEC_ENDPOINT:-}
  passAccessToken: false
EOF
	log "cluster: starting the Web UI on http://$UI_ADDR"
	start_bg "$PIDS/cluster-ui.pid" "$LOGS/cluster-ui.log" "$UI_BIN" --root "$CL/ui" --config config --env cluster start
	wait_until "$BG_PID" 60 ui_ok || die "the Web UI did not answer on $UI_ADDR, see $LOGS/cluster-ui.log"
}

# ---------------------------------------------------------------- env, status

write_cluster_env() {
	cat >"$CL/env.new" <<EOF
HOIST_TB_CLUSTER=$CLUSTER_NAME:$CLUSTER_PORT
HOIST_TB_CLUSTER_SERVERS=$(IFS=,; echo "${SERVER_IPS[*]/%/:$CLUSTER_PORT}")
HOIST_TB_CLUSTER_UI=http://$UI_ADDR
HOIST_TB_CLUSTER_UI_BIN=$UI_BIN
HOIST_TB_CHROMIUM=$(command -v chromium)
HOIST_TB_CLUSTER_VERSION=$TEMPORAL_SERVER_VERSION
HOIST_TB_CLUSTER_SCRIPT=$SCRIPT_DIR/cluster.sh
HOIST_TB_CLUSTER_TLS_CA=$TLS_DIR/ca.pem
HOIST_TB_CLUSTER_TLS_CERT=$TLS_DIR/client.pem
HOIST_TB_CLUSTER_TLS_KEY=$TLS_DIR/client-key.pem
HOIST_TB_CLUSTER_TLS_WRONG_CA=$TLS_DIR/wrong-ca.pem
EOF
	mv -f "$CL/env.new" "$CL/env"
}

cluster_status() {
	local bad=0 n
	pg_ok && echo "postgres ok 127.0.0.1:$PG_PORT" || { echo "postgres DOWN"; bad=1; }
	for n in 1 2; do
		server_ok "$n" && echo "server-$n ok $(server_ip "$n"):$CLUSTER_PORT" || { echo "server-$n DOWN"; bad=1; }
	done
	ui_ok && echo "ui ok http://$UI_ADDR" || { echo "ui DOWN"; bad=1; }
	return $bad
}

cluster_up() {
	local t0=$SECONDS
	ensure_cluster_apt
	command -v chromium >/dev/null || die "chromium not found after installing ${CLUSTER_APT[*]}"
	[[ -x $TEMPORAL_BIN ]] || die "the temporal CLI is missing ($TEMPORAL_BIN): run scripts/testbed/testbed.sh up first"
	cluster_builds
	ensure_tls
	ensure_pg
	ensure_schema
	ensure_hosts_entry
	write_dynamic_config
	start_server 1
	start_server 2
	ensure_namespace
	start_ui
	write_cluster_env
	log "cluster: up at $CLUSTER_NAME:$CLUSTER_PORT (servers ${SERVER_IPS[*]}, UI http://$UI_ADDR) in $((SECONDS - t0))s"
}

cluster_down() {
	stop_pid "$PIDS/cluster-ui.pid" 10
	stop_server 1
	stop_server 2
	stop_pg
	log "cluster: stopped (data kept in $CL; purge removes it)"
}

cluster_main() {
	[[ $(id -u) == 0 ]] || die "must run as root"
	mkdir -p "$TB" "$LOGS" "$PIDS" "$CL"
	local cmd=${1:-}
	shift || true
	# One change at a time (flock -o: the daemons started do not inherit the lock).
	if [[ $cmd != status && ${HOIST_CLUSTER_LOCKED:-} != 1 ]]; then
		HOIST_CLUSTER_LOCKED=1 exec flock -o "$CL/.lock" "${BASH_SOURCE[0]}" "$cmd" "$@"
	fi
	case $cmd in
	up) cluster_up ;;
	down) cluster_down ;;
	purge) cluster_down && rm -rf "$CL" && log "cluster: data removed" ;;
	status) cluster_status ;;
	server-kill) kill_server "${1:-}" && log "cluster: temporal-server ${1:-} killed (-9)" ;;
	server-start) start_server "${1:-}" && log "cluster: temporal-server ${1:-} SERVING" ;;
	server-stop) stop_server "${1:-}" && log "cluster: temporal-server ${1:-} stopped" ;;
	pg-restart) restart_pg && log "postgres: restarted" ;;
	pg-stop) stop_pg && log "postgres: stopped" ;;
	pg-start) start_pg && log "postgres: up" ;;
	*) sed -n '2,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
	esac
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then cluster_main "$@"; exit; fi
