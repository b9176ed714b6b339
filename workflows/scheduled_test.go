package workflows

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/hoist-dev/hoist/activities"
)

var christmas = time.Date(2026, 12, 24, 3, 0, 0, 0, time.UTC)

func frozen(overlap string) ScheduledDeployInput {
	return ScheduledDeployInput{DeployInput: DeployInput{Spec: spec("h1"), Bundle: []byte("the release files")}, Overlap: overlap}
}

// scheduledEnv is a test environment running the real Deploy (against
// the fake hosts f) as the scheduled run's child.
type scheduledEnv struct {
	*testsuite.TestWorkflowEnvironment
	deploys []time.Time // when each Deploy child started, in test time
	ids     []string    // their workflow IDs
	retries int         // lock retry timers scheduled
}

func newScheduledEnv(t *testing.T, f *fleet) *scheduledEnv {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	env := &scheduledEnv{TestWorkflowEnvironment: suite.NewTestWorkflowEnvironment()}
	env.RegisterActivity(&activities.Activities{})
	env.RegisterWorkflowWithOptions(Deploy, workflow.RegisterOptions{Name: DeployWorkflowName})
	env.RegisterWorkflowWithOptions(DeployHost, workflow.RegisterOptions{Name: DeployHostWorkflowName})
	env.RegisterWorkflowWithOptions(ScheduledDeploy, workflow.RegisterOptions{Name: ScheduledDeployWorkflowName})
	f.wire(env.TestWorkflowEnvironment)
	env.SetOnChildWorkflowStartedListener(func(info *workflow.Info, ctx workflow.Context, _ converter.EncodedValues) {
		if info.WorkflowType.Name == DeployWorkflowName {
			env.deploys = append(env.deploys, workflow.Now(ctx))
			env.ids = append(env.ids, info.WorkflowExecution.ID)
		}
	})
	env.SetOnTimerScheduledListener(func(_ string, d time.Duration) {
		if d == LockRetryEvery {
			env.retries++
		}
	})
	return env
}

// The version is the scheduled time's, the deploy runs under the lock's
// ID, and it names the files by reference to the scheduled run, which
// holds them.
func TestScheduledDeployVersionFromScheduledTime(t *testing.T) {
	f := newFleet("h1")
	f.seed("h1", "v1", "v1")
	env := newScheduledEnv(t, f)
	env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: "scheduled/web/production/nightly-2026-12-24T03:00:00Z"})
	env.SetStartTime(christmas.Add(4 * time.Second)) // started a little late, with jitter
	env.SetTypedSearchAttributesOnStart(temporal.NewSearchAttributes(
		scheduledStartTime.ValueSet(christmas), scheduledByID.ValueSet("hoist/web/production/nightly")))
	env.ExecuteWorkflow(ScheduledDeploy, frozen(OverlapSkip))
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var res ScheduledDeployResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if res.Outcome != ScheduledDeployed || res.Version != "20261224030000" || !res.ScheduledFor.Equal(christmas) || res.DeployWorkflowID != "deploy/web" {
		t.Errorf("result %+v", res)
	}
	if res.Deploy == nil || res.Deploy.Version != "20261224030000" || res.Deploy.Outcome != OutcomeDeployed {
		t.Errorf("deploy result %+v", res.Deploy)
	}
	if want := "deployed web version 20261224030000 to production (workflow deploy/web, run " + res.DeployRunID + "): deployed"; res.Message != want {
		t.Errorf("message\n got %q\nwant %q", res.Message, want)
	}
	if f.hosts["h1"].current != "20261224030000" {
		t.Errorf("h1 runs %q", f.hosts["h1"].current)
	}
	if len(env.ids) != 1 || env.ids[0] != "deploy/web" {
		t.Errorf("deploy children %v", env.ids)
	}
	if len(f.syncs) != 1 {
		t.Fatalf("syncs %+v", f.syncs)
	}
	want := activities.RefOf([]byte("the release files"), "scheduled/web/production/nightly-2026-12-24T03:00:00Z", f.syncs[0].Ref.Run)
	if got := f.syncs[0]; got.Ref != want || len(got.Bundle) != 0 || got.Ref.Run == "" {
		t.Errorf("sync got bundle %q ref %+v, want ref %+v", got.Bundle, got.Ref, want)
	}
}

// A run started some other way than by a schedule takes its start time.
func TestScheduledDeployVersionFallsBackToStartTime(t *testing.T) {
	f := newFleet("h1")
	env := newScheduledEnv(t, f)
	env.SetStartTime(time.Date(2027, 1, 5, 10, 30, 15, 0, time.FixedZone("CST", 8*3600)))
	env.ExecuteWorkflow(ScheduledDeploy, frozen(OverlapSkip))
	var res ScheduledDeployResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if res.Version != "20270105023015" || f.hosts["h1"].current != "20270105023015" {
		t.Errorf("version %q, h1 runs %q", res.Version, f.hosts["h1"].current)
	}
}

// holdLock stands for a deploy of web started by hoist deploy: it holds
// the lock (its workflow ID) for a while.
func holdLock(ctx workflow.Context, d time.Duration) error { return workflow.Sleep(ctx, d) }

// lockedRun starts a holder of web's lock, then the scheduled run.
func lockedRun(ctx workflow.Context, hold time.Duration, in ScheduledDeployInput) (*ScheduledDeployResult, error) {
	hctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{WorkflowID: DeployWorkflowID("web", ""), ParentClosePolicy: enums.PARENT_CLOSE_POLICY_ABANDON})
	if err := workflow.ExecuteChildWorkflow(hctx, holdLock, hold).GetChildWorkflowExecution().Get(ctx, nil); err != nil {
		return nil, err
	}
	sctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:            "scheduled/web/production/nightly-2026-12-24T03:00:00Z",
		TypedSearchAttributes: temporal.NewSearchAttributes(scheduledStartTime.ValueSet(christmas)),
	})
	var res ScheduledDeployResult
	if err := workflow.ExecuteChildWorkflow(sctx, ScheduledDeployWorkflowName, in).Get(ctx, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

func runLocked(t *testing.T, f *fleet, hold time.Duration, overlap string) (*scheduledEnv, ScheduledDeployResult, error, *int) {
	t.Helper()
	env := newScheduledEnv(t, f)
	env.RegisterWorkflow(holdLock)
	env.RegisterWorkflow(lockedRun)
	var released time.Time
	env.SetOnChildWorkflowCompletedListener(func(info *workflow.Info, _ converter.EncodedValue, _ error) {
		if info.WorkflowType.Name == "holdLock" {
			released = env.Now()
		}
	})
	described := 0
	env.OnActivity(DescribeLock, mock.Anything, "deploy/web").Return(func(_ context.Context, _ string) (LockHolder, error) {
		described++
		return LockHolder{RunID: "run-7", Version: "v7", Started: christmas.Add(-time.Minute), Running: true}, nil
	})
	env.SetStartTime(christmas)
	env.ExecuteWorkflow(lockedRun, hold, frozen(overlap))
	if !env.IsWorkflowCompleted() {
		t.Fatal("workflow did not complete")
	}
	var res ScheduledDeployResult
	err := env.GetWorkflowError()
	if err == nil {
		if err := env.GetWorkflowResult(&res); err != nil {
			t.Fatal(err)
		}
	}
	for _, at := range env.deploys {
		if released.IsZero() || at.Before(released) {
			t.Errorf("a deploy started at %s while the lock was held (released at %s)", at, released)
		}
	}
	return env, res, err, &described
}

// Overlap skip against a running deploy: nothing deployed, and the
// result says what was skipped and what holds the lock.
func TestScheduledDeploySkipsWhenLockHeld(t *testing.T) {
	f := newFleet("h1")
	f.seed("h1", "v1", "v1")
	env, res, err, described := runLocked(t, f, 10*time.Minute, OverlapSkip)
	if err != nil {
		t.Fatal(err)
	}
	want := ScheduledDeployResult{
		Outcome: ScheduledSkipped, Version: "20261224030000", ScheduledFor: christmas, DeployWorkflowID: "deploy/web", DeployRunID: "run-7",
		Message: "skipped the scheduled deploy of web version 20261224030000 to production, scheduled for 2026-12-24T03:00:00Z: " +
			"another deploy or rollback of web in production holds the lock, workflow deploy/web (run run-7), version v7, started 2026-12-24T02:59:00Z (overlap skip)",
	}
	if res.Outcome != want.Outcome || res.Version != want.Version || !res.ScheduledFor.Equal(want.ScheduledFor) ||
		res.DeployWorkflowID != want.DeployWorkflowID || res.DeployRunID != want.DeployRunID || res.Message != want.Message || res.Deploy != nil {
		t.Errorf("result\n got %+v\nwant %+v", res, want)
	}
	if len(env.deploys) != 0 || len(f.calls) != 0 || env.retries != 0 || *described != 1 {
		t.Errorf("deploys %v, host calls %v, retries %d, described %d", env.deploys, f.calls, env.retries, *described)
	}
}

// Overlap buffer-one: the run waits on a timer, tries again, and deploys
// once the lock is free (never beside the holder).
func TestScheduledDeployBufferOneWaitsThenRuns(t *testing.T) {
	f := newFleet("h1")
	f.seed("h1", "v1", "v1")
	env, res, err, described := runLocked(t, f, 100*time.Second, OverlapBufferOne)
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != ScheduledDeployed || res.Version != "20261224030000" || f.hosts["h1"].current != "20261224030000" {
		t.Errorf("result %+v, h1 runs %q", res, f.hosts["h1"].current)
	}
	// Tries at 0, 30, 60 and 90 s find the lock held; the one at 120 s starts.
	if env.retries != 4 || len(env.deploys) != 1 || !env.deploys[0].Equal(christmas.Add(2*time.Minute)) || *described != 0 {
		t.Errorf("retries %d, deploys at %v, described %d", env.retries, env.deploys, *described)
	}
}

// buffer-one gives up after LockWaitMax, saying so.
func TestScheduledDeployBufferOneGivesUp(t *testing.T) {
	f := newFleet("h1")
	f.seed("h1", "v1", "v1")
	env, _, err, described := runLocked(t, f, 2*time.Hour, OverlapBufferOne)
	var app *temporal.ApplicationError
	if !errors.As(err, &app) || app.Type() != ScheduledFailureType || !app.NonRetryable() {
		t.Fatalf("want a non-retryable %s, got %v", ScheduledFailureType, err)
	}
	want := "gave up the scheduled deploy of web version 20261224030000 to production, scheduled for 2026-12-24T03:00:00Z: " +
		"another deploy or rollback of web in production held the lock for 1h, workflow deploy/web (run run-7), version v7, started 2026-12-24T02:59:00Z (overlap buffer-one)"
	if app.Message() != want {
		t.Errorf("message\n got %q\nwant %q", app.Message(), want)
	}
	if env.retries != 120 || len(env.deploys) != 0 || len(f.calls) != 0 || *described != 1 {
		t.Errorf("retries %d, deploys %v, host calls %v, described %d", env.retries, env.deploys, f.calls, *described)
	}
}

// A failed deploy fails the scheduled run (so the schedule's
// pause-on-failure sees it), carrying the deploy's failure.
func TestScheduledDeployFailurePropagates(t *testing.T) {
	f := newFleet("h1")
	f.seed("h1", "v1", "v1")
	f.failOn["h1/PullImages/20261224030000"] = temporal.NewNonRetryableApplicationError("manifest unknown", activities.ErrCommand, nil)
	env := newScheduledEnv(t, f)
	env.SetTypedSearchAttributesOnStart(temporal.NewSearchAttributes(scheduledStartTime.ValueSet(christmas)))
	env.ExecuteWorkflow(ScheduledDeploy, frozen(OverlapSkip))
	err := env.GetWorkflowError()
	var app *temporal.ApplicationError
	if !errors.As(err, &app) || app.Type() != ScheduledFailureType || !app.NonRetryable() {
		t.Fatalf("want a non-retryable %s, got %v", ScheduledFailureType, err)
	}
	wantContains(t, app.Message(), "the scheduled deploy of web version 20261224030000 to production failed (workflow deploy/web, run ", "manifest unknown")
	// The deploy's own failure, with its details, is the cause.
	var details FailureDetails
	found := false
	for e := error(app); e != nil; e = errors.Unwrap(e) {
		if a, ok := e.(*temporal.ApplicationError); ok && a.Type() == FailureType {
			found = a.Details(&details) == nil
		}
	}
	if !found || details.Version != "20261224030000" || details.Step == "" {
		t.Errorf("deploy failure details found %v: %+v", found, details)
	}
	if f.hosts["h1"].current != "v1" {
		t.Errorf("h1 runs %q", f.hosts["h1"].current)
	}
}

// A bad frozen input is refused before any deploy starts.
func TestScheduledDeployRefusesBadInput(t *testing.T) {
	f := newFleet("h1")
	env := newScheduledEnv(t, f)
	in := frozen("queue")
	in.Version = "v9"
	env.ExecuteWorkflow(ScheduledDeploy, in)
	var app *temporal.ApplicationError
	if err := env.GetWorkflowError(); !errors.As(err, &app) || app.Type() != activities.ErrInvalid || !app.NonRetryable() {
		t.Fatalf("want a non-retryable %s, got %v", activities.ErrInvalid, err)
	}
	if len(env.deploys) != 0 || len(f.calls) != 0 {
		t.Errorf("deploys %v, host calls %v", env.deploys, f.calls)
	}
}

func TestScheduledDeployInputValidate(t *testing.T) {
	ref := activities.RefOf([]byte("x"), "w", "r")
	for _, c := range []struct {
		name string
		edit func(*ScheduledDeployInput)
		want string // "" valid
	}{
		{"skip", func(*ScheduledDeployInput) {}, ""},
		{"buffer-one", func(in *ScheduledDeployInput) { in.Overlap = OverlapBufferOne }, ""},
		{"kind deploy", func(in *ScheduledDeployInput) { in.Kind = KindDeploy }, ""},
		{"no overlap", func(in *ScheduledDeployInput) { in.Overlap = "" }, `overlap: want "skip" or "buffer-one", got ""`},
		{"rollback", func(in *ScheduledDeployInput) { in.Kind = KindRollback }, `kind: a schedule deploys (kind "deploy"), got "rollback"`},
		{"version", func(in *ScheduledDeployInput) { in.Version = "v1" }, `version: a scheduled run takes its version from its scheduled time; the schedule must not fix one, got "v1"`},
		{"no files", func(in *ScheduledDeployInput) { in.Bundle = nil }, "bundle: a schedule freezes the release files, and holds none"},
		{"too big", func(in *ScheduledDeployInput) { in.Bundle = make([]byte, 1<<20+1) }, "bundle: 1048577 bytes, at most 1048576"},
		{"ref", func(in *ScheduledDeployInput) { in.BundleRef = &ref }, "bundle_ref: a schedule holds its files itself: a reference would outlive what it names"},
		{"limited", func(in *ScheduledDeployInput) { in.Limited = "h1" }, "limited: a schedule deploys to every host of the service"},
		{"at", func(in *ScheduledDeployInput) { in.At = &christmas }, "at: a scheduled run starts at its scheduled time; the schedule must not fix another"},
		{"window override", func(in *ScheduledDeployInput) { in.WindowOverride = &WindowOverride{Reason: "x"} },
			"window_override: a schedule's runs keep to the deploy windows: --ignore-window is for one deploy, with its reason"},
		{"poll", func(in *ScheduledDeployInput) { in.Poll = -time.Second }, "poll: want between 0 and 1m0s, got -1s"},
		{"two", func(in *ScheduledDeployInput) { in.Overlap, in.Limited = "x", "h1" },
			"overlap: want \"skip\" or \"buffer-one\", got \"x\"\nlimited: a schedule deploys to every host of the service"},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := frozen(OverlapSkip)
			c.edit(&in)
			err := in.Validate()
			if c.want == "" {
				if err != nil {
					t.Fatalf("want valid, got %v", err)
				}
				return
			}
			var app *temporal.ApplicationError
			if !errors.As(err, &app) || app.Type() != activities.ErrInvalid || !app.NonRetryable() {
				t.Fatalf("want a non-retryable %s, got %v", activities.ErrInvalid, err)
			}
			if want := "invalid scheduled deploy, nothing was touched: " + c.want; app.Message() != want {
				t.Errorf("\n got %q\nwant %q", app.Message(), want)
			}
		})
	}
	// A bad spec is the spec's own error.
	in := frozen(OverlapSkip)
	in.Spec.Hosts = nil
	if err := in.Validate(); err == nil || !strings.Contains(err.Error(), "invalid scheduled deploy, nothing was touched: ") {
		t.Errorf("no hosts: %v", err)
	}
}

func TestScheduleIDs(t *testing.T) {
	for _, c := range []struct {
		service, env, name string
		id, run            string
	}{
		{"web", "", "nightly", "hoist/web/production/nightly", "scheduled/web/production/nightly"},
		{"web", "production", "nightly", "hoist/web/production/nightly", "scheduled/web/production/nightly"},
		{"api", "staging", "v1.2_x-y", "hoist/api/staging/v1.2_x-y", "scheduled/api/staging/v1.2_x-y"},
	} {
		if got := ScheduleID(c.service, c.env, c.name); got != c.id {
			t.Errorf("ScheduleID(%q, %q, %q) = %q, want %q", c.service, c.env, c.name, got, c.id)
		}
		if got := ScheduleRunID(c.service, c.env, c.name); got != c.run {
			t.Errorf("ScheduleRunID(%q, %q, %q) = %q, want %q", c.service, c.env, c.name, got, c.run)
		}
		env := c.env
		if env == "" {
			env = "production"
		}
		if s, e, n, ok := ParseScheduleID(c.id); !ok || s != c.service || e != env || n != c.name {
			t.Errorf("ParseScheduleID(%q) = %q, %q, %q, %v", c.id, s, e, n, ok)
		}
	}
	for _, id := range []string{"", "hoist/", "hoist/web/production", "hoist/web/production/a/b", "hoist//production/x", "other/web/production/x", "hoist/web//x"} {
		if _, _, _, ok := ParseScheduleID(id); ok {
			t.Errorf("ParseScheduleID(%q) accepted", id)
		}
	}
}

// Runs of ScheduledDeploy recorded from the e2e suite (e2e/schedule_test.go,
// exported with temporal workflow show -o json) replay through today's
// code: a deployed run, a skip (a refused child start and the lock
// holder's local activity marker), a buffer-one wait (a refused start, a
// timer, then the deploy) and a failed deploy. TestReplayRecordedHistories
// replays them too, with every other history.
func TestReplayScheduledHistories(t *testing.T) {
	for _, name := range []string{"scheduled-deployed", "scheduled-skipped", "scheduled-buffer-one", "scheduled-failed"} {
		t.Run(name, func(t *testing.T) {
			f, err := os.Open(filepath.Join("testdata", name+".json"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			hist, err := client.HistoryFromJSON(f, client.HistoryJSONOptions{})
			if err != nil {
				t.Fatal(err)
			}
			a := hist.GetEvents()[0].GetWorkflowExecutionStartedEventAttributes()
			if got := a.GetWorkflowType().GetName(); got != ScheduledDeployWorkflowName {
				t.Fatalf("recorded a %s, not a %s", got, ScheduledDeployWorkflowName)
			}
			r := worker.NewWorkflowReplayer()
			r.RegisterWorkflowWithOptions(ScheduledDeploy, workflow.RegisterOptions{Name: ScheduledDeployWorkflowName})
			exec := workflow.Execution{ID: a.GetWorkflowId(), RunID: a.GetOriginalExecutionRunId()}
			if err := r.ReplayWorkflowHistoryWithOptions(nil, hist, worker.ReplayWorkflowHistoryOptions{OriginalExecution: exec}); err != nil {
				t.Fatalf("replaying %s: %v", name, err)
			}
		})
	}
}

func wantContains(t *testing.T, s string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(s, p) {
			t.Errorf("%q does not contain %q", s, p)
		}
	}
}
