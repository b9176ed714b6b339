package worker

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/hoist-dev/hoist/activities"
)

// Service is `hoist worker`'s worker: New's, run until told to stop, and
// able to say whether it polls (Ready, for --metrics-addr's /healthz).
type Service struct {
	w     sdkworker.Worker
	c     client.Client
	fatal chan error

	mu    sync.Mutex
	state string
}

// The states of a Service, as Ready reports them.
const (
	stateStarting = "starting: not polling yet"
	statePolling  = "polling"
	stateStopping = "stopping: no new steps are taken, running ones finish"
	stateStopped  = "stopped"
)

// NewService is a worker on taskQueue running hoist's workflows and the
// given activities, as New's.
func NewService(c client.Client, taskQueue string, acts *activities.Activities) *Service {
	s := &Service{c: c, fatal: make(chan error, 1), state: stateStarting}
	o := Options()
	o.OnFatalError = func(err error) {
		select {
		case s.fatal <- err:
		default:
		}
	}
	s.w = sdkworker.New(c, taskQueue, o)
	Register(s.w, acts)
	return s
}

// Run starts polling and blocks until stop is closed or sent on, or the
// worker fails for good (the namespace is gone, …). It then stops
// gracefully: no new tasks, running steps get StopTimeout to finish.
func (s *Service) Run(stop <-chan any) error {
	if err := s.w.Start(); err != nil {
		s.set(stateStopped)
		return err
	}
	s.set(statePolling)
	var err error
	select {
	case <-stop:
	case err = <-s.fatal:
	}
	s.set(stateStopping)
	s.w.Stop()
	s.set(stateStopped)
	return err
}

func (s *Service) set(state string) {
	s.mu.Lock()
	s.state = state
	s.mu.Unlock()
}

// Ready is nil while the worker polls: it has started, is not stopping,
// and the Temporal frontend answers its health check within ctx (the
// worker polls nothing from a server it cannot reach). Otherwise it says
// why not.
func (s *Service) Ready(ctx context.Context) error {
	s.mu.Lock()
	state := s.state
	s.mu.Unlock()
	if state != statePolling {
		return errors.New(state)
	}
	if _, err := s.c.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
		return fmt.Errorf("Temporal does not answer: %w", err)
	}
	return nil
}
