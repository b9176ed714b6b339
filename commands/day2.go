package commands

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/hoist-dev/hoist/remote"
)

// Day-2 commands: what an operator runs against the release a host
// serves, once it is deployed (hoist logs, hoist exec). They address the
// release exactly as a deploy does (Compose.cmd): from its folder, with
// the service's docker config and the explicit project name, so compose
// loads the same compose file and finds the same containers.

// LogsOptions shape Compose.Logs.
type LogsOptions struct {
	Services   []string // compose services; empty: every service of the project
	Tail       int      // lines per container to start with, at least 1
	Follow     bool     // then keep printing what the containers write
	Timestamps bool     // each line with docker's timestamp
}

// Logs prints the project's container logs without colour: the last Tail
// lines of each container and, with Follow, what they write until the
// command is stopped. compose prefixes each line with its container.
func (c Compose) Logs(o LogsOptions) remote.Command {
	if o.Tail < 1 {
		panic(fmt.Sprintf("commands: logs tail %d: want at least 1", o.Tail))
	}
	args := []string{"logs", "--no-color", "--tail", strconv.Itoa(o.Tail)}
	if o.Timestamps {
		args = append(args, "--timestamps")
	}
	if o.Follow {
		args = append(args, "--follow")
	}
	for _, s := range o.Services {
		if err := CheckServiceName(s); err != nil {
			panic("commands: " + err.Error())
		}
		args = append(args, s)
	}
	return c.cmd(args...)
}

// ServiceNames prints the compose services the release's compose file
// defines, one a line (ParseServiceNames reads them): day-2 commands name
// a service, and compose itself says nothing of one it does not have
// (logs of it print nothing and succeed).
func (c Compose) ServiceNames() remote.Command { return c.cmd("config", "--services") }

// ParseServiceNames reads ServiceNames' output.
func ParseServiceNames(out string) []string { return strings.Fields(out) }

// Exec runs argv in the running container of service (the first replica),
// without a TTY: the output comes back as plain streams and the exit
// status is the command's. The words of argv are the command's own, each
// quoted into one word by the renderer; compose stops reading its options
// at the service name, so none of them is taken for one of compose's.
func (c Compose) Exec(service string, argv []string) remote.Command {
	if err := CheckServiceName(service); err != nil {
		panic("commands: " + err.Error())
	}
	if len(argv) == 0 || argv[0] == "" {
		panic("commands: exec needs a command")
	}
	return c.cmd(append([]string{"exec", "-T", service}, argv...)...)
}
