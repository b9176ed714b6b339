package window

import (
	"strconv"
	"strings"
	"time"
)

// Describe says in one line, for `hoist plan`, when a deploy asked for at t
// would start and why. For example:
//
//	now (inside Mon-Thu 10:00-16:00 Asia/Shanghai, until Thu 2026-12-03 16:00 CST)
//	Thu 2026-12-03 10:00 CST (next allowed; now is outside Mon-Thu 10:00-16:00 Asia/Shanghai)
//	frozen until Tue 2027-01-05 10:00 CST (freeze 2026-12-20/2027-01-04 Asia/Shanghai)
//	refused now (outside Mon-Thu 10:00-16:00 Asia/Shanghai; next allowed Thu 2026-12-03 10:00 CST)
//	never within 400 days (freeze 2026-01-01/2099-12-31 UTC)
func (w *Windows) Describe(t time.Time) string {
	if w == nil {
		return "now (no deploy windows)"
	}
	local := t.In(w.loc)
	zone := w.loc.String()
	if w.Allowed(local) {
		var why string
		switch {
		case len(w.allow) > 0:
			why = "inside " + w.allow[w.insideOf(local)].entry + " " + zone
		case len(w.freezes) > 0:
			why = "not frozen in " + zone
		default:
			return "now (no allow windows or freezes)"
		}
		if until, ok := w.Until(local); ok {
			why += ", until " + stamp(until)
		}
		return "now (" + why + ")"
	}

	i := w.frozenBy(local)
	frozen := i >= 0
	var why string
	if frozen {
		why = "freeze " + w.freezes[i].entry + " " + zone
	} else {
		var entries []string
		for _, a := range w.allow {
			entries = append(entries, a.entry)
		}
		why = "outside " + strings.Join(entries, ", ") + " " + zone
	}
	next, ok := w.Next(local)
	switch {
	case !ok:
		return "never within " + strconv.Itoa(int(Horizon/day)) + " days (" + why + ")"
	case w.outside == OutsideRefuse:
		return "refused now (" + why + "; next allowed " + stamp(next) + ")"
	case frozen:
		return "frozen until " + stamp(next) + " (" + why + ")"
	}
	return stamp(next) + " (next allowed; now is " + why + ")"
}

// stamp writes t with its weekday, as windows are written in days; with
// seconds only when it has some (an RFC3339 freeze may end on one).
func stamp(t time.Time) string {
	if t.Second() != 0 || t.Nanosecond() != 0 {
		return t.Format("Mon 2006-01-02 15:04:05 MST")
	}
	return t.Format("Mon 2006-01-02 15:04 MST")
}
