#!/usr/bin/env bash
# testbed.sh — install and run the real components hoist's integration tests
# talk to: a root dockerd, two registries, a Temporal dev server and N
# "SSH hosts" (h1..hN, default 3), each a network namespace + private mount
# namespace running its own sshd and dockerd.
#
# Usage: [HOIST_TESTBED_HOSTS=N] testbed.sh up|down|status|purge   (N: 1..200, default 3)
#        testbed.sh host-stop N|host-start N|host-cut N|host-uncut N
#        testbed.sh sshd-stop N|sshd-start N|ssh-drop N
#        testbed.sh link-slow N RATE|link-fast N   (RATE as tc says it: 1mbit)
#        testbed.sh temporal-stop|temporal-start
#
# Everything is idempotent: `up` starts only what does not answer yet, and
# stops and removes hosts above N. Other commands use the host count `up`
# recorded in the env file. Must run as root. Layout and contract: scripts/testbed/README.md.
set -euo pipefail

TB=${HOIST_TB_DIR:-/var/lib/hoist-testbed}
RUNDIR=/run/hoist-tb             # per-host docker sockets / exec roots (fixed: part of the contract)
LOGS=$TB/logs
PIDS=$TB/pids
NSDIR=$TB/ns                     # persistent mount-namespace handles (h1.mnt ..)
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

DEFAULT_HOSTS=3
MAX_HOSTS=200 # addresses 10.77.0.11..210; "hoist-h200-veth" is the longest name a link may have (15)
NHOSTS=       # set by set_host_count: the hosts this command works on
NET=10.77.0
GW=$NET.1
BRIDGE=hoist-br0
DEPLOY_USER=deploy

# Tool paths are resolved by resolve_tools, after apt has installed them (a
# path picked before the install is a guess: docker.io puts dockerd in
# /usr/sbin, and the image ships a foreign docker client in /usr/local/bin).
DOCKER=
DOCKERD=
ROOT_SOCK=/var/run/docker.sock

COMPOSE_VERSION=v2.40.3
COMPOSE_BIN=/usr/local/lib/docker/cli-plugins/docker-compose
TEMPORAL_VERSION=v1.5.1
TEMPORAL_DIR=${HOME:-/root}/.cache/hoist/tools/temporal-${TEMPORAL_VERSION#v}
TEMPORAL_BIN=$TEMPORAL_DIR/temporal
TEMPORAL_ADDR=127.0.0.1:7233

# systemd: its systemd-analyze checks deploy/systemd/hoist-worker.service (never run as init here).
APT_PACKAGES=(docker.io docker-registry openssh-server openssh-client iproute2 apache2-utils curl util-linux systemd)

export PATH=/usr/local/go/bin:$PATH:/usr/sbin:/sbin

# ---------------------------------------------------------------- helpers

log() { printf '[testbed %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

host_ip()  { echo "$NET.$((10 + $1))"; }
host_dir() { echo "$TB/hosts/h$1"; }
host_ns()  { echo "hoist-h$1"; }
host_veth() { echo "hoist-h$1-veth"; }   # root-namespace end of the host's link

# requested_hosts: HOIST_TESTBED_HOSTS, validated (empty if unset). No leading
# zeros: bash arithmetic would read 010 as octal.
requested_hosts() {
	local n=${HOIST_TESTBED_HOSTS:-}
	[[ -z $n ]] && return 0
	[[ $n =~ ^[1-9][0-9]*$ ]] && ((n <= MAX_HOSTS)) ||
		die "HOIST_TESTBED_HOSTS must be a host count 1..$MAX_HOSTS, got '$n'"
	echo "$n"
}

# recorded_hosts: how many hosts the last `up` brought up (HOIST_TB_HOSTS in
# the env file); empty without an env file.
recorded_hosts() {
	local line
	[[ -s $TB/env ]] || return 0
	line=$(grep -m1 '^HOIST_TB_HOSTS=' "$TB/env" || true)
	line=${line#HOIST_TB_HOSTS=}
	[[ -n $line ]] || return 0
	tr ',' '\n' <<<"$line" | grep -c .
}

# set_host_count CMD: NHOSTS for CMD. `up` brings up HOIST_TESTBED_HOSTS or
# the default (so a plain `up` after a large run returns to 3); the others
# work on HOIST_TESTBED_HOSTS or, unset, on what `up` recorded.
RECORDED_HOSTS=
set_host_count() {
	local req
	req=$(requested_hosts) || exit 1
	RECORDED_HOSTS=$(recorded_hosts)
	if [[ $1 == up ]]; then
		NHOSTS=${req:-$DEFAULT_HOSTS}
	else
		NHOSTS=${req:-${RECORDED_HOSTS:-$DEFAULT_HOSTS}}
	fi
}

# check_host_arg N: N names a host of this test bed (1..NHOSTS and, once an
# env file exists, one that `up` brought up: a fault on a host no test knows
# of is a mistake).
check_host_arg() {
	[[ ${1:-} =~ ^[1-9][0-9]*$ ]] && (($1 <= NHOSTS)) || die "host number must be 1..$NHOSTS, got '${1:-}'"
	[[ -z $RECORDED_HOSTS ]] || (($1 <= RECORDED_HOSTS)) ||
		die "h$1 is not up: the test bed runs h1..h$RECORDED_HOSTS ($TB/env); start more with HOIST_TESTBED_HOSTS=$1 $0 up"
}

# pid_alive PIDFILE: the pid in PIDFILE is a live process.
pid_alive() {
	local pid
	[[ -s $1 ]] || return 1
	pid=$(<"$1")
	[[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null
}

tcp_open() { timeout 2 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null; }

docker_ping() { [[ -S $1 ]] && [[ $(curl -s -m 3 --unix-socket "$1" http://d/_ping 2>/dev/null) == OK ]]; }

http_code() { curl -s -m 3 -o /dev/null -w '%{http_code}' "$@" 2>/dev/null || true; }

# wait_until PID SECONDS CMD...: poll CMD every 0.2s for up to SECONDS; give up
# early when PID (the daemon just started; "" = none) has died.
wait_until() {
	local pid=$1 secs=$2 i
	shift 2
	for ((i = 0; i < secs * 5; i++)); do
		"$@" && return 0
		[[ -z $pid ]] || kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.2
	done
	return 1
}

# start_bg PIDFILE LOGFILE CMD...: run CMD detached (own session, survives the
# caller, not killed by ^C in make), pid in BG_PID and PIDFILE ("-": do not
# write, for daemons that write their own pidfile and refuse to start if it
# exists). setsid does not fork here (a background job of a non-interactive
# shell is no group leader), so $! is CMD itself.
BG_PID=
start_bg() {
	local pidfile=$1 logfile=$2
	shift 2
	setsid "$@" >>"$logfile" 2>&1 </dev/null &
	BG_PID=$!
	[[ $pidfile == - ]] || echo "$BG_PID" >"$pidfile"
}

# stop_pid PIDFILE [TIMEOUT]: SIGTERM, wait, then SIGKILL.
stop_pid() {
	local pidfile=$1 timeout=${2:-15} pid i
	pid_alive "$pidfile" || { rm -f "$pidfile"; return 0; }
	pid=$(<"$pidfile")
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < timeout * 5; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.2
	done
	kill -KILL "$pid" 2>/dev/null || true
	rm -f "$pidfile"
}

# ---------------------------------------------------------------- 1. apt

# missing_packages: print the APT_PACKAGES that are not installed (one dpkg call).
missing_packages() {
	local out p
	out=$(dpkg-query -W -f='${Package}=${db:Status-Abbrev}\n' "${APT_PACKAGES[@]}" 2>/dev/null || true)
	for p in "${APT_PACKAGES[@]}"; do
		[[ $'\n'$out == *$'\n'"$p=ii "* ]] || echo "$p"
	done
}

ensure_apt() {
	local missing
	mapfile -t missing < <(missing_packages)
	((${#missing[@]} == 0)) && return 0
	log "apt: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q >>"$LOGS/apt.log" 2>&1 || die "apt-get update failed, see $LOGS/apt.log"
	apt-get install -y -q --no-install-recommends "${missing[@]}" >>"$LOGS/apt.log" 2>&1 ||
		die "apt-get install failed, see $LOGS/apt.log"
	# On a systemd machine the package starts its own registry on :5000 (and an
	# sshd on the root namespace's :22, which does not bother us). Ours needs :5000.
	if command -v systemctl >/dev/null && systemctl is-active --quiet docker-registry 2>/dev/null; then
		log "apt: stopping the packaged docker-registry service (port 5000 is ours)"
		systemctl disable --now docker-registry >>"$LOGS/apt.log" 2>&1 || true
	fi
}

# find_tool NAME DIR...: the first DIR/NAME that is executable; dies naming
# the package otherwise. Only the listed dirs: never /usr/local/bin's docker.
find_tool() {
	local name=$1 d
	shift
	for d in "$@"; do
		[[ -x $d/$name ]] && { echo "$d/$name"; return 0; }
	done
	die "$name not found in $* after installing ${APT_PACKAGES[*]}"
}

# resolve_tools: the binaries this script runs, looked up after ensure_apt.
resolve_tools() {
	DOCKERD=$(find_tool dockerd /usr/sbin /usr/bin)
	DOCKER=$(find_tool docker /usr/bin /usr/sbin) # Debian's client, not /usr/local/bin's
}

# For commands that install nothing (status, faults): what is there, if anything.
resolve_tools_if_installed() {
	DOCKERD=$(find_tool dockerd /usr/sbin /usr/bin 2>/dev/null) || DOCKERD=/nonexistent/dockerd
	DOCKER=$(find_tool docker /usr/bin /usr/sbin 2>/dev/null) || DOCKER=/nonexistent/docker
}

# ---------------------------------------------------------------- 3./4. Go-built tools

compose_ok() { [[ $("$DOCKER" compose version --short 2>/dev/null) == "${COMPOSE_VERSION#v}" ]]; }

build_compose() {
	local d tmp
	# go install refuses compose (replace directives); build from the module cache
	# instead. Run outside any module so the project's go.mod is not involved.
	d=$(cd /tmp && GOFLAGS=-mod=mod go mod download -json "github.com/docker/compose/v2@$COMPOSE_VERSION" |
		sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
	[[ -d $d ]] || { echo "could not locate compose module dir"; return 1; }
	mkdir -p "$(dirname "$COMPOSE_BIN")"
	tmp=$COMPOSE_BIN.tmp.$$
	# The module dir is read-only: build with -o outside of it; install atomically.
	(cd "$d" && GOFLAGS=-mod=mod go build \
		-ldflags "-X github.com/docker/compose/v2/internal.Version=$COMPOSE_VERSION" -o "$tmp" ./cmd) &&
		chmod 755 "$tmp" && mv -f "$tmp" "$COMPOSE_BIN"
}

build_temporal() {
	mkdir -p "$TEMPORAL_DIR"
	GOBIN=$TEMPORAL_DIR go install "github.com/temporalio/cli/cmd/temporal@$TEMPORAL_VERSION"
}

# Both builds take minutes; they run in the background while the rest comes up.
# Each runs under its own lock (flock on $TB/build-NAME.lock, held by the build
# and every process it starts), so a run that died leaves at most a build in
# flight, and the next run waits for that one instead of starting a second copy
# (two Go builds of each on two cores); after the lock it re-checks the tool.
BUILD_PIDS=()
# build_locked NAME CHECK BUILD: run BUILD under NAME's lock unless CHECK holds.
build_locked() {
	local name=$1 check=$2 build=$3
	(
		exec 9>>"$TB/build-$name.lock"
		if ! flock -n 9; then
			log "$name: a build is already in flight (an earlier run); waiting for it" 2>&3
			flock 9
		fi
		"$check" && { log "$name: built by the earlier run" 2>&3; exit 0; }
		"$build"
	) 3>&2 >>"$LOGS/build-$name.log" 2>&1 &
	BUILD_PIDS+=("$name:$!")
}

temporal_built() { [[ -x $TEMPORAL_BIN ]]; }

start_builds() {
	if ! compose_ok; then
		command -v go >/dev/null || die "go is needed to build docker compose"
		log "compose: building $COMPOSE_VERSION in background (~3 min, log $LOGS/build-compose.log)"
		build_locked compose compose_ok build_compose
	fi
	if ! temporal_built; then
		command -v go >/dev/null || die "go is needed to build the temporal CLI"
		log "temporal: building $TEMPORAL_VERSION in background (~5 min, log $LOGS/build-temporal.log)"
		build_locked temporal temporal_built build_temporal
	fi
}

wait_builds() {
	local b BUILT=()
	for b in ${BUILD_PIDS[@]+"${BUILD_PIDS[@]}"}; do
		wait "${b#*:}" || die "${b%%:*} build failed, see $LOGS/build-${b%%:*}.log"
		log "${b%%:*}: build done"
		BUILT+=("${b%%:*}")
	done
	BUILD_PIDS=()
	[[ " ${BUILT[*]} " != *" compose "* ]] || compose_ok || die "docker compose does not report $COMPOSE_VERSION after build"
	temporal_built || die "temporal binary missing: $TEMPORAL_BIN"
}

# ---------------------------------------------------------------- state dir, keys

ensure_state() {
	mkdir -p "$TB" "$LOGS" "$PIDS" "$TB/ssh" "$TB/registry/storage" "$TB/registry-auth/storage" "$RUNDIR"
	chmod 755 "$TB"
	if [[ ! -s $TB/ssh/id_ed25519 ]]; then
		log "ssh: generating client key"
		ssh-keygen -q -t ed25519 -N '' -C hoist-testbed-client -f "$TB/ssh/id_ed25519"
	fi
	chmod 600 "$TB/ssh/id_ed25519"
}

# ---------------------------------------------------------------- 2. root dockerd

ensure_root_dockerd() {
	docker_ping "$ROOT_SOCK" && return 0
	log "dockerd (root): starting"
	[[ -s $TB/root-daemon.json ]] || echo '{}' >"$TB/root-daemon.json"
	# --iptables=false: otherwise Docker sets the FORWARD policy to DROP, and with
	# bridge-nf-call-iptables=1 that would also drop h1<->h2 traffic on hoist-br0.
	# Nothing here needs NAT (no internet anyway). Own --config-file so a stray
	# /etc/docker/daemon.json cannot clash with our flags.
	start_bg - "$LOGS/dockerd.log" "$DOCKERD" \
		--config-file "$TB/root-daemon.json" --pidfile "$PIDS/dockerd.pid" \
		-H "unix://$ROOT_SOCK" --group docker \
		--iptables=false --ip-masq=false \
		--insecure-registry "$GW:5000" --insecure-registry "$GW:5001"
	wait_until "$BG_PID" 60 docker_ping "$ROOT_SOCK" || die "root dockerd did not come up, see $LOGS/dockerd.log"
}

# ---------------------------------------------------------------- 6. network

ensure_bridge() {
	if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
		log "net: creating bridge $BRIDGE $GW/24"
		ip link add "$BRIDGE" type bridge
	fi
	[[ $(ip addr show dev "$BRIDGE") == *"inet $GW/24 "* ]] || ip addr add "$GW/24" dev "$BRIDGE"
	ip link set "$BRIDGE" up
	# If some other dockerd (e.g. a systemd one on CI) set FORWARD to DROP, bridged
	# host<->host traffic would die in br_netfilter: allow it explicitly.
	if command -v iptables >/dev/null && [[ -e /proc/sys/net/bridge/bridge-nf-call-iptables ]]; then
		iptables -C FORWARD -i "$BRIDGE" -o "$BRIDGE" -j ACCEPT 2>/dev/null ||
			iptables -I FORWARD -i "$BRIDGE" -o "$BRIDGE" -j ACCEPT 2>/dev/null || true
	fi
}

ensure_host_net() {
	local i=$1 ns veth ip
	ns=$(host_ns "$i") veth=$(host_veth "$i") ip=$(host_ip "$i")
	[[ -e /var/run/netns/$ns ]] || { log "net: creating netns $ns"; ip netns add "$ns"; }
	if ! ip link show "$veth" >/dev/null 2>&1; then
		ip -n "$ns" link del eth0 2>/dev/null || true
		ip link add "$veth" type veth peer name eth0 netns "$ns"
	fi
	ip link set "$veth" master "$BRIDGE"
	[[ $(ip -n "$ns" addr show dev eth0) == *"inet $ip/24 "* ]] || ip -n "$ns" addr add "$ip/24" dev eth0
	ip -n "$ns" link set lo up
	ip -n "$ns" link set eth0 up
	# host-cut is "root end down"; `up` deliberately heals a cut link,
	# and a link-slow limit left by a test that died.
	ip link set "$veth" up
	tc qdisc del dev "$veth" root 2>/dev/null || true
}

# ---------------------------------------------------------------- 6. deploy user

ensure_deploy_user() {
	getent group docker >/dev/null || groupadd --system docker
	if ! getent passwd "$DEPLOY_USER" >/dev/null; then
		log "user: creating $DEPLOY_USER"
		useradd --system --user-group --shell /bin/bash --home-dir "/home/$DEPLOY_USER" \
			--no-create-home --groups docker "$DEPLOY_USER"
	fi
	[[ " $(id -nG "$DEPLOY_USER") " == *" docker "* ]] || usermod -aG docker "$DEPLOY_USER"
	# useradd leaves the password "!" (locked); with UsePAM no, sshd refuses even
	# key logins for locked accounts. "*" = no password, but not locked.
	[[ $(getent shadow "$DEPLOY_USER" | cut -d: -f2) == '*' ]] || usermod -p '*' "$DEPLOY_USER"
	mkdir -p "/home/$DEPLOY_USER" # mount point for the per-host homes
}

# Per-host private directories: host path -> directory under hosts/hN/.
# /run is handled separately (a private tmpfs, see ensure_host_ns).
PRIVATE_MOUNTS=(/srv:srv "/home/$DEPLOY_USER:home" /tmp:tmp /etc/docker:etc-docker)

ensure_host_files() {
	local i=$1 hd home pub
	hd=$(host_dir "$i") home=$(host_dir "$i")/home
	mkdir -p "$hd/srv" "$hd/tmp" "$hd/etc-docker" "$hd/run" "$hd/docker" "$home/.ssh" "$RUNDIR/h$i"
	chmod 1777 "$hd/tmp"
	if [[ ! -s $hd/ssh_host_ed25519_key ]]; then
		ssh-keygen -q -t ed25519 -N '' -C "hoist-testbed-h$i" -f "$hd/ssh_host_ed25519_key"
	fi
	[[ -s $hd/daemon.json ]] || echo '{}' >"$hd/daemon.json"
	# A plain, fast shell environment: no /etc/skel, nothing slow to source.
	[[ -e $home/.profile ]] || printf '# hoist testbed\n[ -f ~/.bashrc ] && . ~/.bashrc\n' >"$home/.profile"
	[[ -e $home/.bashrc ]] || printf '# hoist testbed: intentionally minimal\n' >"$home/.bashrc"
	pub=$(<"$TB/ssh/id_ed25519.pub")
	[[ -s $home/.ssh/authorized_keys && $(<"$home/.ssh/authorized_keys") == "$pub" ]] ||
		echo "$pub" >"$home/.ssh/authorized_keys"
	# sshd StrictModes: home and .ssh owned by the user, not group/world-writable.
	chown "$DEPLOY_USER:$DEPLOY_USER" "$home" "$home/.ssh" "$home/.ssh/authorized_keys" "$home/.profile" "$home/.bashrc"
	chmod 755 "$home"
	chmod 700 "$home/.ssh"
	chmod 600 "$home/.ssh/authorized_keys"
	chown "$DEPLOY_USER:$DEPLOY_USER" "$hd/srv" # deploys write /srv/... as deploy

	cat >"$hd/sshd_config.new" <<EOF
# generated by scripts/testbed/testbed.sh — host h$i
ListenAddress $(host_ip "$i"):22
HostKey $hd/ssh_host_ed25519_key
PidFile $hd/sshd.pid
AuthorizedKeysFile .ssh/authorized_keys
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin no
AllowUsers $DEPLOY_USER
UsePAM no
UseDNS no
AllowTcpForwarding yes
AllowStreamLocalForwarding yes
X11Forwarding no
PrintMotd no
PrintLastLog no
# tests run 20 concurrent sessions on one connection, and many connections at once
MaxSessions 30
MaxStartups 100:30:200
LogLevel VERBOSE
SetEnv DOCKER_HOST=unix://$RUNDIR/h$i/docker.sock
Subsystem sftp /usr/lib/openssh/sftp-server
EOF
	cmp -s "$hd/sshd_config.new" "$hd/sshd_config" || mv -f "$hd/sshd_config.new" "$hd/sshd_config"
	rm -f "$hd/sshd_config.new"
}

# ---------------------------------------------------------------- 6. mount namespaces

nsfs_ok() { [[ $(findmnt -n -o FSTYPE --mountpoint "$1" 2>/dev/null) == nsfs ]]; }
mntns_ok() { nsfs_ok "$NSDIR/h$1.mnt" && nsfs_ok "$NSDIR/h$1.uts"; }

ensure_nsdir() {
	mkdir -p "$NSDIR"
	# A mount-namespace handle can only be bind-mounted onto a private mount.
	if ! findmnt -n --mountpoint "$NSDIR" >/dev/null 2>&1; then
		mount --bind "$NSDIR" "$NSDIR"
	fi
	mount --make-private "$NSDIR"
}

# Inside the new mount namespace (runs via nsenter; $1=host dir, $2=N):
# bind the host's private dirs, give it its own /run (so /run/docker.sock,
# /run/containerd and /run/sshd are its own), and hide the foreign docker CLI.
# shellcheck disable=SC2016
MNTNS_SETUP='
set -eu
hd=$1 n=$2 rundir=$3; shift 3
sub=${rundir#/run}  # rundir relative to /run
for m in "$@"; do mount -n --bind "$hd/${m#*:}" "${m%%:*}"; done
mount -n -t tmpfs -o mode=755,size=64m hoist-run-h$n "$hd/run"
mkdir -p "$hd/run/sshd" "$hd/run/lock" "$hd/run$sub/h$n"
chmod 1777 "$hd/run/lock"
: >"$hd/run/utmp"
mount -n --bind "$rundir/h$n" "$hd/run$sub/h$n"
mount -n --move "$hd/run" /run
if [ -e /usr/local/bin/docker ]; then mount -n --bind /usr/bin/docker /usr/local/bin/docker; fi
'

# The namespaces are kept alive by bind-mounting their handles under $NSDIR, so
# sshd and dockerd (and `host-start` later) can be started into the same ones.
ensure_host_ns() {
	local i=$1 hd m
	mntns_ok "$i" && return 0
	hd=$(host_dir "$i")
	for m in "${PRIVATE_MOUNTS[@]}"; do mkdir -p "${m%%:*}"; done
	# Half there (e.g. after a crash): start from scratch, nothing may run in the old ones.
	if nsfs_ok "$NSDIR/h$i.mnt" || nsfs_ok "$NSDIR/h$i.uts"; then
		stop_host "$i"
		umount "$NSDIR/h$i.mnt" 2>/dev/null || true
		umount "$NSDIR/h$i.uts" 2>/dev/null || true
	fi
	touch "$NSDIR/h$i.mnt" "$NSDIR/h$i.uts"
	# Own UTS namespace too, so `hostname` on host N says hN.
	unshare --mount="$NSDIR/h$i.mnt" --uts="$NSDIR/h$i.uts" --propagation private hostname "h$i"
	nsenter --mount="$NSDIR/h$i.mnt" -- bash -c "$MNTNS_SETUP" setup "$hd" "$i" "$RUNDIR" "${PRIVATE_MOUNTS[@]}" ||
		die "mount namespace setup for h$i failed"
}

# in_host N CMD...: run CMD in host N's network, mount and UTS namespaces.
# (Not `ip netns exec`: it remounts /sys, which breaks dockerd.)
in_host() {
	local i=$1
	shift
	nsenter --net="/var/run/netns/$(host_ns "$i")" --mount="$NSDIR/h$i.mnt" --uts="$NSDIR/h$i.uts" -- "$@"
}

# ---------------------------------------------------------------- 6. per-host daemons

host_docker_sock() { echo "$RUNDIR/h$1/docker.sock"; }
declare -A HOST_DOCKERD_PID=()

start_host_dockerd() {
	local i=$1 hd
	hd=$(host_dir "$i")
	docker_ping "$(host_docker_sock "$i")" && return 0
	log "h$i: starting dockerd"
	rm -f "$RUNDIR/h$i/docker.pid"
	# --bridge none/--iptables=false: no default bridge and no firewall changes;
	# compose's own networks still work and published ports go through
	# docker-proxy (userland proxy), which listens in the host's netns.
	# The large address pool avoids running out of /16s after many projects.
	# The second -H is /run/docker.sock of the host's private /run.
	start_bg - "$LOGS/dockerd-h$i.log" \
		nsenter --net="/var/run/netns/$(host_ns "$i")" --mount="$NSDIR/h$i.mnt" --uts="$NSDIR/h$i.uts" -- \
		"$DOCKERD" \
		--config-file "$hd/daemon.json" \
		--data-root "$hd/docker" \
		--exec-root "$RUNDIR/h$i/exec" \
		--pidfile "$RUNDIR/h$i/docker.pid" \
		-H "unix://$(host_docker_sock "$i")" -H unix:///run/docker.sock \
		--group docker \
		--bridge none --iptables=false --ip-masq=false \
		--insecure-registry "$GW:5000" --insecure-registry "$GW:5001" \
		--default-address-pool base=172.20.0.0/14,size=24 \
		--cgroup-parent "hoist-h$i" \
		--shutdown-timeout 10
	HOST_DOCKERD_PID[$i]=$BG_PID
}

wait_host_dockerd() {
	wait_until "${HOST_DOCKERD_PID[$1]:-}" 60 docker_ping "$(host_docker_sock "$1")" ||
		die "h$1: dockerd did not come up, see $LOGS/dockerd-h$1.log"
}

# wait_hosts N...: wait until every listed host's dockerd and sshd answer.
# All are polled in turn, so one slow engine delays no other check; the
# deadline grows with the count (N engines start at once on few cores).
# Dies naming every host that is not up, or at once when a dockerd `up`
# started has exited.
wait_hosts() {
	local pending=("$@") left=() i pid deadline=$((SECONDS + 60 + 2 * $#)) what
	local -A dockerd_ok=()
	while :; do
		left=()
		for i in ${pending[@]+"${pending[@]}"}; do
			if [[ -z ${dockerd_ok[$i]:-} ]]; then
				if docker_ping "$(host_docker_sock "$i")"; then
					dockerd_ok[$i]=1
				else
					pid=${HOST_DOCKERD_PID[$i]:-}
					[[ -z $pid ]] || kill -0 "$pid" 2>/dev/null || die "h$i: dockerd exited, see $LOGS/dockerd-h$i.log"
				fi
			fi
			[[ -n ${dockerd_ok[$i]:-} ]] && sshd_ok "$i" || left+=("$i")
		done
		pending=(${left[@]+"${left[@]}"})
		((${#pending[@]} == 0)) && return 0
		if ((SECONDS >= deadline)); then
			what=""
			for i in "${pending[@]}"; do
				what+=" h$i:$([[ -n ${dockerd_ok[$i]:-} ]] || echo -n dockerd,)sshd"
			done
			die "not up after $((60 + 2 * $#))s:$what (logs: $LOGS/dockerd-hN.log, sshd-hN.log)"
		fi
		sleep 0.2
	done
}

sshd_ok() { pid_alive "$(host_dir "$1")/sshd.pid" && tcp_open "$(host_ip "$1")" 22; }

# launch_host_sshd N: start host N's sshd unless it answers; no waiting.
launch_host_sshd() {
	local i=$1 hd
	hd=$(host_dir "$i")
	sshd_ok "$i" && return 0
	log "h$i: starting sshd on $(host_ip "$i"):22"
	in_host "$i" /usr/sbin/sshd -t -f "$hd/sshd_config" || die "h$i: bad sshd_config"
	# sshd daemonizes itself and writes PidFile.
	in_host "$i" /usr/sbin/sshd -f "$hd/sshd_config" -E "$LOGS/sshd-h$i.log" ||
		die "h$i: sshd failed, see $LOGS/sshd-h$i.log"
}

start_host_sshd() {
	launch_host_sshd "$1"
	wait_until "" 20 sshd_ok "$1" || die "h$1: sshd not answering, see $LOGS/sshd-h$1.log"
}

# sshd_pids N: every sshd process of host N: the listener and one or two
# per open connection.
sshd_pids() {
	local p
	for p in $(ip netns pids "$(host_ns "$1")" 2>/dev/null); do
		[[ $(cat "/proc/$p/comm" 2>/dev/null) == sshd ]] && echo "$p"
	done
	return 0
}

# stop_sshd N: the host stays up (its containers run on) but no SSH gets in
# and every open connection drops, as during an sshd restart or a reboot.
stop_sshd() {
	local pids
	stop_pid "$(host_dir "$1")/sshd.pid" 5
	pids=$(sshd_pids "$1")
	[[ -z $pids ]] || kill -KILL $pids 2>/dev/null || true
}

# drop_ssh N: kill the sshd processes serving open connections, the
# listener stays: clients see their connection cut mid-command.
drop_ssh() {
	local pids listener p
	listener=$(cat "$(host_dir "$1")/sshd.pid" 2>/dev/null || true)
	pids=$(sshd_pids "$1")
	for p in $pids; do
		[[ $p == "$listener" ]] || kill -KILL "$p" 2>/dev/null || true
	done
}

ensure_host() {
	ensure_host_net "$1"
	ensure_host_files "$1"
	ensure_host_ns "$1"
	start_host_dockerd "$1"
	start_host_sshd "$1"
}

# stop_host N: stop dockerd gracefully (it stops its containers), sshd, and kill
# whatever is left in the host's netns (open ssh sessions, shims, proxies), like
# a machine going down. The netns, link and mount namespace stay.
stop_host() {
	local i=$1 ns pids
	ns=$(host_ns "$i")
	stop_pid "$(host_dir "$i")/sshd.pid" 5
	stop_pid "$RUNDIR/h$i/docker.pid" 30
	if [[ -e /var/run/netns/$ns ]]; then
		pids=$(ip netns pids "$ns" 2>/dev/null || true)
		[[ -z $pids ]] || kill -KILL $pids 2>/dev/null || true
	fi
	rm -f "$RUNDIR/h$i/docker.sock"
}

# remove_host N: after stop_host, delete the host's link and network
# namespace and end its mount/UTS namespaces (no process is left in them; the
# container/overlay mounts inside go away with them). Its state dir
# (hosts/hN: keys, engine data) is kept, like `down` keeps it.
remove_host() {
	local i=$1 ns
	ns=$(host_ns "$i")
	ip link del "$(host_veth "$i")" 2>/dev/null || true
	if [[ -e /var/run/netns/$ns ]]; then ip netns del "$ns"; fi
	umount "$NSDIR/h$i.mnt" 2>/dev/null || true
	umount "$NSDIR/h$i.uts" 2>/dev/null || true
}

# stop_remove_hosts N...: stop the hosts in parallel (each dockerd takes a few
# seconds to shut down), then remove them.
stop_remove_hosts() {
	local i
	for i in "$@"; do stop_host "$i" & done
	wait
	for i in "$@"; do remove_host "$i"; done
}

# existing_hosts: the number of every host that has anything left on this
# machine (netns, link, namespace handle, running sshd or dockerd), whatever
# NHOSTS is, in order.
existing_hosts() {
	local f n
	{
		for f in /var/run/netns/hoist-h*; do
			[[ $f =~ /hoist-h([0-9]+)$ ]] && echo "${BASH_REMATCH[1]}"
		done
		ip -o link show 2>/dev/null | sed -n 's/^[0-9]*: hoist-h\([0-9][0-9]*\)-veth[@:].*/\1/p'
		while read -r f; do
			[[ $f == "$NSDIR"/h* && $f =~ /h([0-9]+)\.(mnt|uts)$ ]] && echo "${BASH_REMATCH[1]}"
		done < <(findmnt -rn -t nsfs -o TARGET 2>/dev/null)
		for f in "$RUNDIR"/h*/docker.pid "$TB"/hosts/h*/sshd.pid; do
			[[ $f =~ /h([0-9]+)/[a-z]+\.pid$ ]] || continue
			n=${BASH_REMATCH[1]} # before pid_alive: its own =~ resets BASH_REMATCH
			pid_alive "$f" && echo "$n"
		done
		true
	} | sort -nu
}

# ---------------------------------------------------------------- 5. registries

registry_config() { # NAME PORT STORAGE [HTPASSWD]
	cat <<EOF
# generated by scripts/testbed/testbed.sh
version: 0.1
log:
  level: info
  fields:
    service: $1
storage:
  filesystem:
    rootdirectory: $3
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
http:
  addr: 0.0.0.0:$2
  secret: hoist-testbed-$1
  headers:
    X-Content-Type-Options: [nosniff]
EOF
	if [[ -n ${4:-} ]]; then
		cat <<EOF
auth:
  htpasswd:
    realm: hoist-testbed
    path: $4
EOF
	fi
}

registry_ok() { [[ $(http_code "http://127.0.0.1:5000/v2/") == 200 ]]; }
registry_auth_ok() { [[ $(http_code "http://127.0.0.1:5001/v2/") == 401 ]]; }

ensure_registries() {
	local ra=$TB/registry-auth pw
	if ! registry_ok; then
		log "registry: starting on 0.0.0.0:5000"
		registry_config registry 5000 "$TB/registry/storage" >"$TB/registry/config.yml"
		start_bg "$PIDS/registry.pid" "$LOGS/registry.log" /usr/bin/docker-registry serve "$TB/registry/config.yml"
		wait_until "$BG_PID" 30 registry_ok || die "registry did not come up, see $LOGS/registry.log"
	fi
	if [[ ! -s $ra/password ]]; then
		(umask 077 && head -c 18 /dev/urandom | base64 | tr -d '/+=\n' >"$ra/password")
	fi
	chmod 600 "$ra/password"
	pw=$(<"$ra/password")
	if [[ ! -s $ra/htpasswd ]] || ! htpasswd -vb "$ra/htpasswd" hoist "$pw" >/dev/null 2>&1; then
		htpasswd -Bbn hoist "$pw" >"$ra/htpasswd"
		chmod 600 "$ra/htpasswd"
	fi
	if ! registry_auth_ok; then
		log "registry-auth: starting on 0.0.0.0:5001"
		registry_config registry-auth 5001 "$ra/storage" "$ra/htpasswd" >"$ra/config.yml"
		start_bg "$PIDS/registry-auth.pid" "$LOGS/registry-auth.log" /usr/bin/docker-registry serve "$ra/config.yml"
		wait_until "$BG_PID" 30 registry_auth_ok || die "registry-auth did not come up, see $LOGS/registry-auth.log"
		verify_auth_login "$pw"
	fi
}

# One-off check on (re)start: the right password logs in, a wrong one does not.
# Uses a throw-away DOCKER_CONFIG so root's real config is never touched.
verify_auth_login() {
	local pw=$1 cfg rc=0
	cfg=$(mktemp -d)
	if ! printf '%s' "$pw" | DOCKER_CONFIG=$cfg "$DOCKER" login -u hoist --password-stdin 127.0.0.1:5001 >/dev/null 2>&1; then
		rc=1
		log "registry-auth: login with the stored password FAILED"
	fi
	DOCKER_CONFIG=$cfg "$DOCKER" logout 127.0.0.1:5001 >/dev/null 2>&1 || true
	if printf 'wrong-%s' "$pw" | DOCKER_CONFIG=$cfg "$DOCKER" login -u hoist --password-stdin 127.0.0.1:5001 >/dev/null 2>&1; then
		rc=1
		log "registry-auth: login with a WRONG password succeeded"
	fi
	DOCKER_CONFIG=$cfg "$DOCKER" logout 127.0.0.1:5001 >/dev/null 2>&1 || true
	rm -rf "$cfg"
	((rc == 0)) || die "registry-auth login check failed"
	log "registry-auth: login check ok (good password accepted, wrong one rejected)"
}

# ---------------------------------------------------------------- 4. temporal

temporal_ok() {
	[[ -x $TEMPORAL_BIN ]] && tcp_open 127.0.0.1 7233 &&
		[[ $(timeout 10 "$TEMPORAL_BIN" operator cluster health --address "$TEMPORAL_ADDR" 2>/dev/null) == *SERVING* ]]
}

start_temporal() {
	temporal_ok && return 0
	[[ -x $TEMPORAL_BIN ]] || die "temporal binary missing ($TEMPORAL_BIN); run: $0 up"
	stop_pid "$PIDS/temporal.pid" 10 # a half-dead previous instance
	log "temporal: starting dev server on $TEMPORAL_ADDR (ui :8233, db $TB/temporal.db)"
	start_bg "$PIDS/temporal.pid" "$LOGS/temporal.log" "$TEMPORAL_BIN" server start-dev \
		--ip 127.0.0.1 --port 7233 --ui-port 8233 \
		--db-filename "$TB/temporal.db" \
		--search-attribute HoistService=Keyword --search-attribute HoistEnvironment=Keyword --search-attribute HoistVersion=Keyword \
		--log-level warn
	wait_until "$BG_PID" 90 temporal_ok || die "temporal did not become SERVING, see $LOGS/temporal.log"
}

stop_temporal() { stop_pid "$PIDS/temporal.pid" 20; }

# ---------------------------------------------------------------- 7./8. client files, env

write_client_files() {
	local i kh=$TB/ssh/known_hosts.new cfg=$TB/ssh/config.new names=""
	for ((i = 1; i <= NHOSTS; i++)); do names+="${names:+ }h$i"; done
	: >"$kh"
	for ((i = 1; i <= NHOSTS; i++)); do
		echo "$(host_ip "$i") $(cut -d' ' -f1,2 "$(host_dir "$i")/ssh_host_ed25519_key.pub")" >>"$kh"
	done
	mv -f "$kh" "$TB/ssh/known_hosts"
	{
		echo "# generated by scripts/testbed/testbed.sh — use: ssh -F $TB/ssh/config h1"
		for ((i = 1; i <= NHOSTS; i++)); do
			printf 'Host h%d\n  HostName %s\n' "$i" "$(host_ip "$i")"
		done
		cat <<EOF
Host $names $NET.*
  User $DEPLOY_USER
  IdentityFile $TB/ssh/id_ed25519
  IdentitiesOnly yes
  UserKnownHostsFile $TB/ssh/known_hosts
  GlobalKnownHostsFile /dev/null
  StrictHostKeyChecking yes
  BatchMode yes
  ConnectTimeout 5
  LogLevel ERROR
EOF
	} >"$cfg"
	mv -f "$cfg" "$TB/ssh/config"
}

write_env() {
	local hosts="" i
	for ((i = 1; i <= NHOSTS; i++)); do hosts+="${hosts:+,}$(host_ip "$i")"; done
	cat >"$TB/env.new" <<EOF
HOIST_TB_DIR=$TB
HOIST_TB_HOSTS=$hosts
HOIST_TB_USER=$DEPLOY_USER
HOIST_TB_SSH_KEY=$TB/ssh/id_ed25519
HOIST_TB_KNOWN_HOSTS=$TB/ssh/known_hosts
HOIST_TB_SSH_CONFIG=$TB/ssh/config
HOIST_TB_REGISTRY=$GW:5000
HOIST_TB_REGISTRY_PUSH=127.0.0.1:5000
HOIST_TB_AUTH_REGISTRY=$GW:5001
HOIST_TB_AUTH_REGISTRY_PUSH=127.0.0.1:5001
HOIST_TB_AUTH_USER=hoist
HOIST_TB_AUTH_PASSWORD_FILE=$TB/registry-auth/password
HOIST_TB_TEMPORAL=$TEMPORAL_ADDR
HOIST_TB_TEMPORAL_BIN=$TEMPORAL_BIN
HOIST_TB_SSHD_PIDFILE_PATTERN=$TB/hosts/h%d/sshd.pid
HOIST_TB_DOCKER_SOCK_PATTERN=$RUNDIR/h%d/docker.sock
HOIST_TB_SCRIPT=$SCRIPT_DIR/testbed.sh
EOF
	mv -f "$TB/env.new" "$TB/env"
}

# ---------------------------------------------------------------- status

# status_lines: "name ok|DOWN [detail]" per component; returns 1 if any is down.
status_lines() {
	local bad=0 i p missing=""
	st() { # NAME DETAIL CMD...
		local name=$1 detail=$2
		shift 2
		if "$@"; then printf '%-16s ok    %s\n' "$name" "$detail"; else
			printf '%-16s DOWN  %s\n' "$name" "$detail"
			bad=1
		fi
	}
	missing=$(missing_packages | tr '\n' ' ')
	st apt-packages "${missing:+missing:$missing}" test -z "$missing"
	st dockerd "$ROOT_SOCK" docker_ping "$ROOT_SOCK"
	st compose "$COMPOSE_VERSION $COMPOSE_BIN" compose_ok
	st temporal "$TEMPORAL_ADDR" temporal_ok
	st registry "0.0.0.0:5000 ($GW:5000)" registry_ok
	st registry-auth "0.0.0.0:5001 ($GW:5001)" registry_auth_ok
	st bridge "$BRIDGE $GW/24" bridge_ok
	st env-hosts "h1..h$NHOSTS${RECORDED_HOSTS:+ (env file: $RECORDED_HOSTS)}" test "${RECORDED_HOSTS:-0}" = "$NHOSTS"
	for ((i = 1; i <= NHOSTS; i++)); do
		st "h$i-link" "$(host_veth "$i") <-> $(host_ns "$i") eth0" link_up "$i"
		st "h$i-sshd" "$(host_ip "$i"):22" sshd_ok "$i"
		st "h$i-dockerd" "$(host_docker_sock "$i")" docker_ping "$(host_docker_sock "$i")"
	done
	st env-file "$TB/env" test -s "$TB/env"
	return $bad
}

bridge_ok() { [[ $(ip addr show dev "$BRIDGE" up 2>/dev/null) == *"inet $GW/24 "* ]]; }
link_up() { [[ -n $(ip link show "$(host_veth "$1")" up 2>/dev/null) ]]; }

# ---------------------------------------------------------------- commands

cmd_up() {
	local t0=$SECONDS i
	ensure_apt
	resolve_tools
	ensure_state
	start_builds
	ensure_root_dockerd
	ensure_bridge
	ensure_deploy_user
	ensure_nsdir
	# Every engine starts before any is waited for, and every sshd (which
	# needs no engine) right after: the start-ups overlap, then one wait for all.
	local hosts=() extra=() t1=$SECONDS
	for ((i = 1; i <= NHOSTS; i++)); do
		hosts+=("$i")
		ensure_host_net "$i"
		ensure_host_files "$i"
		ensure_host_ns "$i"
		start_host_dockerd "$i"
	done
	for i in "${hosts[@]}"; do launch_host_sshd "$i"; done
	wait_hosts "${hosts[@]}"
	log "up: h1..h$NHOSTS answer (sshd + dockerd, $((SECONDS - t1))s)"
	ensure_registries
	write_client_files
	wait_builds
	start_temporal
	write_env
	# Hosts above N go only now that the env file and ssh config no longer
	# list them (a test reading them meanwhile still finds every listed host up).
	for i in $(existing_hosts); do ((i <= NHOSTS)) || extra+=("$i"); done
	if ((${#extra[@]})); then
		log "up: stopping and removing ${#extra[@]} host(s) above h$NHOSTS: $(printf 'h%s ' "${extra[@]}")"
		stop_remove_hosts "${extra[@]}"
	fi
	"$SCRIPT_DIR/images.sh"
	log "up: all components ok, $NHOSTS hosts ($((SECONDS - t0))s); env: $TB/env"
}

cmd_down() {
	local hosts
	log "down: stopping temporal, registries, hosts"
	# The cluster (cluster.sh) lives in $TB too: down with the rest.
	[[ ! -e $TB/cluster ]] || HOIST_CLUSTER_LOCKED=1 "$SCRIPT_DIR/cluster.sh" down || true
	stop_temporal
	stop_pid "$PIDS/registry.pid" 10
	stop_pid "$PIDS/registry-auth.pid" 10
	# Every host there is, whatever HOIST_TESTBED_HOSTS or the env file say.
	mapfile -t hosts < <(existing_hosts)
	((${#hosts[@]} == 0)) || stop_remove_hosts "${hosts[@]}"
	findmnt -n --mountpoint "$NSDIR" >/dev/null 2>&1 && umount "$NSDIR"
	if ip link show "$BRIDGE" >/dev/null 2>&1; then ip link del "$BRIDGE"; fi
	command -v iptables >/dev/null && iptables -D FORWARD -i "$BRIDGE" -o "$BRIDGE" -j ACCEPT 2>/dev/null || true
	# Only a root dockerd we started ourselves (recognised by its --config-file)
	# is stopped; a system one (e.g. systemd's on CI) is left alone.
	local pidf
	for pidf in "$PIDS/dockerd.pid" /var/run/docker.pid; do
		pid_alive "$pidf" && [[ $(tr '\0' ' ' <"/proc/$(<"$pidf")/cmdline") == *"--config-file $TB/root-daemon.json "* ]] || continue
		log "down: stopping root dockerd"
		stop_pid "$pidf" 30
	done
	log "down: done (state, keys and tools kept in $TB)"
}

cmd_purge() {
	cmd_down
	log "purge: removing $TB"
	rm -rf "$TB" "$RUNDIR"
}

cmd_host_start() {
	check_host_arg "${1:-}"
	ensure_bridge
	ensure_nsdir
	ensure_host "$1"
	wait_host_dockerd "$1"
	log "h$1: up"
}

usage() {
	sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

main() {
	[[ $(id -u) == 0 ]] || die "must run as root"
	local cmd=${1:-}
	shift || true
	case $cmd in
	up | down | purge | host-start | host-stop | sshd-start | sshd-stop | temporal-start | temporal-stop)
		mkdir -p "$TB" "$LOGS" "$PIDS"
		# Serialize concurrent invocations (e.g. make -j). flock -o holds the lock
		# in the flock process itself, so the daemons started below do not inherit
		# the lock fd (they would hold the lock forever).
		if [[ ${HOIST_TB_LOCKED:-} != "$TB" ]]; then
			HOIST_TB_LOCKED=$TB exec flock -o "$TB/.lock" "${BASH_SOURCE[0]}" "$cmd" "$@"
		fi
		;;
	esac
	set_host_count "$cmd"
	[[ $cmd == up ]] || resolve_tools_if_installed
	case $cmd in
	up) cmd_up ;;
	down) cmd_down ;;
	purge) cmd_purge ;;
	status) status_lines ;;
	host-stop) check_host_arg "${1:-}" && stop_host "$1" && log "h$1: stopped (sshd + dockerd)" ;;
	host-start) cmd_host_start "${1:-}" ;;
	sshd-stop) check_host_arg "${1:-}" && stop_sshd "$1" && log "h$1: sshd stopped, connections dropped" ;;
	sshd-start) check_host_arg "${1:-}" && start_host_sshd "$1" && log "h$1: sshd up" ;;
	link-slow) check_host_arg "${1:-}" && [[ ${2:-} =~ ^[0-9]+[kmg]?bit$ ]] || die "usage: link-slow N RATE (e.g. 1mbit)"
		tc qdisc replace dev "$(host_veth "$1")" root tbf rate "$2" burst 32kbit latency 100ms && log "h$1: traffic to the host limited to $2" ;;
	link-fast) check_host_arg "${1:-}" && { tc qdisc del dev "$(host_veth "$1")" root 2>/dev/null || true; } && log "h$1: link at full speed" ;;
	ssh-drop) check_host_arg "${1:-}" && drop_ssh "$1" && log "h$1: open SSH connections dropped" ;;
	host-cut) check_host_arg "${1:-}" && ip link set "$(host_veth "$1")" down && log "h$1: link cut" ;;
	host-uncut) check_host_arg "${1:-}" && ip link set "$(host_veth "$1")" up && log "h$1: link restored" ;;
	temporal-stop) stop_temporal && log "temporal: stopped" ;;
	temporal-start) start_temporal && log "temporal: SERVING" ;;
	*) usage ;;
	esac
}

# Sourcing (for debugging single steps) does not run anything.
# (exit on the same line: bash reads scripts lazily, so an edit of this file
# while it runs must never make it execute anything after main.)
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then main "$@"; exit; fi
