#!/usr/bin/env bash
# ansible.sh — install Ansible (ansible-core from Debian) for make bench and
# make bench-fleet: BenchmarkPlaybookUpgrade and BenchmarkThreeHosts
# run the users' own playbook (bench/playbook/deploy.yml) on the test bed to
# compare wall times with hoist's. Tests never use it. Idempotent; as root.
set -euo pipefail
# testbed.sh's helpers (log, die, ensure_apt); sourcing it runs nothing.
# shellcheck source=testbed.sh
source "$(dirname "${BASH_SOURCE[0]}")/testbed.sh"

# jq: the playbook's running check reads compose ps through it.
APT_PACKAGES=(ansible-core jq)
mkdir -p "$LOGS"
ensure_apt
command -v ansible-playbook >/dev/null || die "ansible-playbook not found after installing ${APT_PACKAGES[*]}"
log "ansible: $(ansible-playbook --version | head -1)"
