package bundlestore

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/hoist-dev/hoist/activities"
)

// fakeHistory serves one workflow's start event, whose input carries
// bundle, and counts the reads.
type fakeHistory struct {
	t      *testing.T
	bundle []byte
	reads  atomic.Int32
}

func (f *fakeHistory) GetWorkflowHistory(_ context.Context, id, run string, _ bool, _ enums.HistoryEventFilterType) client.HistoryEventIterator {
	f.reads.Add(1)
	in, err := converter.GetDefaultDataConverter().ToPayloads(struct {
		Spec   string `json:"spec"`
		Bundle []byte `json:"bundle"`
	}{"x", f.bundle})
	if err != nil {
		f.t.Fatal(err)
	}
	ev := &historypb.HistoryEvent{EventType: enums.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED,
		Attributes: &historypb.HistoryEvent_WorkflowExecutionStartedEventAttributes{
			WorkflowExecutionStartedEventAttributes: &historypb.WorkflowExecutionStartedEventAttributes{Input: in}}}
	return &iter{events: []*historypb.HistoryEvent{ev}}
}

type iter struct{ events []*historypb.HistoryEvent }

func (i *iter) HasNext() bool { return len(i.events) > 0 }
func (i *iter) Next() (*historypb.HistoryEvent, error) {
	e := i.events[0]
	i.events = i.events[1:]
	return e, nil
}

func TestBundleReadOnceThenCached(t *testing.T) {
	bundle := []byte("the release files")
	h := &fakeHistory{t: t, bundle: bundle}
	dir := t.TempDir()
	s, err := New(dir, h, nil)
	if err != nil {
		t.Fatal(err)
	}
	ref := activities.RefOf(bundle, "deploy/web", "run1")
	var wg sync.WaitGroup
	for range 20 { // twenty hosts of a batch sync at once
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := s.Bundle(context.Background(), ref)
			if err != nil || string(got) != string(bundle) {
				t.Errorf("Bundle: %q, %v", got, err)
			}
		}()
	}
	wg.Wait()
	if _, err := s.Bundle(context.Background(), ref); err != nil {
		t.Fatal(err)
	}
	if n := h.reads.Load(); n != 1 {
		t.Errorf("history read %d times, want once", n)
	}
	if b, err := os.ReadFile(filepath.Join(dir, ref.Digest)); err != nil || string(b) != string(bundle) {
		t.Errorf("cache file: %q, %v", b, err)
	}
}

func TestBundleCacheNotTrusted(t *testing.T) {
	bundle := []byte("the release files")
	h := &fakeHistory{t: t, bundle: bundle}
	dir := t.TempDir()
	s, _ := New(dir, h, nil)
	ref := activities.RefOf(bundle, "deploy/web", "run1")
	if err := os.WriteFile(filepath.Join(dir, ref.Digest), []byte("tampered"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := s.Bundle(context.Background(), ref)
	if err != nil || string(got) != string(bundle) {
		t.Fatalf("Bundle: %q, %v", got, err)
	}
	if h.reads.Load() != 1 {
		t.Error("a cache file with the wrong digest was used")
	}
}

func TestBundleHistoryMismatchRefused(t *testing.T) {
	h := &fakeHistory{t: t, bundle: []byte("other files")}
	s, _ := New(t.TempDir(), h, nil)
	ref := activities.RefOf([]byte("the release files"), "deploy/web", "run1")
	_, err := s.Bundle(context.Background(), ref)
	if err == nil || !strings.Contains(err.Error(), "digest") {
		t.Fatalf("want a digest mismatch, got %v", err)
	}
	if _, err := s.Bundle(context.Background(), activities.BundleRef{Digest: "../../etc/passwd"}); err == nil {
		t.Fatal("a reference without a sha256 digest was looked up")
	}
}
