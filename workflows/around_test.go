package workflows

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/hoist-dev/hoist/activities"
	"github.com/hoist-dev/hoist/config"
	"github.com/hoist-dev/hoist/notify"
	"github.com/hoist-dev/hoist/window"
)

// outbox records the notifications a deploy sent, in order.
type outbox struct {
	mu      sync.Mutex
	sent    []activities.NotifyInput
	fail    map[notify.Event]error // an event whose sending fails
	unknown string                 // a notifier the worker lacks
}

func (o *outbox) wire(env *testsuite.TestWorkflowEnvironment) {
	env.OnActivity(a.CheckNotifiers, mock.Anything, mock.Anything).Return(func(_ context.Context, names []string) error {
		for _, n := range names {
			if n == o.unknown {
				return temporal.NewNonRetryableApplicationError(`notify: no notifier "`+n+`" on this worker`, activities.ErrInvalid, nil)
			}
		}
		return nil
	})
	env.OnActivity(a.Notify, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.NotifyInput) (activities.NotifyResult, error) {
		o.mu.Lock()
		defer o.mu.Unlock()
		if err := o.fail[in.Message.Event]; err != nil {
			return activities.NotifyResult{}, err
		}
		o.sent = append(o.sent, in)
		return activities.NotifyResult{}, nil
	})
}

// events lists what was sent in the order of allEvents, not of sending:
// the deploy does not wait for a message, so two of them run side by side
// and the test environment may finish the later one first.
func (o *outbox) events() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var evs []string
	for _, m := range o.sent {
		evs = append(evs, m.To+":"+string(m.Message.Event))
	}
	rank := func(e string) int { return slices.Index(allEvents, e[strings.Index(e, ":")+1:]) }
	slices.SortStableFunc(evs, func(a, b string) int { return rank(a) - rank(b) })
	return strings.Join(evs, " ")
}

// message is the one message sent for ev.
func (o *outbox) message(t *testing.T, ev notify.Event) notify.Message {
	t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, in := range o.sent {
		if in.Message.Event == ev {
			return in.Message
		}
	}
	t.Fatalf("no %s message sent", ev)
	return notify.Message{}
}

var allEvents = []string{"started", "awaiting_approval", "failed", "rolled_back", "succeeded"}

// Mon 2026-12-07 09:59:30 UTC: half a minute before a 10:00-10:01 window.
var beforeWindow = time.Date(2026, 12, 7, 9, 59, 30, 0, time.UTC)

func windowed(s config.Spec, outside string) config.Spec {
	s.Windows = &window.Spec{Timezone: "UTC", Allow: []string{"Mon 10:00-10:01"}, Outside: outside}
	return s
}

// progressAt queries the deploy's progress at workflow time after, and
// records the host calls made by then.
func progressAt(t *testing.T, f *fleet, after time.Duration, got *Progress, calls *[]string) func(*testsuite.TestWorkflowEnvironment) {
	return func(env *testsuite.TestWorkflowEnvironment) {
		env.RegisterDelayedCallback(func() {
			v, err := env.QueryWorkflow(ProgressQuery)
			if err != nil {
				t.Errorf("progress query: %v", err)
				return
			}
			if err := v.Get(got); err != nil {
				t.Error(err)
			}
			f.mu.Lock()
			*calls = append([]string(nil), f.calls...)
			f.mu.Unlock()
		}, after)
	}
}

func TestWindowHoldsDeployUntilItOpens(t *testing.T) {
	for name, s := range map[string]config.Spec{
		"host by host": windowed(spec("h1", "h2"), "wait"),
		"rollout":      windowed(rolloutSpec(config.Rollout{Preflight: true}, "h1", "h2"), "wait"),
	} {
		t.Run(name, func(t *testing.T) {
			f := onV1("h1", "h2")
			var p Progress
			var early []string
			r := deployWith(t, f, deployV2(s), func(e *testsuite.TestWorkflowEnvironment) { e.SetStartTime(beforeWindow) },
				progressAt(t, f, 20*time.Second, &p, &early))
			if r.err != nil {
				t.Fatal(r.err)
			}
			if p.Phase != PhaseWindowWait || !p.Until.Equal(beforeWindow.Add(30*time.Second)) || len(early) != 0 {
				t.Errorf("20 s in: phase %q until %v, host calls %v; want waiting for window until 10:00, no call", p.Phase, p.Until, early)
			}
			if got := currents(f, "h1", "h2"); got != "h1=v2 h2=v2" {
				t.Fatalf("hosts %s", got)
			}
		})
	}
}

func TestWindowRefusesOutside(t *testing.T) {
	f := onV1("h1")
	r := deployWith(t, f, deployV2(windowed(spec("h1"), "refuse")), func(e *testsuite.TestWorkflowEnvironment) { e.SetStartTime(beforeWindow) })
	msg, d := failureOf(t, r.err)
	if !d.Refused || d.Step != "deploy window" || !strings.Contains(msg, "outside its deploy windows (outside: refuse)") ||
		!strings.Contains(msg, "nothing was touched") || !strings.Contains(msg, "--ignore-window --reason") {
		t.Fatalf("message %q details %+v", msg, d)
	}
	if len(f.calls) != 0 {
		t.Fatalf("a refused deploy touched hosts: %v", f.calls)
	}
}

func TestWindowOverriddenWithReason(t *testing.T) {
	f := onV1("h1")
	in := deployV2(windowed(spec("h1"), "refuse"))
	in.WindowOverride = &WindowOverride{Reason: "hotfix for INC-42", By: "alice@laptop"}
	r := deployWith(t, f, in, func(e *testsuite.TestWorkflowEnvironment) { e.SetStartTime(beforeWindow) })
	if r.err != nil || currents(f, "h1") != "h1=v2" {
		t.Fatalf("err %v, hosts %s", r.err, currents(f, "h1"))
	}
	in.WindowOverride.Reason = " "
	if err := in.Validate(); err == nil || !strings.Contains(err.Error(), "--ignore-window needs --reason") {
		t.Fatalf("an override without a reason: %v", err)
	}
}

// A rollback is never held by a window, not even a freeze.
func TestRollbackInsideFreeze(t *testing.T) {
	f := newFleet("h1")
	f.seed("h1", "v2", "v1", "v2")
	s := spec("h1")
	s.Windows = &window.Spec{Timezone: "UTC", Freeze: []string{"2026-12-01/2026-12-31"}, Outside: "refuse"}
	r := deployWith(t, f, DeployInput{Spec: s, Version: "v1", Kind: KindRollback}, func(e *testsuite.TestWorkflowEnvironment) { e.SetStartTime(beforeWindow) })
	if r.err != nil || currents(f, "h1") != "h1=v1" {
		t.Fatalf("err %v, hosts %s", r.err, currents(f, "h1"))
	}
}

// A rollout's next batch waits for the window too.
func TestWindowHoldsNextBatch(t *testing.T) {
	f := onV1("h1", "h2")
	s := rolloutSpec(config.Rollout{Preflight: true, ApproveAfter: []int{1}}, "h1", "h2") // batches [1, 100%]
	// 09:59:30 is inside a window that closes at 10:00 and opens again at
	// 10:05; batch 1 is approved at 10:00:30.
	s.Windows = &window.Spec{Timezone: "UTC", Allow: []string{"Mon 09:00-10:00", "Mon 10:05-11:00"}}
	var p Progress
	var early []string
	var seen string
	r := deployWith(t, f, deployV2(s), func(e *testsuite.TestWorkflowEnvironment) { e.SetStartTime(beforeWindow) },
		decideAt(time.Minute, true, f, &seen, "h1", "h2"), progressAt(t, f, 2*time.Minute, &p, &early))
	if r.err != nil {
		t.Fatal(r.err)
	}
	if p.Phase != PhaseWindowWait || !p.Until.Equal(time.Date(2026, 12, 7, 10, 5, 0, 0, time.UTC)) {
		t.Errorf("2 min in: phase %q until %v", p.Phase, p.Until)
	}
	for _, c := range early {
		if strings.HasPrefix(c, "h2 SwitchCurrent") {
			t.Errorf("batch 2 switched before its window: %v", early)
		}
	}
	if got := currents(f, "h1", "h2"); got != "h1=v2 h2=v2" {
		t.Fatalf("hosts %s", got)
	}
}

func TestAtWaitsThenDeploys(t *testing.T) {
	f := onV1("h1")
	in := deployV2(spec("h1"))
	at := beforeWindow.Add(time.Hour)
	in.At = &at
	var p Progress
	var early []string
	r := deployWith(t, f, in, func(e *testsuite.TestWorkflowEnvironment) { e.SetStartTime(beforeWindow) },
		progressAt(t, f, 30*time.Minute, &p, &early))
	if r.err != nil || currents(f, "h1") != "h1=v2" {
		t.Fatalf("err %v hosts %s", r.err, currents(f, "h1"))
	}
	if p.Phase != PhaseScheduled || !p.Until.Equal(at) || len(early) != 0 {
		t.Errorf("30 min in: phase %q until %v calls %v", p.Phase, p.Until, early)
	}
}

func TestCancelBeforeAtTouchesNothing(t *testing.T) {
	f := onV1("h1")
	in := deployV2(spec("h1"))
	at := beforeWindow.Add(time.Hour)
	in.At = &at
	r := deployWith(t, f, in, func(e *testsuite.TestWorkflowEnvironment) {
		e.SetStartTime(beforeWindow)
		e.RegisterDelayedCallback(e.CancelWorkflow, 10*time.Minute)
	})
	var c *temporal.CanceledError
	if !errors.As(r.err, &c) || len(f.calls) != 0 {
		t.Fatalf("err %v, calls %v", r.err, f.calls)
	}
}

func notified(s config.Spec, to string) config.Spec {
	s.Notify = []config.NotifyRule{{To: to, On: allEvents}}
	return s
}

func TestNotifyStartedAndSucceeded(t *testing.T) {
	f := onV1("h1", "h2")
	var o outbox
	r := deployWith(t, f, deployV2(notified(spec("h1", "h2"), "ops")), o.wire)
	if r.err != nil {
		t.Fatal(r.err)
	}
	if got := o.events(); got != "ops:started ops:succeeded" {
		t.Fatalf("sent %s", got)
	}
	m := o.message(t, notify.EventSucceeded)
	if m.Service != "web" || m.Version != "v2" || strings.Join(m.Hosts, ",") != "h1,h2" || m.Outcome != OutcomeDeployed ||
		!strings.HasSuffix(m.Key, "/succeeded") || o.message(t, notify.EventStarted).Key == m.Key {
		t.Fatalf("message %+v", m)
	}
}

func TestNotifyRolledBack(t *testing.T) {
	f := onV1("h1")
	f.verdict["h1/v2"] = "crashed"
	var o outbox
	r := deployWith(t, f, deployV2(notified(spec("h1"), "ops")), o.wire)
	if _, d := failureOf(t, r.err); d.RolledBackTo != "v1" {
		t.Fatalf("details %+v", d)
	}
	if got := o.events(); got != "ops:started ops:rolled_back" {
		t.Fatalf("sent %s", got)
	}
	if m := o.message(t, notify.EventRolledBack); m.Outcome != "rolled back to v1" || !strings.Contains(m.Cause, "crashed") {
		t.Fatalf("message %+v", m)
	}
}

// A notifier that fails changes no outcome and hides no error: the deploy
// succeeds with a warning naming it.
func TestNotifyFailureIsAWarning(t *testing.T) {
	f := onV1("h1")
	o := outbox{fail: map[notify.Event]error{notify.EventSucceeded: temporal.NewNonRetryableApplicationError("notify ops (succeeded): HTTP 404", activities.ErrNotify, nil)}}
	r := deployWith(t, f, deployV2(notified(spec("h1"), "ops")), o.wire)
	if r.err != nil || r.res.Outcome != OutcomeDeployed || len(r.res.Notices) != 1 || !strings.Contains(r.res.Notices[0], "notify ops (succeeded) failed: ") {
		t.Fatalf("err %v result %+v", r.err, r.res)
	}
	f2 := onV1("h1")
	f2.verdict["h1/v2"] = "crashed"
	o2 := outbox{fail: map[notify.Event]error{notify.EventRolledBack: temporal.NewNonRetryableApplicationError("HTTP 404", activities.ErrNotify, nil)}}
	r2 := deployWith(t, f2, deployV2(notified(spec("h1"), "ops")), o2.wire)
	msg, d := failureOf(t, r2.err)
	if d.RolledBackTo != "v1" || d.Host != "h1" || len(d.Notices) != 1 || !strings.Contains(msg, "Rolled back to v1") || !strings.Contains(msg, "notify ops (rolled_back) failed") {
		t.Fatalf("message %q details %+v", msg, d)
	}
}

func TestNotifyUnknownNotifierRefusedBeforeHosts(t *testing.T) {
	f := onV1("h1")
	o := outbox{unknown: "typo"}
	r := deployWith(t, f, deployV2(notified(spec("h1"), "typo")), o.wire)
	msg, d := failureOf(t, r.err)
	if !d.Setup || !strings.Contains(msg, `no notifier "typo"`) || len(f.calls) != 0 {
		t.Fatalf("message %q details %+v calls %v", msg, d, f.calls)
	}
}

func TestNotifyAwaitingApproval(t *testing.T) {
	f := onV1("h1", "h2")
	var o outbox
	s := notified(rolloutSpec(config.Rollout{Preflight: true, ApproveAfter: []int{1}}, "h1", "h2"), "ops")
	var seen string
	r := deployWith(t, f, deployV2(s), o.wire, decideAt(time.Minute, true, f, &seen, "h1", "h2"))
	if r.err != nil {
		t.Fatal(r.err)
	}
	if got := o.events(); got != "ops:started ops:awaiting_approval ops:succeeded" {
		t.Fatalf("sent %s", got)
	}
	if m := o.message(t, notify.EventAwaitingApproval); !strings.Contains(m.Outcome, "after batch 1 of 2") {
		t.Fatalf("message %+v", m)
	}
}
