package commands

// Release selection, in one place: which release a failed deploy returns
// to, which one `hoist rollback` picks by default, and which ones
// retention removes. Only releases that passed their running check on
// this host (Health good) are ever chosen to roll back to.

// RollbackTarget is the release a failed deploy of version returns to:
// current, when it is good and is not the version itself, else the newest
// good release other than the version; "" when there is none.
func (s State) RollbackTarget(version string) string {
	if r, ok := s.release(s.Current); ok && s.Current != version && r.Health() == HealthGood {
		return s.Current
	}
	for _, r := range s.Releases { // newest first
		if r.Version != version && r.Health() == HealthGood {
			return r.Version
		}
	}
	return ""
}

// PreviousGood is what `hoist rollback` returns to by default: the newest
// good release other than current, by when it was last made current.
func (s State) PreviousGood() string {
	for _, r := range s.Releases {
		if r.Version != s.Current && r.Health() == HealthGood {
			return r.Version
		}
	}
	return ""
}

// Prunable lists the releases retention removes. Kept: current, the
// protected ones, the newest keep good releases, and any release newer
// than the oldest of those (a recent failure stays for inspection, with
// its saved logs). A failed or unknown release never counts towards keep,
// so failures cannot push a good rollback target out.
func (s State) Prunable(keep int, protect ...string) []string {
	safe := map[string]bool{s.Current: true}
	for _, p := range protect {
		safe[p] = true
	}
	good := 0
	var doomed []string
	for _, r := range s.Releases { // newest first
		switch {
		case good < keep && r.Health() == HealthGood:
			good++
		case good < keep || safe[r.Version]:
			// newer than the oldest kept good release, or protected
		default:
			doomed = append(doomed, r.Version)
		}
	}
	return doomed
}
