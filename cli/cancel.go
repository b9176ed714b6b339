package cli

import (
	"errors"
	"fmt"
	"strings"

	ucli "github.com/urfave/cli/v2"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/hoist-dev/hoist/config"
	"github.com/hoist-dev/hoist/workflows"
)

func cancelCommand(s Streams) *ucli.Command {
	return &ucli.Command{
		Name:  "cancel",
		Usage: "cancel the running deploy or rollback of the service; hosts it changed go back to their previous release",
		Flags: []ucli.Flag{configFlag},
		Action: func(c *ucli.Context) error {
			return withService(c, func(spec *config.Spec, cl client.Client) error {
				id := workflows.DeployWorkflowID(spec.Service)
				// Cancelling a closed workflow is not an error to the server:
				// look first, so a second cancel does not claim a rollback.
				desc, err := cl.DescribeWorkflowExecution(c.Context, id, "")
				var nf *serviceerror.NotFound
				switch {
				case errors.As(err, &nf):
					return fmt.Errorf("no deploy or rollback of %s is running", spec.Service)
				case err != nil:
					return fmt.Errorf("looking up %s: %w", id, err)
				case desc.GetWorkflowExecutionInfo().GetStatus() != enums.WORKFLOW_EXECUTION_STATUS_RUNNING:
					return fmt.Errorf("no deploy or rollback of %s is running (the last one is %s)", spec.Service,
						strings.ToLower(strings.TrimPrefix(desc.GetWorkflowExecutionInfo().GetStatus().String(), "WORKFLOW_EXECUTION_STATUS_")))
				}
				if err := cl.CancelWorkflow(c.Context, id, ""); err != nil {
					if errors.As(err, &nf) {
						return fmt.Errorf("no deploy or rollback of %s is running", spec.Service)
					}
					return fmt.Errorf("cancelling %s: %w", id, err)
				}
				fmt.Fprintf(s.Out, "Cancel requested for %s; waiting for its compensation to finish…\n", id)
				run := cl.GetWorkflow(c.Context, id, "")
				var res workflows.DeployResult
				err = run.Get(c.Context, &res)
				in := workflows.DeployInput{Spec: *spec, Kind: workflows.KindDeploy}
				return outcome(s, in, &res, err)
			})
		},
	}
}
