package window

import (
	"testing"
	"time"
)

// The example: weekday afternoons in Shanghai, frozen over the
// new year. 2026-12-03 is a Thursday.
var shanghai = Spec{
	Timezone: "Asia/Shanghai",
	Allow:    []string{"Mon-Thu 10:00-16:00"},
	Freeze:   []string{"2026-12-20/2027-01-04"},
}

func mustParse(t testing.TB, spec Spec) *Windows {
	t.Helper()
	w, err := Parse(spec)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func instant(t testing.TB, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// show writes a result with the offset it carries, so that the tests also
// check that results are in the windows' zone; "" for none.
func show(v time.Time, ok bool) string {
	if !ok {
		return ""
	}
	return v.Format(time.RFC3339Nano) + " " + v.Location().String()
}

func TestAllowed(t *testing.T) {
	utc := func(allow ...string) Spec { return Spec{Allow: allow} }
	cases := []struct {
		name string
		spec Spec
		at   string
		want bool
	}{
		{"inside", shanghai, "2026-12-03T12:00:00+08:00", true},
		{"at the start", shanghai, "2026-12-03T10:00:00+08:00", true},
		{"just before the start", shanghai, "2026-12-03T09:59:59.999999999+08:00", false},
		{"just before the end", shanghai, "2026-12-03T15:59:59.999999999+08:00", true},
		{"at the end", shanghai, "2026-12-03T16:00:00+08:00", false},
		{"read in the zone, whatever zone t is in", shanghai, "2026-12-03T02:00:00Z", true},
		{"Friday", shanghai, "2026-12-04T12:00:00+08:00", false},
		{"Monday", shanghai, "2026-12-07T10:00:00+08:00", true},
		{"frozen on the first day", shanghai, "2026-12-21T12:00:00+08:00", false},
		{"frozen on the last day", shanghai, "2027-01-04T15:00:00+08:00", false},
		{"the day after the freeze", shanghai, "2027-01-05T10:00:00+08:00", true},
		{"wrapping range, Sunday", utc("Fri-Mon 09:00-17:00"), "2026-12-06T12:00:00Z", true},
		{"wrapping range, Tuesday", utc("Fri-Mon 09:00-17:00"), "2026-12-08T12:00:00Z", false},
		{"overnight, the evening it starts", utc("Fri 22:00-02:00"), "2026-12-04T23:00:00Z", true},
		{"overnight, the next morning", utc("Fri 22:00-02:00"), "2026-12-05T01:59:00Z", true},
		{"overnight, its end", utc("Fri 22:00-02:00"), "2026-12-05T02:00:00Z", false},
		{"overnight belongs to its start day, not the day before", utc("Fri 22:00-02:00"), "2026-12-04T01:00:00Z", false},
		{"ends at midnight", utc("Sun 22:00-00:00"), "2026-12-06T23:59:59Z", true},
		{"ends at midnight, midnight", utc("Sun 22:00-00:00"), "2026-12-07T00:00:00Z", false},
		{"24:00 end", utc("Sun 22:00-24:00"), "2026-12-07T00:00:00Z", false},
		{"second entry", utc("Mon 10:00-11:00", "Tue 10:00-11:00"), "2026-12-08T10:30:00Z", true},
		{"no allow entries: all allowed", Spec{}, "2026-12-08T10:30:00Z", true},
		{"no allow entries, frozen", Spec{Freeze: []string{"2026-12-08/2026-12-08"}}, "2026-12-08T23:59:59Z", false},
		{"instant freeze starts frozen", Spec{Freeze: []string{"2026-12-08T10:00:00Z/2026-12-08T11:00:00Z"}}, "2026-12-08T10:00:00Z", false},
		{"instant freeze ends unfrozen", Spec{Freeze: []string{"2026-12-08T10:00:00Z/2026-12-08T11:00:00Z"}}, "2026-12-08T11:00:00Z", true},
		{"date freeze read in the zone", Spec{Timezone: "Asia/Shanghai", Freeze: []string{"2026-12-08/2026-12-08"}}, "2026-12-07T16:00:00Z", false},
		{"date freeze read in the zone, the day before", Spec{Timezone: "Asia/Shanghai", Freeze: []string{"2026-12-08/2026-12-08"}}, "2026-12-07T15:59:59Z", true},
		{"Berlin skipped hour: clock shows 03:00", Spec{Timezone: "Europe/Berlin", Allow: []string{"Sun 02:30-04:00"}}, "2026-03-29T01:00:00Z", true},
		{"Berlin skipped hour: just before", Spec{Timezone: "Europe/Berlin", Allow: []string{"Sun 02:30-04:00"}}, "2026-03-29T00:59:59Z", false},
		{"Berlin repeated hour, first pass", Spec{Timezone: "Europe/Berlin", Allow: []string{"Sun 02:00-02:30"}}, "2026-10-25T00:15:00Z", true},
		{"Berlin repeated hour, between passes", Spec{Timezone: "Europe/Berlin", Allow: []string{"Sun 02:00-02:30"}}, "2026-10-25T00:45:00Z", false},
		{"Berlin repeated hour, second pass", Spec{Timezone: "Europe/Berlin", Allow: []string{"Sun 02:00-02:30"}}, "2026-10-25T01:15:00Z", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := mustParse(t, c.spec).Allowed(instant(t, c.at)); got != c.want {
				t.Errorf("Allowed(%s) = %v, want %v", c.at, got, c.want)
			}
		})
	}
	var none *Windows
	if !none.Allowed(instant(t, "2026-12-08T10:30:00Z")) {
		t.Error("nil windows: not allowed")
	}
}

func TestNext(t *testing.T) {
	berlin := func(allow ...string) Spec { return Spec{Timezone: "Europe/Berlin", Allow: allow} }
	newYork := func(allow ...string) Spec { return Spec{Timezone: "America/New_York", Allow: allow} }
	cases := []struct {
		name string
		spec Spec
		at   string
		want string // "" for none within Horizon
	}{
		{"inside: now", shanghai, "2026-12-03T12:00:00+08:00", "2026-12-03T12:00:00+08:00 Asia/Shanghai"},
		{"inside, given in UTC: now, in the zone", shanghai, "2026-12-03T04:00:00Z", "2026-12-03T12:00:00+08:00 Asia/Shanghai"},
		{"exactly at the start", shanghai, "2026-12-03T10:00:00+08:00", "2026-12-03T10:00:00+08:00 Asia/Shanghai"},
		{"before the start", shanghai, "2026-12-03T09:30:00+08:00", "2026-12-03T10:00:00+08:00 Asia/Shanghai"},
		{"a nanosecond before the start", shanghai, "2026-12-03T09:59:59.999999999+08:00", "2026-12-03T10:00:00+08:00 Asia/Shanghai"},
		{"a nanosecond before the end", shanghai, "2026-12-03T15:59:59.999999999+08:00", "2026-12-03T15:59:59.999999999+08:00 Asia/Shanghai"},
		{"exactly at the end: Thursday is the last day, skip to Monday", shanghai, "2026-12-03T16:00:00+08:00", "2026-12-07T10:00:00+08:00 Asia/Shanghai"},
		{"after the end of the day", shanghai, "2026-12-02T17:00:00+08:00", "2026-12-03T10:00:00+08:00 Asia/Shanghai"},
		{"before midnight, given in UTC on the day before", shanghai, "2026-12-02T15:59:00Z", "2026-12-03T10:00:00+08:00 Asia/Shanghai"},
		{"weekend", shanghai, "2026-12-05T12:00:00+08:00", "2026-12-07T10:00:00+08:00 Asia/Shanghai"},
		{"freeze ahead overlaps the allowed days", shanghai, "2026-12-17T17:00:00+08:00", "2027-01-05T10:00:00+08:00 Asia/Shanghai"},
		{"inside the freeze", shanghai, "2026-12-28T11:00:00+08:00", "2027-01-05T10:00:00+08:00 Asia/Shanghai"},

		{"wrapping range: Tuesday to Friday", Spec{Allow: []string{"Fri-Mon 09:00-17:00"}}, "2026-12-08T10:00:00Z", "2026-12-11T09:00:00Z UTC"},
		{"wrapping range: Sunday inside", Spec{Allow: []string{"Fri-Mon 09:00-17:00"}}, "2026-12-06T16:59:00Z", "2026-12-06T16:59:00Z UTC"},
		{"wrapping range: Monday's end", Spec{Allow: []string{"Fri-Mon 09:00-17:00"}}, "2026-12-07T17:00:00Z", "2026-12-11T09:00:00Z UTC"},
		{"overnight: inside after midnight", Spec{Allow: []string{"Fri 22:00-02:00"}}, "2026-12-05T01:59:00Z", "2026-12-05T01:59:00Z UTC"},
		{"overnight: its end, a week on", Spec{Allow: []string{"Fri 22:00-02:00"}}, "2026-12-05T02:00:00Z", "2026-12-11T22:00:00Z UTC"},
		{"overnight: Thursday night is not Friday's", Spec{Allow: []string{"Fri 22:00-02:00"}}, "2026-12-03T23:00:00Z", "2026-12-04T22:00:00Z UTC"},
		{"two windows: the earlier one", Spec{Allow: []string{"Sat 10:00-11:00", "Thu 18:00-19:00"}}, "2026-12-03T12:00:00Z", "2026-12-03T18:00:00Z UTC"},

		{"instant freeze: wait for its end", Spec{Timezone: "Asia/Shanghai", Allow: []string{"Mon-Thu 10:00-16:00"}, Freeze: []string{"2026-12-03T11:00:00+08:00/2026-12-03T12:30:15+08:00"}},
			"2026-12-03T11:00:00+08:00", "2026-12-03T12:30:15+08:00 Asia/Shanghai"},
		{"instant freeze ending outside allow: the next window", Spec{Timezone: "Asia/Shanghai", Allow: []string{"Mon-Thu 10:00-16:00"}, Freeze: []string{"2026-12-03T11:00:00+08:00/2026-12-03T17:00:00+08:00"}},
			"2026-12-03T11:00:00+08:00", "2026-12-07T10:00:00+08:00 Asia/Shanghai"},
		{"two freezes back to back", Spec{Freeze: []string{"2026-12-03/2026-12-04", "2026-12-05T00:00:00Z/2026-12-05T06:00:00Z", "2026-12-05/2026-12-05"}},
			"2026-12-03T11:00:00Z", "2026-12-06T00:00:00Z UTC"},
		{"no allow entries: the end of the freeze", Spec{Timezone: "Asia/Shanghai", Freeze: []string{"2026-12-20/2027-01-04"}},
			"2026-12-25T11:00:00Z", "2027-01-05T00:00:00+08:00 Asia/Shanghai"},
		{"frozen for ever", Spec{Freeze: []string{"2026-01-01/2099-12-31"}}, "2026-12-03T11:00:00Z", ""},
		{"frozen for ever, with allow", Spec{Allow: []string{"daily 00:00-24:00"}, Freeze: []string{"2026-01-01/2099-12-31"}}, "2026-12-03T11:00:00Z", ""},
		{"allowed only after the horizon", Spec{Allow: []string{"Mon 10:00-11:00"}, Freeze: []string{"2026-12-01/2028-01-10"}}, "2026-12-03T11:00:00Z", ""},
		{"allowed just inside the horizon", Spec{Freeze: []string{"2026-12-01T00:00:00Z/2028-01-07T11:00:00Z"}}, "2026-12-03T11:00:00Z", "2028-01-07T11:00:00Z UTC"},
		{"allowed just past the horizon", Spec{Freeze: []string{"2026-12-01T00:00:00Z/2028-01-07T11:00:01Z"}}, "2026-12-03T11:00:00Z", ""},

		// Europe/Berlin: 2026-03-29 02:00 CET jumps to 03:00 CEST;
		// 2026-10-25 03:00 CEST goes back to 02:00 CET.
		{"Berlin spring: daily window the morning after", berlin("daily 09:00-17:00"), "2026-03-28T18:00:00+01:00", "2026-03-29T09:00:00+02:00 Europe/Berlin"},
		{"Berlin spring: window starting in the skipped hour opens at the jump", berlin("Sun 02:30-04:00"), "2026-03-29T00:00:00+01:00", "2026-03-29T03:00:00+02:00 Europe/Berlin"},
		{"Berlin spring: window inside the skipped hour waits a week", berlin("Sun 02:00-03:00"), "2026-03-29T00:00:00+01:00", "2026-04-05T02:00:00+02:00 Europe/Berlin"},
		{"Berlin autumn: first pass of the repeated hour", berlin("Sun 02:00-02:30"), "2026-10-25T00:00:00+02:00", "2026-10-25T02:00:00+02:00 Europe/Berlin"},
		{"Berlin autumn: second pass of the repeated hour", berlin("Sun 02:00-02:30"), "2026-10-25T02:30:00+02:00", "2026-10-25T02:00:00+01:00 Europe/Berlin"},
		{"Berlin autumn: after both passes, next week", berlin("Sun 02:00-02:30"), "2026-10-25T02:30:00+01:00", "2026-11-01T02:00:00+01:00 Europe/Berlin"},
		{"Berlin autumn: daily window the morning after", berlin("daily 09:00-17:00"), "2026-10-24T18:00:00+02:00", "2026-10-25T09:00:00+01:00 Europe/Berlin"},
		{"Berlin: date freeze over the spring day", Spec{Timezone: "Europe/Berlin", Freeze: []string{"2026-03-29/2026-03-29"}}, "2026-03-29T12:00:00+02:00", "2026-03-30T00:00:00+02:00 Europe/Berlin"},

		// America/New_York: 2026-03-08 02:00 EST jumps to 03:00 EDT;
		// 2026-11-01 02:00 EDT goes back to 01:00 EST.
		{"New York: weekend across spring forward", newYork("Mon-Fri 09:00-17:00"), "2026-03-06T17:00:00-05:00", "2026-03-09T09:00:00-04:00 America/New_York"},
		{"New York: weekend across fall back", newYork("Mon-Fri 09:00-17:00"), "2026-10-30T17:00:00-04:00", "2026-11-02T09:00:00-05:00 America/New_York"},
		{"New York: skipped window waits a week", newYork("Sun 02:00-02:30"), "2026-03-08T00:00:00-05:00", "2026-03-15T02:00:00-04:00 America/New_York"},
		{"New York: repeated 01:30, first pass", newYork("Sun 01:30-02:00"), "2026-11-01T00:00:00-04:00", "2026-11-01T01:30:00-04:00 America/New_York"},
		{"New York: repeated 01:30, second pass", newYork("Sun 01:30-02:00"), "2026-11-01T01:00:00-05:00", "2026-11-01T01:30:00-05:00 America/New_York"},

		{"no windows at all: now", Spec{}, "2026-12-03T11:00:00Z", "2026-12-03T11:00:00Z UTC"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := show(mustParse(t, c.spec).Next(instant(t, c.at))); got != c.want {
				t.Errorf("Next(%s)\n got %q\nwant %q", c.at, got, c.want)
			}
		})
	}
	var none *Windows
	at := instant(t, "2026-12-03T11:00:00Z")
	if got, ok := none.Next(at); !ok || !got.Equal(at) {
		t.Errorf("nil windows: Next = %v, %v; want %v, true", got, ok, at)
	}
}

func TestUntil(t *testing.T) {
	cases := []struct {
		name string
		spec Spec
		at   string
		want string // "" for not allowed, or no end within Horizon
	}{
		{"inside", shanghai, "2026-12-03T12:00:00+08:00", "2026-12-03T16:00:00+08:00 Asia/Shanghai"},
		{"at the start", shanghai, "2026-12-03T10:00:00+08:00", "2026-12-03T16:00:00+08:00 Asia/Shanghai"},
		{"a nanosecond before the end", shanghai, "2026-12-03T15:59:59.999999999+08:00", "2026-12-03T16:00:00+08:00 Asia/Shanghai"},
		{"at the end: not allowed", shanghai, "2026-12-03T16:00:00+08:00", ""},
		{"adjacent windows are one period", Spec{Allow: []string{"Mon 10:00-12:00", "Mon 12:00-14:00"}}, "2026-12-07T11:00:00Z", "2026-12-07T14:00:00Z UTC"},
		{"a whole day into the next", Spec{Allow: []string{"Mon-Tue 00:00-24:00"}}, "2026-12-07T11:00:00Z", "2026-12-09T00:00:00Z UTC"},
		{"overnight", Spec{Allow: []string{"Fri 22:00-02:00"}}, "2026-12-04T23:00:00Z", "2026-12-05T02:00:00Z UTC"},
		{"cut short by an instant freeze", Spec{Allow: []string{"daily 00:00-24:00"}, Freeze: []string{"2026-12-07T13:00:00Z/2026-12-07T14:00:00Z"}}, "2026-12-07T11:00:00Z", "2026-12-07T13:00:00Z UTC"},
		{"no allow entries: until the freeze", Spec{Timezone: "Asia/Shanghai", Freeze: []string{"2026-12-20/2027-01-04"}}, "2026-12-03T11:00:00Z", "2026-12-20T00:00:00+08:00 Asia/Shanghai"},
		{"never ends", Spec{}, "2026-12-03T11:00:00Z", ""},
		{"Berlin spring: 01:00-04:00 lasts two hours", Spec{Timezone: "Europe/Berlin", Allow: []string{"Sun 01:00-04:00"}}, "2026-03-29T01:00:00+01:00", "2026-03-29T04:00:00+02:00 Europe/Berlin"},
		{"Berlin autumn: 01:00-04:00 lasts four hours", Spec{Timezone: "Europe/Berlin", Allow: []string{"Sun 01:00-04:00"}}, "2026-10-25T01:00:00+02:00", "2026-10-25T04:00:00+01:00 Europe/Berlin"},
		{"Berlin autumn: first pass ends at 02:30 CEST", Spec{Timezone: "Europe/Berlin", Allow: []string{"Sun 02:00-02:30"}}, "2026-10-25T02:00:00+02:00", "2026-10-25T02:30:00+02:00 Europe/Berlin"},
		{"New York: the clock going back ends 01:30-02:00", Spec{Timezone: "America/New_York", Allow: []string{"Sun 01:30-02:00"}}, "2026-11-01T01:30:00-04:00", "2026-11-01T01:00:00-05:00 America/New_York"},
		{"New York: second pass ends at 02:00 EST", Spec{Timezone: "America/New_York", Allow: []string{"Sun 01:30-02:00"}}, "2026-11-01T01:30:00-05:00", "2026-11-01T02:00:00-05:00 America/New_York"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := show(mustParse(t, c.spec).Until(instant(t, c.at))); got != c.want {
				t.Errorf("Until(%s)\n got %q\nwant %q", c.at, got, c.want)
			}
		})
	}
	var none *Windows
	if got, ok := none.Until(instant(t, "2026-12-03T11:00:00Z")); ok {
		t.Errorf("nil windows: Until = %v, true; want no end", got)
	}
}
