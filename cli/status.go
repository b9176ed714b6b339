package cli

import (
	"fmt"
	"strings"

	"github.com/google/uuid"
	ucli "github.com/urfave/cli/v2"
	"go.temporal.io/sdk/client"

	"github.com/hoist-dev/hoist/config"
	"github.com/hoist-dev/hoist/workflows"
)

func statusCommand(s Streams) *ucli.Command {
	return &ucli.Command{
		Name:  "status",
		Usage: "show each host's current release, retained releases and containers",
		Flags: []ucli.Flag{configFlag, waitForWorkerFlag},
		Action: func(c *ucli.Context) error {
			return withService(c, s, func(spec *config.Spec, cl client.Client) error {
				st, err := readStatusWith(c, cl, spec)
				if err != nil {
					return err
				}
				fmt.Fprintf(s.Out, "%s (%s environment)\n", spec.Service, spec.EnvironmentName())
				printStatus(s, st)
				if len(st.Errors) > 0 {
					return exitWith(ExitUnsafe)
				}
				return nil
			})
		},
	}
}

// readStatusWith runs the status workflow: the workers hold the SSH keys.
func readStatusWith(c *ucli.Context, cl client.Client, spec *config.Spec) (*workflows.StatusResult, error) {
	if err := checkWorker(c, cl); err != nil {
		return nil, err
	}
	run, err := cl.ExecuteWorkflow(c.Context, client.StartWorkflowOptions{
		ID:        "status/" + spec.Service + "/" + uuid.NewString(),
		TaskQueue: c.String(flagTaskQueue),
	}, workflows.StatusWorkflowName, workflows.StatusInput{Spec: *spec})
	if err != nil {
		return nil, fmt.Errorf("starting the status workflow: %w", err)
	}
	var res workflows.StatusResult
	if err := run.Get(c.Context, &res); err != nil {
		return nil, fmt.Errorf("reading status of %s: %w", spec.Service, err)
	}
	return &res, nil
}

func printStatus(s Streams, st *workflows.StatusResult) {
	for _, h := range st.Hosts {
		cur := h.State.Current
		if cur == "" {
			cur = "(none)"
		}
		fmt.Fprintf(s.Out, "%s  current: %s\n", h.Target.Label(), cur)
		var rels []string
		for _, r := range h.State.Releases { // by when each was last made current, newest first
			v := r.Version + " (" + r.Health() + ")"
			if r.Version == h.State.Current {
				v += " *"
			}
			rels = append(rels, v)
		}
		if len(rels) > 0 {
			fmt.Fprintf(s.Out, "  releases: %s\n", strings.Join(rels, ", "))
		}
		for _, c := range h.Containers {
			state := c.Status
			if c.Health != "" {
				state += " (" + c.Health + ")"
			}
			if c.RestartCount > 0 {
				state += fmt.Sprintf(", restarted %d×", c.RestartCount)
			}
			fmt.Fprintf(s.Out, "  %-30s %-12s %s\n", c.Name, c.Service, state)
		}
	}
	for _, e := range st.Errors {
		fmt.Fprintf(s.Err, "hoist: %s\n", e)
	}
}

// defaultRollbackTarget: on every host, the newest good release other
// than current, by when it was last made current (commands.State.
// PreviousGood, the one rule); the hosts must agree.
func defaultRollbackTarget(st *workflows.StatusResult) (string, error) {
	if len(st.Errors) > 0 {
		return "", fmt.Errorf("cannot choose a rollback target: %s", strings.Join(st.Errors, "; "))
	}
	target := ""
	for _, h := range st.Hosts {
		t := h.State.PreviousGood()
		if t == "" {
			return "", fmt.Errorf("host %s has no good release besides current %q (only a release that passed its running check is rolled back to): nothing to roll back to; name one with --to", h.Target.Label(), h.State.Current)
		}
		if target != "" && t != target {
			return "", fmt.Errorf("hosts disagree on the rollback target (%s vs %s): name one with --to", target, t)
		}
		target = t
	}
	return target, nil
}
