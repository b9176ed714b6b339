# hoist — one entry point for building, the test bed, tests and the demo.
# `make test` is the one test command (README, .ci/run).

SHELL := /bin/bash
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X github.com/hoist-dev/hoist/cli.Version=$(VERSION)
TESTBED := scripts/testbed/testbed.sh
CLUSTER := scripts/testbed/cluster.sh
TOOLS := $(HOME)/.cache/hoist/tools
WORKFLOWCHECK_VERSION := v0.6.0
WORKFLOWCHECK := $(TOOLS)/workflowcheck-$(WORKFLOWCHECK_VERSION)/workflowcheck
# Integration tests talk to real sshd, dockerd, registry and Temporal.
INTEGRATION_TIMEOUT ?= 30m

.PHONY: all build test checks testbed unit fuzz integration lint fmt-check vet workflowcheck bench demo record-histories bench-fleet \
        testbed-up testbed-down testbed-status images clean cluster-up cluster-down cluster-status integration-cluster

all: build

build:
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/hoist ./cmd/hoist

# The whole suite: static checks, unit tests and fuzzing, then everything
# against the real components, which it installs and starts first. On a
# fresh machine the test bed builds Compose and the Temporal CLI for
# minutes, so it comes up beside the checks (their output is shown per
# target when it is done).
test:
	@echo "make test: checks and test bed side by side; each one's output shows when it ends (a first test bed builds tools for ~15 min; logs in /var/lib/hoist-testbed/logs)"
	$(MAKE) -j2 --output-sync=target checks testbed
	$(MAKE) integration

# The checks that need nothing running, one after another.
checks:
	$(MAKE) -j1 lint unit fuzz

testbed: testbed-up images cluster-up

unit:
	$(GO) test -count=1 ./...

# Bounded fuzzing from the committed corpora (testdata/fuzz); a failing
# input is written there. The budget is a count of inputs per target (about
# 10 s each here, FUZZSCALE multiplies it), not a duration: with -fuzztime
# as a duration, Go 1.26's fuzz coordinator can fail a run with a bare
# "context deadline exceeded" at the deadline when its workers are starved
# (golang/go#75804, fixed in Go 1.27), which happened in CI here. go fuzzes
# one target per invocation; FuzzQuote and FuzzRemovalPathsUnderBase run
# every input through /bin/sh and bash, hence their smaller counts.
FUZZSCALE ?= 1
fuzz1 = $(GO) test -run '^$$' -fuzz '^$(1)$$' -fuzztime $$(( $(3) * $(FUZZSCALE) ))x $(2)
fuzz:
	$(call fuzz1,FuzzParse,./config/,60000)
	$(call fuzz1,FuzzExtractBundle,./config/,5000)
	$(call fuzz1,FuzzQuote,./remote/,1000)
	$(call fuzz1,FuzzDecode,./codec/,40000)
	$(call fuzz1,FuzzRemovalPathsUnderBase,./commands/,1500)

# e2e goes last and alone: its fault cases stop Temporal and sshd, which
# other packages' integration tests (run in parallel by go test) also use.
integration: build
	$(GO) test -count=1 -tags integration -timeout $(INTEGRATION_TIMEOUT) $$($(GO) list ./... | grep -v /e2e$$)
	$(GO) test -count=1 -tags integration -timeout $(INTEGRATION_TIMEOUT) -skip '^TestCluster' ./e2e/
	$(MAKE) integration-cluster

# A subset of e2e again, against the test bed's Temporal cluster (two
# server processes on PostgreSQL): a deploy, a crash rollback, a 3-host
# rollout with approval, watch and attach after a killed CLI, and the
# cluster's own faults (TestCluster*: a server killed, PostgreSQL restarted).
CLUSTER_SUBSET := ^(TestFirstDeployThenUpgrade|TestCrashRollsBack|TestRolloutApproveThenReject|TestCLIKilledThenWatch|TestCluster.*)$$
integration-cluster: build cluster-up
	HOIST_E2E_TEMPORAL=cluster $(GO) test -count=1 -tags integration -timeout $(INTEGRATION_TIMEOUT) -run '$(CLUSTER_SUBSET)' ./e2e/

lint: fmt-check vet workflowcheck

# Workflows must stay deterministic: no time.Now, I/O, goroutines, map range.
workflowcheck: $(WORKFLOWCHECK)
	$(WORKFLOWCHECK) ./...

$(WORKFLOWCHECK):
	GOBIN=$(dir $@) $(GO) install go.temporal.io/sdk/contrib/tools/workflowcheck@$(WORKFLOWCHECK_VERSION)

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt: not formatted:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...
	$(GO) vet -tags integration ./...

demo:
	demo/demo.sh

# Re-record the histories workflows/replay_test.go replays (needs the test bed).
record-histories: testbed-up images build
	scripts/record-histories.sh

# Speed lives here, never in timed tests: SSH round trips (warm vs fresh
# connection), and on the demo app (10 runs each, about 10 min): deploy and
# crash-rollback times, upgrades under load with strategy recreate and
# zero-downtime (wall time, time to the new version serving, failed
# requests), the unhealthy verdict, and a crash after the switch; and
# hoist side by side with the users' own Ansible playbook (bench/playbook,
# ansible-core from Debian) on the playbook's scenario.
bench: testbed-up images build
	scripts/testbed/ansible.sh
	$(GO) test -count=1 -run '^$$' -bench . -benchtime 200x -tags integration ./sshexec/
	$(GO) test -count=1 -run '^$$' -bench '^Benchmark(Deploy|CrashRollback|Upgrade|UnhealthyVerdict|ZeroDowntimeCrash|PlaybookUpgrade)$$' -benchtime 10x -tags integration -timeout 60m ./e2e/

# Fleet speed (issue 9): three hosts against the users' own Ansible
# playbook (bench/playbook, ansible-core from Debian), 1, 6, 12 and 24 real
# hosts (the test bed grows to 24 for it, and back to its default after),
# then the simulated fleet of 200 (scripts/simfleet: orchestration only,
# never a test of deploys).
bench-fleet: images build
	scripts/testbed/ansible.sh
	HOIST_TESTBED_HOSTS=24 $(TESTBED) up
	rc=0; $(GO) test -count=1 -run '^$$' -bench '^BenchmarkThreeHosts$$' -benchtime 3x -tags integration -timeout 30m ./e2e/ && \
	  $(GO) test -count=1 -run '^$$' -bench '^BenchmarkFleet$$' -benchtime 3x -tags integration -timeout 30m ./e2e/ || rc=$$?; \
	  $(TESTBED) up; [ $$rc = 0 ] || exit $$rc
	scripts/simfleet/simfleet.sh up 200
	rc=0; $(GO) test -count=1 -run '^$$' -bench '^BenchmarkFleetSim$$' -benchtime 3x -tags integration -timeout 30m ./e2e/ || rc=$$?; \
	  scripts/simfleet/simfleet.sh down; exit $$rc

testbed-up:
	$(TESTBED) up

testbed-down:
	$(TESTBED) down

testbed-status:
	$(TESTBED) status

images: testbed-up
	scripts/testbed/images.sh

# The production-shaped Temporal (scripts/testbed/cluster.sh): PostgreSQL,
# two temporal-server processes, the Web UI; built from their modules.
cluster-up: testbed-up
	$(CLUSTER) up

cluster-down:
	$(CLUSTER) down

cluster-status:
	$(CLUSTER) status

clean:
	rm -rf bin
