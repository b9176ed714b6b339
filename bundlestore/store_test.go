package bundlestore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/hoist-dev/hoist/activities"
	"github.com/hoist-dev/hoist/workflows"
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
	s := New(h, nil)
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
}

// Only the most recent bundles stay: an older one is read again.
func TestBundleCacheKeepsRecent(t *testing.T) {
	h := &fakeHistory{t: t}
	s := New(h, nil)
	get := func(b string) {
		t.Helper()
		h.bundle = []byte(b)
		if got, err := s.Bundle(context.Background(), activities.RefOf([]byte(b), "deploy/web", b)); err != nil || string(got) != b {
			t.Fatalf("Bundle(%s): %q, %v", b, got, err)
		}
	}
	get("b0")
	for i := 1; i <= keep; i++ {
		get(fmt.Sprintf("b%d", i))
	}
	before := h.reads.Load()
	get("b0") // pushed out by keep newer ones
	get("b0")
	if n := h.reads.Load() - before; n != 1 {
		t.Errorf("the evicted bundle was read %d times, want once", n)
	}
}

func TestBundleHistoryMismatchRefused(t *testing.T) {
	h := &fakeHistory{t: t, bundle: []byte("other files")}
	s := New(h, nil)
	ref := activities.RefOf([]byte("the release files"), "deploy/web", "run1")
	_, err := s.Bundle(context.Background(), ref)
	if err == nil || !strings.Contains(err.Error(), "digest") {
		t.Fatalf("want a digest mismatch, got %v", err)
	}
	if _, err := s.Bundle(context.Background(), activities.BundleRef{Digest: "../../etc/passwd"}); err == nil {
		t.Fatal("a reference without a sha256 digest was looked up")
	}
}

// holderHistory serves a ReleaseBundle run's start event, or NotFound
// once its retention has passed.
type holderHistory struct {
	hold workflows.BundleHold
	gone bool
}

func (h *holderHistory) GetWorkflowHistory(_ context.Context, id, run string, _ bool, _ enums.HistoryEventFilterType) client.HistoryEventIterator {
	if h.gone {
		return &failing{serviceerror.NewNotFound("workflow execution not found")}
	}
	in, _ := converter.GetDefaultDataConverter().ToPayloads(h.hold)
	ev := &historypb.HistoryEvent{EventType: enums.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED,
		Attributes: &historypb.HistoryEvent_WorkflowExecutionStartedEventAttributes{
			WorkflowExecutionStartedEventAttributes: &historypb.WorkflowExecutionStartedEventAttributes{Input: in}}}
	return &iter{events: []*historypb.HistoryEvent{ev}}
}

// failing is the SDK's iterator over a history the server refuses: it
// has a next, which is the error.
type failing struct{ err error }

func (f *failing) HasNext() bool                          { return true }
func (f *failing) Next() (*historypb.HistoryEvent, error) { return nil, f.err }

func TestBundleFromItsHolder(t *testing.T) {
	b := []byte("the release files")
	ref := activities.RefOf(b, workflows.BundleWorkflowID("d"), "run1")
	s := New(&holderHistory{hold: workflows.BundleHold{Bundle: b, Service: "web", Version: "v2"}}, nil)
	got, err := s.Bundle(context.Background(), ref)
	if err != nil || string(got) != string(b) {
		t.Fatalf("got %q, %v", got, err)
	}
}

// A holder past its retention is gone for good: the error says so, is
// ErrBundleGone (the activity makes it non-retryable), and says what to do.
func TestBundleHolderGone(t *testing.T) {
	ref := activities.RefOf([]byte("x"), workflows.BundleWorkflowID("d"), "run1")
	_, err := New(&holderHistory{gone: true}, nil).Bundle(context.Background(), ref)
	if !errors.Is(err, activities.ErrBundleGone) || !strings.Contains(err.Error(), "retention") || !strings.Contains(err.Error(), "deploy again") {
		t.Fatalf("got %v", err)
	}
}
