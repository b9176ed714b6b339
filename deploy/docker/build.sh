#!/usr/bin/env bash
# Builds the hoist worker image FROM scratch (deploy/docker/Dockerfile).
#
#   deploy/docker/build.sh context DIR   # only the build context, in DIR
#   deploy/docker/build.sh image [TAG]   # the context, then docker build (default tag hoist-worker:VERSION)
#
# The binary is static (CGO_ENABLED=0: os/user and the resolver in pure
# Go), so the image needs no libc. CA certificates come from the build
# machine (Debian: ca-certificates); zone data is compiled in (time/tzdata).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
version=${VERSION:-$(git -C "$root" describe --tags --always --dirty 2>/dev/null || echo dev)}
certs=${CA_CERTIFICATES:-/etc/ssl/certs/ca-certificates.crt}

context() {
	local dir=$1
	if [ ! -s "$certs" ]; then
		echo "build.sh: no CA certificates at $certs: apt-get install ca-certificates (or set CA_CERTIFICATES)" >&2
		exit 1
	fi
	mkdir -p "$dir/rootfs/usr/local/bin" "$dir/rootfs/etc/ssl/certs" "$dir/rootfs/tmp" "$dir/home/.ssh"
	(cd "$root" && CGO_ENABLED=0 GOOS=linux go build -trimpath \
		-ldflags "-s -w -X github.com/hoist-dev/hoist/cli.Version=$version" \
		-o "$dir/rootfs/usr/local/bin/hoist" ./cmd/hoist)
	cp "$certs" "$dir/rootfs/etc/ssl/certs/ca-certificates.crt"
	printf 'root:x:0:0:root:/:/nonexistent\nhoist:x:65532:65532:hoist worker:/var/lib/hoist:/nonexistent\n' >"$dir/rootfs/etc/passwd"
	printf 'root:x:0:\nhoist:x:65532:\n' >"$dir/rootfs/etc/group"
	chmod 1777 "$dir/rootfs/tmp" # the worker unpacks release bundles under it
	chmod 700 "$dir/home/.ssh"
	cp "$root/deploy/docker/Dockerfile" "$dir/Dockerfile"
}

case "${1:-}" in
context)
	[ $# -eq 2 ] || { echo "usage: $0 context DIR" >&2; exit 2; }
	context "$2"
	;;
image)
	tag=${2:-hoist-worker:$version}
	dir=$(mktemp -d)
	trap 'rm -rf "$dir"' EXIT
	context "$dir"
	docker build --tag "$tag" "$dir"
	echo "built $tag"
	;;
*)
	echo "usage: $0 context DIR | image [TAG]" >&2
	exit 2
	;;
esac
