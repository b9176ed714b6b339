package cli

import (
	"fmt"

	ucli "github.com/urfave/cli/v2"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/hoist-dev/hoist/activities"
	"github.com/hoist-dev/hoist/workflows"
)

// holdBundle moves in's bundle into a ReleaseBundle run of its own and
// leaves in naming it, so the deploy's history holds a reference, not
// the bytes (see workflows.ReleaseBundle).
func holdBundle(c *ucli.Context, cl client.Client, in *workflows.DeployInput) error {
	if len(in.Bundle) == 0 {
		return nil
	}
	ref := activities.RefOf(in.Bundle, "", "")
	id := workflows.BundleWorkflowID(ref.Digest)
	opts := client.StartWorkflowOptions{
		ID:        id,
		TaskQueue: c.String(flagTaskQueue),
		// The same files held already, still open: that run holds them.
		WorkflowIDConflictPolicy: enums.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowIDReusePolicy:    enums.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		StaticSummary:            fmt.Sprintf("release bundle of %s version %s (%d bytes)", in.Spec.Service, in.Version, len(in.Bundle)),
	}
	hold := workflows.BundleHold{Bundle: in.Bundle, Service: in.Spec.Service, Environment: in.Spec.Environment, Version: in.Version}
	run, err := cl.ExecuteWorkflow(c.Context, opts, workflows.ReleaseBundleWorkflowName, hold)
	if err != nil {
		return fmt.Errorf("storing the release bundle in Temporal (workflow %s): %w", id, err)
	}
	ref.Workflow, ref.Run = id, run.GetRunID()
	in.Bundle, in.BundleRef = nil, &ref
	return nil
}
