// Package bundlestore gives workers the release bundle a rollout's hosts
// name by reference (activities.BundleRef). The bytes live in Temporal's
// history once, in the deploy workflow's input; a worker reads them from
// there the first time and keeps them in memory, by sha256, so a fleet of
// 200 hosts reads the history once per worker, not once per host.
//
// The cache is in memory only, on purpose: a bundle may hold env files,
// and with payloads encrypted the history holds them encrypted; a copy on
// the worker's disk would keep them in the clear after the deploy. A
// restarted worker reads the history again. Nothing is trusted without
// checking the digest.
package bundlestore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/hoist-dev/hoist/activities"
)

// fetchTimeout bounds one history read of a bundle.
const fetchTimeout = 2 * time.Minute

// keep is how many bundles the cache holds, the most recently used; a
// rollout needs one, and a bundle is at most config.MaxBundleBytes.
const keep = 4

// History reads a workflow's history; client.Client is the real one.
type History interface {
	GetWorkflowHistory(ctx context.Context, workflowID string, runID string, isLongPoll bool, filterType enums.HistoryEventFilterType) client.HistoryEventIterator
}

// Store resolves bundle references for a worker.
type Store struct {
	history History
	dc      converter.DataConverter // the worker's: decrypts payloads when keys are set

	mu       sync.Mutex
	cached   []entry           // most recently used last
	inflight map[string]*fetch // by digest: concurrent hosts share one history read
}

type entry struct {
	digest string
	b      []byte
}

type fetch struct {
	done chan struct{}
	b    []byte
	err  error
}

// New is a store reading history through h and decoding it with dc (nil:
// the SDK's default converter).
func New(h History, dc converter.DataConverter) *Store {
	if dc == nil {
		dc = converter.GetDefaultDataConverter()
	}
	return &Store{history: h, dc: dc, inflight: map[string]*fetch{}}
}

// Bundle returns the bytes ref names.
func (s *Store) Bundle(ctx context.Context, ref activities.BundleRef) ([]byte, error) {
	if !validDigest(ref.Digest) {
		return nil, fmt.Errorf("bundle reference has no valid sha256 digest: %q", ref.Digest)
	}
	s.mu.Lock()
	if b := s.lookup(ref.Digest); b != nil && ref.Check(b) == nil {
		s.mu.Unlock()
		return b, nil
	}
	f := s.inflight[ref.Digest]
	if f == nil {
		f = &fetch{done: make(chan struct{})}
		s.inflight[ref.Digest] = f
		go func() {
			// Not the caller's ctx: other hosts wait for this read too.
			rctx, cancel := context.WithTimeout(context.Background(), fetchTimeout)
			defer cancel()
			f.b, f.err = s.fromHistory(rctx, ref)
			s.mu.Lock()
			if f.err == nil {
				s.remember(ref.Digest, f.b)
			}
			delete(s.inflight, ref.Digest)
			s.mu.Unlock()
			close(f.done)
		}()
	}
	s.mu.Unlock()
	select {
	case <-f.done:
		return f.b, f.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// lookup returns the cached bundle and marks it used; s.mu is held.
func (s *Store) lookup(digest string) []byte {
	for i, e := range s.cached {
		if e.digest == digest {
			s.cached = append(append(s.cached[:i:i], s.cached[i+1:]...), e)
			return e.b
		}
	}
	return nil
}

// remember caches b, dropping the least recently used; s.mu is held.
func (s *Store) remember(digest string, b []byte) {
	s.cached = append(s.cached, entry{digest, b})
	if len(s.cached) > keep {
		s.cached = s.cached[len(s.cached)-keep:]
	}
}

// fromHistory reads the bundle from the input of the workflow's start
// event and checks it is the one named.
func (s *Store) fromHistory(ctx context.Context, ref activities.BundleRef) ([]byte, error) {
	it := s.history.GetWorkflowHistory(ctx, ref.Workflow, ref.Run, false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	if !it.HasNext() {
		return nil, fmt.Errorf("workflow %s (run %s) has no history", ref.Workflow, ref.Run)
	}
	ev, err := it.Next()
	var gone *serviceerror.NotFound
	if errors.As(err, &gone) {
		return nil, fmt.Errorf("workflow %s (run %s) that held it is no longer in Temporal (the namespace's retention passed, or it was deleted): deploy again: %w", ref.Workflow, ref.Run, activities.ErrBundleGone)
	}
	if err != nil {
		return nil, fmt.Errorf("reading the history of workflow %s (run %s): %w", ref.Workflow, ref.Run, err)
	}
	started := ev.GetWorkflowExecutionStartedEventAttributes()
	if started == nil {
		return nil, fmt.Errorf("workflow %s (run %s): first history event is %s, not its start", ref.Workflow, ref.Run, ev.GetEventType())
	}
	var in struct {
		Bundle []byte `json:"bundle"`
	}
	if err := s.dc.FromPayloads(started.GetInput(), &in); err != nil {
		return nil, fmt.Errorf("workflow %s (run %s): decoding its input: %w", ref.Workflow, ref.Run, err)
	}
	if err := ref.Check(in.Bundle); err != nil {
		return nil, err
	}
	return in.Bundle, nil
}

func validDigest(d string) bool {
	if len(d) != 64 {
		return false
	}
	for _, c := range d {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
