package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/hoist-dev/hoist/activities"
	"github.com/hoist-dev/hoist/commands"
	"github.com/hoist-dev/hoist/config"
)

// Strategy zero-downtime, per host: the new release starts in the slot
// that does not serve, is health-gated there, then the proxy is switched
// to it, the old slot drains and stops, and current follows. Deploys
// recorded before the strategy existed have no proxy in their spec and
// never come here, so the branch needs no version marker.

// SlotRun is what a zero-downtime deploy did on a host, for its undo;
// a rollout's host carries it from its start phase to a revert
// (HostChanged.Slots).
type SlotRun struct {
	NewSlot    string `json:"new_slot"`              // where the release started
	OldSlot    string `json:"old_slot,omitempty"`    // the slot that served before ("" on a first deploy)
	OldVersion string `json:"old_version,omitempty"` // what the old slot ran
	Started    bool   `json:"started,omitempty"`     // the new slot was (being) started
	Traffic    bool   `json:"traffic,omitempty"`     // the proxy was (being) switched to the new slot
	OldStopped bool   `json:"old_stopped,omitempty"` // the old slot was (being) stopped
}

func (d *deploy) zeroDowntime() bool { return d.in.Spec.ZeroDowntime() }

// The unknown-current change (issue 11): with zero-downtime, a current
// release without a good mark is checked in the slot it runs in (read
// with the slots step first), not in the service's own project where it
// never runs; and when nothing can be rolled back to after the switch,
// the slot that served before the deploy gets the traffic back before
// the failed slot is removed, instead of the proxy being left on a
// removed slot.
const (
	unknownCurrentChange = "zd-unknown-current"
	unknownCurrentFirst  = 1
)

func (d *deploy) unknownCurrentFixed(ctx workflow.Context) bool {
	return workflow.GetVersion(ctx, unknownCurrentChange, workflow.DefaultVersion, unknownCurrentFirst) >= unknownCurrentFirst
}

// currentProject is the compose project current runs as on a
// zero-downtime host: the serving slot's when it runs current there,
// else the service's own (a host still on strategy recreate).
func (d *deploy) currentProject(ctx workflow.Context, t activities.Target, current string) (string, error) {
	var ss activities.SlotsResult
	if err := d.step(ctx, t.Label(), "slots", quickStep, a.Slots, activities.SlotsInput{Target: t, Proxy: *d.in.Spec.Proxy}, &ss); err != nil {
		return "", err
	}
	if ss.Serving != "" && ss.Slot(ss.Serving).Version == current && ss.Slot(ss.Serving).Running > 0 {
		return commands.SlotProject(t.Service, ss.Serving), nil
	}
	return "", nil
}

func (d *deploy) slotInput(t activities.Target, version, slot string) activities.SlotInput {
	return activities.SlotInput{Target: t, Version: version, Slot: slot, ComposeFile: d.in.Spec.ComposeFile, Proxy: *d.in.Spec.Proxy}
}

// slotWait is the health gate of a release in a slot.
func (d *deploy) slotWait(t activities.Target, version, slot, upAt string) activities.WaitInput {
	return activities.WaitInput{Target: t, Version: version, Services: d.in.Spec.Services, EnvFiles: withDotEnv(nil),
		Window: d.window(), Poll: d.in.Poll, Stable: d.in.Spec.Wait.Stable, UpAt: upAt,
		Health: d.in.Spec.Health, Project: commands.SlotProject(t.Service, slot)}
}

// startSlotHost is startHost for strategy zero-downtime (the before_up
// hooks have run).
func (d *deploy) startSlotHost(ctx workflow.Context, h *hostRun) (warnings []string, err error) {
	in, t, host := d.in, h.t, h.t.Label()
	p := *in.Spec.Proxy
	var ss activities.SlotsResult
	if err := d.step(ctx, host, "slots", quickStep, a.Slots, activities.SlotsInput{Target: t, Proxy: p}, &ss); err != nil {
		return nil, err
	}
	if err := d.step(ctx, host, "proxy files", quickStep, a.EnsureProxy, activities.ProxyInput{Target: t, Proxy: p, FilesOnly: true}, nil); err != nil {
		return nil, err
	}
	s := &SlotRun{NewSlot: commands.OtherSlot(ss.Serving), OldSlot: ss.Serving, OldVersion: ss.Slot(ss.Serving).Version}
	if ss.Serving != "" && s.OldVersion == in.Version && ss.Slot(ss.Serving).Running > 0 {
		// The release serves already (a redeploy): check it where it is.
		s.NewSlot, s.OldSlot = ss.Serving, ""
	}
	h.slots = s
	slot := s.NewSlot

	h.started, s.Started = true, true
	var started activities.StartResult
	if err := d.step(ctx, host, "start slot "+slot, composeStep, a.StartSlot, d.slotInput(t, in.Version, slot), &started); err != nil {
		h.failedCheck = true
		return nil, err
	}
	wait := d.slotWait(t, in.Version, slot, started.UpAt)
	wait.EnvFiles = withDotEnv(h.envFiles)
	var wr activities.WaitResult
	if err := d.step(ctx, host, "wait healthy in slot "+slot, waitStep(wait.Window), a.WaitRunning, wait, &wr); err != nil {
		return nil, err
	}
	h.outcome.Verdict, h.outcome.Detail = wr.Verdict, wr.Detail
	if wr.Unchecked != "" {
		d.note(ctx, host, "unchecked services", "warning", wr.Unchecked)
		warnings = append(warnings, fmt.Sprintf("host %s: %s", host, wr.Unchecked))
	}
	if wr.Verdict != commands.Healthy.String() {
		// Traffic never goes to a release that is not healthy, whatever
		// health.unhealthy says: the old slot still serves, and keeps on.
		h.failedCheck = true
		d.failLast(wr.Verdict + ": " + wr.Detail)
		return nil, &stepError{host: host, step: "wait healthy in slot " + slot, err: fmt.Errorf("%s: %s (the proxy still sends traffic to the release that served)", wr.Verdict, wr.Detail)}
	}
	w, err := d.hooks(ctx, h, config.HookAfterUp)
	warnings = append(warnings, w...)
	if err != nil {
		h.failedCheck = true
		return nil, err
	}

	if ss.Own.Running > 0 && h.current != "" {
		// The host ran the service with strategy recreate: its containers
		// hold the ports the proxy takes over. The one gap of moving to
		// zero-downtime is here, between their stop and the proxy's start.
		rel := activities.ReleaseInput{Target: t, Version: h.current}
		if err := d.step(ctx, host, "down "+h.current+" (strategy recreate)", composeStep, a.StopRelease, rel, nil); err != nil {
			return nil, err
		}
	}
	if err := d.step(ctx, host, "proxy", quickStep, a.EnsureProxy, activities.ProxyInput{Target: t, Proxy: p}, nil); err != nil {
		return nil, err
	}
	s.Traffic = true // before the step: a switch whose reply was lost is still undone
	if err := d.step(ctx, host, "switch traffic to slot "+slot, quickStep, a.SwitchTraffic, activities.SwitchTrafficInput{Target: t, Slot: slot, Proxy: p}, nil); err != nil {
		return nil, err
	}
	check := activities.CheckProxyInput{Target: t, Slot: slot, Proxy: p, Path: d.checkPath()}
	if err := d.step(ctx, host, "check through the proxy", quickStep, a.CheckProxy, check, nil); err != nil {
		h.failedCheck = true
		return nil, err
	}
	if s.OldSlot != "" {
		if p.Drain > 0 {
			if err := d.drain(ctx, h, slot, wait); err != nil {
				return nil, err
			}
		}
		if ss.Slot(s.OldSlot).Total > 0 && s.OldVersion != "" {
			old := d.slotInput(t, s.OldVersion, s.OldSlot)
			s.OldStopped = true
			if err := d.step(ctx, host, "stop slot "+s.OldSlot+" ("+s.OldVersion+")", composeStep, a.StopSlot, old, nil); err != nil {
				// The new release serves; the old one still running beside
				// it is a leftover, not a failure.
				warnings = append(warnings, fmt.Sprintf("host %s: slot %s (%s) could not be stopped: %s", host, s.OldSlot, s.OldVersion, rootMessage(err)))
			}
		}
	}
	if d.pause > 0 {
		// The rollout's pause: the new slot keeps being watched before
		// the host counts as done.
		watch := wait
		watch.Stable, watch.Window = d.pause, d.pause+wait.Window
		name := "watch " + config.FormatDuration(d.pause)
		if err := d.step(ctx, host, name, waitStep(watch.Window), a.WaitRunning, watch, &wr); err != nil {
			return nil, err
		}
		if wr.Verdict != commands.Healthy.String() {
			h.failedCheck = true
			d.failLast(wr.Verdict + ": " + wr.Detail)
			return nil, &stepError{host: host, step: name, err: fmt.Errorf("%s: %s", wr.Verdict, wr.Detail)}
		}
	}
	if h.current != in.Version {
		h.switched = true
		rel := activities.ReleaseInput{Target: t, Version: in.Version}
		if err := d.step(ctx, host, "switch current", quickStep, a.SwitchCurrent, rel, nil); err != nil {
			return nil, err
		}
	}
	return append(warnings, d.markGood(ctx, h)...), nil
}

// checkPath is what the check through the proxy asks for: the http
// check's path, else /.
func (d *deploy) checkPath() string {
	if h := d.in.Spec.Health; h.Check == config.CheckHTTP && h.HTTP != nil {
		return h.HTTP.Path
	}
	return "/"
}

// drain keeps the old slot running while requests it took before the
// switch finish, and watches the new slot meanwhile: a crash or restart
// there fails the host while the old slot can still take the traffic
// back at once.
func (d *deploy) drain(ctx workflow.Context, h *hostRun, slot string, gate activities.WaitInput) error {
	drain, host := d.in.Spec.Proxy.Drain, h.t.Label()
	start := workflow.Now(ctx)
	watch := gate
	watch.Stable, watch.Window = drain, drain+gate.Window
	name := "drain " + config.FormatDuration(drain) + ", watching slot " + slot
	var wr activities.WaitResult
	if err := d.step(ctx, host, name, waitStep(watch.Window), a.WaitRunning, watch, &wr); err != nil {
		return err
	}
	if wr.Verdict != commands.Healthy.String() {
		h.failedCheck = true
		d.failLast(wr.Verdict + ": " + wr.Detail)
		return &stepError{host: host, step: name, err: fmt.Errorf("%s after the switch: %s", wr.Verdict, wr.Detail)}
	}
	// The watch ends once the new containers have been up for the drain
	// time, which may be before the drain has passed since the switch.
	if rest := drain - workflow.Now(ctx).Sub(start); rest > 0 {
		return d.sleep(ctx, host, "drain: the rest, "+config.FormatDuration(rest.Round(time.Millisecond)), rest)
	}
	return nil
}

// sleep is a durable timer shown as a step.
func (d *deploy) sleep(ctx workflow.Context, host, name string, dur time.Duration) error {
	seq := len(d.progress.Events)
	d.progress.Events = append(d.progress.Events, Event{Seq: seq, Host: host, Step: name, State: "started"})
	err := workflow.Sleep(ctx, dur)
	ev := &d.progress.Events[seq]
	ev.Took = dur
	if err != nil {
		ev.State, ev.Detail = "failed", rootMessage(err)
		return &stepError{host: host, step: name, err: err}
	}
	ev.State = "ok"
	return nil
}

// undoSlots puts a zero-downtime host back: a new slot that never got
// traffic is removed; once it had traffic, the previous release takes it
// back. While the old slot still runs (the failure came before its stop:
// the check through the proxy, the drain), the traffic goes back to it
// first — it served a moment ago — and it is checked after; otherwise it
// is started (or just started again: its stopped containers are still
// there) in the other slot and gated before it gets the traffic. Then the
// new slot goes (beforeRemove runs first: its logs). It returns "" on
// success, else what the host is left with.
func (d *deploy) undoSlots(ctx workflow.Context, h *hostRun, beforeRemove func()) string {
	s := h.slots
	if s == nil || !s.Started {
		return ""
	}
	t, host, v := h.t, h.t.Label(), d.in.Version
	failed := d.slotInput(t, v, s.NewSlot)
	if s.OldSlot == "" && !s.Traffic && h.current == v {
		return "" // a redeploy checked where it serves: nothing to undo
	}
	remove := func() string {
		if beforeRemove != nil {
			beforeRemove()
		}
		if err := d.step(ctx, host, "rollback: remove slot "+s.NewSlot+" ("+v+")", composeStep, a.RemoveSlot, failed, nil); err != nil {
			return fmt.Sprintf("host %s: slot %s (%s) could not be removed: %s", host, s.NewSlot, v, rootMessage(err))
		}
		return ""
	}
	prev := h.prev
	if prev == "" && s.Traffic && s.OldSlot != "" && s.OldVersion != "" && !s.OldStopped && d.unknownCurrentFixed(ctx) {
		// Nothing known good to roll back to, but the old slot served a
		// moment ago and still runs: it takes the traffic back as it was,
		// unchecked (it never passed a check), and the deploy says so.
		if err := d.step(ctx, host, "rollback: switch traffic to slot "+s.OldSlot+" (served before, not known good)", quickStep, a.SwitchTraffic, activities.SwitchTrafficInput{Target: t, Slot: s.OldSlot, Proxy: *d.in.Spec.Proxy}, nil); err != nil {
			return fmt.Sprintf("host %s: switching traffic back to slot %s failed: %s; the proxy still sends traffic to %s in slot %s", host, s.OldSlot, rootMessage(err), v, s.NewSlot)
		}
		h.trafficBack = fmt.Sprintf("host %s: the proxy sends traffic to %s in slot %s again, the release that served before this deploy (not known good: it has no good mark)", host, s.OldVersion, s.OldSlot)
		if problem := remove(); problem != "" {
			return fmt.Sprintf("%s serves again, but %s", s.OldVersion, problem)
		}
		if h.switched {
			rel := activities.ReleaseInput{Target: t, Version: s.OldVersion}
			if err := d.step(ctx, host, "rollback: switch current to "+s.OldVersion, quickStep, a.SwitchCurrent, rel, nil); err != nil {
				return fmt.Sprintf("host %s: %s serves again, but current could not be switched back: %s", host, s.OldVersion, rootMessage(err))
			}
		}
		return ""
	}
	if !s.Traffic || prev == "" {
		return remove()
	}
	p := *d.in.Spec.Proxy
	back := d.slotInput(t, h.prev, commands.OtherSlot(s.NewSlot))
	switchBack := func() string {
		if err := d.step(ctx, host, "rollback: switch traffic to slot "+back.Slot, quickStep, a.SwitchTraffic, activities.SwitchTrafficInput{Target: t, Slot: back.Slot, Proxy: p}, nil); err != nil {
			return fmt.Sprintf("host %s: switching traffic back to slot %s failed: %s", host, back.Slot, rootMessage(err))
		}
		return ""
	}
	verify := func(upAt string) string {
		wait := d.slotWait(t, h.prev, back.Slot, upAt)
		wait.Services, wait.RecordedServices = nil, true
		var wr activities.WaitResult
		if err := d.step(ctx, host, "rollback: verify "+h.prev+" in slot "+back.Slot, waitStep(wait.Window), a.WaitRunning, wait, &wr); err != nil || wr.Verdict != commands.Healthy.String() {
			detail := wr.Detail
			if err != nil {
				detail = rootMessage(err)
			}
			return fmt.Sprintf("previous release %s is not healthy in slot %s either (%s)", h.prev, back.Slot, detail)
		}
		return ""
	}
	stillRuns := s.OldSlot == back.Slot && s.OldVersion == h.prev && !s.OldStopped
	if stillRuns {
		if problem := switchBack(); problem != "" {
			return problem
		}
		if problem := verify(""); problem != "" {
			return fmt.Sprintf("host %s: %s; the proxy sends traffic to it in slot %s again", host, problem, back.Slot)
		}
	} else {
		var started activities.StartResult
		if err := d.step(ctx, host, "rollback: start slot "+back.Slot+" ("+h.prev+")", composeStep, a.StartSlot, back, &started); err != nil {
			return fmt.Sprintf("host %s: starting %s in slot %s failed: %s; the proxy still sends traffic to %s in slot %s", host, h.prev, back.Slot, rootMessage(err), v, s.NewSlot)
		}
		if problem := verify(started.UpAt); problem != "" {
			return fmt.Sprintf("host %s: %s; the proxy still sends traffic to %s in slot %s", host, problem, v, s.NewSlot)
		}
		if problem := switchBack(); problem != "" {
			return problem
		}
	}
	if p.Drain > 0 {
		_ = d.sleep(ctx, host, "rollback: drain "+config.FormatDuration(p.Drain), p.Drain)
	}
	problem := remove()
	if problem != "" {
		problem = fmt.Sprintf("%s serves again, but %s", h.prev, problem)
	}
	if h.switched || h.current != h.prev {
		// A redeploy never switched current, but it now names the release
		// that failed: it goes back with the traffic.
		rel := activities.ReleaseInput{Target: t, Version: h.prev}
		if err := d.step(ctx, host, "rollback: switch current to "+h.prev, quickStep, a.SwitchCurrent, rel, nil); err != nil {
			return fmt.Sprintf("host %s: %s serves again, but current could not be switched back: %s", host, h.prev, rootMessage(err))
		}
	}
	return problem
}
