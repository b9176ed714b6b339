package worker

import (
	"testing"
	"time"
)

// A stopping worker lets running steps finish (issue 8 §5): the SDK's
// default, 0, cancels them at once. stop_integration_test.go shows the
// effect against a real server.
func TestOptionsStopGracefully(t *testing.T) {
	o := Options()
	if o.WorkerStopTimeout != StopTimeout || StopTimeout < time.Minute {
		t.Fatalf("WorkerStopTimeout %s (StopTimeout %s): a stop would cut a compose up off", o.WorkerStopTimeout, StopTimeout)
	}
}
