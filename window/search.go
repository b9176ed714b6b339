package window

import "time"

// Allowed reports whether a deploy may start, or a batch proceed, at t: no
// freeze covers t, and t is inside an allow window (or there are none).
func (w *Windows) Allowed(t time.Time) bool {
	if w == nil {
		return true
	}
	local := t.In(w.loc)
	return w.frozenBy(local) < 0 && (len(w.allow) == 0 || w.insideOf(local) >= 0)
}

// Next is the earliest instant at or after t that is allowed, in the
// windows' zone; t itself when t is allowed. It reports false when nothing
// is allowed within Horizon of t.
func (w *Windows) Next(t time.Time) (time.Time, bool) {
	if w == nil {
		return t, true
	}
	return w.first(t, true)
}

// Until is the end of the allowed period t is in: the earliest instant
// after t that is not allowed, in the windows' zone. Adjacent windows make
// one period. It reports false when t is not allowed, or when the period
// does not end within Horizon of t.
func (w *Windows) Until(t time.Time) (time.Time, bool) {
	if w == nil || !w.Allowed(t) {
		return time.Time{}, false
	}
	return w.first(t, false)
}

// insideOf is the index of the first allow window that the wall clock of
// local (a time in w.loc) is inside, or -1.
func (w *Windows) insideOf(local time.Time) int {
	wd := local.Weekday()
	yesterday := (wd + 6) % 7
	clock := sinceMidnight(local)
	for i, a := range w.allow {
		if a.days[wd] && a.start <= clock && clock < min(a.end, day) ||
			a.end > day && a.days[yesterday] && clock < a.end-day {
			return i
		}
	}
	return -1
}

// frozenBy is the index of the first freeze covering local (a time in
// w.loc), or -1.
func (w *Windows) frozenBy(local time.Time) int {
	date := civil(local)
	for i, f := range w.freezes {
		if f.dates && f.first <= date && date <= f.last ||
			!f.dates && !local.Before(f.from) && local.Before(f.to) {
			return i
		}
	}
	return -1
}

func sinceMidnight(t time.Time) time.Duration {
	h, m, s := t.Clock()
	return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute +
		time.Duration(s)*time.Second + time.Duration(t.Nanosecond())
}

// first is the earliest instant u >= t, within Horizon, with
// Allowed(u) == want.
//
// Whether an instant is allowed depends only on the wall clock (its date,
// weekday and time of day) and on the instant freezes. Between two zone
// transitions the wall clock runs with time, and it is allowed from a
// window's start and not from its end, frozen from a date's first instant
// and not from the next date's, so the answer changes only at: an instant
// whose wall clock shows one of w.marks, a zone transition, or an instant
// freeze's start or end. Each of those "breaks" starts a stretch with one
// answer, so the earliest u is t itself or the earliest break after t with
// the wanted answer. first tries every break in the span, day by day.
func (w *Windows) first(t time.Time, want bool) (time.Time, bool) {
	t = t.In(w.loc)
	if w.Allowed(t) == want {
		return t, true
	}
	limit := t.Add(Horizon)
	var best time.Time
	found := false
	try := func(u time.Time) {
		if u.Before(t) || u.After(limit) || found && !u.Before(best) {
			return
		}
		if w.Allowed(u) == want {
			best, found = u.In(w.loc), true
		}
	}
	for _, f := range w.freezes {
		if !f.dates {
			try(f.from)
			try(f.to)
		}
	}
	// From the day before t's date: a clock set back over midnight can
	// show yesterday's date after t.
	y, m, d := t.Date()
	for i := -1; ; i++ {
		noon := time.Date(y, m, d+i, 12, 0, 0, 0, w.loc)
		// Every break that day tries lies after noon-24h.
		if earliest := noon.Add(-day); earliest.After(limit) || found && best.Before(earliest) {
			break
		}
		w.dayBreaks(y, m, d+i, noon, try)
	}
	return best, found
}

// dayBreaks calls try with the zone transitions within a day of noon, and
// every instant whose wall clock shows one of w.marks on date y-m-d (none
// for a mark the clock skips that day, two for a mark it shows twice).
func (w *Windows) dayBreaks(y int, m time.Month, d int, noon time.Time, try func(time.Time)) {
	from, to := noon.Add(-day), noon.Add(day)
	_, offset := from.Zone()
	offsets := []int{offset} // every UTC offset in effect from..to
	for x := from; ; {
		_, next := x.ZoneBounds()
		if next.IsZero() || !next.Before(to) {
			break
		}
		try(next)
		_, offset = next.Zone()
		offsets = append(offsets, offset)
		x = next
	}
	midnight := time.Date(y, m, d, 0, 0, 0, 0, time.UTC) // that date's wall clock at 00:00, written as UTC
	for _, mark := range w.marks {
		wall := midnight.Add(mark)
		for _, offset := range offsets {
			// u shows wall exactly when offset is the offset in effect at u.
			u := wall.Add(-time.Duration(offset) * time.Second)
			if _, at := u.In(w.loc).Zone(); at == offset {
				try(u)
			}
		}
	}
}
