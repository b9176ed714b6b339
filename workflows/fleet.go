package workflows

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/hoist-dev/hoist/activities"
	"github.com/hoist-dev/hoist/config"
	"github.com/hoist-dev/hoist/notify"
	"github.com/hoist-dev/hoist/rollout"
)

// The fleet change (issue 9): a deploy or rollback whose spec has a
// rollout block runs it, batch by batch, one DeployHost child per host
// and phase. Before it, such a deploy was refused.
const (
	fleetChange = "fleet"
	fleetFirst  = 1
)

// fleetRun is a rollout in progress: the parent's state.
type fleetRun struct {
	in       DeployInput
	r        config.Rollout
	id       string // the parent's workflow ID: children's IDs derive from it
	ref      activities.BundleRef
	hosts    []*fleetHost // config order
	batches  [][]*fleetHost
	parallel int // max_parallel, or 0: each batch whole
	budget   int // hosts that may fail

	progress Progress
	decision *Approval // the answer to the wait in progress
	around   *around   // start time, windows, notifications; nil without them
	stop     string    // why no more hosts start, once it is so
	warnings []string
}

// fleetHost is one host of the rollout.
type fleetHost struct {
	t        activities.Target
	spec     config.Spec // the spec with only this host
	batch    int         // 1-based
	line     int         // index in progress.Fleet.Hosts
	prepared *HostPrepared
	changed  *HostChanged
	failure  *FailureDetails // the child's, when it failed
}

func newFleetRun(ctx workflow.Context, in DeployInput) *fleetRun {
	info := workflow.GetInfo(ctx)
	f := &fleetRun{in: in, r: *in.Spec.Rollout, id: info.WorkflowExecution.ID}
	switch {
	case in.BundleRef != nil:
		f.ref = *in.BundleRef
	case in.Kind == KindDeploy:
		f.ref = activities.RefOf(in.Bundle, info.WorkflowExecution.ID, info.WorkflowExecution.RunID)
	}
	fl := &Fleet{OnFailure: f.r.OnFailure, Limited: in.Limited}
	d := &deploy{in: in}
	for i, t := range d.targets() {
		one := in.Spec
		one.Hosts, one.Rollout = []config.Host{in.Spec.Hosts[i]}, nil
		f.hosts = append(f.hosts, &fleetHost{t: t, spec: one, line: i})
		fl.Hosts = append(fl.Hosts, FleetHost{Host: t.Label(), State: StatePending})
	}
	f.batches = rollout.Batches(f.hosts, f.r.Batches)
	for b, hs := range f.batches {
		for _, h := range hs {
			h.batch = b + 1
			fl.Hosts[h.line].Batch = b + 1
		}
	}
	fl.Batches = len(f.batches)
	f.budget = f.r.MaxFailed.BudgetOf(len(f.hosts))
	fl.MaxFailed = f.budget
	f.parallel = f.r.MaxParallel
	f.progress = Progress{Kind: in.Kind, Version: in.Version, Phase: "deploying", Fleet: fl}
	return f
}

func (f *fleetRun) fleet() *Fleet                { return f.progress.Fleet }
func (f *fleetRun) line(h *fleetHost) *FleetHost { return &f.progress.Fleet.Hosts[h.line] }

// runFleet is Deploy for a spec with a rollout block.
func runFleet(ctx workflow.Context, in DeployInput) (*DeployResult, error) {
	f := newFleetRun(ctx, in)
	if err := workflow.SetQueryHandler(ctx, ProgressQuery, func() (Progress, error) { return f.progress, nil }); err != nil {
		return nil, err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, DecideUpdate, f.decide,
		workflow.UpdateHandlerOptions{Validator: f.validateDecision}); err != nil {
		return nil, err
	}
	if !in.hasAround() {
		res, err := f.run(ctx)
		f.progress.Phase = "done"
		return res, err
	}
	f.around = newAround(ctx, in, func(p string, until time.Time) { f.progress.Phase, f.progress.Until = p, until })
	if err := f.around.begin(ctx); err != nil {
		f.progress.Phase = "done"
		return f.around.end(ctx, nil, err)
	}
	res, err := f.run(ctx)
	f.progress.Phase = "done"
	return f.around.end(ctx, res, err)
}

func (f *fleetRun) run(ctx workflow.Context) (*DeployResult, error) {
	if r := f.in.Spec.Registry; r.LogsIn() {
		d := &deploy{in: f.in, hardened: true}
		check := activities.RegistryCheckInput{Server: r.Server}
		if err := d.step(ctx, "worker", "registry credentials", quickStep, a.CheckRegistry, check, nil); err != nil {
			return nil, d.fail(ctx, err)
		}
	}
	if f.r.Preflight {
		if err := f.preflight(ctx); err != nil {
			return nil, err
		}
	}
	for b, batch := range f.batches {
		f.fleet().Batch = b + 1
		f.runBatch(ctx, batch)
		if f.stop == "" && ctx.Err() != nil {
			f.stop = "cancelled"
		}
		if f.stop != "" {
			return nil, f.compensate(ctx)
		}
		if b == len(f.batches)-1 {
			break
		}
		if reason := f.waitReason(b+1, batch); reason != "" {
			if err := f.await(ctx, b+1, reason); err != nil {
				return nil, f.compensate(ctx)
			}
		}
		if f.around != nil {
			// The next batch proceeds only inside the deploy windows.
			if err := f.around.window(ctx, fmt.Sprintf("batch %d", b+2)); err != nil {
				if f.stop == "" {
					f.stop = fmt.Sprintf("batch %d held: %s", b+2, rootMessage(err))
				}
				return nil, f.compensate(ctx)
			}
			f.progress.Phase = "deploying"
		}
	}
	return f.finish()
}

// preflight prepares every host, up to max_parallel at once, before any
// host switches. A failure anywhere fails the deploy with every host as
// it was.
func (f *fleetRun) preflight(ctx workflow.Context) error {
	f.progress.Phase = "pre-flight"
	var failed []string
	f.each(ctx, f.hosts, func(ctx workflow.Context, h *fleetHost) {
		f.line(h).State = StatePreparing
		res, err := f.child(ctx, h, PhasePrepare)
		if err != nil {
			f.line(h).State, f.line(h).Detail = StatePending, hostCause(err)
			failed = append(failed, fmt.Sprintf("%s (%s)", h.t.Label(), hostCause(err)))
			return
		}
		h.prepared = res.Prepared
		f.line(h).Previous, f.line(h).Runs = res.Prepared.Current, res.Prepared.Current
		f.line(h).State = StatePrepared
		if res.Prepared.Skip {
			f.line(h).State = StateSkipped
		}
	})
	f.progress.Phase = "deploying"
	if len(failed) == 0 {
		return nil
	}
	if ctx.Err() != nil {
		return f.failure(ctx, FailureDetails{Cancelled: true, Cause: "cancelled during pre-flight"})
	}
	slices.Sort(failed) // the order hosts failed in is the scheduler's; the message is the same every time
	details := FailureDetails{Step: "pre-flight",
		Cause: fmt.Sprintf("pre-flight failed on %d of %d hosts, so no host was switched: %s", len(failed), len(f.hosts), strings.Join(failed, "; "))}
	for _, h := range f.hosts {
		if f.line(h).State == StatePending {
			details.Host = h.t.Label()
			break
		}
	}
	for i := range f.fleet().Hosts {
		if f.fleet().Hosts[i].State != StatePending {
			f.fleet().Hosts[i].State = StateNotRun
		} else {
			f.fleet().Hosts[i].State = StateFailed
		}
	}
	return f.failure(ctx, details)
}

// runBatch starts the batch's hosts, up to max_parallel at once, in
// config order. Once the rollout is stopping (too many failures, a
// cancel) no further host starts; those running finish.
func (f *fleetRun) runBatch(ctx workflow.Context, batch []*fleetHost) {
	phase := PhaseDeploy
	if f.r.Preflight {
		phase = PhaseStart
	}
	f.each(ctx, batch, func(ctx workflow.Context, h *fleetHost) {
		if f.line(h).State == StateSkipped {
			return
		}
		if f.stop != "" || ctx.Err() != nil {
			f.line(h).State = StateNotRun
			return
		}
		f.line(h).State = StateDeploying
		res, err := f.child(ctx, h, phase)
		if err != nil {
			f.hostFailed(h, err)
			return
		}
		if res.Prepared != nil {
			h.prepared = res.Prepared
			f.line(h).Previous = res.Prepared.Current
		}
		h.changed = res.Changed
		if res.Prepared != nil && res.Prepared.Skip {
			f.line(h).State = StateSkipped
			return
		}
		f.line(h).State, f.line(h).Runs = StateDeployed, f.in.Version
		if len(res.Warnings) > 0 {
			f.line(h).State, f.line(h).Detail = StateWarning, strings.Join(res.Warnings, "; ")
			f.warnings = append(f.warnings, res.Warnings...)
		}
	})
}

// hostFailed records a host whose child failed: the child put it back on
// its previous release (its own compensation) unless its details say
// otherwise. Past the failure budget the rollout stops.
func (f *fleetRun) hostFailed(h *fleetHost, err error) {
	l := f.line(h)
	l.Detail = hostCause(err)
	details, ok := childDetails(err)
	switch {
	case ok && details.Cancelled:
		h.failure = &details
		l.State = StateReverted
		if details.RolledBackTo != "" {
			l.Runs = details.RolledBackTo
		}
		if details.RollbackFailed || (details.NothingToRollBackTo && h.prepared != nil && !h.prepared.First) {
			l.State = StateUnsafe
		}
		return // a cancel, not a failure of the release
	case ok:
		h.failure = &details
		l.State, l.Runs = StateFailed, details.RolledBackTo
		if details.RollbackFailed || details.NothingToRollBackTo {
			l.State, l.Runs = StateUnsafe, ""
		}
	default:
		l.State, l.Runs = StateUnsafe, ""
	}
	f.fleet().Failed++
	if f.stop == "" && f.fleet().Failed > f.budget {
		f.stop = stopFailures // said with the final count when the rollout ends
	}
}

// stopFailures: more hosts failed than max_failed allows.
const stopFailures = "failures"

// waitReason says why the rollout waits for approval after batch b (1-based):
// approve_after names it, or a host of it ended running but unhealthy
// (a warning is not a green light for the rest of the fleet).
func (f *fleetRun) waitReason(b int, batch []*fleetHost) string {
	var unhealthy []string
	changed := false
	for _, h := range batch {
		l := f.line(h)
		if l.State == StateWarning {
			unhealthy = append(unhealthy, l.Detail)
		}
		changed = changed || l.State == StateDeployed || l.State == StateWarning
	}
	if !changed {
		return "" // every host of the batch ran the version already: nothing to look at
	}
	if len(unhealthy) > 0 {
		return "batch " + fmt.Sprint(b) + " ended with a health warning: " + strings.Join(unhealthy, "; ")
	}
	if slices.Contains(f.r.ApproveAfter, b) {
		return "approve_after: [" + joinInts(f.r.ApproveAfter) + "]"
	}
	return ""
}

// await waits durably for `hoist approve` or `hoist reject` after batch
// b. Rejection, the approval timeout and a cancel stop the rollout.
func (f *fleetRun) await(ctx workflow.Context, b int, reason string) error {
	now := workflow.Now(ctx)
	f.decision = nil
	f.fleet().Waiting = &ApprovalWait{AfterBatch: b, Reason: reason, Since: now, Deadline: now.Add(f.r.ApprovalTimeout)}
	f.progress.Phase = "waiting for approval"
	if f.around != nil {
		f.around.notifyKeyed(ctx, notify.EventAwaitingApproval, fmt.Sprintf("%s/batch-%d", notify.EventAwaitingApproval, b),
			fmt.Sprintf("waiting for approval after batch %d of %d", b, len(f.batches)), reason)
	}
	got, err := workflow.AwaitWithTimeout(ctx, f.r.ApprovalTimeout, func() bool { return f.decision != nil })
	f.fleet().Waiting = nil
	f.progress.Phase = "deploying"
	switch {
	case err != nil:
		f.stop = "cancelled while waiting for approval"
	case !got:
		f.stop = fmt.Sprintf("no approval within approval_timeout (%s) after batch %d", config.FormatDuration(f.r.ApprovalTimeout), b)
	case !f.decision.Approve:
		f.stop = fmt.Sprintf("rejected by %s after batch %d", f.decision.By, b)
		if f.decision.Note != "" {
			f.stop += ": " + f.decision.Note
		}
	default:
		return nil
	}
	return errors.New(f.stop)
}

// validateDecision refuses a decision while the rollout is not waiting:
// it is not recorded in history then.
func (f *fleetRun) validateDecision(ctx workflow.Context, d Approval) error {
	if f.fleet().Waiting == nil || f.decision != nil {
		return fmt.Errorf("the %s of version %s is not waiting for approval (it is %s)", f.in.Kind, f.in.Version, f.doing())
	}
	if strings.TrimSpace(d.By) == "" {
		return errors.New("a decision must say who made it (by)")
	}
	if len(d.Note) > 1000 || len(d.By) > 200 {
		return errors.New("the note is limited to 1000 bytes and by to 200")
	}
	return nil
}

func (f *fleetRun) decide(ctx workflow.Context, d Approval) (string, error) {
	d.At, d.Batch = workflow.Now(ctx), f.fleet().Waiting.AfterBatch
	f.decision = &d
	f.fleet().Approvals = append(f.fleet().Approvals, d)
	if d.Approve {
		return fmt.Sprintf("approved: the rollout goes on with batch %d of %d", d.Batch+1, len(f.batches)), nil
	}
	return "rejected: every host this rollout changed goes back to its previous release", nil
}

func (f *fleetRun) doing() string {
	switch f.progress.Phase {
	case "pre-flight":
		return "in pre-flight"
	case "deploying":
		return fmt.Sprintf("deploying batch %d of %d", f.fleet().Batch, len(f.batches))
	}
	return f.progress.Phase
}

// compensate ends a stopped rollout. on_failure rollback: every host
// this rollout left on the new release goes back to its previous one,
// newest batch first, up to max_parallel at once; halt: they stay.
func (f *fleetRun) compensate(ctx workflow.Context) error {
	cancelled := ctx.Err() != nil
	cctx, _ := workflow.NewDisconnectedContext(ctx)
	if f.stop == stopFailures {
		f.stop = fmt.Sprintf("%d host(s) failed, more than max_failed (%d)", f.fleet().Failed, f.budget)
	}
	f.fleet().Stopped = f.stop
	for i := range f.fleet().Hosts {
		if l := &f.fleet().Hosts[i]; l.State == StatePending || l.State == StatePrepared {
			l.State = StateNotRun
		}
	}
	details := FailureDetails{Cause: f.stop, Cancelled: cancelled}
	if first := f.firstFailure(); first != nil {
		details.Host, details.Step = first.Host, first.Step
		details.Cause = f.stop + "; first: " + whereAndWhy(*first)
	}
	if f.r.OnFailure == config.OnFailureRollback {
		f.progress.Phase = "rolling back"
		for b := len(f.batches) - 1; b >= 0; b-- {
			f.each(cctx, f.batches[b], func(ctx workflow.Context, h *fleetHost) {
				l := f.line(h)
				if l.State != StateDeployed && l.State != StateWarning {
					return
				}
				l.State = StateReverting
				if _, err := f.child(ctx, h, PhaseRevert); err != nil {
					l.State, l.Detail = StateUnsafe, hostCause(err)
					return
				}
				l.State, l.Runs = StateReverted, h.prepared.Previous
			})
		}
	}
	return f.failure(ctx, details)
}

// finish ends a rollout that ran every batch.
func (f *fleetRun) finish() (*DeployResult, error) {
	if f.fleet().Failed > 0 {
		details := FailureDetails{Mixed: true, Cause: fmt.Sprintf("%d host(s) failed, within max_failed (%d)", f.fleet().Failed, f.budget)}
		if first := f.firstFailure(); first != nil {
			details.Host, details.Step = first.Host, first.Step
			details.Cause += "; first: " + whereAndWhy(*first)
		}
		return nil, f.failure(nil, details)
	}
	res := &DeployResult{Service: f.in.Spec.Service, Version: f.in.Version, Kind: f.in.Kind, Outcome: OutcomeDeployed, Warnings: f.warnings, Fleet: f.fleet()}
	if len(f.warnings) > 0 {
		res.Outcome = OutcomeWarning
	}
	for _, h := range f.hosts {
		l := f.line(h)
		res.Hosts = append(res.Hosts, HostOutcome{Host: l.Host, Previous: l.Previous, Verdict: l.State, Detail: l.Detail})
	}
	return res, nil
}

// whereAndWhy is "host H, step S: cause", once: a step's cause often
// starts with where it failed already.
func whereAndWhy(d FailureDetails) string {
	if strings.HasPrefix(d.Cause, "host ") {
		return d.Cause
	}
	return "host " + d.Host + ", step " + d.Step + ": " + d.Cause
}

func (f *fleetRun) firstFailure() *FailureDetails {
	for _, h := range f.hosts {
		if h.failure != nil && !h.failure.Cancelled {
			return h.failure
		}
	}
	return nil
}

// failure is the rollout's end as the CLI explains it: the closing line
// says what the fleet runs now.
func (f *fleetRun) failure(_ workflow.Context, details FailureDetails) error {
	fl := f.fleet()
	details.Version, details.Kind, details.Fleet = f.in.Version, f.in.Kind, fl
	var back []string
	onNew := 0
	for _, l := range fl.Hosts {
		switch l.State {
		case StateUnsafe:
			details.RollbackFailed = true
			details.Recovery = append(details.Recovery, "host "+l.Host+": "+l.Detail)
		case StateReverted, StateFailed:
			if l.Runs != "" {
				back = appendUnique(back, l.Runs)
			}
		case StateDeployed, StateWarning:
			onNew++
		}
	}
	details.RolledBackTo = strings.Join(back, ", ")
	for _, h := range f.hosts {
		if h.failure != nil {
			details.Logs = append(details.Logs, h.failure.Logs...)
		}
	}
	if onNew > 0 {
		details.Mixed = true
	}
	f.progress.Phase = "done"
	msg := fleetMessage(details)
	if len(details.Logs) > 0 {
		msg += " — logs of the failed containers are kept on the hosts: " + strings.Join(details.Logs, "; ")
	}
	if details.Cancelled {
		return temporal.NewCanceledError(details)
	}
	return temporal.NewNonRetryableApplicationError(msg, FailureType, nil, details)
}

// fleetMessage is the closing line of a rollout that did not fully
// succeed: what stopped it and what the fleet runs now.
func fleetMessage(d FailureDetails) string {
	what := "Deployment of version " + d.Version
	if d.Kind == KindRollback {
		what = "Rollback to version " + d.Version
	}
	fl := d.Fleet
	counts := fleetCounts(fl)
	switch {
	case d.RollbackFailed:
		return fmt.Sprintf("❌ %s failed: %s. Putting hosts back FAILED on some: %s. Fleet: %s", what, d.Cause, strings.Join(d.Recovery, " | "), counts)
	case d.Mixed:
		return fmt.Sprintf("❌ %s did not reach every host: %s. Fleet: %s", what, d.Cause, counts)
	case d.RolledBackTo != "":
		return fmt.Sprintf("❌ %s failed! Rolled back to %s. Cause: %s. Fleet: %s", what, d.RolledBackTo, d.Cause, counts)
	default:
		return fmt.Sprintf("❌ %s failed: %s. No host had been changed.", what, d.Cause)
	}
}

// fleetCounts is "2 deployed, 1 failed (back on v1), 3 not run".
func fleetCounts(fl *Fleet) string {
	var parts []string
	for _, s := range []string{StateDeployed, StateWarning, StateSkipped, StateFailed, StateReverted, StateUnsafe, StateNotRun} {
		if n := fl.Count(s); n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, s))
		}
	}
	return strings.Join(parts, ", ")
}

// each runs fn for every host, up to the rollout's max_parallel at once,
// and returns when all have returned.
func (f *fleetRun) each(ctx workflow.Context, hosts []*fleetHost, fn func(workflow.Context, *fleetHost)) {
	n := rollout.Parallel(f.parallel, len(hosts))
	if n == 0 {
		return
	}
	sem := workflow.NewSemaphore(ctx, int64(n))
	wg := workflow.NewWaitGroup(ctx)
	for _, h := range hosts {
		wg.Add(1)
		workflow.Go(ctx, func(ctx workflow.Context) {
			defer wg.Done()
			if err := sem.Acquire(ctx, 1); err != nil {
				fn(ctx, h) // cancelled while queued: fn sees ctx.Err() and records the host as not run
				return
			}
			defer sem.Release(1)
			fn(ctx, h)
		})
	}
	wg.Wait(ctx)
}

// child runs one phase of one host as a DeployHost child workflow.
func (f *fleetRun) child(ctx workflow.Context, h *fleetHost, phase string) (*HostResult, error) {
	in := HostInput{Spec: h.spec, Version: f.in.Version, Kind: f.in.Kind, Phase: phase, Poll: f.in.Poll, Pause: f.r.Pause,
		Prepared: h.prepared, Changed: h.changed, OnceHost: h == f.batches[0][0]}
	if phase == PhasePrepare || phase == PhaseDeploy {
		in.Bundle = f.ref
	}
	if phase == PhaseRevert && in.Changed == nil {
		in.Changed = &HostChanged{Switched: true, Started: true}
	}
	id := f.id + "/" + h.t.Label() + "/" + phase
	opts := workflow.ChildWorkflowOptions{
		WorkflowID:            id,
		StaticSummary:         fmt.Sprintf("%s %s: %s %s (batch %d)", f.in.Kind, h.t.Label(), phase, f.in.Version, h.batch),
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		// A parent that ends (terminated, timed out) asks its children to
		// stop, and they put their host back; they are never cut off
		// halfway.
		ParentClosePolicy: enumspb.PARENT_CLOSE_POLICY_REQUEST_CANCEL,
		// On cancel the parent waits for each child's own compensation
		// before its own runs on the same hosts.
		WaitForCancellation: true,
	}
	f.line(h).Child = id
	defer func() { f.line(h).Child = "" }()
	var res HostResult
	err := workflow.ExecuteChildWorkflow(workflow.WithChildOptions(ctx, opts), DeployHostWorkflowName, in).Get(ctx, &res)
	if err != nil {
		return nil, err
	}
	return &res, nil
}

// childDetails are the FailureDetails a failed or cancelled child
// returned.
func childDetails(err error) (FailureDetails, bool) {
	var d FailureDetails
	var app *temporal.ApplicationError
	if errors.As(err, &app) && app.Type() == FailureType && app.Details(&d) == nil {
		return d, true
	}
	var canceled *temporal.CanceledError
	if errors.As(err, &canceled) && canceled.HasDetails() && canceled.Details(&d) == nil {
		return d, true
	}
	return d, false
}

// hostCause is what went wrong on a host, once: the child's message
// starts with the host's name.
func hostCause(err error) string {
	if d, ok := childDetails(err); ok {
		if d.Step != "" && d.Step != "revert" && !strings.HasPrefix(d.Cause, "host ") {
			return d.Step + ": " + d.Cause
		}
		return d.Cause
	}
	return rootMessage(err)
}

func joinInts(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = fmt.Sprint(x)
	}
	return strings.Join(s, ", ")
}
