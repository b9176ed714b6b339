// Package health decides, from the checks hoist runs on one container,
// whether it is healthy, unhealthy or still starting. It follows Docker's
// rules for a healthcheck, with hoist's counts: failures before the
// container's first pass and within its start period do not count;
// healthy takes HealthyRuns passes in a row; unhealthy takes
// UnhealthyRuns failures in a row that count, and is a verdict the
// moment the last of them is in, not a timeout.
package health

import "time"

// Verdict is what a container's checks say so far.
type Verdict int

const (
	Pending   Verdict = iota // not decided yet: keep checking
	Healthy                  // HealthyRuns passes in a row
	Unhealthy                // UnhealthyRuns counted failures in a row
)

func (v Verdict) String() string {
	return [...]string{"pending", "healthy", "unhealthy"}[v]
}

// Check is the outcome of one check.
type Check struct {
	Pass bool
	// Up is how long the container had been running when the check
	// started (Docker measures the start period to the check's start).
	Up time.Duration
	// Output is what the check said, for the verdict's detail.
	Output string
}

// Sequence is one container's checks so far. Its zero value needs
// HealthyRuns and UnhealthyRuns set; fewer than 1 counts as 1.
type Sequence struct {
	HealthyRuns   int
	UnhealthyRuns int
	// StartPeriod is the container's start period: until it has passed
	// once, failures within it do not count (Docker's start_period).
	StartPeriod time.Duration

	passes   int // in a row
	failures int // counted, in a row
	graced   int // failures in the start period, not counted
	checks   int
	passed   bool // ever: ends the start period, as in Docker
	last     Check
}

// Add records a check and returns the verdict after it.
func (s *Sequence) Add(c Check) Verdict {
	s.checks++
	s.last = c
	switch {
	case c.Pass:
		s.passes, s.failures, s.passed = s.passes+1, 0, true
	case !s.passed && c.Up < s.StartPeriod:
		s.graced++ // no pass yet: passes is 0 already
	default:
		s.passes = 0
		s.failures++
	}
	return s.Verdict()
}

// Verdict is the verdict after the checks so far.
func (s *Sequence) Verdict() Verdict {
	switch {
	case s.failures >= max(s.UnhealthyRuns, 1):
		return Unhealthy
	case s.passes >= max(s.HealthyRuns, 1):
		return Healthy
	}
	return Pending
}

// Passes is how many checks in a row have passed.
func (s *Sequence) Passes() int { return s.passes }

// Failures is how many checks in a row have failed and counted.
func (s *Sequence) Failures() int { return s.failures }

// Graced is how many failures fell in the start period, uncounted.
func (s *Sequence) Graced() int { return s.graced }

// Checks is how many checks were added.
func (s *Sequence) Checks() int { return s.checks }

// Last is the latest check (zero before any).
func (s *Sequence) Last() Check { return s.last }
