package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"text/template"
	"time"
)

// The views below carry docker's own field names (docker inspect's
// container JSON, docker ps's format context), so a --format template is
// rendered as docker renders it. A field not here makes the template
// fail: the simulation then says what it lacks instead of printing a
// blank hoist would misread. docker inspect renders its template over the
// JSON decoded into maps (dockerView), where a key left out (omitempty)
// fails a template that names it: "map has no entry for key".

type inspectView struct {
	Id           string // docker's field name, as templates spell it
	Created      string
	Path         string
	Args         []string
	State        stateView
	Image        string
	Name         string
	RestartCount int
	Driver       string
	Platform     string
	Config       configView
	HostConfig   hostConfigView
	Mounts       []any
	// NetworkSettings has no networks: nothing listens on a simulated
	// container, so there is no address to give.
	NetworkSettings struct{ Networks map[string]any }
}

type stateView struct {
	Status     string
	Running    bool
	Paused     bool
	Restarting bool
	OOMKilled  bool
	Dead       bool
	Pid        int
	ExitCode   int
	Error      string
	StartedAt  string
	FinishedAt string
	Health     *healthView `json:",omitempty"`
}

type healthView struct {
	Status        string
	FailingStreak int
	Log           []healthLog
}

type healthLog struct {
	Start    string
	End      string
	ExitCode int
	Output   string
}

type configView struct {
	Hostname   string
	Image      string
	Labels     map[string]string
	Env        []string
	Cmd        []string
	WorkingDir string
	// Healthcheck is left out, as docker leaves out a container's that
	// has none: there is no test to run in a simulated container, so
	// hoist judges it by State.Health, as for any container whose
	// healthcheck it cannot run itself.
	Healthcheck *struct{ Test []string } `json:",omitempty"`
}

type hostConfigView struct {
	RestartPolicy struct {
		Name              string
		MaximumRetryCount int
	}
}

// zeroTime is how docker writes a time that never happened.
const zeroTime = "0001-01-01T00:00:00Z"

func stamp(t time.Time) string {
	if t.IsZero() {
		return zeroTime
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// inspectOf is the container as docker inspect shows it: running and,
// with a healthcheck, healthy (one passed check, at its start), never
// restarted; stopped ones exited with their code.
func inspectOf(c *container) inspectView {
	st := stateView{
		Status: status(c), Running: c.Running, ExitCode: c.ExitCode,
		StartedAt: stamp(c.StartedAt), FinishedAt: stamp(c.FinishedAt),
	}
	if c.Running {
		st.Pid = 1000 + int(c.ID[0])*64 + int(c.ID[1])
	}
	if c.Healthcheck {
		st.Health = &healthView{Status: "healthy", Log: []healthLog{{
			Start: stamp(c.StartedAt), End: stamp(c.StartedAt), Output: "simdocker: simulated check passed",
		}}}
		if !c.Running {
			st.Health.Status = "unhealthy"
		}
	}
	v := inspectView{
		Id: c.ID, Created: stamp(c.Created), Path: "/simulated", Args: []string{},
		State: st, Image: imageID(c.Image), Name: "/" + c.Name, Driver: "simdocker", Platform: "linux",
		Config: configView{
			Hostname: c.ID[:12], Image: c.Image, Labels: labels(c), Env: []string{}, Cmd: []string{"/simulated"}, WorkingDir: "/",
		},
		Mounts: []any{},
	}
	v.NetworkSettings.Networks = map[string]any{}
	v.HostConfig.RestartPolicy.Name = "no"
	return v
}

// psView is docker ps's format context (ID truncated unless --no-trunc).
type psView struct {
	c       *container
	noTrunc bool
	now     time.Time
}

func psOf(c *container, noTrunc bool, now time.Time) psView { return psView{c, noTrunc, now} }

func (p psView) ID() string {
	if p.noTrunc {
		return p.c.ID
	}
	return p.c.ID[:12]
}
func (p psView) Names() string     { return p.c.Name }
func (p psView) Image() string     { return p.c.Image }
func (p psView) Command() string   { return `"/simulated"` }
func (p psView) CreatedAt() string { return p.c.Created.Format("2006-01-02 15:04:05 -0700 MST") }
func (p psView) State() string     { return status(p.c) }
func (p psView) Ports() string     { return "" }
func (p psView) Networks() string  { return "" }
func (p psView) Mounts() string    { return "" }
func (p psView) Size() string      { return "0B" }
func (p psView) Label(name string) string {
	return labels(p.c)[name]
}
func (p psView) Labels() string {
	var kv []string
	for k, v := range labels(p.c) {
		kv = append(kv, k+"="+v)
	}
	sort.Strings(kv)
	return strings.Join(kv, ",")
}
func (p psView) RunningFor() string {
	return p.now.Sub(p.c.Created).Round(time.Second).String() + " ago"
}
func (p psView) Status() string {
	if !p.c.Running {
		return fmt.Sprintf("Exited (%d) %s ago", p.c.ExitCode, p.now.Sub(p.c.FinishedAt).Round(time.Second))
	}
	s := "Up " + p.now.Sub(p.c.StartedAt).Round(time.Second).String()
	if p.c.Healthcheck {
		s += " (healthy)"
	}
	return s
}

// formatTemplate is a --format template with docker's template functions.
type formatTemplate struct {
	what string
	src  string
	t    *template.Template
}

func parseTemplate(what, src string) (*formatTemplate, error) {
	src = strings.TrimPrefix(src, "table ")
	t, err := template.New(what).Option("missingkey=error").Funcs(template.FuncMap{
		"json":  jsonCompact,
		"join":  strings.Join,
		"split": strings.Split,
		"lower": strings.ToLower,
		"upper": strings.ToUpper,
		"title": func(s string) string {
			if s == "" {
				return s
			}
			return strings.ToUpper(s[:1]) + s[1:]
		},
		"println": fmt.Sprintln,
	}).Parse(src)
	if err != nil {
		return nil, unsupported("%s --format %q does not parse here: %v", what, src, err)
	}
	return &formatTemplate{what: what, src: src, t: t}, nil
}

// render executes the template; a field or function the simulation does
// not have is unsupported, never a blank.
func (t *formatTemplate) render(v any) (string, error) {
	var b bytes.Buffer
	if err := t.t.Execute(&b, v); err != nil {
		return "", unsupported("%s --format %q: %v", t.what, t.src, err)
	}
	return b.String(), nil
}

// dockerView is v as docker inspect's template sees it: its JSON decoded
// into maps, numbers kept as written.
func dockerView(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m any
	err = dec.Decode(&m)
	return m, err
}

// jsonCompact is docker's json template function: no HTML escaping.
func jsonCompact(v any) (string, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return strings.TrimSpace(b.String()), nil
}

func jsonIndent(v any) string {
	b, _ := json.MarshalIndent(v, "", "    ")
	return string(b)
}
