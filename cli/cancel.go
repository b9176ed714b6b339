package cli

import (
	"errors"
	"fmt"
	"strings"

	ucli "github.com/urfave/cli/v2"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/hoist-dev/hoist/config"
	"github.com/hoist-dev/hoist/workflows"
)

func cancelCommand(s Streams) *ucli.Command {
	return &ucli.Command{
		Name:  "cancel",
		Usage: "cancel the running deploy or rollback of the service and environment; hosts it changed go back to their previous release",
		Flags: []ucli.Flag{configFlag},
		Action: func(c *ucli.Context) error {
			return withService(c, s, func(spec *config.Spec, cl client.Client) error {
				env := spec.EnvironmentName()
				id := workflows.DeployWorkflowID(spec.Service, env)
				// Cancelling a closed workflow is not an error to the server:
				// look first, so a second cancel does not claim a rollback.
				desc, err := cl.DescribeWorkflowExecution(c.Context, id, "")
				var nf *serviceerror.NotFound
				switch {
				case errors.As(err, &nf):
					return Usagef("no deploy or rollback of %s is running in %s", spec.Service, env)
				case err != nil:
					return fmt.Errorf("looking up %s: %w", id, err)
				case desc.GetWorkflowExecutionInfo().GetStatus() != enums.WORKFLOW_EXECUTION_STATUS_RUNNING:
					return Usagef("no deploy or rollback of %s is running in %s (the last one is %s)", spec.Service, env,
						strings.ToLower(strings.TrimPrefix(desc.GetWorkflowExecutionInfo().GetStatus().String(), "WORKFLOW_EXECUTION_STATUS_")))
				}
				runID := desc.GetWorkflowExecutionInfo().GetExecution().GetRunId()
				if err := cl.CancelWorkflow(c.Context, id, runID); err != nil {
					if errors.As(err, &nf) {
						return Usagef("no deploy or rollback of %s is running in %s", spec.Service, env)
					}
					return fmt.Errorf("cancelling %s: %w", id, err)
				}
				fmt.Fprintf(s.Out, "Cancel requested for %s (%s environment); waiting for its compensation to finish…\n", id, env)
				var res workflows.DeployResult
				err = cl.GetWorkflow(c.Context, id, runID).Get(c.Context, &res)
				in := workflows.DeployInput{Spec: *spec, Kind: workflows.KindDeploy}
				return cancelOutcome(s, in, &res, err)
			})
		},
	}
}

// cancelOutcome: the cancel did what was asked when the deploy ended
// cancelled with every changed host back on its previous release (exit
// 0). A rollback that failed needs a human (3); a deploy that ended some
// other way before the cancel reached it exits as that deploy did.
func cancelOutcome(s Streams, in workflows.DeployInput, res *workflows.DeployResult, err error) error {
	if fl := endFleet(res, err); fl != nil {
		for _, l := range fleetSummary(fl, len(in.Spec.Hosts)) {
			fmt.Fprintln(s.Out, l)
		}
	}
	out := outcome(s, in, res, err)
	var canceled *temporal.CanceledError
	if errors.As(err, &canceled) && ExitCode(out) == ExitRolledBack {
		return nil
	}
	if err == nil {
		fmt.Fprintln(s.Out, "The deploy finished before the cancel reached it.")
	}
	return out
}
