package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/hoist-dev/hoist/workflows"
)

// Exit codes are the CLI's contract with scripts and CI pipelines: a job
// must tell "rolled back, the service is safe" from "a human is needed".
// exitCodes below is the one table: ExitCode maps to it, `hoist --help`
// prints it, and a test holds README's copy to it.
const (
	ExitOK          = 0   // done: deployed (health warnings included), rolled back as asked, cancelled
	ExitRolledBack  = 1   // the deploy failed and every host it changed is back on its previous release, which serves
	ExitUsage       = 2   // flags, hoist.yml, the files or the setup are wrong: nothing was touched
	ExitUnsafe      = 3   // failed and not safe: the rollback failed, a first deploy failed (nothing to roll back to), or hoist cannot tell
	ExitBusy        = 4   // refused: another deploy or rollback of the service and environment runs, or outside the deploy windows
	ExitMixed       = 5   // a rollout ended with hosts on both releases, by design (max_failed, on_failure: halt)
	ExitInterrupted = 130 // the CLI was interrupted; the deploy goes on (`hoist watch` re-attaches)
)

var exitCodes = []struct {
	code    int
	meaning string
}{
	{ExitOK, "deployed (health warnings included), rolled back as asked, or cancel done"},
	{ExitRolledBack, "failed and rolled back cleanly: the previous release serves"},
	{ExitUsage, "usage, config or setup error (no worker, Temporal unreachable, env file in cleartext, no worker credential for the registry): nothing was touched"},
	{ExitUnsafe, "failed and not safe: the rollback failed, a first deploy failed with nothing to roll back to, or hoist cannot tell what a host runs; a human is needed"},
	{ExitBusy, "refused: another deploy or rollback of the service and environment is running, or the deploy windows do not allow it (outside: refuse): nothing was touched"},
	{ExitMixed, "a rollout ended with hosts on both releases: failures within max_failed, or on_failure: halt stopped it; every host the new release failed on is back on its previous release; the summary lists which host runs what"},
	{ExitInterrupted, "the CLI was interrupted; the deploy goes on (`hoist watch` re-attaches)"},
}

// exitCodeTable is the table as `hoist --help` shows it.
func exitCodeTable() string {
	var b strings.Builder
	for _, e := range exitCodes {
		fmt.Fprintf(&b, "%-4d %s\n", e.code, e.meaning)
	}
	return b.String()
}

// UsageError marks an error as the caller's to fix before anything runs.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// Usagef builds a UsageError.
func Usagef(format string, args ...any) error {
	return &UsageError{Err: fmt.Errorf(format, args...)}
}

// codeError gives an error an exit code other than the default; silent
// when the command already printed the outcome in full.
type codeError struct {
	code   int
	err    error // nil when silent
	silent bool
}

func (e *codeError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}
func (e *codeError) Unwrap() error { return e.err }

// exitWith is an outcome already reported in full: only the code is left.
func exitWith(code int) error { return &codeError{code: code, silent: true} }

// busyf: another deploy of the service and environment holds the lock.
func busyf(format string, args ...any) error {
	return &codeError{code: ExitBusy, err: fmt.Errorf(format, args...)}
}

// interrupted: the user stopped the CLI (Ctrl-C, SIGTERM); what it started
// goes on.
func interrupted(format string, args ...any) error {
	return &codeError{code: ExitInterrupted, err: fmt.Errorf(format, args...)}
}

// failureCode is the exit code of a deploy or rollback that failed, from
// what the workflow says it left behind.
func failureCode(d workflows.FailureDetails) int {
	if d.Setup {
		return ExitUsage
	}
	if d.Refused {
		return ExitBusy
	}
	if d.RollbackFailed || d.NothingToRollBackTo {
		return ExitUnsafe
	}
	if d.Mixed {
		return ExitMixed
	}
	return ExitRolledBack
}

// ExitCode maps any error a command returns to the process exit code. It
// is the one place that decides exit codes. An error no command
// classified is ExitUnsafe: hoist cannot say the service is safe.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var c *codeError
	if errors.As(err, &c) {
		return c.code
	}
	var u *UsageError
	if errors.As(err, &u) {
		return ExitUsage
	}
	return ExitUnsafe
}

// report prints err the way users see it and returns the exit code. An
// interrupted run says so, never "context canceled".
func report(ctx context.Context, w io.Writer, err error) int {
	if err != nil && ctx.Err() != nil && ExitCode(err) != ExitInterrupted {
		// Whatever failed, failed because the context ended.
		err = interrupted("interrupted; what this command started goes on (`hoist watch` shows a running deploy)")
	}
	code := ExitCode(err)
	var c *codeError
	if err != nil && !(errors.As(err, &c) && c.silent) {
		fmt.Fprintf(w, "hoist: %v\n", err)
	}
	return code
}
