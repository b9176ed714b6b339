package window

import (
	"fmt"
	"strings"
	"time"
)

const day = 24 * time.Hour

var dayNames = [7]string{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"}

// parseAllow reads "DAYS HH:MM-HH:MM". It returns what is wrong, or "".
func parseAllow(entry string) (allowWindow, string) {
	a := allowWindow{entry: entry}
	fields := strings.Fields(entry)
	if len(fields) != 2 {
		return a, `want DAYS HH:MM-HH:MM, like "Mon-Fri 09:00-17:00" (no spaces inside DAYS)`
	}
	days, msg := parseDays(fields[0])
	if msg != "" {
		return a, msg
	}
	a.days = days

	startText, endText, ok := strings.Cut(fields[1], "-")
	if !ok {
		return a, fmt.Sprintf("times %q are not HH:MM-HH:MM", fields[1])
	}
	start, ok := parseClock(startText)
	if !ok || start == day {
		return a, fmt.Sprintf("start time %s is not HH:MM between 00:00 and 23:59", startText)
	}
	end, ok := parseClock(endText)
	if !ok {
		return a, fmt.Sprintf("end time %s is not HH:MM between 00:00 and 24:00", endText)
	}
	switch {
	case end == start:
		return a, fmt.Sprintf("starts and ends at %s, so it is empty; the whole day is 00:00-24:00", startText)
	case end < start: // crosses midnight into the next day
		end += day
	}
	a.start, a.end = start, end
	return a, ""
}

// parseDays reads "daily" or a comma list of days and day ranges.
func parseDays(text string) ([7]bool, string) {
	var days [7]bool
	if strings.EqualFold(text, "daily") {
		return [7]bool{true, true, true, true, true, true, true}, ""
	}
	for part := range strings.SplitSeq(text, ",") {
		firstText, lastText, isRange := strings.Cut(part, "-")
		if !isRange {
			lastText = firstText
		}
		first, msg := parseDay(firstText, text)
		if msg != "" {
			return days, msg
		}
		last, msg := parseDay(lastText, text)
		if msg != "" {
			return days, msg
		}
		for d := first; ; d = (d + 1) % 7 {
			days[d] = true
			if d == last {
				break
			}
		}
	}
	return days, ""
}

func parseDay(name, days string) (time.Weekday, string) {
	for i, n := range dayNames {
		if strings.EqualFold(name, n) {
			return time.Weekday(i), ""
		}
	}
	if name == "" {
		return 0, fmt.Sprintf("days %q have an empty day; want days like Mon, Mon-Fri, Sat,Sun or daily", days)
	}
	return 0, fmt.Sprintf("day %q is not one of Mon, Tue, Wed, Thu, Fri, Sat, Sun (or daily)", name)
}

// parseClock reads HH:MM from 00:00 to 24:00 as the time after midnight.
func parseClock(s string) (time.Duration, bool) {
	if len(s) != 5 || s[2] != ':' {
		return 0, false
	}
	h, okH := twoDigits(s[0:2])
	m, okM := twoDigits(s[3:5])
	if !okH || !okM || h > 24 || m > 59 || (h == 24 && m != 0) {
		return 0, false
	}
	return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute, true
}

func twoDigits(s string) (int, bool) {
	if s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9' {
		return 0, false
	}
	return int(s[0]-'0')*10 + int(s[1]-'0'), true
}

// parseFreeze reads "YYYY-MM-DD/YYYY-MM-DD" or "RFC3339/RFC3339".
func parseFreeze(entry string) (freeze, string) {
	f := freeze{entry: entry}
	startText, endText, ok := strings.Cut(entry, "/")
	if !ok || strings.Contains(endText, "/") {
		return f, `want START/END, two dates like "2026-12-20/2027-01-04" or two RFC3339 instants like "2027-02-10T18:00:00+08:00/2027-02-11T09:00:00+08:00"`
	}
	const date = "2006-01-02"
	startIsDate, endIsDate := len(startText) == len(date), len(endText) == len(date)
	if startIsDate != endIsDate {
		return f, "start and end must both be dates YYYY-MM-DD or both RFC3339 instants"
	}
	if startIsDate {
		start, err := time.Parse(date, startText)
		if err != nil {
			return f, fmt.Sprintf("start %s is not a date YYYY-MM-DD", startText)
		}
		end, err := time.Parse(date, endText)
		if err != nil {
			return f, fmt.Sprintf("end %s is not a date YYYY-MM-DD", endText)
		}
		if end.Before(start) {
			return f, fmt.Sprintf("end %s is before start %s", endText, startText)
		}
		f.dates, f.first, f.last = true, civil(start), civil(end)
		return f, ""
	}
	start, err := time.Parse(time.RFC3339, startText)
	if err != nil {
		return f, fmt.Sprintf("start %s is neither a date YYYY-MM-DD nor an RFC3339 instant like 2027-02-10T18:00:00+08:00", startText)
	}
	end, err := time.Parse(time.RFC3339, endText)
	if err != nil {
		return f, fmt.Sprintf("end %s is not an RFC3339 instant like 2027-02-11T09:00:00+08:00, as the start is", endText)
	}
	if !end.After(start) {
		return f, fmt.Sprintf("end %s must be after start %s: the end instant is not frozen", endText, startText)
	}
	f.from, f.to = start, end
	return f, ""
}

// civil is t's wall-clock date as YYYYMMDD.
func civil(t time.Time) int {
	y, m, d := t.Date()
	return y*10000 + int(m)*100 + d
}
