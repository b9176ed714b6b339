#!/usr/bin/env bash
# images.sh — build the test images and push them to the test bed registries:
#   127.0.0.1:5000/testapp:v1 v2 v3   (plain registry; hosts pull 10.77.0.1:5000/testapp:vN)
#   127.0.0.1:5000/testapp:big        (v2 plus 3 MB of random ballast: a pull that
#                                      takes seconds on a rate-limited link)
#   127.0.0.1:5001/testapp:v1         (htpasswd registry; hosts pull 10.77.0.1:5001/testapp:v1)
# Each image is FROM scratch with the static Go binary from testapp/ at /app;
# only the baked-in version differs. Nothing is pulled from the internet.
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
	[[ $(curl -sf -m 5 "$@" "http://$reg/v2/testapp/tags/list" 2>/dev/null) == *"\"$tag\""* ]]
}

[[ -r $PASSWORD_FILE ]] || die "$PASSWORD_FILE missing; run scripts/testbed/testbed.sh up"
PASSWORD=$(<"$PASSWORD_FILE")
FORCE=${FORCE:-0}
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
for v in v1 v2 v3 big; do
	[[ $FORCE == 1 ]] || ! has_tag "$PLAIN" "$v" || continue
	todo_plain+=("$v")
done
todo_auth=()
if [[ $FORCE == 1 ]] || ! has_tag "$AUTH" v1 -u "$AUTH_USER:$PASSWORD"; then todo_auth=(v1); fi
if ((${#todo_plain[@]} + ${#todo_auth[@]} == 0)); then
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
	# Incompressible, so the layer really is 3 MB on the wire.
	head -c 3000000 /dev/urandom >"$ctx/ballast"
	[[ $v == big ]] || : >"$ctx/ballast"
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

"$DOCKER" tag "testapp:v1" "$PLAIN/testapp:$SRC_TAG"
"$DOCKER" push -q "$PLAIN/testapp:$SRC_TAG" >/dev/null
for v in v1 v2 v3 big "$SRC_TAG"; do has_tag "$PLAIN" "$v" || die "$PLAIN/testapp:$v missing after push"; done
has_tag "$AUTH" v1 -u "$AUTH_USER:$PASSWORD" || die "$AUTH/testapp:v1 missing after push"
log "images ok"
