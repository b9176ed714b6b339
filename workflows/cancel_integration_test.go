//go:build integration

package workflows_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/hoist-dev/hoist/internal/fakehost"
)

// Issue 8 §5: on cancel, compensation must start only after the step it
// undoes has stopped. Real Temporal, real activities, a host whose up
// takes half a second to stop once cancelled (as compose does when
// SIGTERM reaches it): the rollback's down must come after it. (The SDK's
// test environment does not model WaitForCancellation.)
func TestCancelWaitsForTheStepItUndoes(t *testing.T) {
	var host *fakehost.Host
	host = fakehost.New(func(ctx context.Context) error {
		<-ctx.Done()
		time.Sleep(500 * time.Millisecond) // compose stopping what it started
		host.Record("up v2 stopped")
		return ctx.Err()
	})
	d := fakehost.StartDeploy(t, "cancelwait", host)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := d.Client.CancelWorkflow(ctx, d.Run.GetID(), d.Run.GetRunID()); err != nil {
		t.Fatal(err)
	}
	err := d.Run.Get(ctx, nil)
	var canceled *temporal.CanceledError
	if !errors.As(err, &canceled) {
		t.Fatalf("want the deploy cancelled, got %v", err)
	}
	got := host.Log()
	stopped, down := strings.Index(got, "up v2 stopped"), strings.Index(got, "down")
	if stopped < 0 || down < 0 || down < stopped {
		t.Fatalf("host saw: %s; the rollback's down must come after the cancelled up stopped", got)
	}
}
