package worker

import (
	"context"
	"errors"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/hoist-dev/hoist/metrics"
	"github.com/hoist-dev/hoist/workflows"
)

// metricsInterceptor records hoist's own metrics around the workflows
// and activities, which stay free of them: every deploy's outcome when
// its Deploy workflow ends, and every step's duration. It only reads
// what they return, so a workflow's commands, and its replay, are what
// they were without it. It records through the SDK's handlers: the
// workflow's records nothing while it replays (a deploy replayed for a
// query or on another worker is counted once), and without
// --metrics-addr both are no-ops.
type metricsInterceptor struct {
	interceptor.WorkerInterceptorBase
}

func (*metricsInterceptor) InterceptActivity(_ context.Context, next interceptor.ActivityInboundInterceptor) interceptor.ActivityInboundInterceptor {
	return &stepTimer{ActivityInboundInterceptorBase: interceptor.ActivityInboundInterceptorBase{Next: next}}
}

func (*metricsInterceptor) InterceptWorkflow(ctx workflow.Context, next interceptor.WorkflowInboundInterceptor) interceptor.WorkflowInboundInterceptor {
	if workflow.GetInfo(ctx).WorkflowType.Name != workflows.DeployWorkflowName {
		return next
	}
	return &deployCounter{WorkflowInboundInterceptorBase: interceptor.WorkflowInboundInterceptorBase{Next: next}}
}

// stepTimer times each activity (local ones too), labelled with its
// activity_type and workflow_type as the SDK labels its own.
type stepTimer struct {
	interceptor.ActivityInboundInterceptorBase
}

func (s *stepTimer) ExecuteActivity(ctx context.Context, in *interceptor.ExecuteActivityInput) (any, error) {
	start := time.Now()
	res, err := s.Next.ExecuteActivity(ctx, in)
	result := metrics.ResultOK
	switch {
	case err != nil && (errors.Is(err, context.Canceled) || temporal.IsCanceledError(err)):
		result = metrics.ResultCancelled
	case err != nil:
		result = metrics.ResultFailed
	}
	// The SDK tags a local activity's handler with neither type.
	info := activity.GetInfo(ctx)
	h := activity.GetMetricsHandler(ctx).WithTags(map[string]string{"activity_type": info.ActivityType.Name, "workflow_type": info.WorkflowType.Name})
	metrics.Step(h, result, time.Since(start))
	return res, err
}

// deployCounter counts a Deploy workflow (a deploy or a hoist rollback)
// when it ends, by kind and outcome.
type deployCounter struct {
	interceptor.WorkflowInboundInterceptorBase
}

func (d *deployCounter) ExecuteWorkflow(ctx workflow.Context, in *interceptor.ExecuteWorkflowInput) (any, error) {
	out, err := d.Next.ExecuteWorkflow(ctx, in)
	kind := ""
	if len(in.Args) == 1 {
		if di, ok := in.Args[0].(workflows.DeployInput); ok {
			kind = di.Kind
		}
	}
	res, _ := out.(*workflows.DeployResult)
	outcome, rollback := deployOutcome(res, err)
	metrics.Deploy(workflow.GetMetricsHandler(ctx), kindLabel(kind), outcome, rollback)
	return out, err
}

// kindLabel keeps the kind label to the two kinds there are: a workflow
// started past the CLI may carry any string, and is refused.
func kindLabel(kind string) string {
	switch kind {
	case "", workflows.KindDeploy:
		return workflows.KindDeploy
	case workflows.KindRollback:
		return workflows.KindRollback
	}
	return "invalid"
}

// deployOutcome reads a Deploy workflow's result as the CLI does
// (FailureDetails.Outcome decides for both), and whether it rolled hosts back:
// "" (no), metrics.ResultOK or metrics.ResultFailed.
func deployOutcome(res *workflows.DeployResult, err error) (outcome, rollback string) {
	if err == nil {
		if res != nil && res.Outcome == workflows.OutcomeWarning {
			return workflows.OutcomeWarning, ""
		}
		return workflows.OutcomeDeployed, ""
	}
	var (
		d        workflows.FailureDetails
		app      *temporal.ApplicationError
		canceled *temporal.CanceledError
	)
	switch {
	case errors.As(err, &app) && app.Type() == workflows.FailureType:
		_ = app.Details(&d)
	case errors.As(err, &canceled):
		if canceled.HasDetails() {
			_ = canceled.Details(&d)
		}
	default:
		// The CLI cannot tell what the hosts run either.
		return workflows.OutcomeUnsafe, ""
	}
	switch {
	case d.RollbackFailed:
		rollback = metrics.ResultFailed
	case d.RolledBackTo != "":
		rollback = metrics.ResultOK
	}
	return d.Outcome(canceled != nil), rollback
}
