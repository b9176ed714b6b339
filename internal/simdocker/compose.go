package main

import (
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// composeCall is one `docker compose ...` after its global options.
type composeCall struct {
	name     string // --project-name
	file     string // -f; "" = looked up in the working folder
	sub      string
	args     []string
	explicit bool // the project name was given
}

// compose runs `docker compose [--project-name P] [-f FILE] SUB ...`.
func (s *sim) compose(args []string) error {
	var c composeCall
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		a := args[0]
		val := func() (string, error) {
			if k, v, ok := strings.Cut(a, "="); ok && strings.HasPrefix(k, "--") {
				args = args[1:]
				return v, nil
			}
			if len(args) < 2 {
				return "", unsupported("compose option %s without a value", a)
			}
			v := args[1]
			args = args[2:]
			return v, nil
		}
		var err error
		switch {
		case a == "-p" || a == "--project-name" || strings.HasPrefix(a, "--project-name="):
			c.name, err = val()
			c.explicit = true
		case a == "-f" || a == "--file" || strings.HasPrefix(a, "--file="):
			if c.file != "" {
				return unsupported("more than one compose file")
			}
			c.file, err = val()
		default:
			return unsupported("compose option %s", a)
		}
		if err != nil {
			return err
		}
	}
	if len(args) == 0 {
		return unsupported("compose without a command")
	}
	c.sub, c.args = args[0], args[1:]
	if c.file != "" && !filepath.IsAbs(c.file) {
		c.file = filepath.Join(s.cwd, c.file)
	}
	if !c.explicit {
		c.name = defaultProjectName(s.cwd)
	}
	switch c.sub {
	case "version":
		return s.composeVersion(c.args)
	case "pull":
		return s.composePull(c)
	case "up":
		return s.composeUp(c)
	case "down":
		return s.composeDown(c)
	case "stop":
		return s.composeStop(c)
	case "ps":
		return s.composePs(c)
	case "logs":
		return s.composeLogs(c)
	}
	return unsupported("compose command %q", c.sub)
}

var nonProjectChars = regexp.MustCompile(`[^a-z0-9_-]`)

// defaultProjectName is compose's: the folder's name, lowercased, with
// what a project name cannot hold dropped.
func defaultProjectName(dir string) string {
	return nonProjectChars.ReplaceAllString(strings.ToLower(filepath.Base(dir)), "")
}

// load reads the project's compose file; required=false lets a missing
// one be no error (down with an explicit project name needs none).
func (s *sim) load(c composeCall, required bool) (*project, error) {
	file := c.file
	if file == "" {
		file = findComposeFile(s.cwd)
	}
	if file == "" {
		if !required && c.explicit {
			return nil, nil
		}
		return nil, failf("no configuration file provided: not found")
	}
	return loadProject(s.cwd, file, s.getenv)
}

// flags parses a compose subcommand's arguments: the boolean flags it
// accepts (each with its aliases) and, when services is set, service
// names after them. Anything else is unsupported.
func flags(sub string, args []string, known map[string]string, withValue map[string]string, services bool) (set map[string]string, rest []string, err error) {
	set = map[string]string{}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") {
			if !services {
				return nil, nil, unsupported("compose %s with arguments %q", sub, args[i:])
			}
			rest = append(rest, a)
			continue
		}
		if name, ok := known[a]; ok {
			set[name] = "true"
			continue
		}
		k, v, hasEq := strings.Cut(a, "=")
		if name, ok := withValue[k]; ok {
			if !hasEq {
				if i+1 >= len(args) {
					return nil, nil, unsupported("compose %s %s without a value", sub, a)
				}
				i++
				v = args[i]
			}
			set[name] = v
			continue
		}
		return nil, nil, unsupported("compose %s option %s", sub, a)
	}
	return set, rest, nil
}

// checkServices refuses a service the file does not define, as compose does.
func checkServices(p *project, names []string) error {
	for _, n := range names {
		if _, ok := p.service(n); !ok {
			return failf("no such service: %s", n)
		}
	}
	return nil
}

func (s *sim) composePull(c composeCall) error {
	set, names, err := flags("pull", c.args, map[string]string{"--quiet": "quiet", "-q": "quiet"}, nil, true)
	if err != nil {
		return err
	}
	p, err := s.load(c, true)
	if err != nil {
		return err
	}
	if err := checkServices(p, names); err != nil {
		return err
	}
	if set["quiet"] == "" {
		for _, sv := range p.Services {
			fmt.Fprintf(s.stderr, " %s Pulled (simulated: %s)\n", sv.Name, sv.Image)
		}
	}
	return nil
}

// composeUp does what compose up --detach does to the project's
// containers: a service whose config is unchanged keeps its container
// (started again if stopped), a changed one is replaced by a new one,
// running at once and, where it has a healthcheck, healthy.
func (s *sim) composeUp(c composeCall) error {
	set, _, err := flags("up", c.args, map[string]string{"--detach": "detach", "-d": "detach", "--remove-orphans": "orphans"}, nil, false)
	if err != nil {
		return err
	}
	if set["detach"] == "" {
		return unsupported("compose up without --detach (it would attach to the containers' output)")
	}
	p, err := s.load(c, true)
	if err != nil {
		return err
	}
	return s.withState(true, func(st *state) error {
		now := s.now()
		for _, sv := range p.Services {
			for n := 1; n <= sv.Replicas; n++ {
				s.upOne(st, c.name, p, sv, n, now)
			}
			for _, old := range st.project(c.name) {
				if old.Service == sv.Name && old.Number > sv.Replicas {
					st.remove(old.ID)
					fmt.Fprintf(s.stderr, " Container %s  Removed\n", old.Name)
				}
			}
		}
		for _, old := range st.project(c.name) {
			if _, ok := p.service(old.Service); ok {
				continue
			}
			if set["orphans"] == "" {
				fmt.Fprintf(s.stderr, "WARN[0000] Found orphan containers ([%s]) for this project.\n", old.Name)
				continue
			}
			st.remove(old.ID)
			fmt.Fprintf(s.stderr, " Container %s  Removed\n", old.Name)
		}
		return nil
	})
}

func (s *sim) upOne(st *state, projectName string, p *project, sv service, n int, now time.Time) {
	var old *container
	for _, c := range st.project(projectName) {
		if c.Service == sv.Name && c.Number == n {
			old = c
		}
	}
	if old != nil && old.ConfigHash == sv.Hash {
		if !old.Running {
			old.Running, old.StartedAt, old.ExitCode = true, now, 0
			fmt.Fprintf(s.stderr, " Container %s  Started\n", old.Name)
		} else {
			fmt.Fprintf(s.stderr, " Container %s  Running\n", old.Name)
		}
		return
	}
	if old != nil {
		st.remove(old.ID)
	}
	name := sv.ContainerName
	if name == "" {
		name = fmt.Sprintf("%s-%s-%d", projectName, sv.Name, n)
	}
	st.Containers = append(st.Containers, &container{
		ID:      containerID(s.host, projectName, p.Dir, sv.Name, n),
		Name:    name,
		Project: projectName, Service: sv.Name, Number: n,
		WorkingDir: p.Dir, ConfigFile: p.File, ConfigHash: sv.Hash,
		Image: sv.Image, Healthcheck: sv.Healthcheck,
		Created: now, StartedAt: now, Running: true,
	})
	verb := "Started"
	if old != nil {
		verb = "Recreated, Started"
	}
	fmt.Fprintf(s.stderr, " Container %s  %s\n", name, verb)
}

// inScope: the containers down and stop act on: the file's services
// (all of the project when there is no file), orphans too when asked.
func inScope(st *state, name string, p *project, orphans bool) []*container {
	var cs []*container
	for _, c := range st.project(name) {
		if p == nil || orphans {
			cs = append(cs, c)
		} else if _, ok := p.service(c.Service); ok {
			cs = append(cs, c)
		}
	}
	return cs
}

func (s *sim) composeDown(c composeCall) error {
	set, _, err := flags("down", c.args, map[string]string{"--remove-orphans": "orphans"}, nil, false)
	if err != nil {
		return err
	}
	p, err := s.load(c, false)
	if err != nil {
		return err
	}
	return s.withState(true, func(st *state) error {
		for _, ct := range inScope(st, c.name, p, set["orphans"] != "") {
			st.remove(ct.ID)
			fmt.Fprintf(s.stderr, " Container %s  Removed\n", ct.Name)
		}
		return nil
	})
}

// composeStop stops the containers as a SIGTERM would a well-behaved
// service: exited, code 0, kept (with their logs).
func (s *sim) composeStop(c composeCall) error {
	_, names, err := flags("stop", c.args, nil, nil, true)
	if err != nil {
		return err
	}
	p, err := s.load(c, true)
	if err != nil {
		return err
	}
	if err := checkServices(p, names); err != nil {
		return err
	}
	return s.withState(true, func(st *state) error {
		now := s.now()
		for _, ct := range inScope(st, c.name, p, false) {
			if len(names) > 0 && !slices.Contains(names, ct.Service) || !ct.Running {
				continue
			}
			ct.Running, ct.FinishedAt, ct.ExitCode = false, now, 0
			fmt.Fprintf(s.stderr, " Container %s  Stopped\n", ct.Name)
		}
		return nil
	})
}

// composePs answers `compose ps --quiet [--all] [SERVICE...]`: full IDs
// of the project's containers, one a line.
func (s *sim) composePs(c composeCall) error {
	set, names, err := flags("ps", c.args, map[string]string{"--all": "all", "-a": "all", "--quiet": "quiet", "-q": "quiet"}, nil, true)
	if err != nil {
		return err
	}
	if set["quiet"] == "" {
		return unsupported("compose ps without --quiet (only IDs are simulated)")
	}
	p, err := s.load(c, true)
	if err != nil {
		return err
	}
	if err := checkServices(p, names); err != nil {
		return err
	}
	return s.withState(false, func(st *state) error {
		for _, ct := range st.project(c.name) {
			if len(names) > 0 && !slices.Contains(names, ct.Service) || !ct.Running && set["all"] == "" {
				continue
			}
			fmt.Fprintln(s.stdout, ct.ID)
		}
		return nil
	})
}

func (s *sim) composeLogs(c composeCall) error {
	set, names, err := flags("logs", c.args,
		map[string]string{"--no-color": "nocolor", "--timestamps": "ts", "-t": "ts"},
		map[string]string{"--tail": "tail", "-n": "tail"}, true)
	if err != nil {
		return err
	}
	p, err := s.load(c, true)
	if err != nil {
		return err
	}
	if err := checkServices(p, names); err != nil {
		return err
	}
	tail, err := tailCount(set["tail"])
	if err != nil {
		return err
	}
	return s.withState(false, func(st *state) error {
		for _, ct := range st.project(c.name) {
			if len(names) > 0 && !slices.Contains(names, ct.Service) {
				continue
			}
			for _, l := range lastLines(ct.logLines(), tail) {
				prefix := fmt.Sprintf("%s-%d  | ", ct.Service, ct.Number)
				if set["ts"] != "" {
					prefix += l.at.Format(time.RFC3339Nano) + " "
				}
				fmt.Fprintln(s.stdout, prefix+l.text)
			}
		}
		return nil
	})
}

func (s *sim) composeVersion(args []string) error {
	set, _, err := flags("version", args, map[string]string{"--short": "short"}, nil, false)
	if err != nil {
		return err
	}
	if set["short"] != "" {
		fmt.Fprintln(s.stdout, simVersion)
		return nil
	}
	fmt.Fprintf(s.stdout, "Docker Compose version %s\n", simVersion)
	return nil
}

// tailCount reads --tail: "" or "all" is every line.
func tailCount(v string) (int, error) {
	if v == "" || v == "all" {
		return -1, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, failf("invalid --tail %q", v)
	}
	return n, nil
}
