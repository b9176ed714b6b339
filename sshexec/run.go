package sshexec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/hoist-dev/hoist/remote"
)

// Result is what a command left behind. Stdout and Stderr hold the last
// MaxOutput bytes of each stream.
type Result struct {
	ExitCode        int
	Stdout          string
	Stderr          string
	StdoutTruncated bool // Stdout lost its beginning to the MaxOutput cap
	StderrTruncated bool
	StdoutBytes     int64 // bytes the command wrote, kept or not
	StderrBytes     int64
	Duration        time.Duration
}

// RunOption changes one Run.
type RunOption func(*runOptions)

type runOptions struct {
	onLine    func(stream, line string)
	maxOutput int
}

// OnLine calls fn with each line of output while the command runs, stream
// being "stdout" or "stderr". Calls are serialised and end before Run
// returns; fn must not block for long, or it stalls the command's output.
func OnLine(fn func(stream, line string)) RunOption {
	return func(o *runOptions) { o.onLine = fn }
}

// MaxOutput overrides Config.MaxOutput for one Run.
func MaxOutput(n int) RunOption {
	return func(o *runOptions) {
		if n > 0 {
			o.maxOutput = n
		}
	}
}

// Run runs cmd on host and waits for it. host is "[user@]host[:port]" or
// an alias of the ssh config.
//
// A non-zero exit returns the Result and an *ExitError. Cancelling ctx
// signals the remote command's whole process group with SIGTERM and
// returns ctx's error once it is gone (or after Config.TermGrace). A
// command is never run twice: Run retries only when the connection turned
// out dead before anything was sent.
func (c *Client) Run(ctx context.Context, host string, cmd remote.Command, opts ...RunOption) (Result, error) {
	if err := cmd.Validate(); err != nil {
		return Result{}, fmt.Errorf("ssh %s: %w", host, err)
	}
	o := runOptions{maxOutput: c.cfg.MaxOutput}
	for _, opt := range opts {
		opt(&o)
	}
	t, err := c.resolve(host)
	if err != nil {
		return Result{}, err
	}
	rendered := cmd.String()
	for attempt := 0; ; attempt++ {
		cn, err := c.connect(ctx, t)
		if err != nil {
			return Result{}, err
		}
		sess, release, err := cn.openSession(ctx)
		if errors.Is(err, errBroken) && attempt == 0 {
			c.cfg.Logger.Info("sshexec: connection was dead, reconnecting", "host", t.spec, "err", err)
			continue
		}
		if err != nil {
			if ctx.Err() != nil {
				return Result{}, fmt.Errorf("ssh %s: session: %w", t.spec, ctx.Err())
			}
			return Result{}, &ConnError{Host: t.spec, Addr: t.String(), Op: "session", Err: err}
		}
		res, err := c.runSession(ctx, t, cn, sess, cmd, rendered, o)
		release()
		return res, err
	}
}

func (c *Client) runSession(ctx context.Context, t *target, cn *conn, sess *ssh.Session, cmd remote.Command, rendered string, o runOptions) (Result, error) {
	defer sess.Close()
	stdout, stderr := newTailBuffer(o.maxOutput), newTailBuffer(o.maxOutput)
	var outW, errW io.Writer = stdout, stderr
	var sink *lineSink
	var outLines, errLines *lineWriter
	if o.onLine != nil {
		sink = &lineSink{fn: o.onLine}
		outLines = &lineWriter{stream: "stdout", sink: sink}
		errLines = &lineWriter{stream: "stderr", sink: sink}
		outW, errW = io.MultiWriter(stdout, outLines), io.MultiWriter(stderr, errLines)
		defer sink.close()
	}
	sess.Stdout, sess.Stderr = outW, errW
	if cmd.Stdin != nil {
		sess.Stdin = bytes.NewReader(cmd.Stdin)
	}
	result := func(start time.Time) Result {
		out, errOut := stdout.Bytes(), stderr.Bytes()
		return Result{
			Stdout:          string(out),
			Stderr:          string(errOut),
			StdoutBytes:     stdout.Total(),
			StderrBytes:     stderr.Total(),
			StdoutTruncated: stdout.Total() > int64(len(out)),
			StderrTruncated: stderr.Total() > int64(len(errOut)),
			Duration:        time.Since(start),
		}
	}

	op := "run " + rendered
	c.cfg.Logger.Debug("sshexec: run", "host", t.spec, "command", rendered)
	start := time.Now()
	if err := sess.Start(envelope(rendered)); err != nil {
		if !cn.alive() || errors.Is(err, io.EOF) {
			// The exec request may have reached the host before the
			// connection broke.
			return result(start), &ConnError{Host: t.spec, Addr: t.String(), Op: op, Started: true, Err: err}
		}
		return result(start), fmt.Errorf("ssh %s: %s: the host refused to start it: %w", t.spec, op, err)
	}
	waited := make(chan error, 1)
	go func() { waited <- sess.Wait() }()

	var err error
	select {
	case err = <-waited:
	case <-ctx.Done():
		c.stop(t, sess, waited)
		res := result(start)
		res.ExitCode = -1
		return res, fmt.Errorf("ssh %s: %s: %w", t.spec, op, ctx.Err())
	}
	if sink != nil {
		outLines.flush()
		errLines.flush()
	}
	res := result(start)
	var exit *ssh.ExitError
	switch {
	case err == nil:
		return res, nil
	case errors.As(err, &exit):
		res.ExitCode = exit.ExitStatus()
		return res, &ExitError{
			Host:       t.spec,
			Command:    rendered,
			Code:       exit.ExitStatus(),
			Signal:     exit.Signal(),
			StderrTail: stderrTail(res.Stderr),
		}
	}
	// *ssh.ExitMissingError or an I/O error: the channel went away
	// without an exit status, which is what a dropped connection looks
	// like. The connection's own error says why; it is recorded as the
	// transport shuts down, a moment after the channels close.
	res.ExitCode = -1
	select {
	case <-cn.dead:
		err = fmt.Errorf("connection lost: %v (%w)", cn.deadErr, err)
	case <-time.After(200 * time.Millisecond):
	}
	return res, &ConnError{Host: t.spec, Addr: t.String(), Op: op, Started: true, Err: err}
}

// stop ends a cancelled command: SIGTERM to the envelope, which passes it
// to the command's process group; then, if it has not exited within
// TermGrace, the session is closed regardless.
func (c *Client) stop(t *target, sess *ssh.Session, waited <-chan error) {
	if err := sess.Signal(ssh.SIGTERM); err != nil {
		c.cfg.Logger.Warn("sshexec: could not signal cancelled command", "host", t.spec, "err", err)
	}
	grace := time.NewTimer(c.cfg.TermGrace)
	defer grace.Stop()
	select {
	case <-waited:
		return
	case <-grace.C:
	}
	c.cfg.Logger.Warn("sshexec: cancelled command did not exit after SIGTERM; closing the session", "host", t.spec, "grace", c.cfg.TermGrace)
	sess.Close()
	// Wait for the copy goroutines so no output arrives after Run returns;
	// bounded, in case the host does not answer the close either.
	grace.Reset(c.cfg.TermGrace)
	select {
	case <-waited:
	case <-grace.C:
	}
}

// envelope wraps a rendered command so that a SIGTERM sent to the shell
// sshd started reaches every process of the command. sshd makes that
// shell a process group leader (setsid), but the shell alone would get
// the signal, and it defers traps while a foreground child runs. So the
// command runs as a background job (same process group: no job control
// in a non-interactive shell) and the shell waits for it; `wait` returns
// as soon as a trapped signal arrives, and the trap sends the signal to
// the whole group, the shell included once its trap is reset. The
// command's exit status is the status of `wait`.
//
// A background job's stdin is /dev/null, assigned before its own
// redirections (POSIX; dash does exactly that, so a plain <&0 would dup
// /dev/null), hence the detour through fd 3.
func envelope(cmd string) string {
	return "trap 'trap - TERM; kill -TERM 0' TERM; exec 3<&0; { " + cmd + "\n} <&3 3<&- & exec 3<&-; wait $!"
}
