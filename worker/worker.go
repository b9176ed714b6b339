// Package worker wires hoist's workflows and activities to a Temporal
// worker. Configuration flows in one way: the CLI validates flags and
// environment, builds the dependencies, and hands them here.
package worker

import (
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/hoist-dev/hoist/activities"
	"github.com/hoist-dev/hoist/workflows"
)

// New returns a worker on taskQueue running hoist's workflows and the
// given activities.
func New(c client.Client, taskQueue string, acts *activities.Activities) sdkworker.Worker {
	w := sdkworker.New(c, taskQueue, sdkworker.Options{
		// A workflow's next task waits this long for the worker that ran
		// the last one before any worker may take it: a worker killed
		// mid-deploy holds the deploy up no longer than that.
		StickyScheduleToStartTimeout: 2 * time.Second,
	})
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
}
