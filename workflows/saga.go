package workflows

import (
	"errors"
	"fmt"
	"strings"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/hoist-dev/hoist/activities"
	"github.com/hoist-dev/hoist/commands"
	"github.com/hoist-dev/hoist/config"
	"github.com/hoist-dev/hoist/remote"
)

// fail runs the compensation for every host this deploy changed, newest
// first, and turns the failure into the error the CLI explains. It runs
// on a disconnected context: when the deploy was cancelled, its own
// context is already cancelled exactly when compensation is needed.
func (d *deploy) fail(ctx workflow.Context, cause error) error {
	cancelled := temporal.IsCanceledError(cause) || errors.Is(ctx.Err(), workflow.ErrCanceled)
	details := FailureDetails{Version: d.in.Version, Kind: d.in.Kind, Cause: rootMessage(cause), Cancelled: cancelled}
	var se *stepError
	if errors.As(cause, &se) {
		details.Host, details.Step = se.host, se.step
	}
	if cancelled {
		details.Cause = "cancelled"
	}
	var app *temporal.ApplicationError
	if len(d.hosts) == 0 && errors.As(cause, &app) && app.NonRetryable() &&
		(app.Type() == activities.ErrRegistry || app.Type() == activities.ErrInvalid) {
		details.Setup = true
	}
	d.progress.Phase = "rolling back"
	cctx, _ := workflow.NewDisconnectedContext(ctx)

	var targets []string
	for i := len(d.hosts) - 1; i >= 0; i-- {
		h := d.hosts[i]
		if d.hardened {
			// The release that failed its check is marked first: whatever
			// the rollback does next, no rollback will ever choose it.
			if h.failedCheck {
				d.markFailed(cctx, h)
			}
			if h.first && d.in.Kind == KindDeploy {
				// A first deploy that failed leaves nothing serving, whether
				// or not it got as far as changing the host: not safe.
				details.NothingToRollBackTo = true
			}
			if !h.switched && !h.started {
				continue // nothing was changed on this host
			}
			if d.zeroDowntime() {
				saveLogs := func() {
					if h.started && h.failedCheck {
						d.saveLogs(cctx, h, &details)
					}
				}
				if h.prev == "" && h.slots != nil && h.slots.Traffic {
					details.NothingToRollBackTo = true
					details.NoGoodRelease = details.NoGoodRelease || !h.first
				}
				if problem := d.undoSlots(cctx, h, saveLogs); problem != "" {
					details.RollbackFailed = true
					details.Recovery = append(details.Recovery, problem)
				} else if h.prev != "" && h.slots != nil && h.slots.Traffic {
					targets = appendUnique(targets, h.prev)
				} else if h.trafficBack != "" {
					details.Notices = append(details.Notices, h.trafficBack)
				}
				continue
			}
			if h.prev == "" {
				details.NothingToRollBackTo = true
				details.NoGoodRelease = details.NoGoodRelease || !h.first
				if h.started && h.failedCheck {
					rel := activities.ReleaseInput{Target: h.t, Version: d.in.Version}
					_ = d.step(cctx, h.t.Label(), "stop "+d.in.Version+" (nothing known-good to roll back to)", composeStep, a.HaltRelease, rel, nil)
				}
				continue
			}
			if h.started && h.failedCheck {
				d.saveLogs(cctx, h, &details)
			}
			if problem := d.undo(cctx, h); problem != "" {
				details.RollbackFailed = true
				details.Recovery = append(details.Recovery, problem)
			}
			targets = appendUnique(targets, h.prev)
			continue
		}
		if h.prev == "" {
			if h.switched {
				details.NothingToRollBackTo = true
			}
			if h.started {
				rel := activities.ReleaseInput{Target: h.t, Version: d.in.Version}
				_ = d.step(cctx, h.t.Label(), "stop "+d.in.Version+" (nothing to roll back to)", composeStep, a.HaltRelease, rel, nil)
			}
			d.markFailed(cctx, h)
			continue
		}
		if !h.switched {
			continue // this host still runs h.prev: nothing was rolled back
		}
		if problem := d.undo(cctx, h); problem != "" {
			details.RollbackFailed = true
			details.Recovery = append(details.Recovery, problem)
		}
		targets = appendUnique(targets, h.prev)
	}
	details.RolledBackTo = strings.Join(targets, ", ")
	if hs := d.in.Spec.Hooks.At(config.HookOnFailure); len(hs) > 0 && !cancelled {
		// The release's on_failure hooks, on the host it failed on, once
		// that host is back: their failures are noted, nothing more.
		for _, h := range d.hosts {
			if h.t.Label() == details.Host {
				w, _ := d.hooks(cctx, h, config.HookOnFailure)
				details.Notices = append(details.Notices, w...)
			}
		}
	}
	d.progress.Phase = "done"

	msg := failureMessage(details)
	if len(details.Logs) > 0 {
		msg += " — logs of the failed containers are kept on the host: " + strings.Join(details.Logs, "; ")
	}
	if len(details.Notices) > 0 {
		msg += " — " + strings.Join(details.Notices, "; ")
	}
	if cancelled {
		return temporal.NewCanceledError(details)
	}
	return temporal.NewNonRetryableApplicationError(msg, FailureType, cause, details)
}

// undo puts one host back on its previous release and checks it runs.
// It returns "" on success, else what state the host is in and how to
// recover by hand.
func (d *deploy) undo(ctx workflow.Context, h *hostRun) string {
	if d.zeroDowntime() {
		return d.undoSlots(ctx, h, nil)
	}
	host, v, prev := h.t.Label(), d.in.Version, h.prev
	failed := activities.ReleaseInput{Target: h.t, Version: v}
	back := activities.ReleaseInput{Target: h.t, Version: prev}
	if !h.switched && !(d.hardened && h.started) {
		return ""
	}
	var problems []string
	if h.started {
		// Stop the failed release before the previous one starts on the
		// same ports; a failure here is noted, not fatal: up replaces it.
		if err := d.step(ctx, host, "rollback: down "+v, composeStep, a.StopRelease, failed, nil); err != nil {
			problems = append(problems, "down of "+v+" failed: "+rootMessage(err))
		}
	}
	if err := d.step(ctx, host, "rollback: switch current to "+prev, quickStep, a.SwitchCurrent, back, nil); err != nil {
		return d.recovery(h, append(problems, "switch back failed: "+rootMessage(err)))
	}
	if h.started {
		var started activities.StartResult
		if err := d.step(ctx, host, "rollback: up "+prev, composeStep, a.StartRelease, back, &started); err != nil {
			return d.recovery(h, append(problems, "up of "+prev+" failed: "+rootMessage(err)))
		}
		wait := activities.WaitInput{Target: h.t, Version: prev, Services: d.in.Spec.Services,
			Window: d.window(), Poll: d.in.Poll, Stable: d.in.Spec.Wait.Stable, UpAt: started.UpAt, Health: d.in.Spec.Health}
		if d.hardened {
			wait.EnvFiles = withDotEnv(nil)
			// The previous release is checked by its own services, as its
			// good mark recorded them; the new release's list may name
			// services it never had.
			wait.Services, wait.RecordedServices = nil, true
		}
		var wr activities.WaitResult
		if err := d.step(ctx, host, "rollback: verify "+prev+" running", waitStep(wait.Window), a.WaitRunning, wait, &wr); err != nil {
			return d.recovery(h, append(problems, "verifying "+prev+" failed: "+rootMessage(err)))
		}
		if wr.Verdict != commands.Healthy.String() && wr.Verdict != commands.Unhealthy.String() {
			return d.recovery(h, append(problems, fmt.Sprintf("previous release %s is not running either: %s", prev, wr.Detail)))
		}
	}
	if !d.hardened {
		d.markFailed(ctx, h)
	}
	return ""
}

func (d *deploy) markFailed(ctx workflow.Context, h *hostRun) {
	if !d.hardened && d.in.Kind == KindDeploy && !h.switched {
		return // the release never went live here
	}
	rel := activities.ReleaseInput{Target: h.t, Version: d.in.Version}
	_ = d.step(ctx, h.t.Label(), "mark "+d.in.Version+" failed", quickStep, a.MarkFailed, rel, nil)
}

// recovery tells the person on call what a host is left with and the
// commands that finish the rollback by hand: the very commands hoist runs,
// from the same builders.
func (d *deploy) recovery(h *hostRun, problems []string) string {
	prev := h.t.Compose(h.prev)
	return fmt.Sprintf("host %s: %s. To recover: ssh %s, then: %s; %s; %s",
		h.t.Label(), strings.Join(problems, "; "), remote.Quote(h.t.Host),
		h.t.Layout().SwitchCurrent(h.prev), prev.Up(), prev.ContainerIDs())
}

func appendUnique(xs []string, x string) []string {
	for _, y := range xs {
		if y == x {
			return xs
		}
	}
	return append(xs, x)
}

// failureMessage is the line the seed's playbook printed, plus the cause.
func failureMessage(f FailureDetails) string {
	what := "Deployment of version " + f.Version
	if f.Kind == KindRollback {
		what = "Rollback to version " + f.Version
	}
	where := ""
	if f.Host != "" && !strings.HasPrefix(f.Cause, "host ") {
		where = fmt.Sprintf(" (host %s, step %s)", f.Host, f.Step)
	}
	switch {
	case f.RollbackFailed:
		return fmt.Sprintf("❌ %s failed%s: %s. Rolling back to %s FAILED too: %s", what, where, f.Cause, f.RolledBackTo, strings.Join(f.Recovery, " | "))
	case f.RolledBackTo != "":
		return fmt.Sprintf("❌ %s failed! Rolled back to %s. Cause%s: %s", what, f.RolledBackTo, where, f.Cause)
	case f.NothingToRollBackTo:
		return fmt.Sprintf("❌ %s failed%s: %s. %s", what, where, f.Cause, NothingToRollBackToText(f))
	default:
		return fmt.Sprintf("❌ %s failed%s: %s. No host had been changed.", what, where, f.Cause)
	}
}

// NothingToRollBackToText says why a failed deploy had nothing to return
// to: a first deploy, or no release that passed its running check.
func NothingToRollBackToText(f FailureDetails) string {
	if f.NoGoodRelease {
		return "Nothing to roll back to: no earlier release passed its running check on the host (only good releases are rolled back to; name one with hoist rollback --to)."
	}
	return "Nothing to roll back to: there was no previous release."
}
