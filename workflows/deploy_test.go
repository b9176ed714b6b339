package workflows

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/hoist-dev/hoist/activities"
	"github.com/hoist-dev/hoist/commands"
	"github.com/hoist-dev/hoist/config"
)

// fakeHost is one host as the activities would find it.
type fakeHost struct {
	current  string
	releases map[string]bool // version -> failed
	good     map[string]bool // version -> passed its running check here
	running  string          // release whose containers run
}

// fleet models the hosts so the workflow is tested against behaviour,
// not a script of calls: activities change it the way the real ones
// change a host, and every call is logged in order.
type fleet struct {
	op      sync.Mutex // held by each activity: a rollout runs hosts at once
	mu      sync.Mutex
	hosts   map[string]*fakeHost
	verdict map[string]string // "host/version" -> verdict WaitRunning reports (default healthy)
	failOn  map[string]error  // "host/Activity/version" -> error
	calls   []string
	onWait  func() // runs when WaitRunning is called, e.g. to cancel
	// before runs, outside op, as InspectHost and SwitchCurrent are called:
	// a test can hold a host's step there to see what runs beside it.
	before func(activity, host string)
	// wireFirst mocks activities before wire does (the first mock of an
	// activity is the one used): the slot fleet's own WaitRunning.
	wireFirst func(*testsuite.TestWorkflowEnvironment)
	waits     []activities.WaitInput
	syncs     []activities.SyncInput
	// unchecked: "host/version" -> what WaitRunning says of services
	// outside services:
	unchecked map[string]string
}

func newFleet(hosts ...string) *fleet {
	f := &fleet{hosts: map[string]*fakeHost{}, verdict: map[string]string{}, failOn: map[string]error{}, unchecked: map[string]string{}}
	for _, h := range hosts {
		f.hosts[h] = &fakeHost{releases: map[string]bool{}, good: map[string]bool{}}
	}
	return f
}

func (f *fleet) seed(host string, current string, versions ...string) {
	h := f.hosts[host]
	for _, v := range versions {
		h.releases[v] = false
		h.good[v] = true // seeded releases were deployed and checked
	}
	h.current, h.running = current, current
}

func (f *fleet) log(t activities.Target, name, version string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, t.Host+" "+name+" "+version)
	if err := f.failOn[t.Host+"/"+name+"/"+version]; err != nil {
		return err
	}
	return nil
}

func (f *fleet) state(h *fakeHost) commands.State {
	st := commands.State{Current: h.current}
	var vs []string
	for v := range h.releases {
		vs = append(vs, v)
	}
	commands.SortNewestFirst(vs)
	for _, v := range vs {
		st.Releases = append(st.Releases, commands.Release{Version: v, Failed: h.releases[v], Good: h.good[v]})
	}
	return st
}

func (f *fleet) wire(env *testsuite.TestWorkflowEnvironment) {
	any := mock.Anything
	env.OnActivity(a.InspectHost, any, any).Return(func(_ context.Context, t activities.Target) (commands.State, error) {
		if f.before != nil {
			f.before("InspectHost", t.Host)
		}
		f.op.Lock()
		defer f.op.Unlock()
		if err := f.log(t, "InspectHost", ""); err != nil {
			return commands.State{}, err
		}
		return f.state(f.hosts[t.Host]), nil
	})
	env.OnActivity(a.SyncRelease, any, any).Return(func(_ context.Context, in activities.SyncInput) (activities.SyncResult, error) {
		f.op.Lock()
		defer f.op.Unlock()
		if err := f.log(in.Target, "SyncRelease", in.Version); err != nil {
			return activities.SyncResult{}, err
		}
		f.syncs = append(f.syncs, in)
		h := f.hosts[in.Target.Host]
		_, had := h.releases[in.Version]
		if !had {
			h.releases[in.Version] = false
		}
		return activities.SyncResult{Uploaded: !had}, nil
	})
	env.OnActivity(a.SwitchCurrent, any, any).Return(func(_ context.Context, in activities.ReleaseInput) error {
		if f.before != nil {
			f.before("SwitchCurrent", in.Target.Host)
		}
		f.op.Lock()
		defer f.op.Unlock()
		if err := f.log(in.Target, "SwitchCurrent", in.Version); err != nil {
			return err
		}
		f.hosts[in.Target.Host].current = in.Version
		return nil
	})
	env.OnActivity(a.RegistryLogin, any, any).Return(func(_ context.Context, in activities.LoginInput) (activities.LoginResult, error) {
		f.op.Lock()
		defer f.op.Unlock()
		return activities.LoginResult{Server: in.Registry.Server}, f.log(in.Target, "RegistryLogin", in.Registry.Server)
	})
	env.OnActivity(a.SaveLogs, any, any).Return(func(_ context.Context, in activities.SaveLogsInput) (activities.SaveLogsResult, error) {
		f.op.Lock()
		defer f.op.Unlock()
		if err := f.log(in.Target, "SaveLogs", in.Version); err != nil {
			return activities.SaveLogsResult{}, err
		}
		return activities.SaveLogsResult{Path: in.Target.Base + "/" + in.Version + "/.hoist-logs/" + in.Name + ".log"}, nil
	})
	env.OnActivity(a.CheckRegistry, any, any).Return(func(_ context.Context, in activities.RegistryCheckInput) error {
		f.op.Lock()
		defer f.op.Unlock()
		f.mu.Lock()
		defer f.mu.Unlock()
		f.calls = append(f.calls, "worker CheckRegistry "+in.Server)
		return f.failOn["worker/CheckRegistry/"+in.Server]
	})
	env.OnActivity(a.PullImages, any, any).Return(func(_ context.Context, in activities.ReleaseInput) error {
		f.op.Lock()
		defer f.op.Unlock()
		return f.log(in.Target, "PullImages", in.Version)
	})
	env.OnActivity(a.StartRelease, any, any).Return(func(_ context.Context, in activities.ReleaseInput) (activities.StartResult, error) {
		f.op.Lock()
		defer f.op.Unlock()
		if err := f.log(in.Target, "StartRelease", in.Version); err != nil {
			return activities.StartResult{}, err
		}

		f.hosts[in.Target.Host].running = in.Version
		return activities.StartResult{}, nil
	})
	env.OnActivity(a.StopRelease, any, any).Return(func(_ context.Context, in activities.ReleaseInput) error {
		f.op.Lock()
		defer f.op.Unlock()
		if err := f.log(in.Target, "StopRelease", in.Version); err != nil {
			return err
		}
		f.hosts[in.Target.Host].running = ""
		return nil
	})
	env.OnActivity(a.WaitRunning, any, any).Return(func(_ context.Context, in activities.WaitInput) (activities.WaitResult, error) {
		f.op.Lock()
		defer f.op.Unlock()
		if f.onWait != nil {
			f.onWait()
		}
		if err := f.log(in.Target, "WaitRunning", in.Version); err != nil {
			return activities.WaitResult{}, err
		}
		f.waits = append(f.waits, in)
		v := f.verdict[in.Target.Host+"/"+in.Version]
		if v == "" {
			v = "healthy"
		}
		return activities.WaitResult{Verdict: v, Detail: "containers are " + v, Unchecked: f.unchecked[in.Target.Host+"/"+in.Version]}, nil
	})
	env.OnActivity(a.HaltRelease, any, any).Return(func(_ context.Context, in activities.ReleaseInput) error {
		f.op.Lock()
		defer f.op.Unlock()
		if err := f.log(in.Target, "HaltRelease", in.Version); err != nil {
			return err
		}
		f.hosts[in.Target.Host].running = ""
		return nil
	})
	env.OnActivity(a.MarkFailed, any, any).Return(func(_ context.Context, in activities.ReleaseInput) error {
		f.op.Lock()
		defer f.op.Unlock()
		if err := f.log(in.Target, "MarkFailed", in.Version); err != nil {
			return err
		}
		h := f.hosts[in.Target.Host]
		if _, ok := h.releases[in.Version]; ok {
			h.releases[in.Version] = true
			delete(h.good, in.Version)
		}
		return nil
	})
	env.OnActivity(a.MarkGood, any, any).Return(func(_ context.Context, in activities.MarkGoodInput) error {
		f.op.Lock()
		defer f.op.Unlock()
		if err := f.log(in.Target, "MarkGood", in.Version); err != nil {
			return err
		}
		h := f.hosts[in.Target.Host]
		h.releases[in.Version] = false
		h.good[in.Version] = true
		return nil
	})
	env.OnActivity(a.ClearFailed, any, any).Return(func(_ context.Context, in activities.ReleaseInput) error {
		f.op.Lock()
		defer f.op.Unlock()
		if err := f.log(in.Target, "ClearFailed", in.Version); err != nil {
			return err
		}
		f.hosts[in.Target.Host].releases[in.Version] = false
		return nil
	})
	env.OnActivity(a.PruneReleases, any, any).Return(func(_ context.Context, in activities.PruneInput) (activities.PruneResult, error) {
		f.op.Lock()
		defer f.op.Unlock()
		if err := f.log(in.Target, "PruneReleases", strings.Join(in.Protect, ",")); err != nil {
			return activities.PruneResult{}, err
		}
		h := f.hosts[in.Target.Host]
		doomed := f.state(h).Prunable(in.Keep, in.Protect...)
		for _, v := range doomed {
			delete(h.releases, v)
		}
		return activities.PruneResult{Removed: doomed}, nil
	})
}

func spec(hosts ...string) config.Spec {
	s := config.Spec{
		Service: "web", RemoteBase: "/srv/web", ComposeFile: "compose.yaml",
		Wait:         config.Wait{Retries: 6, Delay: 5 * time.Second},
		Health:       config.Health{Unhealthy: "warn"},
		KeepReleases: 3,
	}
	for _, h := range hosts {
		s.Hosts = append(s.Hosts, config.Host{Address: h})
	}
	return s
}

type run struct {
	env *testsuite.TestWorkflowEnvironment
	res DeployResult
	err error
}

func deployWith(t *testing.T, f *fleet, in DeployInput, setup ...func(*testsuite.TestWorkflowEnvironment)) run {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	env.RegisterActivity(&activities.Activities{})
	env.RegisterWorkflowWithOptions(DeployHost, workflow.RegisterOptions{Name: DeployHostWorkflowName})
	if f.wireFirst != nil {
		f.wireFirst(env)
	}
	f.wire(env)
	for _, s := range setup {
		s(env)
	}
	env.ExecuteWorkflow(Deploy, in)
	if !env.IsWorkflowCompleted() {
		t.Fatal("workflow did not complete")
	}
	r := run{env: env, err: env.GetWorkflowError()}
	if r.err == nil {
		if err := env.GetWorkflowResult(&r.res); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

func failureOf(t *testing.T, err error) (string, FailureDetails) {
	t.Helper()
	var app *temporal.ApplicationError
	if !errors.As(err, &app) || app.Type() != FailureType {
		t.Fatalf("want a %s error, got %v", FailureType, err)
	}
	var d FailureDetails
	if err := app.Details(&d); err != nil {
		t.Fatal(err)
	}
	return app.Message(), d
}

func calls(f *fleet, host string) []string {
	var out []string
	for _, c := range f.calls {
		if strings.HasPrefix(c, host+" ") && !strings.Contains(c, "InspectHost") {
			out = append(out, strings.TrimPrefix(c, host+" "))
		}
	}
	return out
}

func assertCalls(t *testing.T, f *fleet, host string, want ...string) {
	t.Helper()
	got := calls(f, host)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("%s: calls\n  got  %q\n  want %q", host, got, want)
	}
}

func TestDeploySuccessKeepsPreviousAsRollbackTarget(t *testing.T) {
	f := newFleet("h1")
	f.seed("h1", "v3", "v1", "v2", "v3")
	r := deployWith(t, f, DeployInput{Spec: spec("h1"), Version: "v4", Bundle: []byte("b")})
	if r.err != nil {
		t.Fatal(r.err)
	}
	assertCalls(t, f, "h1", "SyncRelease v4", "PullImages v4", "SwitchCurrent v4", "StartRelease v4", "WaitRunning v4", "MarkGood v4", "PruneReleases v4,v3")
	h := f.hosts["h1"]
	if h.current != "v4" || h.running != "v4" {
		t.Fatalf("host: %+v", h)
	}
	if _, ok := h.releases["v1"]; ok || len(h.releases) != 3 {
		t.Fatalf("retention kept %v, want v2 v3 v4", h.releases)
	}
	if r.res.Outcome != OutcomeDeployed || r.res.Hosts[0].Previous != "v3" || strings.Join(r.res.Hosts[0].Pruned, ",") != "v1" {
		t.Fatalf("result %+v", r.res)
	}
}

func TestRegistryLoginRunsBeforePull(t *testing.T) {
	f := newFleet("h1")
	s := spec("h1")
	s.Registry = config.Registry{Type: config.RegistryLogin, Server: "reg:5000"}
	r := deployWith(t, f, DeployInput{Spec: s, Version: "v1", Bundle: []byte("b")})
	if r.err != nil {
		t.Fatal(r.err)
	}
	if f.calls[0] != "worker CheckRegistry reg:5000" {
		t.Fatalf("the worker's credential is checked first, before any host: calls %v", f.calls)
	}
	assertCalls(t, f, "h1", "SyncRelease v1", "RegistryLogin reg:5000", "PullImages v1", "SwitchCurrent v1", "StartRelease v1", "WaitRunning v1", "MarkGood v1", "PruneReleases v1")
}

func TestCrashRollsBackToPrevious(t *testing.T) {
	f := newFleet("h1")
	f.seed("h1", "v1", "v1")
	f.verdict["h1/v2"] = "crashed"
	r := deployWith(t, f, DeployInput{Spec: spec("h1"), Version: "v2", Bundle: []byte("b")})
	msg, d := failureOf(t, r.err)
	assertCalls(t, f, "h1", "SyncRelease v2", "PullImages v2", "SwitchCurrent v2", "StartRelease v2", "WaitRunning v2",
		"MarkFailed v2", "SaveLogs v2", "StopRelease v2", "SwitchCurrent v1", "StartRelease v1", "WaitRunning v1")
	if !strings.Contains(msg, "❌ Deployment of version v2 failed! Rolled back to v1.") || d.RolledBackTo != "v1" || d.Host != "h1" || d.Step != "wait running" ||
		len(d.Logs) != 1 || !strings.Contains(msg, " — logs of the failed containers are kept on the host: h1: /srv/web/v2/.hoist-logs/") {
		t.Fatalf("message %q details %+v", msg, d)
	}
	h := f.hosts["h1"]
	if h.current != "v1" || h.running != "v1" || !h.releases["v2"] {
		t.Fatalf("host after rollback: %+v", h)
	}
}

func TestCrashOnFirstDeployHasNothingToRollBackTo(t *testing.T) {
	f := newFleet("h1")
	f.verdict["h1/v1"] = "crashed"
	r := deployWith(t, f, DeployInput{Spec: spec("h1"), Version: "v1", Bundle: []byte("b")})
	msg, d := failureOf(t, r.err)
	if !d.NothingToRollBackTo || d.RolledBackTo != "" || !strings.Contains(msg, "Nothing to roll back to") {
		t.Fatalf("message %q details %+v", msg, d)
	}
	assertCalls(t, f, "h1", "SyncRelease v1", "PullImages v1", "SwitchCurrent v1", "StartRelease v1", "WaitRunning v1", "MarkFailed v1", "HaltRelease v1")
}

func TestUnhealthyWarnsOrRollsBack(t *testing.T) {
	f := newFleet("h1")
	f.seed("h1", "v1", "v1")
	f.verdict["h1/v2"] = "unhealthy"
	r := deployWith(t, f, DeployInput{Spec: spec("h1"), Version: "v2", Bundle: []byte("b")})
	if r.err != nil || r.res.Outcome != OutcomeWarning || len(r.res.Warnings) != 1 {
		t.Fatalf("warn policy: err %v result %+v", r.err, r.res)
	}
	if f.hosts["h1"].current != "v2" {
		t.Fatal("a warning must not roll back")
	}

	f = newFleet("h1")
	f.seed("h1", "v1", "v1")
	f.verdict["h1/v2"] = "unhealthy"
	s := spec("h1")
	s.Health.Unhealthy = "rollback"
	r = deployWith(t, f, DeployInput{Spec: s, Version: "v2", Bundle: []byte("b")})
	_, d := failureOf(t, r.err)
	if d.RolledBackTo != "v1" || f.hosts["h1"].current != "v1" {
		t.Fatalf("rollback policy: details %+v host %+v", d, f.hosts["h1"])
	}
}

func TestNotRunningAtEndOfWindowFails(t *testing.T) {
	f := newFleet("h1")
	f.seed("h1", "v1", "v1")
	f.verdict["h1/v2"] = "pending"
	r := deployWith(t, f, DeployInput{Spec: spec("h1"), Version: "v2", Bundle: []byte("b")})
	_, d := failureOf(t, r.err)
	if d.RolledBackTo != "v1" {
		t.Fatalf("details %+v", d)
	}
}

func TestSecondHostFailureRollsBackBoth(t *testing.T) {
	f := newFleet("h1", "h2")
	f.seed("h1", "v1", "v1")
	f.seed("h2", "v1", "v1")
	f.verdict["h2/v2"] = "crashed"
	r := deployWith(t, f, DeployInput{Spec: spec("h1", "h2"), Version: "v2", Bundle: []byte("b")})
	_, d := failureOf(t, r.err)
	if d.Host != "h2" || d.RolledBackTo != "v1" {
		t.Fatalf("details %+v", d)
	}
	for _, h := range []string{"h1", "h2"} {
		if got := f.hosts[h]; got.current != "v1" || got.running != "v1" {
			t.Fatalf("%s after rollback: %+v", h, got)
		}
	}
	// v2 failed its check on h2 only; on h1 it passed, and stays good there.
	if !f.hosts["h2"].releases["v2"] || f.hosts["h1"].releases["v2"] || !f.hosts["h1"].good["v2"] {
		t.Fatalf("marks: h1 %+v h2 %+v", f.hosts["h1"], f.hosts["h2"])
	}
	// h2 (the failing host) is undone before h1.
	var order []string
	for _, c := range f.calls {
		if strings.Contains(c, "StopRelease") {
			order = append(order, c)
		}
	}
	if strings.Join(order, ",") != "h2 StopRelease v2,h1 StopRelease v2" {
		t.Fatalf("compensation order %v", order)
	}
}

func TestRollbackThatFailsTooSaysHowToRecover(t *testing.T) {
	f := newFleet("h1")
	f.seed("h1", "v1", "v1")
	f.verdict["h1/v2"] = "crashed"
	f.verdict["h1/v1"] = "crashed"
	r := deployWith(t, f, DeployInput{Spec: spec("h1"), Version: "v2", Bundle: []byte("b")})
	msg, d := failureOf(t, r.err)
	if !d.RollbackFailed || len(d.Recovery) != 1 || !strings.Contains(d.Recovery[0], "host h1") ||
		!strings.Contains(d.Recovery[0], "mv -T .current.tmp current") || !strings.Contains(msg, "FAILED too") {
		t.Fatalf("message %q details %+v", msg, d)
	}
	// Issue 8 §4: the release that failed its check is marked failed
	// whatever the rollback did next.
	if !f.hosts["h1"].releases["v2"] {
		t.Fatalf("v2 is not marked failed after a failed rollback (calls %v)", calls(f, "h1"))
	}
}

func TestRedeployOfCurrentIsNotItsOwnRollbackTarget(t *testing.T) {
	f := newFleet("h1")
	f.seed("h1", "v2", "v1", "v2")
	f.verdict["h1/v2"] = "crashed"
	r := deployWith(t, f, DeployInput{Spec: spec("h1"), Version: "v2", Bundle: []byte("b")})
	_, d := failureOf(t, r.err)
	if d.RolledBackTo != "v1" || f.hosts["h1"].current != "v1" {
		t.Fatalf("details %+v host %+v", d, f.hosts["h1"])
	}
}

func TestRollbackTargetSkipsFailedReleases(t *testing.T) {
	st := commands.State{Current: "v3", Releases: []commands.Release{{Version: "v3"}, {Version: "v2", Failed: true}, {Version: "v1"}}}
	cases := []struct{ version, want string }{{"v4", "v3"}, {"v3", "v1"}}
	for _, c := range cases {
		if got := rollbackTargetV0(st, c.version); got != c.want {
			t.Errorf("rollbackTargetV0(%s) = %q, want %q", c.version, got, c.want)
		}
	}
	if got := rollbackTargetV0(commands.State{}, "v1"); got != "" {
		t.Errorf("first deploy: %q", got)
	}
}

func TestManualRollback(t *testing.T) {
	f := newFleet("h1")
	f.seed("h1", "v3", "v1", "v2", "v3")
	r := deployWith(t, f, DeployInput{Spec: spec("h1"), Version: "v2", Kind: KindRollback})
	if r.err != nil {
		t.Fatal(r.err)
	}
	assertCalls(t, f, "h1", "PullImages v2", "SwitchCurrent v2", "StartRelease v2", "WaitRunning v2", "MarkGood v2", "PruneReleases v2,v3")
	if f.hosts["h1"].current != "v2" {
		t.Fatalf("host %+v", f.hosts["h1"])
	}

	f = newFleet("h1")
	f.seed("h1", "v3", "v3")
	r = deployWith(t, f, DeployInput{Spec: spec("h1"), Version: "v9", Kind: KindRollback})
	msg, _ := failureOf(t, r.err)
	if !strings.Contains(msg, "release v9 is not on host h1") || f.hosts["h1"].current != "v3" {
		t.Fatalf("missing target: %q", msg)
	}
}

// cancelDuringWait deploys v2 over v1 on h1 and cancels the deploy when
// its running check starts; it returns the cancellation.
func cancelDuringWait(t *testing.T, f *fleet) *temporal.CanceledError {
	t.Helper()
	var env *testsuite.TestWorkflowEnvironment
	cancelled := false
	f.onWait = func() {
		if !cancelled {
			cancelled = true
			env.CancelWorkflow()
		}
	}
	r := deployWith(t, f, DeployInput{Spec: spec("h1"), Version: "v2", Bundle: []byte("b")}, func(e *testsuite.TestWorkflowEnvironment) { env = e })
	var canceled *temporal.CanceledError
	if !errors.As(r.err, &canceled) {
		t.Fatalf("want cancelled, got %v", r.err)
	}
	return canceled
}

func TestCancelDuringWaitCompensates(t *testing.T) {
	f := newFleet("h1")
	f.seed("h1", "v1", "v1")
	cancelDuringWait(t, f)
	h := f.hosts["h1"]
	if h.current != "v1" || h.running != "v1" {
		t.Fatalf("after cancel the previous release must serve: %+v (calls %v)", h, f.calls)
	}
}

func TestProgressQueryListsSteps(t *testing.T) {
	f := newFleet("h1")
	r := deployWith(t, f, DeployInput{Spec: spec("h1"), Version: "v1", Bundle: []byte("b")})
	v, err := r.env.QueryWorkflow(ProgressQuery)
	if err != nil {
		t.Fatal(err)
	}
	var p Progress
	if err := v.Get(&p); err != nil {
		t.Fatal(err)
	}
	var steps []string
	for _, e := range p.Events {
		steps = append(steps, fmt.Sprintf("%s:%s:%s", e.Host, e.Step, e.State))
	}
	want := "h1:inspect:ok h1:sync:ok h1:pull:ok h1:switch current:ok h1:up:ok h1:wait running:ok h1:mark good:ok h1:prune releases:ok"
	if strings.Join(steps, " ") != want || p.Phase != "done" {
		t.Fatalf("progress %q phase %s", steps, p.Phase)
	}
}
