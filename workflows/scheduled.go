package workflows

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/hoist-dev/hoist/activities"
	"github.com/hoist-dev/hoist/config"
)

// ScheduledDeployWorkflowName is the workflow a hoist schedule starts at
// each of its times: it deploys the release frozen in the schedule under
// the deploy lock, as hoist deploy would.
const ScheduledDeployWorkflowName = "ScheduledDeploy"

// What a schedule does when it fires while a deploy or rollback of its
// service and environment runs (hoist schedule create --overlap).
const (
	OverlapSkip      = "skip"       // this run deploys nothing, and says why
	OverlapBufferOne = "buffer-one" // this run waits for the lock, up to LockWaitMax
)

// A buffered run tries the lock every LockRetryEvery, for LockWaitMax at
// most: a deploy that holds it longer than that (an approval wait) is not
// something to queue behind silently.
const (
	LockRetryEvery = 30 * time.Second
	LockWaitMax    = time.Hour
)

// Outcomes of a ScheduledDeploy that did not fail.
const (
	ScheduledDeployed = "deployed" // the deploy ran and succeeded (health warnings included)
	ScheduledSkipped  = "skipped"  // another deploy held the lock; overlap skip
)

// ScheduledFailureType is the type of a ScheduledDeploy's failure
// when its deploy failed or it gave up waiting for the lock.
const ScheduledFailureType = "ScheduledDeployFailed"

// The search attributes Temporal sets on a workflow a schedule starts.
var (
	scheduledStartTime = temporal.NewSearchAttributeKeyTime("TemporalScheduledStartTime")
	scheduledByID      = temporal.NewSearchAttributeKeyKeyword("TemporalScheduledById")
)

// ScheduleIDPrefix starts the ID of every schedule hoist creates.
const ScheduleIDPrefix = "hoist/"

// ScheduleID names schedule name of a service's environment:
// hoist/SERVICE/ENVIRONMENT/NAME. Service and environment names hold no
// '/', so ParseScheduleID reads it back.
func ScheduleID(service, environment, name string) string {
	if environment == "" {
		environment = config.DefaultEnvironment
	}
	return ScheduleIDPrefix + service + "/" + environment + "/" + name
}

// ParseScheduleID splits an ID made by ScheduleID; ok is false for any
// other schedule of the namespace.
func ParseScheduleID(id string) (service, environment, name string, ok bool) {
	rest, found := strings.CutPrefix(id, ScheduleIDPrefix)
	parts := strings.Split(rest, "/")
	if !found || len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return "", "", "", false
	}
	return parts[0], parts[1], parts[2], true
}

// ScheduleRunID is the ID a schedule's action gives the ScheduledDeploy
// runs it starts; Temporal appends the scheduled time to it.
func ScheduleRunID(service, environment, name string) string {
	if environment == "" {
		environment = config.DefaultEnvironment
	}
	return "scheduled/" + service + "/" + environment + "/" + name
}

// ScheduledDeployInput is what a schedule freezes when it is created: the
// deploy hoist deploy would start then, without its version (each run
// takes its own from the time it was scheduled for), with the release
// files inline, and the overlap mode.
//
// DeployInput is embedded so that the files sit at the top of the JSON
// input under "bundle", where bundlestore reads a bundle from a start
// event: the deploy this run starts names them by reference to this run
// (as hoist deploy's name a ReleaseBundle run), and its history does not
// carry the bytes a second time.
type ScheduledDeployInput struct {
	DeployInput
	Overlap string `json:"overlap"`
}

// Validate checks a frozen deploy, as the CLI does before creating the
// schedule and the workflow does before anything else. Pure.
func (in ScheduledDeployInput) Validate() error {
	var problems []error
	add := func(field, format string, args ...any) {
		problems = append(problems, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if in.Overlap != OverlapSkip && in.Overlap != OverlapBufferOne {
		add("overlap", "want %q or %q, got %q", OverlapSkip, OverlapBufferOne, in.Overlap)
	}
	if in.Kind != "" && in.Kind != KindDeploy {
		add("kind", "a schedule deploys (kind %q), got %q", KindDeploy, in.Kind)
	}
	if in.Version != "" {
		add("version", "a scheduled run takes its version from its scheduled time; the schedule must not fix one, got %q", in.Version)
	}
	switch {
	case len(in.Bundle) == 0:
		add("bundle", "a schedule freezes the release files, and holds none")
	case len(in.Bundle) > config.MaxBundleBytes:
		add("bundle", "%d bytes, at most %d", len(in.Bundle), config.MaxBundleBytes)
	case in.BundleRef != nil:
		add("bundle_ref", "a schedule holds its files itself: a reference would outlive what it names")
	}
	if in.At != nil {
		add("at", "a scheduled run starts at its scheduled time; the schedule must not fix another")
	}
	if in.WindowOverride != nil {
		add("window_override", "a schedule's runs keep to the deploy windows: --ignore-window is for one deploy, with its reason")
	}
	if in.Limited != "" {
		add("limited", "a schedule deploys to every host of the service")
	}
	if in.Poll < 0 || in.Poll > maxPoll {
		add("poll", "want between 0 and %s, got %s", maxPoll, in.Poll)
	}
	if err := in.Spec.Validate(); err != nil {
		problems = append(problems, err)
	}
	if len(problems) == 0 {
		return nil
	}
	return temporal.NewNonRetryableApplicationError("invalid scheduled deploy, nothing was touched: "+errors.Join(problems...).Error(), activities.ErrInvalid, nil)
}

// ScheduledDeployResult is what a run of a schedule did, when it did not
// fail.
type ScheduledDeployResult struct {
	Outcome string `json:"outcome"` // ScheduledDeployed or ScheduledSkipped
	Version string `json:"version"` // the version this run deployed, or would have
	// ScheduledFor is the time the run was scheduled for (a trigger's: when
	// it was triggered), which the version is named after.
	ScheduledFor time.Time `json:"scheduled_for"`
	// DeployWorkflowID is the deploy lock: the deploy this run started, or
	// the one that held the lock when it skipped.
	DeployWorkflowID string `json:"deploy_workflow_id"`
	DeployRunID      string `json:"deploy_run_id,omitempty"`
	Message          string `json:"message"`
	// Deploy is the deploy's own result, when it ran.
	Deploy *DeployResult `json:"deploy,omitempty"`
}

// LockHolder is the deploy or rollback that holds a service's lock, as
// far as visibility tells.
type LockHolder struct {
	RunID   string    `json:"run_id,omitempty"`
	Version string    `json:"version,omitempty"` // "" when it has no HoistVersion attribute
	Started time.Time `json:"started,omitempty"`
	Running bool      `json:"running"`
}

// describe is the holder in words, after "held by".
func (h LockHolder) describe(id string) string {
	s := "workflow " + id
	if h.RunID != "" {
		s += " (run " + h.RunID + ")"
	}
	if h.Version != "" {
		s += ", version " + h.Version
	}
	if !h.Started.IsZero() {
		s += ", started " + h.Started.UTC().Format(time.RFC3339)
	}
	return s
}

// DescribeLock reads which run holds the deploy lock id: a local activity
// (no registration needed, a marker in history), through the worker's
// own client. The one piece of I/O in this package, and not workflow
// code: it runs as an activity. Histories record it by its function name,
// DescribeLock: renaming it breaks their replay. What it returns is only for the run's message; the lock
// itself is Temporal's refusal to start a second workflow under id.
func DescribeLock(ctx context.Context, id string) (LockHolder, error) {
	cl := activity.GetClient(ctx)
	if cl == nil {
		return LockHolder{}, errors.New("no Temporal client in this activity")
	}
	desc, err := cl.DescribeWorkflowExecution(ctx, id, "")
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return LockHolder{}, nil // gone since: the next attempt will tell
	}
	if err != nil {
		return LockHolder{}, fmt.Errorf("describing workflow %s: %w", id, err)
	}
	info := desc.GetWorkflowExecutionInfo()
	h := LockHolder{
		RunID:   info.GetExecution().GetRunId(),
		Started: info.GetStartTime().AsTime(),
		Running: info.GetStatus() == enums.WORKFLOW_EXECUTION_STATUS_RUNNING,
	}
	// Search attributes are never encrypted: the default converter reads them.
	if p := info.GetSearchAttributes().GetIndexedFields()[VersionAttribute.GetName()]; p != nil {
		_ = converter.GetDefaultDataConverter().FromPayload(p, &h.Version)
	}
	return h, nil
}

// ScheduledDeploy is one run of a hoist schedule. It takes its version
// from the time it was scheduled for, then starts the real Deploy as a
// child under the deploy lock (its workflow ID, DeployWorkflowID) and
// waits for it: it fails when the deploy fails, so the schedule's
// pause-on-failure sees failed deploys. The child is abandoned, not
// terminated, if this run is terminated: a deploy half done must finish
// (or roll back) on its own. Cancelling this run cancels the deploy.
//
// When another deploy or rollback holds the lock, overlap skip ends the
// run without deploying, saying what holds it; buffer-one tries again
// every LockRetryEvery for LockWaitMax, then fails saying so. Two deploys
// of one service and environment never run at once: the lock is
// Temporal's.
func ScheduledDeploy(ctx workflow.Context, in ScheduledDeployInput) (*ScheduledDeployResult, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	info := workflow.GetInfo(ctx)
	at := scheduledTime(ctx)
	d := in.DeployInput
	d.Kind, d.Version = KindDeploy, config.NewVersion(at)
	ref := activities.RefOf(d.Bundle, info.WorkflowExecution.ID, info.WorkflowExecution.RunID)
	d.Bundle, d.BundleRef = nil, &ref
	if err := d.Validate(); err != nil {
		return nil, err
	}
	env := d.Spec.EnvironmentName()
	id := DeployWorkflowID(d.Spec.Service, env)
	by := "workflow " + info.WorkflowExecution.ID
	if s, ok := workflow.GetTypedSearchAttributes(ctx).GetKeyword(scheduledByID); ok && s != "" {
		by = "schedule " + s
	}
	res := &ScheduledDeployResult{Version: d.Version, ScheduledFor: at, DeployWorkflowID: id}
	what := fmt.Sprintf("the scheduled deploy of %s version %s to %s", d.Spec.Service, d.Version, env)

	opts := workflow.ChildWorkflowOptions{
		WorkflowID: id,
		// A finished deploy of the service is no obstacle; a running one is.
		WorkflowIDReusePolicy: enums.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		ParentClosePolicy:     enums.PARENT_CLOSE_POLICY_ABANDON,
		TypedSearchAttributes: SearchAttributes(d),
		StaticSummary:         fmt.Sprintf("%s %s (%s) %s to %d host(s), by %s", KindDeploy, d.Spec.Service, env, d.Version, len(d.Spec.Hosts), by),
		Memo:                  map[string]any{MemoBy: by},
		WaitForCancellation:   true,
	}
	cctx := workflow.WithChildOptions(ctx, opts)
	giveUp := workflow.Now(ctx).Add(LockWaitMax)
	for {
		child := workflow.ExecuteChildWorkflow(cctx, DeployWorkflowName, d)
		var exec workflow.Execution
		err := child.GetChildWorkflowExecution().Get(ctx, &exec)
		if err == nil {
			res.DeployRunID = exec.RunID
			var out DeployResult
			if err := child.Get(ctx, &out); err != nil {
				if ctx.Err() != nil {
					return nil, err // this run was cancelled, and its deploy with it
				}
				return nil, temporal.NewNonRetryableApplicationError(
					fmt.Sprintf("%s failed (workflow %s, run %s): %s", what, id, exec.RunID, rootMessage(err)), ScheduledFailureType, err)
			}
			res.Outcome, res.Deploy = ScheduledDeployed, &out
			res.Message = fmt.Sprintf("deployed %s version %s to %s (workflow %s, run %s): %s", d.Spec.Service, d.Version, env, id, exec.RunID, out.Outcome)
			return res, nil
		}
		if !lockHeld(err) {
			return nil, fmt.Errorf("starting %s (workflow %s): %w", what, id, err)
		}
		switch {
		case in.Overlap == OverlapSkip:
			holder := lockHolder(ctx, id)
			res.Outcome, res.DeployRunID = ScheduledSkipped, holder.RunID
			res.Message = fmt.Sprintf("skipped %s, scheduled for %s: another deploy or rollback of %s in %s holds the lock, %s (overlap %s)",
				what, at.UTC().Format(time.RFC3339), d.Spec.Service, env, holder.describe(id), OverlapSkip)
			return res, nil
		case !workflow.Now(ctx).Before(giveUp):
			holder := lockHolder(ctx, id)
			return nil, temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("gave up %s, scheduled for %s: another deploy or rollback of %s in %s held the lock for %s, %s (overlap %s)",
					what, at.UTC().Format(time.RFC3339), d.Spec.Service, env, config.FormatDuration(LockWaitMax), holder.describe(id), OverlapBufferOne),
				ScheduledFailureType, nil)
		}
		if err := workflow.Sleep(ctx, LockRetryEvery); err != nil {
			return nil, err
		}
	}
}

// scheduledTime is the time the run was scheduled for, which Temporal
// records on a run a schedule starts (a trigger's is when it was
// triggered); a run started some other way (the Temporal CLI, a test)
// takes its start time.
func scheduledTime(ctx workflow.Context) time.Time {
	if t, ok := workflow.GetTypedSearchAttributes(ctx).GetTime(scheduledStartTime); ok && !t.IsZero() {
		return t
	}
	return workflow.GetInfo(ctx).WorkflowStartTime
}

// lockHeld says whether a child's start failed because its workflow ID
// is taken by a running workflow: the SDK's ChildWorkflowExecutionAlreadyStartedError
// from the server, or the serviceerror the SDK's test environment gives.
func lockHeld(err error) bool {
	var started *temporal.ChildWorkflowExecutionAlreadyStartedError
	var dup *serviceerror.WorkflowExecutionAlreadyStarted
	return errors.As(err, &started) || errors.As(err, &dup)
}

// lockHolder describes the lock's holder for a message: best effort, an
// error leaves it named by its ID alone.
func lockHolder(ctx workflow.Context, id string) LockHolder {
	lo := workflow.LocalActivityOptions{
		StartToCloseTimeout: 10 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 3},
		Summary:             "who holds " + id,
	}
	var h LockHolder
	if err := workflow.ExecuteLocalActivity(workflow.WithLocalActivityOptions(ctx, lo), DescribeLock, id).Get(ctx, &h); err != nil {
		workflow.GetLogger(ctx).Warn("could not tell which run holds the deploy lock", "workflow", id, "error", err)
		return LockHolder{}
	}
	return h
}
