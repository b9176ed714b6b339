package window

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// Zones with something to trip over: daylight saving time both ways, a
// 30-minute shift (Lord_Howe), a 45-minute offset (Kathmandu), clocks that
// jumped at midnight (Sao_Paulo until 2019) and a skipped day (Apia,
// 2011-12-30).
var fuzzZones = []string{"UTC", "Europe/Berlin", "America/New_York", "Asia/Shanghai",
	"Australia/Lord_Howe", "Asia/Kathmandu", "America/Sao_Paulo", "Pacific/Apia"}

// fuzzSpan bounds the minute-by-minute check after t: a little over a week,
// so that weekly windows are seen whole.
const fuzzSpan = 8 * day

// fuzzWindows builds windows from fuzzed numbers: up to two allow entries
// (day bits, start and end minutes) and an optional freeze near at.
func fuzzWindows(zone uint8, mask1 uint8, start1, end1 uint16, mask2 uint8, start2, end2 uint16,
	freezeKind uint8, freezeFrom int32, freezeLen uint32, at time.Time) (Spec, error) {
	spec := Spec{Timezone: fuzzZones[int(zone)%len(fuzzZones)]}
	for _, e := range []struct {
		mask       uint8
		start, end uint16
	}{{mask1, start1, end1}, {mask2, start2, end2}} {
		if e.mask&127 == 0 {
			continue
		}
		var days []string
		for d, name := range dayNames {
			if e.mask&(1<<d) != 0 {
				days = append(days, name)
			}
		}
		start, end := int(e.start)%1440, int(e.end)%1441
		spec.Allow = append(spec.Allow, strings.Join(days, ",")+" "+clockText(start)+"-"+clockText(end))
	}
	loc, err := time.LoadLocation(spec.Timezone)
	if err != nil {
		return spec, err
	}
	switch freezeKind % 3 {
	case 1: // whole days, from 10 days before at's date to 50 after
		first := at.In(loc).AddDate(0, 0, int(freezeFrom%61)-10)
		last := first.AddDate(0, 0, int(freezeLen%31))
		spec.Freeze = []string{first.Format("2006-01-02") + "/" + last.Format("2006-01-02")}
	case 2: // instants, from 5 days before at to 5 days after, up to 20 days long
		from := at.Truncate(time.Minute).Add(time.Duration(freezeFrom%(10*1440)-5*1440) * time.Minute)
		to := from.Add(time.Duration(freezeLen%(20*1440)+1) * time.Minute)
		spec.Freeze = []string{from.UTC().Format(time.RFC3339) + "/" + to.UTC().Format(time.RFC3339)}
	}
	_, err = Parse(spec)
	return spec, err
}

func clockText(minutes int) string {
	return string([]byte{byte('0' + minutes/600), byte('0' + minutes/60%10), ':', byte('0' + minutes%60/10), byte('0' + minutes%10)})
}

// FuzzNext checks Next and Until against Allowed: Next(t) is allowed, not
// before t, and no minute from t up to it is allowed; Until(t) is not
// allowed, after t, and every minute from t up to it is.
func FuzzNext(f *testing.F) {
	const mon, fri, sat, sun = 1 << 1, 1 << 5, 1 << 6, 1 << 0
	seed := func(zone, mask1 uint8, start1, end1 uint16, mask2 uint8, start2, end2 uint16, freezeKind uint8, freezeFrom int32, freezeLen uint32, at string) {
		v, err := time.Parse(time.RFC3339Nano, at)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(zone, mask1, start1, end1, mask2, start2, end2, freezeKind, freezeFrom, freezeLen, v.Unix(), int32(v.Nanosecond()))
	}
	seed(3, 0b0011110, 600, 960, 0, 0, 0, 1, 17, 15, "2026-12-03T17:00:00+08:00")       // the example
	seed(1, sun, 150, 240, 0, 0, 0, 0, 0, 0, "2026-03-29T00:00:00+01:00")               // Berlin spring, skipped hour
	seed(1, sun, 120, 150, 0, 0, 0, 0, 0, 0, "2026-10-25T00:00:00+02:00")               // Berlin autumn, repeated hour
	seed(2, sun, 90, 120, mon|fri, 540, 1020, 2, 100, 300, "2026-11-01T00:00:00-04:00") // New York fall back
	seed(2, 127, 0, 1440, 0, 0, 0, 1, 10, 30, "2026-03-08T01:59:00-05:00")              // every day, frozen
	seed(0, fri, 1320, 120, sat, 120, 180, 0, 0, 0, "2026-12-04T21:59:59.5Z")           // overnight then adjacent
	seed(4, 127, 90, 150, 0, 0, 0, 0, 0, 0, "2026-10-04T01:00:00+10:30")                // Lord Howe +30 min
	seed(5, mon, 345, 400, 0, 0, 0, 2, 7000, 100, "2026-12-06T00:00:00+05:45")          // Kathmandu
	seed(6, sun, 0, 60, 0, 0, 0, 1, 10, 0, "2018-11-03T23:30:00-03:00")                 // Sao Paulo, midnight skipped
	seed(7, fri, 600, 700, sat, 0, 1440, 0, 0, 0, "2011-12-29T12:00:00-10:00")          // Apia, Friday skipped
	seed(0, 0, 0, 0, 0, 0, 0, 2, 0, 1, "2026-12-03T11:00:00Z")                          // only an instant freeze
	seed(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, "2026-12-03T11:00:00Z")                          // nothing at all

	base := time.Date(2010, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	const years = 30 * 365 * 24 * 3600
	f.Fuzz(func(t *testing.T, zone, mask1 uint8, start1, end1 uint16, mask2 uint8, start2, end2 uint16,
		freezeKind uint8, freezeFrom int32, freezeLen uint32, unix int64, nanos int32) {
		at := time.Unix(base+((unix-base)%years+years)%years, int64(nanos)%1e9)
		spec, err := fuzzWindows(zone, mask1, start1, end1, mask2, start2, end2, freezeKind, freezeFrom, freezeLen, at)
		if err != nil {
			t.Skip(err) // an empty window, or a freeze the fuzzer cannot write
		}
		w := mustParse(t, spec)

		next, ok := w.Next(at)
		stop := at.Add(fuzzSpan)
		if ok {
			switch {
			case !w.Allowed(next):
				t.Fatalf("%+v: Next(%v) = %v is not allowed", spec, at, next)
			case next.Before(at) || next.Sub(at) > Horizon:
				t.Fatalf("%+v: Next(%v) = %v is not within Horizon after t", spec, at, next)
			case next.Location() != w.Location():
				t.Fatalf("%+v: Next(%v) = %v is not in %v", spec, at, next, w.Location())
			case next.After(at) && w.Allowed(next.Add(-1)):
				t.Fatalf("%+v: Next(%v) = %v, but a nanosecond earlier is allowed", spec, at, next)
			}
			stop = minTime(stop, next)
		}
		if next.After(at) || !ok {
			if w.Allowed(at) {
				t.Fatalf("%+v: Next(%v) = %v, %v, but t is allowed", spec, at, next, ok)
			}
			for g := at.Truncate(time.Minute).Add(time.Minute); g.Before(stop); g = g.Add(time.Minute) {
				if w.Allowed(g) {
					t.Fatalf("%+v: Next(%v) = %v, %v, but %v is allowed", spec, at, next, ok, g)
				}
			}
		}

		until, ok := w.Until(at)
		if !w.Allowed(at) {
			if ok {
				t.Fatalf("%+v: Until(%v) = %v for a t that is not allowed", spec, at, until)
			}
			return
		}
		stop = at.Add(fuzzSpan)
		if ok {
			switch {
			case w.Allowed(until):
				t.Fatalf("%+v: Until(%v) = %v is allowed", spec, at, until)
			case !until.After(at) || until.Sub(at) > Horizon:
				t.Fatalf("%+v: Until(%v) = %v is not within Horizon after t", spec, at, until)
			case !w.Allowed(until.Add(-1)):
				t.Fatalf("%+v: Until(%v) = %v, but a nanosecond earlier is not allowed", spec, at, until)
			}
			stop = minTime(stop, until)
		}
		for g := at.Truncate(time.Minute).Add(time.Minute); g.Before(stop); g = g.Add(time.Minute) {
			if !w.Allowed(g) {
				t.Fatalf("%+v: Until(%v) = %v, %v, but %v is not allowed", spec, at, until, ok, g)
			}
		}
	})
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// FuzzParse feeds Parse arbitrary entries: it never panics, reports only
// *Error problems, and what it accepts can be searched.
func FuzzParse(f *testing.F) {
	f.Add("Mon-Thu 10:00-16:00", "2026-12-20/2027-01-04", "wait")
	f.Add("Fri-Mon 22:00-02:00", "2027-02-10T18:00:00+08:00/2027-02-11T09:00:00+08:00", "refuse")
	f.Add("daily 00:00-24:00", "2026-12-20/2026-12-20", "")
	f.Add("Mon,,Tue 9:00-25:00", "2026-02-30/x", "later")
	f.Fuzz(func(t *testing.T, allow, freeze, outside string) {
		w, err := Parse(Spec{Timezone: "Europe/Berlin", Allow: []string{allow}, Freeze: []string{freeze}, Outside: outside})
		if err != nil {
			if w != nil {
				t.Fatalf("windows %+v returned with error %v", w, err)
			}
			var joined interface{ Unwrap() []error }
			if !errors.As(err, &joined) {
				t.Fatalf("error %v is not joined problems", err)
			}
			for _, e := range joined.Unwrap() {
				if _, ok := e.(*Error); !ok {
					t.Fatalf("problem %v is a %T, not *Error", e, e)
				}
			}
			return
		}
		at := time.Date(2026, 10, 24, 12, 0, 0, 0, time.UTC)
		if next, ok := w.Next(at); ok && !w.Allowed(next) {
			t.Fatalf("Next(%v) = %v is not allowed", at, next)
		}
		_ = w.Describe(at)
	})
}
