// Package fakehost is a host for tests that run hoist's real workflow and
// activities against the real Temporal server but need no SSH: v1 is its
// current, good release, and what a compose up of v2 does is the test's
// choice (take a while to stop after a cancel, run for a set time, …).
package fakehost

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/hoist-dev/hoist/activities"
	"github.com/hoist-dev/hoist/config"
	"github.com/hoist-dev/hoist/internal/testbed"
	"github.com/hoist-dev/hoist/remote"
	"github.com/hoist-dev/hoist/sshexec"
	"github.com/hoist-dev/hoist/worker"
	"github.com/hoist-dev/hoist/workflows"
)

// Host answers the activities' commands. Up runs for v2's compose up, with
// Record to note what the host saw; its error is the command's.
type Host struct {
	Up        func(ctx context.Context) error
	UpStarted chan struct{} // closed when v2's up starts
	mu        sync.Mutex
	log       []string
	once      sync.Once
}

// New is a host whose compose up of v2 is up.
func New(up func(ctx context.Context) error) *Host {
	return &Host{Up: up, UpStarted: make(chan struct{})}
}

// Record notes an event on the host.
func (h *Host) Record(s string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.log = append(h.log, s)
}

// Log is what the host saw, in order, comma-separated.
func (h *Host) Log() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return strings.Join(h.log, ", ")
}

// Run implements activities.Runner.
func (h *Host) Run(ctx context.Context, _ string, cmd remote.Command, _ ...sshexec.RunOption) (sshexec.Result, error) {
	line := cmd.String()
	switch {
	case strings.Contains(line, "find . -mindepth 1"):
		return sshexec.Result{Stdout: "d\t1\t\tv1\x00f\t2\t\tv1/.hoist-good\x00f\t2\t\tv1/.hoist-current-at\x00l\t2\tv1\tcurrent\x00"}, nil
	case strings.Contains(line, " up --detach") && strings.Contains(line, "/v2 &&"):
		h.Record("up v2 started")
		h.once.Do(func() { close(h.UpStarted) })
		if err := h.Up(ctx); err != nil {
			return sshexec.Result{}, err
		}
	case strings.Contains(line, " down "):
		h.Record("down")
	}
	return sshexec.Result{Stdout: "2026-12-01T00:00:00.000000000Z\n"}, nil
}

// Upload implements activities.Runner: every upload is already there.
func (h *Host) Upload(context.Context, string, string, string) (sshexec.UploadResult, error) {
	return sshexec.UploadResult{}, nil
}

// Deploy is a deploy of v2 to h, run by a worker of its own on a fresh
// task queue of the test bed's Temporal.
type Deploy struct {
	Client client.Client
	Worker interface{ Stop() }
	Run    client.WorkflowRun
}

// StartDeploy starts the worker and the deploy, and waits until v2's up
// has started on h. The worker and client are closed when the test ends.
func StartDeploy(t testing.TB, service string, h *Host) *Deploy {
	t.Helper()
	env := testbed.Load(t)
	cl, err := client.Dial(client.Options{HostPort: env.Temporal})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	queue := fmt.Sprintf("%s-%d", service, time.Now().UnixNano())
	w := worker.New(cl, queue, &activities.Activities{SSH: h, HeartbeatEvery: 200 * time.Millisecond})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/compose.yaml", []byte("services: {web: {image: x}}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bundle, err := config.Bundle(dir)
	if err != nil {
		t.Fatal(err)
	}
	spec := config.Spec{Service: service, RemoteBase: "/srv/" + service, ComposeFile: "compose.yaml",
		Hosts: []config.Host{{Address: "h1"}}, Registry: config.Registry{Type: config.RegistryNone},
		Wait: config.Wait{Retries: 2, Delay: time.Second}, Health: config.Health{Unhealthy: config.HealthWarn}, KeepReleases: 3}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	run, err := cl.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: queue, TaskQueue: queue}, workflows.DeployWorkflowName,
		workflows.DeployInput{Spec: spec, Version: "v2", Bundle: bundle})
	if err != nil {
		t.Fatal(err)
	}
	// A deploy left without a worker is ended with the test.
	t.Cleanup(func() { _ = cl.TerminateWorkflow(context.Background(), run.GetID(), run.GetRunID(), "test over") })
	select {
	case <-h.UpStarted:
	case <-ctx.Done():
		t.Fatal("up never started")
	}
	return &Deploy{Client: cl, Worker: w, Run: run}
}
