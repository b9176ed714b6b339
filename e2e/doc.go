// Package e2e is hoist's end-to-end suite: the real bin/hoist binary, run
// as a user runs it, against the local test bed (three SSH hosts with their
// own Docker engines, two registries and a Temporal dev server).
//
// Every test file carries the integration build tag:
//
//	make build && go test -tags integration ./e2e/
//
// The test bed must be up (make testbed-up, make images). The suite starts
// one `hoist worker` on a task queue of its own; every test deploys its own
// service (e2e-NAME-RANDOM under /srv/e2e) on its own published port, and
// removes it from the hosts when it ends. HOIST_E2E_KEEP=1 keeps a failed
// test's service on the hosts, and the worker logs, for a look.
package e2e
