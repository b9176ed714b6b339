package workflows

import (
	"errors"
	"fmt"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/hoist-dev/hoist/activities"
	"github.com/hoist-dev/hoist/config"
)

// DeployHost deploys one host of a rollout, one phase at a time, with
// the same steps and the same compensation as a host of a host-by-host
// deploy: a host whose start fails is put back on its previous release
// before the child ends. The parent (Deploy with a rollout block) decides
// which host goes when; the child only does what its phase says.
func DeployHost(ctx workflow.Context, in HostInput) (*HostResult, error) {
	if err := in.validate(); err != nil {
		return nil, err
	}
	d := &deploy{
		in:       DeployInput{Spec: in.Spec, Version: in.Version, Kind: in.Kind, Poll: in.Poll},
		hardened: true, preflight: true, fleet: true,
		ref: in.Bundle, pause: in.Pause, onceHost: in.OnceHost,
		progress: Progress{Kind: in.Kind, Version: in.Version, Phase: "deploying"},
	}
	if err := workflow.SetQueryHandler(ctx, ProgressQuery, func() (Progress, error) { return d.progress, nil }); err != nil {
		return nil, err
	}
	res, err := d.hostPhase(ctx, in)
	d.progress.Phase = "done"
	return res, err
}

func (d *deploy) hostPhase(ctx workflow.Context, in HostInput) (res *HostResult, err error) {
	t := d.targets()[0]
	res = &HostResult{Host: t.Label()}
	defer func() {
		if err != nil {
			err = d.fail(ctx, err)
		}
	}()
	var h *hostRun
	switch in.Phase {
	case PhasePrepare, PhaseDeploy:
		if h, err = d.prepareHost(ctx, t, true); err != nil {
			return nil, err
		}
		res.Prepared = h.prepared()
		if in.Phase == PhasePrepare || h.skip {
			res.Outcome = h.outcome
			return res, nil
		}
	case PhaseStart:
		h = d.resume(t, in.Prepared, nil)
	case PhaseRevert:
		h = d.resume(t, in.Prepared, in.Changed)
		d.progress.Phase = "rolling back"
		if problem := d.undo(ctx, h); problem != "" {
			details := FailureDetails{Version: in.Version, Kind: in.Kind, Host: t.Label(), Step: "revert", Cause: problem,
				RollbackFailed: true, Recovery: []string{problem}, RolledBackTo: h.prev}
			d.hosts = nil // nothing left for fail to undo
			return nil, temporal.NewNonRetryableApplicationError(problem, FailureType, nil, details)
		}
		res.Changed, res.Outcome = &HostChanged{}, HostOutcome{Host: t.Label(), Previous: h.prev}
		return res, nil
	}
	res.Changed = &HostChanged{}
	warnings, err := d.startHost(ctx, h)
	if err != nil {
		return nil, err
	}
	res.Changed = &HostChanged{Switched: h.switched, Started: h.started, Slots: h.slots}
	// Old releases go now: the release this host would go back to, should
	// the rollout stop later, is protected.
	d.retain(ctx)
	res.Prepared, res.Outcome, res.Warnings = h.prepared(), h.outcome, warnings
	return res, nil
}

// resume rebuilds what the prepare phase knew of the host, for a later
// phase.
func (d *deploy) resume(t activities.Target, p *HostPrepared, c *HostChanged) *hostRun {
	h := &hostRun{t: t, prev: p.Previous, first: p.First, current: p.Current, envFiles: p.EnvFiles}
	if c != nil {
		h.switched, h.started, h.slots = c.Switched, c.Started, c.Slots
	}
	h.outcome = HostOutcome{Host: t.Label(), Previous: h.prev}
	d.hosts = append(d.hosts, h)
	return h
}

func (h *hostRun) prepared() *HostPrepared {
	return &HostPrepared{Previous: h.prev, Current: h.current, First: h.first, EnvFiles: h.envFiles, Skip: h.skip}
}

// validate checks a DeployHost input as Deploy checks its own: the
// child is as reachable from any client of the task queue.
func (in HostInput) validate() error {
	var problems []error
	add := func(field, format string, args ...any) {
		problems = append(problems, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	whole := DeployInput{Spec: in.Spec, Version: in.Version, Kind: in.Kind, Poll: in.Poll}
	if in.Kind != KindRollback {
		whole.Bundle = []byte{0} // carried by reference, checked below
	}
	if err := whole.Validate(); err != nil {
		problems = append(problems, err)
	}
	if len(in.Spec.Hosts) != 1 {
		add("spec.hosts", "a DeployHost child deploys exactly one host, got %d", len(in.Spec.Hosts))
	}
	if in.Spec.Rollout != nil {
		add("spec.rollout", "a DeployHost child runs no rollout of its own")
	}
	needsPrepared := in.Phase == PhaseStart || in.Phase == PhaseRevert
	switch {
	case in.Phase != PhasePrepare && in.Phase != PhaseStart && in.Phase != PhaseDeploy && in.Phase != PhaseRevert:
		add("phase", "want %s, %s, %s or %s, got %q", PhasePrepare, PhaseStart, PhaseDeploy, PhaseRevert, in.Phase)
	case needsPrepared && in.Prepared == nil:
		add("prepared", "phase %s needs what the prepare phase found", in.Phase)
	case in.Phase == PhaseRevert && (in.Changed == nil || in.Prepared.Previous == ""):
		add("changed", "a revert needs what start changed and a release to go back to")
	}
	if in.Kind != KindRollback && (in.Phase == PhasePrepare || in.Phase == PhaseDeploy) && !validRef(in.Bundle) {
		add("bundle", "a deploy's prepare needs the bundle's reference (digest, size, workflow)")
	}
	if in.Pause < 0 || in.Pause > config.MaxPause {
		add("pause", "want between 0 and %s, got %s", config.MaxPause, in.Pause)
	}
	if len(problems) == 0 {
		return nil
	}
	var invalid error = errors.Join(problems...)
	return temporal.NewNonRetryableApplicationError("invalid DeployHost input, nothing was touched: "+invalid.Error(), activities.ErrInvalid, nil)
}

func validRef(r activities.BundleRef) bool {
	return len(r.Digest) == 64 && r.Size > 0 && r.Size <= config.MaxBundleBytes && r.Workflow != ""
}
