//go:build integration

package e2e

import (
	"fmt"
	"strings"
	"testing"
)

// The activities of a deploy that succeeds on one host: files, images,
// then the switch, and the release marked good once it passed its check.
var goodDeploy = []string{"InspectHost", "SyncRelease", "PullImages", "SwitchCurrent", "StartRelease", "WaitRunning", "MarkGood", "PruneReleases"}

// A redeploy of the current release switches nothing.
var goodRedeploy = []string{"InspectHost", "SyncRelease", "PullImages", "StartRelease", "WaitRunning", "MarkGood", "PruneReleases"}

// A deploy that runs but is unhealthy, under health.unhealthy: warn: not
// marked good (so never rolled back to), not failed.
var warnedDeploy = []string{"InspectHost", "SyncRelease", "PullImages", "SwitchCurrent", "StartRelease", "WaitRunning", "PruneReleases"}

// The activities of a deploy that fails its running check and is rolled
// back on one host: the failed release is marked failed and its logs kept,
// it is stopped, current switched back, the previous release started and
// checked.
var rolledBackDeploy = []string{"InspectHost", "SyncRelease", "PullImages", "SwitchCurrent", "StartRelease", "WaitRunning",
	"MarkFailed", "SaveLogs", "StopRelease", "SwitchCurrent", "StartRelease", "WaitRunning"}

// The longest tests come first: parallel tests start roughly in the order
// they are declared, and a long one started last would stretch the run.

// Case 5: retention keeps the newest keep_releases by version order, and
// never current or the rollback target, also around failed releases.
func TestRetention(t *testing.T) {
	t.Parallel()
	s := newService(t, "retain", portRetention)
	s.extra = "keep_releases: 3\n"

	for i, v := range []string{"r9", "r10", "r11"} {
		s.mustDeploy(v, image([]string{"v1", "v2", "v3"}[i]))
	}
	s.wantState("r11", suite.env.Image("v3"), "r10", "r11", "r9")

	// Two failed deploys, both rolled back to r11: a failed deploy prunes
	// nothing, and its folder is kept, marked.
	for _, v := range []string{"r12", "r13"} {
		r := s.deploy(v, image("v2").crashing())
		r.want(t, 1)
		r.line(t, fmt.Sprintf("❌ Deployment of version %s failed! Rolled back to r11. ", v))
	}
	s.wantState("r11", suite.env.Image("v3"), "r10", "r11", "r12 (failed)", "r13 (failed)", "r9")
	s.wantServes("r11")

	// A good deploy prunes. keep_releases counts good releases, newest
	// first by when they were made current: r14, r11, r10. The failed r12
	// and r13 are newer than r10 and stay (their logs with them), but they
	// never push a good rollback target out; r9 goes.
	s.mustDeploy("r14", image("v2"))
	s.wantState("r14", suite.env.Image("v2"), "r10", "r11", "r12 (failed)", "r13 (failed)", "r14")
	s.wantServes("r14")
}

// Case 7: hoist rollback, to the default target and to a named one, and
// hoist status.
func TestManualRollbackAndStatus(t *testing.T) {
	t.Parallel()
	s := newService(t, "rollback", portManualRollback)
	s.mustDeploy("v1", image("v1"))
	r := s.deploy("v2", image("v2").crashing())
	r.want(t, 1)
	r.line(t, "❌ Deployment of version v2 failed! Rolled back to v1. ")
	s.mustDeploy("v3", image("v3"))
	s.wantState("v3", suite.env.Image("v3"), "v1", "v2 (failed)", "v3")

	// The default target: the newest release older than current that is
	// not marked failed: v1, not v2.
	r = s.hoist("rollback", "--config", s.hoistYML())
	r.want(t, 0, fmt.Sprintf("✅ Rolled back %s to version v1", s.name))
	r.line(t, fmt.Sprintf("Rolling back %s version v1 to 1 host(s) — ", s.name))
	s.wantState("v1", suite.env.Image("v1"), "v1", "v2 (failed)", "v3")
	s.wantServes("v1")
	s.deployHistory().wantActivities(t, "InspectHost", "PullImages", "SwitchCurrent", "StartRelease", "WaitRunning", "MarkGood", "PruneReleases")

	// Releases by when they were last made current: v1 just now, v3, and
	// v2, current for a moment before its rollback.
	r = s.hoist("status", "--config", s.hoistYML())
	r.want(t, 0, "h1  current: v1", "  releases: v1 (good) *, v3 (good), v2 (failed)")
	wantContains(t, "the container line", r.line(t, "  "+s.name+"-web-1 "), "running")

	// A named target, newer than current.
	r = s.hoist("rollback", "--config", s.hoistYML(), "--to", "v3")
	r.want(t, 0, fmt.Sprintf("✅ Rolled back %s to version v3", s.name))
	s.wantState("v3", suite.env.Image("v3"), "v1", "v2 (failed)", "v3")
	s.wantServes("v3")

	// A release that is not on the host: refused, and no host changed.
	r = s.hoist("rollback", "--config", s.hoistYML(), "--to", "v9")
	r.want(t, 1)
	line := r.line(t, "❌ Rollback to version v9 failed (host h1, step inspect): release v9 is not on host h1")
	if !strings.HasSuffix(line, ". No host had been changed.") {
		t.Fatalf("the failure line %q: want \"No host had been changed.\"", line)
	}
	s.wantState("v3", suite.env.Image("v3"), "v1", "v2 (failed)", "v3")

	r = s.hoist("status", "--config", s.hoistYML())
	r.want(t, 0, "h1  current: v3", "  releases: v3 (good) *, v1 (good), v2 (failed)")
}

// Case 6: deploying the current version again with the same files is a
// no-op on disk; a redeploy that crashes is rolled back to the release
// before it, never to itself.
func TestRedeployCurrentVersion(t *testing.T) {
	t.Parallel()
	s := newService(t, "redeploy", portRedeploy)
	s.mustDeploy("v1", image("v1"))
	first := s.state(1).containers

	s.mustDeploy("v1", image("v1"))
	s.wantState("v1", suite.env.Image("v1"), "v1")
	s.wantServes("v1")
	h := s.deployHistory()
	h.wantActivities(t, goodRedeploy...)
	if res := h.activityResults("SyncRelease"); len(res) != 1 || !strings.Contains(res[0], `"uploaded":false`) {
		t.Fatalf("SyncRelease results %q: want one, with nothing uploaded (the release is already there)", res)
	}
	if again := s.state(1).containers; len(first) != 1 || len(again) != 1 || again[0].Names != first[0].Names || again[0].State != "running" {
		t.Fatalf("containers before %+v, after %+v: want the same one, running", first, again)
	}

	// v2 reads an optional env file kept on the host, outside the release:
	// absent, v2 runs; once it says CRASH_AFTER=0, the same files crash.
	hostEnv := s.base + ".env"
	t.Cleanup(func() { sshRun(1, "rm -f "+hostEnv) })
	v2 := image("v2")
	v2.envFile = hostEnv
	s.mustDeploy("v2", v2)
	s.wantState("v2", suite.env.Image("v2"), "v1", "v2")

	ssh(t, 1, "echo CRASH_AFTER=0 > "+hostEnv)
	r := s.deploy("v2", v2)
	r.want(t, 1)
	line := r.line(t, "❌ Deployment of version v2 failed! Rolled back to v1. Cause: host h1, step wait running: ")
	wantContains(t, "the failure line", line, "exit code 1")
	s.wantState("v1", suite.env.Image("v1"), "v1", "v2 (failed)")
	s.wantServes("v1")
	h = s.deployHistory()
	h.wantActivities(t, "InspectHost", "SyncRelease", "PullImages", "StartRelease", "WaitRunning",
		"MarkFailed", "SaveLogs", "StopRelease", "SwitchCurrent", "StartRelease", "WaitRunning")
	if res := h.activityResults("SyncRelease"); len(res) != 1 || !strings.Contains(res[0], `"uploaded":false`) {
		t.Fatalf("SyncRelease results %q: the redeploy should have found its files already there", res)
	}
}

// Case 4 with health.unhealthy: rollback.
func TestUnhealthyRollsBackWhenConfigured(t *testing.T) {
	t.Parallel()
	s := newService(t, "unhealthyrb", portUnhealthyRevert)
	s.extra = "health: {unhealthy: rollback}\n"
	r := deployUnhealthyAfterHealthy(s)
	r.want(t, 1)
	line := r.line(t, "❌ Deployment of version v2 failed! Rolled back to v1. Cause: host h1, step wait running: ")
	wantContains(t, "the failure line", line, "unhealthy")
	if strings.Contains(r.stdout, "⚠️") {
		t.Fatalf("a rolled back deploy printed a warning\n%s", r)
	}
	s.wantState("v1", suite.env.Image("v1"), "v1", "v2 (failed)")
	s.wantServes("v1")
	s.deployHistory().wantActivities(t, rolledBackDeploy...)
}

// Case 2 under a restart policy: the crash loop is a crash, not "running".
func TestCrashLoopUnderRestartPolicyRollsBack(t *testing.T) {
	t.Parallel()
	a := image("v2").crashing()
	a.restart = "unless-stopped"
	testCrashRollsBack(t, newService(t, "crashloop", portCrashLoop), a, "crash loop")
}

// Case 4: an unhealthy release is a warning, not a failure, by default.
func TestUnhealthyWarns(t *testing.T) {
	t.Parallel()
	s := newService(t, "unhealthy", portUnhealthyWarn)
	r := deployUnhealthyAfterHealthy(s)
	r.want(t, 0)
	line := r.line(t, "⚠️ Warning: host h1: ")
	if !strings.HasSuffix(line, ". Monitor closely.") || !strings.Contains(line, "unhealthy") {
		t.Fatalf("warning line %q: want the unhealthy container and \"Monitor closely.\"", line)
	}
	if strings.Contains(r.stdout, "❌") || strings.Contains(r.stdout, "Rolled back") {
		t.Fatalf("an unhealthy release was treated as failed\n%s", r)
	}
	s.wantState("v2", suite.env.Image("v2"), "v1", "v2")
	s.wantServes("v2")
	s.deployHistory().wantActivities(t, warnedDeploy...)
	if cs := s.state(1).containers; len(cs) != 1 || cs[0].health() != "unhealthy" {
		t.Fatalf("containers %+v: want one, unhealthy", cs)
	}
}

// Case 1: a first deploy, then an upgrade.
func TestFirstDeployThenUpgrade(t *testing.T) {
	t.Parallel()
	s := newService(t, "first", portFirstDeploy)

	s.mustDeploy("v1", image("v1"))
	s.wantState("v1", suite.env.Image("v1"), "v1")
	s.wantServes("v1")
	h := s.deployHistory()
	h.wantActivities(t, goodDeploy...)
	if h.closed() != "WORKFLOW_EXECUTION_COMPLETED" {
		t.Fatalf("deploy workflow closed with %s", h.closed())
	}

	s.mustDeploy("v2", image("v2"))
	// The previous release stays, to roll back to.
	s.wantState("v2", suite.env.Image("v2"), "v1", "v2")
	s.wantServes("v2")
}

// Case 2: a release that crashes is rolled back to the one before.
func TestCrashRollsBack(t *testing.T) {
	t.Parallel()
	testCrashRollsBack(t, newService(t, "crash", portCrash), image("v2").crashing(), "exited with exit code 1")
}

func testCrashRollsBack(t *testing.T, s *service, bad app, cause string) {
	s.mustDeploy("v1", image("v1"))
	s.wantServes("v1")

	r := s.deploy("v2", bad)
	r.want(t, 1)
	line := r.line(t, "❌ Deployment of version v2 failed! Rolled back to v1. Cause: host h1, step wait running: ")
	wantContains(t, "the failure line", line, cause)
	if strings.Contains(r.stdout, "✅") {
		t.Fatalf("a failed deploy printed a success line\n%s", r)
	}
	s.wantState("v1", suite.env.Image("v1"), "v1", "v2 (failed)")
	s.wantServes("v1")

	h := s.deployHistory()
	h.wantActivities(t, rolledBackDeploy...)
	if h.closed() != "WORKFLOW_EXECUTION_FAILED" || h.failureType() != "DeployFailed" {
		t.Fatalf("deploy workflow closed with %s, failure type %q; want a DeployFailed failure", h.closed(), h.failureType())
	}
}

// Case 3: the first deploy crashes; there is nothing to roll back to.
func TestCrashOnFirstDeploy(t *testing.T) {
	t.Parallel()
	s := newService(t, "crashfirst", portCrashFirst)

	r := s.deploy("v1", image("v1").crashing())
	r.want(t, 3) // failed, and nothing serves: not safe
	line := r.line(t, "❌ Deployment of version v1 failed: host h1, step wait running: ")
	if !strings.HasSuffix(line, ". Nothing to roll back to: there was no previous release.") {
		t.Fatalf("the failure line does not say there is nothing to roll back to: %q", line)
	}
	wantContains(t, "the failure line", line, "exit code 1")
	if strings.Contains(r.stdout, "Rolled back") {
		t.Fatalf("a first deploy claims a rollback\n%s", r)
	}
	// The failed release stays where it is, marked, for a person to see.
	s.wantState("v1", "", "v1 (failed)")

	h := s.deployHistory()
	h.wantActivities(t, "InspectHost", "SyncRelease", "PullImages", "SwitchCurrent", "StartRelease", "WaitRunning", "MarkFailed", "HaltRelease")
	// The crashed container is stopped, not removed: its logs stay.
	if out := ssh(t, 1, "docker ps --all --filter label=com.docker.compose.project="+s.name+" --format '{{.State}}'"); strings.TrimSpace(out) != "exited" {
		t.Fatalf("the failed first release's container should be kept, stopped; docker ps says %q", out)
	}
	if h.failureType() != "DeployFailed" {
		t.Fatalf("deploy workflow closed with %s, failure type %q; want DeployFailed", h.closed(), h.failureType())
	}
}

// deployUnhealthyAfterHealthy deploys v1 with a passing healthcheck, then
// v2 whose healthcheck always fails, and returns what v2's deploy showed.
func deployUnhealthyAfterHealthy(s *service) result {
	s.t.Helper()
	good := image("v1")
	good.health = true
	s.mustDeploy("v1", good)
	bad := image("v2")
	bad.unhealthy = true
	return s.deploy("v2", bad)
}
