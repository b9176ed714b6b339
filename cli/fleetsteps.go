package cli

import (
	"context"
	"sync"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/hoist-dev/hoist/workflows"
)

// The parent of a rollout records a few events per host; each host's
// steps are in its DeployHost child, which answers the same progress
// query. The CLI asks the children of the hosts being changed, a bounded
// number per tick, so following 200 hosts stays cheap for the server.
const (
	maxStepQueries  = 50              // child queries per tick
	stepQueriesOnce = 10              // of them at once
	stepQueryWait   = 2 * time.Second // a child whose worker is busy is asked again next tick
)

// childStep is the last step a child reported.
type childStep struct{ child, step string }

// stepReader keeps the step of each host being changed, from its child.
type stepReader struct {
	steps map[string]childStep // by host
	next  int                  // where the next round of queries starts
}

func newStepReader() *stepReader { return &stepReader{steps: map[string]childStep{}} }

// due picks the hosts whose child to ask this tick: those being changed
// with a child, at most limit, taking turns when there are more.
func (r *stepReader) due(fl *workflows.Fleet, limit int) []workflows.FleetHost {
	var cands []workflows.FleetHost
	for _, h := range fl.Hosts {
		if beingChanged(h.State) && h.Child != "" {
			cands = append(cands, h)
		}
	}
	if len(cands) <= limit {
		r.next = 0
		return cands
	}
	start := r.next % len(cands)
	out := make([]workflows.FleetHost, 0, limit)
	for i := 0; i < limit; i++ {
		out = append(out, cands[(start+i)%len(cands)])
	}
	r.next = (start + limit) % len(cands)
	return out
}

// forget drops the steps of hosts no longer being changed, and of a
// child that is not the host's current one (prepare, then start).
func (r *stepReader) forget(fl *workflows.Fleet) {
	for _, h := range fl.Hosts {
		if cs, ok := r.steps[h.Host]; ok && (!beingChanged(h.State) || cs.child != h.Child) {
			delete(r.steps, h.Host)
		}
	}
}

// current is the steps by host, as fleetRows takes them.
func (r *stepReader) current() map[string]string {
	out := make(map[string]string, len(r.steps))
	for h, cs := range r.steps {
		out[h] = cs.step
	}
	return out
}

// read asks the due children for their latest step and returns every
// host's step as known now.
func (r *stepReader) read(ctx context.Context, cl client.Client, fl *workflows.Fleet) map[string]string {
	r.forget(fl)
	due := r.due(fl, maxStepQueries)
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, stepQueriesOnce)
	for _, h := range due {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			qctx, cancel := context.WithTimeout(ctx, stepQueryWait)
			defer cancel()
			p, ok := queryProgress(qctx, cl, h.Child, "")
			if !ok || len(p.Events) == 0 {
				return
			}
			mu.Lock()
			r.steps[h.Host] = childStep{child: h.Child, step: p.Events[len(p.Events)-1].Step}
			mu.Unlock()
		}()
	}
	wg.Wait()
	return r.current()
}

// queryProgress asks a deploy (or DeployHost) workflow for its progress.
func queryProgress(ctx context.Context, cl client.Client, id, runID string) (workflows.Progress, bool) {
	var p workflows.Progress
	v, err := cl.QueryWorkflow(ctx, id, runID, workflows.ProgressQuery)
	if err != nil || v.Get(&p) != nil {
		return p, false
	}
	return p, true
}
