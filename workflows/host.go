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
)

// deployHost runs the seed's flow on one host, hardened: nothing on the
// host changes until the release's files and images are there (sync,
// login and pull first, then the switch), a redeploy of the current
// release switches nothing, and a release is marked good once it passed
// its running check.
func (d *deploy) deployHost(ctx workflow.Context, t activities.Target) (warnings []string, err error) {
	h, err := d.prepareHost(ctx, t, true)
	if err != nil {
		return nil, err
	}
	return d.startHost(ctx, h)
}

// prepareHost is the part of a host's deploy that changes nothing the
// running release uses: inspect, sync, login, pull. add: the host goes on
// d.hosts at once (one host at a time); pre-flight adds all in config
// order once every host is prepared.
func (d *deploy) prepareHost(ctx workflow.Context, t activities.Target, add bool) (*hostRun, error) {
	in, host := d.in, t.Label()
	rel := activities.ReleaseInput{Target: t, Version: in.Version}

	var st commands.State
	if err := d.step(ctx, host, "inspect", quickStep, a.InspectHost, t, &st); err != nil {
		return nil, err
	}
	h := &hostRun{t: t, prev: st.RollbackTarget(in.Version), first: st.Current == "", current: st.Current}
	if in.Kind == KindRollback {
		if !st.Has(in.Version) {
			return nil, &stepError{host: host, step: "inspect", err: temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("release %s is not on host %s (it has: %s)", in.Version, host, versionsOf(st)), activities.ErrMissing, nil)}
		}
		// A failed rollback returns to the release it left.
		if st.Current != in.Version && st.Current != "" {
			h.prev = st.Current
		}
	}
	if in.Kind == KindDeploy && st.Current != "" && st.Current != in.Version && st.HealthOf(st.Current) == commands.HealthUnknown {
		if d.adoptCurrent(ctx, t, st.Current) {
			h.prev = st.Current
		}
	}
	h.outcome = HostOutcome{Host: host, Previous: h.prev}
	if add {
		d.hosts = append(d.hosts, h)
	}

	// A rollout leaves a host alone that runs the version already, with
	// the same files (the sync below finds them there), known good.
	onIt := d.fleet && st.Current == in.Version && st.HealthOf(in.Version) == commands.HealthGood
	if in.Kind == KindRollback && onIt {
		return d.skipHost(ctx, h), nil
	}
	if in.Kind != KindRollback {
		sync := activities.SyncInput{Target: t, Version: in.Version, Bundle: in.Bundle, Ref: d.ref, ComposeFile: in.Spec.ComposeFile}
		var sr activities.SyncResult
		if err := d.step(ctx, host, "sync", transferStep, a.SyncRelease, sync, &sr); err != nil {
			return h, err
		}
		h.envFiles = sr.EnvFiles
		if onIt && !sr.Uploaded {
			return d.skipHost(ctx, h), nil
		}
	}
	if r := in.Spec.Registry; r.LogsIn() {
		login := activities.LoginInput{Target: t, Registry: r}
		if err := d.step(ctx, host, "registry login", quickStep, a.RegistryLogin, login, nil); err != nil {
			return h, err
		}
	}
	if err := d.step(ctx, host, "pull", composeStep, a.PullImages, rel, nil); err != nil {
		return h, err
	}
	return h, nil
}

// skipHost records that a rollout leaves the host alone.
func (d *deploy) skipHost(ctx workflow.Context, h *hostRun) *hostRun {
	h.skip = true
	d.note(ctx, h.t.Label(), "already on "+d.in.Version, "skipped", "same files, passed its check: left alone")
	return h
}

// startHost is the part that changes the host: switch, up, the running
// check, the good mark.
func (d *deploy) startHost(ctx workflow.Context, h *hostRun) (warnings []string, err error) {
	in, t, host := d.in, h.t, h.t.Label()
	rel := activities.ReleaseInput{Target: t, Version: in.Version}
	if d.fleet {
		h.onceHost = d.onceHost // the rollout knows which host is its first
	} else {
		h.onceHost = len(d.hosts) > 0 && d.hosts[0] == h
	}
	if w, err := d.hooks(ctx, h, config.HookBeforeUp); err != nil {
		return nil, err // nothing on the host changed yet
	} else {
		warnings = append(warnings, w...)
	}
	if d.zeroDowntime() {
		w, err := d.startSlotHost(ctx, h)
		return append(warnings, w...), err
	}
	if h.current != in.Version {
		h.switched = true // before the step: a switch whose reply was lost is still undone
		if err := d.step(ctx, host, "switch current", quickStep, a.SwitchCurrent, rel, nil); err != nil {
			return nil, err
		}
	}

	h.started = true
	var started activities.StartResult
	if err := d.step(ctx, host, "up", composeStep, a.StartRelease, rel, &started); err != nil {
		return d.upFailed(ctx, h, err)
	}
	wait := activities.WaitInput{Target: t, Version: in.Version, Services: in.Spec.Services, EnvFiles: withDotEnv(h.envFiles),
		Window: d.window(), Poll: in.Poll, Stable: in.Spec.Wait.Stable, UpAt: started.UpAt, Health: in.Spec.Health}
	var wr activities.WaitResult
	if err := d.step(ctx, host, "wait running", waitStep(wait.Window), a.WaitRunning, wait, &wr); err != nil {
		return nil, err
	}
	if wr.Verdict == commands.Healthy.String() && d.pause > 0 {
		// The rollout's pause: the host keeps being watched, and a crash
		// or restart since up fails it, before it counts as done.
		watch := wait
		watch.Stable, watch.Window = d.pause, d.pause+wait.Window
		if err := d.step(ctx, host, "watch "+config.FormatDuration(d.pause), waitStep(watch.Window), a.WaitRunning, watch, &wr); err != nil {
			return nil, err
		}
	}
	h.outcome.Verdict, h.outcome.Detail = wr.Verdict, wr.Detail
	if wr.Unchecked != "" {
		d.note(ctx, host, "unchecked services", "warning", wr.Unchecked)
		warnings = append(warnings, fmt.Sprintf("host %s: %s", host, wr.Unchecked))
	}
	accepted := wr.Verdict == commands.Healthy.String() ||
		wr.Verdict == commands.Unhealthy.String() && in.Spec.Health.Unhealthy != config.HealthRollback
	if accepted {
		// The release runs: after_up hooks decide whether it counts as
		// good; a required one that fails fails it like its check.
		w, err := d.hooks(ctx, h, config.HookAfterUp)
		warnings = append(warnings, w...)
		if err != nil {
			h.failedCheck = true
			return nil, err
		}
	}
	switch wr.Verdict {
	case commands.Healthy.String():
		return append(warnings, d.markGood(ctx, h)...), nil
	case commands.Unhealthy.String():
		if in.Spec.Health.Unhealthy == config.HealthRollback {
			h.failedCheck = true
			d.failLast(wr.Verdict + ": " + wr.Detail)
			return nil, &stepError{host: host, step: "wait running", err: errors.New(wr.Detail + " (health.unhealthy: rollback)")}
		}
		d.note(ctx, host, "health", "warning", wr.Detail)
		return append(warnings, fmt.Sprintf("host %s: %s", host, wr.Detail)), nil
	default:
		h.failedCheck = true
		d.failLast(wr.Verdict + ": " + wr.Detail)
		return nil, &stepError{host: host, step: "wait running", err: fmt.Errorf("%s: %s (running-check window %s)", wr.Verdict, wr.Detail, d.window())}
	}
}

// adoptCurrent checks the current release when nothing is known about it
// (deployed by a hoist before release marks, or accepted with a health
// warning) before anything replaces it: running and healthy now, it is
// marked good and becomes this deploy's rollback target; otherwise it is
// not rolled back to. One look, no waiting.
func (d *deploy) adoptCurrent(ctx workflow.Context, t activities.Target, current string) bool {
	look := activities.WaitInput{Target: t, Version: current, EnvFiles: withDotEnv(nil), Window: 0, Health: d.in.Spec.Health}
	if d.zeroDowntime() && d.unknownCurrentFixed(ctx) {
		project, err := d.currentProject(ctx, t, current)
		if err != nil {
			return false
		}
		look.Project = project
	}
	var wr activities.WaitResult
	if err := d.step(ctx, t.Label(), "check current "+current, quickStep, a.WaitRunning, look, &wr); err != nil || wr.Verdict != commands.Healthy.String() {
		return false
	}
	mark := activities.MarkGoodInput{Target: t, Version: current}
	return d.step(ctx, t.Label(), "mark "+current+" good", quickStep, a.MarkGood, mark, nil) == nil
}

// markGood records that the release passed its check on the host, with
// the services checked. A mark that cannot be written fails nothing (the
// release is live) but is said: the release will not be rolled back to.
func (d *deploy) markGood(ctx workflow.Context, h *hostRun) []string {
	in := activities.MarkGoodInput{Target: h.t, Version: d.in.Version, Services: d.in.Spec.Services}
	if err := d.step(ctx, h.t.Label(), "mark good", quickStep, a.MarkGood, in, nil); err != nil {
		return []string{fmt.Sprintf("host %s: release %s could not be marked good (%s): no rollback will choose it there", h.t.Label(), d.in.Version, rootMessage(err))}
	}
	return nil
}

// upFailed explains a failed compose up from the containers it left
// (compose reports "dependency failed to start" for a crash and for an
// unhealthy dependency alike), then applies the health policy: running
// but unhealthy under health.unhealthy: warn is a warning, anything else
// fails the host with the real cause.
func (d *deploy) upFailed(ctx workflow.Context, h *hostRun, upErr error) ([]string, error) {
	host := h.t.Label()
	var app *temporal.ApplicationError
	if !errors.As(upErr, &app) || app.Type() != activities.ErrCommand {
		return nil, upErr // the host, not the release: nothing to inspect
	}
	h.failedCheck = true
	look := activities.WaitInput{Target: h.t, Version: d.in.Version, Services: d.in.Spec.Services, EnvFiles: withDotEnv(h.envFiles), Window: 0, Health: d.in.Spec.Health}
	var wr activities.WaitResult
	if err := d.step(ctx, host, "inspect after failed up", quickStep, a.WaitRunning, look, &wr); err != nil {
		return nil, upErr
	}
	h.outcome.Verdict, h.outcome.Detail = wr.Verdict, wr.Detail
	if wr.Verdict == commands.Unhealthy.String() && d.in.Spec.Health.Unhealthy != config.HealthRollback {
		h.failedCheck = false
		d.note(ctx, host, "health", "warning", wr.Detail)
		return []string{fmt.Sprintf("host %s: compose up reported a failure; the containers are running but %s", host, wr.Detail)}, nil
	}
	detail := wr.Verdict
	if wr.Detail != "" {
		detail += ": " + wr.Detail
	}
	said := strings.TrimPrefix(rootMessage(upErr), fmt.Sprintf("host %s, step up, release %s: ", host, d.in.Version))
	return nil, &stepError{host: host, step: "up", err: fmt.Errorf("compose up failed; the containers: %s; compose said: %s", detail, said)}
}

// failLast marks the newest progress event failed: a step whose activity
// succeeded but whose verdict fails the deploy.
func (d *deploy) failLast(detail string) {
	if n := len(d.progress.Events); n > 0 {
		d.progress.Events[n-1].State, d.progress.Events[n-1].Detail = "failed", detail
	}
}

// withDotEnv adds the .env compose reads beside the compose file: a
// release rolled back to (no sync, so no list) has at least that one.
func withDotEnv(files []string) []string {
	for _, f := range files {
		if f == ".env" {
			return files
		}
	}
	return append([]string{".env"}, files...)
}

// saveLogs keeps the failed release's container logs on the host before
// the rollback removes its containers; where they are goes into the
// failure's details. Best effort: a rollback is never held up by it.
func (d *deploy) saveLogs(ctx workflow.Context, h *hostRun, details *FailureDetails) {
	in := activities.SaveLogsInput{Target: h.t, Version: d.in.Version, Name: workflow.Now(ctx).UTC().Format("20060102T150405Z")}
	if h.slots != nil {
		in.Project = commands.SlotProject(h.t.Service, h.slots.NewSlot)
	}
	var res activities.SaveLogsResult
	if err := d.step(ctx, h.t.Label(), "save logs of "+d.in.Version, quickStep, a.SaveLogs, in, &res); err == nil {
		details.Logs = append(details.Logs, h.t.Label()+": "+res.Path)
	}
}
