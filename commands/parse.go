package commands

import (
	"encoding/json"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Release is one release folder found on a host.
type Release struct {
	Version string `json:"version"`
	Failed  bool   `json:"failed,omitempty"`
}

// State is what remote_base holds on one host.
type State struct {
	Current  string    `json:"current,omitempty"`  // release current points at; "" when none
	Releases []Release `json:"releases,omitempty"` // newest first, by version order
}

// Has reports whether the version's folder exists.
func (s State) Has(version string) bool {
	for _, r := range s.Releases {
		if r.Version == version {
			return true
		}
	}
	return false
}

// Failed reports whether the version is marked failed.
func (s State) Failed(version string) bool {
	for _, r := range s.Releases {
		if r.Version == version {
			return r.Failed
		}
	}
	return false
}

// ParseState reads the output of Layout.Inspect. Entries that are not
// release folders (stray files, temporary links) are ignored.
func ParseState(out string) State {
	var s State
	failed := map[string]bool{}
	var versions []string
	for _, rec := range strings.Split(out, "\x00") {
		f := strings.SplitN(rec, "\t", 3)
		if len(f) != 3 {
			continue
		}
		typ, name, target := f[0], f[1], f[2]
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
		case typ == "f" && strings.HasSuffix(name, "/"+FailedMarker):
			failed[strings.TrimSuffix(name, "/"+FailedMarker)] = true
		}
	}
	SortNewestFirst(versions)
	for _, v := range versions {
		s.Releases = append(s.Releases, Release{Version: v, Failed: failed[v]})
	}
	return s
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
		f := strings.SplitN(line, "\t", 6)
		if len(f) != 6 {
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
