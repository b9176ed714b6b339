package window

import "testing"

func TestDescribe(t *testing.T) {
	refuse := shanghai
	refuse.Outside = OutsideRefuse
	cases := []struct {
		name string
		spec Spec
		at   string
		want string
	}{
		{"inside", shanghai, "2026-12-03T12:00:00+08:00",
			"now (inside Mon-Thu 10:00-16:00 Asia/Shanghai, until Thu 2026-12-03 16:00 CST)"},
		{"outside: waits for the next window", shanghai, "2026-12-03T17:00:00+08:00",
			"Mon 2026-12-07 10:00 CST (next allowed; now is outside Mon-Thu 10:00-16:00 Asia/Shanghai)"},
		{"frozen: waits past the freeze to the next window", shanghai, "2026-12-21T12:00:00+08:00",
			"frozen until Tue 2027-01-05 10:00 CST (freeze 2026-12-20/2027-01-04 Asia/Shanghai)"},
		{"outside, refuse", refuse, "2026-12-03T17:00:00+08:00",
			"refused now (outside Mon-Thu 10:00-16:00 Asia/Shanghai; next allowed Mon 2026-12-07 10:00 CST)"},
		{"frozen, refuse", refuse, "2026-12-21T12:00:00+08:00",
			"refused now (freeze 2026-12-20/2027-01-04 Asia/Shanghai; next allowed Tue 2027-01-05 10:00 CST)"},
		{"inside, refuse makes no difference", refuse, "2026-12-03T12:00:00+08:00",
			"now (inside Mon-Thu 10:00-16:00 Asia/Shanghai, until Thu 2026-12-03 16:00 CST)"},
		{"inside the second entry, until the end of both", Spec{Allow: []string{"Mon 08:00-09:00", "Thu 11:00-12:00", "Thu 12:00-13:30"}}, "2026-12-03T11:30:00Z",
			"now (inside Thu 11:00-12:00 UTC, until Thu 2026-12-03 13:30 UTC)"},
		{"outside several entries", Spec{Timezone: "Europe/Berlin", Allow: []string{"Mon 08:00-09:00", "Sat,Sun 10:00-12:00"}}, "2026-12-03T11:30:00Z",
			"Sat 2026-12-05 10:00 CET (next allowed; now is outside Mon 08:00-09:00, Sat,Sun 10:00-12:00 Europe/Berlin)"},
		{"an instant freeze ending on a second", Spec{Freeze: []string{"2026-12-03T11:00:00Z/2026-12-03T12:30:15Z"}}, "2026-12-03T11:30:00Z",
			"frozen until Thu 2026-12-03 12:30:15 UTC (freeze 2026-12-03T11:00:00Z/2026-12-03T12:30:15Z UTC)"},
		{"only freezes, none now", Spec{Timezone: "Asia/Shanghai", Freeze: []string{"2026-12-20/2027-01-04"}}, "2026-12-03T11:30:00Z",
			"now (not frozen in Asia/Shanghai, until Sun 2026-12-20 00:00 CST)"},
		{"inside a window that never ends", Spec{Allow: []string{"daily 00:00-24:00"}}, "2026-12-03T11:30:00Z",
			"now (inside daily 00:00-24:00 UTC)"},
		{"no allow entries or freezes", Spec{Timezone: "Asia/Shanghai"}, "2026-12-03T11:30:00Z",
			"now (no allow windows or freezes)"},
		{"frozen for ever", Spec{Freeze: []string{"2026-01-01/2099-12-31"}}, "2026-12-03T11:30:00Z",
			"never within 400 days (freeze 2026-01-01/2099-12-31 UTC)"},
		{"outside, and frozen from before the next window", Spec{Allow: []string{"Mon 10:00-11:00"}, Freeze: []string{"2026-12-05/2099-12-31"}, Outside: OutsideRefuse}, "2026-12-03T11:30:00Z",
			"never within 400 days (outside Mon 10:00-11:00 UTC)"},
		{"a zone with no abbreviation", Spec{Timezone: "Asia/Dubai", Allow: []string{"Sun-Thu 09:00-17:00"}}, "2026-12-04T11:30:00Z",
			"Sun 2026-12-06 09:00 +04 (next allowed; now is outside Sun-Thu 09:00-17:00 Asia/Dubai)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := mustParse(t, c.spec).Describe(instant(t, c.at)); got != c.want {
				t.Errorf("Describe(%s)\n got %s\nwant %s", c.at, got, c.want)
			}
		})
	}
	var none *Windows
	if got, want := none.Describe(instant(t, "2026-12-03T11:30:00Z")), "now (no deploy windows)"; got != want {
		t.Errorf("nil windows: got %q, want %q", got, want)
	}
}
