package cli

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"
	ucli "github.com/urfave/cli/v2"
	"go.temporal.io/sdk/client"

	"github.com/hoist-dev/hoist/activities"
	hoistcmd "github.com/hoist-dev/hoist/commands"
	"github.com/hoist-dev/hoist/config"
	"github.com/hoist-dev/hoist/workflows"
)

func statusCommand(s Streams) *ucli.Command {
	return &ucli.Command{
		Name:  "status",
		Usage: "show each host's current release, retained releases and containers, and how many hosts run which release",
		Flags: []ucli.Flag{configFlag, waitForWorkerFlag, outputFlag},
		Action: func(c *ucli.Context) error {
			asJSON, err := jsonOutput(c)
			if err != nil {
				return err
			}
			return withService(c, s, func(spec *config.Spec, cl client.Client) error {
				st, err := readStatusWith(c, cl, spec)
				if err != nil {
					return err
				}
				if asJSON {
					if err := writeJSON(s.Out, statusReport(spec, st)); err != nil {
						return err
					}
					for _, e := range st.Errors {
						fmt.Fprintf(s.Err, "hoist: %s\n", e)
					}
				} else {
					fmt.Fprintf(s.Out, "%s (%s environment)\n", spec.Service, spec.EnvironmentName())
					fmt.Fprintln(s.Out, fleetReleases(st).text())
					if line := runningLine(c, cl, spec); line != "" {
						fmt.Fprintln(s.Out, line)
					}
					printStatus(s, st)
				}
				if len(st.Errors) > 0 {
					return exitWith(ExitUnsafe)
				}
				return nil
			})
		},
	}
}

// runningLine says what deploy of the service runs now, and what it
// waits for (its --at time, its window, an approval); "" when none runs.
func runningLine(c *ucli.Context, cl client.Client, spec *config.Spec) string {
	r, err := runningDeploy(c, cl, spec)
	if err != nil || r == nil {
		return ""
	}
	line := "In progress: " + r.what(spec.Service, spec.EnvironmentName())
	if p, ok := queryProgress(c.Context, cl, r.id, r.runID); ok {
		if w := waitLine(p); w != "" {
			return line + "\n" + w
		}
		if p.Phase != "" {
			line += " (" + p.Phase + ")"
		}
	}
	return line
}

// readStatusWith runs the status workflow: the workers hold the SSH keys.
// status, plan and rollback read the hosts with it.
func readStatusWith(c *ucli.Context, cl client.Client, spec *config.Spec) (*workflows.StatusResult, error) {
	if err := checkWorker(c, cl); err != nil {
		return nil, err
	}
	// A workflow per read, recognisable in the Web UI's list by its ID and
	// summary, and without hoist's search attributes, so a HoistService
	// filter shows deploys only.
	run, err := cl.ExecuteWorkflow(c.Context, client.StartWorkflowOptions{
		ID:                       "status/" + spec.Service + "/" + uuid.NewString(),
		TaskQueue:                c.String(flagTaskQueue),
		StaticSummary:            fmt.Sprintf("read of %d host(s) of %s (%s) for hoist %s; changes nothing", len(spec.Hosts), spec.Service, spec.EnvironmentName(), c.Command.Name),
		WorkflowExecutionTimeout: workflows.StatusTimeout(len(spec.Hosts)),
	}, workflows.StatusWorkflowName, workflows.StatusInput{Spec: *spec})
	if err != nil {
		return nil, fmt.Errorf("starting the status workflow: %w", err)
	}
	var res workflows.StatusResult
	if err := run.Get(c.Context, &res); err != nil {
		return nil, fmt.Errorf("reading status of %s: %w", spec.Service, err)
	}
	return &res, nil
}

func printStatus(s Streams, st *workflows.StatusResult) {
	for _, h := range st.Hosts {
		cur := h.State.Current
		if cur == "" {
			cur = "(none)"
		}
		fmt.Fprintf(s.Out, "%s  current: %s\n", h.Target.Label(), cur)
		var rels []string
		for _, r := range h.State.Releases { // by when each was last made current, newest first
			v := r.Version + " (" + r.Health() + ")"
			if r.Version == h.State.Current {
				v += " *"
			}
			rels = append(rels, v)
		}
		if len(rels) > 0 {
			fmt.Fprintf(s.Out, "  releases: %s\n", strings.Join(rels, ", "))
		}
		if h.Traffic != "" {
			fmt.Fprintf(s.Out, "  traffic: slot %s (%s)\n", hoistcmd.ParseUpstream(h.Traffic, h.Target.Service), h.Traffic)
		}
		for _, c := range h.Containers {
			state := c.Status
			if c.Health != "" {
				state += " (" + c.Health + ")"
			}
			if c.RestartCount > 0 {
				state += fmt.Sprintf(", restarted %d×", c.RestartCount)
			}
			fmt.Fprintf(s.Out, "  %-30s %-12s %s\n", c.Name, c.Service, state)
		}
	}
	for _, e := range st.Errors {
		fmt.Fprintf(s.Err, "hoist: %s\n", e)
	}
}

// defaultRollbackTarget: on every host, the newest good release other
// than current, by when it was last made current (commands.State.
// PreviousGood, the one rule); the hosts must agree.
func defaultRollbackTarget(st *workflows.StatusResult) (string, error) {
	if len(st.Errors) > 0 {
		return "", fmt.Errorf("cannot choose a rollback target: %s", strings.Join(st.Errors, "; "))
	}
	target := ""
	for _, h := range st.Hosts {
		t := h.State.PreviousGood()
		if t == "" {
			return "", fmt.Errorf("host %s has no good release besides current %q (only a release that passed its running check is rolled back to): nothing to roll back to; name one with --to", h.Target.Label(), h.State.Current)
		}
		if target != "" && t != target {
			return "", fmt.Errorf("hosts disagree on the rollback target (%s vs %s): name one with --to", target, t)
		}
		target = t
	}
	return target, nil
}

// unread says whether the status read could not reach host hs: the
// status workflow lists every host, and one it could not read has an
// empty state, like one never deployed to.
func unread(st *workflows.StatusResult, hs activities.HostStatus) bool {
	return len(st.Errors) > 0 && isEmptyStatus(hs)
}

// releaseGroup is the hosts on one release.
type releaseGroup struct {
	Release string   `json:"release"` // "" with no current release, or when not read
	Unknown bool     `json:"unknown"` // the hosts could not be read
	Count   int      `json:"count"`
	Hosts   []string `json:"hosts"` // as hoist shows them, config order
}

// fleetStatus is how many hosts run which release.
type fleetStatus struct {
	Hosts    int            `json:"hosts"`
	Releases []releaseGroup `json:"releases"` // most hosts first, then by name; no release and unknown last
	Text     string         `json:"text"`     // the line hoist status prints
}

// fleetReleases groups the hosts of st by their current release.
func fleetReleases(st *workflows.StatusResult) fleetStatus {
	var groups []releaseGroup
	find := func(release string, unknown bool) *releaseGroup {
		for i := range groups {
			if groups[i].Release == release && groups[i].Unknown == unknown {
				return &groups[i]
			}
		}
		groups = append(groups, releaseGroup{Release: release, Unknown: unknown, Hosts: []string{}})
		return &groups[len(groups)-1]
	}
	for _, hs := range st.Hosts {
		var g *releaseGroup
		if unread(st, hs) {
			g = find("", true)
		} else {
			g = find(hs.State.Current, false)
		}
		g.Count++
		g.Hosts = append(g.Hosts, hs.Target.Label())
	}
	rank := func(g releaseGroup) int { // releases, then no release, then unknown
		switch {
		case g.Unknown:
			return 2
		case g.Release == "":
			return 1
		}
		return 0
	}
	slices.SortStableFunc(groups, func(a, b releaseGroup) int {
		if r := cmp.Compare(rank(a), rank(b)); r != 0 {
			return r
		}
		if a.Count != b.Count {
			return cmp.Compare(b.Count, a.Count)
		}
		return cmp.Compare(a.Release, b.Release)
	})
	if groups == nil {
		groups = []releaseGroup{}
	}
	f := fleetStatus{Hosts: len(st.Hosts), Releases: groups}
	f.Text = f.text()
	return f
}

// text is "12 hosts: 11 on v2, 1 on v1".
func (f fleetStatus) text() string {
	parts := make([]string, len(f.Releases))
	for i, g := range f.Releases {
		switch {
		case g.Unknown:
			parts[i] = fmt.Sprintf("%d unknown", g.Count)
		case g.Release == "":
			parts[i] = fmt.Sprintf("%d with no release", g.Count)
		default:
			parts[i] = fmt.Sprintf("%d on %s", g.Count, g.Release)
		}
	}
	return count(f.Hosts, "host") + ": " + strings.Join(parts, ", ")
}

// statusJSON is what hoist status prints with --output json. README
// documents it; fields are only ever added.
type statusJSON struct {
	Service     string       `json:"service"`
	Environment string       `json:"environment"`
	Fleet       fleetStatus  `json:"fleet"`
	Hosts       []hostStatus `json:"hosts"` // config order
	Errors      []string     `json:"errors"`
}

type hostStatus struct {
	Name       string            `json:"name"`    // as hoist shows the host
	Target     string            `json:"target"`  // what is dialled
	Read       bool              `json:"read"`    // false: it could not be read (errors says why)
	Current    string            `json:"current"` // "" with no current release
	Releases   []releaseStatus   `json:"releases"`
	Containers []containerStatus `json:"containers"`
	Traffic    string            `json:"traffic,omitempty"` // zero-downtime: the container the proxy sends traffic to
}

type releaseStatus struct {
	Version string `json:"version"`
	Health  string `json:"health"` // good, failed or unknown
	Current bool   `json:"current"`
}

type containerStatus struct {
	Name         string `json:"name"`
	Service      string `json:"service"`
	Status       string `json:"status"`
	Health       string `json:"health"`
	RestartCount int    `json:"restart_count"`
}

func statusReport(spec *config.Spec, st *workflows.StatusResult) statusJSON {
	out := statusJSON{Service: spec.Service, Environment: spec.EnvironmentName(), Fleet: fleetReleases(st), Hosts: []hostStatus{}, Errors: st.Errors}
	if out.Errors == nil {
		out.Errors = []string{}
	}
	for _, hs := range st.Hosts {
		h := hostStatus{Name: hs.Target.Label(), Target: hs.Target.Host, Read: !unread(st, hs), Current: hs.State.Current,
			Releases: []releaseStatus{}, Containers: []containerStatus{}, Traffic: hs.Traffic}
		for _, r := range hs.State.Releases {
			h.Releases = append(h.Releases, releaseStatus{Version: r.Version, Health: r.Health(), Current: r.Version == hs.State.Current})
		}
		for _, c := range hs.Containers {
			h.Containers = append(h.Containers, containerStatus{Name: c.Name, Service: c.Service, Status: c.Status, Health: c.Health, RestartCount: c.RestartCount})
		}
		out.Hosts = append(out.Hosts, h)
	}
	return out
}
