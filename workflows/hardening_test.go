package workflows

import (
	"errors"
	"strings"
	"testing"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/hoist-dev/hoist/activities"
	"github.com/hoist-dev/hoist/config"
)

// Issue 8 §3: a Deploy started past the CLI (Temporal CLI, Web UI, a
// script) is checked by the workflow itself before any host is touched.
func TestHostileInputFailsBeforeAnyHost(t *testing.T) {
	outside := spec("h1")
	outside.RemoteBase = "/"
	badKind := spec("h1")
	cases := []struct {
		name  string
		in    DeployInput
		field string
	}{
		{"remote_base / and a version climbing out", DeployInput{Spec: outside, Version: "../tmp/x", Bundle: []byte("b")}, "remote_base"},
		{"version climbing out", DeployInput{Spec: spec("h1"), Version: "../tmp/x", Bundle: []byte("b")}, "version"},
		{"unknown kind", DeployInput{Spec: badKind, Version: "v2", Kind: "destroy", Bundle: []byte("b")}, "kind"},
		{"no hosts", DeployInput{Spec: spec(), Version: "v2", Bundle: []byte("b")}, "hosts"},
		{"deploy without bundle", DeployInput{Spec: spec("h1"), Version: "v2"}, "bundle"},
		{"option as a service name", func() DeployInput {
			s := spec("h1")
			s.Services = []string{"--all"}
			return DeployInput{Spec: s, Version: "v2", Bundle: []byte("b")}
		}(), "services[0]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFleet("h1")
			f.seed("h1", "v1", "v1")
			r := deployWith(t, f, tc.in)
			var app *temporal.ApplicationError
			if !errors.As(r.err, &app) || app.Type() != activities.ErrInvalid || !app.NonRetryable() {
				t.Fatalf("want a non-retryable %s error, got %v", activities.ErrInvalid, r.err)
			}
			if !strings.Contains(app.Message(), tc.field) {
				t.Fatalf("message %q does not name the field %s", app.Message(), tc.field)
			}
			if len(f.calls) != 0 {
				t.Fatalf("a host was touched: %v", f.calls)
			}
		})
	}
}

// Issue 8 §4: log in and pull before the switch; a failed pull changes
// nothing on the host and says so.
func TestPullFailureChangesNothing(t *testing.T) {
	f := newFleet("h1")
	f.seed("h1", "v1", "v1")
	f.failOn["h1/PullImages/v2"] = temporal.NewNonRetryableApplicationError("manifest unknown", activities.ErrCommand, nil)
	r := deployWith(t, f, DeployInput{Spec: spec("h1"), Version: "v2", Bundle: []byte("b")})
	msg, d := failureOf(t, r.err)
	assertCalls(t, f, "h1", "SyncRelease v2", "PullImages v2")
	h := f.hosts["h1"]
	if h.current != "v1" || h.running != "v1" || h.releases["v2"] || d.RolledBackTo != "" || !strings.Contains(msg, "No host had been changed") {
		t.Fatalf("message %q details %+v host %+v", msg, d, h)
	}
}

// Issue 8 §4: v2 is current and a redeploy of v2 fails at the pull: the
// host is left exactly as it was — current v2, v2 running, v2 not marked
// failed, and no claim of a rollback to v1.
func TestFailedRedeployOfCurrentLeavesHostAsItWas(t *testing.T) {
	f := newFleet("h1")
	f.seed("h1", "v2", "v1", "v2")
	f.failOn["h1/PullImages/v2"] = temporal.NewNonRetryableApplicationError("registry down", activities.ErrCommand, nil)
	r := deployWith(t, f, DeployInput{Spec: spec("h1"), Version: "v2", Bundle: []byte("b")})
	msg, d := failureOf(t, r.err)
	h := f.hosts["h1"]
	if h.current != "v2" || h.running != "v2" || h.releases["v2"] || !h.good["v2"] {
		t.Fatalf("host changed by a failed redeploy: %+v (calls %v)", h, calls(f, "h1"))
	}
	if d.RolledBackTo != "" || strings.Contains(msg, "Rolled back") {
		t.Fatalf("claims a rollback that did not happen: %q %+v", msg, d)
	}
}

// Issue 8 §4: only a release that passed its check is rolled back to;
// current is not a target just because nothing marked it failed.
func TestRollbackChoosesOnlyKnownGood(t *testing.T) {
	f := newFleet("h1")
	f.seed("h1", "v2", "v1", "v2")
	delete(f.hosts["h1"].good, "v2") // v2 never passed a check here,
	f.verdict["h1/v2"] = "unhealthy" // and is not healthy when the deploy looks
	f.verdict["h1/v3"] = "crashed"
	r := deployWith(t, f, DeployInput{Spec: spec("h1"), Version: "v3", Bundle: []byte("b")})
	_, d := failureOf(t, r.err)
	if d.RolledBackTo != "v1" || f.hosts["h1"].current != "v1" {
		t.Fatalf("rolled back to %q, want the known-good v1 (host %+v)", d.RolledBackTo, f.hosts["h1"])
	}
}

// Issue 8 §4: a release that passes its running check is marked good.
func TestPassedCheckMarksReleaseGood(t *testing.T) {
	f := newFleet("h1")
	f.seed("h1", "v1", "v1")
	r := deployWith(t, f, DeployInput{Spec: spec("h1"), Version: "v2", Bundle: []byte("b")})
	if r.err != nil {
		t.Fatal(r.err)
	}
	if !f.hosts["h1"].good["v2"] {
		t.Fatalf("v2 passed its check but is not marked good (calls %v)", calls(f, "h1"))
	}
}

// Issue 8 §4: the rollback checks the previous release by its own
// services, not by the new release's services: list.
func TestRollbackChecksPreviousByItsOwnServices(t *testing.T) {
	f := newFleet("h1")
	f.seed("h1", "v1", "v1")
	f.verdict["h1/v2"] = "crashed"
	s := spec("h1")
	s.Services = []string{"api", "newsvc"}
	r := deployWith(t, f, DeployInput{Spec: s, Version: "v2", Bundle: []byte("b")})
	_, d := failureOf(t, r.err)
	if d.RollbackFailed {
		t.Fatalf("details %+v", d)
	}
	var back *activities.WaitInput
	for i := range f.waits {
		if f.waits[i].Version == "v1" {
			back = &f.waits[i]
		}
	}
	if back == nil || !back.RecordedServices {
		t.Fatalf("rollback check of v1: %+v, want it by v1's recorded services", back)
	}
}

// Issue 8 §7: the step that found the crash shows as failed, with the
// verdict, before the rollback's steps.
func TestCrashShowsTheWaitStepFailed(t *testing.T) {
	f := newFleet("h1")
	f.seed("h1", "v1", "v1")
	f.verdict["h1/v2"] = "crashed"
	r := deployWith(t, f, DeployInput{Spec: spec("h1"), Version: "v2", Bundle: []byte("b")})
	p := progressOf(t, r.env)
	for _, e := range p.Events {
		if e.Step == "wait running" {
			if e.State != "failed" || !strings.Contains(e.Detail, "crashed") {
				t.Fatalf("wait running event %+v: want failed with the verdict", e)
			}
			return
		}
	}
	t.Fatal("no wait running event")
}

// Issue 8 §8: services: [api] decides success, but a crashing service
// outside it is a warning, never silence.
func TestUncheckedServiceCrashIsAWarning(t *testing.T) {
	f := newFleet("h1")
	f.seed("h1", "v1", "v1")
	f.unchecked["h1/v2"] = "unchecked service (not in services:) container web-worker-1 (service worker) restarted 3 time(s)"
	s := spec("h1")
	s.Services = []string{"api"}
	r := deployWith(t, f, DeployInput{Spec: s, Version: "v2", Bundle: []byte("b")})
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.res.Outcome != OutcomeWarning || len(r.res.Warnings) != 1 || !strings.Contains(r.res.Warnings[0], "web-worker-1") {
		t.Fatalf("result %+v: want a warning naming the worker", r.res)
	}
}

// Issue 8 §4: a cancelled deploy whose rollback failed says so in its
// details: nothing may report "rolled back" for it.
func TestCancelWithFailedRollbackSaysSo(t *testing.T) {
	f := newFleet("h1")
	f.seed("h1", "v1", "v1")
	f.verdict["h1/v1"] = "crashed"
	canceled := cancelDuringWait(t, f)
	var d FailureDetails
	if !canceled.HasDetails() || canceled.Details(&d) != nil || !d.RollbackFailed || len(d.Recovery) == 0 {
		t.Fatalf("cancel details %+v: want the failed rollback and its recovery", d)
	}
}

func progressOf(t *testing.T, env *testsuite.TestWorkflowEnvironment) Progress {
	t.Helper()
	v, err := env.QueryWorkflow(ProgressQuery)
	if err != nil {
		t.Fatal(err)
	}
	var p Progress
	if err := v.Get(&p); err != nil {
		t.Fatal(err)
	}
	return p
}

// Issue 8 §8: with depends_on: condition: service_healthy, compose up
// itself fails for a crash and an unhealthy dependency alike. The cause
// reported is what the containers say, and the health policy applies.
func TestFailedUpIsExplainedByTheContainers(t *testing.T) {
	upErr := temporal.NewNonRetryableApplicationError("dependency failed to start: container web-db-1 is unhealthy", activities.ErrCommand, nil)

	f := newFleet("h1")
	f.seed("h1", "v1", "v1")
	f.failOn["h1/StartRelease/v2"] = upErr
	f.verdict["h1/v2"] = "crashed"
	r := deployWith(t, f, DeployInput{Spec: spec("h1"), Version: "v2", Bundle: []byte("b")})
	msg, d := failureOf(t, r.err)
	if d.Step != "up" || !strings.Contains(msg, "containers are crashed") || d.RolledBackTo != "v1" || !f.hosts["h1"].releases["v2"] {
		t.Fatalf("crash behind a failed up: message %q details %+v host %+v", msg, d, f.hosts["h1"])
	}

	// Running but unhealthy, health.unhealthy: warn: a warning, as for
	// a release whose up succeeded.
	f = newFleet("h1")
	f.seed("h1", "v1", "v1")
	f.failOn["h1/StartRelease/v2"] = upErr
	f.verdict["h1/v2"] = "unhealthy"
	r = deployWith(t, f, DeployInput{Spec: spec("h1"), Version: "v2", Bundle: []byte("b")})
	if r.err != nil || r.res.Outcome != OutcomeWarning || f.hosts["h1"].current != "v2" {
		t.Fatalf("unhealthy under warn: err %v result %+v", r.err, r.res)
	}
}

// Issue 8 §3: the Status workflow checks its input too.
func TestStatusRefusesHostileInput(t *testing.T) {
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	s := spec("h1")
	s.RemoteBase = "/"
	env.ExecuteWorkflow(Status, StatusInput{Spec: s})
	var app *temporal.ApplicationError
	if err := env.GetWorkflowError(); !errors.As(err, &app) || app.Type() != activities.ErrInvalid || !strings.Contains(app.Message(), "remote_base") {
		t.Fatalf("want %s naming remote_base, got %v", activities.ErrInvalid, err)
	}
}

// Issue 8 §2: a registry the worker holds no credential for fails the
// deploy before any host is touched.
func TestRegistryWithoutWorkerCredentialTouchesNoHost(t *testing.T) {
	f := newFleet("h1")
	f.seed("h1", "v1", "v1")
	f.failOn["worker/CheckRegistry/evil.example:5000"] = temporal.NewNonRetryableApplicationError(
		"registry check: this worker holds no credential for evil.example:5000", activities.ErrRegistry, nil)
	s := spec("h1")
	s.Registry = config.Registry{Type: config.RegistryLogin, Server: "evil.example:5000"}
	r := deployWith(t, f, DeployInput{Spec: s, Version: "v2", Bundle: []byte("b")})
	msg, d := failureOf(t, r.err)
	if !strings.Contains(msg, "no credential for evil.example:5000") || !strings.Contains(msg, "No host had been changed") || !d.Setup {
		t.Fatalf("message %q details %+v: want a setup error, nothing touched", msg, d)
	}
	if got := calls(f, "h1"); len(got) != 0 || len(f.calls) != 1 {
		t.Fatalf("a host was touched: %v", f.calls)
	}
}

// Issue 8 §4: with no good release left, the failure says so, and the
// host is not switched to a release that never passed its check.
func TestNoGoodReleaseLeftIsSaid(t *testing.T) {
	f := newFleet("h1")
	f.seed("h1", "v1", "v1")
	delete(f.hosts["h1"].good, "v1") // v1 never passed a check here
	f.verdict["h1/v1"] = "crashed"   // and is down when the deploy looks
	f.verdict["h1/v2"] = "crashed"
	r := deployWith(t, f, DeployInput{Spec: spec("h1"), Version: "v2", Bundle: []byte("b")})
	msg, d := failureOf(t, r.err)
	if !d.NothingToRollBackTo || !d.NoGoodRelease || !strings.Contains(msg, "no earlier release passed its running check") {
		t.Fatalf("message %q details %+v", msg, d)
	}
	if got := strings.Join(calls(f, "h1"), ","); strings.Contains(got, "SwitchCurrent v1") {
		t.Fatalf("switched back to a release that never passed its check: %s", got)
	}
}

// Issue 8 §7: a first deploy that fails leaves nothing serving, even
// when it failed before changing the host: it is reported not safe.
func TestFirstDeployFailingAtPullIsNotSafe(t *testing.T) {
	f := newFleet("h1")
	f.failOn["h1/PullImages/v1"] = temporal.NewNonRetryableApplicationError("manifest unknown", activities.ErrCommand, nil)
	r := deployWith(t, f, DeployInput{Spec: spec("h1"), Version: "v1", Bundle: []byte("b")})
	msg, d := failureOf(t, r.err)
	if !d.NothingToRollBackTo || d.NoGoodRelease || !strings.Contains(msg, "there was no previous release") || f.hosts["h1"].current != "" {
		t.Fatalf("message %q details %+v host %+v", msg, d, f.hosts["h1"])
	}
}

// A current release nothing is known about (deployed by a hoist without
// release marks) is checked before it is replaced: healthy, it is marked
// good and rolled back to, so upgrading hoist does not cost a rollback.
func TestUnknownHealthyCurrentIsAdopted(t *testing.T) {
	f := newFleet("h1")
	f.seed("h1", "v1", "v1")
	delete(f.hosts["h1"].good, "v1")
	f.verdict["h1/v2"] = "crashed"
	r := deployWith(t, f, DeployInput{Spec: spec("h1"), Version: "v2", Bundle: []byte("b")})
	_, d := failureOf(t, r.err)
	if d.RolledBackTo != "v1" || f.hosts["h1"].current != "v1" || !f.hosts["h1"].good["v1"] {
		t.Fatalf("details %+v host %+v calls %v", d, f.hosts["h1"], calls(f, "h1"))
	}
	if got := calls(f, "h1"); got[0] != "WaitRunning v1" || got[1] != "MarkGood v1" {
		t.Fatalf("calls %v: v1 is checked and marked before anything changes", got)
	}
}

// Issue 9: pre-flight first. Every host is synced and pulled before any
// host switches: a pull that fails on h2 leaves h1 untouched too (before,
// h1 had been switched, started and then rolled back), and the failure
// names the host that failed.
func TestPreflightFailureSwitchesNoHost(t *testing.T) {
	f := newFleet("h1", "h2", "h3")
	for _, h := range []string{"h1", "h2", "h3"} {
		f.seed(h, "v1", "v1")
	}
	f.failOn["h2/PullImages/v2"] = temporal.NewNonRetryableApplicationError("manifest unknown", activities.ErrCommand, nil)
	r := deployWith(t, f, DeployInput{Spec: spec("h1", "h2", "h3"), Version: "v2", Bundle: []byte("b")})
	msg, d := failureOf(t, r.err)
	for _, c := range f.calls {
		if strings.Contains(c, "SwitchCurrent") || strings.Contains(c, "StartRelease") {
			t.Fatalf("a host was changed after a pre-flight failure: %v", f.calls)
		}
	}
	if d.Host != "h2" || d.Step != "pull" || d.RolledBackTo != "" || !strings.Contains(msg, "pre-flight failed on 1 of 3 hosts") ||
		!strings.Contains(msg, "h2 (pull: manifest unknown)") || !strings.Contains(msg, "No host had been changed") {
		t.Fatalf("message %q details %+v", msg, d)
	}
	for _, h := range []string{"h1", "h2", "h3"} {
		if got := f.hosts[h]; got.current != "v1" || got.running != "v1" {
			t.Fatalf("%s: %+v", h, got)
		}
	}
}

// Issue 9: on success every host's files and images are there before the
// first switch.
func TestPreflightPreparesEveryHostBeforeTheFirstSwitch(t *testing.T) {
	f := newFleet("h1", "h2")
	f.seed("h1", "v1", "v1")
	f.seed("h2", "v1", "v1")
	r := deployWith(t, f, DeployInput{Spec: spec("h1", "h2"), Version: "v2", Bundle: []byte("b")})
	if r.err != nil {
		t.Fatal(r.err)
	}
	firstSwitch, lastPull := -1, -1
	for i, c := range f.calls {
		if strings.Contains(c, "SwitchCurrent") && firstSwitch < 0 {
			firstSwitch = i
		}
		if strings.Contains(c, "PullImages") {
			lastPull = i
		}
	}
	if firstSwitch < 0 || lastPull > firstSwitch {
		t.Fatalf("calls %v: every pull must come before the first switch", f.calls)
	}
	for _, h := range []string{"h1", "h2"} {
		if f.hosts[h].current != "v2" || !f.hosts[h].good["v2"] {
			t.Fatalf("%s: %+v", h, f.hosts[h])
		}
	}
}
