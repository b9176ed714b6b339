// Package window is hoist's deploy windows: when a deploy may start and a
// rollout's batches may proceed. It is pure time arithmetic on hoist.yml's
// windows block, so `hoist plan`, the CLI and the deploy workflow compute the
// same answers; the only I/O is loading the time zone, which Parse does once.
// Nothing here reads the clock: callers pass the instant to judge (the
// workflow passes workflow.Now).
//
// # Format
//
//	windows:
//	  timezone: Asia/Shanghai
//	  allow: ["Mon-Thu 10:00-16:00", "Sat 10:00-12:00"]
//	  freeze: ["2026-12-20/2027-01-04", "2027-02-10T18:00:00+08:00/2027-02-11T09:00:00+08:00"]
//	  outside: wait
//
// timezone is an IANA zone name (Europe/Berlin, America/New_York, UTC). Days
// and clock times in allow, and dates in freeze, are read in it. Empty means
// UTC. "Local" is refused: it is whatever zone the machine running hoist
// happens to have, and the CLI and the worker need not agree.
//
// allow lists the windows in which deploys start and batches proceed. Each
// entry is "DAYS HH:MM-HH:MM":
//   - DAYS is a comma-separated list of days (Mon Tue Wed Thu Fri Sat Sun,
//     in any letter case) and day ranges such as Mon-Fri; a range may wrap
//     round the week (Fri-Mon is Fri, Sat, Sun and Mon). "daily" is every day.
//     No spaces inside DAYS.
//   - The times are 24-hour wall-clock times from 00:00 to 24:00, two digits
//     each. A window is half-open: 10:00-16:00 allows 10:00 and 15:59:59 but
//     not 16:00. 24:00 is the end of the day and only an end.
//   - An end before the start crosses midnight, and the window belongs to the
//     day it starts on: "Fri 22:00-02:00" is Friday 22:00 to Saturday 02:00.
//     Start equal to end is refused as empty; the whole day is 00:00-24:00.
//
// An empty allow list allows every instant that no freeze covers.
//
// freeze lists periods in which nothing is allowed, whatever allow says.
// Each entry is "START/END", either two dates YYYY-MM-DD, which freeze whole
// days in timezone from the start of START to the end of END (both
// included; START may equal END for one day), or two RFC3339 instants
// (2027-02-10T18:00:00+08:00), which freeze [START, END): START is frozen,
// END is not, and END must be after START.
//
// outside says what a deploy does when it is not allowed now: "wait"
// (the default) waits on a durable timer until Next; "refuse" exits with
// code 4 and touches nothing.
//
// # Wall clock and daylight saving time
//
// An instant is inside a window when the zone's wall clock at that instant
// shows a day and a time inside it, and frozen when the wall clock shows a
// date inside a date freeze. So on a day the clocks go forward, a window
// starting in the skipped hour opens when the clock jumps past it ("Sun
// 02:30-04:00" in Europe/Berlin on 2026-03-29 opens at 03:00 CEST), and a
// window in the repeated hour of a day the clocks go back is open in both
// passes of that hour.
//
// # Time zone data
//
// The package imports time/tzdata, so a zone loads on machines without a
// zone database (scratch and distroless containers, Windows). Go still
// prefers $ZONEINFO and then the system's /usr/share/zoneinfo when they
// hold the zone; the embedded copy is the fallback. Two machines with
// different zone databases can therefore disagree about a zone whose rules
// changed between the two versions.
//
// # In a workflow
//
// The workflow input carries the Spec, not a Windows, and the workflow calls
// Parse on it. Parse reads the zone database (see above), which does not
// change while a worker runs, so a worker always compiles the same Windows;
// Allowed, Next, Until and Describe are arithmetic only. A history replayed
// on a worker whose zone database has other rules for the zone could
// compute other answers: where that matters, record the decision (Next's
// result, for example, with workflow.SideEffect) instead of computing it
// again.
package window

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	// Embeds the zone database (about 450 KB) as the fallback for machines
	// that have none, so Parse does not fail on them; see the package doc.
	_ "time/tzdata"
)

// Values of Spec.Outside.
const (
	OutsideWait   = "wait"   // wait for the next allowed instant (the default)
	OutsideRefuse = "refuse" // refuse the deploy, exit 4, touch nothing
)

// Horizon is how far ahead Next and Until look. Past it, an allowed instant
// is as good as none: the windows are a mistake, not a plan.
const Horizon = 400 * 24 * time.Hour

// Spec is the windows block as hoist.yml writes it, and its wire form in
// the workflow input: the strings as written, so the workflow compiles the
// same Windows with Parse that the CLI checked.
type Spec struct {
	Timezone string   `json:"timezone,omitempty"` // IANA name; empty is UTC
	Allow    []string `json:"allow,omitempty"`    // "DAYS HH:MM-HH:MM"; empty allows everything not frozen
	Freeze   []string `json:"freeze,omitempty"`   // "YYYY-MM-DD/YYYY-MM-DD" or "RFC3339/RFC3339"
	Outside  string   `json:"outside,omitempty"`  // OutsideWait (default) or OutsideRefuse
}

// Error is one problem in a Spec: the field ("windows.allow[1]"), the value
// or entry as written, and what is wrong with it. Parse returns *Error, or
// several joined with errors.Join.
type Error struct {
	Field string
	Entry string
	Msg   string
}

// Error renders the problem as FIELD "ENTRY": MSG.
func (e *Error) Error() string {
	return e.Field + " " + strconv.Quote(e.Entry) + ": " + e.Msg
}

// Windows is a compiled Spec. A nil *Windows is no windows block: every
// instant is allowed.
type Windows struct {
	loc     *time.Location
	allow   []allowWindow
	freezes []freeze
	outside string
	// marks are the wall-clock times of day, from midnight, at which being
	// allowed may change: midnight and every window's start and end.
	marks []time.Duration
}

// allowWindow is one allow entry: on each day in days, from start to end
// after that day's midnight. end is at most 24h, or up to 48h for a window
// that crosses midnight into the next day.
type allowWindow struct {
	entry      string
	days       [7]bool // indexed by time.Weekday
	start, end time.Duration
}

// freeze is one freeze entry: whole wall-clock dates first..last (dates
// true), or the instants [from, to).
type freeze struct {
	entry       string
	dates       bool
	first, last int // civil dates as YYYYMMDD, so that they compare in order
	from, to    time.Time
}

// Parse checks spec and compiles it. Every problem is reported, each as an
// *Error naming its field and entry.
func Parse(spec Spec) (*Windows, error) {
	var errs []error
	bad := func(field, entry, format string, args ...any) {
		errs = append(errs, &Error{Field: field, Entry: entry, Msg: fmt.Sprintf(format, args...)})
	}
	w := &Windows{outside: OutsideWait}

	switch tz := spec.Timezone; tz {
	case "Local":
		bad("windows.timezone", tz, "is the zone of whichever machine runs hoist, and the CLI and the worker may differ; name an IANA zone like Europe/Berlin or UTC")
	default:
		loc, err := time.LoadLocation(tz)
		if err != nil {
			bad("windows.timezone", tz, "is not a known time zone; want an IANA name like Europe/Berlin, Asia/Shanghai or UTC")
		}
		w.loc = loc
	}

	marks := []time.Duration{0}
	for i, entry := range spec.Allow {
		a, msg := parseAllow(entry)
		if msg != "" {
			bad(fmt.Sprintf("windows.allow[%d]", i), entry, "%s", msg)
			continue
		}
		w.allow = append(w.allow, a)
		marks = append(marks, a.start, a.end%(24*time.Hour))
	}
	slices.Sort(marks)
	w.marks = slices.Compact(marks)

	for i, entry := range spec.Freeze {
		f, msg := parseFreeze(entry)
		if msg != "" {
			bad(fmt.Sprintf("windows.freeze[%d]", i), entry, "%s", msg)
			continue
		}
		w.freezes = append(w.freezes, f)
	}

	switch spec.Outside {
	case "", OutsideWait:
	case OutsideRefuse:
		w.outside = OutsideRefuse
	default:
		bad("windows.outside", spec.Outside, "must be %s or %s", OutsideWait, OutsideRefuse)
	}

	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return w, nil
}

// Outside is what a deploy does when it is not allowed now: OutsideWait or
// OutsideRefuse. No windows block waits, though it never has to.
func (w *Windows) Outside() string {
	if w == nil {
		return OutsideWait
	}
	return w.outside
}

// Location is the zone the windows are read in; UTC for no windows block.
func (w *Windows) Location() *time.Location {
	if w == nil {
		return time.UTC
	}
	return w.loc
}
