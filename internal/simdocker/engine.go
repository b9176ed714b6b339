package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"time"
)

// simVersion is what version commands print: never a real Docker version.
const simVersion = "0.0.0-simdocker"

// logLine is one line a simulated container wrote.
type logLine struct {
	at   time.Time
	text string
}

// logLines are what the container "wrote": enough for docker logs and
// hoist's saved logs to show something, all marked as simulated.
func (c *container) logLines() []logLine {
	lines := []logLine{
		{c.Created, fmt.Sprintf("simdocker: simulated container %s (service %s, image %s) created from %s", c.Name, c.Service, c.Image, c.WorkingDir)},
		{c.StartedAt, "simdocker: started; serving"},
	}
	if !c.Running && !c.FinishedAt.IsZero() {
		lines = append(lines, logLine{c.FinishedAt, fmt.Sprintf("simdocker: stopped, exit code %d", c.ExitCode)})
	}
	return lines
}

func lastLines(lines []logLine, n int) []logLine {
	if n >= 0 && n < len(lines) {
		return lines[len(lines)-n:]
	}
	return lines
}

// inspect answers `docker inspect [--type container] [--format T] REF...`:
// each container found rendered with T (or as docker's JSON array), and
// "No such container" for the others, exit 1 if there were any.
func (s *sim) inspect(args []string) error {
	var format string
	var refs []string
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "--type" && i+1 < len(args):
			if args[i+1] != "container" {
				return unsupported("inspect --type %s (only containers are simulated)", args[i+1])
			}
			i++
		case (a == "--format" || a == "-f") && i+1 < len(args):
			format = args[i+1]
			i++
		case strings.HasPrefix(a, "--format="):
			format = strings.TrimPrefix(a, "--format=")
		case strings.HasPrefix(a, "-"):
			return unsupported("inspect option %s", a)
		default:
			refs = append(refs, a)
		}
	}
	if len(refs) == 0 {
		return failf(`"docker inspect" requires at least 1 argument.`)
	}
	var tmpl *formatTemplate
	if format != "" {
		var err error
		if tmpl, err = parseTemplate("inspect", format); err != nil {
			return err
		}
	}
	return s.withState(false, func(st *state) error {
		views := []any{} // docker prints [] when nothing was found
		var missing []string
		for _, r := range refs {
			c, err := st.find(r)
			if err != nil {
				missing = append(missing, r)
				continue
			}
			v := inspectOf(c)
			if tmpl == nil {
				views = append(views, v)
				continue
			}
			m, err := dockerView(v)
			if err != nil {
				return err
			}
			out, err := tmpl.render(m)
			if err != nil {
				return err
			}
			fmt.Fprintln(s.stdout, out)
		}
		if tmpl == nil {
			fmt.Fprintln(s.stdout, jsonIndent(views))
		}
		for _, r := range missing {
			fmt.Fprintf(s.stderr, "Error: No such container: %s\n", r)
		}
		if len(missing) > 0 {
			return &failure{msg: ""}
		}
		return nil
	})
}

// ps answers `docker ps [--all] [--quiet] [--no-trunc] [--filter F]...
// [--format T]`, newest first as docker lists them.
func (s *sim) ps(args []string) error {
	var all, quiet, noTrunc bool
	var format string
	var filters []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--all" || a == "-a":
			all = true
		case a == "--quiet" || a == "-q":
			quiet = true
		case a == "--no-trunc":
			noTrunc = true
		case (a == "--filter" || a == "-f") && i+1 < len(args):
			filters = append(filters, args[i+1])
			i++
		case strings.HasPrefix(a, "--filter="):
			filters = append(filters, strings.TrimPrefix(a, "--filter="))
		case a == "--format" && i+1 < len(args):
			format = args[i+1]
			i++
		case strings.HasPrefix(a, "--format="):
			format = strings.TrimPrefix(a, "--format=")
		default:
			return unsupported("ps argument %s", a)
		}
	}
	match, err := psFilter(filters)
	if err != nil {
		return err
	}
	if quiet {
		format = "{{.ID}}"
	}
	if format == "" {
		return unsupported("ps without --format or --quiet (the table is not simulated)")
	}
	tmpl, err := parseTemplate("ps", format)
	if err != nil {
		return err
	}
	return s.withState(false, func(st *state) error {
		cs := append([]*container(nil), st.Containers...)
		sort.SliceStable(cs, func(i, j int) bool { return cs[i].Created.After(cs[j].Created) })
		for _, c := range cs {
			if !all && !c.Running || !match(c) {
				continue
			}
			out, err := tmpl.render(psOf(c, noTrunc, s.now()))
			if err != nil {
				return err
			}
			fmt.Fprintln(s.stdout, out)
		}
		return nil
	})
}

// psFilter reads docker ps filters: label=K, label=K=V, name=, id=,
// status=; several must all match (as docker does for labels).
func psFilter(filters []string) (func(*container) bool, error) {
	var tests []func(*container) bool
	for _, f := range filters {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return nil, failf("Error response from daemon: invalid filter '%s'", f)
		}
		switch k {
		case "label":
			lk, lv, hasValue := strings.Cut(v, "=")
			tests = append(tests, func(c *container) bool {
				got, ok := labels(c)[lk]
				return ok && (!hasValue || got == lv)
			})
		case "name":
			tests = append(tests, func(c *container) bool { return strings.Contains(c.Name, strings.TrimPrefix(v, "/")) })
		case "id":
			tests = append(tests, func(c *container) bool { return strings.HasPrefix(c.ID, v) })
		case "status":
			tests = append(tests, func(c *container) bool { return status(c) == v })
		default:
			return nil, unsupported("ps filter %s", k)
		}
	}
	return func(c *container) bool {
		for _, t := range tests {
			if !t(c) {
				return false
			}
		}
		return true
	}, nil
}

// logs answers `docker logs [--tail N] [--timestamps] REF`.
func (s *sim) logs(args []string) error {
	var ref, tail string
	var stamps bool
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case (a == "--tail" || a == "-n") && i+1 < len(args):
			tail = args[i+1]
			i++
		case strings.HasPrefix(a, "--tail="):
			tail = strings.TrimPrefix(a, "--tail=")
		case a == "--timestamps" || a == "-t":
			stamps = true
		case strings.HasPrefix(a, "-"):
			return unsupported("logs option %s", a)
		case ref != "":
			return failf(`"docker logs" requires exactly 1 argument.`)
		default:
			ref = a
		}
	}
	if ref == "" {
		return failf(`"docker logs" requires exactly 1 argument.`)
	}
	n, err := tailCount(tail)
	if err != nil {
		return err
	}
	return s.withState(false, func(st *state) error {
		c, err := st.find(ref)
		if err != nil {
			return err
		}
		for _, l := range lastLines(c.logLines(), n) {
			if stamps {
				fmt.Fprint(s.stdout, l.at.Format(time.RFC3339Nano)+" ")
			}
			fmt.Fprintln(s.stdout, l.text)
		}
		return nil
	})
}

func (s *sim) version(args []string) error {
	format := ""
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case (a == "--format" || a == "-f") && i+1 < len(args):
			format = args[i+1]
			i++
		case strings.HasPrefix(a, "--format="):
			format = strings.TrimPrefix(a, "--format=")
		default:
			return unsupported("version argument %s", a)
		}
	}
	type part struct {
		Version, APIVersion, Os, Arch string
		Platform                      struct{ Name string }
	}
	v := struct{ Client, Server part }{}
	for _, p := range []*part{&v.Client, &v.Server} {
		*p = part{Version: simVersion, APIVersion: "1.43", Os: "linux", Arch: "amd64"}
		p.Platform.Name = "simdocker (scripts/simfleet: a simulated engine, no containers run)"
	}
	if format == "" {
		fmt.Fprintf(s.stdout, "Client:\n Version:    %s\n API version: %s\n\nServer: %s\n Engine:\n  Version:   %s\n  API version: %s\n",
			simVersion, v.Client.APIVersion, v.Server.Platform.Name, simVersion, v.Server.APIVersion)
		return nil
	}
	tmpl, err := parseTemplate("version", format)
	if err != nil {
		return err
	}
	out, err := tmpl.render(v)
	if err != nil {
		return err
	}
	fmt.Fprintln(s.stdout, out)
	return nil
}

// labels are the ones compose puts on its containers.
func labels(c *container) map[string]string {
	return map[string]string{
		"com.docker.compose.project":              c.Project,
		"com.docker.compose.service":              c.Service,
		"com.docker.compose.container-number":     fmt.Sprint(c.Number),
		"com.docker.compose.project.working_dir":  c.WorkingDir,
		"com.docker.compose.project.config_files": c.ConfigFile,
		"com.docker.compose.config-hash":          c.ConfigHash,
		"com.docker.compose.oneoff":               "False",
		"com.docker.compose.version":              simVersion,
		"com.docker.compose.image":                imageID(c.Image),
	}
}

func status(c *container) string {
	if c.Running {
		return "running"
	}
	return "exited"
}

func imageID(ref string) string {
	sum := sha256.Sum256([]byte(ref))
	return "sha256:" + hex.EncodeToString(sum[:])
}
