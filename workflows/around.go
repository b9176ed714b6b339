package workflows

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/hoist-dev/hoist/activities"
	"github.com/hoist-dev/hoist/notify"
	"github.com/hoist-dev/hoist/window"
)

// around is what surrounds a deploy, for the host-by-host flow and the
// rollout alike: its start time (--at), its deploy windows and its
// notifications. A spec without them makes no call here, so deploys
// recorded before they existed replay unchanged.
type around struct {
	in       DeployInput
	setPhase func(phase string, until time.Time)
	key      string // the deploy run, for the notifications' idempotency keys
	pending  []pendingNote
	notices  []string // notifications that failed or went unconfirmed
}

type pendingNote struct {
	to string
	ev notify.Event
	f  workflow.Future
}

// WindowOverride is hoist deploy --ignore-window --reason: recorded in
// the history, and said in the summary.
type WindowOverride struct {
	Reason string `json:"reason"`
	By     string `json:"by"`
}

// Phases of a deploy that has not started yet.
const (
	PhaseScheduled    = "scheduled"          // --at: waiting for its start time
	PhaseWindowWait   = "waiting for window" // outside its deploy windows, outside: wait
	maxOverrideReason = 500
)

func newAround(ctx workflow.Context, in DeployInput, setPhase func(string, time.Time)) *around {
	info := workflow.GetInfo(ctx)
	return &around{in: in, setPhase: setPhase, key: info.WorkflowExecution.ID + "/" + info.WorkflowExecution.RunID}
}

// begin holds the deploy until it may start, checks the notifiers and
// says it started. Nothing has touched a host yet.
func (r *around) begin(ctx workflow.Context) error {
	if r.in.At != nil {
		if wait := r.in.At.Sub(workflow.Now(ctx)); wait > 0 {
			r.setPhase(PhaseScheduled, *r.in.At)
			if err := workflow.Sleep(ctx, wait); err != nil {
				return r.notStarted(ctx, err, "cancelled before its start time "+r.in.At.UTC().Format(time.RFC3339))
			}
		}
	}
	if err := r.window(ctx, "start"); err != nil {
		return err
	}
	if names := r.notifierNames(); len(names) > 0 {
		actx := workflow.WithActivityOptions(ctx, quickStep)
		if err := workflow.ExecuteActivity(actx, a.CheckNotifiers, names).Get(ctx, nil); err != nil {
			return setupFailure(r.in, "notifiers", rootMessage(err))
		}
	}
	r.setPhase("deploying", time.Time{})
	r.notify(ctx, notify.EventStarted, "started", "")
	return nil
}

// windowVerdict is the deploy windows' answer at one instant, recorded
// with SideEffect: the answer depends on the worker's time zone
// database, which a replay elsewhere must not consult again.
type windowVerdict struct {
	Allowed bool      `json:"allowed"`
	Next    time.Time `json:"next"`
	Found   bool      `json:"found"`
	Text    string    `json:"text"`
}

// window holds a deploy (its start, or its next batch) until its windows
// allow it: outside: wait sleeps on a durable timer until the next
// allowed instant, outside: refuse fails it, nothing touched. Rollbacks
// are never held, and --ignore-window overrides.
func (r *around) window(ctx workflow.Context, what string) error {
	spec := r.in.Spec.Windows
	if spec == nil || r.in.Kind == KindRollback || r.in.WindowOverride != nil {
		return nil
	}
	for {
		now := workflow.Now(ctx)
		var v windowVerdict
		err := workflow.SideEffect(ctx, func(workflow.Context) any {
			w, err := window.Parse(*spec)
			if err != nil {
				return windowVerdict{Text: "invalid windows: " + err.Error()}
			}
			next, found := w.Next(now)
			return windowVerdict{Allowed: w.Allowed(now), Next: next, Found: found, Text: w.Describe(now)}
		}).Get(&v)
		if err != nil {
			return err
		}
		if v.Allowed {
			return nil
		}
		switch {
		case !v.Found:
			return refusal(r.in, what, "no allowed time within 400 days: "+v.Text)
		case spec.Outside == window.OutsideRefuse:
			return refusal(r.in, what, "outside its deploy windows (outside: refuse): "+v.Text)
		}
		r.setPhase(PhaseWindowWait, v.Next)
		if err := workflow.Sleep(ctx, v.Next.Sub(now)); err != nil {
			return r.notStarted(ctx, err, "cancelled while waiting for its deploy window")
		}
	}
}

// refusal fails a deploy the windows do not allow: exit 4, nothing was
// touched.
func refusal(in DeployInput, what, why string) error {
	msg := fmt.Sprintf("%s of %s version %s refused at %s: %s; nothing was touched. Deploy inside a window, or override with --ignore-window --reason TEXT",
		in.Kind, in.Spec.Service, in.Version, what, why)
	return temporal.NewNonRetryableApplicationError(msg, FailureType, nil,
		FailureDetails{Version: in.Version, Kind: in.Kind, Host: "worker", Step: "deploy window", Cause: why, Refused: true})
}

// setupFailure fails a deploy for what the worker's set-up lacks: exit
// 2, nothing was touched.
func setupFailure(in DeployInput, step, cause string) error {
	msg := fmt.Sprintf("%s of %s version %s refused before any host: %s; nothing was touched", in.Kind, in.Spec.Service, in.Version, cause)
	return temporal.NewNonRetryableApplicationError(msg, FailureType, nil,
		FailureDetails{Version: in.Version, Kind: in.Kind, Host: "worker", Step: step, Cause: cause, Setup: true})
}

// notStarted is a cancel before the deploy started: nothing to undo.
func (r *around) notStarted(ctx workflow.Context, err error, why string) error {
	if temporal.IsCanceledError(err) || errors.Is(ctx.Err(), workflow.ErrCanceled) {
		return temporal.NewCanceledError(FailureDetails{Version: r.in.Version, Kind: r.in.Kind, Cause: why, Cancelled: true})
	}
	return err
}

func (r *around) notifierNames() []string {
	var names []string
	for _, rule := range r.in.Spec.Notify {
		if !slices.Contains(names, rule.To) {
			names = append(names, rule.To)
		}
	}
	return names
}

// notify starts the messages for ev; the deploy does not wait for them
// (end does). Each is an activity keyed by the deploy run and the event,
// so a retry after a worker crash does not send it twice.
func (r *around) notify(ctx workflow.Context, ev notify.Event, outcome, cause string) {
	r.notifyKeyed(ctx, ev, string(ev), outcome, cause)
}

func (r *around) notifyKeyed(ctx workflow.Context, ev notify.Event, key, outcome, cause string) {
	var hosts []string
	for _, h := range r.in.Spec.Hosts {
		hosts = append(hosts, h.String())
	}
	for _, rule := range r.in.Spec.Notify {
		if !slices.Contains(rule.On, string(ev)) {
			continue
		}
		m := notify.Message{Event: ev, Service: r.in.Spec.Service, Environment: r.in.Spec.EnvironmentName(), Version: r.in.Version,
			Hosts: hosts, Outcome: outcome, Cause: cause, Key: r.key + "/" + key}
		opts := notifyStep
		opts.Summary = "notify " + rule.To + ": " + string(ev)
		actx := workflow.WithActivityOptions(ctx, opts)
		r.pending = append(r.pending, pendingNote{to: rule.To, ev: ev,
			f: workflow.ExecuteActivity(actx, a.Notify, activities.NotifyInput{To: rule.To, Message: m})})
	}
}

// end sends the closing notification — succeeded, rolled_back or failed —
// waits for every message, and reports those that failed in the result,
// or in the failure's message, never in place of the deploy's own error.
func (r *around) end(ctx workflow.Context, res *DeployResult, err error) (*DeployResult, error) {
	if len(r.in.Spec.Notify) == 0 {
		return res, err
	}
	cctx, _ := workflow.NewDisconnectedContext(ctx) // a cancelled deploy still says so
	ev, outcome, cause := closingEvent(r.in, res, err)
	if ev != "" {
		r.notify(cctx, ev, outcome, cause)
	}
	for _, p := range r.pending {
		var nr activities.NotifyResult
		if ferr := p.f.Get(cctx, &nr); ferr != nil {
			r.notices = append(r.notices, fmt.Sprintf("notify %s (%s) failed: %s", p.to, p.ev, rootMessage(ferr)))
		} else if nr.Unconfirmed {
			r.notices = append(r.notices, fmt.Sprintf("notify %s (%s): delivery unconfirmed (the worker stopped while sending; not sent twice)", p.to, p.ev))
		}
	}
	if len(r.notices) == 0 {
		return res, err
	}
	if err == nil {
		res.Notices = append(res.Notices, r.notices...)
		return res, nil
	}
	return res, withNotices(err, r.notices)
}

// closingEvent is the one event a finished deploy sends: succeeded, or
// rolled_back when it failed and every host it changed is back on its
// previous release, or failed.
func closingEvent(in DeployInput, res *DeployResult, err error) (notify.Event, string, string) {
	if err == nil {
		if res != nil {
			return notify.EventSucceeded, res.Outcome, strings.Join(res.Warnings, "; ")
		}
		return notify.EventSucceeded, OutcomeDeployed, ""
	}
	d, ok := failureDetails(err)
	if !ok {
		return notify.EventFailed, "failed", rootMessage(err)
	}
	switch {
	case d.Refused || d.Setup:
		return notify.EventFailed, "refused", d.Cause
	case d.RolledBackTo != "" && !d.RollbackFailed && !d.Mixed:
		return notify.EventRolledBack, "rolled back to " + d.RolledBackTo, d.Cause
	case d.Mixed:
		return notify.EventFailed, "mixed", d.Cause
	}
	return notify.EventFailed, "failed", d.Cause
}

func failureDetails(err error) (FailureDetails, bool) {
	var d FailureDetails
	var app *temporal.ApplicationError
	if errors.As(err, &app) && app.HasDetails() && app.Details(&d) == nil {
		return d, true
	}
	var c *temporal.CanceledError
	if errors.As(err, &c) && c.HasDetails() && c.Details(&d) == nil {
		return d, true
	}
	return d, false
}

// withNotices adds the failed notifications to a deploy's failure, which
// keeps its type, details and cause.
func withNotices(err error, notices []string) error {
	var app *temporal.ApplicationError
	if !errors.As(err, &app) || app.Type() != FailureType {
		return err // a cancel, or not the deploy's own failure: unchanged
	}
	var d FailureDetails
	if app.HasDetails() {
		_ = app.Details(&d)
	}
	d.Notices = append(d.Notices, notices...)
	return temporal.NewNonRetryableApplicationError(app.Message()+" — "+strings.Join(notices, "; "), FailureType, errors.Unwrap(app), d)
}

// validateAround checks DeployInput's own fields for the above.
func (in DeployInput) validateAround(add func(field, format string, args ...any)) {
	if o := in.WindowOverride; o != nil {
		if strings.TrimSpace(o.Reason) == "" || len(o.Reason) > maxOverrideReason {
			add("window_override.reason", "--ignore-window needs --reason TEXT (1 to %d bytes)", maxOverrideReason)
		}
		if in.Kind == KindRollback {
			add("window_override", "a rollback is never held by a window: nothing to override")
		}
	}
	if in.At != nil && in.At.Sub(time.Unix(0, 0)) < 0 {
		add("at", "a start time before 1970 is a mistake")
	}
}

// hasAround: the deploy has a start time, windows or notifications.
func (in DeployInput) hasAround() bool {
	return in.At != nil || in.Spec.Windows != nil || len(in.Spec.Notify) > 0
}
