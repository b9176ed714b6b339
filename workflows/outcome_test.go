package workflows

import "testing"

// A failed or cancelled deploy's outcome, decided in one place for the
// CLI's --output json and the worker's metrics.
func TestFailureOutcome(t *testing.T) {
	for _, c := range []struct {
		name      string
		d         FailureDetails
		cancelled bool
		want      string
	}{
		{"failed before any host", FailureDetails{}, false, OutcomeFailed},
		{"rolled back", FailureDetails{RolledBackTo: "v1"}, false, OutcomeRolledBack},
		{"rollback failed", FailureDetails{RollbackFailed: true, RolledBackTo: "v1"}, false, OutcomeUnsafe},
		{"nothing to roll back to", FailureDetails{NothingToRollBackTo: true}, false, OutcomeUnsafe},
		{"mixed by design", FailureDetails{Mixed: true, RolledBackTo: "v1"}, false, OutcomeMixed},
		{"refused by the set-up, whatever else", FailureDetails{Setup: true, RollbackFailed: true, Mixed: true}, false, OutcomeFailed},
		{"refused by a window", FailureDetails{Refused: true, NothingToRollBackTo: true}, false, OutcomeFailed},
		{"cancelled, put back", FailureDetails{RolledBackTo: "v1"}, true, OutcomeCancelled},
		{"cancelled, mixed", FailureDetails{Mixed: true}, true, OutcomeCancelled},
		{"cancelled, could not put back", FailureDetails{RollbackFailed: true}, true, OutcomeUnsafe},
	} {
		if got := c.d.Outcome(c.cancelled); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}
