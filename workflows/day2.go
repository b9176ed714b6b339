package workflows

import (
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/hoist-dev/hoist/activities"
	"github.com/hoist-dev/hoist/commands"
	"github.com/hoist-dev/hoist/config"
)

// Day-2 workflows: hoist logs and hoist exec run through the workers,
// which hold the SSH credentials. Each is a short-lived run of its own
// (never the deploy lock: reading logs or running a command during a
// deploy is what an operator does), one activity per host, all at once.
// The output travels as numbered lines in the activities' heartbeat
// details while they run and in their results at the end (see package
// activities); nothing else of it is recorded.

// Names as they appear in the Temporal Web UI and CLI.
const (
	LogsWorkflowName = "Logs"
	ExecWorkflowName = "Exec"
	// ReadingSignal is how the CLI following logs says it still reads:
	// a follow nobody reads (the CLI killed, the laptop closed) ends
	// once its lease passes without one, and with it docker compose
	// logs on every host.
	ReadingSignal = "reading"
)

// Bounds of the day-2 workflows.
const (
	// DefaultFollowLease: a follow ends after this long without a
	// ReadingSignal. The CLI signals three times a lease; each signal
	// costs the history about six events (the signal, a workflow task,
	// the lease timer restarted), so a 12-hour follow stays under
	// Temporal's 10,240-event warning.
	DefaultFollowLease = 90 * time.Second
	MaxFollowLease     = 10 * time.Minute
	// MaxFollow is how long hoist logs --follow runs at most: then the
	// follow ends as if nobody read it (run it again).
	MaxFollow          = 12 * time.Hour
	DefaultExecTimeout = 10 * time.Minute
	MaxExecTimeout     = 6 * time.Hour
	// logsTimeout bounds one read of the logs (no --follow) on a host.
	logsTimeout = 2 * time.Minute
)

// Why a follow ended (Day2Result.Ended).
const (
	EndedNoReader = "no-reader" // no ReadingSignal within the lease
	EndedLimit    = "limit"     // MaxFollow passed
)

// LogsWorkflowID names one hoist logs run: recognisable in the Web UI,
// never the deploy lock.
func LogsWorkflowID(service, environment, unique string) string {
	return "hoist-logs/" + service + "/" + environment + "/" + unique
}

// ExecWorkflowID names one hoist exec run.
func ExecWorkflowID(service, environment, unique string) string {
	return "hoist-exec/" + service + "/" + environment + "/" + unique
}

// LogsInput asks for the container logs of the release every host of
// Spec serves (Spec.Hosts already cut to --hosts).
type LogsInput struct {
	Spec       config.Spec `json:"spec"`
	Services   []string    `json:"services,omitempty"` // empty: every service
	Tail       int         `json:"tail"`               // lines per container
	Follow     bool        `json:"follow,omitempty"`
	Timestamps bool        `json:"timestamps,omitempty"`
	// Lease: a follow ends when no ReadingSignal came for this long
	// (0: DefaultFollowLease).
	Lease time.Duration `json:"lease,omitempty"`
}

// ExecInput asks to run Command in Service's container on every host of
// Spec. The command is recorded in the run's history, as the audit of
// what ran where (and by whom: the memo's MemoBy).
type ExecInput struct {
	Spec    config.Spec   `json:"spec"`
	Service string        `json:"service"`
	Command []string      `json:"command"`
	Timeout time.Duration `json:"timeout,omitempty"` // per host; 0: DefaultExecTimeout
}

// Day2Result is how a day-2 command ended on every host, in config order.
type Day2Result struct {
	Hosts []Day2Host `json:"hosts"`
	Ended string     `json:"ended,omitempty"` // a follow that hoist ended: EndedNoReader or EndedLimit
}

// Day2Host is one host's end: a result, or why the command could not run
// there (Error), or that it was stopped before it ended (Stopped).
type Day2Host struct {
	activities.StreamResult
	Error   string `json:"error,omitempty"`
	Stopped bool   `json:"stopped,omitempty"`
}

func (in LogsInput) validate() error {
	var problems []error
	if err := in.Spec.Validate(); err != nil {
		problems = append(problems, err)
	}
	if in.Tail < 1 || in.Tail > activities.MaxLogTail {
		problems = append(problems, fmt.Errorf("tail: want 1 to %d lines, got %d", activities.MaxLogTail, in.Tail))
	}
	if len(in.Services) > activities.MaxLogServices {
		problems = append(problems, fmt.Errorf("services: at most %d, got %d", activities.MaxLogServices, len(in.Services)))
	}
	for _, s := range in.Services {
		if err := commands.CheckServiceName(s); err != nil {
			problems = append(problems, fmt.Errorf("services: %w", err))
		}
	}
	if in.Lease < 0 || in.Lease > MaxFollowLease || (in.Lease != 0 && in.Lease < time.Second) {
		problems = append(problems, fmt.Errorf("lease: want 1s to %s, got %s", MaxFollowLease, in.Lease))
	}
	return day2Invalid("logs", problems)
}

func (in ExecInput) validate() error {
	var problems []error
	if err := in.Spec.Validate(); err != nil {
		problems = append(problems, err)
	}
	if err := commands.CheckServiceName(in.Service); err != nil {
		problems = append(problems, fmt.Errorf("service: %w", err))
	}
	if err := activities.CheckExecCommand(in.Command); err != nil {
		problems = append(problems, fmt.Errorf("command: %w", err))
	}
	if in.Timeout < 0 || in.Timeout > MaxExecTimeout || (in.Timeout != 0 && in.Timeout < time.Second) {
		problems = append(problems, fmt.Errorf("timeout: want 1s to %s, got %s", MaxExecTimeout, in.Timeout))
	}
	return day2Invalid("exec", problems)
}

func day2Invalid(what string, problems []error) error {
	if len(problems) == 0 {
		return nil
	}
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf("invalid %s input, nothing was run: %v", what, errors.Join(problems...)), activities.ErrInvalid, nil)
}

// day2Step runs once: a read of logs is cheap to ask for again, and a
// command is not known to be safe to run twice. A cancel waits for the
// activity to end its remote command.
func day2Step(timeout time.Duration) workflow.ActivityOptions {
	return workflow.ActivityOptions{
		StartToCloseTimeout: timeout,
		HeartbeatTimeout:    heartbeatTimeout,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 1},
		WaitForCancellation: true,
	}
}

// Logs reads the container logs of every host at once; with Follow, until
// cancelled, until nobody reads (the lease), or MaxFollow.
func Logs(ctx workflow.Context, in LogsInput) (*Day2Result, error) {
	if err := in.validate(); err != nil {
		return nil, err
	}
	timeout := logsTimeout
	if in.Follow {
		timeout = MaxFollow + time.Minute // the workflow ends it at MaxFollow
	}
	actCtx, stop := workflow.WithCancel(ctx)
	defer stop()
	targets := day2Targets(in.Spec)
	futures := make([]workflow.Future, len(targets))
	for i, t := range targets {
		opts := day2Step(timeout)
		opts.Summary = t.Label() + ": logs"
		futures[i] = workflow.ExecuteActivity(workflow.WithActivityOptions(actCtx, opts), a.ReadLogs, activities.LogsInput{
			Target: t, Index: i, Services: in.Services, Tail: in.Tail, Follow: in.Follow, Timestamps: in.Timestamps})
	}
	res := &Day2Result{}
	if in.Follow {
		lease := in.Lease
		if lease == 0 {
			lease = DefaultFollowLease
		}
		res.Ended = followLease(ctx, futures, lease, workflow.Now(ctx).Add(MaxFollow))
		if res.Ended != "" {
			stop()
		}
	}
	return collect(ctx, targets, futures, res, false)
}

// Exec runs the command on every host at once and reports each host's
// exit status and output.
func Exec(ctx workflow.Context, in ExecInput) (*Day2Result, error) {
	if err := in.validate(); err != nil {
		return nil, err
	}
	timeout := in.Timeout
	if timeout == 0 {
		timeout = DefaultExecTimeout
	}
	targets := day2Targets(in.Spec)
	futures := make([]workflow.Future, len(targets))
	for i, t := range targets {
		opts := day2Step(timeout)
		opts.Summary = t.Label() + ": exec in " + in.Service
		futures[i] = workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, opts), a.ExecCommand, activities.ExecInput{
			Target: t, Index: i, Service: in.Service, Command: in.Command})
	}
	return collect(ctx, targets, futures, &Day2Result{}, true)
}

func day2Targets(s config.Spec) []activities.Target {
	return (&deploy{in: DeployInput{Spec: s}}).targets()
}

// followLease waits until every host's follow has ended by itself, the
// workflow is cancelled (""), no ReadingSignal came within lease
// (EndedNoReader), or deadline passed (EndedLimit).
func followLease(ctx workflow.Context, futures []workflow.Future, lease time.Duration, deadline time.Time) string {
	reading := workflow.GetSignalChannel(ctx, ReadingSignal)
	done := make([]bool, len(futures))
	left := len(futures)
	for left > 0 && ctx.Err() == nil {
		wait := lease
		if until := deadline.Sub(workflow.Now(ctx)); until < wait {
			wait = until
		}
		if wait <= 0 {
			return EndedLimit
		}
		timerCtx, cancelTimer := workflow.WithCancel(ctx)
		timer := workflow.NewTimer(timerCtx, wait)
		fired := false
		sel := workflow.NewSelector(ctx)
		for i, f := range futures {
			if !done[i] {
				sel.AddFuture(f, func(workflow.Future) { done[i] = true; left-- })
			}
		}
		sel.AddReceive(reading, func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, nil) })
		sel.AddFuture(timer, func(f workflow.Future) { fired = f.Get(ctx, nil) == nil })
		sel.Select(ctx)
		cancelTimer()
		if fired {
			if !workflow.Now(ctx).Before(deadline) {
				return EndedLimit
			}
			return EndedNoReader
		}
	}
	return ""
}

// collect waits for every host's activity, in config order. A workflow
// cancelled by the CLI (Ctrl-C) ends cancelled, once every host's remote
// command has ended. acts: the command changes things (exec), so a host
// whose end was not seen may have run it.
func collect(ctx workflow.Context, targets []activities.Target, futures []workflow.Future, res *Day2Result, acts bool) (*Day2Result, error) {
	for i, f := range futures {
		h := Day2Host{}
		err := f.Get(ctx, &h.StreamResult)
		var canceled *temporal.CanceledError
		switch {
		case err == nil:
		case errors.As(err, &canceled):
			h.Stopped = true
		default:
			h.Error = day2Failure(err, acts)
		}
		h.Index, h.Host = i, targets[i].Label()
		res.Hosts = append(res.Hosts, h)
	}
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	return res, nil
}

// day2Failure says why a command could not run on a host, or could not
// be seen to its end.
func day2Failure(err error, acts bool) string {
	var timeout *temporal.TimeoutError
	if !errors.As(err, &timeout) {
		return rootMessage(err)
	}
	msg := "it ran past its time limit and was stopped"
	if timeout.TimeoutType() == enumspb.TIMEOUT_TYPE_HEARTBEAT {
		msg = "the worker running it stopped answering (killed, or cut off from Temporal) before it ended"
	}
	if acts {
		msg += "; the command may have run, in part or in full"
	}
	return msg
}
