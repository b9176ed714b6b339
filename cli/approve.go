package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"strings"
	"time"

	ucli "github.com/urfave/cli/v2"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/hoist-dev/hoist/config"
	"github.com/hoist-dev/hoist/remote"
	"github.com/hoist-dev/hoist/workflows"
)

// maxNote is what the workflow's validator takes as a decision's note.
const maxNote = 1000

// decideWait bounds how long approve and reject wait for the workflow's
// answer: a worker polls (checked first), so it comes in seconds.
const decideWait = 2 * time.Minute

var noteFlag = &ucli.StringFlag{Name: "note", Usage: "why, in your words: kept in the deploy's history and shown by hoist watch"}

func approveCommand(s Streams) *ucli.Command {
	return decideCommand(s, true, "approve",
		"let the rollout waiting for approval go on with its next batch",
		`Answers the running deploy or rollback of the service and environment
while it waits for approval (after a batch approve_after names, or a
batch that ended with a health warning). Who (user@machine) and the
note are recorded in its history. Refused (exit 4) when it is not
waiting, with what it is doing; exit 2 when none runs.`)
}

func rejectCommand(s Streams) *ucli.Command {
	return decideCommand(s, false, "reject",
		"stop the rollout waiting for approval; with on_failure: rollback every host it changed goes back to its previous release",
		`Answers the running deploy or rollback of the service and environment
while it waits for approval: the rollout stops there, and on_failure
decides what happens to the hosts it changed (rollback: they go back to
their previous release; halt: they stay). Who (user@machine) and the
note are recorded in its history. Refused (exit 4) when it is not
waiting; exit 2 when none runs.`)
}

func decideCommand(s Streams, approve bool, name, usage, description string) *ucli.Command {
	return &ucli.Command{
		Name:        name,
		Usage:       usage,
		Description: description,
		Flags:       []ucli.Flag{configFlag, noteFlag, waitForWorkerFlag},
		Action: func(c *ucli.Context) error {
			note := c.String(noteFlag.Name)
			if len(note) > maxNote {
				return Usagef("--note: at most %d bytes, got %d", maxNote, len(note))
			}
			return withService(c, s, func(spec *config.Spec, cl client.Client) error {
				answer, err := decide(c, cl, spec, workflows.Approval{Approve: approve, By: whoAmI(), Note: note}, name)
				if err != nil {
					return err
				}
				fmt.Fprintln(s.Out, answer)
				return nil
			})
		},
	}
}

// decide sends the decision to the running deploy of spec's service and
// environment and returns the workflow's answer.
func decide(c *ucli.Context, cl client.Client, spec *config.Spec, d workflows.Approval, verb string) (string, error) {
	env := spec.EnvironmentName()
	nothing := func(why string) error {
		return Usagef("nothing to %s: no deploy or rollback of %s is running in %s%s", verb, spec.Service, env, why)
	}
	r, err := runningDeploy(c, cl, spec)
	if err != nil {
		return "", err
	}
	if r == nil {
		return "", nothing("")
	}
	if err := checkWorker(c, cl); err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(c.Context, decideWait)
	defer cancel()
	h, err := cl.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: r.id, RunID: r.runID, UpdateName: workflows.DecideUpdate,
		Args: []any{d}, WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	var answer string
	if err == nil {
		err = h.Get(ctx, &answer)
	}
	var nf *serviceerror.NotFound
	var app *temporal.ApplicationError
	what := r.what(spec.Service, env)
	switch {
	case err == nil:
		return answer, nil
	case errors.As(err, &nf):
		return "", nothing(" (it ended a moment ago; `hoist watch` shows how)")
	case errors.As(err, &app):
		msg := app.Message() // the validator's: "the deploy of version v2 is not waiting for approval (it is deploying batch 2 of 3)"
		if strings.Contains(msg, "unknown update") {
			// A host-by-host deploy (no rollout block), or a worker from
			// before rollouts: nothing in it ever waits.
			msg = "the " + what + " has no rollout block, so nothing in it waits for approval"
		}
		return "", busyf("not %s: %s; nothing was recorded; `hoist watch -c %s` follows it",
			pastTense(verb), msg, remote.Quote(c.String(configFlag.Name)))
	case ctx.Err() != nil && c.Context.Err() == nil:
		return "", fmt.Errorf("the %s did not answer the %s within %s: its worker may be busy or gone; the decision is taken if it arrives while the rollout waits: `hoist watch -c %s` shows it",
			what, verb, decideWait, remote.Quote(c.String(configFlag.Name)))
	}
	return "", fmt.Errorf("sending %s to the %s (workflow %s): %w", verb, what, r.id, err)
}

func pastTense(verb string) string {
	if verb == "approve" {
		return "approved"
	}
	return verb + "ed"
}

// whoAmI is who decides, as the history records it: $USER@hostname.
func whoAmI() string {
	name := os.Getenv("USER")
	if name == "" {
		if u, err := user.Current(); err == nil {
			name = u.Username
		}
	}
	if name == "" {
		name = "unknown"
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown"
	}
	return name + "@" + host
}
