package cli

import (
	"errors"
	"fmt"
	"strings"

	ucli "github.com/urfave/cli/v2"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/hoist-dev/hoist/config"
	"github.com/hoist-dev/hoist/workflows"
)

// The deploy is a workflow, not this process: a CLI that dies, or a CI job
// that is restarted, only lost its view of it. watch gets the view back.
func watchCommand(s Streams) *ucli.Command {
	return &ucli.Command{
		Name:  "watch",
		Usage: "follow the running deploy or rollback of the service and environment, or show how the last one ended; exits with its exit code",
		Flags: []ucli.Flag{configFlag, uiURLFlag, outputFlag},
		Action: func(c *ucli.Context) error {
			if _, err := jsonOutput(c); err != nil {
				return err
			}
			return withService(c, s, func(spec *config.Spec, cl client.Client) error {
				r, err := describeRunning(c, cl, workflows.DeployWorkflowID(spec.Service, spec.EnvironmentName()), "")
				if err != nil {
					return err
				}
				return attachRun(c, s, cl, spec, r, len(spec.Hosts))
			})
		},
	}
}

// running is a deploy workflow run as the server and its progress query
// describe it.
type running struct {
	id, runID     string
	status        enums.WorkflowExecutionStatus
	kind, version string // "" when unknown
}

func (r *running) what(service, env string) string {
	kind := r.kind
	if kind == "" {
		kind = "deploy or rollback"
	}
	w := fmt.Sprintf("%s of %s (%s)", kind, service, env)
	if r.version != "" {
		w += " version " + r.version
	}
	return w
}

// describeRunning looks up run runID ("" for the latest) of workflow id.
// Its version comes from its search attribute, else from its progress
// query (answered by a worker; for a closed run, by replaying it).
func describeRunning(c *ucli.Context, cl client.Client, id, runID string) (*running, error) {
	desc, err := cl.DescribeWorkflowExecution(c.Context, id, runID)
	var nf *serviceerror.NotFound
	switch {
	case errors.As(err, &nf):
		return nil, &UsageError{Err: fmt.Errorf("no deploy or rollback of this service and environment has run (no workflow %s)", id)}
	case err != nil:
		return nil, fmt.Errorf("looking up %s: %w", id, err)
	}
	info := desc.GetWorkflowExecutionInfo()
	r := &running{id: id, runID: info.GetExecution().GetRunId(), status: info.GetStatus()}
	if p := info.GetSearchAttributes().GetIndexedFields()[workflows.VersionAttribute.GetName()]; p != nil {
		var v string
		if converter.GetDefaultDataConverter().FromPayload(p, &v) == nil {
			r.version = v
		}
	}
	var prog workflows.Progress
	if v, err := cl.QueryWorkflow(c.Context, id, r.runID, workflows.ProgressQuery); err == nil && v.Get(&prog) == nil {
		r.kind = prog.Kind
		if prog.Version != "" {
			r.version = prog.Version
		}
	}
	return r, nil
}

// runningDeploy is the running deploy or rollback of the spec's service
// and environment, or nil when none runs.
func runningDeploy(c *ucli.Context, cl client.Client, spec *config.Spec) (*running, error) {
	id := workflows.DeployWorkflowID(spec.Service, spec.EnvironmentName())
	r, err := describeRunning(c, cl, id, "")
	var u *UsageError
	if errors.As(err, &u) {
		return nil, nil // never ran
	}
	if err != nil || r.status != enums.WORKFLOW_EXECUTION_STATUS_RUNNING {
		return nil, err
	}
	return r, nil
}

// attachRun follows r from its first step, then prints the outcome; the
// exit code is the deploy's, as if this process had started it. total is
// the service's host count in hoist.yml.
func attachRun(c *ucli.Context, s Streams, cl client.Client, spec *config.Spec, r *running, total int) error {
	in := workflows.DeployInput{Spec: *spec, Kind: workflows.KindDeploy, Version: r.version}
	if r.kind != "" {
		in.Kind = r.kind
	}
	verb := "Following"
	if r.status != enums.WORKFLOW_EXECUTION_STATUS_RUNNING {
		verb = "Last"
	}
	state := strings.ToLower(strings.TrimPrefix(r.status.String(), "WORKFLOW_EXECUTION_STATUS_"))
	rr := *r
	rr.kind = in.Kind
	if asJSON, _ := jsonOutput(c); !asJSON {
		fmt.Fprintf(s.Out, "%s %s (%s) — %s\n", verb, rr.what(spec.Service, spec.EnvironmentName()), state, workflowLink(c, r.id, r.runID))
	}
	return follow(c, s, cl, cl.GetWorkflow(c.Context, r.id, r.runID), in, total)
}
