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
// about a minute of backoff (1+2+4+8 s, then 10 s apart), enough to ride
// out an sshd restart or a reboot. Every step gets the same budget: a host
// does not come back sooner because the step was a pull. A command that
// ran and failed is not retried this long: activities make it
// non-retryable from its second attempt.
func retries(attempts int32) *temporal.RetryPolicy {
	return &temporal.RetryPolicy{
		InitialInterval:        time.Second,
		BackoffCoefficient:     2,
		MaximumInterval:        10 * time.Second,
		MaximumAttempts:        attempts,
		NonRetryableErrorTypes: permanent,
	}
}

// heartbeatTimeout is how soon a step held by a worker that died is
// retried elsewhere. Long steps heartbeat every second and the worker
// sends each within a second (worker.New sets MaxHeartbeatThrottleInterval),
// so five heartbeats in a row can be lost before a live attempt is given
// up. Even then the attempts cannot interleave on the host: every
// mutating command holds the service's lock there (commands.Layout.Locked),
// and the attempt given up is cancelled at its next heartbeat.
const heartbeatTimeout = 6 * time.Second

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
		HeartbeatTimeout:    heartbeatTimeout,
		RetryPolicy:         retries(10),
	}
	// composeStep: pull, up, down — may take minutes, heartbeats.
	composeStep = workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Minute,
		HeartbeatTimeout:    heartbeatTimeout,
		RetryPolicy:         retries(10),
	}
)

// notifyStep: one notification. The heartbeat is its mark of having
// started to send (activities.Notify): a worker that dies mid-send is
// found within the heartbeat timeout, and the retry does not send twice.
var notifyStep = workflow.ActivityOptions{
	StartToCloseTimeout: 30 * time.Second,
	HeartbeatTimeout:    15 * time.Second,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 30 * time.Second, MaximumAttempts: 6,
		NonRetryableErrorTypes: []string{activities.ErrInvalid, activities.ErrNotify},
	},
}

// hookStep: a hook, a one-off container that may run a long migration;
// heartbeats. Retried only when the host could not be reached
// (activities.RunHook makes a hook that ran and failed permanent).
var hookStep = workflow.ActivityOptions{
	StartToCloseTimeout: time.Hour,
	HeartbeatTimeout:    heartbeatTimeout,
	RetryPolicy:         retries(10),
}

// waitStep bounds the running check by its window.
func waitStep(window time.Duration) workflow.ActivityOptions {
	return workflow.ActivityOptions{
		StartToCloseTimeout: window + 2*time.Minute,
		HeartbeatTimeout:    heartbeatTimeout,
		RetryPolicy:         retries(10),
	}
}
