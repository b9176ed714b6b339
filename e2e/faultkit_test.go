//go:build integration

package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/commands"
	"github.com/hoist-dev/hoist/remote"
)

// Tools of the fault-injection tests: workers a test owns and may kill,
// a CLI running in the background, and waits on the workflow's history.

// newFaultService is a service on a task queue of its own, so the test's
// workers are the only ones that run its deploys.
func newFaultService(t *testing.T, prefix string, port int, hosts ...int) *service {
	s := newService(t, prefix, port, hosts...)
	s.queue = fmt.Sprintf("%s-%s", suite.queue, prefix)
	return s
}

// ownWorker starts a worker on the service's queue; it is stopped when the
// test ends, and its log shown when the test failed.
func (s *service) ownWorker(tag string) *worker {
	s.t.Helper()
	logPath := filepath.Join(suite.tmp, s.name+"-"+tag+".log")
	w, err := startWorker(s.queue, logPath, nil)
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() {
		_ = w.stop()
		if s.t.Failed() {
			s.t.Logf("log of worker %s (%s), last lines:\n%s", tag, logPath, tail(logPath, 30))
		}
	})
	return w
}

// kill ends the worker with SIGKILL: no activity it holds gets to report.
func (w *worker) kill(t testing.TB) {
	t.Helper()
	if err := w.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("kill -9 of the worker: %v", err)
	}
	<-w.done
}

// waitHistory polls the deploy's history until cond holds.
func (s *service) waitHistory(what string, timeout time.Duration, cond func(*history) bool) *history {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		h := s.deployHistory()
		if cond(h) {
			return h
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("waited %s for %s; activities so far: %v", timeout, what, h.activities())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// scheduled waits until activity name has been scheduled n times.
func (s *service) scheduled(name string, n int) *history {
	s.t.Helper()
	return s.waitHistory(fmt.Sprintf("%s to be scheduled %d time(s)", name, n), 90*time.Second,
		func(h *history) bool { return h.count(name) >= n })
}

// waitClosed waits until the deploy workflow has closed.
func (s *service) waitClosed(timeout time.Duration) *history {
	s.t.Helper()
	return s.waitHistory("the deploy to end", timeout, func(h *history) bool { return !h.running() })
}

// running reports whether the workflow has not closed yet.
func (h *history) running() bool {
	switch h.closed() {
	case "WORKFLOW_EXECUTION_COMPLETED", "WORKFLOW_EXECUTION_FAILED", "WORKFLOW_EXECUTION_CANCELED",
		"WORKFLOW_EXECUTION_TERMINATED", "WORKFLOW_EXECUTION_TIMED_OUT", "WORKFLOW_EXECUTION_CONTINUED_AS_NEW":
		return false
	}
	return true
}

// attempts is the attempt on which the last completed activity name
// completed: 1 when it never had to be retried.
func (h *history) attempts(name string) int {
	names := map[string]string{}
	last := 0
	for _, e := range h.Events {
		if a := e.ActivityTaskScheduledEventAttributes; a != nil {
			names[e.EventID] = a.ActivityType.Name
		}
		if a := e.ActivityTaskStartedEventAttributes; a != nil && names[a.ScheduledEventID] == name {
			last = a.Attempt
		}
	}
	return last
}

// count is how many times activity name was scheduled.
func (h *history) count(name string) int {
	n := 0
	for _, a := range h.activities() {
		if a == name {
			n++
		}
	}
	return n
}

// completed is how many times activity name completed.
func (h *history) completed(name string) int { return len(h.activityResults(name)) }

// wantScheduledOnce checks that each step was scheduled once: the step a
// dead worker held was retried within its scheduling, no step ran again as
// a new one.
func (h *history) wantScheduled(t testing.TB, want map[string]int) {
	t.Helper()
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, a := range keys {
		if got := h.count(a); got != want[a] {
			t.Errorf("%s scheduled %d times, want %d (activities %v)", a, got, want[a], h.activities())
		}
	}
}

// wantTidy checks that remote_base holds only current and release folders:
// no temporary upload, no temporary link, on every host of the service.
func (s *service) wantTidy() {
	s.t.Helper()
	for _, h := range s.hosts {
		out := ssh(s.t, h, "ls -A1 "+remote.Quote(s.base))
		for _, name := range strings.Fields(out) {
			if name != commands.CurrentLink && !hoistOwn(name) && !(commands.IsVersion(name) && !strings.HasPrefix(name, ".")) {
				s.t.Fatalf("h%d: %s holds %q, a leftover of an interrupted step:\n%s", h, s.base, name, out)
			}
		}
	}
}

// hoistOwn: an entry of remote_base hoist keeps on purpose, not a
// leftover: the service's host lock (never removed: a removed lock file
// could be locked twice) and its Docker client config.
func hoistOwn(name string) bool { return name == ".hoist-lock" || name == commands.DockerConfigDir }

// proc is a bin/hoist running in the background, as a user's terminal or
// a CI job runs it.
type proc struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	errb bytes.Buffer
	done chan struct{}
	code int
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// start runs bin/hoist args in the background with the service's queue.
func (s *service) start(args ...string) *proc {
	s.t.Helper()
	full := append([]string{"--task-queue", s.queue}, args...)
	cmd := exec.Command(suite.bin, full...)
	cmd.Dir = s.dir
	cmd.Env = temporalEnv()
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	cmd.Stdout = lockedWriter{&p.mu, &p.out}
	cmd.Stderr = lockedWriter{&p.mu, &p.errb}
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("starting hoist %s: %v", strings.Join(full, " "), err)
	}
	go func() {
		err := cmd.Wait()
		p.code = cmd.ProcessState.ExitCode()
		if err != nil && p.code == 0 {
			p.code = -1
		}
		close(p.done)
	}()
	s.t.Cleanup(func() { _ = cmd.Process.Kill(); <-p.done })
	return p
}

// wait waits for the process to end and returns what it showed.
func (p *proc) wait(t testing.TB, timeout time.Duration) result {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		_ = p.cmd.Process.Kill()
		<-p.done
		t.Fatalf("hoist %s did not end within %s\n%s", strings.Join(p.cmd.Args[1:], " "), timeout, p.result())
	}
	r := p.result()
	t.Logf("%s", r)
	return r
}

func (p *proc) result() result {
	p.mu.Lock()
	defer p.mu.Unlock()
	return result{args: p.cmd.Args[1:], code: p.code, stdout: p.out.String(), stderr: p.errb.String()}
}

// pendingWorker is the pid of the worker that holds activity name of the
// running deploy, from the identity it polled with ("PID@HOST@"), or 0.
func (s *service) pendingWorker(name string) int {
	s.t.Helper()
	out, err := temporal(s.t, "workflow", "describe", "--workflow-id", "deploy/"+s.name, "--output", "json")
	if err != nil {
		s.t.Fatal(err)
	}
	var d struct {
		PendingActivities []struct {
			ActivityType       struct{ Name string }
			State              string
			LastWorkerIdentity string
		}
	}
	if err := json.Unmarshal(out, &d); err != nil {
		s.t.Fatalf("temporal workflow describe: %v\n%s", err, out)
	}
	for _, a := range d.PendingActivities {
		if a.ActivityType.Name == name && strings.HasSuffix(a.State, "STARTED") {
			pid, _ := strconv.Atoi(strings.SplitN(a.LastWorkerIdentity, "@", 2)[0])
			return pid
		}
	}
	return 0
}

// ballast writes n random bytes into the release files: an upload that
// takes seconds on a slow link.
func (s *service) ballast(n int) []byte {
	s.t.Helper()
	b := make([]byte, n)
	f, err := os.Open("/dev/urandom")
	if err != nil {
		s.t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Read(b); err != nil {
		s.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.dir, "files", "ballast.bin"), b, 0o644); err != nil {
		s.t.Fatal(err)
	}
	return b
}
