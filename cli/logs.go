package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/google/uuid"
	ucli "github.com/urfave/cli/v2"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/hoist-dev/hoist/activities"
	cmds "github.com/hoist-dev/hoist/commands"
	"github.com/hoist-dev/hoist/config"
	"github.com/hoist-dev/hoist/workflows"
)

const (
	defaultLogTail = 100
	// day2PollEvery is how often a running day-2 command's new lines are
	// read from its activities' heartbeat details.
	day2PollEvery = 300 * time.Millisecond
	// readingEvery is how often hoist logs --follow tells the workflow it
	// still reads: three times within the lease.
	readingEvery = workflows.DefaultFollowLease / 3
	// stopWait bounds how long an interrupted day-2 command waits for the
	// workers to end its remote commands.
	stopWait = 20 * time.Second
)

func logsCommand(s Streams) *ucli.Command {
	return &ucli.Command{
		Name:      "logs",
		Usage:     "show the container logs of the release every host serves, each line prefixed with its host",
		ArgsUsage: "[SERVICE...]",
		Description: `Prints the last --tail lines of each container of the release current
points at, on every host of hoist.yml at once (or those --hosts names),
each line as HOST | CONTAINER | LINE; with SERVICE, only those compose
services. --follow then goes on printing what they write until Ctrl-C.

The hosts are read by a hoist worker (it holds the SSH key), in a
workflow of its own (hoist-logs/SERVICE/ENVIRONMENT/ID), never the deploy
lock: logs can be read during a deploy. The lines travel through
Temporal: the newest in the activities' heartbeats while they run, which
Temporal does not keep, and each host's last 256 KiB in the result.
hoist asks Temporal to delete the run once it has printed them, which
the server does in the background (hoist says so if the namespace does
not allow it: the run then stays until the namespace's retention,
encrypted when payloads are; see hoist codec-key). For a host writing
more than hoist keeps or reads in time, a line says how many lines were
not shown.

A follow nobody reads any more (hoist killed, the laptop closed) ends
within two minutes, and after 12 hours in any case; Ctrl-C ends it at once,
and with it docker compose logs on every host.

Exit status: 0 when every host's logs were read; 3 when some host's
could not be (the reason is printed); 130 after Ctrl-C.`,
		Flags: []ucli.Flag{
			configFlag, hostsFlag, waitForWorkerFlag,
			&ucli.IntFlag{Name: "tail", Aliases: []string{"n"}, Value: defaultLogTail, Usage: fmt.Sprintf("lines per container to show, 1 to %d", activities.MaxLogTail)},
			&ucli.BoolFlag{Name: "follow", Aliases: []string{"f"}, Usage: "keep printing new lines until Ctrl-C"},
			&ucli.BoolFlag{Name: "timestamps", Aliases: []string{"t"}, Usage: "show docker's timestamp on each line"},
		},
		Action: func(c *ucli.Context) error {
			in, err := logsInput(c)
			if err != nil {
				return err
			}
			cl, err := dial(c, s)
			if err != nil {
				return err
			}
			defer cl.Close()
			return runLogs(c, s, cl, in)
		},
	}
}

// logsInput reads the command line and hoist.yml into the workflow's
// input: everything the workflow and activities refuse is refused here
// first, as a usage error, before anything is dialled.
func logsInput(c *ucli.Context) (workflows.LogsInput, error) {
	tail := c.Int("tail")
	if tail < 1 || tail > activities.MaxLogTail {
		return workflows.LogsInput{}, Usagef("--tail: want 1 to %d lines, got %d", activities.MaxLogTail, tail)
	}
	services := c.Args().Slice()
	if len(services) > activities.MaxLogServices {
		return workflows.LogsInput{}, Usagef("at most %d services, got %d", activities.MaxLogServices, len(services))
	}
	for _, sv := range services {
		if err := cmds.CheckServiceName(sv); err != nil {
			return workflows.LogsInput{}, &UsageError{Err: err}
		}
	}
	spec, err := loadSpec(c)
	if err != nil {
		return workflows.LogsInput{}, err
	}
	if _, err := applyHosts(c, spec); err != nil {
		return workflows.LogsInput{}, err
	}
	return workflows.LogsInput{Spec: *spec, Services: services, Tail: tail, Follow: c.Bool("follow"), Timestamps: c.Bool("timestamps")}, nil
}

func runLogs(c *ucli.Context, s Streams, cl client.Client, in workflows.LogsInput) error {
	if err := checkWorker(c, cl); err != nil {
		return err
	}
	timeout := 3 * time.Minute
	if in.Follow {
		timeout = workflows.MaxFollow + 5*time.Minute
	}
	summary := fmt.Sprintf("logs of %s (%s) from %s", in.Spec.Service, in.Spec.EnvironmentName(), count(len(in.Spec.Hosts), "host"))
	if in.Follow {
		summary += ", followed"
	}
	run, err := startDay2(c, cl, workflows.LogsWorkflowID(in.Spec.Service, in.Spec.EnvironmentName(), uuid.NewString()), summary, timeout, workflows.LogsWorkflowName, in)
	if err != nil {
		return fmt.Errorf("starting the logs workflow: %w", err)
	}
	view := newLineView(s, in.Spec.Hosts, true, false,
		"more output than hoist keeps or could read in time; narrow it with --tail or a SERVICE")
	res, err := watchDay2(c, cl, run, view, in.Follow)
	// The lines are printed: the run that carried them has done its job.
	// One not known to have ended is left alone (deleting it would
	// terminate it, which its lease does more gently).
	var ns *notStopped
	if !errors.Is(err, errStillRunning) && !errors.As(err, &ns) {
		deleteRun(c, s, cl, run)
	}
	if err != nil {
		return day2Error(err, "logs", run)
	}
	failed := false
	for _, h := range res.Hosts {
		switch {
		case h.Error != "":
			failed = true
			fmt.Fprintf(s.Err, "hoist: %s\n", hostError(h))
		case h.Stopped:
		case h.ExitCode != 0:
			failed = true
			fmt.Fprintf(s.Err, "hoist: %s: docker compose logs in release %s: %s\n", h.Host, h.Release, exitText(h.StreamResult))
		}
	}
	switch res.Ended {
	case workflows.EndedLimit:
		fmt.Fprintf(s.Err, "hoist: the follow ended after %s, the most one runs; run hoist logs --follow again\n", workflows.MaxFollow)
	case workflows.EndedNoReader:
		fmt.Fprintln(s.Err, "hoist: the follow ended: the worker heard nothing from hoist within its lease (was it suspended?); run hoist logs --follow again")
	}
	if failed {
		return exitWith(ExitUnsafe)
	}
	return nil
}

// hostError is why a host's command could not run, naming the host once.
func hostError(h workflows.Day2Host) string {
	if strings.HasPrefix(h.Error, "host "+h.Host+",") || strings.HasPrefix(h.Error, "host "+h.Host+":") {
		return h.Error
	}
	return h.Host + ": " + h.Error
}

// exitText is how a remote command ended: "exit status 3", or "killed by
// signal KILL (exit status 137)".
func exitText(r activities.StreamResult) string {
	if r.Signal != "" {
		return fmt.Sprintf("killed by signal %s (exit status %d)", r.Signal, r.ExitCode)
	}
	return fmt.Sprintf("exit status %d", r.ExitCode)
}

// startDay2 starts a day-2 workflow: its own ID (never the deploy lock),
// a summary for the Web UI's list, a bound on the whole run, and who
// started it, as deploys record it.
func startDay2(c *ucli.Context, cl client.Client, id, summary string, timeout time.Duration, workflow string, in any) (client.WorkflowRun, error) {
	return cl.ExecuteWorkflow(c.Context, client.StartWorkflowOptions{
		ID:                       id,
		TaskQueue:                c.String(flagTaskQueue),
		WorkflowExecutionTimeout: timeout,
		StaticSummary:            summary,
		Memo:                     map[string]any{workflows.MemoBy: whoAmI()},
	}, workflow, in)
}

// errStillRunning: an interrupted day-2 run did not confirm it had
// stopped within stopWait.
var errStillRunning = errors.New("still running")

// notStopped: asking an interrupted day-2 run to stop failed.
type notStopped struct{ err error }

func (e *notStopped) Error() string {
	return "interrupted; asking the run to stop failed: " + e.err.Error()
}

// watchDay2 prints each host's lines as the activities' heartbeats bring
// them, then the rest from the result. With follow it tells the workflow
// every readingEvery that it still reads. Interrupted (Ctrl-C), it asks
// the workflow to stop, which ends the remote commands, and waits for
// that, at most stopWait.
func watchDay2(c *ucli.Context, cl client.Client, run client.WorkflowRun, view *lineView, follow bool) (*workflows.Day2Result, error) {
	ctx := c.Context
	// The result is read on a context Ctrl-C does not end: after it,
	// hoist waits for the run to stop.
	getCtx, cancelGet := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelGet()
	var res workflows.Day2Result
	done := make(chan error, 1)
	go func() { done <- run.Get(getCtx, &res) }()
	dc := dataConverter(c)
	poll := time.NewTicker(day2PollEvery)
	defer poll.Stop()
	lastRead := time.Now()
	for {
		select {
		case err := <-done:
			for _, h := range res.Hosts {
				view.finish(h.StreamResult)
			}
			return &res, err
		case <-poll.C:
			if desc, err := cl.DescribeWorkflowExecution(ctx, run.GetID(), run.GetRunID()); err == nil {
				for _, pa := range desc.GetPendingActivities() {
					var p activities.StreamProgress
					if pa.GetHeartbeatDetails() != nil && dc.FromPayloads(pa.GetHeartbeatDetails(), &p) == nil {
						view.show(p.Index, p.Lines)
					}
				}
			}
			if follow && time.Since(lastRead) >= readingEvery {
				lastRead = time.Now()
				// A signal lost now and then costs nothing: the lease
				// spans three of them.
				_ = cl.SignalWorkflow(ctx, run.GetID(), run.GetRunID(), workflows.ReadingSignal, nil)
			}
		case <-ctx.Done():
			stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopWait)
			defer cancel()
			if err := cl.CancelWorkflow(stopCtx, run.GetID(), run.GetRunID()); err != nil {
				return nil, &notStopped{err: err}
			}
			select {
			case <-done:
				return nil, errInterrupted
			case <-stopCtx.Done():
				return nil, fmt.Errorf("%w, %w", errInterrupted, errStillRunning)
			}
		}
	}
}

// errInterrupted: the user stopped a day-2 command (Ctrl-C, SIGTERM).
var errInterrupted = errors.New("interrupted")

// day2Error is the command's error for a day-2 run that did not end with
// a result.
func day2Error(err error, what string, run client.WorkflowRun) error {
	var ns *notStopped
	switch {
	case errors.As(err, &ns):
		return interrupted("interrupted, but asking workflow %s (run %s) to stop %s failed (%v): it goes on until it ends by itself; temporal workflow cancel stops it",
			run.GetID(), run.GetRunID(), what, ns.err)
	case errors.Is(err, errStillRunning):
		return interrupted("interrupted: asked the worker to stop %s on the hosts; it had not confirmed within %s (workflow %s, run %s)", what, stopWait, run.GetID(), run.GetRunID())
	case errors.Is(err, errInterrupted):
		return interrupted("interrupted: %s stopped on every host", what)
	}
	return fmt.Errorf("%s (workflow %s, run %s): %w", what, run.GetID(), run.GetRunID(), err)
}

// deleteRun asks Temporal to delete a finished logs run: the lines it
// carried are printed. The server deletes in the background, once it
// has finished closing the run (the dev server took from seconds to a
// few minutes); hoist does not wait for it. A namespace that does not
// allow it keeps the run until its retention, which the user is told.
func deleteRun(c *ucli.Context, s Streams, cl client.Client, run client.WorkflowRun) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Context), 10*time.Second)
	defer cancel()
	_, err := cl.WorkflowService().DeleteWorkflowExecution(ctx, &workflowservice.DeleteWorkflowExecutionRequest{
		Namespace:         c.String(flagNamespace),
		WorkflowExecution: &commonpb.WorkflowExecution{WorkflowId: run.GetID(), RunId: run.GetRunID()},
	})
	if err != nil {
		fmt.Fprintf(s.Err, "hoist: warning: could not delete the logs run %s (run %s), which holds the lines printed: it stays in Temporal until the namespace's retention: %v\n", run.GetID(), run.GetRunID(), err)
	}
}

// dataConverter decodes payloads the server hands over raw (heartbeat
// details, memos), decrypting them as the client does when keys are set.
func dataConverter(c *ucli.Context) converter.DataConverter {
	opts, _, err := clientOptions(c, nil)
	if err != nil || opts.DataConverter == nil {
		return converter.GetDefaultDataConverter()
	}
	return opts.DataConverter
}

// lineView prints the numbered lines of every host once each, in order,
// whether they come from a heartbeat or the result, and says when some
// were never seen.
type lineView struct {
	out, err io.Writer
	prefix   []string // by host index: "h1 | ", padded; "" to print lines as they are
	labels   []string
	next     []int // by host index: the Seq of the next line to print
	split    bool  // stderr lines to stderr (exec); else all to stdout (logs)
	missing  string
}

// newLineView shows the lines of hosts, prefixed with the host's name
// when prefix is set. missing says, in a notice, why lines can be lost.
func newLineView(s Streams, hosts []config.Host, prefix, split bool, missing string) *lineView {
	v := &lineView{out: s.Out, err: s.Err, split: split, missing: missing,
		prefix: make([]string, len(hosts)), labels: make([]string, len(hosts)), next: make([]int, len(hosts))}
	width := 0
	for _, h := range hosts {
		width = max(width, len(h.String()))
	}
	for i, h := range hosts {
		v.labels[i] = h.String()
		if prefix {
			v.prefix[i] = fmt.Sprintf("%-*s | ", width, h.String())
		}
	}
	return v
}

// show prints the lines of host i not printed yet.
func (v *lineView) show(i int, lines []activities.Line) {
	if i < 0 || i >= len(v.next) {
		return
	}
	for _, l := range lines {
		if l.Seq < v.next[i] {
			continue
		}
		v.gap(i, l.Seq)
		w := v.out
		if v.split && l.Stderr {
			w = v.err
		}
		text := l.Text
		if l.Cut > 0 {
			text += fmt.Sprintf(" …[%d more bytes cut]", l.Cut)
		}
		fmt.Fprintln(w, v.prefix[i]+text)
		v.next[i] = l.Seq + 1
	}
}

// finish prints the rest of a host's lines from its result.
func (v *lineView) finish(r activities.StreamResult) {
	v.show(r.Index, r.Lines)
	if r.Index >= 0 && r.Index < len(v.next) {
		v.gap(r.Index, r.Total)
	}
}

// gap says that host i's lines up to seq (exclusive) from the next
// expected one were never seen.
func (v *lineView) gap(i, seq int) {
	if n := seq - v.next[i]; n > 0 {
		fmt.Fprintf(v.err, "hoist: %s: %d line(s) not shown: %s\n", v.labels[i], n, v.missing)
		v.next[i] = seq
	}
}
