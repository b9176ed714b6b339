#!/usr/bin/env bash
# images.sh — build the test images and push them to the test bed registries:
#   127.0.0.1:5000/testapp:v1 v2 v3   (plain registry; hosts pull 10.77.0.1:5000/testapp:vN)
#   127.0.0.1:5000/testapp:big        (v2 plus 3 MB of random ballast: a pull that
#                                      takes seconds on a rate-limited link)
#   127.0.0.1:5000/testapp:big50      (v2 plus 50 MiB of random ballast: the fleet
#                                      issue's scenario, for make bench-fleet)
#   127.0.0.1:5001/testapp:v1         (htpasswd registry; hosts pull 10.77.0.1:5001/testapp:v1)
#   127.0.0.1:5000/caddy:2.11.9       (the proxy of strategy zero-downtime; hosts pull
#                                      10.77.0.1:5000/caddy:2.11.9)
# Each testapp image is FROM scratch with the static Go binary from testapp/ at
# /app; only the baked-in version differs. The caddy image is FROM scratch with
# Caddy built from its Go module (cached under ~/.cache/hoist/tools, built once).
# Nothing is pulled from the internet but Go modules.
# Idempotent: a tag already in its registry is skipped (FORCE=1 rebuilds all).
# Needs the root dockerd and both registries up (testbed.sh up calls this).
set -euo pipefail

TB=${HOIST_TB_DIR:-/var/lib/hoist-testbed}
DOCKER=/usr/bin/docker
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PLAIN=127.0.0.1:5000
AUTH=127.0.0.1:5001
AUTH_USER=hoist
PASSWORD_FILE=$TB/registry-auth/password
export PATH=/usr/local/go/bin:$PATH

log() { printf '[images %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# has_tag REGISTRY TAG [CURL-ARGS...]: the registry lists testapp:TAG.
has_tag() {
	local reg=$1 tag=$2
	shift 2
	has_repo_tag "$reg" testapp "$tag" "$@"
}

# has_repo_tag REGISTRY REPO TAG [CURL-ARGS...]: the registry lists REPO:TAG.
has_repo_tag() {
	local reg=$1 repo=$2 tag=$3
	shift 3
	[[ $(curl -sf -m 5 "$@" "http://$reg/v2/$repo/tags/list" 2>/dev/null) == *"\"$tag\""* ]]
}

# Caddy, the proxy in front of the two slots of strategy zero-downtime: the
# version hoist's default image (caddy:2.11.9) has, built from its module.
CADDY_VERSION=v2.11.9
CADDY_TAG=${CADDY_VERSION#v}
CADDY_DIR=${HOME:-/root}/.cache/hoist/tools/caddy-$CADDY_TAG
CADDY_BIN=$CADDY_DIR/caddy
# What goes into the image besides the binary; its digest is pushed as
# caddy:def-DIGEST, so a changed definition rebuilds the image (as SRC_TAG
# does for testapp).
CADDY_DOCKERFILE='FROM scratch
COPY rootfs/ /
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
ENV XDG_CONFIG_HOME=/config
ENV XDG_DATA_HOME=/data
LABEL org.opencontainers.image.version='$CADDY_VERSION'
LABEL org.opencontainers.image.title=Caddy
EXPOSE 80
EXPOSE 443
EXPOSE 443/udp
EXPOSE 2019
WORKDIR /srv
CMD ["caddy", "run", "--config", "/etc/caddy/Caddyfile", "--adapter", "caddyfile"]'

# build_caddy: build Caddy's static binary into $CADDY_BIN once, under a lock
# (two runs at once wait for one build; the second finds the binary). go install
# from outside any module, so the project's go.mod is not involved. The version
# is stamped in: Caddy reads its version from its module in the dependency list,
# and a Caddy built as the main module would say "unknown".
build_caddy() {
	(
		exec 9>>"$TB/build-caddy.lock"
		flock 9
		[[ -x $CADDY_BIN ]] && exit 0
		log "caddy: building $CADDY_VERSION from its Go module (~1-5 min, log $TB/logs/build-caddy.log)"
		local tmp
		mkdir -p "$CADDY_DIR"
		tmp=$(mktemp -d "$CADDY_DIR/.build.XXXXXX")
		(cd /tmp && GOBIN=$tmp CGO_ENABLED=0 GOFLAGS=-mod=mod go install -trimpath \
			-ldflags "-s -w -X github.com/caddyserver/caddy/v2.CustomVersion=$CADDY_VERSION" \
			"github.com/caddyserver/caddy/v2/cmd/caddy@$CADDY_VERSION") >>"$TB/logs/build-caddy.log" 2>&1 ||
			{ rm -rf "$tmp"; die "caddy build failed, see $TB/logs/build-caddy.log"; }
		mv -f "$tmp/caddy" "$CADDY_BIN"
		rm -rf "$tmp"
	)
	[[ $("$CADDY_BIN" version) == "$CADDY_VERSION"* ]] || die "$CADDY_BIN says $("$CADDY_BIN" version), want $CADDY_VERSION"
}

# build_caddy_image CTX: the image caddy:$CADDY_TAG (local tag only), laid out
# like the official one: the binary at /usr/bin/caddy, writable /config/caddy
# and /data/caddy (XDG_CONFIG_HOME, XDG_DATA_HOME: a scratch image has no HOME,
# and with these Caddy never needs one), /etc/caddy with a Caddyfile for the
# default command, /srv, /tmp, and the CA bundle (HTTPS upstreams, ACME).
build_caddy_image() {
	local ctx=$1 r=$1/rootfs
	mkdir -p "$r/usr/bin" "$r/config/caddy" "$r/data/caddy" "$r/etc/caddy" "$r/etc/ssl/certs" "$r/srv" "$r/tmp"
	chmod 1777 "$r/tmp"
	cp "$CADDY_BIN" "$r/usr/bin/caddy"
	cp /etc/ssl/certs/ca-certificates.crt "$r/etc/ssl/certs/ca-certificates.crt"
	printf ':80 {\n\trespond "caddy %s (hoist test bed)"\n}\n' "$CADDY_VERSION" >"$r/etc/caddy/Caddyfile"
	printf '%s\n' "$CADDY_DOCKERFILE" >"$ctx/Dockerfile"
	DOCKER_BUILDKIT=0 "$DOCKER" build -q -t "caddy:$CADDY_TAG" "$ctx" >/dev/null
}
CADDY_DEF_TAG=def-$({ printf '%s\n' "$CADDY_VERSION" "$CADDY_DOCKERFILE"; declare -f build_caddy_image; } | sha256sum | cut -c1-12)

[[ -r $PASSWORD_FILE ]] || die "$PASSWORD_FILE missing; run scripts/testbed/testbed.sh up"
PASSWORD=$(<"$PASSWORD_FILE")
FORCE=${FORCE:-0}
CADDY_FORCE=$FORCE # a changed testapp/ does not rebuild the caddy image
# The images carry testapp's binary: a changed testapp/ rebuilds them all.
# The plain registry holds testapp:src-DIGEST of the source they were built
# from; a registry without the current one is stale.
SRC_TAG=src-$(cat "$REPO_ROOT"/scripts/testbed/testapp/*.go | sha256sum | cut -c1-12)
if [[ $FORCE != 1 ]] && ! has_tag "$PLAIN" "$SRC_TAG"; then
	has_tag "$PLAIN" v1 && log "testapp changed since the images were built ($SRC_TAG missing): rebuilding them"
	FORCE=1
fi

# What is missing?
todo_plain=()
for v in v1 v2 v3 big big50; do
	[[ $FORCE == 1 ]] || ! has_tag "$PLAIN" "$v" || continue
	todo_plain+=("$v")
done
todo_auth=()
if [[ $FORCE == 1 ]] || ! has_tag "$AUTH" v1 -u "$AUTH_USER:$PASSWORD"; then todo_auth=(v1); fi
todo_caddy=0
if [[ $CADDY_FORCE == 1 ]] || ! has_repo_tag "$PLAIN" caddy "$CADDY_TAG" || ! has_repo_tag "$PLAIN" caddy "$CADDY_DEF_TAG"; then
	todo_caddy=1
fi
if ((${#todo_plain[@]} + ${#todo_auth[@]} + todo_caddy == 0)); then
	exit 0
fi

work=$(mktemp -d)
# Throw-away client config: the auth login never touches root's ~/.docker.
export DOCKER_CONFIG=$work/docker-config
mkdir -p "$DOCKER_CONFIG"
trap 'DOCKER_CONFIG=$work/docker-config "$DOCKER" logout "$AUTH" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

# build VERSION: build the image testapp:VERSION (local tag only).
build() {
	local v=$1 ctx=$work/ctx-$1
	mkdir -p "$ctx"
	(cd "$REPO_ROOT" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=$v" \
		-o "$ctx/app" ./scripts/testbed/testapp)
	# Incompressible, so the layer really is that big on the wire.
	case $v in
	big) head -c 3000000 /dev/urandom >"$ctx/ballast" ;;
	big50) head -c $((50 << 20)) /dev/urandom >"$ctx/ballast" ;;
	*) : >"$ctx/ballast" ;;
	esac
	cat >"$ctx/Dockerfile" <<'EOF'
FROM scratch
COPY app /app
COPY ballast /ballast
ENV PORT=8080
EXPOSE 8080
ENTRYPOINT ["/app"]
EOF
	# Classic builder: FROM scratch needs no network and no BuildKit frontend image.
	DOCKER_BUILDKIT=0 "$DOCKER" build -q --label "org.hoist.testbed.version=$v" -t "testapp:$v" "$ctx" >/dev/null
}

declare -A built=()
for v in ${todo_plain[@]+"${todo_plain[@]}"} ${todo_auth[@]+"${todo_auth[@]}"}; do
	[[ -n ${built[$v]:-} ]] && continue
	log "building testapp:$v"
	build "$v"
	built[$v]=1
done

for v in ${todo_plain[@]+"${todo_plain[@]}"}; do
	log "pushing $PLAIN/testapp:$v"
	"$DOCKER" tag "testapp:$v" "$PLAIN/testapp:$v"
	"$DOCKER" push -q "$PLAIN/testapp:$v" >/dev/null
done

if ((${#todo_auth[@]})); then
	printf '%s' "$PASSWORD" | "$DOCKER" login -u "$AUTH_USER" --password-stdin "$AUTH" >/dev/null 2>"$work/login.err" ||
		die "login to $AUTH failed: $(<"$work/login.err")"
	for v in "${todo_auth[@]}"; do
		log "pushing $AUTH/testapp:$v"
		"$DOCKER" tag "testapp:$v" "$AUTH/testapp:$v"
		"$DOCKER" push -q "$AUTH/testapp:$v" >/dev/null
	done
	"$DOCKER" logout "$AUTH" >/dev/null
fi

if ((${#todo_plain[@]} + ${#todo_auth[@]})); then
	"$DOCKER" tag "testapp:v1" "$PLAIN/testapp:$SRC_TAG"
	"$DOCKER" push -q "$PLAIN/testapp:$SRC_TAG" >/dev/null
fi

if ((todo_caddy)); then
	build_caddy
	log "building caddy:$CADDY_TAG"
	build_caddy_image "$work/ctx-caddy"
	for t in "$CADDY_TAG" "$CADDY_DEF_TAG"; do
		log "pushing $PLAIN/caddy:$t"
		"$DOCKER" tag "caddy:$CADDY_TAG" "$PLAIN/caddy:$t"
		"$DOCKER" push -q "$PLAIN/caddy:$t" >/dev/null
	done
fi

for v in v1 v2 v3 big big50 "$SRC_TAG"; do has_tag "$PLAIN" "$v" || die "$PLAIN/testapp:$v missing after push"; done
has_tag "$AUTH" v1 -u "$AUTH_USER:$PASSWORD" || die "$AUTH/testapp:v1 missing after push"
for t in "$CADDY_TAG" "$CADDY_DEF_TAG"; do has_repo_tag "$PLAIN" caddy "$t" || die "$PLAIN/caddy:$t missing after push"; done
log "images ok"
