package workflows

import (
	"errors"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/hoist-dev/hoist/activities"
	"github.com/hoist-dev/hoist/config"
	"github.com/hoist-dev/hoist/rollout"
)

// Issue 9: until the fleet workflow runs batches, a Deploy or Rollback
// whose spec has a rollout block (a valid one) is refused before any host,
// naming the block, instead of going host by host as if it were not there.
func TestRolloutBlockRefusedBeforeAnyHost(t *testing.T) {
	withRollout := func() config.Spec {
		s := spec("h1", "h2")
		s.Rollout = &config.Rollout{Batches: []rollout.Size{rollout.Count(1), rollout.Percent(100)}, ApproveAfter: []int{1},
			Preflight: true, ApprovalTimeout: 4 * time.Hour, OnFailure: config.OnFailureRollback}
		if err := s.Validate(); err != nil {
			t.Fatalf("the test's rollout block is not valid: %v", err)
		}
		return s
	}
	for _, in := range []DeployInput{
		{Spec: withRollout(), Version: "v2", Kind: KindDeploy, Bundle: []byte("b")},
		{Spec: withRollout(), Version: "v1", Kind: KindRollback},
	} {
		t.Run(in.Kind, func(t *testing.T) {
			f := newFleet("h1", "h2")
			f.seed("h1", "v1", "v1")
			f.seed("h2", "v1", "v1")
			r := deployWith(t, f, in)
			var app *temporal.ApplicationError
			if !errors.As(r.err, &app) || app.Type() != activities.ErrInvalid || !app.NonRetryable() {
				t.Fatalf("want a non-retryable %s error, got %v", activities.ErrInvalid, r.err)
			}
			if !strings.Contains(app.Message(), "rollout: "+rollout.NotRunYet) {
				t.Fatalf("message %q does not name the rollout block", app.Message())
			}
			if len(f.calls) != 0 {
				t.Fatalf("a host was touched: %v", f.calls)
			}
		})
	}
}
