// Command simdocker is a stand-in for the docker CLI on the simulated hosts
// of scripts/simfleet, used by `make bench-fleet` only: it lets hoist's real
// SSH, uploads, locking and symlink switching run against 200 hosts on one
// machine, to measure orchestration alone. It runs no container. Never use
// it for a test that claims deploys work: a deploy "succeeds" here because
// the stand-in says its containers run.
//
// It answers exactly what hoist sends (package commands) the way a healthy,
// running, never-restarted service would: compose pull/up/down/stop/ps/logs,
// inspect (rendered with Go templates over docker's field names, so a
// format hoist changes either renders or fails loudly), ps with label
// filters, logs, login --password-stdin and version. State lives in one
// file per host (StateDir), so an up is seen by the next ps and inspect.
// Anything else exits 2 with "simdocker: unsupported: ..." on stderr: a gap
// in the simulation must show, never pass as green.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// DefaultStateDir is where a simulated host's state is: simfleet.sh binds
// the host's own state folder there, in the host's mount namespace, so
// every sim host sees its own. SIMDOCKER_STATE overrides it (tests).
const DefaultStateDir = "/var/lib/hoist-simfleet/state"

// Exit codes.
const (
	exitFailed      = 1 // what docker exits with when a command fails
	exitUnsupported = 2 // an invocation the simulation does not implement
)

// sim is one invocation: the host's state and the process's surroundings.
type sim struct {
	stateDir  string
	cwd       string
	configDir string // docker --config; "" = $DOCKER_CONFIG or ~/.docker
	now       func() time.Time
	getenv    func(string) string
	stdin     io.Reader
	stdout    io.Writer
	stderr    io.Writer
	host      string // the host's name, read from stateDir/host
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run is main with its surroundings passed in; it returns the exit code.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cwd, err := os.Getwd()
	if err != nil {
		fmt.Fprintf(stderr, "simdocker: current directory: %v\n", err)
		return exitFailed
	}
	s := &sim{
		stateDir: DefaultStateDir,
		cwd:      cwd,
		now:      func() time.Time { return time.Now().UTC() },
		getenv:   os.Getenv,
		stdin:    stdin, stdout: stdout, stderr: stderr,
	}
	if d := os.Getenv("SIMDOCKER_STATE"); d != "" {
		s.stateDir = d
	}
	err = s.docker(args)
	var u *unsupportedError
	var f *failure
	switch {
	case err == nil:
		return 0
	case errors.As(err, &u):
		fmt.Fprintf(stderr, "simdocker: unsupported: docker %s: %s (the simulated fleet answers only what hoist runs; see scripts/simfleet/README.md)\n", strings.Join(args, " "), u.why)
		return exitUnsupported
	case errors.As(err, &f):
		if f.msg != "" { // "" : the command already said what failed
			fmt.Fprintln(stderr, f.msg)
		}
		return exitFailed
	}
	fmt.Fprintf(stderr, "simdocker: %v\n", err)
	return exitFailed
}

// unsupportedError is an invocation the simulation does not implement.
type unsupportedError struct{ why string }

func (e *unsupportedError) Error() string { return "unsupported: " + e.why }

func unsupported(format string, a ...any) error {
	return &unsupportedError{why: fmt.Sprintf(format, a...)}
}

// failure is a command that fails as docker's would, with docker's message.
type failure struct{ msg string }

func (e *failure) Error() string { return e.msg }

func failf(format string, a ...any) error { return &failure{msg: fmt.Sprintf(format, a...)} }

// docker dispatches on the subcommand after docker's global options.
func (s *sim) docker(args []string) error {
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		switch a := args[0]; {
		case a == "--config" && len(args) > 1:
			s.configDir, args = args[1], args[2:]
		case strings.HasPrefix(a, "--config="):
			s.configDir, args = strings.TrimPrefix(a, "--config="), args[1:]
		case a == "--version" || a == "-v":
			fmt.Fprintf(s.stdout, "Docker version %s, build simfleet\n", simVersion)
			return nil
		default:
			return unsupported("global option %s", a)
		}
	}
	if len(args) == 0 {
		return unsupported("no command")
	}
	cmd, rest := args[0], args[1:]
	if cmd == "version" {
		return s.version(rest)
	}
	if err := s.loadHost(); err != nil {
		return err
	}
	switch cmd {
	case "compose":
		return s.compose(rest)
	case "inspect":
		return s.inspect(rest)
	case "ps":
		return s.ps(rest)
	case "logs":
		return s.logs(rest)
	case "login":
		return s.login(rest)
	}
	return unsupported("command %q", cmd)
}

// loadHost reads the host's name: it is part of every container ID, so
// IDs differ between hosts and stay the same for a host and release.
func (s *sim) loadHost() error {
	b, err := os.ReadFile(s.stateDir + "/host")
	if err != nil {
		return fmt.Errorf("no simulated host here: %v; this docker stand-in only answers inside a host started by scripts/simfleet/simfleet.sh up (or with SIMDOCKER_STATE set to a folder holding a file \"host\")", err)
	}
	s.host = strings.TrimSpace(string(b))
	if s.host == "" {
		return fmt.Errorf("%s/host is empty: it names the simulated host", s.stateDir)
	}
	return nil
}
