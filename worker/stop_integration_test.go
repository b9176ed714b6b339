//go:build integration

package worker_test

import (
	"context"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"

	"github.com/hoist-dev/hoist/internal/fakehost"
)

// Issue 8 §5: stopping a worker (systemd's SIGTERM, Ctrl-C) while it runs
// a compose up lets the up finish and reports it, instead of cutting it
// off for another worker to start over. Real Temporal, real activities,
// a host whose compose up takes two seconds. e2e's
// TestWorkerSIGTERMDuringComposeUp does it end to end: a SIGTERM to
// `hoist worker` during a real compose up on a test bed host.
func TestStopLetsTheRunningStepFinish(t *testing.T) {
	var host *fakehost.Host
	host = fakehost.New(func(ctx context.Context) error {
		select {
		case <-time.After(2 * time.Second):
			host.Record("up v2 finished")
			return nil
		case <-ctx.Done():
			host.Record("up v2 cut off")
			return ctx.Err()
		}
	})
	d := fakehost.StartDeploy(t, "workerstop", host)
	d.Worker.Stop() // what SIGTERM leads to in hoist worker

	if got := host.Log(); got != "up v2 started, up v2 finished" {
		t.Fatalf("host saw: %s; a stopping worker must let the running up finish", got)
	}
	cl, run := d.Client, d.Run
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
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
