package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	ucli "github.com/urfave/cli/v2"
	failurepb "go.temporal.io/api/failure/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/hoist-dev/hoist/activities"
	"github.com/hoist-dev/hoist/remote"
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
// its retries take a minute). A rollout is shown host by host instead
// (fleetView). Then it prints the outcome, which decides the exit code.
// With --output json it prints nothing until the end, then one object.
// total is the service's host count in hoist.yml, for a --hosts limit.
func follow(c *ucli.Context, s Streams, cl client.Client, run client.WorkflowRun, in workflows.DeployInput, total int) error {
	ctx := c.Context
	done := make(chan error, 1)
	var res workflows.DeployResult
	go func() { done <- run.Get(ctx, &res) }()
	if asJSON, _ := jsonOutput(c); asJSON {
		select {
		case err := <-done:
			if ctx.Err() != nil {
				return interruptedFollow(run)
			}
			e := conclude(in, &res, err)
			if err := writeJSON(s.Out, deployReport(in, e, run.GetID(), run.GetRunID())); err != nil {
				return err
			}
			return exitCodeOf(e)
		case <-ctx.Done():
			return interruptedFollow(run)
		}
	}
	steps := &stepPrinter{w: s.Out}
	waits := &waitNotices{w: s.Out}
	retries := &retryNotices{w: s.Out, fc: failureConverter(c), seen: map[string]bool{}}
	tick := time.NewTicker(progressEvery)
	defer tick.Stop()
	var view *fleetView
	var last *workflows.Fleet
	children := newStepReader()
	newView := func() *fleetView {
		tty, width := terminal(s.Out)
		return newFleetView(s.Out, tty, width, approveHint(c), time.Local)
	}
	show := func() {
		p, ok := queryProgress(ctx, cl, run.GetID(), run.GetRunID())
		if !ok {
			return
		}
		waits.print(p)
		if p.Fleet == nil {
			if view == nil {
				steps.print(p)
			}
			return
		}
		if view == nil {
			view = newView()
			tick.Reset(fleetEvery)
		}
		last = p.Fleet
		view.update(p.Fleet, children.read(ctx, cl, p.Fleet))
	}
	lastRetryCheck := time.Time{}
	for {
		select {
		case err := <-done:
			if ctx.Err() != nil { // run.Get ended because we were interrupted
				return interruptedFollow(run)
			}
			fl := endFleet(&res, err)
			if fl == nil && view == nil {
				show() // the steps of a host-by-host deploy not printed yet
			}
			if fl == nil {
				fl = last
			}
			switch {
			case fl != nil:
				if view == nil {
					view = newView()
				}
				view.finish(fl, total)
			case in.Limited != "":
				fmt.Fprintln(s.Out, limitedSummary(in.Limited, len(in.Spec.Hosts), total))
			}
			return steps.close(outcome(s, in, &res, err))
		case <-tick.C:
			show()
			// A rollout's activities run in its children: the parent has
			// none pending to report.
			if view == nil && time.Since(lastRetryCheck) >= retriesEvery {
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

// exitCodeOf is e's exit code as the command's error, its text already
// printed.
func exitCodeOf(e ending) error {
	if e.code == ExitOK {
		return nil
	}
	return exitWith(e.code)
}

// approveHint is what to give hoist approve and reject to reach this
// deploy: the config as the user gave it, and a namespace or address
// given on the command line, and the TLS flags (one from the environment
// reaches approve the same way).
func approveHint(c *ucli.Context) string {
	hint := "-c " + remote.Quote(c.String(configFlag.Name))
	for _, g := range []struct{ flag, env, def string }{
		{flagNamespace, "TEMPORAL_NAMESPACE", "default"},
		{flagTemporalAddress, "TEMPORAL_ADDRESS", "localhost:7233"},
	} {
		if v := c.String(g.flag); v != "" && v != g.def && v != os.Getenv(g.env) {
			hint += " --" + g.flag + " " + remote.Quote(v)
		}
	}
	// The connection's files (paths, never secrets) when given as flags.
	if c.Bool(flagTLS) && os.Getenv(envTLS) == "" {
		hint += " --" + flagTLS
	}
	for _, f := range connectionFlags() {
		sf, ok := f.(*ucli.StringFlag)
		if !ok {
			continue
		}
		v := c.String(sf.Name)
		fromEnv := false
		for _, e := range sf.EnvVars {
			fromEnv = fromEnv || (v != "" && v == os.Getenv(e))
		}
		if v != "" && !fromEnv {
			hint += " --" + sf.Name + " " + remote.Quote(v)
		}
	}
	return hint
}

func interruptedFollow(run client.WorkflowRun) error {
	return interrupted("interrupted: the deploy goes on; `hoist watch` re-attaches (workflow %s, run %s)", run.GetID(), run.GetRunID())
}

// waitNotices says, once per wait, that the deploy waits for its start
// time or its deploy window, and until when.
type waitNotices struct {
	w    io.Writer
	last string
}

func (n *waitNotices) print(p workflows.Progress) {
	line := waitLine(p)
	if line != "" && line != n.last {
		fmt.Fprintln(n.w, line)
	}
	n.last = line
}

// waitLine is what a waiting deploy waits for; "" when it does not wait.
func waitLine(p workflows.Progress) string {
	until := p.Until.UTC().Format(time.RFC3339)
	switch p.Phase {
	case workflows.PhaseScheduled:
		return fmt.Sprintf("⏳ Scheduled: starts at %s (hoist cancel removes it)", until)
	case workflows.PhaseWindowWait:
		return fmt.Sprintf("⏳ Outside its deploy windows: waiting until %s (hoist deploy --ignore-window --reason TEXT overrides; hoist cancel stops it)", until)
	}
	return ""
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
	e := conclude(in, res, err)
	if e.err != nil {
		return e.err
	}
	for _, l := range e.lines {
		fmt.Fprintln(s.Out, l)
	}
	if e.code == ExitOK {
		return nil
	}
	return &codeError{code: e.code, silent: true, err: &closingError{text: strings.Join(e.lines, "\n"), code: e.code}}
}

// endFleet is the rollout's last state, from its result or failure; nil
// for a host-by-host deploy.
func endFleet(res *workflows.DeployResult, err error) *workflows.Fleet {
	if err == nil {
		return res.Fleet
	}
	var d workflows.FailureDetails
	var app *temporal.ApplicationError
	var canceled *temporal.CanceledError
	switch {
	case errors.As(err, &app) && app.Type() == workflows.FailureType && app.Details(&d) == nil:
		return d.Fleet
	case errors.As(err, &canceled) && canceled.HasDetails() && canceled.Details(&d) == nil:
		return d.Fleet
	}
	return nil
}

// inEnv names an environment other than the default in closing lines;
// production keeps the seed's line, which scripts look for.
func inEnv(env string) string {
	if env == "production" {
		return ""
	}
	return " in " + env
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
	case d.Mixed && d.Fleet != nil:
		// on_failure: halt: a cancel stops the rollout and leaves the
		// hosts it finished on the new release.
		msg += " Hosts it had deployed keep it (on_failure: " + d.Fleet.OnFailure + "): " + stateCounts(d.Fleet.Hosts) + "."
		if d.RolledBackTo != "" {
			msg += " Hosts it failed on are back on " + d.RolledBackTo + "."
		}
	case d.RolledBackTo != "":
		msg += " Rolled back to " + d.RolledBackTo + "."
	case d.NothingToRollBackTo:
		msg += " " + workflows.NothingToRollBackToText(d)
	default:
		msg += " No host had been changed."
	}
	return msg
}
