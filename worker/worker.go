// Package worker wires hoist's workflows and activities to a Temporal
// worker. Configuration flows in one way: the CLI validates flags and
// environment, builds the dependencies, and hands them here.
package worker

import (
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/interceptor"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/hoist-dev/hoist/activities"
	"github.com/hoist-dev/hoist/workflows"
)

// StopTimeout is how long a stopping worker (SIGTERM from systemd,
// Ctrl-C) lets the steps it runs finish before it cancels them. Without
// it a stop cut a compose up off midway. Two minutes covers a compose up
// or a pull of usual size (images are pulled before up, so up mostly
// starts containers) and the short file steps; a longer step is cancelled
// then, and its retry on another worker starts it over, as every step is
// safe to run again. systemd's default TimeoutStopSec (90 s) is shorter:
// give the unit TimeoutStopSec=150.
const StopTimeout = 2 * time.Minute

// Options are the settings of every hoist worker.
func Options() sdkworker.Options {
	return sdkworker.Options{
		// A workflow's next task waits this long for the worker that ran
		// the last one before any worker may take it: a worker killed
		// mid-deploy holds the deploy up no longer than that.
		StickyScheduleToStartTimeout: 2 * time.Second,
		// The SDK otherwise sends a heartbeat at most once per 0.8 of the
		// heartbeat timeout: with the 6 s timeout one late heartbeat (a GC
		// pause, a slow link to Temporal) would start a second attempt
		// while the first still runs. Sent every second, five can be lost
		// before the attempt is given up, and a cancel reaches a step
		// within a second.
		MaxHeartbeatThrottleInterval: time.Second,
		WorkerStopTimeout:            StopTimeout,
		// hoist's own metrics (metrics.go): no-ops unless the client has
		// a metrics handler (--metrics-addr).
		Interceptors: []interceptor.WorkerInterceptor{&metricsInterceptor{}},
	}
}

// New returns a worker on taskQueue running hoist's workflows and the
// given activities.
func New(c client.Client, taskQueue string, acts *activities.Activities) sdkworker.Worker {
	w := sdkworker.New(c, taskQueue, Options())
	Register(w, acts)
	return w
}

// Register adds hoist's workflows and activities to a worker or a test
// environment.
func Register(r interface {
	RegisterWorkflowWithOptions(any, workflow.RegisterOptions)
	RegisterActivityWithOptions(any, activity.RegisterOptions)
}, acts *activities.Activities) {
	RegisterWorkflows(r)
	if acts != nil {
		r.RegisterActivityWithOptions(acts, activity.RegisterOptions{})
	}
}

// RegisterWorkflows adds hoist's workflows under their stable names: a
// worker, a test environment or a replayer.
func RegisterWorkflows(r interface {
	RegisterWorkflowWithOptions(any, workflow.RegisterOptions)
}) {
	r.RegisterWorkflowWithOptions(workflows.Deploy, workflow.RegisterOptions{Name: workflows.DeployWorkflowName})
	r.RegisterWorkflowWithOptions(workflows.Status, workflow.RegisterOptions{Name: workflows.StatusWorkflowName})
	r.RegisterWorkflowWithOptions(workflows.DeployHost, workflow.RegisterOptions{Name: workflows.DeployHostWorkflowName})
	r.RegisterWorkflowWithOptions(workflows.ReleaseBundle, workflow.RegisterOptions{Name: workflows.ReleaseBundleWorkflowName})
	r.RegisterWorkflowWithOptions(workflows.Logs, workflow.RegisterOptions{Name: workflows.LogsWorkflowName})
	r.RegisterWorkflowWithOptions(workflows.Exec, workflow.RegisterOptions{Name: workflows.ExecWorkflowName})
	r.RegisterWorkflowWithOptions(workflows.ScheduledDeploy, workflow.RegisterOptions{Name: workflows.ScheduledDeployWorkflowName})
}
