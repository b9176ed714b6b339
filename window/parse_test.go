package window

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"
)

func TestParseErrors(t *testing.T) {
	cases := []struct {
		name string
		spec Spec
		want string
	}{
		{"Local zone", Spec{Timezone: "Local"},
			`windows.timezone "Local": is the zone of whichever machine runs hoist, and the CLI and the worker may differ; name an IANA zone like Europe/Berlin or UTC`},
		{"unknown zone", Spec{Timezone: "Mars/Olympus"},
			`windows.timezone "Mars/Olympus": is not a known time zone; want an IANA name like Europe/Berlin, Asia/Shanghai or UTC`},
		{"zone as a path", Spec{Timezone: "../etc/passwd"},
			`windows.timezone "../etc/passwd": is not a known time zone; want an IANA name like Europe/Berlin, Asia/Shanghai or UTC`},

		{"allow empty entry", Spec{Allow: []string{""}},
			`windows.allow[0] "": want DAYS HH:MM-HH:MM, like "Mon-Fri 09:00-17:00" (no spaces inside DAYS)`},
		{"allow without times", Spec{Allow: []string{"Mon-Fri"}},
			`windows.allow[0] "Mon-Fri": want DAYS HH:MM-HH:MM, like "Mon-Fri 09:00-17:00" (no spaces inside DAYS)`},
		{"allow with a space in the days", Spec{Allow: []string{"Mon, Tue 10:00-12:00"}},
			`windows.allow[0] "Mon, Tue 10:00-12:00": want DAYS HH:MM-HH:MM, like "Mon-Fri 09:00-17:00" (no spaces inside DAYS)`},
		{"allow with spaced times", Spec{Allow: []string{"Mon 10:00 - 12:00"}},
			`windows.allow[0] "Mon 10:00 - 12:00": want DAYS HH:MM-HH:MM, like "Mon-Fri 09:00-17:00" (no spaces inside DAYS)`},
		{"unknown day", Spec{Allow: []string{"Mo 10:00-12:00"}},
			`windows.allow[0] "Mo 10:00-12:00": day "Mo" is not one of Mon, Tue, Wed, Thu, Fri, Sat, Sun (or daily)`},
		{"full day name", Spec{Allow: []string{"Monday 10:00-12:00"}},
			`windows.allow[0] "Monday 10:00-12:00": day "Monday" is not one of Mon, Tue, Wed, Thu, Fri, Sat, Sun (or daily)`},
		{"unknown range end", Spec{Allow: []string{"Mon-Fry 10:00-12:00"}},
			`windows.allow[0] "Mon-Fry 10:00-12:00": day "Fry" is not one of Mon, Tue, Wed, Thu, Fri, Sat, Sun (or daily)`},
		{"trailing comma", Spec{Allow: []string{"Mon, 10:00-12:00"}},
			`windows.allow[0] "Mon, 10:00-12:00": days "Mon," have an empty day; want days like Mon, Mon-Fri, Sat,Sun or daily`},
		{"empty day in the list", Spec{Allow: []string{"Mon,,Tue 10:00-12:00"}},
			`windows.allow[0] "Mon,,Tue 10:00-12:00": days "Mon,,Tue" have an empty day; want days like Mon, Mon-Fri, Sat,Sun or daily`},
		{"open range", Spec{Allow: []string{"Mon- 10:00-12:00"}},
			`windows.allow[0] "Mon- 10:00-12:00": days "Mon-" have an empty day; want days like Mon, Mon-Fri, Sat,Sun or daily`},
		{"one time only", Spec{Allow: []string{"Mon 10:00"}},
			`windows.allow[0] "Mon 10:00": times "10:00" are not HH:MM-HH:MM`},
		{"start one digit hour", Spec{Allow: []string{"Mon 9:00-12:00"}},
			`windows.allow[0] "Mon 9:00-12:00": start time 9:00 is not HH:MM between 00:00 and 23:59`},
		{"start 24:00", Spec{Allow: []string{"Mon 24:00-02:00"}},
			`windows.allow[0] "Mon 24:00-02:00": start time 24:00 is not HH:MM between 00:00 and 23:59`},
		{"start minute 60", Spec{Allow: []string{"Mon 10:60-12:00"}},
			`windows.allow[0] "Mon 10:60-12:00": start time 10:60 is not HH:MM between 00:00 and 23:59`},
		{"start without colon", Spec{Allow: []string{"Mon 1000-12:00"}},
			`windows.allow[0] "Mon 1000-12:00": start time 1000 is not HH:MM between 00:00 and 23:59`},
		{"end 26:00", Spec{Allow: []string{"Mon 10:00-12:00", "Mon-Thu 10:00-26:00"}},
			`windows.allow[1] "Mon-Thu 10:00-26:00": end time 26:00 is not HH:MM between 00:00 and 24:00`},
		{"end 24:01", Spec{Allow: []string{"Mon 10:00-24:01"}},
			`windows.allow[0] "Mon 10:00-24:01": end time 24:01 is not HH:MM between 00:00 and 24:00`},
		{"end with seconds", Spec{Allow: []string{"Mon 10:00-12:00:00"}},
			`windows.allow[0] "Mon 10:00-12:00:00": end time 12:00:00 is not HH:MM between 00:00 and 24:00`},
		{"three times", Spec{Allow: []string{"Mon 10:00-12:00-14:00"}},
			`windows.allow[0] "Mon 10:00-12:00-14:00": end time 12:00-14:00 is not HH:MM between 00:00 and 24:00`},
		{"end with letters", Spec{Allow: []string{"Mon 10:00-1x:00"}},
			`windows.allow[0] "Mon 10:00-1x:00": end time 1x:00 is not HH:MM between 00:00 and 24:00`},
		{"empty window", Spec{Allow: []string{"daily 10:00-10:00"}},
			`windows.allow[0] "daily 10:00-10:00": starts and ends at 10:00, so it is empty; the whole day is 00:00-24:00`},
		{"00:00-00:00 is empty too", Spec{Allow: []string{"daily 00:00-00:00"}},
			`windows.allow[0] "daily 00:00-00:00": starts and ends at 00:00, so it is empty; the whole day is 00:00-24:00`},

		{"freeze without slash", Spec{Freeze: []string{"2026-12-20"}},
			`windows.freeze[0] "2026-12-20": want START/END, two dates like "2026-12-20/2027-01-04" or two RFC3339 instants like "2027-02-10T18:00:00+08:00/2027-02-11T09:00:00+08:00"`},
		{"freeze with two slashes", Spec{Freeze: []string{"2026-12-20/2026-12-24/2027-01-04"}},
			`windows.freeze[0] "2026-12-20/2026-12-24/2027-01-04": want START/END, two dates like "2026-12-20/2027-01-04" or two RFC3339 instants like "2027-02-10T18:00:00+08:00/2027-02-11T09:00:00+08:00"`},
		{"freeze date and instant", Spec{Freeze: []string{"2026-12-20/2027-01-04T09:00:00Z"}},
			`windows.freeze[0] "2026-12-20/2027-01-04T09:00:00Z": start and end must both be dates YYYY-MM-DD or both RFC3339 instants`},
		{"freeze start not a date", Spec{Freeze: []string{"2026-02-30/2026-03-02"}},
			`windows.freeze[0] "2026-02-30/2026-03-02": start 2026-02-30 is not a date YYYY-MM-DD`},
		{"freeze end not a date", Spec{Freeze: []string{"2026-12-20/2027-13-01"}},
			`windows.freeze[0] "2026-12-20/2027-13-01": end 2027-13-01 is not a date YYYY-MM-DD`},
		{"freeze dates backwards", Spec{Freeze: []string{"2027-01-04/2026-12-20"}},
			`windows.freeze[0] "2027-01-04/2026-12-20": end 2026-12-20 is before start 2027-01-04`},
		{"freeze short dates", Spec{Freeze: []string{"2026-1-5/2026-1-6"}},
			`windows.freeze[0] "2026-1-5/2026-1-6": start 2026-1-5 is neither a date YYYY-MM-DD nor an RFC3339 instant like 2027-02-10T18:00:00+08:00`},
		{"freeze instant without zone", Spec{Freeze: []string{"2027-02-10T18:00:00/2027-02-11T09:00:00Z"}},
			`windows.freeze[0] "2027-02-10T18:00:00/2027-02-11T09:00:00Z": start 2027-02-10T18:00:00 is neither a date YYYY-MM-DD nor an RFC3339 instant like 2027-02-10T18:00:00+08:00`},
		{"freeze end instant without zone", Spec{Freeze: []string{"2027-02-10T18:00:00Z/2027-02-11T09:00:00"}},
			`windows.freeze[0] "2027-02-10T18:00:00Z/2027-02-11T09:00:00": end 2027-02-11T09:00:00 is not an RFC3339 instant like 2027-02-11T09:00:00+08:00, as the start is`},
		{"freeze instants equal", Spec{Freeze: []string{"2027-02-10T18:00:00+08:00/2027-02-10T10:00:00Z"}},
			`windows.freeze[0] "2027-02-10T18:00:00+08:00/2027-02-10T10:00:00Z": end 2027-02-10T10:00:00Z must be after start 2027-02-10T18:00:00+08:00: the end instant is not frozen`},
		{"freeze instants backwards", Spec{Freeze: []string{"2027-02-11T09:00:00Z/2027-02-10T18:00:00Z"}},
			`windows.freeze[0] "2027-02-11T09:00:00Z/2027-02-10T18:00:00Z": end 2027-02-10T18:00:00Z must be after start 2027-02-11T09:00:00Z: the end instant is not frozen`},

		{"outside unknown", Spec{Outside: "later"},
			`windows.outside "later": must be wait or refuse`},
		{"outside is case-sensitive", Spec{Outside: "Wait"},
			`windows.outside "Wait": must be wait or refuse`},

		{"every problem is reported, in field order", Spec{
			Timezone: "Nowhere",
			Allow:    []string{"Mon 10:00-12:00", "Sun 25:00-26:00"},
			Freeze:   []string{"2026-12-20/2026-12-19"},
			Outside:  "skip",
		}, `windows.timezone "Nowhere": is not a known time zone; want an IANA name like Europe/Berlin, Asia/Shanghai or UTC
windows.allow[1] "Sun 25:00-26:00": start time 25:00 is not HH:MM between 00:00 and 23:59
windows.freeze[0] "2026-12-20/2026-12-19": end 2026-12-19 is before start 2026-12-20
windows.outside "skip": must be wait or refuse`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w, err := Parse(c.spec)
			if err == nil {
				t.Fatalf("Parse(%+v) = %+v, want error %q", c.spec, w, c.want)
			}
			if w != nil {
				t.Errorf("Parse returned windows %+v with its error", w)
			}
			if err.Error() != c.want {
				t.Errorf("error\n got %s\nwant %s", err, c.want)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Errorf("error %v holds no *Error", err)
			}
		})
	}
}

func TestErrorFields(t *testing.T) {
	_, err := Parse(Spec{Allow: []string{"Mon-Thu 10:00-26:00"}})
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v holds no *Error", err)
	}
	want := Error{Field: "windows.allow[0]", Entry: "Mon-Thu 10:00-26:00", Msg: "end time 26:00 is not HH:MM between 00:00 and 24:00"}
	if *e != want {
		t.Errorf("got %+v, want %+v", *e, want)
	}
}

func TestParseAllow(t *testing.T) {
	const (
		sun = 1 << iota
		mon
		tue
		wed
		thu
		fri
		sat
	)
	h := time.Hour
	m := time.Minute
	cases := []struct {
		entry      string
		days       int
		start, end time.Duration
	}{
		{"Mon 10:00-16:00", mon, 10 * h, 16 * h},
		{"mon 10:00-16:00", mon, 10 * h, 16 * h},
		{"MON-FRI 09:30-17:45", mon | tue | wed | thu | fri, 9*h + 30*m, 17*h + 45*m},
		{"Mon-Thu 10:00-16:00", mon | tue | wed | thu, 10 * h, 16 * h},
		{"Sat,Sun 00:00-24:00", sat | sun, 0, 24 * h},
		{"Mon-Thu,Sat 08:00-09:00", mon | tue | wed | thu | sat, 8 * h, 9 * h},
		{"Fri-Mon 09:00-17:00", fri | sat | sun | mon, 9 * h, 17 * h},
		{"Sat-Fri 09:00-17:00", sat | sun | mon | tue | wed | thu | fri, 9 * h, 17 * h},
		{"Wed-Wed 09:00-17:00", wed, 9 * h, 17 * h},
		{"Mon,Mon-Tue 09:00-17:00", mon | tue, 9 * h, 17 * h},
		{"daily 00:00-24:00", sun | mon | tue | wed | thu | fri | sat, 0, 24 * h},
		{"Daily 12:00-13:00", sun | mon | tue | wed | thu | fri | sat, 12 * h, 13 * h},
		{"Fri 22:00-02:00", fri, 22 * h, 26 * h},
		{"Fri 22:00-00:00", fri, 22 * h, 24 * h},
		{"Fri 00:01-00:00", fri, 1 * m, 24 * h},
		{"Fri 23:59-23:58", fri, 23*h + 59*m, 47*h + 58*m},
		{"  Tue   10:00-11:00  ", tue, 10 * h, 11 * h},
	}
	for _, c := range cases {
		t.Run(c.entry, func(t *testing.T) {
			w, err := Parse(Spec{Allow: []string{c.entry}})
			if err != nil {
				t.Fatal(err)
			}
			a := w.allow[0]
			var days int
			for d, on := range a.days {
				if on {
					days |= 1 << d
				}
			}
			if days != c.days || a.start != c.start || a.end != c.end || a.entry != c.entry {
				t.Errorf("got days %07b %v-%v entry %q, want days %07b %v-%v", days, a.start, a.end, a.entry, c.days, c.start, c.end)
			}
		})
	}
}

func TestParseDefaultsAndMarks(t *testing.T) {
	w, err := Parse(Spec{})
	if err != nil {
		t.Fatal(err)
	}
	if w.Location() != time.UTC || w.Outside() != OutsideWait {
		t.Errorf("empty spec: location %v outside %q, want UTC and wait", w.Location(), w.Outside())
	}
	w, err = Parse(Spec{Timezone: "Europe/Berlin", Allow: []string{"Mon 10:00-16:00", "Fri 22:00-02:00", "Sat 10:00-16:00"}, Outside: "refuse"})
	if err != nil {
		t.Fatal(err)
	}
	if w.Location().String() != "Europe/Berlin" || w.Outside() != OutsideRefuse {
		t.Errorf("location %v outside %q, want Europe/Berlin and refuse", w.Location(), w.Outside())
	}
	want := []time.Duration{0, 2 * time.Hour, 10 * time.Hour, 16 * time.Hour, 22 * time.Hour}
	if !reflect.DeepEqual(w.marks, want) {
		t.Errorf("marks %v, want %v", w.marks, want)
	}
	var none *Windows
	if none.Location() != time.UTC || none.Outside() != OutsideWait {
		t.Errorf("nil windows: location %v outside %q, want UTC and wait", none.Location(), none.Outside())
	}
}

// The workflow gets the Spec in its input, as JSON, and compiles it again:
// the wire form must carry everything, under the names the issue gives.
func TestSpecJSON(t *testing.T) {
	spec := Spec{
		Timezone: "Asia/Shanghai",
		Allow:    []string{"Mon-Thu 10:00-16:00"},
		Freeze:   []string{"2026-12-20/2027-01-04"},
		Outside:  "refuse",
	}
	data, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"timezone":"Asia/Shanghai","allow":["Mon-Thu 10:00-16:00"],"freeze":["2026-12-20/2027-01-04"],"outside":"refuse"}`
	if string(data) != want {
		t.Errorf("JSON\n got %s\nwant %s", data, want)
	}
	var back Spec
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, spec) {
		t.Errorf("round trip: got %+v, want %+v", back, spec)
	}
	a, errA := Parse(spec)
	b, errB := Parse(back)
	if errA != nil || errB != nil {
		t.Fatal(errA, errB)
	}
	now := time.Date(2026, 12, 3, 17, 0, 0, 0, time.UTC)
	if a.Describe(now) != b.Describe(now) {
		t.Errorf("recompiled windows differ: %q vs %q", a.Describe(now), b.Describe(now))
	}
	if data, _ := json.Marshal(Spec{}); string(data) != "{}" {
		t.Errorf("empty spec JSON %s, want {}", data)
	}
}
