package workflows

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/hoist-dev/hoist/activities"
	"github.com/hoist-dev/hoist/commands"
	"github.com/hoist-dev/hoist/rollout"
)

// a is only a handle for naming activities; the worker registers the real
// struct with its dependencies.
var a *activities.Activities

// Deploy ships one release to every host in order and, when a host fails,
// rolls back that host and every host this deploy already changed.
func Deploy(ctx workflow.Context, in DeployInput) (*DeployResult, error) {
	// Deploys recorded before the hardening change replay the flow they
	// ran: switch before pull, "not failed" rollback targets.
	hardened := workflow.GetVersion(ctx, hardeningChange, workflow.DefaultVersion, hardenedFlow) >= hardenedFlow
	if hardened {
		if err := in.Validate(); err != nil {
			return nil, err
		}
	}
	if in.Kind == "" {
		in.Kind = KindDeploy
	}
	if hardened && in.Spec.Rollout != nil {
		// Before the fleet change a rollout block was refused here.
		if workflow.GetVersion(ctx, fleetChange, workflow.DefaultVersion, fleetFirst) == workflow.DefaultVersion {
			return nil, invalidInput(fmt.Errorf("rollout: %s", rollout.NotRunYet))
		}
		return runFleet(ctx, in)
	}
	d := &deploy{in: in, hardened: hardened, progress: Progress{Kind: in.Kind, Version: in.Version, Phase: "deploying"}}
	if in.BundleRef != nil {
		d.ref = *in.BundleRef // each host's sync names the bundle, as a rollout's do
	}
	if hardened {
		d.preflight = workflow.GetVersion(ctx, preflightChange, workflow.DefaultVersion, preflightFirst) >= preflightFirst
	}
	if err := workflow.SetQueryHandler(ctx, ProgressQuery, func() (Progress, error) { return d.progress, nil }); err != nil {
		return nil, err
	}
	if !hardened || !in.hasAround() {
		return d.run(ctx)
	}
	r := newAround(ctx, in, func(p string, until time.Time) { d.progress.Phase, d.progress.Until = p, until })
	if err := r.begin(ctx); err != nil {
		d.progress.Phase = "done"
		return r.end(ctx, nil, err)
	}
	res, err := d.run(ctx)
	return r.end(ctx, res, err)
}

// The hardening change (issue 8): the workflow validates its input;
// login and pull run before the switch; releases are marked good when they
// pass their check and only good ones are rolled back to; a release that
// failed its check is marked failed before the rollback; the rollback
// checks the previous release by its recorded services; a failed up is
// explained from the containers.
const (
	hardeningChange = "hardening"
	hardenedFlow    = 1
)

// The pre-flight change (issue 9): every host is inspected, synced,
// logged in and pulled, several at once, before any host switches; a
// pre-flight failure anywhere leaves every host as it was.
const (
	preflightChange = "preflight"
	preflightFirst  = 1
)

type deploy struct {
	in        DeployInput
	hardened  bool // the hardening change applies (see hardeningChange)
	preflight bool // the pre-flight change applies (see preflightChange)
	progress  Progress
	hosts     []*hostRun // hosts this deploy has changed, in order
	// fleet: a DeployHost child of a rollout: hosts already on the
	// version are skipped, the bundle comes by reference (ref), and a
	// started host is watched for pause before it is marked good.
	fleet bool
	ref   activities.BundleRef
	pause time.Duration
	// onceHost: this child's host is the rollout's first (once hooks).
	onceHost bool
}

// hostRun is what the deploy did to one host: the saga's record of what
// to undo.
type hostRun struct {
	t        activities.Target
	prev     string // rollback target; "" on a first deploy
	switched bool   // current was switched to the new release
	started  bool   // compose up ran for the new release
	first    bool   // the host had no current release: nothing served before
	current  string // what current pointed at when the deploy found the host
	// failedCheck: the new release itself failed here (its containers
	// crashed, were unhealthy under rollback, or up failed on them): it is
	// marked failed before anything is undone.
	failedCheck bool
	envFiles    []string // the new release's env files, for redaction
	skip        bool     // a rollout leaves the host alone: it runs the version already
	onceHost    bool     // the deploy's first host: once hooks run here
	hookWarns   []string // optional hooks that failed
	outcome     HostOutcome
	slots       *SlotRun // strategy zero-downtime: what was done with the slots
	trafficBack string   // zero-downtime undo with no rollback target: what serves again
}

// stepError is a failed step, with where it failed.
type stepError struct {
	host, step string
	err        error
}

func (e *stepError) Error() string { return fmt.Sprintf("host %s, step %s: %v", e.host, e.step, e.err) }
func (e *stepError) Unwrap() error { return e.err }

func (d *deploy) targets() []activities.Target {
	s := d.in.Spec
	ts := make([]activities.Target, len(s.Hosts))
	for i, h := range s.Hosts {
		ts[i] = activities.Target{Host: h.Target(), Name: h.String(), Base: s.RemoteBase, Service: s.Service}
	}
	return ts
}

func (d *deploy) window() time.Duration {
	return time.Duration(d.in.Spec.Wait.Retries) * d.in.Spec.Wait.Delay
}

// step runs one activity and records it for the progress query.
func (d *deploy) step(ctx workflow.Context, host, name string, opts workflow.ActivityOptions, fn, arg, out any) error {
	seq := len(d.progress.Events)
	d.progress.Events = append(d.progress.Events, Event{Seq: seq, Host: host, Step: name, State: "started"})
	start := workflow.Now(ctx)
	opts.Summary = host + ": " + name
	// On cancel, wait for the step to stop before anything else runs on
	// the host: compensation must not start while the up or switch it
	// undoes still runs. (Deploys recorded before the hardening change
	// did not wait, and replay as they ran.)
	opts.WaitForCancellation = d.hardened
	var err error
	if d.fleet && opts.HeartbeatTimeout == 0 {
		// A rollout's quick steps (inspect, switch, marks, login, prune)
		// run as local activities: one marker in the host's history and
		// no round trip through the server, which was what bounded a
		// 200-host rollout here (the dev server at 120% CPU, hoist's
		// worker at 17%). They are as idempotent as every step: a worker
		// that died mid-step runs it again on replay. Long steps keep
		// their heartbeats as activities.
		lo := workflow.LocalActivityOptions{StartToCloseTimeout: opts.StartToCloseTimeout, RetryPolicy: opts.RetryPolicy, Summary: opts.Summary}
		err = workflow.ExecuteLocalActivity(workflow.WithLocalActivityOptions(ctx, lo), fn, arg).Get(ctx, out)
	} else {
		err = workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, opts), fn, arg).Get(ctx, out)
	}
	ev := &d.progress.Events[seq]
	ev.Took = workflow.Now(ctx).Sub(start)
	if err != nil {
		ev.State, ev.Detail = "failed", rootMessage(err)
		return &stepError{host: host, step: name, err: err}
	}
	ev.State = "ok"
	return nil
}

func (d *deploy) note(ctx workflow.Context, host, name, state, detail string) {
	d.progress.Events = append(d.progress.Events, Event{Seq: len(d.progress.Events), Host: host, Step: name, State: state, Detail: detail})
}

func (d *deploy) run(ctx workflow.Context) (res *DeployResult, err error) {
	in := d.in
	defer func() {
		if err != nil {
			err = d.fail(ctx, err)
		}
		d.progress.Phase = "done"
	}()
	var warnings []string
	if r := in.Spec.Registry; d.hardened && r.LogsIn() {
		// Credentials live on the worker: one it does not hold is an
		// error before any host is touched, not on the first host's login.
		check := activities.RegistryCheckInput{Server: r.Server}
		if err := d.step(ctx, "worker", "registry credentials", quickStep, a.CheckRegistry, check, nil); err != nil {
			return nil, err
		}
	}
	if d.preflight {
		if err := d.preflightAll(ctx); err != nil {
			return nil, err
		}
		for _, h := range d.hosts {
			w, err := d.startHost(ctx, h)
			if err != nil {
				return nil, err
			}
			warnings = append(warnings, w...)
		}
	}
	for _, t := range d.targets() {
		if d.preflight {
			break
		}
		deployHost := d.deployHostV0
		if d.hardened {
			deployHost = d.deployHost
		}
		w, err := deployHost(ctx, t)
		if err != nil {
			return nil, err
		}
		warnings = append(warnings, w...)
	}
	d.retain(ctx)
	res = &DeployResult{Service: in.Spec.Service, Version: in.Version, Kind: in.Kind, Outcome: OutcomeDeployed, Warnings: warnings}
	if len(warnings) > 0 {
		res.Outcome = OutcomeWarning
	}
	for _, h := range d.hosts {
		res.Hosts = append(res.Hosts, h.outcome)
	}
	return res, nil
}

// deployHostV0 is the flow of deploys recorded before the hardening
// change, kept step for step so they replay.
func (d *deploy) deployHostV0(ctx workflow.Context, t activities.Target) (warnings []string, err error) {
	in, host := d.in, t.Label()
	rel := activities.ReleaseInput{Target: t, Version: in.Version}

	var st commands.State
	if err := d.step(ctx, host, "inspect", quickStep, a.InspectHost, t, &st); err != nil {
		return nil, err
	}
	h := &hostRun{t: t, prev: rollbackTargetV0(st, in.Version)}
	h.outcome = HostOutcome{Host: host, Previous: h.prev}
	d.hosts = append(d.hosts, h)

	if in.Kind == KindRollback {
		if !st.Has(in.Version) {
			return nil, &stepError{host: host, step: "inspect", err: temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("release %s is not on host %s (it has: %s)", in.Version, host, versionsOf(st)), activities.ErrMissing, nil)}
		}
		// The release we leave is what a failed rollback returns to; rolling
		// back to what is already current keeps the usual target.
		if st.Current != in.Version {
			h.prev = st.Current
			h.outcome.Previous = st.Current
		}
	} else {
		sync := activities.SyncInput{Target: t, Version: in.Version, Bundle: in.Bundle, Ref: d.ref}
		if err := d.step(ctx, host, "sync", transferStep, a.SyncRelease, sync, nil); err != nil {
			return nil, err
		}
	}

	h.switched = true // set before the step: a switch that ran but whose reply was lost is still undone
	if err := d.step(ctx, host, "switch current", quickStep, a.SwitchCurrent, rel, nil); err != nil {
		return nil, err
	}
	if r := in.Spec.Registry; r.Type != "" && r.Type != "none" {
		login := activities.LoginInput{Target: t, Registry: r}
		if err := d.step(ctx, host, "registry login", quickStep, a.RegistryLogin, login, nil); err != nil {
			return nil, err
		}
	}
	if err := d.step(ctx, host, "pull", composeStep, a.PullImages, rel, nil); err != nil {
		return nil, err
	}
	var started activities.StartResult
	h.started = true
	if err := d.step(ctx, host, "up", composeStep, a.StartRelease, rel, &started); err != nil {
		return nil, err
	}
	wait := activities.WaitInput{Target: t, Version: in.Version, Services: in.Spec.Services,
		Window: d.window(), Poll: in.Poll, Stable: in.Spec.Wait.Stable, UpAt: started.UpAt}
	var wr activities.WaitResult
	if err := d.step(ctx, host, "wait running", waitStep(wait.Window), a.WaitRunning, wait, &wr); err != nil {
		return nil, err
	}
	h.outcome.Verdict, h.outcome.Detail = wr.Verdict, wr.Detail
	switch wr.Verdict {
	case commands.Healthy.String():
		return nil, nil
	case commands.Unhealthy.String():
		if in.Spec.Health.Unhealthy == "rollback" {
			return nil, &stepError{host: host, step: "wait running", err: errors.New(wr.Detail + " (health.unhealthy: rollback)")}
		}
		d.note(ctx, host, "health", "warning", wr.Detail)
		return []string{fmt.Sprintf("host %s: %s", host, wr.Detail)}, nil
	default:
		return nil, &stepError{host: host, step: "wait running", err: fmt.Errorf("%s: %s (running-check window %s)", wr.Verdict, wr.Detail, d.window())}
	}
}

// rollbackTargetV0 is the target deploys recorded before the hardening
// change chose: what current points at, unless that is the version itself
// (a redeploy), then the newest older release not marked failed. New
// deploys use commands.State.RollbackTarget: known good only.
func rollbackTargetV0(st commands.State, version string) string {
	if st.Current != "" && st.Current != version && !st.Failed(st.Current) {
		return st.Current
	}
	for _, r := range st.Releases { // newest first
		if r.Version != version && !r.Failed {
			return r.Version
		}
	}
	return ""
}

func versionsOf(st commands.State) string {
	if len(st.Releases) == 0 {
		return "no releases"
	}
	vs := make([]string, len(st.Releases))
	for i, r := range st.Releases {
		vs[i] = r.Version
	}
	return strings.Join(vs, ", ")
}

// retain clears the failed mark of the release that just succeeded and
// prunes old releases. It never fails the deploy: the release is live.
// (Hardened deploys marked the release good right after its check.)
func (d *deploy) retain(ctx workflow.Context) {
	for _, h := range d.hosts {
		host := h.t.Label()
		rel := activities.ReleaseInput{Target: h.t, Version: d.in.Version}
		if !d.hardened {
			if err := d.step(ctx, host, "clear failed mark", quickStep, a.ClearFailed, rel, nil); err != nil {
				continue
			}
		}
		protect := []string{d.in.Version}
		if h.prev != "" {
			protect = append(protect, h.prev)
		}
		prune := activities.PruneInput{Target: h.t, Keep: d.in.Spec.KeepReleases, Protect: protect}
		var pr activities.PruneResult
		if err := d.step(ctx, host, "prune releases", quickStep, a.PruneReleases, prune, &pr); err == nil {
			h.outcome.Pruned = pr.Removed
		}
	}
}

// rootMessage is the innermost failure message: what actually went wrong.
func rootMessage(err error) string {
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		return app.Message()
	}
	var timeout *temporal.TimeoutError
	if errors.As(err, &timeout) {
		return "timed out (" + timeout.TimeoutType().String() + ")"
	}
	var canceled *temporal.CanceledError
	if errors.As(err, &canceled) {
		return "cancelled"
	}
	return err.Error()
}
