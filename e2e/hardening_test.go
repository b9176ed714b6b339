//go:build integration

package e2e

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/remote"
)

// Ports of the hardening tests (issue 8 §4, §8).
const (
	portRedeployRegistryDown = 18201
	portMixedNames           = 18202
	portDependsOn            = 18203
	portUncheckedCrash       = 18204
	portUnmarkedCurrent      = 18205
)

// Issue 8 §4: v2 is current and `hoist deploy --version v2` fails at the
// pull (the host cannot reach the registry): the host is exactly as it was
// — current v2, v2's container serving, v2 not marked failed — and hoist
// says nothing changed, never "Rolled back to v1". Before: current went
// back to v1 while v2's container kept running, v2 was marked failed, and
// the CLI said "Rolled back to v1". On the fault host: the registry is cut
// for the whole host.
func testRedeployOfCurrentWithRegistryDown(t *testing.T) {
	s := newFaultService(t, "redeploydown", portRedeployRegistryDown, faultHost)
	s.ownWorker("w")
	s.mustDeploy("v1", image("v1"))
	s.mustDeploy("v2", image("v2"))

	blockRegistry(t, faultHost)
	r := s.deploy("v2", image("v2"))
	r.want(t, 1)
	line := r.line(t, "❌ Deployment of version v2 failed")
	wantContains(t, "the failure line", line, "step pull")
	wantContains(t, "the output", r.stdout, "No host had been changed") // after compose's lines
	if strings.Contains(r.stdout+r.stderr, "Rolled back") {
		t.Fatalf("a failed redeploy that changed nothing claims a rollback:\n%s", r)
	}
	unblockRegistry(t, faultHost)
	s.wantState("v2", suite.env.Image("v2"), "v1", "v2")
	s.wantServes("v2")
	if out := ssh(t, faultHost, "cat "+remote.Quote(s.base+"/v2/.hoist-good")+" >/dev/null && echo good"); !strings.Contains(out, "good") {
		t.Fatalf("v2 lost its good mark on a failed redeploy")
	}
}

// blockRegistry rejects the host's connections to the test bed's
// registries, as a registry outage seen from that host would.
func blockRegistry(t *testing.T, n int) {
	t.Helper()
	t.Cleanup(func() { unblockRegistry(t, n) })
	netnsIptables(t, n, "-I", "OUTPUT", "-p", "tcp", "--dport", "5000:5001", "-j", "REJECT", "--reject-with", "tcp-reset")
}

func unblockRegistry(t *testing.T, n int) {
	for {
		if err := exec.Command("ip", "netns", "exec", fmt.Sprintf("hoist-h%d", n), "iptables", "-D", "OUTPUT", "-p", "tcp", "--dport", "5000:5001", "-j", "REJECT", "--reject-with", "tcp-reset").Run(); err != nil {
			return // no such rule left
		}
	}
}

func netnsIptables(t *testing.T, n int, args ...string) {
	t.Helper()
	out, err := exec.Command("ip", append([]string{"netns", "exec", fmt.Sprintf("hoist-h%d", n), "iptables"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("iptables %v in h%d: %v\n%s", args, n, err, out)
	}
}

// Issue 8 §8: releases are ordered by when hoist made them current, not
// by name. A timestamp version deployed after "v1" is the newer one, so
// `hoist rollback` on two hosts goes back to v1. Before: names ordered
// "v1" after the timestamp, and rollback refused ("no release older than
// ... nothing to roll back to").
func TestRollbackAcrossMixedVersionNames(t *testing.T) {
	t.Parallel()
	s := newService(t, "mixednames", portMixedNames, 1, 2)
	s.mustDeploy("v1", image("v1"))
	s.mustDeploy("20261201194044", image("v2"))

	st := s.hoist("status", "--config", s.hoistYML())
	st.want(t, 0)
	wantContains(t, "hoist status", st.stdout, "20261201194044 (good) *", "v1 (good)")

	r := s.hoist("rollback", "--config", s.hoistYML())
	r.want(t, 0)
	s.wantState("v1", suite.env.Image("v1"), "20261201194044", "v1")
	s.wantServes("v1")
}

// Issue 8 §8: with depends_on: condition: service_healthy, compose up
// itself fails ("dependency failed to start") when the dependency
// crashes. hoist reports what the containers say, rolls back, and keeps
// the crashed release's container logs on the host, saying where; the
// rollback's compose down no longer takes them away. Before: the cause
// was compose's line only, and the logs were gone with the containers.
func TestFailedUpWithHealthyDependencyKeepsLogs(t *testing.T) {
	t.Parallel()
	s := newService(t, "dependson", portDependsOn)
	s.mustDeploy("v1", image("v1"))

	writeComposeFile(t, s, fmt.Sprintf(`services:
  db:
    image: %[1]s
    environment: {VERSION: "db-v2", CRASH_AFTER: "0", PORT: "9090"}
    healthcheck:
      test: ["CMD", "/app", "-healthcheck"]
      interval: 1s
      timeout: 1s
      retries: 2
  web:
    image: %[1]s
    ports: ["%[2]d:8080"]
    environment: {VERSION: "v2"}
    depends_on:
      db: {condition: service_healthy}
`, suite.env.Image("v1"), s.port))
	r := s.hoist("deploy", "--config", s.hoistYML(), "--version", "v2")
	r.want(t, 1)
	line := r.line(t, "❌ Deployment of version v2 failed! Rolled back to v1.")
	wantContains(t, "the failure line", line, "step up: compose up failed; the containers: crashed: container", "(service db) exited with exit code 1")
	// After compose's own lines: where the logs are.
	wantContains(t, "the output", r.stdout, "dependency failed to start", "logs of the failed containers are kept on the host: h1: "+s.base+"/v2/.hoist-logs/")
	s.wantState("v1", suite.env.Image("v1"), "v1", "v2 (failed)")
	s.wantServes("v1")
	logs := ssh(t, 1, "cat "+remote.Quote(s.base)+"/v2/.hoist-logs/*.log")
	wantContains(t, "the kept logs", logs, "db-1", "CRASH_AFTER")
}

// Issue 8 §8: services: [web] decides success, but a second service of
// the release in a crash loop is reported, not passed over in silence.
// Before: "✅ Successfully deployed" with no word about it.
func TestUncheckedServiceCrashIsReported(t *testing.T) {
	t.Parallel()
	s := newService(t, "unchecked", portUncheckedCrash)
	s.extra = "services: [web]\n"
	writeComposeFile(t, s, fmt.Sprintf(`services:
  web:
    image: %[1]s
    ports: ["%[2]d:8080"]
    environment: {VERSION: "v1"}
  worker:
    image: %[1]s
    restart: always
    environment: {VERSION: "worker", CRASH_AFTER: "0", PORT: "9090"}
`, suite.env.Image("v1"), s.port))
	r := s.hoist("deploy", "--config", s.hoistYML(), "--version", "v1")
	r.want(t, 0)
	wantContains(t, "hoist deploy's output", r.stdout+r.stderr, "unchecked service (not in services:)", "(service worker)")
	s.wantServes("v1")
}

func writeComposeFile(t *testing.T, s *service, body string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(s.dir, "files", "compose.yaml"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Issue 8 §3: a Deploy started past the CLI — here by the Temporal CLI,
// as the Web UI's "Start Workflow" or a script would — is checked by the
// workflow itself: it fails non-retryable with the field named, and no
// activity runs, so no host is touched. Before: remote_base "/" with
// version "../tmp/x" ran (and wrote outside any base), an unknown kind
// ran as a deploy, and a base the command builders refuse panicked in
// the activities, which were retried while the workflow hung.
func TestHostileDeployStartedPastTheCLI(t *testing.T) {
	t.Parallel()
	bundle := "H4sIAAAAAAAA/wAAAP//AQAA//8AAAAAAAAAAA==" // any bytes: nothing may get as far as reading them
	spec := func(base string) string {
		return fmt.Sprintf(`{"service":"hostile","remote_base":%q,"compose_file":"compose.yaml","hosts":[{"address":%q,"user":%q}],`+
			`"wait":{"retries":1,"delay":1000000000},"health":{"unhealthy":"warn"},"keep_releases":3}`, base, suite.env.Host(1), suite.env.User)
	}
	cases := []struct{ name, input, field string }{
		{"root base, version climbing out", fmt.Sprintf(`{"spec":%s,"version":"../tmp/x","kind":"deploy","bundle":%q}`, spec("/"), bundle), "remote_base"},
		{"unknown kind", fmt.Sprintf(`{"spec":%s,"version":"v1","kind":"destroy","bundle":%q}`, spec("/srv/e2e/hostile"), bundle), "kind"},
		{"base the builders refuse", fmt.Sprintf(`{"spec":%s,"version":"v1","kind":"deploy","bundle":%q}`, spec("srv/relative"), bundle), "remote_base"},
	}
	for i, c := range cases {
		id := fmt.Sprintf("hostile-%d-%d", i, rand.Uint32())
		if _, err := temporal(t, "workflow", "start", "--type", "Deploy", "--task-queue", suite.queue, "--workflow-id", id, "--input", c.input); err != nil {
			t.Fatal(err)
		}
		h := workflowHistory(t, id)
		for deadline := time.Now().Add(time.Minute); !isClosed(h.closed()) && time.Now().Before(deadline); h = workflowHistory(t, id) {
			time.Sleep(200 * time.Millisecond)
		}
		if h.closed() != "WORKFLOW_EXECUTION_FAILED" || h.failureType() != "InvalidInput" {
			t.Fatalf("%s: closed %q with failure type %q, want a failed InvalidInput", c.name, h.closed(), h.failureType())
		}
		if acts := h.activities(); len(acts) != 0 {
			t.Fatalf("%s: activities ran: %v", c.name, acts)
		}
		if !strings.Contains(string(h.raw), c.field+": ") {
			t.Fatalf("%s: the failure does not name %s:\n%.2000s", c.name, c.field, h.raw)
		}
	}
	if out := ssh(t, 1, "ls -d /tmp/x /srv/e2e/hostile 2>/dev/null; true"); strings.TrimSpace(out) != "" {
		t.Fatalf("a hostile deploy touched h1: %s", out)
	}
}

func isClosed(last string) bool {
	switch strings.TrimPrefix(last, "WORKFLOW_EXECUTION_") {
	case "COMPLETED", "FAILED", "TIMED_OUT", "CANCELED", "TERMINATED", "CONTINUED_AS_NEW":
		return true
	}
	return false
}

// A host deployed by a hoist without release marks: its current release
// is checked before it is replaced and, healthy, rolled back to when the
// new release crashes; upgrading hoist does not cost the first rollback.
func TestUnmarkedCurrentIsCheckedAndRolledBackTo(t *testing.T) {
	t.Parallel()
	s := newService(t, "unmarked", portUnmarkedCurrent)
	s.mustDeploy("v1", image("v1"))
	ssh(t, 1, "rm -- "+remote.Quote(s.base+"/v1/.hoist-good"))
	r := s.deploy("v2", image("v2").crashing())
	r.want(t, 1)
	r.line(t, "❌ Deployment of version v2 failed! Rolled back to v1.")
	s.wantState("v1", suite.env.Image("v1"), "v1", "v2 (failed)")
	s.wantServes("v1")
	ssh(t, 1, "test -e "+remote.Quote(s.base+"/v1/.hoist-good"))
}
