package activities

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"go.temporal.io/sdk/temporal"
)

// BundleRef names a release bundle without carrying it. A rollout's
// bundle enters Temporal's history once, in the deploy workflow's input;
// each host's sync names it by digest and by that workflow, and the
// worker fetches the bytes from its local cache, or else from that
// workflow's first history event, checking the digest either way. So a
// 1 MiB bundle costs 1 MiB of history for the whole fleet, not per host
// (Temporal warns at 10 MB of history and terminates at 50 MB), and any
// worker, on any machine, can sync any host.
type BundleRef struct {
	Digest   string `json:"digest"` // sha256 of the bundle, hex
	Size     int    `json:"size"`
	Workflow string `json:"workflow"` // the workflow whose input holds the bundle
	Run      string `json:"run"`
}

// RefOf is the reference to bundle held by workflow id's run.
func RefOf(bundle []byte, id, run string) BundleRef {
	sum := sha256.Sum256(bundle)
	return BundleRef{Digest: hex.EncodeToString(sum[:]), Size: len(bundle), Workflow: id, Run: run}
}

// Check says whether b is the bundle ref names.
func (ref BundleRef) Check(b []byte) error {
	sum := sha256.Sum256(b)
	if got := hex.EncodeToString(sum[:]); got != ref.Digest || len(b) != ref.Size {
		return fmt.Errorf("bundle of workflow %s has digest %s (%d bytes), want %s (%d bytes)", ref.Workflow, got, len(b), ref.Digest, ref.Size)
	}
	return nil
}

// ErrBundleGone: the workflow holding a referenced bundle is gone from
// Temporal; no retry brings it back.
var ErrBundleGone = errors.New("the release bundle is gone")

// IsZero: no reference.
func (ref BundleRef) IsZero() bool { return ref.Digest == "" }

// Bundles resolves bundle references; bundlestore.Store is the real one.
type Bundles interface {
	Bundle(ctx context.Context, ref BundleRef) ([]byte, error)
}

// bundleOf is the sync's bundle: carried in the input (a host-by-host
// deploy), or by reference (a rollout).
func (a *Activities) bundleOf(ctx context.Context, in SyncInput) ([]byte, error) {
	if in.Ref.IsZero() {
		return in.Bundle, nil
	}
	if a.Bundles == nil {
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("host %s, step sync: this worker cannot fetch bundles by reference (no bundle store): upgrade or restart it with hoist worker", in.Target.Label()), ErrInvalid, nil)
	}
	b, err := a.Bundles.Bundle(ctx, in.Ref)
	if errors.Is(err, ErrBundleGone) {
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("host %s, step sync: fetching the release bundle: %v", in.Target.Label(), err), ErrMissing, nil)
	}
	if err != nil {
		return nil, fmt.Errorf("host %s, step sync: fetching the release bundle: %w", in.Target.Label(), err)
	}
	if err := in.Ref.Check(b); err != nil {
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("host %s, step sync: %v", in.Target.Label(), err), ErrInvalid, nil)
	}
	return b, nil
}
