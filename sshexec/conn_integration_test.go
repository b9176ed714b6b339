//go:build integration

package sshexec

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/hoist-dev/hoist/internal/testbed"
	"github.com/hoist-dev/hoist/remote"
)

// sshdServing returns the sshd processes serving the connection that runs
// the process with marker in its argv: the session process (parent of the
// login shell) and its monitor, a child of host n's listening sshd.
func sshdServing(t *testing.T, env testbed.Env, n int, marker string) (session, monitor int) {
	t.Helper()
	listener, err := env.SSHDPid(n)
	if err != nil {
		t.Fatal(err)
	}
	pids := procsWithArg(marker)
	if len(pids) != 1 {
		t.Fatalf("%d processes with %s, want 1", len(pids), marker)
	}
	pid, _ := strconv.Atoi(pids[0])
	for pid > 1 && parentPid(t, parentPid(t, pid)) != listener {
		pid = parentPid(t, pid)
	}
	if pid <= 1 {
		t.Fatalf("%s does not run under the sshd of h%d (pid %d)", marker, n, listener)
	}
	return pid, parentPid(t, pid)
}

// TestIntegrationKeepAliveDetectsHungConnection freezes the sshd serving
// the connection: TCP stays up, the SSH layer stops answering, as with a
// host that hangs. The keepalive must declare the connection dead, fail
// the running command with a ConnError, and the next Run must redial.
func TestIntegrationKeepAliveDetectsHungConnection(t *testing.T) {
	env := testbed.Load(t)
	t.Parallel()
	const interval = 300 * time.Millisecond
	c := tbClient(t, env, func(cfg *Config) { cfg.KeepAliveInterval = interval })
	host := env.Host(3)
	marker := fmt.Sprintf("30.%d", rand.Uint32())
	done := make(chan error, 1)
	go func() {
		_, err := c.Run(ctxFor(t, 60*time.Second), host, remote.Cmd("sleep", marker))
		done <- err
	}()
	waitFor(t, 5*time.Second, func() bool { return len(procsWithArg(marker)) == 1 })
	session, monitor := sshdServing(t, env, 3, marker)
	sleeper := procsWithArg(marker)[0]
	t.Cleanup(func() { execOutput("kill", "-9", strconv.Itoa(session), strconv.Itoa(monitor), sleeper) })
	if out, err := execOutput("kill", "-STOP", strconv.Itoa(session)); err != nil {
		t.Fatalf("kill -STOP: %v %s", err, out)
	}
	frozen := time.Now()
	var err error
	select {
	case err = <-done:
	case <-time.After(10 * interval):
		t.Fatal("Run still waits on a connection that stopped answering")
	}
	var connErr *ConnError
	if !errors.As(err, &connErr) || !connErr.Started {
		t.Fatalf("err = %v, want *ConnError with Started", err)
	}
	t.Logf("hung connection noticed after %s: %v", time.Since(frozen), err)
	mustRun(t, c, host, remote.Cmd("true"))
	if s := c.Stats(); s.Dials != 2 {
		t.Errorf("stats %+v, want a second dial", s)
	}
}

// TestIntegrationEnvelopeShells checks the envelope under bash and dash as
// the process sshd starts and signals: `exec SHELL -c ENVELOPE` makes
// that shell the session's process, as a login shell would be.
func TestIntegrationEnvelopeShells(t *testing.T) {
	env := testbed.Load(t)
	t.Parallel()
	c := tbClient(t, env)
	host := env.Host(1)
	tg, err := c.resolve(host)
	if err != nil {
		t.Fatal(err)
	}
	cn, err := c.connect(ctxFor(t, 10*time.Second), tg)
	if err != nil {
		t.Fatal(err)
	}
	start := func(t *testing.T, sh string, cmd remote.Command, stdin string) (*ssh.Session, *bytes.Buffer) {
		t.Helper()
		s, err := cn.client.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		var out bytes.Buffer
		s.Stdout, s.Stdin = &out, strings.NewReader(stdin)
		if err := s.Start("exec " + sh + " -c " + remote.Quote(envelope(cmd.String()))); err != nil {
			t.Fatal(err)
		}
		return s, &out
	}
	for _, sh := range []string{"bash", "dash"} {
		t.Run(sh, func(t *testing.T) {
			s, out := start(t, sh, remote.Cmd("sh", "-c", "cat; exit 7"), "via stdin")
			var exit *ssh.ExitError
			if err := s.Wait(); !errors.As(err, &exit) || exit.ExitStatus() != 7 || out.String() != "via stdin" {
				t.Errorf("exit status and stdin: %v, output %q", err, out.String())
			}

			marker := fmt.Sprintf("300.%d", rand.Uint32())
			anyProc := "[s]leep " + regexp.QuoteMeta(marker)
			s, out = start(t, sh, remote.Cmd("sleep", marker).And("echo", "never"), "")
			waitFor(t, 5*time.Second, func() bool { return len(procsWithArg(marker)) == 1 })
			if n := remoteProcs(t, c, host, anyProc); n < 2 {
				t.Fatalf("%d processes with the marker, want the shells and sleep", n)
			}
			if err := s.Signal(ssh.SIGTERM); err != nil {
				t.Fatal(err)
			}
			waited := make(chan error, 1)
			go func() { waited <- s.Wait() }()
			select {
			case err := <-waited:
				t.Logf("%s after SIGTERM: %v", sh, err)
			case <-time.After(DefaultTermGrace):
				t.Fatalf("%s did not exit within %s of SIGTERM", sh, DefaultTermGrace)
			}
			if n := remoteProcs(t, c, host, anyProc); n != 0 || out.Len() != 0 {
				t.Fatalf("%d processes left after SIGTERM, output %q", n, out.String())
			}
		})
	}
}
