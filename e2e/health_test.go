//go:build integration

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The health gate (issue 11 §1) on the test bed: hoist runs the
// container's own healthcheck itself at its poll rate, so a release is
// verified healthy before Docker's first check would have run, and an
// unhealthy one is called unhealthy after unhealthy_runs checks, not at
// the end of the window; http checks go through the SSH connection; the
// previous release after a rollback passes the same gate.

const (
	portHealthBeforeDocker = 18330
	portHealthUnhealthy    = 18331
	portHealthHTTP         = 18332
)

// gated is a release's web service with a healthcheck of Docker's slow
// default interval: Docker runs it first 30 s after the start, longer than
// any deploy below takes.
type gated struct {
	tag       string // image tag
	unhealthy bool   // UNHEALTHY=1: /healthz answers 500, `/app -healthcheck` exits 1
	check     bool   // the compose healthcheck (exec form: the image has no shell)
}

// composeGated writes files/compose.yaml for version.
func (s *service) composeGated(version string, g gated) {
	s.t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "services:\n  web:\n    image: %s\n    ports:\n      - \"%d:8080\"\n    environment:\n      VERSION: %q\n",
		suite.env.Image(g.tag), s.port, version)
	if g.unhealthy {
		b.WriteString("      UNHEALTHY: \"1\"\n")
	}
	if g.check {
		b.WriteString("    healthcheck:\n      test: [\"CMD\", \"/app\", \"-healthcheck\"]\n" +
			"      interval: 30s\n      timeout: 2s\n      retries: 3\n      start_period: 0s\n")
	}
	if err := os.WriteFile(filepath.Join(s.dir, "files", "compose.yaml"), []byte(b.String()), 0o644); err != nil {
		s.t.Fatal(err)
	}
}

func (s *service) deployGated(version string, g gated) result {
	s.t.Helper()
	s.composeGated(version, g)
	return s.hoist("deploy", "--config", s.hoistYML(), "--version", version)
}

// waitResult is what the history holds of one WaitRunning.
type waitResult struct {
	Verdict, Detail string
	Polls, Checks   int
}

// waits are the deploy's WaitRunning results, in order.
func (s *service) waits() []waitResult {
	s.t.Helper()
	var out []waitResult
	for _, r := range s.deployHistory().activityResults("WaitRunning") {
		var w waitResult
		if err := json.Unmarshal([]byte(r), &w); err != nil {
			s.t.Fatalf("WaitRunning result %q: %v", r, err)
		}
		out = append(out, w)
	}
	return out
}

// dockerHealth is Docker's own health record of the service's one
// container on host n: {Status, FailingStreak, Log}.
func (s *service) dockerHealth(n int) (status string, checksRun int) {
	s.t.Helper()
	out := ssh(s.t, n, fmt.Sprintf("docker inspect --format '{{json .State.Health}}' $(docker ps --quiet --filter label=com.docker.compose.project=%s)", s.name))
	var h struct {
		Status string
		Log    []json.RawMessage
	}
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &h); err != nil {
		s.t.Fatalf("h%d: docker's health record %q: %v", n, out, err)
	}
	return h.Status, len(h.Log)
}

// A release whose healthcheck runs every 30 s is verified healthy by
// hoist's own runs of it while Docker's record still says "starting",
// with no check of Docker's own run yet: the deploy did not wait for
// Docker's interval.
func TestHealthGateBeforeDockersFirstCheck(t *testing.T) {
	t.Parallel()
	s := newService(t, "gatefast", portHealthBeforeDocker)
	s.wait = "{retries: 30, delay: 1s}"
	for _, v := range []string{"v1", "v2"} {
		r := s.deployGated(v, gated{tag: v, check: true})
		r.want(t, 0, s.deployedLine(v))
		status, ran := s.dockerHealth(1)
		if status != "starting" || ran != 0 {
			t.Fatalf("%s: docker's health record says %q after %d checks of its own; want starting, none run: the deploy waited for Docker", v, status, ran)
		}
		w := s.waits()
		if len(w) != 1 || w[0].Verdict != "healthy" || w[0].Checks < 2 {
			t.Fatalf("%s: WaitRunning results %+v: want healthy after hoist's own checks (healthy_runs 2)", v, w)
		}
		s.wantServes(v)
		t.Logf("BENCH health gate: deploy of %s verified healthy in %s (hoist %s), %d polls, %d checks; Docker's record: %s, %d checks",
			v, r.took.Round(1e6), v, w[0].Polls, w[0].Checks, status, ran)
	}
}

// A release that fails its healthcheck (retries 3, interval 30 s) is
// unhealthy after its 3rd failed run, rolled back under
// health.unhealthy: rollback — the 30 s window is not waited out: the
// wait took a handful of polls. The previous release is then verified by
// the same gate (hoist's checks, not Docker's status: Docker has not
// checked it yet either).
func TestHealthGateUnhealthyVerdict(t *testing.T) {
	t.Parallel()
	s := newService(t, "gatebad", portHealthUnhealthy)
	s.wait = "{retries: 30, delay: 1s}"
	s.extra = "health: {unhealthy: rollback}\n"
	s.deployGated("v1", gated{tag: "v1", check: true}).want(t, 0, s.deployedLine("v1"))

	r := s.deployGated("v2", gated{tag: "v2", check: true, unhealthy: true})
	r.want(t, 1)
	line := r.line(t, "❌ Deployment of version v2 failed! Rolled back to v1. Cause: host h1, step wait running: ")
	wantContains(t, "the failure line", line,
		"container "+s.name+"-web-1 (service web) is unhealthy: 3 consecutive runs of its healthcheck failed (3 make it unhealthy: its healthcheck's retries",
		"the last check said: exit 1 healthcheck: status 500", "(health.unhealthy: rollback)")
	s.wantState("v1", suite.env.Image("v1"), "v1", "v2 (failed)")
	s.wantServes("v1")

	w := s.waits()
	if len(w) != 2 {
		t.Fatalf("WaitRunning results %+v: want v2's wait and the rollback's verify of v1", w)
	}
	// 3 checks, one more look, and at most a few polls before the
	// container ran: the verdict came from the checks, not the window
	// (30 polls of 250 ms would not even cover a third of it).
	if bad := w[0]; bad.Verdict != "unhealthy" || bad.Checks != 3 || bad.Polls > 8 {
		t.Fatalf("v2's wait %+v: want unhealthy after exactly 3 checks, in a few polls", bad)
	}
	if prev := w[1]; prev.Verdict != "healthy" || prev.Checks < 2 {
		t.Fatalf("the rollback's verify of v1 %+v: want healthy by hoist's own checks", prev)
	}
	if status, ran := s.dockerHealth(1); status != "starting" || ran != 0 {
		t.Fatalf("v1 after the rollback: docker's record says %q after %d checks; want starting, none run", status, ran)
	}
	t.Logf("BENCH health gate: unhealthy v2 rolled back to a verified v1 in %s (hoist); v2's wait: %d polls, %d checks; v1's verify: %d polls, %d checks",
		r.took.Round(1e6), w[0].Polls, w[0].Checks, w[1].Polls, w[1].Checks)
}

// health.check http: GET /healthz on the container's port, through the
// SSH connection (no healthcheck in the compose file or the image, no
// curl anywhere); a healthy v2 passes, an UNHEALTHY=1 v3 (500) is rolled
// back after 3 failed checks (the default without a healthcheck), and v2
// is verified again by the same http checks.
func TestHealthGateHTTP(t *testing.T) {
	t.Parallel()
	s := newService(t, "gatehttp", portHealthHTTP)
	s.wait = "{retries: 30, delay: 1s}"
	s.extra = "health: {check: {http: {path: /healthz, port: 8080}}, unhealthy: rollback}\n"
	s.deployGated("v1", gated{tag: "v1"}).want(t, 0, s.deployedLine("v1"))
	s.deployGated("v2", gated{tag: "v2"}).want(t, 0, s.deployedLine("v2"))
	if w := s.waits(); len(w) != 1 || w[0].Verdict != "healthy" || w[0].Checks < 2 {
		t.Fatalf("v2's WaitRunning %+v: want healthy after http checks", w)
	}
	s.wantServes("v2")

	r := s.deployGated("v3", gated{tag: "v3", unhealthy: true})
	r.want(t, 1)
	line := r.line(t, "❌ Deployment of version v3 failed! Rolled back to v2. Cause: host h1, step wait running: ")
	wantContains(t, "the failure line", line,
		"is unhealthy: 3 consecutive http checks failed (3 make it unhealthy: the default without a healthcheck",
		":8080/healthz answered 500, want 200 unhealthy")
	s.wantState("v2", suite.env.Image("v2"), "v1", "v2", "v3 (failed)")
	s.wantServes("v2")
	w := s.waits()
	if len(w) != 2 || w[0].Verdict != "unhealthy" || w[0].Checks != 3 || w[1].Verdict != "healthy" || w[1].Checks < 2 {
		t.Fatalf("WaitRunning results %+v: want v3 unhealthy after 3 http checks, then v2 verified by them", w)
	}
	t.Logf("BENCH health gate (http): unhealthy v3 rolled back to a verified v2 in %s; v3's wait: %d polls, %d checks", r.took.Round(1e6), w[0].Polls, w[0].Checks)
}
