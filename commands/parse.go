package commands

import (
	"encoding/json"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Release is one release folder found on a host, with what hoist recorded
// about it there: whether it passed or failed its running check, and when
// hoist last made it current (the host's clock, seconds since the epoch).
type Release struct {
	Version     string `json:"version"`
	Failed      bool   `json:"failed,omitempty"`
	Good        bool   `json:"good,omitempty"`
	ActivatedAt string `json:"activated_at,omitempty"`
}

// Release health, as `hoist status` shows it.
const (
	HealthGood    = "good"    // passed its running check
	HealthFailed  = "failed"  // failed its running check
	HealthUnknown = "unknown" // never checked (or checked by a hoist without marks)
)

// Health is good, failed or unknown. A failed mark wins: a release that
// passed once and failed a later check is not trusted.
func (r Release) Health() string {
	switch {
	case r.Failed:
		return HealthFailed
	case r.Good:
		return HealthGood
	}
	return HealthUnknown
}

// State is what remote_base holds on one host.
type State struct {
	Current  string    `json:"current,omitempty"`  // release current points at; "" when none
	Releases []Release `json:"releases,omitempty"` // newest first: see ParseState
}

// Has reports whether the version's folder exists.
func (s State) Has(version string) bool {
	_, ok := s.release(version)
	return ok
}

// HealthOf is the health of the version's release ("" when it is not there).
func (s State) HealthOf(version string) string {
	r, ok := s.release(version)
	if !ok {
		return ""
	}
	return r.Health()
}

// Failed reports whether the version is marked failed.
func (s State) Failed(version string) bool {
	r, _ := s.release(version)
	return r.Failed
}

func (s State) release(version string) (Release, bool) {
	for _, r := range s.Releases {
		if r.Version == version {
			return r, true
		}
	}
	return Release{}, false
}

// ParseState reads the output of Layout.Inspect. Entries that are not
// release folders (stray files, temporary links) are ignored. Releases
// are ordered by when hoist last made them current, newest first, whatever
// their names; releases never made current come after, by name
// (SortNewestFirst).
func ParseState(out string) State {
	var s State
	marks := map[string]map[string]string{} // version -> marker -> mtime
	var versions []string
	for _, rec := range strings.Split(out, "\x00") {
		f := strings.SplitN(rec, "\t", 4)
		if len(f) != 4 {
			continue
		}
		typ, mtime, target, name := f[0], f[1], f[2], f[3]
		switch {
		case typ == "l" && name == CurrentLink:
			// current is written as a bare version; an absolute or
			// ./-prefixed link made by hand still names its release.
			t := strings.TrimSuffix(target, "/")
			if i := strings.LastIndexByte(t, '/'); i >= 0 {
				t = t[i+1:]
			}
			if IsVersion(t) {
				s.Current = t
			}
		case typ == "d" && IsVersion(name):
			versions = append(versions, name)
		case typ == "f":
			v, marker, ok := strings.Cut(name, "/")
			if ok && IsVersion(v) {
				if marks[v] == nil {
					marks[v] = map[string]string{}
				}
				marks[v][marker] = mtime
			}
		}
	}
	SortNewestFirst(versions)
	for _, v := range versions {
		m := marks[v]
		_, failed := m[FailedMarker]
		_, good := m[GoodMarker]
		s.Releases = append(s.Releases, Release{Version: v, Failed: failed, Good: good, ActivatedAt: m[ActivatedMarker]})
	}
	sort.SliceStable(s.Releases, func(i, j int) bool {
		return activatedAfter(s.Releases[i].ActivatedAt, s.Releases[j].ActivatedAt)
	})
	return s
}

// activatedAfter: a was made current after b; never ("") is before all.
func activatedAfter(a, b string) bool {
	if a == "" || b == "" {
		return a != "" && b == ""
	}
	fa, errA := strconv.ParseFloat(a, 64)
	fb, errB := strconv.ParseFloat(b, 64)
	if errA != nil || errB != nil {
		return errA == nil && errB != nil
	}
	return fa > fb
}

// SortNewestFirst orders versions newest first. Timestamps compare as
// strings; runs of digits compare by value so v10 is newer than v9.
func SortNewestFirst(vs []string) {
	sort.SliceStable(vs, func(i, j int) bool { return versionLess(vs[j], vs[i]) })
}

func versionLess(a, b string) bool {
	for a != "" && b != "" {
		da, db := isDigit(a[0]), isDigit(b[0])
		if da && db {
			na, ra := digitRun(a)
			nb, rb := digitRun(b)
			ta, tb := strings.TrimLeft(na, "0"), strings.TrimLeft(nb, "0")
			if len(ta) != len(tb) {
				return len(ta) < len(tb)
			}
			if ta != tb {
				return ta < tb
			}
			if na != nb {
				return na < nb
			}
			a, b = ra, rb
			continue
		}
		if a[0] != b[0] {
			return a[0] < b[0]
		}
		a, b = a[1:], b[1:]
	}
	return len(a) < len(b)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func digitRun(s string) (run, rest string) {
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	return s[:i], s[i:]
}

// Container is the state of one container, as docker inspect reports it.
type Container struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	Service      string `json:"service"`
	Status       string `json:"status"`           // created, running, restarting, exited, dead, paused, removing
	Health       string `json:"health,omitempty"` // "", starting, healthy, unhealthy
	RestartCount int    `json:"restart_count,omitempty"`
	ExitCode     int    `json:"exit_code,omitempty"`
	StartedAt    string `json:"started_at,omitempty"`
	Created      string `json:"created,omitempty"` // RFC 3339, the host's clock
	// Healthcheck is the container's own (nil: none). Never serialized:
	// a test command may hold a secret, and results go into the history.
	Healthcheck *Healthcheck `json:"-"`
	// IPs are its addresses on its networks (parseIPs), for http checks.
	IPs []string `json:"-"`
}

// UpFor is how long the container has been running at now, an RFC 3339
// time on the host's clock; false when either time cannot be read.
func (c Container) UpFor(now string) (time.Duration, bool) {
	st, err1 := time.Parse(time.RFC3339Nano, c.StartedAt)
	nt, err2 := time.Parse(time.RFC3339Nano, now)
	if err1 != nil || err2 != nil || st.Year() < 2000 {
		return 0, false
	}
	return nt.Sub(st), true
}

// CreatedBefore reports whether the container was created before t, an
// RFC 3339 time on the same host's clock. Unparseable times count as
// before: the container is then judged on new restarts only.
func (c Container) CreatedBefore(t string) bool {
	ct, err1 := time.Parse(time.RFC3339Nano, c.Created)
	tt, err2 := time.Parse(time.RFC3339Nano, t)
	if err1 != nil || err2 != nil {
		return true
	}
	return ct.Before(tt)
}

// ParseHostClock reads the host clock that Compose.Up and
// InspectContainers print first.
func ParseHostClock(out string) string {
	line, _, _ := strings.Cut(out, "\n")
	line = strings.TrimSpace(line)
	if _, err := time.Parse(time.RFC3339Nano, line); err != nil {
		return ""
	}
	return line
}

// ParseContainers reads the output of InspectContainers.
func ParseContainers(out string) []Container {
	var cs []Container
	for _, line := range strings.Split(out, "\n") {
		f := strings.SplitN(line, "\t", 8)
		if len(f) != 8 {
			continue
		}
		var st struct {
			Status    string
			ExitCode  int
			StartedAt string
			Health    *struct{ Status string }
		}
		if json.Unmarshal([]byte(f[5]), &st) != nil {
			continue
		}
		rc, _ := strconv.Atoi(f[3])
		c := Container{
			ID: f[0], Name: strings.TrimPrefix(f[1], "/"), Service: f[2], Status: st.Status,
			RestartCount: rc, ExitCode: st.ExitCode, StartedAt: st.StartedAt, Created: f[4],
			Healthcheck: parseHealthcheck(f[6]), IPs: parseIPs(f[7]),
		}
		if st.Health != nil {
			c.Health = st.Health.Status
		}
		cs = append(cs, c)
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].Name < cs[j].Name })
	return cs
}

// ParseIDs reads container IDs, one a line.
func ParseIDs(out string) []string {
	var ids []string
	for _, l := range strings.Fields(out) {
		ids = append(ids, l)
	}
	return ids
}
