//go:build integration

package e2e

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

const (
	portKillWorkerWait = 18098
	portKillWorkerUp   = 18099
)

// A deploy survives the death of its worker: kill -9 the only worker on the
// queue at a step of the flow, start a new one, and the deploy finishes
// exactly as if nothing had happened — one release folder, current right,
// the new version serving — with no step's effect doubled.
func TestWorkerKilledDuringWaitResumes(t *testing.T) {
	t.Parallel()
	testWorkerKilledAt(t, "killwait", portKillWorkerWait, "WaitRunning")
}

func TestWorkerKilledRightAfterUpResumes(t *testing.T) {
	t.Parallel()
	testWorkerKilledAt(t, "killup", portKillWorkerUp, "StartRelease")
}

func testWorkerKilledAt(t *testing.T, name string, port int, step string) {
	s := newService(t, name, port)
	s.queue = fmt.Sprintf("%s-%s", suite.queue, name)
	log1 := filepath.Join(suite.tmp, name+"-worker1.log")
	w1, err := startWorker(s.queue, log1, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w1.stop() })
	s.mustDeploy("v1", image("v1"))

	r := s.deploy("v2", app{image: suite.env.Image("v2"), health: true}, "--detach")
	r.want(t, 0)
	// Kill the worker once the step is scheduled: it dies holding it.
	deadline := time.Now().Add(60 * time.Second)
	for !slices.Contains(s.deployHistory().activities(), step) {
		if time.Now().After(deadline) {
			t.Fatalf("%s was never scheduled: %v", step, s.deployHistory().activities())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := w1.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-w1.done
	killed := time.Now()

	log2 := filepath.Join(suite.tmp, name+"-worker2.log")
	w2, err := startWorker(s.queue, log2, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w2.stop() })

	var h *history
	for {
		h = s.deployHistory()
		if c := h.closed(); strings.HasPrefix(c, "WORKFLOW_EXECUTION_") && c != "WORKFLOW_EXECUTION_STARTED" {
			break
		}
		if time.Since(killed) > 2*time.Minute {
			t.Fatalf("deploy not finished 2 minutes after the worker died: %v", h.activities())
		}
		time.Sleep(200 * time.Millisecond)
	}
	recovered := time.Since(killed)
	if h.closed() != "WORKFLOW_EXECUTION_COMPLETED" {
		t.Fatalf("deploy after the worker died ended %s (%s)", h.closed(), h.failureType())
	}
	s.wantState("v2", suite.env.Image("v2"), "v2", "v1")
	s.wantServes("v2")
	// The step the dead worker held was retried on the new worker within
	// its one scheduling; no step was scheduled again.
	counts := map[string]int{}
	for _, a := range h.activities() {
		counts[a]++
	}
	for _, a := range []string{"SyncRelease", "SwitchCurrent", "PullImages", "StartRelease"} {
		if counts[a] != 1 {
			t.Errorf("%s scheduled %d times, want 1 (activities %v)", a, counts[a], h.activities())
		}
	}
	t.Logf("worker killed at %s: the deploy completed %s later on a new worker", step, recovered.Round(100*time.Millisecond))
}

const portCancel = 18100

// hoist cancel during the wait: compensation runs, the previous release
// serves again, and cancel exits 1 saying so.
func TestCancelRollsBack(t *testing.T) {
	t.Parallel()
	s := newService(t, "cancel", portCancel)
	s.wait = "{retries: 20, delay: 3s}"
	s.mustDeploy("v1", image("v1"))
	bad := image("v2")
	bad.unhealthy = true // running but never healthy: the wait lasts its window
	s.deploy("v2", bad, "--detach").want(t, 0)
	deadline := time.Now().Add(60 * time.Second)
	for !slices.Contains(s.deployHistory().activities(), "WaitRunning") {
		if time.Now().After(deadline) {
			t.Fatalf("the deploy never reached the wait: %v", s.deployHistory().activities())
		}
		time.Sleep(100 * time.Millisecond)
	}
	r := s.hoist("cancel", "--config", s.hoistYML())
	r.want(t, 1, "❌ Deployment of version v2 was cancelled. Rolled back to v1.")
	if c := s.deployHistory().closed(); c != "WORKFLOW_EXECUTION_CANCELED" {
		t.Fatalf("deploy closed with %s, want WORKFLOW_EXECUTION_CANCELED", c)
	}
	s.wantState("v1", suite.env.Image("v1"), "v1", "v2 (failed)")
	s.wantServes("v1")
	// Nothing left to cancel.
	r = s.hoist("cancel", "--config", s.hoistYML())
	r.want(t, 1)
	wantContains(t, "second cancel", r.stderr, "no deploy or rollback of "+s.name+" is running")
}
