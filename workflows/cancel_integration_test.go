//go:build integration

package workflows_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/hoist-dev/hoist/activities"
	"github.com/hoist-dev/hoist/config"
	"github.com/hoist-dev/hoist/internal/testbed"
	"github.com/hoist-dev/hoist/remote"
	"github.com/hoist-dev/hoist/sshexec"
	"github.com/hoist-dev/hoist/worker"
	"github.com/hoist-dev/hoist/workflows"
)

// slowHost answers the real activities' commands like a host where v1 is
// current and good, and where compose up, once cancelled, takes a moment
// to stop: what a real compose up does when SIGTERM reaches it.
type slowHost struct {
	mu        sync.Mutex
	log       []string
	upStarted chan struct{}
	once      sync.Once
}

func (h *slowHost) record(s string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.log = append(h.log, s)
}

func (h *slowHost) Run(ctx context.Context, _ string, cmd remote.Command, _ ...sshexec.RunOption) (sshexec.Result, error) {
	line := cmd.String()
	switch {
	case strings.Contains(line, "find . -mindepth 1"):
		return sshexec.Result{Stdout: "d\t1\t\tv1\x00f\t2\t\tv1/.hoist-good\x00f\t2\t\tv1/.hoist-current-at\x00l\t2\tv1\tcurrent\x00"}, nil
	case strings.Contains(line, " up --detach") && strings.Contains(line, "/v2 &&"):
		h.record("up v2 started")
		h.once.Do(func() { close(h.upStarted) })
		<-ctx.Done()
		time.Sleep(500 * time.Millisecond) // compose stopping what it started
		h.record("up v2 stopped")
		return sshexec.Result{}, ctx.Err()
	case strings.Contains(line, " down "):
		h.record("down")
	}
	return sshexec.Result{Stdout: "2026-12-01T00:00:00.000000000Z\n"}, nil
}

func (h *slowHost) Upload(context.Context, string, string, string) (sshexec.UploadResult, error) {
	return sshexec.UploadResult{}, nil
}

// Issue 8 §5: on cancel, compensation must start only after the step it
// undoes has stopped. Real Temporal, real activities, a host whose up
// takes half a second to stop: the rollback's down must come after it.
// (The SDK's test environment does not model WaitForCancellation.)
func TestCancelWaitsForTheStepItUndoes(t *testing.T) {
	env := testbed.Load(t)
	cl, err := client.Dial(client.Options{HostPort: env.Temporal})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	host := &slowHost{upStarted: make(chan struct{})}
	queue := fmt.Sprintf("cancel-wait-%d", time.Now().UnixNano())
	w := worker.New(cl, queue, &activities.Activities{SSH: host, HeartbeatEvery: 200 * time.Millisecond})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	spec := config.Spec{Service: "cancelwait", RemoteBase: "/srv/cancelwait", ComposeFile: "compose.yaml",
		Hosts: []config.Host{{Address: "h1"}}, Wait: config.Wait{Retries: 2, Delay: time.Second},
		Health: config.Health{Unhealthy: config.HealthWarn}, KeepReleases: 3}
	bundle, err := config.Bundle(writeRelease(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	run, err := cl.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: queue, TaskQueue: queue}, workflows.DeployWorkflowName,
		workflows.DeployInput{Spec: spec, Version: "v2", Bundle: bundle})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-host.upStarted:
	case <-ctx.Done():
		t.Fatal("up never started")
	}
	if err := cl.CancelWorkflow(ctx, run.GetID(), run.GetRunID()); err != nil {
		t.Fatal(err)
	}
	err = run.Get(ctx, nil)
	var canceled *temporal.CanceledError
	if !errors.As(err, &canceled) {
		t.Fatalf("want the deploy cancelled, got %v", err)
	}
	host.mu.Lock()
	got := strings.Join(host.log, ", ")
	host.mu.Unlock()
	stopped, down := strings.Index(got, "up v2 stopped"), strings.Index(got, "down")
	if stopped < 0 || down < 0 || down < stopped {
		t.Fatalf("host saw: %s; the rollback's down must come after the cancelled up stopped", got)
	}
}

func writeRelease(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := writeFile(dir+"/compose.yaml", "services: {web: {image: x}}\n"); err != nil {
		t.Fatal(err)
	}
	return dir
}

func writeFile(p, s string) error { return os.WriteFile(p, []byte(s), 0o644) }
