package workflows

import (
	"errors"
	"fmt"
	"strings"

	"go.temporal.io/sdk/workflow"
)

// preflightParallel bounds how many hosts are prepared at once: enough
// to pull on a fleet in a few rounds, few enough that the worker's SSH
// fan-out stays well below where sshd's MaxStartups and the worker's
// dialer start refusing (Kamal's users saw theirs break past ~15).
const preflightParallel = 10

// preflightAll prepares every host (inspect, sync, login, pull), up to
// preflightParallel at once, before any host switches. The hosts go on
// d.hosts in config order. When any host fails, the deploy fails naming
// every host that failed and why; no host was switched anywhere, so there
// is nothing to undo.
func (d *deploy) preflightAll(ctx workflow.Context) error {
	targets := d.targets()
	runs := make([]*hostRun, len(targets))
	errs := make([]error, len(targets))
	sem := workflow.NewSemaphore(ctx, preflightParallel)
	wg := workflow.NewWaitGroup(ctx)
	for i, t := range targets {
		wg.Add(1)
		workflow.Go(ctx, func(ctx workflow.Context) {
			defer wg.Done()
			if err := sem.Acquire(ctx, 1); err != nil {
				errs[i] = err
				return
			}
			defer sem.Release(1)
			runs[i], errs[i] = d.prepareHost(ctx, t, false)
		})
	}
	wg.Wait(ctx)
	var failed []string
	var first error
	for i, h := range runs {
		if h != nil {
			d.hosts = append(d.hosts, h)
		}
		if errs[i] == nil {
			continue
		}
		if first == nil {
			first = errs[i]
		}
		what := rootMessage(errs[i])
		var se *stepError
		if errors.As(errs[i], &se) {
			// The activity's message starts with where it failed: say it once.
			what = se.step + ": " + strings.TrimPrefix(strings.TrimPrefix(what, "host "+se.host+", "), "step "+se.step+": ")
		}
		failed = append(failed, fmt.Sprintf("%s (%s)", targets[i].Label(), what))
	}
	if first == nil {
		return nil
	}
	if len(targets) == 1 {
		return first
	}
	var se *stepError
	if !errors.As(first, &se) {
		return first
	}
	return &stepError{host: se.host, step: se.step, err: fmt.Errorf("pre-flight failed on %d of %d hosts, so no host was switched: %s",
		len(failed), len(targets), strings.Join(failed, "; "))}
}
