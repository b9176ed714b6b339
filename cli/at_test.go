package cli

import (
	"strings"
	"testing"
	"time"
)

func TestParseAt(t *testing.T) {
	shanghai, _ := time.LoadLocation("Asia/Shanghai")
	now := time.Date(2026, 12, 2, 18, 30, 0, 0, time.UTC) // 02:30 on Dec 3 in Shanghai
	for _, c := range []struct {
		in   string
		loc  *time.Location
		want string // RFC 3339 in UTC, or "error: text"
	}{
		{"2026-12-24T02:00:00Z", time.UTC, "2026-12-24T02:00:00Z"},
		{"2026-12-24T02:00:00+08:00", time.UTC, "2026-12-23T18:00:00Z"},
		{"19:00", time.UTC, "2026-12-02T19:00:00Z"},                       // later today
		{"18:30", time.UTC, "2026-12-03T18:30:00Z"},                       // now: tomorrow
		{"02:00", shanghai, "2026-12-03T18:00:00Z"},                       // 02:00 Shanghai has passed today there
		{"03:00", shanghai, "2026-12-02T19:00:00Z"},                       // 03:00 Shanghai is half an hour away
		{"2026-12-01T00:00:00Z", time.UTC, "error: is in the past"},       //
		{"2027-06-01T00:00:00Z", time.UTC, "error: use hoist schedule"},   //
		{"24:00", time.UTC, "error: neither an RFC 3339 time"},            //
		{"tomorrow", time.UTC, "error: neither an RFC 3339 time"},         //
		{"2026-12-24 02:00", time.UTC, "error: neither an RFC 3339 time"}, //
	} {
		got, err := parseAt(c.in, now, c.loc)
		if want, isErr := strings.CutPrefix(c.want, "error: "); isErr {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("%s: got %v, %v; want error %q", c.in, got, err, want)
			}
			continue
		}
		if err != nil || got.UTC().Format(time.RFC3339) != c.want {
			t.Errorf("%s in %s: got %v, %v; want %s", c.in, c.loc, got.UTC(), err, c.want)
		}
	}
}
