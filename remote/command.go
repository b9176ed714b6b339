package remote

import (
	"errors"
	"fmt"
	"strings"
)

// Command is one remote command line: one or more argv steps run in order,
// each only if the previous one succeeded, optionally in a directory, with
// optional standard input. Stdin never appears in String(), so a password
// fed to `docker login --password-stdin` stays out of argv and logs.
type Command struct {
	Dir   string
	Steps [][]string
	Stdin []byte
	// Lock, when set, is a file the whole command holds an exclusive
	// flock(1) on, from before its first step until its last process
	// ends (see WithLock).
	Lock string
}

// Lock waits: a command waits at most LockWaitSeconds for the lock, then
// exits LockBusyCode without running.
const (
	LockWaitSeconds = 600
	LockBusyCode    = 75
)

// WithLock returns the command run holding an exclusive lock on file.
// The shell opens the file on descriptor 9 and flocks it before the first
// step; every step inherits the descriptor, so the lock is held until the
// command's last process has ended (a SIGTERM to the group ends it too).
func (c Command) WithLock(file string) Command {
	c.Lock = file
	return c
}

// Cmd starts a command with one step.
func Cmd(argv ...string) Command {
	return Command{Steps: [][]string{argv}}
}

// In returns the command run inside dir.
func (c Command) In(dir string) Command {
	c.Dir = dir
	return c
}

// And returns the command with one more step, run only when the previous
// steps succeeded.
func (c Command) And(argv ...string) Command {
	steps := make([][]string, 0, len(c.Steps)+1)
	steps = append(steps, c.Steps...)
	c.Steps = append(steps, argv)
	return c
}

// WithStdin returns the command fed data on standard input.
func (c Command) WithStdin(data []byte) Command {
	c.Stdin = data
	return c
}

// ErrInvalidCommand is returned by Validate.
var ErrInvalidCommand = errors.New("invalid remote command")

// Validate reports a command that cannot be rendered faithfully.
func (c Command) Validate() error {
	if len(c.Steps) == 0 {
		return fmt.Errorf("%w: no steps", ErrInvalidCommand)
	}
	if strings.IndexByte(c.Dir, 0) >= 0 {
		return fmt.Errorf("%w: NUL byte in directory", ErrInvalidCommand)
	}
	if strings.IndexByte(c.Lock, 0) >= 0 {
		return fmt.Errorf("%w: NUL byte in lock file", ErrInvalidCommand)
	}
	for i, step := range c.Steps {
		if len(step) == 0 {
			return fmt.Errorf("%w: step %d is empty", ErrInvalidCommand, i+1)
		}
		for _, w := range step {
			if strings.IndexByte(w, 0) >= 0 {
				return fmt.Errorf("%w: NUL byte in argument of step %d", ErrInvalidCommand, i+1)
			}
		}
	}
	return nil
}

// String renders the command line the remote shell runs.
func (c Command) String() string {
	parts := make([]string, 0, len(c.Steps)+3)
	if c.Lock != "" {
		parts = append(parts, "exec 9>>"+Quote(c.Lock), fmt.Sprintf("flock --wait %d --conflict-exit-code %d 9", LockWaitSeconds, LockBusyCode))
	}
	if c.Dir != "" {
		parts = append(parts, "cd "+Quote(c.Dir))
	}
	for _, step := range c.Steps {
		parts = append(parts, Join(step))
	}
	return strings.Join(parts, " && ")
}
