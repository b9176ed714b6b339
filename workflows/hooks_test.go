package workflows

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/hoist-dev/hoist/activities"
	"github.com/hoist-dev/hoist/config"
)

// hooked wires RunHook into the fleet's call log ("h1 RunHook before_up/backup");
// fail lists "host/position/service" that exit non-zero.
func hooked(f *fleet, fail ...string) func(*testsuite.TestWorkflowEnvironment) {
	return func(env *testsuite.TestWorkflowEnvironment) {
		env.OnActivity(a.RunHook, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.HookInput) (activities.HookResult, error) {
			f.op.Lock()
			defer f.op.Unlock()
			if err := f.log(in.Target, "RunHook", in.Position+"/"+in.Service); err != nil {
				return activities.HookResult{}, err
			}
			for _, x := range fail {
				if x == in.Target.Host+"/"+in.Position+"/"+in.Service {
					return activities.HookResult{}, temporal.NewNonRetryableApplicationError("exit status 1: migration 42 failed", activities.ErrCommand, nil)
				}
			}
			return activities.HookResult{Tail: "ok"}, nil
		})
	}
}

func withHooks(s config.Spec) config.Spec {
	s.Hooks = &config.Hooks{
		BeforeUp:  []config.Hook{{Service: "backup"}, {Service: "migrate", Once: true}},
		AfterUp:   []config.Hook{{Service: "verify"}},
		OnFailure: []config.Hook{{Service: "page", Optional: true}},
	}
	return s
}

func TestHooksRunInContractOrder(t *testing.T) {
	f := onV1("h1", "h2")
	r := deployWith(t, f, deployV2(withHooks(spec("h1", "h2"))), hooked(f))
	if r.err != nil {
		t.Fatal(r.err)
	}
	assertCalls(t, f, "h1", "SyncRelease v2", "PullImages v2", "RunHook before_up/backup", "RunHook before_up/migrate", "SwitchCurrent v2",
		"StartRelease v2", "WaitRunning v2", "RunHook after_up/verify", "MarkGood v2", "PruneReleases v2,v1")
	assertCalls(t, f, "h2", "SyncRelease v2", "PullImages v2", "RunHook before_up/backup", "SwitchCurrent v2",
		"StartRelease v2", "WaitRunning v2", "RunHook after_up/verify", "MarkGood v2", "PruneReleases v2,v1")
}

// once hooks run on the first host of the first batch only.
func TestOnceHookOnRolloutsFirstHost(t *testing.T) {
	hosts := []string{"h1", "h2", "h3"}
	f := onV1(hosts...)
	r := deployWith(t, f, deployV2(withHooks(rolloutSpec(config.Rollout{Preflight: true}, hosts...))), hooked(f))
	if r.err != nil {
		t.Fatal(r.err)
	}
	for _, h := range hosts {
		n := strings.Count(strings.Join(calls(f, h), ","), "before_up/migrate")
		if want := map[string]int{"h1": 1}[h]; n != want {
			t.Errorf("%s ran the once hook %d times, want %d: %v", h, n, want, calls(f, h))
		}
	}
}

// A failing before_up hook fails its host before anything there changed;
// the host before it is put back.
func TestBeforeUpHookFailureChangesNothing(t *testing.T) {
	f := onV1("h1", "h2")
	r := deployWith(t, f, deployV2(withHooks(spec("h1", "h2"))), hooked(f, "h2/before_up/backup"))
	msg, d := failureOf(t, r.err)
	if d.Host != "h2" || d.Step != "hook before_up backup" || !strings.Contains(msg, "migration 42 failed") {
		t.Fatalf("message %q details %+v", msg, d)
	}
	for _, c := range calls(f, "h2") {
		if strings.HasPrefix(c, "SwitchCurrent") || strings.HasPrefix(c, "StartRelease") {
			t.Errorf("h2 was changed after its before_up hook failed: %v", calls(f, "h2"))
		}
	}
	if got := currents(f, "h1", "h2"); got != "h1=v1 h2=v1" {
		t.Fatalf("hosts %s", got)
	}
}

// A failing after_up hook fails the host like a failed running check:
// the release is marked failed and the host rolled back; on_failure runs
// there afterwards, and its own failure is only noted.
func TestAfterUpHookFailureRollsBack(t *testing.T) {
	f := onV1("h1")
	r := deployWith(t, f, deployV2(withHooks(spec("h1"))), hooked(f, "h1/after_up/verify", "h1/on_failure/page"))
	msg, d := failureOf(t, r.err)
	if d.RolledBackTo != "v1" || d.Step != "hook after_up verify" || len(d.Notices) != 1 || !strings.Contains(msg, "hook on_failure page failed") {
		t.Fatalf("message %q details %+v", msg, d)
	}
	c := strings.Join(calls(f, "h1"), ", ")
	if !strings.Contains(c, "RunHook after_up/verify, MarkFailed v2") || !strings.HasSuffix(c, "WaitRunning v1, RunHook on_failure/page") {
		t.Fatalf("calls: %s", c)
	}
	if got := currents(f, "h1"); got != "h1=v1" {
		t.Fatalf("hosts %s", got)
	}
}

func TestOptionalHookWarns(t *testing.T) {
	f := onV1("h1")
	s := spec("h1")
	s.Hooks = &config.Hooks{AfterUp: []config.Hook{{Service: "smoke", Optional: true}}}
	r := deployWith(t, f, deployV2(s), hooked(f, "h1/after_up/smoke"))
	if r.err != nil || r.res.Outcome != OutcomeWarning || len(r.res.Warnings) != 1 || !strings.Contains(r.res.Warnings[0], "hook after_up smoke failed (required: false)") {
		t.Fatalf("err %v result %+v", r.err, r.res)
	}
	if got := currents(f, "h1"); got != "h1=v2" {
		t.Fatalf("hosts %s", got)
	}
}

// A rollback ships no release: no hook runs.
func TestRollbackRunsNoHooks(t *testing.T) {
	f := newFleet("h1")
	f.seed("h1", "v2", "v1", "v2")
	r := deployWith(t, f, DeployInput{Spec: withHooks(spec("h1")), Version: "v1", Kind: KindRollback}, hooked(f))
	if r.err != nil || strings.Contains(strings.Join(f.calls, ","), "RunHook") {
		t.Fatalf("err %v calls %v", r.err, f.calls)
	}
}
