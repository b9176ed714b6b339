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
	parts := make([]string, 0, len(c.Steps)+1)
	if c.Dir != "" {
		parts = append(parts, "cd "+Quote(c.Dir))
	}
	for _, step := range c.Steps {
		parts = append(parts, Join(step))
	}
	return strings.Join(parts, " && ")
}
