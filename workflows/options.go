package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/hoist-dev/hoist/activities"
)

// permanent errors: no retry can fix them, a person must look.
var permanent = []string{
	activities.ErrHostKey, activities.ErrAuth, activities.ErrConflict,
	activities.ErrInvalid, activities.ErrMissing,
}

// retries is the budget for a step whose host may be briefly unreachable:
// about a minute of backoff, enough to ride out an sshd restart.
func retries(attempts int32) *temporal.RetryPolicy {
	return &temporal.RetryPolicy{
		InitialInterval:        time.Second,
		BackoffCoefficient:     2,
		MaximumInterval:        10 * time.Second,
		MaximumAttempts:        attempts,
		NonRetryableErrorTypes: permanent,
	}
}

// Activity option presets, one per kind of step.
var (
	// quickStep: a short command (inspect, switch, mark, login, prune).
	quickStep = workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         retries(10),
	}
	// transferStep: uploading the release; heartbeats while it runs.
	transferStep = workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Minute,
		HeartbeatTimeout:    10 * time.Second,
		RetryPolicy:         retries(10),
	}
	// composeStep: pull, up, down — may take minutes, heartbeats; a
	// command that keeps failing is not retried forever.
	composeStep = workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Minute,
		HeartbeatTimeout:    10 * time.Second,
		RetryPolicy:         retries(4),
	}
)

// waitStep bounds the running check by its window.
func waitStep(window time.Duration) workflow.ActivityOptions {
	return workflow.ActivityOptions{
		StartToCloseTimeout: window + 2*time.Minute,
		HeartbeatTimeout:    10 * time.Second,
		RetryPolicy:         retries(4),
	}
}
