//go:build integration

package worker_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/hoist-dev/hoist/activities"
	"github.com/hoist-dev/hoist/config"
	"github.com/hoist-dev/hoist/internal/testbed"
	"github.com/hoist-dev/hoist/remote"
	"github.com/hoist-dev/hoist/sshexec"
	"github.com/hoist-dev/hoist/worker"
	"github.com/hoist-dev/hoist/workflows"
)

// upHost answers the real activities' commands like a host where v1 is
// current and good, and where compose up takes two seconds; an up whose
// context is cancelled first is cut off, as the SSH layer cuts a real one.
type upHost struct {
	mu        sync.Mutex
	log       []string
	upStarted chan struct{}
	once      sync.Once
}

func (h *upHost) record(s string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.log = append(h.log, s)
}

func (h *upHost) Run(ctx context.Context, _ string, cmd remote.Command, _ ...sshexec.RunOption) (sshexec.Result, error) {
	line := cmd.String()
	switch {
	case strings.Contains(line, "find . -mindepth 1"):
		return sshexec.Result{Stdout: "d\t1\t\tv1\x00f\t2\t\tv1/.hoist-good\x00f\t2\t\tv1/.hoist-current-at\x00l\t2\tv1\tcurrent\x00"}, nil
	case strings.Contains(line, " up --detach") && strings.Contains(line, "/v2 &&"):
		h.record("up started")
		h.once.Do(func() { close(h.upStarted) })
		select {
		case <-time.After(2 * time.Second):
			h.record("up finished")
		case <-ctx.Done():
			h.record("up cut off")
			return sshexec.Result{}, ctx.Err()
		}
	}
	return sshexec.Result{Stdout: "2026-12-01T00:00:00.000000000Z\n"}, nil
}

func (h *upHost) Upload(context.Context, string, string, string) (sshexec.UploadResult, error) {
	return sshexec.UploadResult{}, nil
}

// Issue 8 §5: stopping a worker (systemd's SIGTERM, Ctrl-C) while it runs
// a compose up lets the up finish and reports it, instead of cutting it
// off for another worker to start over. Real Temporal, real activities.
func TestStopLetsTheRunningStepFinish(t *testing.T) {
	env := testbed.Load(t)
	cl, err := client.Dial(client.Options{HostPort: env.Temporal})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	host := &upHost{upStarted: make(chan struct{})}
	queue := fmt.Sprintf("worker-stop-%d", time.Now().UnixNano())
	w := worker.New(cl, queue, &activities.Activities{SSH: host, HeartbeatEvery: 200 * time.Millisecond})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	if err := os.WriteFile(dir+"/compose.yaml", []byte("services: {web: {image: x}}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bundle, err := config.Bundle(dir)
	if err != nil {
		t.Fatal(err)
	}
	spec := config.Spec{Service: "workerstop", RemoteBase: "/srv/workerstop", ComposeFile: "compose.yaml",
		Hosts: []config.Host{{Address: "h1"}}, Registry: config.Registry{Type: config.RegistryNone},
		Wait: config.Wait{Retries: 2, Delay: time.Second}, Health: config.Health{Unhealthy: config.HealthWarn}, KeepReleases: 3}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	run, err := cl.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: queue, TaskQueue: queue}, workflows.DeployWorkflowName,
		workflows.DeployInput{Spec: spec, Version: "v2", Bundle: bundle})
	if err != nil {
		t.Fatal(err)
	}
	// No worker is left to finish the deploy: end it when the test does.
	defer cl.TerminateWorkflow(context.Background(), run.GetID(), run.GetRunID(), "test over")
	select {
	case <-host.upStarted:
	case <-ctx.Done():
		t.Fatal("up never started")
	}
	w.Stop() // what SIGTERM leads to in hoist worker

	host.mu.Lock()
	got := strings.Join(host.log, ", ")
	host.mu.Unlock()
	if got != "up started, up finished" {
		t.Fatalf("host saw: %s; a stopping worker must let the running up finish", got)
	}
	// And the up's success reached the history: no other worker runs it again.
	completed := false
	scheduled := map[int64]string{}
	it := cl.GetWorkflowHistory(ctx, run.GetID(), run.GetRunID(), false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		if a := ev.GetActivityTaskScheduledEventAttributes(); a != nil {
			scheduled[ev.GetEventId()] = a.GetActivityType().GetName()
		}
		if a := ev.GetActivityTaskCompletedEventAttributes(); a != nil && scheduled[a.GetScheduledEventId()] == "StartRelease" {
			completed = true
		}
	}
	if !completed {
		t.Fatal("the workflow history has no completed StartRelease: the up's result was lost with the worker")
	}
}
