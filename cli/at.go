package cli

import (
	"fmt"
	"regexp"
	"strconv"
	"time"
)

var clockRe = regexp.MustCompile(`^([01]?[0-9]|2[0-3]):([0-5][0-9])$`)

// parseAt reads hoist deploy --at: an RFC 3339 instant, or HH:MM, the
// next time the clock in loc shows it (today, or tomorrow once passed).
// A time in the past is refused: a deploy "at" a past instant is a typo,
// not a request to start now.
func parseAt(v string, now time.Time, loc *time.Location) (time.Time, error) {
	if m := clockRe.FindStringSubmatch(v); m != nil {
		h, _ := strconv.Atoi(m[1])
		min, _ := strconv.Atoi(m[2])
		local := now.In(loc)
		at := time.Date(local.Year(), local.Month(), local.Day(), h, min, 0, 0, loc)
		if !at.After(now) {
			at = time.Date(local.Year(), local.Month(), local.Day()+1, h, min, 0, 0, loc)
		}
		return at, nil
	}
	at, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("--at: %q is neither an RFC 3339 time (2026-12-24T02:00:00Z) nor HH:MM", v)
	}
	if !at.After(now) {
		return time.Time{}, fmt.Errorf("--at: %s is in the past (now %s); leave --at out to deploy now", at.Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	if at.Sub(now) > maxAt {
		return time.Time{}, fmt.Errorf("--at: %s is more than %s away; use hoist schedule for deploys that far ahead", at.Format(time.RFC3339), maxAt)
	}
	return at, nil
}

// maxAt bounds --at: the deploy holds the service's lock while it waits.
const maxAt = 30 * 24 * time.Hour
