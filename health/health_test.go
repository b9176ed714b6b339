package health

import (
	"strings"
	"testing"
	"time"
)

// A sequence is written as checks, one a character: p passed, f failed,
// each a second after the one before, the first at up (how long the
// container had been running). want is the verdict after each check:
// . pending, H healthy, U unhealthy.
func TestSequence(t *testing.T) {
	cases := []struct {
		name             string
		healthy, unheal  int
		start, up        time.Duration
		checks, want     string
		passes, failures int
		graced           int
	}{
		{name: "two passes", healthy: 2, unheal: 3, checks: "pp", want: ".H", passes: 2},
		{name: "one pass is not two", healthy: 2, unheal: 3, checks: "p", want: ".", passes: 1},
		{name: "healthy_runs 1", healthy: 1, unheal: 3, checks: "p", want: "H", passes: 1},
		{name: "passes must be in a row", healthy: 2, unheal: 3, checks: "pfpfpp", want: ".....H", passes: 2},
		{name: "three failures", healthy: 2, unheal: 3, checks: "fff", want: "..U", failures: 3},
		{name: "failures must be in a row", healthy: 3, unheal: 3, checks: "ffpff", want: ".....", failures: 2},
		{name: "unhealthy_runs 1: the first failure decides", healthy: 2, unheal: 1, checks: "f", want: "U", failures: 1},
		{name: "healthy, then failing turns unhealthy", healthy: 2, unheal: 2, checks: "ppff", want: ".H.U", failures: 2},
		{name: "healthy, one failure is no longer healthy", healthy: 2, unheal: 3, checks: "ppfp", want: ".H..", passes: 1},
		// The start period: 10 s, checks at 0, 1, 2 … s.
		{name: "failures in the start period do not count", healthy: 2, unheal: 3, start: 10 * time.Second,
			checks: "ffffff", want: "......", graced: 6},
		{name: "after the start period they do", healthy: 2, unheal: 3, start: 3 * time.Second,
			checks: "ffffff", want: ".....U", graced: 3, failures: 3},
		{name: "a pass in the start period counts", healthy: 2, unheal: 3, start: 10 * time.Second,
			checks: "ffpp", want: "...H", passes: 2, graced: 2},
		{name: "a pass ends the start period (Docker)", healthy: 3, unheal: 2, start: 10 * time.Second,
			checks: "pff", want: "..U", failures: 2},
		{name: "the start period is measured to the check's start", healthy: 2, unheal: 1, start: 2 * time.Second,
			up: time.Second, checks: "ff", want: ".U", graced: 1, failures: 1},
		{name: "zero runs count as one", healthy: 0, unheal: 0, checks: "pf", want: "HU", failures: 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := Sequence{HealthyRuns: tc.healthy, UnhealthyRuns: tc.unheal, StartPeriod: tc.start}
			if s.Verdict() != Pending {
				t.Fatalf("before any check: %v", s.Verdict())
			}
			var got strings.Builder
			for i, c := range tc.checks {
				v := s.Add(Check{Pass: c == 'p', Up: tc.up + time.Duration(i)*time.Second, Output: string(c)})
				got.WriteByte(".HU"[v])
				if s.Verdict() != v {
					t.Fatalf("check %d: Add said %v, Verdict says %v", i+1, v, s.Verdict())
				}
			}
			if got.String() != tc.want {
				t.Errorf("checks %s: verdicts %s, want %s", tc.checks, got.String(), tc.want)
			}
			if s.Passes() != tc.passes || s.Failures() != tc.failures || s.Graced() != tc.graced || s.Checks() != len(tc.checks) {
				t.Errorf("counts: %d passes, %d failures, %d graced of %d checks; want %d, %d, %d of %d",
					s.Passes(), s.Failures(), s.Graced(), s.Checks(), tc.passes, tc.failures, tc.graced, len(tc.checks))
			}
			if last := tc.checks[len(tc.checks)-1:]; s.Last().Output != last {
				t.Errorf("last check %+v, want the %s", s.Last(), last)
			}
		})
	}
}

func TestVerdictNames(t *testing.T) {
	for v, want := range map[Verdict]string{Pending: "pending", Healthy: "healthy", Unhealthy: "unhealthy"} {
		if v.String() != want {
			t.Errorf("%d: %q, want %q", v, v.String(), want)
		}
	}
}
