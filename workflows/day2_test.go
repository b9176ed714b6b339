package workflows

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/hoist-dev/hoist/activities"
	"github.com/hoist-dev/hoist/config"
)

func day2Env() *testsuite.TestWorkflowEnvironment {
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	env.RegisterActivity(&activities.Activities{})
	return env
}

// barrier lets n activities through only once all n have started: a
// workflow running hosts one after another never gets past the first.
type barrier struct {
	mu      sync.Mutex
	n       int
	arrived chan struct{}
}

func newBarrier(n int) *barrier { return &barrier{n: n, arrived: make(chan struct{})} }

func (b *barrier) wait() error {
	b.mu.Lock()
	b.n--
	if b.n == 0 {
		close(b.arrived)
	}
	b.mu.Unlock()
	select {
	case <-b.arrived:
		return nil
	case <-time.After(5 * time.Second):
		return errors.New("the other hosts did not start alongside this one")
	}
}

// Logs reads every host at once, each told its place, the tail and the
// services; a host that cannot be read is reported by name, in config
// order, and the others still come back.
func TestLogsReadsEveryHostAtOnce(t *testing.T) {
	env := day2Env()
	b := newBarrier(3)
	var mu sync.Mutex
	var seen []activities.LogsInput
	env.OnActivity(a.ReadLogs, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.LogsInput) (activities.StreamResult, error) {
		mu.Lock()
		seen = append(seen, in)
		mu.Unlock()
		if err := b.wait(); err != nil {
			return activities.StreamResult{}, err
		}
		if in.Target.Host == "h2" {
			return activities.StreamResult{}, temporal.NewApplicationError("host h2, step inspect: connection refused", activities.ErrUnreachable)
		}
		return activities.StreamResult{Index: in.Index, Host: in.Target.Label(), Release: "v2", Total: 1,
			Lines: []activities.Line{{Seq: 0, Text: in.Target.Host + " says hi"}}}, nil
	}).Times(3)
	env.ExecuteWorkflow(Logs, LogsInput{Spec: spec("h1", "h2", "h3"), Tail: 20, Services: []string{"web"}})
	var res Day2Result
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	env.AssertExpectations(t)
	if len(res.Hosts) != 3 || res.Ended != "" {
		t.Fatalf("result %+v", res)
	}
	for i, h := range res.Hosts {
		if h.Index != i || h.Host != []string{"h1", "h2", "h3"}[i] {
			t.Errorf("host %d is %d %s: want config order", i, h.Index, h.Host)
		}
	}
	if h := res.Hosts[1]; h.Error != "host h2, step inspect: connection refused" || len(h.Lines) != 0 {
		t.Errorf("h2: %+v", h)
	}
	if h := res.Hosts[2]; h.Error != "" || h.Release != "v2" || h.Lines[0].Text != "h3 says hi" {
		t.Errorf("h3: %+v", h)
	}
	for _, in := range seen {
		want := map[string]int{"h1": 0, "h2": 1, "h3": 2}[in.Target.Host]
		if in.Index != want || in.Tail != 20 || len(in.Services) != 1 || in.Follow || in.Target.Base != "/srv/web" || in.Target.Service != "web" {
			t.Errorf("activity input %+v", in)
		}
	}
}

// follower is a ReadLogs that runs until cancelled, as docker compose
// logs --follow does. The test environment resolves a cancelled
// activity at once and never cancels the mock's context (the activity's
// own test and e2e cover the remote command's end), so what is checked
// here is that the workflow asked to cancel every host's follow.
type follower struct {
	mu        sync.Mutex
	cancelled []string
	release   chan struct{} // closed when the test ends
}

func newFollower(t *testing.T, env *testsuite.TestWorkflowEnvironment) *follower {
	f := &follower{release: make(chan struct{})}
	t.Cleanup(func() { close(f.release) })
	env.SetOnActivityCanceledListener(func(info *activity.Info) {
		f.mu.Lock()
		f.cancelled = append(f.cancelled, info.ActivityType.Name)
		f.mu.Unlock()
	})
	return f
}

func (f *follower) run(ctx context.Context, in activities.LogsInput) (activities.StreamResult, error) {
	if !in.Follow {
		return activities.StreamResult{}, errors.New("not a follow")
	}
	select {
	case <-ctx.Done():
	case <-f.release:
	}
	return activities.StreamResult{}, ctx.Err()
}

// A follow nobody reads any more ends once its lease passes without a
// reading signal: every host's follow is cancelled, the workflow says
// why. Signals within the lease keep it going.
func TestLogsFollowEndsWithoutReader(t *testing.T) {
	env := day2Env()
	f := newFollower(t, env)
	env.OnActivity(a.ReadLogs, mock.Anything, mock.Anything).Return(f.run).Times(2)
	start := time.Now()
	for _, at := range []time.Duration{700 * time.Millisecond, 1400 * time.Millisecond} {
		env.RegisterDelayedCallback(func() { env.SignalWorkflow(ReadingSignal, nil) }, at)
	}
	env.ExecuteWorkflow(Logs, LogsInput{Spec: spec("h1", "h2"), Tail: 5, Follow: true, Lease: time.Second})
	took := time.Since(start)
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var res Day2Result
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if res.Ended != EndedNoReader || len(res.Hosts) != 2 || !res.Hosts[0].Stopped || !res.Hosts[1].Stopped {
		t.Fatalf("result %+v", res)
	}
	if strings.Join(f.cancelled, ",") != "ReadLogs,ReadLogs" {
		t.Fatalf("cancelled: %v, want both follows", f.cancelled)
	}
	// The lease ran from the last signal (1.4s), not the start (1s).
	if took < 2*time.Second {
		t.Fatalf("ended after %s: the signals did not extend the lease", took)
	}
}

// hoist logs --follow's Ctrl-C cancels the workflow: every host's follow
// is cancelled (and, WaitForCancellation, waited for: on a real server
// the workflow ends once the remote commands have), then it ends
// cancelled.
func TestLogsFollowCancelled(t *testing.T) {
	env := day2Env()
	f := newFollower(t, env)
	env.OnActivity(a.ReadLogs, mock.Anything, mock.Anything).Return(f.run).Times(3)
	env.RegisterDelayedCallback(env.CancelWorkflow, 300*time.Millisecond)
	env.ExecuteWorkflow(Logs, LogsInput{Spec: spec("h1", "h2", "h3"), Tail: 5, Follow: true})
	var canceled *temporal.CanceledError
	if err := env.GetWorkflowError(); !errors.As(err, &canceled) {
		t.Fatalf("want the workflow cancelled, got %v", err)
	}
	if strings.Join(f.cancelled, ",") != "ReadLogs,ReadLogs,ReadLogs" {
		t.Fatalf("cancelled: %v, want all three follows", f.cancelled)
	}
}

// Exec runs the command once per host, at once: a non-zero exit is the
// host's result, a host it could not reach is an error, never retried.
func TestExecRunsOncePerHost(t *testing.T) {
	env := day2Env()
	b := newBarrier(2)
	env.OnActivity(a.ExecCommand, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.ExecInput) (activities.StreamResult, error) {
		if err := b.wait(); err != nil {
			return activities.StreamResult{}, err
		}
		if strings.Join(in.Command, " ") != "rake db:migrate" || in.Service != "app" {
			return activities.StreamResult{}, errors.New("wrong command")
		}
		if in.Target.Host == "h2" {
			return activities.StreamResult{}, temporal.NewApplicationError("host h2, step exec in app: connection reset", activities.ErrUnreachable)
		}
		return activities.StreamResult{Index: in.Index, Host: "h1", Release: "v3", ExitCode: 3}, nil
	}).Times(2)
	env.ExecuteWorkflow(Exec, ExecInput{Spec: spec("h1", "h2"), Service: "app", Command: []string{"rake", "db:migrate"}})
	var res Day2Result
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	env.AssertExpectations(t)
	if res.Hosts[0].ExitCode != 3 || res.Hosts[0].Error != "" || res.Hosts[1].Error != "host h2, step exec in app: connection reset" {
		t.Fatalf("result %+v", res)
	}
}

func TestDay2FailureText(t *testing.T) {
	for _, c := range []struct {
		err  error
		acts bool
		want string
	}{
		{temporal.NewTimeoutError(enumspb.TIMEOUT_TYPE_HEARTBEAT, nil), true,
			"the worker running it stopped answering (killed, or cut off from Temporal) before it ended; the command may have run, in part or in full"},
		{temporal.NewTimeoutError(enumspb.TIMEOUT_TYPE_HEARTBEAT, nil), false,
			"the worker running it stopped answering (killed, or cut off from Temporal) before it ended"},
		{temporal.NewTimeoutError(enumspb.TIMEOUT_TYPE_START_TO_CLOSE, nil), true,
			"it ran past its time limit and was stopped; the command may have run, in part or in full"},
		{temporal.NewApplicationError("host h1, step logs: no current release", activities.ErrMissing), false, "host h1, step logs: no current release"},
	} {
		if got := day2Failure(c.err, c.acts); got != c.want {
			t.Errorf("%v:\n got  %s\n want %s", c.err, got, c.want)
		}
	}
}

// Anything on the task queue can start these workflows: they check their
// input and run nothing on a bad one.
func TestDay2RefusesHostileInput(t *testing.T) {
	bad := spec("h1")
	bad.RemoteBase = "/"
	for name, in := range map[string]any{
		"logs base /":        LogsInput{Spec: bad, Tail: 1},
		"logs tail 0":        LogsInput{Spec: spec("h1"), Tail: 0},
		"logs tail over":     LogsInput{Spec: spec("h1"), Tail: activities.MaxLogTail + 1},
		"logs service":       LogsInput{Spec: spec("h1"), Tail: 1, Services: []string{"--all"}},
		"logs lease short":   LogsInput{Spec: spec("h1"), Tail: 1, Follow: true, Lease: time.Millisecond},
		"logs lease long":    LogsInput{Spec: spec("h1"), Tail: 1, Follow: true, Lease: time.Hour},
		"exec no command":    ExecInput{Spec: spec("h1"), Service: "app"},
		"exec NUL":           ExecInput{Spec: spec("h1"), Service: "app", Command: []string{"a\x00"}},
		"exec service":       ExecInput{Spec: spec("h1"), Service: "-d", Command: []string{"ls"}},
		"exec timeout":       ExecInput{Spec: spec("h1"), Service: "app", Command: []string{"ls"}, Timeout: 7 * time.Hour},
		"exec base relative": ExecInput{Spec: func() config.Spec { s := spec("h1"); s.RemoteBase = "srv"; return s }(), Service: "app", Command: []string{"ls"}},
	} {
		env := day2Env() // no activity is mocked: one that ran would fail the workflow differently
		switch in := in.(type) {
		case LogsInput:
			env.ExecuteWorkflow(Logs, in)
		case ExecInput:
			env.ExecuteWorkflow(Exec, in)
		}
		var app *temporal.ApplicationError
		if err := env.GetWorkflowError(); !errors.As(err, &app) || app.Type() != activities.ErrInvalid || !app.NonRetryable() {
			t.Errorf("%s: want a non-retryable %s, got %v", name, activities.ErrInvalid, err)
		}
	}
}
