#!/usr/bin/env bash
# simfleet.sh — a SIMULATED fleet of N SSH hosts (s1..sN, default 200) for
# `make bench-fleet` only, to measure hoist's orchestration alone.
#
#   A SIMULATION. Each host is a real sshd (real SSH, real SFTP uploads, real
#   flock, real symlink switching on the host's own /srv), but its `docker`
#   is a stand-in (internal/simdocker) that runs no container and answers as
#   a healthy, never-restarted service would. Never use it for a test that
#   claims deploys work. See scripts/simfleet/README.md.
#
# Usage: simfleet.sh up [N]    start s1..sN (1..250, default 200); stop any above N
#        simfleet.sh down      stop every sim host (state and keys kept)
#        simfleet.sh status    one line per host of the last `up`, exit 1 if any is DOWN
#        simfleet.sh purge     down, then delete the state dir (next up starts empty)
#
# Host sI is an sshd on 127.0.2.I:22 started in its own mount namespace, in
# which its own folders are bound over /srv, /home/deploy and the stand-in's
# state folder, and the stand-in over every docker binary. The namespace
# lives as long as the host's processes: nothing outlives `down`. Must run
# as root. Touches nothing of scripts/testbed's (it may share the deploy user).
set -euo pipefail

SF=${HOIST_SIMFLEET_DIR:-/var/lib/hoist-simfleet}
HOSTS_DIR=$SF/hosts
LOGS=$SF/logs
BIN_DIR=$SF/bin
BIN=$BIN_DIR/docker
# The stand-in's state folder as every host sees it: empty (and root's) in
# the machine's own namespace; each host binds hosts/sI/state over it.
STATE_MNT=$SF/state
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/../.." && pwd)

NET=127.0.2 # all of 127.0.0.0/8 is local on Linux: no address to add
DEFAULT_HOSTS=200
MAX_HOSTS=250
DEPLOY_USER=deploy
SSHD=/usr/sbin/sshd
SFTP_SERVER=/usr/lib/openssh/sftp-server
# What the deploy user's commands see: the stand-in first, and a Docker
# endpoint that does not exist, so a real docker client that slipped past
# the binds could never reach the machine's engine.
HOST_PATH=$BIN_DIR:/usr/local/bin:/usr/bin:/bin
NO_ENGINE=unix:///nonexistent/simfleet-has-no-docker-engine

export PATH=/usr/local/go/bin:$PATH:/usr/sbin:/sbin

log() { printf '[simfleet %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Host I is sI at $NET.I, its files in $HOSTS_DIR/sI (written out in
# place: a $(function) per host is a fork, and up handles 200 hosts).

# slurp VAR FILE: FILE's exact content into VAR ("" if missing), no fork.
slurp() {
	local -n _into=$1
	_into=
	[[ -s $2 ]] || return 0
	IFS= read -r -d '' _into <"$2" || true
}

# ---------------------------------------------------------------- host count

# host_count ARG: N for `up` (default 200), validated. No leading zeros.
host_count() {
	local n=${1:-$DEFAULT_HOSTS}
	[[ $n =~ ^[1-9][0-9]*$ ]] && ((n <= MAX_HOSTS)) || die "host count must be 1..$MAX_HOSTS, got '$n'"
	echo "$n"
}

# recorded_hosts: how many hosts the env file lists (empty without one).
recorded_hosts() {
	local line
	[[ -s $SF/env ]] || return 0
	line=$(grep -m1 '^SIMFLEET_HOSTS=' "$SF/env" || true)
	line=${line#SIMFLEET_HOSTS=}
	[[ -n $line ]] || return 0
	tr ',' '\n' <<<"$line" | grep -c .
}

# ---------------------------------------------------------------- processes

# scan_hosts: fills SIM_PIDS[sI]="pid pid ..." with every process inside
# a sim host. A process is in host sI exactly when STATE_MNT/host, read in
# its own mount namespace (through /proc/PID/root), says sI: nothing
# outside a sim host (the test bed's hosts included) ever matches.
declare -A SIM_PIDS=()
scan_hosts() {
	local d h
	SIM_PIDS=()
	for d in /proc/[0-9]*; do
		h=
		{ read -r h <"$d/root$STATE_MNT/host"; } 2>/dev/null || continue
		[[ $h =~ ^s[0-9]+$ ]] || continue
		SIM_PIDS[$h]+="${d#/proc/} "
	done
}

# listener_alive I: host I's sshd listener (its pidfile) runs, inside host I.
listener_alive() {
	local pid
	{ read -r pid <"$HOSTS_DIR/s$1/sshd.pid"; } 2>/dev/null || return 1
	[[ $pid =~ ^[0-9]+$ && " ${SIM_PIDS[s$1]:-} " == *" $pid "* ]]
}

# alive PID: PID runs (a zombie does not: the sshd daemons are orphans,
# and init may reap them late, so kill -0 alone would wait for that).
alive() {
	local stat
	{ read -r stat <"/proc/$1/stat"; } 2>/dev/null || return 1
	stat=${stat##*) }
	[[ ${stat%% *} != Z ]]
}

# stop_hosts I...: SIGTERM to every process of the hosts (sshd listeners
# and open sessions alike), SIGKILL to what is left after 2 s.
stop_hosts() {
	local i p pids=() left
	scan_hosts
	for i in "$@"; do
		for p in ${SIM_PIDS[s$i]:-}; do pids+=("$p"); done
		rm -f "$HOSTS_DIR/s$i/sshd.pid"
	done
	((${#pids[@]})) || return 0
	kill -TERM "${pids[@]}" 2>/dev/null || true
	for ((i = 0; i < 20; i++)); do
		left=()
		for p in "${pids[@]}"; do alive "$p" && left+=("$p"); done
		((${#left[@]})) || return 0
		sleep 0.1
	done
	kill -KILL "${left[@]}" 2>/dev/null || true
}

# running_hosts: the numbers of every host with a process left, in order.
running_hosts() {
	local h
	scan_hosts
	for h in "${!SIM_PIDS[@]}"; do echo "${h#s}"; done | sort -n
}

# listening: fills LISTENING[ip]=1 for every sim address sshd listens on.
declare -A LISTENING=()
listening() {
	local addr
	LISTENING=()
	while read -r _ _ _ addr _; do
		[[ $addr == "$NET".*:22 ]] && LISTENING[${addr%:22}]=1
	done < <(ss -Hltn 2>/dev/null)
	return 0
}

# ---------------------------------------------------------------- setup

ensure_tools() {
	local missing=()
	[[ -x $SSHD && -x $SFTP_SERVER ]] || missing+=(openssh-server)
	command -v ssh-keygen >/dev/null || missing+=(openssh-client)
	command -v unshare >/dev/null && command -v flock >/dev/null || missing+=(util-linux)
	command -v ss >/dev/null || missing+=(iproute2)
	if ((${#missing[@]})); then
		log "apt: installing ${missing[*]}"
		export DEBIAN_FRONTEND=noninteractive
		{ apt-get update -q && apt-get install -y -q --no-install-recommends "${missing[@]}"; } >>"$LOGS/apt.log" 2>&1 ||
			die "apt-get install ${missing[*]} failed, see $LOGS/apt.log"
	fi
	command -v go >/dev/null || die "go is needed to build the docker stand-in (internal/simdocker)"
	mkdir -p /run/sshd # sshd's privilege-separation folder, as the package makes it at boot
}

# ensure_user: the deploy user (the test bed's, if it made one): bash,
# not locked (sshd refuses key logins to a locked account with UsePAM no).
ensure_user() {
	if ! getent passwd "$DEPLOY_USER" >/dev/null; then
		log "user: creating $DEPLOY_USER"
		useradd --system --user-group --shell /bin/bash --home-dir "/home/$DEPLOY_USER" --no-create-home "$DEPLOY_USER"
	fi
	[[ $(getent shadow "$DEPLOY_USER" | cut -d: -f2) == '*' ]] || usermod -p '*' "$DEPLOY_USER"
	mkdir -p "/home/$DEPLOY_USER" /srv # mount points for the hosts' own
}

ensure_state() {
	mkdir -p "$SF" "$LOGS" "$HOSTS_DIR" "$BIN_DIR" "$SF/ssh" "$STATE_MNT"
	chmod 755 "$SF" "$HOSTS_DIR" "$BIN_DIR" "$STATE_MNT"
	# The root namespace's STATE_MNT must stay empty: a host file there
	# would make every process on the machine look like a sim host.
	[[ -z $(ls -A "$STATE_MNT") ]] || die "$STATE_MNT must be empty outside the sim hosts; remove what is in it"
	if [[ ! -s $SF/ssh/id_ed25519 ]]; then
		log "ssh: generating client key"
		ssh-keygen -q -t ed25519 -N '' -C hoist-simfleet-client -f "$SF/ssh/id_ed25519"
	fi
	chmod 600 "$SF/ssh/id_ed25519"
}

# build_standin: go build the stand-in; replace the installed one only
# when it changed (a new inode: hosts started with the old one restart).
build_standin() {
	local tmp=$BIN.new.$$
	(cd "$REPO" && go build -trimpath -o "$tmp" ./internal/simdocker) >>"$LOGS/build.log" 2>&1 ||
		{ rm -f "$tmp"; die "building internal/simdocker failed, see $LOGS/build.log"; }
	if cmp -s "$tmp" "$BIN"; then rm -f "$tmp"; else chmod 755 "$tmp" && mv -f "$tmp" "$BIN" && log "docker stand-in: installed $BIN"; fi
	BIN_INO=$(stat -c %i "$BIN")
}
BIN_INO=

# sshd_config I: host I's config, into SSHD_CONFIG.
PENALTIES= # OpenSSH >= 9.8 penalises a source that fails often: all hosts' clients are 127.0.0.1
SSHD_CONFIG=
sshd_config() {
	local hd=$HOSTS_DIR/s$1
	printf -v SSHD_CONFIG '%s\n' \
		"# generated by scripts/simfleet/simfleet.sh — SIMULATED host s$1 (docker is a stand-in)" \
		"ListenAddress $NET.$1:22" \
		"HostKey $hd/ssh_host_ed25519_key" \
		"PidFile $hd/sshd.pid" \
		"AuthorizedKeysFile .ssh/authorized_keys" \
		"PubkeyAuthentication yes" \
		"PasswordAuthentication no" \
		"KbdInteractiveAuthentication no" \
		"PermitRootLogin no" \
		"AllowUsers $DEPLOY_USER" \
		"UsePAM no" \
		"UseDNS no" \
		"AllowTcpForwarding no" \
		"X11Forwarding no" \
		"PrintMotd no" \
		"PrintLastLog no" \
		"MaxSessions 30" \
		"MaxStartups 100:30:200" \
		"LogLevel ERROR" \
		"SetEnv PATH=$HOST_PATH DOCKER_HOST=$NO_ENGINE" \
		"Subsystem sftp $SFTP_SERVER" \
		${PENALTIES:+"$PENALTIES"}
}

# write_host_files N: every host's folders, home, key and config. Few
# forks whatever N (one mkdir, chown, chmod for all hosts), and files are
# written only when they differ, so a warm `up` of 200 takes little.
# CHANGED[I]=1 for hosts whose sshd_config changed.
declare -A CHANGED=()
write_host_files() {
	local n=$1 i hd dirs=() owned=() sshdirs=() keys=() keygen=() pub old
	pub=$(<"$SF/ssh/id_ed25519.pub")
	if "$SSHD" -V 2>&1 | grep -qE 'OpenSSH_(9\.([89]|[1-9][0-9])|[1-9][0-9])'; then PENALTIES="PerSourcePenalties no"; fi
	for ((i = 1; i <= n; i++)); do
		hd=$HOSTS_DIR/s$i
		dirs+=("$hd/srv" "$hd/home/.ssh" "$hd/state")
	done
	mkdir -p "${dirs[@]}"
	for ((i = 1; i <= n; i++)); do
		hd=$HOSTS_DIR/s$i
		[[ -s $hd/ssh_host_ed25519_key ]] || keygen+=("$i")
		[[ -s $hd/state/host ]] || echo "s$i" >"$hd/state/host"
		slurp old "$hd/home/.ssh/authorized_keys"
		[[ $old == "$pub"$'\n' ]] || echo "$pub" >"$hd/home/.ssh/authorized_keys"
		[[ -e $hd/home/.bashrc ]] || printf '# hoist simfleet: intentionally minimal\n' >"$hd/home/.bashrc"
		[[ -e $hd/home/.profile ]] || printf '# hoist simfleet\n[ -f ~/.bashrc ] && . ~/.bashrc\n' >"$hd/home/.profile"
		sshd_config "$i"
		slurp old "$hd/sshd_config"
		if [[ $old != "$SSHD_CONFIG" ]]; then
			printf '%s' "$SSHD_CONFIG" >"$hd/sshd_config"
			CHANGED[$i]=1
		fi
		# sshd StrictModes: home and .ssh the user's, not group/world-writable.
		owned+=("$hd/srv" "$hd/state" "$hd/home" "$hd/home/.ssh" "$hd/home/.ssh/authorized_keys" "$hd/home/.bashrc" "$hd/home/.profile")
		sshdirs+=("$hd/home/.ssh")
		keys+=("$hd/home/.ssh/authorized_keys")
	done
	chown "$DEPLOY_USER:$DEPLOY_USER" "${owned[@]}"
	chmod 700 "${sshdirs[@]}"
	chmod 600 "${keys[@]}"
	if ((${#keygen[@]})); then
		log "ssh: generating ${#keygen[@]} host key(s)"
		printf '%s\n' "${keygen[@]}" | xargs -P 4 -I{} ssh-keygen -q -t ed25519 -N '' -C hoist-simfleet-s{} -f "$HOSTS_DIR/s{}/ssh_host_ed25519_key"
	fi
	"$SSHD" -t -f "$HOSTS_DIR/s1/sshd_config" || die "sshd -t rejects $HOSTS_DIR/s1/sshd_config"
}

# In the new mount namespace ($1 = host dir, $2 = stand-in, $3 = STATE_MNT):
# the host's own /srv, home and stand-in state, the stand-in over every
# docker binary there is, then sshd (it daemonizes and keeps the namespace).
# shellcheck disable=SC2016
NS_SETUP='
set -eu
hd=$1 bin=$2 statemnt=$3
mount -n --bind "$hd/srv" /srv
mount -n --bind "$hd/home" /home/deploy
mount -n --bind "$hd/state" "$statemnt"
for d in /usr/local/bin/docker /usr/bin/docker /usr/sbin/docker; do
	if [ -e "$d" ]; then mount -n --bind "$bin" "$d"; fi
done
exec "$4" -f "$hd/sshd_config" -E "$5"
'

# start_host I: host I's namespace and sshd, in the background.
start_host() {
	local hd=$HOSTS_DIR/s$1
	echo "$BIN_INO" >"$hd/docker.ino"
	setsid unshare --mount --propagation private -- /bin/sh -c "$NS_SETUP" setup \
		"$hd" "$BIN" "$STATE_MNT" "$SSHD" "$LOGS/sshd-s$1.log" </dev/null >>"$LOGS/start-s$1.log" 2>&1 &
}

# wait_listening N: until s1..sN all listen; dies naming those that do not.
wait_listening() {
	local n=$1 i deadline=$((SECONDS + 20 + n / 10)) missing
	while :; do
		listening
		missing=()
		for ((i = 1; i <= n; i++)); do [[ -n ${LISTENING[$NET.$i]:-} ]] || missing+=("s$i"); done
		((${#missing[@]})) || return 0
		((SECONDS < deadline)) || die "not listening after $((20 + n / 10)) s: ${missing[*]:0:20} (logs: $LOGS/start-sI.log, sshd-sI.log)"
		sleep 0.1
	done
}

# ---------------------------------------------------------------- client files, env

write_client_files() {
	local n=$1 i names="" kh=$SF/ssh/known_hosts.new cfg=$SF/ssh/config.new typ key
	for ((i = 1; i <= n; i++)); do names+="${names:+ }s$i"; done
	: >"$kh"
	for ((i = 1; i <= n; i++)); do
		read -r typ key _ <"$HOSTS_DIR/s$i/ssh_host_ed25519_key.pub"
		echo "$NET.$i $typ $key" >>"$kh"
	done
	mv -f "$kh" "$SF/ssh/known_hosts"
	{
		echo "# generated by scripts/simfleet/simfleet.sh — SIMULATED hosts (docker is a stand-in); use: ssh -F $SF/ssh/config s1"
		for ((i = 1; i <= n; i++)); do printf 'Host s%d\n  HostName %s.%d\n' "$i" "$NET" "$i"; done
		cat <<EOF
Host $names $NET.*
  User $DEPLOY_USER
  IdentityFile $SF/ssh/id_ed25519
  IdentitiesOnly yes
  UserKnownHostsFile $SF/ssh/known_hosts
  GlobalKnownHostsFile /dev/null
  StrictHostKeyChecking yes
  BatchMode yes
  ConnectTimeout 5
  LogLevel ERROR
EOF
	} >"$cfg"
	mv -f "$cfg" "$SF/ssh/config"
}

write_env() {
	local n=$1 i hosts=""
	for ((i = 1; i <= n; i++)); do hosts+="${hosts:+,}$NET.$i"; done
	cat >"$SF/env.new" <<EOF
# generated by scripts/simfleet/simfleet.sh: a SIMULATED fleet (docker is a stand-in), for make bench-fleet only
SIMFLEET_SIMULATED=1
SIMFLEET_DIR=$SF
SIMFLEET_HOSTS=$hosts
SIMFLEET_USER=$DEPLOY_USER
SIMFLEET_SSH_KEY=$SF/ssh/id_ed25519
SIMFLEET_KNOWN_HOSTS=$SF/ssh/known_hosts
SIMFLEET_SSH_CONFIG=$SF/ssh/config
SIMFLEET_DOCKER=$BIN
SIMFLEET_HOST_DIR_PATTERN=$HOSTS_DIR/s%d
SIMFLEET_SSHD_PIDFILE_PATTERN=$HOSTS_DIR/s%d/sshd.pid
SIMFLEET_SCRIPT=$SCRIPT_DIR/simfleet.sh
EOF
	mv -f "$SF/env.new" "$SF/env"
}

# ---------------------------------------------------------------- commands

cmd_up() {
	local n t0=$SECONDS i ino restart=() start=() extra=()
	n=$(host_count "${1:-}")
	ensure_tools
	ensure_user
	ensure_state
	build_standin
	write_host_files "$n"
	scan_hosts
	for ((i = 1; i <= n; i++)); do
		if listener_alive "$i"; then
			ino=
			{ read -r ino <"$HOSTS_DIR/s$i/docker.ino"; } 2>/dev/null || true
			[[ -z ${CHANGED[$i]:-} && $ino == "$BIN_INO" ]] && continue
			restart+=("$i")
		elif [[ -n ${SIM_PIDS[s$i]:-} ]]; then
			restart+=("$i") # sessions left without a listener: start clean
		fi
		start+=("$i")
	done
	if ((${#restart[@]})); then
		log "up: restarting ${#restart[@]} host(s) (new config or stand-in, or a half-stopped host)"
		stop_hosts "${restart[@]}"
	fi
	for i in ${start[@]+"${start[@]}"}; do start_host "$i"; done
	wait # the namespace setups; each sshd has daemonized
	wait_listening "$n"
	write_client_files "$n"
	write_env "$n"
	# Hosts above N go only now that the env file no longer lists them.
	for i in $(running_hosts); do ((i <= n)) || extra+=("$i"); done
	if ((${#extra[@]})); then
		log "up: stopping ${#extra[@]} host(s) above s$n"
		stop_hosts "${extra[@]}"
	fi
	log "up: s1..s$n listen on $NET.1..$n:22 (${#start[@]} started, $((SECONDS - t0)) s); env: $SF/env — a SIMULATED fleet, docker is a stand-in"
}

cmd_down() {
	local hosts
	mapfile -t hosts < <(running_hosts)
	if ((${#hosts[@]})); then
		log "down: stopping ${#hosts[@]} sim host(s)"
		stop_hosts "${hosts[@]}"
	fi
	rm -f "$SF/env" # no env file lists hosts that are gone
	log "down: done (keys and host state kept in $SF)"
}

cmd_purge() {
	cmd_down
	log "purge: removing $SF"
	[[ -z $(ls -A "$STATE_MNT" 2>/dev/null) ]] || die "$STATE_MNT is not empty; not removing $SF"
	rm -rf "$SF"
}

cmd_status() {
	local n i bad=0 up=0
	n=$(recorded_hosts)
	[[ -n $n ]] || { echo "simfleet: not up ($SF/env missing)"; return 1; }
	scan_hosts
	listening
	for ((i = 1; i <= n; i++)); do
		if listener_alive "$i" && [[ -n ${LISTENING[$NET.$i]:-} ]]; then
			printf '%-6s ok    %s:22\n' "s$i" "$NET.$i"
			up=$((up + 1))
		else
			printf '%-6s DOWN  %s:22\n' "s$i" "$NET.$i"
			bad=1
		fi
	done
	echo "simfleet: $up of $n hosts up (SIMULATED: docker is a stand-in)"
	return $bad
}

usage() {
	sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

main() {
	[[ $(id -u) == 0 ]] || die "must run as root"
	local cmd=${1:-}
	shift || true
	case $cmd in
	up | down | purge)
		mkdir -p "$SF" "$LOGS"
		# One at a time; flock -o keeps the lock out of the daemons started.
		if [[ ${HOIST_SIMFLEET_LOCKED:-} != "$SF" ]]; then
			HOIST_SIMFLEET_LOCKED=$SF exec flock -o "$SF/.lock" "${BASH_SOURCE[0]}" "$cmd" "$@"
		fi
		;;
	esac
	case $cmd in
	up) cmd_up "$@" ;;
	down) cmd_down ;;
	purge) cmd_purge ;;
	status) cmd_status ;;
	*) usage ;;
	esac
}

# Sourcing (for debugging single steps) runs nothing; exit on the same line
# so an edit of this file while it runs never executes anything after main.
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then main "$@"; exit; fi
