// Package bundlestore gives workers the release bundle a rollout's hosts
// name by reference (activities.BundleRef). The bytes live in Temporal's
// history once, in the deploy workflow's input; a worker reads them from
// there the first time and keeps them in a local, content-addressed
// cache (a file named by the bundle's sha256), so a fleet of 200 hosts
// reads the history once per worker, not once per host.
//
// The cache is only a cache: losing it costs one history read. Nothing
// trusts it without checking the digest.
package bundlestore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/hoist-dev/hoist/activities"
)

// fetchTimeout bounds one history read of a bundle.
const fetchTimeout = 2 * time.Minute

// keep is how many bundles the cache holds: the newest by use; a fleet's
// deploy needs one.
const keep = 20

// History reads a workflow's history; client.Client is the real one.
type History interface {
	GetWorkflowHistory(ctx context.Context, workflowID string, runID string, isLongPoll bool, filterType enums.HistoryEventFilterType) client.HistoryEventIterator
}

// Store resolves bundle references for a worker.
type Store struct {
	dir     string
	history History
	dc      converter.DataConverter // the worker's: decrypts payloads when keys are set

	mu       sync.Mutex
	inflight map[string]*fetch // by digest: concurrent hosts share one history read
}

type fetch struct {
	done chan struct{}
	b    []byte
	err  error
}

// New is a store caching in dir (created when missing), reading history
// through h and decoding it with dc (nil: the SDK's default converter).
func New(dir string, h History, dc converter.DataConverter) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("bundle cache %s: %w", dir, err)
	}
	if dc == nil {
		dc = converter.GetDefaultDataConverter()
	}
	return &Store{dir: dir, history: h, dc: dc, inflight: map[string]*fetch{}}, nil
}

// DefaultDir is the cache's place when the worker is not told one.
func DefaultDir() string {
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	return filepath.Join(base, "hoist", "bundles")
}

// Bundle returns the bytes ref names.
func (s *Store) Bundle(ctx context.Context, ref activities.BundleRef) ([]byte, error) {
	if !validDigest(ref.Digest) {
		return nil, fmt.Errorf("bundle reference has no valid sha256 digest: %q", ref.Digest)
	}
	path := filepath.Join(s.dir, ref.Digest)
	if b, err := os.ReadFile(path); err == nil && ref.Check(b) == nil {
		now := time.Now()
		_ = os.Chtimes(path, now, now) // used: the last to be pruned
		return b, nil
	}
	s.mu.Lock()
	f := s.inflight[ref.Digest]
	if f == nil {
		f = &fetch{done: make(chan struct{})}
		s.inflight[ref.Digest] = f
		go func() {
			// Not the caller's ctx: other hosts wait for this read too.
			rctx, cancel := context.WithTimeout(context.Background(), fetchTimeout)
			defer cancel()
			f.b, f.err = s.fromHistory(rctx, ref)
			if f.err == nil {
				f.err = s.put(path, f.b)
			}
			s.mu.Lock()
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

// fromHistory reads the bundle from the input of the workflow's start
// event and checks it is the one named.
func (s *Store) fromHistory(ctx context.Context, ref activities.BundleRef) ([]byte, error) {
	it := s.history.GetWorkflowHistory(ctx, ref.Workflow, ref.Run, false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	if !it.HasNext() {
		return nil, fmt.Errorf("workflow %s (run %s) has no history", ref.Workflow, ref.Run)
	}
	ev, err := it.Next()
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

// put writes the bundle whole (temporary file, then rename) and prunes
// the cache to the newest bundles.
func (s *Store) put(path string, b []byte) error {
	tmp, err := os.CreateTemp(s.dir, ".tmp-*")
	if err != nil {
		return fmt.Errorf("bundle cache: %w", err)
	}
	_, werr := tmp.Write(b)
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("bundle cache: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("bundle cache: %w", err)
	}
	s.prune()
	return nil
}

func (s *Store) prune() {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return
	}
	type file struct {
		name string
		mod  int64
	}
	var files []file
	for _, e := range entries {
		if !validDigest(e.Name()) {
			continue
		}
		if info, err := e.Info(); err == nil {
			files = append(files, file{e.Name(), info.ModTime().UnixNano()})
		}
	}
	sort.Slice(files, func(i, j int) bool { return files[i].mod > files[j].mod })
	for i := keep; i < len(files); i++ {
		os.Remove(filepath.Join(s.dir, files[i].name))
	}
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
