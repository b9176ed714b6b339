package workflows

// Outcomes of a deploy or rollback that failed or was cancelled, beside
// OutcomeDeployed and OutcomeWarning: what `--output json` says and what
// the worker's metrics count, both through FailureDetails.Outcome.
const (
	OutcomeRolledBack = "rolled back" // every host it changed is back on its previous release
	OutcomeFailed     = "failed"      // no host changed (or refused by the worker's set-up or a window)
	OutcomeMixed      = "mixed"       // a rollout ended with hosts on both releases, by design
	OutcomeCancelled  = "cancelled"   // cancelled; what it changed is back
	OutcomeUnsafe     = "unsafe"      // a human is needed: a host could not be put back
)

// Outcome is how a deploy with these details ended; cancelled when it
// ended by a cancel. A refusal (Setup, Refused) changed nothing, whatever
// else it says; a host left off its previous release wins over a cancel.
func (d FailureDetails) Outcome(cancelled bool) string {
	refusal := d.Setup || d.Refused
	switch {
	case !refusal && (d.RollbackFailed || d.NothingToRollBackTo):
		return OutcomeUnsafe
	case cancelled:
		return OutcomeCancelled
	case !refusal && d.Mixed:
		return OutcomeMixed
	case d.RolledBackTo != "":
		return OutcomeRolledBack
	}
	return OutcomeFailed
}
