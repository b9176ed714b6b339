package cli

import (
	"errors"
	"fmt"
	"io"
)

// Exit codes are the CLI's contract with scripts and CI pipelines.
const (
	ExitOK     = 0 // the operation succeeded (a deploy with a health warning too)
	ExitFailed = 1 // the operation ran and failed: deploy rolled back, lock held, host unreachable
	ExitUsage  = 2 // bad flags, arguments or configuration: nothing was touched
)

// UsageError marks an error as the caller's to fix before anything runs.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// Usagef builds a UsageError.
func Usagef(format string, args ...any) error {
	return &UsageError{Err: fmt.Errorf(format, args...)}
}

// silentError carries an exit code for an outcome the command already
// reported in full, so it is not printed twice.
type silentError struct{ code int }

func (e *silentError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// ExitCode maps any error a command returns to the process exit code. It
// is the one place that decides exit codes.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var s *silentError
	if errors.As(err, &s) {
		return s.code
	}
	var u *UsageError
	if errors.As(err, &u) {
		return ExitUsage
	}
	return ExitFailed
}

// report prints err the way users see it and returns the exit code.
func report(w io.Writer, err error) int {
	code := ExitCode(err)
	var s *silentError
	if err != nil && !errors.As(err, &s) {
		fmt.Fprintf(w, "hoist: %v\n", err)
	}
	return code
}
