package workflows

import (
	"fmt"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/hoist-dev/hoist/activities"
	"github.com/hoist-dev/hoist/config"
)

// ReleaseBundleWorkflowName is the workflow that holds a release bundle.
const ReleaseBundleWorkflowName = "ReleaseBundle"

// BundleHold is the input of ReleaseBundle. Its bundle field has the
// same JSON name as DeployInput's, so bundlestore reads either.
type BundleHold struct {
	Bundle      []byte `json:"bundle"`
	Service     string `json:"service"`
	Environment string `json:"environment,omitempty"`
	Version     string `json:"version"`
}

// BundleWorkflowID is the ID of the workflow holding the bundle with
// this sha256 digest: content-addressed, so the same files deployed again
// land under the same ID (each deploy starts its own run).
func BundleWorkflowID(digest string) string { return "hoist-bundle/" + digest }

// ReleaseBundle holds a deploy's release bundle in its input and does
// nothing else: hoist deploy starts it first and hands the deploy only a
// reference (DeployInput.BundleRef). The bundle's bytes thus enter
// Temporal's history once, here, and never the deploy's history, whose
// size then no longer grows with the bundle (Temporal warns at 10 MB of
// history and terminates at 50 MB). Workers read the bytes from this
// run's start event (bundlestore). The run completes at once, and stays
// readable for the namespace's retention period, which must outlast the
// deploy (see README: an approval wait longer than the retention loses
// the bundle, and the deploy fails on its next sync saying so).
func ReleaseBundle(ctx workflow.Context, in BundleHold) error {
	if len(in.Bundle) == 0 || len(in.Bundle) > config.MaxBundleBytes {
		return temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("invalid release bundle: %d bytes, want 1 to %d", len(in.Bundle), config.MaxBundleBytes), activities.ErrInvalid, nil)
	}
	return nil
}
