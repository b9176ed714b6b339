package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	ucli "github.com/urfave/cli/v2"
	failurepb "go.temporal.io/api/failure/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/hoist-dev/hoist/activities"
	"github.com/hoist-dev/hoist/workflows"
)

// How often follow asks the workflow for its steps, and the server for
// the failures of steps it retries.
const (
	progressEvery = 200 * time.Millisecond
	retriesEvery  = time.Second
)

// follow prints steps as the progress query reports them and, at once,
// the first failure of a step the server retries (an unreachable host:
// its retries take a minute). Then it prints the outcome, which decides
// the exit code.
func follow(c *ucli.Context, s Streams, cl client.Client, run client.WorkflowRun, in workflows.DeployInput) error {
	ctx := c.Context
	done := make(chan error, 1)
	var res workflows.DeployResult
	go func() { done <- run.Get(ctx, &res) }()
	steps := &stepPrinter{w: s.Out}
	retries := &retryNotices{w: s.Out, fc: failureConverter(c), seen: map[string]bool{}}
	show := func() {
		v, err := cl.QueryWorkflow(ctx, run.GetID(), run.GetRunID(), workflows.ProgressQuery)
		if err != nil {
			return
		}
		var p workflows.Progress
		if v.Get(&p) != nil {
			return
		}
		steps.print(p)
	}
	tick := time.NewTicker(progressEvery)
	defer tick.Stop()
	lastRetryCheck := time.Time{}
	for {
		select {
		case err := <-done:
			if ctx.Err() != nil { // run.Get ended because we were interrupted
				return interruptedFollow(run)
			}
			show()
			return steps.close(outcome(s, in, &res, err))
		case <-tick.C:
			show()
			if time.Since(lastRetryCheck) >= retriesEvery {
				lastRetryCheck = time.Now()
				if desc, err := cl.DescribeWorkflowExecution(ctx, run.GetID(), run.GetRunID()); err == nil {
					retries.check(desc.GetPendingActivities())
				}
			}
		case <-ctx.Done():
			return interruptedFollow(run)
		}
	}
}

func interruptedFollow(run client.WorkflowRun) error {
	return interrupted("interrupted: the deploy goes on; `hoist watch` re-attaches (workflow %s, run %s)", run.GetID(), run.GetRunID())
}

// stepPrinter prints finished steps not printed yet, in order, stopping
// at the first still running so the output reads top to bottom. Once the
// workflow is failing, a failed step's line leaves out its cause: the
// closing message says it (as the cause, or in what to recover), and a
// cause printed twice reads as two failures. A cause the closing message
// does not hold is printed after it.
type stepPrinter struct {
	w      io.Writer
	next   int
	held   []workflows.Event
	closed string // the closing message, once printed
}

func (p *stepPrinter) print(prog workflows.Progress) {
	for ; p.next < len(prog.Events); p.next++ {
		e := prog.Events[p.next]
		if e.State == "started" {
			return
		}
		if e.State == "failed" && prog.Phase != "" && prog.Phase != "deploying" && e.Detail != "" {
			p.held = append(p.held, e)
			e.Detail = ""
		}
		fmt.Fprintln(p.w, stepLine(e))
	}
}

func stepLine(e workflows.Event) string {
	mark := map[string]string{"ok": "✓", "failed": "✗", "warning": "⚠", "skipped": "-"}[e.State]
	line := fmt.Sprintf("  %s %-12s %-34s %6.2fs", mark, e.Host, e.Step, e.Took.Seconds())
	if e.Detail != "" {
		line += "  " + e.Detail
	}
	return strings.TrimRight(line, " ")
}

// close prints the held causes the closing message did not carry.
func (p *stepPrinter) close(err error) error {
	var c *closingError
	closing := ""
	if errors.As(err, &c) {
		closing = c.text
	}
	for _, e := range p.held {
		if !strings.Contains(closing, e.Detail) {
			fmt.Fprintf(p.w, "  ✗ %s %s: %s\n", e.Host, e.Step, e.Detail)
		}
	}
	return err
}

// closingError is an outcome printed in full: text is what was printed.
type closingError struct {
	text string
	code int
}

func (e *closingError) Error() string { return e.text }

// retryNotices prints the first failure of each step the server retries
// because its host did not answer, as it happens: an unreachable host is
// named at once, not after its minute of retries, and not only in the
// worker's log. Other retried failures (a command's one retry) end in the
// step's own failure, which the closing message explains.
type retryNotices struct {
	w    io.Writer
	fc   converter.FailureConverter
	seen map[string]bool
}

func (r *retryNotices) check(pending []*workflowpb.PendingActivityInfo) {
	for _, pa := range pending {
		f := pa.GetLastFailure()
		if f == nil || r.seen[pa.GetActivityId()] {
			continue
		}
		msg, unreachable := hostFailure(r.fc, f)
		if !unreachable {
			continue
		}
		r.seen[pa.GetActivityId()] = true
		fmt.Fprintf(r.w, "  ⟳ %s (attempt %d failed; retrying)\n", msg, pa.GetAttempt()-1)
	}
}

// hostFailure is a failure's message, decrypted when keys are configured,
// and whether it says the host could not be reached.
func hostFailure(fc converter.FailureConverter, f *failurepb.Failure) (string, bool) {
	var app *temporal.ApplicationError
	if errors.As(fc.FailureToError(f), &app) {
		return app.Message(), app.Type() == activities.ErrUnreachable
	}
	return "", false
}

// outcome prints the closing line and decides the exit code.
func outcome(s Streams, in workflows.DeployInput, res *workflows.DeployResult, err error) error {
	env := in.Spec.EnvironmentName()
	if err == nil {
		// The workflow's own result wins: an attached CLI may not know
		// what it follows.
		if res.Version != "" {
			in.Version = res.Version
		}
		if res.Kind != "" {
			in.Kind = res.Kind
		}
		if res.Outcome == workflows.OutcomeWarning {
			for _, w := range res.Warnings {
				fmt.Fprintf(s.Out, "⚠️ Warning: %s. Monitor closely.\n", w)
			}
			return nil
		}
		if in.Kind == workflows.KindRollback {
			fmt.Fprintf(s.Out, "✅ Rolled back %s to version %s%s\n", in.Spec.Service, in.Version, inEnv(env))
			return nil
		}
		fmt.Fprintf(s.Out, "✅ Successfully deployed %s version %s%s\n", in.Spec.Service, in.Version, inEnv(env))
		return nil
	}
	var app *temporal.ApplicationError
	if errors.As(err, &app) && app.Type() == workflows.FailureType {
		var d workflows.FailureDetails
		_ = app.Details(&d)
		return closeWith(s, app.Message(), failureCode(d))
	}
	var canceled *temporal.CanceledError
	if errors.As(err, &canceled) {
		var d workflows.FailureDetails
		if !canceled.HasDetails() || canceled.Details(&d) != nil {
			d = workflows.FailureDetails{}
		}
		if d.Version == "" {
			d.Version = in.Version
		}
		if d.Kind == "" {
			d.Kind = in.Kind
		}
		return closeWith(s, cancelledMessage(d), failureCode(d))
	}
	return fmt.Errorf("%s of %s (%s) version %s: %w; hoist cannot tell what the hosts run: check `hoist status`", in.Kind, in.Spec.Service, env, in.Version, err)
}

// inEnv names an environment other than the default in closing lines;
// production keeps the seed's line, which scripts look for.
func inEnv(env string) string {
	if env == "production" {
		return ""
	}
	return " in " + env
}

func closeWith(s Streams, text string, code int) error {
	fmt.Fprintln(s.Out, text)
	return &codeError{code: code, silent: true, err: &closingError{text: text, code: code}}
}

// cancelledMessage says what a cancel left behind; a rollback that failed
// is never reported as done.
func cancelledMessage(d workflows.FailureDetails) string {
	what := "Deployment of version " + d.Version
	if d.Kind == workflows.KindRollback {
		what = "Rollback to version " + d.Version
	}
	msg := "❌ " + what + " was cancelled."
	switch {
	case d.RollbackFailed:
		msg += " Rolling back to " + d.RolledBackTo + " FAILED: " + strings.Join(d.Recovery, " | ")
	case d.RolledBackTo != "":
		msg += " Rolled back to " + d.RolledBackTo + "."
	case d.NothingToRollBackTo:
		msg += " " + workflows.NothingToRollBackToText(d)
	default:
		msg += " No host had been changed."
	}
	return msg
}
