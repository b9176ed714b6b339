// Package cli is the hoist command line: it parses flags and configuration,
// talks to Temporal, and maps every outcome to an exit code in one place.
package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	ucli "github.com/urfave/cli/v2"
	"go.temporal.io/sdk/client"
)

// Version is set at build time with -ldflags "-X .../cli.Version=...".
var Version = "dev"

// Streams are the process's standard streams and its way to Temporal,
// injectable for tests.
type Streams struct {
	In       io.Reader
	Out, Err io.Writer
	// Dial connects to Temporal; nil is client.Dial. Tests pass a fake.
	Dial func(client.Options) (client.Client, error)
}

// StdStreams are the process's real streams.
func StdStreams() Streams { return Streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr} }

// Global flags shared by every command that talks to Temporal.
const (
	flagTemporalAddress = "temporal-address"
	flagNamespace       = "namespace"
	flagTaskQueue       = "task-queue"
)

// NewApp builds the application. Commands never call os.Exit; Run maps
// their errors to exit codes.
func NewApp(s Streams) *ucli.App {
	app := &ucli.App{
		Name:                 "hoist",
		Usage:                "durable Docker Compose deploys to plain Linux hosts over SSH",
		Version:              Version,
		Reader:               s.In,
		Writer:               s.Out,
		ErrWriter:            s.Err,
		EnableBashCompletion: false,
		HideHelpCommand:      true,
		Description:          appDescription + exitCodeTable(),
		Flags:                globalFlags(),
		OnUsageError: func(_ *ucli.Context, err error, _ bool) error {
			return &UsageError{Err: err}
		},
		// Errors are printed and mapped by Run, never by the library.
		ExitErrHandler: func(*ucli.Context, error) {},
		// Reached only without a known command: a misspelt command is a
		// usage error, not "no help topic" with exit 1.
		Action: func(c *ucli.Context) error {
			if c.Args().Present() {
				return Usagef("unknown command %q; see hoist --help", c.Args().First())
			}
			return ucli.ShowAppHelp(c)
		},
		Commands: commands(s),
	}
	for _, c := range app.Commands {
		setUsageErrors(c)
		checkCommandLine(c)
		acceptGlobalFlags(c)
	}
	return app
}

const appDescription = `Each deploy is a Temporal workflow run by a hoist worker, which holds the
SSH and registry credentials. The deploy lock is the service and its
environment (hoist.yml's environment:, default production): staging and
production of one service deploy side by side.

hoist.yml's services: lists the compose services whose running check
decides a deploy's success (all of them when left out); the others are
started too, and a crash or restart of one is a warning, not a rollback.

Global options may be given before or after the command.

Exit codes:
`

// globalFlags are built per use: urfave/cli stores an environment value
// into the flag it applies, so the app and each command get their own.
func globalFlags() []ucli.Flag {
	flags := []ucli.Flag{
		&ucli.StringFlag{Name: flagTemporalAddress, Usage: "Temporal frontend host:port", EnvVars: []string{"TEMPORAL_ADDRESS"}, Value: "localhost:7233"},
		&ucli.StringFlag{Name: flagNamespace, Usage: "Temporal namespace", EnvVars: []string{"TEMPORAL_NAMESPACE"}, Value: "default"},
		&ucli.StringFlag{Name: flagTaskQueue, Usage: "Temporal task queue the workers poll", EnvVars: []string{"HOIST_TASK_QUEUE"}, Value: "hoist"},
		codecKeyFileFlag(),
	}
	return append(flags, connectionFlags()...)
}

// acceptGlobalFlags lets `hoist status -c f --namespace x` mean what
// `hoist --namespace x status -c f` does, as users expect. The command
// gets its own copies of the global flags, hidden from its help and
// without defaults or environment variables, so a copy is set only when
// given after the command; one that is not takes the app's value (given
// before the command, from the environment, or the default), so c.String
// reads the same either way, and a flag given after the command wins.
func acceptGlobalFlags(c *ucli.Command) {
	var names, bools []string
	for _, f := range globalFlags() {
		switch g := f.(type) {
		case *ucli.StringFlag:
			names = append(names, g.Name)
			c.Flags = append(c.Flags, &ucli.StringFlag{Name: g.Name, Usage: g.Usage, Hidden: true})
		case *ucli.BoolFlag:
			bools = append(bools, g.Name)
			c.Flags = append(c.Flags, &ucli.BoolFlag{Name: g.Name, Usage: g.Usage, Hidden: true})
		default:
			panic(fmt.Sprintf("global flag %s: only string and bool flags are copied to commands", f.Names()[0]))
		}
	}
	before := c.Before
	c.Before = func(ctx *ucli.Context) error {
		lineage := ctx.Lineage()
		if len(lineage) > 1 && lineage[1] != nil {
			app := lineage[1]
			for _, name := range names {
				if v := app.String(name); !ctx.IsSet(name) && v != "" {
					if err := ctx.Set(name, v); err != nil {
						return &UsageError{Err: err}
					}
				}
			}
			// A bool given before the command is copied as given, false
			// included: --tls=false is not "not given".
			for _, name := range bools {
				if app.IsSet(name) && !ctx.IsSet(name) {
					if err := ctx.Set(name, strconv.FormatBool(app.Bool(name))); err != nil {
						return &UsageError{Err: err}
					}
				}
			}
		}
		if before != nil {
			return before(ctx)
		}
		return nil
	}
}

// checkCommandLine makes c refuse, before its action runs, what it would
// otherwise read as "not given": positional arguments when it declares
// none (ArgsUsage), and an empty value given for a string flag on the
// command line (`--version ""` from an unset variable in a CI script).
func checkCommandLine(c *ucli.Command) {
	before := c.Before
	c.Before = func(ctx *ucli.Context) error {
		if c.ArgsUsage == "" && ctx.NArg() > 0 {
			return Usagef("%s takes no arguments, got %q", c.Name, ctx.Args().Slice())
		}
		for _, f := range c.Flags {
			sf, ok := f.(*ucli.StringFlag)
			if ok && len(sf.EnvVars) == 0 && ctx.IsSet(sf.Name) && ctx.String(sf.Name) == "" {
				return Usagef("--%s: must not be empty", sf.Name)
			}
		}
		if before != nil {
			return before(ctx)
		}
		return nil
	}
}

func setUsageErrors(c *ucli.Command) {
	c.OnUsageError = func(_ *ucli.Context, err error, _ bool) error { return &UsageError{Err: err} }
	for _, sub := range c.Subcommands {
		setUsageErrors(sub)
	}
}

// Run runs the CLI with args (args[0] is the program name) and returns the
// process exit code.
func Run(ctx context.Context, args []string, s Streams) int {
	app := NewApp(s)
	err := app.RunContext(ctx, flagsFirst(app, args))
	return report(ctx, s.Err, err)
}

// flagsFirst moves a command's leading arguments after its flags:
// urfave/cli stops reading flags at the first argument, so `hoist
// schedule create nightly -c hoist.yml --cron …` (the order the help
// shows) would take every flag for an argument. Only the leading
// arguments of a command without subcommands move, and never past "--"
// (hoist exec's remote command follows it untouched).
func flagsFirst(app *ucli.App, args []string) []string {
	noValue := map[string]bool{"-h": true, "--help": true, "-v": true, "--version": true}
	for _, f := range globalFlags() {
		if b, ok := f.(*ucli.BoolFlag); ok {
			noValue["--"+b.Name] = true
		}
	}
	i := 1
	for i < len(args) && strings.HasPrefix(args[i], "-") { // global flags before the command
		switch {
		case strings.Contains(args[i], "="), noValue[args[i]]:
			i++
		default:
			i += 2 // every other global flag takes a value
		}
	}
	var cmd *ucli.Command
	for cmds := app.Commands; i < len(args) && len(cmds) > 0; {
		next := (*ucli.Command)(nil)
		for _, c := range cmds {
			if c.HasName(args[i]) {
				next = c
			}
		}
		if next == nil {
			break
		}
		cmd, cmds = next, next.Subcommands
		i++
	}
	if cmd == nil || len(cmd.Subcommands) > 0 {
		return args
	}
	j := i
	for j < len(args) && !strings.HasPrefix(args[j], "-") {
		j++
	}
	k := j
	for k < len(args) && args[k] != "--" {
		k++
	}
	if j == i || j == k {
		return args
	}
	out := append([]string{}, args[:i]...)
	out = append(out, args[j:k]...)
	out = append(out, args[i:j]...)
	return append(out, args[k:]...)
}
