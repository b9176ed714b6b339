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

// The deploy is a workflow, not this process: a CLI that dies, or a CI job
// that is restarted, only lost its view of it. watch gets the view back.
func watchCommand(s Streams) *ucli.Command {
	return &ucli.Command{
		Name:  "watch",
		Usage: "follow the service's running deploy or rollback, or show how the last one ended; exits with its exit code",
		Flags: []ucli.Flag{configFlag, uiURLFlag},
		Action: func(c *ucli.Context) error {
			return withService(c, func(spec *config.Spec, cl client.Client) error {
				return attach(c, s, cl, spec, "")
			})
		},
	}
}

// attach follows the service's deploy workflow: runID "" is the latest run.
// Its steps are printed from the first, then the outcome, and the exit
// code is the deploy's, as if this process had started it.
func attach(c *ucli.Context, s Streams, cl client.Client, spec *config.Spec, runID string) error {
	id := workflows.DeployWorkflowID(spec.Service)
	desc, err := cl.DescribeWorkflowExecution(c.Context, id, runID)
	var nf *serviceerror.NotFound
	switch {
	case errors.As(err, &nf):
		return fmt.Errorf("no deploy or rollback of %s has run (no workflow %s)", spec.Service, id)
	case err != nil:
		return fmt.Errorf("looking up %s: %w", id, err)
	}
	info := desc.GetWorkflowExecutionInfo()
	runID = info.GetExecution().GetRunId()
	run := cl.GetWorkflow(c.Context, id, runID)
	in := workflows.DeployInput{Spec: *spec, Kind: workflows.KindDeploy}
	// Kind and version come from the workflow itself; a query of a closed
	// run is answered by replaying it on a worker.
	var p workflows.Progress
	if v, err := cl.QueryWorkflow(c.Context, id, runID, workflows.ProgressQuery); err == nil && v.Get(&p) == nil {
		if p.Kind != "" {
			in.Kind = p.Kind
		}
		in.Version = p.Version
	}
	status := info.GetStatus()
	verb := "Following"
	if status != enums.WORKFLOW_EXECUTION_STATUS_RUNNING {
		verb = "Last"
	}
	what := in.Kind
	if in.Version != "" {
		what += " of " + spec.Service + " version " + in.Version
	} else {
		what += " of " + spec.Service
	}
	state := strings.ToLower(strings.TrimPrefix(status.String(), "WORKFLOW_EXECUTION_STATUS_"))
	fmt.Fprintf(s.Out, "%s %s (%s) — %s\n", verb, what, state, workflowLink(c, id, runID))
	return follow(c.Context, s, cl, run, in)
}
