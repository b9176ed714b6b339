//go:build integration

package sshexec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/internal/testbed"
	"github.com/hoist-dev/hoist/remote"
)

func TestIntegrationRun(t *testing.T) {
	env := testbed.Load(t)
	t.Parallel()
	c := tbClient(t, env)
	h1 := env.Host(1)

	if res := mustRun(t, c, h1, remote.Cmd("id", "-un")); res.Stdout != env.User+"\n" || res.ExitCode != 0 {
		t.Errorf("id -un: %+v", res)
	}
	// Stdin reaches the command through the envelope, unchanged.
	stdin := []byte("s3cret\nsecond line without newline")
	if res := mustRun(t, c, h1, remote.Cmd("cat").WithStdin(stdin)); res.Stdout != string(stdin) {
		t.Errorf("stdin came back as %q", res.Stdout)
	}
	if res := mustRun(t, c, h1, remote.Cmd("pwd").In("/tmp")); res.Stdout != "/tmp\n" {
		t.Errorf("pwd in /tmp: %q", res.Stdout)
	}
	// Steps stop at the first failure.
	res, err := c.Run(ctxFor(t, 10*time.Second), h1, remote.Cmd("false").And("echo", "not reached"))
	var exit *ExitError
	if !errors.As(err, &exit) || exit.Code != 1 || res.Stdout != "" {
		t.Errorf("false && echo: %+v, %v", res, err)
	}
	if s := c.Stats(); s.Dials != 1 || s.Open != 1 {
		t.Errorf("stats %+v, want one connection", s)
	}
}

func TestIntegrationSSHConfigAlias(t *testing.T) {
	env := testbed.Load(t)
	t.Parallel()
	// User and key come from the test bed's ssh config only.
	c := tbClient(t, env, func(cfg *Config) {
		cfg.SSHConfigFile = env.SSHConfig
		cfg.User = ""
		cfg.IdentityFiles = nil
	})
	res := mustRun(t, c, "h3", remote.Cmd("sh", "-c", `echo "$(id -un) $SSH_CONNECTION"`))
	f := strings.Fields(res.Stdout)
	if len(f) != 5 || f[0] != env.User || f[3] != env.Host(3) {
		t.Fatalf("h3 answered %q", res.Stdout)
	}
	// The same host under its address resolves to the same user@host:port
	// and so reuses the connection.
	mustRun(t, c, env.Host(3), remote.Cmd("true"))
	if s := c.Stats(); s.Dials != 1 {
		t.Errorf("stats %+v, want one dial for h3 and %s", s, env.Host(3))
	}
}

func TestIntegrationExitCodeAndStderr(t *testing.T) {
	env := testbed.Load(t)
	t.Parallel()
	c := tbClient(t, env)
	cmd := remote.Cmd("sh", "-c", "echo out; echo err >&2; exit 3")
	res, err := c.Run(ctxFor(t, 10*time.Second), env.Host(1), cmd)
	var exit *ExitError
	if !errors.As(err, &exit) {
		t.Fatalf("err = %v, want *ExitError", err)
	}
	if exit.Code != 3 || exit.StderrTail != "err" || exit.Host != env.Host(1) || exit.Command != cmd.String() {
		t.Errorf("ExitError %+v", exit)
	}
	if res.ExitCode != 3 || res.Stdout != "out\n" || res.Stderr != "err\n" || res.Duration <= 0 {
		t.Errorf("Result %+v", res)
	}
	if Retryable(err) {
		t.Error("an exit error is retryable")
	}
	t.Logf("error reads: %v", err)
}

func TestIntegrationLargeOutput(t *testing.T) {
	env := testbed.Load(t)
	t.Parallel()
	c := tbClient(t, env)
	const size = 10_000_000
	cmd := remote.Cmd("sh", "-c", "head -c 10000000 /dev/zero | tr '\\0' a; echo TAIL-END")
	res := mustRun(t, c, env.Host(1), cmd)
	if len(res.Stdout) != DefaultMaxOutput || !res.StdoutTruncated || res.StdoutBytes != size+9 {
		t.Errorf("default cap: kept %d of %d bytes, truncated %v", len(res.Stdout), res.StdoutBytes, res.StdoutTruncated)
	}
	if !strings.HasSuffix(res.Stdout, "aaaaTAIL-END\n") || strings.Trim(res.Stdout, "a") != "TAIL-END\n" {
		t.Errorf("the tail was not kept: ...%q", res.Stdout[len(res.Stdout)-20:])
	}
	res = mustRun(t, c, env.Host(1), cmd, MaxOutput(16<<20))
	if len(res.Stdout) != size+9 || res.StdoutTruncated {
		t.Errorf("16 MiB cap: kept %d bytes, truncated %v", len(res.Stdout), res.StdoutTruncated)
	}
}

func TestIntegrationConcurrentOnOneConnection(t *testing.T) {
	env := testbed.Load(t)
	t.Parallel()
	c := tbClient(t, env) // MaxSessions 10; the test bed's sshd allows 30
	const n, nap = 20, 300 * time.Millisecond
	cmd := remote.Cmd("sh", "-c", `echo "$SSH_CONNECTION"; sleep 0.3`)
	conns := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		wg.Go(func() {
			res, err := c.Run(ctxFor(t, 30*time.Second), env.Host(3), cmd)
			conns[i], errs[i] = res.Stdout, err
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	for i := range n {
		if errs[i] != nil {
			t.Errorf("run %d: %v", i, errs[i])
		}
		// SSH_CONNECTION names the client's source port: one port, one
		// TCP connection.
		if conns[i] != conns[0] || conns[i] == "" {
			t.Errorf("run %d came over %q, run 0 over %q", i, conns[i], conns[0])
		}
	}
	if s := c.Stats(); s.Dials != 1 {
		t.Errorf("stats %+v, want one dial", s)
	}
	// With 10 sessions at a time, 20 naps take at least two naps.
	if elapsed < 2*nap {
		t.Errorf("20 runs took %s: the session limit was not applied", elapsed)
	}
	t.Logf("20 concurrent runs on one connection: %s", elapsed)
}

func TestIntegrationOnLine(t *testing.T) {
	env := testbed.Load(t)
	t.Parallel()
	c := tbClient(t, env)
	var mu sync.Mutex
	var lines []string
	var firstAt time.Time
	start := time.Now()
	cmd := remote.Cmd("sh", "-c", "for i in 1 2 3; do echo out$i; echo err$i >&2; sleep 0.2; done; printf partial")
	res := mustRun(t, c, env.Host(2), cmd, OnLine(func(stream, line string) {
		mu.Lock()
		defer mu.Unlock()
		if firstAt.IsZero() {
			firstAt = time.Now()
		}
		lines = append(lines, stream+":"+line)
	}))
	var out, errs []string
	for _, l := range lines {
		if s, ok := strings.CutPrefix(l, "stdout:"); ok {
			out = append(out, s)
		} else {
			errs = append(errs, strings.TrimPrefix(l, "stderr:"))
		}
	}
	if strings.Join(out, ",") != "out1,out2,out3,partial" || strings.Join(errs, ",") != "err1,err2,err3" {
		t.Errorf("lines %q", lines)
	}
	// Lines arrive while the command runs, not at its end.
	if lag := firstAt.Sub(start); lag > res.Duration-300*time.Millisecond {
		t.Errorf("first line after %s of a %s run", lag, res.Duration)
	}
}

// remoteProcs counts processes matching pattern, asked on the host.
func remoteProcs(t *testing.T, c *Client, host, pattern string) int {
	t.Helper()
	res, err := c.Run(ctxFor(t, 10*time.Second), host, remote.Cmd("pgrep", "-f", pattern))
	var exit *ExitError
	if errors.As(err, &exit) && exit.Code == 1 {
		return 0
	}
	if err != nil {
		t.Fatalf("pgrep: %v", err)
	}
	return len(strings.Fields(res.Stdout))
}

func TestIntegrationCancelEndsRemoteCommand(t *testing.T) {
	env := testbed.Load(t)
	t.Parallel()
	c := tbClient(t, env)
	h1 := env.Host(1)
	marker := fmt.Sprintf("300.%d", rand.Uint32())
	// The sleep itself; and anything with it in its command line, the
	// shells running the command included. The bracket keeps the second
	// pattern from matching the shell that runs pgrep with it.
	sleepProc := "^sleep " + regexp.QuoteMeta(marker) + "$"
	anyProc := "[s]leep " + regexp.QuoteMeta(marker)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type outcome struct {
		res Result
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		res, err := c.Run(ctx, h1, remote.Cmd("sleep", marker).And("echo", "never"))
		done <- outcome{res, err}
	}()
	time.Sleep(500 * time.Millisecond)
	if n := remoteProcs(t, c, h1, sleepProc); n != 1 {
		t.Fatalf("%d sleep processes before cancel, want 1", n)
	}
	before := remoteProcs(t, c, h1, anyProc)
	cancelled := time.Now()
	cancel()
	var o outcome
	select {
	case o = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	took := time.Since(cancelled)
	if !errors.Is(o.err, context.Canceled) || strings.Contains(o.res.Stdout, "never") {
		t.Fatalf("Run after cancel: %+v, %v", o.res, o.err)
	}
	if took > DefaultTermGrace {
		t.Errorf("Run returned %s after cancel: the command ignored SIGTERM", took)
	}
	if n := remoteProcs(t, c, h1, anyProc); n != 0 {
		t.Fatalf("%d processes of the cancelled command still run on the host", n)
	}
	t.Logf("cancel: Run returned %s after cancel; the %d remote processes (shells and sleep) are gone", took, before)
}

func TestIntegrationConnectionKilled(t *testing.T) {
	env := testbed.Load(t)
	t.Parallel()
	c := tbClient(t, env)
	const hostN = 2
	host := env.Host(hostN)
	mustRun(t, c, host, remote.Cmd("true"))

	marker := fmt.Sprintf("5.%d", rand.Uint32())
	type outcome struct {
		res Result
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		res, err := c.Run(ctxFor(t, 30*time.Second), host, remote.Cmd("sleep", marker))
		done <- outcome{res, err}
	}()
	waitFor(t, 3*time.Second, func() bool { return len(procsWithArg(marker)) == 1 })

	// Walk up from our sleep to the sshd processes serving this
	// connection: the per-connection monitor is a child of the host's
	// listening sshd, the session process a child of the monitor.
	listener, err := env.SSHDPid(hostN)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(procsWithArg(marker)[0])
	for pid > 1 && parentPid(t, parentPid(t, pid)) != listener {
		pid = parentPid(t, pid)
	}
	if pid <= 1 {
		t.Fatalf("sleep %s is not under the sshd of h%d (pid %d)", marker, hostN, listener)
	}
	session, monitor := pid, parentPid(t, pid)
	children, _ := execOutput("pgrep", "-P", strconv.Itoa(listener))
	if !bytes.Contains(append([]byte("\n"), children...), []byte("\n"+strconv.Itoa(monitor)+"\n")) {
		t.Fatalf("monitor %d not among the children of sshd %d: %s", monitor, listener, children)
	}
	killed := time.Now()
	// The monitor first: it holds the connection. Either may be gone by
	// the time its signal is sent (killing one can end the other; seen
	// in CI: "kill: (PID): No such process"); at least one must be hit.
	hit := 0
	for _, p := range []int{monitor, session} {
		switch err := syscall.Kill(p, syscall.SIGKILL); {
		case err == nil:
			hit++
		case !errors.Is(err, syscall.ESRCH):
			t.Fatalf("kill -9 %d: %v", p, err)
		}
	}
	if hit == 0 {
		t.Fatalf("neither sshd process of the connection (monitor %d, session %d) was there to kill", monitor, session)
	}

	var o outcome
	select {
	case o = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its connection was killed")
	}
	var connErr *ConnError
	if !errors.As(o.err, &connErr) || !connErr.Started || !Retryable(o.err) {
		t.Fatalf("Run on a killed connection: %v, want a retryable *ConnError with Started", o.err)
	}
	if took := time.Since(killed); took > 3*time.Second {
		t.Errorf("Run noticed the dead connection only after %s", took)
	}
	t.Logf("killed connection: %v", o.err)

	res := mustRun(t, c, host, remote.Cmd("echo", "back"))
	if res.Stdout != "back\n" {
		t.Errorf("after reconnect: %q", res.Stdout)
	}
	if s := c.Stats(); s.Dials != 2 || s.Open != 1 {
		t.Errorf("stats %+v, want a second dial", s)
	}
}

func TestIntegrationHostileArguments(t *testing.T) {
	env := testbed.Load(t)
	t.Parallel()
	c := tbClient(t, env)
	args := []string{
		"$(id)", "`id`", "'", `"`, `it's "both"`, "a\nb", "line\n", "; echo pwned", "a && b", "x | y",
		"*", "?", "[a]", "{a,b}", "~", "~root", "$HOME", "${HOME}", `trailing\`, `\`, "\xff\xfe\x80", "",
		" spaced  out ", "\t", "-n", "--", "!!", "#comment", "A=b", "%s", `\n`, "é", "> /tmp/x", "<&0",
	}
	res := mustRun(t, c, env.Host(1), remote.Cmd(append([]string{"printf", `%s\000`}, args...)...))
	got := strings.Split(res.Stdout, "\x00")
	if len(got) != len(args)+1 || got[len(args)] != "" {
		t.Fatalf("got %d parts: %q", len(got), got)
	}
	for i, a := range args {
		if got[i] != a {
			t.Errorf("argument %q came back as %q", a, got[i])
		}
	}

	// A hostile directory name, through Command.Dir.
	dir := scratchDir(t, c, env.Host(1)) + "/it's a $(dir) `x`"
	mustRun(t, c, env.Host(1), remote.Cmd("mkdir", dir))
	if res := mustRun(t, c, env.Host(1), remote.Cmd("pwd").In(dir)); res.Stdout != dir+"\n" {
		t.Errorf("pwd in %q: %q", dir, res.Stdout)
	}
}
