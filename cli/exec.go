package cli

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/google/uuid"
	ucli "github.com/urfave/cli/v2"
	"go.temporal.io/sdk/client"

	"github.com/hoist-dev/hoist/activities"
	cmds "github.com/hoist-dev/hoist/commands"
	"github.com/hoist-dev/hoist/remote"
	"github.com/hoist-dev/hoist/workflows"
)

// ExitNotRun is hoist exec's status for a host it could not run the
// command on (unreachable, no release there, the worker lost), as ssh
// exits 255 when it cannot connect.
const ExitNotRun = 255

var execTimeoutFlag = &ucli.DurationFlag{Name: "timeout", Value: workflows.DefaultExecTimeout,
	Usage: fmt.Sprintf("stop the command on a host after this long (at most %s)", workflows.MaxExecTimeout)}

func execCommand(s Streams) *ucli.Command {
	return &ucli.Command{
		Name:      "exec",
		Usage:     "run a command in a service's container on every host (or those --hosts names), passing its exit status back",
		ArgsUsage: "SERVICE -- COMMAND [ARG...]",
		Description: `Runs COMMAND in the running container of the compose service SERVICE
(its first replica) of the release current points at, on every host of
hoist.yml at once, or on those --hosts names: --hosts h1 for one.
Everything after -- is the command, each word passed as it is, without a
shell: hoist exec web -- sh -c 'echo $HOME'. There is no TTY and no
standard input.

With one host its output is printed as it comes, stdout to stdout and
stderr to stderr; with several, each line is prefixed with its host.

Exit status: with one host, the command's own. With several, each host's
is printed on stderr, and hoist exits 0 when the command exited 0 on
every host, else with the status of the first host, in hoist.yml order,
where it did not. A host the command could not be run on (unreachable, no
release there, the worker lost) counts as 255. Usage and setup errors
exit 2 before anything runs. Ctrl-C ends docker compose exec on the hosts
and exits 130; like docker exec, that does not stop a process the
command started inside the container.

The command runs through a hoist worker (it holds the SSH key), in a
workflow of its own (hoist-exec/SERVICE/ENVIRONMENT/ID) that is kept as
the record of what ran where and by whom, with each host's exit status
and last 256 KiB of output: do not put secrets in the command or print
them (payloads are encrypted when keys are set: see hoist codec-key).
It runs once: it is never retried.`,
		Flags: []ucli.Flag{configFlag, hostsFlag, waitForWorkerFlag, execTimeoutFlag},
		Action: func(c *ucli.Context) error {
			in, err := execInput(c)
			if err != nil {
				return err
			}
			cl, err := dial(c, s)
			if err != nil {
				return err
			}
			defer cl.Close()
			return runExec(c, s, cl, in)
		},
	}
}

// splitExecArgs reads SERVICE -- COMMAND... from the positional
// arguments. The -- is required: without it, options written after
// SERVICE are moved before it (Run's flagsFirst), and the words of the
// command would be taken for the service.
func splitExecArgs(args []string) (service string, command []string, err error) {
	const usage = "hoist exec [options] SERVICE -- COMMAND [ARG...]"
	if len(args) == 0 || args[0] == "--" {
		return "", nil, Usagef("name the service, then -- and the command: %s", usage)
	}
	service = args[0]
	if err := cmds.CheckServiceName(service); err != nil {
		return "", nil, &UsageError{Err: err}
	}
	if len(args) == 1 {
		return "", nil, Usagef("no command to run: %s", usage)
	}
	if args[1] != "--" {
		return "", nil, Usagef("put -- between the service and the command: %s", usage)
	}
	command = args[2:]
	if err := activities.CheckExecCommand(command); err != nil {
		return "", nil, Usagef("%v: %s", err, usage)
	}
	return service, command, nil
}

func execInput(c *ucli.Context) (workflows.ExecInput, error) {
	service, command, err := splitExecArgs(c.Args().Slice())
	if err != nil {
		return workflows.ExecInput{}, err
	}
	timeout := c.Duration(execTimeoutFlag.Name)
	if timeout < time.Second || timeout > workflows.MaxExecTimeout {
		return workflows.ExecInput{}, Usagef("--timeout: want 1s to %s, got %s", workflows.MaxExecTimeout, timeout)
	}
	spec, err := loadSpec(c)
	if err != nil {
		return workflows.ExecInput{}, err
	}
	if _, err := applyHosts(c, spec); err != nil {
		return workflows.ExecInput{}, err
	}
	return workflows.ExecInput{Spec: *spec, Service: service, Command: command, Timeout: timeout}, nil
}

func runExec(c *ucli.Context, s Streams, cl client.Client, in workflows.ExecInput) error {
	if err := checkWorker(c, cl); err != nil {
		return err
	}
	summary := fmt.Sprintf("exec in %s of %s (%s) on %s: %s", in.Service, in.Spec.Service, in.Spec.EnvironmentName(),
		count(len(in.Spec.Hosts), "host"), shorten(remote.Join(in.Command), 120))
	run, err := startDay2(c, cl, workflows.ExecWorkflowID(in.Spec.Service, in.Spec.EnvironmentName(), uuid.NewString()),
		summary, in.Timeout+2*time.Minute, workflows.ExecWorkflowName, in)
	if err != nil {
		return fmt.Errorf("starting the exec workflow: %w", err)
	}
	several := len(in.Spec.Hosts) > 1
	view := newLineView(s, in.Spec.Hosts, several, true,
		"more output than hoist keeps (the last 256 KiB per host) or could read in time; send it to a file inside the container instead")
	res, err := watchDay2(c, cl, run, view, false)
	if err != nil {
		return day2Error(err, "the command", run)
	}
	return execOutcome(s.Err, res, several)
}

// execOutcome says how the command ended on each host and decides the
// exit status (see the command's help).
func execOutcome(w io.Writer, res *workflows.Day2Result, several bool) error {
	code := 0
	for _, h := range res.Hosts {
		status, what := execStatus(h)
		if several {
			fmt.Fprintf(w, "%s: %s\n", h.Host, what)
		} else if status != 0 {
			fmt.Fprintf(w, "hoist: %s: %s\n", h.Host, what)
		}
		if code == 0 {
			code = status
		}
	}
	if code == 0 {
		return nil
	}
	return exitWith(code)
}

// execStatus is a host's exit status and how it is said.
func execStatus(h workflows.Day2Host) (int, string) {
	switch {
	case h.Error != "":
		return ExitNotRun, fmt.Sprintf("not run (exit %d): %s", ExitNotRun, h.Error)
	case h.Stopped:
		return ExitNotRun, fmt.Sprintf("stopped before it ended (exit %d)", ExitNotRun)
	case h.ExitCode < 0 || h.ExitCode > 255:
		return ExitNotRun, fmt.Sprintf("ended without an exit status (exit %d)", ExitNotRun)
	case h.Signal != "":
		return h.ExitCode, exitText(h.StreamResult)
	}
	return h.ExitCode, fmt.Sprintf("exit %d", h.ExitCode)
}

// shorten cuts s to n bytes for a one-line summary.
func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}
