//go:build integration

package worker_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/hoist-dev/hoist/activities"
	"github.com/hoist-dev/hoist/internal/testbed"
	"github.com/hoist-dev/hoist/worker"
)

// A Service is ready (what /healthz says 200 for) only between its start
// and its stop, against the real Temporal.
func TestServiceReadyWhilePolling(t *testing.T) {
	env := testbed.Load(t)
	cl, err := client.Dial(client.Options{HostPort: env.Temporal})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	s := worker.NewService(cl, fmt.Sprintf("svc-ready-%d", time.Now().UnixNano()), &activities.Activities{})
	ready := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		return s.Ready(ctx)
	}
	if err := ready(); err == nil || !strings.HasPrefix(err.Error(), "starting") {
		t.Fatalf("before Run: %v, want starting", err)
	}
	stop := make(chan any)
	done := make(chan error, 1)
	go func() { done <- s.Run(stop) }()
	deadline := time.Now().Add(20 * time.Second)
	for ready() != nil {
		if time.Now().After(deadline) {
			t.Fatalf("not ready 20 s after Run: %v", ready())
		}
		time.Sleep(50 * time.Millisecond)
	}
	close(stop)
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if err := ready(); err == nil || err.Error() != "stopped" {
		t.Fatalf("after Run: %v, want stopped", err)
	}
}
