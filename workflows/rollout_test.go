package workflows

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/hoist-dev/hoist/config"
	"github.com/hoist-dev/hoist/rollout"
)

// Issue 9: a deploy with a rollout block runs it, one DeployHost child
// per host and phase, against the same fake hosts as the host-by-host
// tests.

func rolloutSpec(r config.Rollout, hosts ...string) config.Spec {
	s := spec(hosts...)
	if r.Batches == nil {
		r.Batches = []rollout.Size{rollout.Count(1), rollout.Percent(100)}
	}
	if r.ApprovalTimeout == 0 {
		r.ApprovalTimeout = 4 * time.Hour
	}
	if r.OnFailure == "" {
		r.OnFailure = config.OnFailureRollback
	}
	s.Rollout = &r
	return s
}

// onV1 is a fleet where every host runs v1, known good.
func onV1(hosts ...string) *fleet {
	f := newFleet(hosts...)
	for _, h := range hosts {
		f.seed(h, "v1", "v1")
	}
	return f
}

func deployV2(s config.Spec) DeployInput {
	return DeployInput{Spec: s, Version: "v2", Kind: KindDeploy, Bundle: []byte("bundle")}
}

// currents is "h1=v2 h2=v1 ...", in the order given.
func currents(f *fleet, hosts ...string) string {
	var out []string
	for _, h := range hosts {
		out = append(out, h+"="+f.hosts[h].current)
	}
	return strings.Join(out, " ")
}

// decideAt sends `hoist approve` (or reject) at the given virtual time,
// first recording what the hosts ran then.
func decideAt(at time.Duration, approve bool, f *fleet, seen *string, hosts ...string) func(*testsuite.TestWorkflowEnvironment) {
	return func(env *testsuite.TestWorkflowEnvironment) {
		env.RegisterDelayedCallback(func() {
			f.op.Lock()
			*seen = currents(f, hosts...)
			f.op.Unlock()
			env.UpdateWorkflow(DecideUpdate, "decision", &testsuite.TestUpdateCallback{
				OnAccept: func() {}, OnReject: func(err error) { *seen += " rejected: " + err.Error() }, OnComplete: func(any, error) {},
			}, Approval{Approve: approve, By: "alice@laptop", Note: "looks fine"})
		}, at)
	}
}

func TestRolloutApproveAfterFirstBatch(t *testing.T) {
	hosts := []string{"h1", "h2", "h3"}
	f := onV1(hosts...)
	var seen string
	r := deployWith(t, f, deployV2(rolloutSpec(config.Rollout{Preflight: true, ApproveAfter: []int{1}}, hosts...)),
		decideAt(time.Minute, true, f, &seen, hosts...))
	if r.err != nil {
		t.Fatal(r.err)
	}
	if seen != "h1=v2 h2=v1 h3=v1" {
		t.Errorf("while waiting for approval the hosts ran %q, want only h1 on v2", seen)
	}
	if got := currents(f, hosts...); got != "h1=v2 h2=v2 h3=v2" {
		t.Errorf("after approval: %s", got)
	}
	fl := r.res.Fleet
	if fl == nil || len(fl.Approvals) != 1 || fl.Approvals[0].By != "alice@laptop" || fl.Approvals[0].Batch != 1 || !fl.Approvals[0].Approve {
		t.Errorf("approval not recorded: %+v", fl)
	}
	if n := fl.Count(StateDeployed); n != 3 {
		t.Errorf("%d hosts deployed, want 3: %+v", n, fl.Hosts)
	}
	// Pre-flight: every host pulled before h1 switched.
	first := -1
	for i, c := range f.calls {
		if c == "h1 SwitchCurrent v2" {
			first = i
			break
		}
	}
	for _, h := range hosts {
		pulled := false
		for _, c := range f.calls[:first] {
			pulled = pulled || c == h+" PullImages v2"
		}
		if !pulled {
			t.Errorf("%s had not pulled when h1 switched: %v", h, f.calls)
		}
	}
}

func TestRolloutRejectRollsBackFirstBatch(t *testing.T) {
	hosts := []string{"h1", "h2", "h3"}
	f := onV1(hosts...)
	var seen string
	r := deployWith(t, f, deployV2(rolloutSpec(config.Rollout{Preflight: true, ApproveAfter: []int{1}}, hosts...)),
		decideAt(time.Minute, false, f, &seen, hosts...))
	msg, d := failureOf(t, r.err)
	if got := currents(f, hosts...); got != "h1=v1 h2=v1 h3=v1" {
		t.Errorf("after reject: %s", got)
	}
	if d.RolledBackTo != "v1" || d.Mixed || d.RollbackFailed {
		t.Errorf("details: %+v", d)
	}
	if !strings.Contains(msg, "rejected by alice@laptop after batch 1: looks fine") || !strings.Contains(msg, "Rolled back to v1") {
		t.Errorf("message: %s", msg)
	}
	for _, h := range []string{"h2", "h3"} {
		for _, c := range calls(f, h) {
			if strings.HasPrefix(c, "SwitchCurrent") || strings.HasPrefix(c, "StartRelease") {
				t.Errorf("%s was changed: %v", h, calls(f, h))
			}
		}
	}
	if d.Fleet.Count(StateReverted) != 1 || d.Fleet.Count(StateNotRun) != 2 {
		t.Errorf("fleet: %+v", d.Fleet.Hosts)
	}
}

func TestRolloutApprovalTimeoutRollsBack(t *testing.T) {
	hosts := []string{"h1", "h2", "h3"}
	f := onV1(hosts...)
	r := deployWith(t, f, deployV2(rolloutSpec(config.Rollout{Preflight: true, ApproveAfter: []int{1}, ApprovalTimeout: time.Hour}, hosts...)))
	msg, d := failureOf(t, r.err)
	if got := currents(f, hosts...); got != "h1=v1 h2=v1 h3=v1" {
		t.Errorf("after the timeout: %s", got)
	}
	if !strings.Contains(msg, "no approval within approval_timeout (1h) after batch 1") || d.RolledBackTo != "v1" {
		t.Errorf("message %q, details %+v", msg, d)
	}
}

func TestRolloutCancelWhileWaitingRollsBack(t *testing.T) {
	hosts := []string{"h1", "h2"}
	f := onV1(hosts...)
	r := deployWith(t, f, deployV2(rolloutSpec(config.Rollout{Preflight: true, ApproveAfter: []int{1}}, hosts...)),
		func(env *testsuite.TestWorkflowEnvironment) {
			env.RegisterDelayedCallback(env.CancelWorkflow, time.Minute)
		})
	var canceled *temporal.CanceledError
	if !errors.As(r.err, &canceled) {
		t.Fatalf("want a cancel, got %v", r.err)
	}
	var d FailureDetails
	if err := canceled.Details(&d); err != nil || d.RolledBackTo != "v1" {
		t.Errorf("details %+v (%v)", d, err)
	}
	if got := currents(f, hosts...); got != "h1=v1 h2=v1" {
		t.Errorf("after cancel: %s", got)
	}
}

func TestRolloutCrashInSecondBatch(t *testing.T) {
	hosts := []string{"h1", "h2", "h3"}
	for _, tc := range []struct {
		onFailure string
		want      string
		mixed     bool
	}{
		{config.OnFailureRollback, "h1=v1 h2=v1 h3=v1", false},
		// halt: h1 keeps v2; the host that failed is back on v1; h3,
		// started beside it in the same batch, stays on what it reached.
		{config.OnFailureHalt, "h1=v2 h2=v1 h3=v2", true},
	} {
		t.Run(tc.onFailure, func(t *testing.T) {
			f := onV1(hosts...)
			f.verdict["h2/v2"] = "crashed"
			r := deployWith(t, f, deployV2(rolloutSpec(config.Rollout{Preflight: true, OnFailure: tc.onFailure}, hosts...)))
			msg, d := failureOf(t, r.err)
			if got := currents(f, hosts...); got != tc.want {
				t.Errorf("hosts: %s, want %s", got, tc.want)
			}
			if d.Mixed != tc.mixed || d.Host != "h2" || !strings.Contains(msg, "h2") {
				t.Errorf("message %q details %+v", msg, d)
			}
			if f.hosts["h2"].releases["v2"] != true {
				t.Error("h2's v2 is not marked failed")
			}
			var states []string
			for _, h := range d.Fleet.Hosts {
				states = append(states, h.Host+":"+h.State)
			}
			want := map[string]string{config.OnFailureRollback: "h1:reverted h2:failed h3:reverted", config.OnFailureHalt: "h1:deployed h2:failed h3:deployed"}[tc.onFailure]
			if strings.Join(states, " ") != want {
				t.Errorf("states %v, want %s", states, want)
			}
		})
	}
}

// The batch-2 rollback goes newest batch first: h3 (batch 3) before h1.
func TestRolloutRollbackNewestBatchFirst(t *testing.T) {
	hosts := []string{"h1", "h2", "h3", "h4"}
	f := onV1(hosts...)
	f.verdict["h4/v2"] = "crashed"
	r := deployWith(t, f, deployV2(rolloutSpec(config.Rollout{Preflight: true, Batches: []rollout.Size{rollout.Count(1)}}, hosts...)))
	failureOf(t, r.err)
	var order []string
	for _, c := range f.calls {
		if strings.HasSuffix(c, "SwitchCurrent v1") {
			order = append(order, strings.Fields(c)[0])
		}
	}
	if got := strings.Join(order, " "); got != "h4 h3 h2 h1" {
		t.Errorf("switched back in order %q, want h4 (its own) then h3 h2 h1", got)
	}
}

func TestRolloutMaxFailedLetsOthersDeploy(t *testing.T) {
	hosts := []string{"h1", "h2", "h3"}
	f := onV1(hosts...)
	f.verdict["h2/v2"] = "crashed"
	r := deployWith(t, f, deployV2(rolloutSpec(config.Rollout{Preflight: true, MaxFailed: rollout.Count(1)}, hosts...)))
	msg, d := failureOf(t, r.err)
	if got := currents(f, hosts...); got != "h1=v2 h2=v1 h3=v2" {
		t.Errorf("hosts: %s", got)
	}
	if !d.Mixed || d.RollbackFailed || !strings.Contains(msg, "within max_failed (1)") {
		t.Errorf("message %q details %+v", msg, d)
	}
}

func TestRolloutPreflightFailureSwitchesNothing(t *testing.T) {
	hosts := []string{"h1", "h2", "h3"}
	f := onV1(hosts...)
	f.failOn["h3/PullImages/v2"] = temporal.NewNonRetryableApplicationError("manifest unknown", "CommandFailed", nil)
	r := deployWith(t, f, deployV2(rolloutSpec(config.Rollout{Preflight: true}, hosts...)))
	msg, d := failureOf(t, r.err)
	if got := currents(f, hosts...); got != "h1=v1 h2=v1 h3=v1" {
		t.Errorf("hosts: %s", got)
	}
	for _, c := range f.calls {
		if strings.Contains(c, "SwitchCurrent") || strings.Contains(c, "StartRelease") || strings.Contains(c, "StopRelease") {
			t.Errorf("a host was changed or rolled back: %s", c)
		}
	}
	if !strings.Contains(msg, "pre-flight failed on 1 of 3 hosts") || !strings.Contains(msg, "h3 (") || !strings.Contains(msg, "manifest unknown") ||
		!strings.Contains(msg, "No host had been changed") || d.Host != "h3" {
		t.Errorf("message %q details %+v", msg, d)
	}
}

// An unhealthy verdict under health.unhealthy: warn stops the rollout
// before the next batch until someone approves.
func TestRolloutWarningWaitsForApproval(t *testing.T) {
	hosts := []string{"h1", "h2", "h3"}
	f := onV1(hosts...)
	f.verdict["h1/v2"] = "unhealthy"
	var seen string
	r := deployWith(t, f, deployV2(rolloutSpec(config.Rollout{Preflight: true}, hosts...)),
		decideAt(time.Minute, true, f, &seen, hosts...))
	if r.err != nil {
		t.Fatal(r.err)
	}
	if seen != "h1=v2 h2=v1 h3=v1" {
		t.Errorf("did not wait after the unhealthy batch: %q", seen)
	}
	if r.res.Outcome != OutcomeWarning || !strings.Contains(strings.Join(r.res.Warnings, ";"), "h1") {
		t.Errorf("result %+v", r.res)
	}
}

func TestRolloutDecisionRefusedWhenNotWaiting(t *testing.T) {
	hosts := []string{"h1", "h2"}
	f := onV1(hosts...)
	var answers []string
	send := func(env *testsuite.TestWorkflowEnvironment, id string, d Approval) {
		env.UpdateWorkflow(DecideUpdate, id, &testsuite.TestUpdateCallback{
			OnAccept: func() {}, OnReject: func(err error) { answers = append(answers, id+" refused: "+err.Error()) },
			OnComplete: func(v any, err error) { answers = append(answers, fmt.Sprintf("%s: %v", id, v)) },
		}, d)
	}
	r := deployWith(t, f, deployV2(rolloutSpec(config.Rollout{Preflight: true, ApproveAfter: []int{1}}, hosts...)),
		func(env *testsuite.TestWorkflowEnvironment) {
			env.RegisterDelayedCallback(func() {
				send(env, "anonymous", Approval{Approve: true})
				send(env, "first", Approval{Approve: true, By: "alice"})
				send(env, "second", Approval{Approve: false, By: "bob"}) // too late: decided
			}, time.Minute)
		})
	if r.err != nil {
		t.Fatal(r.err)
	}
	got := strings.Join(answers, "\n")
	for _, want := range []string{"anonymous refused: a decision must say who made it",
		"first: approved: the rollout goes on with batch 2 of 2",
		"second refused: the deploy of version v2 is not waiting for approval"} {
		if !strings.Contains(got, want) {
			t.Errorf("answers:\n%s\nwant %q", got, want)
		}
	}
	if len(r.res.Fleet.Approvals) != 1 {
		t.Errorf("refused decisions were recorded: %+v", r.res.Fleet.Approvals)
	}
}

func TestRolloutSkipsHostsOnVersion(t *testing.T) {
	hosts := []string{"h1", "h2"}
	f := onV1(hosts...)
	f.seed("h2", "v2", "v1", "v2")
	r := deployWith(t, f, deployV2(rolloutSpec(config.Rollout{Preflight: true, Batches: []rollout.Size{rollout.Percent(100)}}, hosts...)))
	if r.err != nil {
		t.Fatal(r.err)
	}
	for _, c := range calls(f, "h2") {
		if !strings.HasPrefix(c, "SyncRelease") {
			t.Errorf("h2 runs v2 already, yet: %s", c)
		}
	}
	if r.res.Fleet.Count(StateSkipped) != 1 || r.res.Fleet.Count(StateDeployed) != 1 {
		t.Errorf("fleet %+v", r.res.Fleet.Hosts)
	}
}

// The bundle enters history once: no host's sync carries it.
func TestRolloutSyncsByReference(t *testing.T) {
	hosts := []string{"h1", "h2"}
	f := onV1(hosts...)
	r := deployWith(t, f, deployV2(rolloutSpec(config.Rollout{Preflight: true}, hosts...)))
	if r.err != nil {
		t.Fatal(r.err)
	}
	if len(f.syncs) != 2 {
		t.Fatalf("syncs: %+v", f.syncs)
	}
	for _, s := range f.syncs {
		if len(s.Bundle) != 0 || s.Ref.Size != len("bundle") || len(s.Ref.Digest) != 64 || s.Ref.Workflow == "" {
			t.Errorf("sync input %+v", s)
		}
	}
}

func TestRolloutMaxParallel(t *testing.T) {
	hosts := []string{"h1", "h2", "h3", "h4", "h5"}
	f := onV1(hosts...)
	// Each host's first step of a phase waits (a little, in real time) for a
	// second host to be in the same step: without it a child may finish
	// before the next starts and the peak depends on the machine's load.
	var mu sync.Mutex
	arrived := map[string]int{}
	f.before = func(step, _ string) {
		mu.Lock()
		arrived[step]++
		mu.Unlock()
		for deadline := time.Now().Add(300 * time.Millisecond); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			mu.Lock()
			n := arrived[step]
			mu.Unlock()
			if n%2 == 0 {
				return
			}
		}
	}
	running, peak := map[string]int{}, map[string]int{}
	r := deployWith(t, f, deployV2(rolloutSpec(config.Rollout{Preflight: true, MaxParallel: 2, Batches: []rollout.Size{rollout.Percent(100)}}, hosts...)),
		func(env *testsuite.TestWorkflowEnvironment) {
			phase := func(id string) string { return id[strings.LastIndex(id, "/")+1:] }
			env.SetOnChildWorkflowStartedListener(func(info *workflow.Info, _ workflow.Context, _ converter.EncodedValues) {
				p := phase(info.WorkflowExecution.ID)
				running[p]++
				peak[p] = max(peak[p], running[p])
			})
			env.SetOnChildWorkflowCompletedListener(func(info *workflow.Info, _ converter.EncodedValue, _ error) {
				running[phase(info.WorkflowExecution.ID)]--
			})
		})
	if r.err != nil {
		t.Fatal(r.err)
	}
	if peak[PhasePrepare] != 2 || peak[PhaseStart] != 2 {
		t.Errorf("children at once, by phase: %v; want max_parallel, 2, in pre-flight and in the batch", peak)
	}
}

// preflight: false — each host is prepared in its own turn: a host of a
// later batch is not touched while the first batch waits.
func TestRolloutWithoutPreflight(t *testing.T) {
	hosts := []string{"h1", "h2"}
	f := onV1(hosts...)
	var seen string
	var h2calls []string
	r := deployWith(t, f, deployV2(rolloutSpec(config.Rollout{Preflight: false, ApproveAfter: []int{1}}, hosts...)),
		func(env *testsuite.TestWorkflowEnvironment) {
			env.RegisterDelayedCallback(func() { h2calls = calls(f, "h2") }, 30*time.Second)
		}, decideAt(time.Minute, true, f, &seen, hosts...))
	if r.err != nil {
		t.Fatal(r.err)
	}
	if len(h2calls) != 0 || seen != "h1=v2 h2=v1" {
		t.Errorf("while batch 1 waited, h2 saw %v (hosts %s)", h2calls, seen)
	}
	if got := currents(f, hosts...); got != "h1=v2 h2=v2" {
		t.Errorf("hosts: %s", got)
	}
}

// The closing line counts every host that failed, also those that failed
// after the budget was spent, and says where the first failed once.
func TestRolloutStopCountsEveryFailedHost(t *testing.T) {
	hosts := []string{"h1", "h2", "h3"}
	f := onV1(hosts...)
	f.verdict["h2/v2"], f.verdict["h3/v2"] = "crashed", "crashed"
	r := deployWith(t, f, deployV2(rolloutSpec(config.Rollout{Preflight: true}, hosts...)))
	msg, _ := failureOf(t, r.err)
	if !strings.Contains(msg, "2 host(s) failed, more than max_failed (0); first: host h2, step wait running: crashed") {
		t.Errorf("message: %s", msg)
	}
}

// hoist cancel while batch 2 runs: the hosts of batch 2 put themselves
// back (their children are cancelled and compensate), then the parent
// puts batch 1 back; every host ends on v1.
func TestRolloutCancelDuringBatch(t *testing.T) {
	hosts := []string{"h1", "h2", "h3"}
	f := onV1(hosts...)
	var env *testsuite.TestWorkflowEnvironment
	cancelled := false
	f.onWait = func() {
		if !cancelled && f.hosts["h1"].current == "v2" && f.hosts["h2"].current == "v2" {
			cancelled = true
			env.CancelWorkflow()
		}
	}
	r := deployWith(t, f, deployV2(rolloutSpec(config.Rollout{Preflight: true}, hosts...)),
		func(e *testsuite.TestWorkflowEnvironment) { env = e })
	var canceled *temporal.CanceledError
	if !errors.As(r.err, &canceled) {
		t.Fatalf("want a cancel, got %v", r.err)
	}
	if !cancelled {
		t.Fatal("the cancel never happened during batch 2")
	}
	if got := currents(f, hosts...); got != "h1=v1 h2=v1 h3=v1" {
		t.Errorf("after cancel during batch 2: %s (calls %v)", got, f.calls)
	}
	for _, h := range hosts {
		if r := f.hosts[h].running; r != "v1" {
			t.Errorf("%s runs %q, want v1", h, r)
		}
	}
}
