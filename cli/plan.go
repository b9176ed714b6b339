package cli

import (
	"fmt"
	"io"
	"strings"
	"time"

	ucli "github.com/urfave/cli/v2"
	"go.temporal.io/sdk/client"

	"github.com/hoist-dev/hoist/activities"
	cmds "github.com/hoist-dev/hoist/commands"
	"github.com/hoist-dev/hoist/config"
	"github.com/hoist-dev/hoist/rollout"
	"github.com/hoist-dev/hoist/window"
	"github.com/hoist-dev/hoist/workflows"
)

// Values of --output.
const (
	outputText = "text"
	outputJSON = "json"
)

var outputFlag = &ucli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "text, or json: a stable shape for CI (see README, Rollouts)", Value: outputText}

// Actions of a host in a plan (planHost.Action).
const (
	actionDeploy   = "deploy"   // the release is put on the host
	actionRedeploy = "redeploy" // already on the version, no rollout block: no switch, but up and the running check run again, as hoist deploy does today
	actionSkip     = "skip"     // already on the version: a rollout leaves the host alone
	actionUnknown  = "unknown"  // the host could not be read
)

func planCommand(s Streams) *ucli.Command {
	return &ucli.Command{
		Name:  "plan",
		Usage: "show the batches a deploy goes through, their hosts and where it waits for approval; changes nothing",
		Description: `Reads hoist.yml and prints the deploy's batches in order, the hosts of each
(as hoist shows them), where the rollout waits for approval, and its
max_parallel, preflight and on_failure. Without a rollout block the plan is
one host per batch in config order, as hoist deploy runs today.
With --version V it also reads every host through the worker (as hoist
status does) and marks the hosts already on V. Nothing is changed on any
host, and no deploy is started.`,
		Flags: []ucli.Flag{
			configFlag, outputFlag, waitForWorkerFlag,
			&ucli.StringFlag{Name: "version", Usage: "the release to plan for: hosts already on it are marked (reads every host)"},
		},
		Action: func(c *ucli.Context) error {
			asJSON, err := jsonOutput(c)
			if err != nil {
				return err
			}
			spec, err := loadSpec(c)
			if err != nil {
				return err
			}
			version := c.String("version")
			var st *workflows.StatusResult
			if version != "" {
				if err := config.ValidateVersion(version); err != nil {
					return &UsageError{Err: err}
				}
				if err := checkReleaseName("--version", version); err != nil {
					return err
				}
				cl, err := dial(c, s)
				if err != nil {
					return err
				}
				defer cl.Close()
				if st, err = readHosts(c, cl, spec); err != nil {
					return err
				}
			}
			p := makePlan(spec, version, st)
			p.Starts = startsText(spec, time.Now())
			if asJSON {
				if err := writeJSON(s.Out, p); err != nil {
					return err
				}
			} else {
				p.print(s.Out)
			}
			if st != nil && len(st.Errors) > 0 {
				for _, e := range st.Errors {
					fmt.Fprintf(s.Err, "hoist: %s\n", e)
				}
				return exitWith(ExitUnsafe) // hoist cannot tell what those hosts run
			}
			return nil
		},
	}
}

// readHosts reads every host with the status workflow. The rollout block
// is no business of the status read: a worker that predates it reads the
// hosts all the same.
func readHosts(c *ucli.Context, cl client.Client, spec *config.Spec) (*workflows.StatusResult, error) {
	hostsOnly := *spec
	hostsOnly.Rollout = nil
	return readStatusWith(c, cl, &hostsOnly)
}

// plan is what `hoist plan` shows; with --output json it is written as
// is, so its JSON shape is a contract: README documents it, fields are
// only ever added.
type plan struct {
	Service     string `json:"service"`
	Environment string `json:"environment"`
	Version     string `json:"version,omitempty"` // --version; absent without it
	// Rollout: hoist.yml has a rollout block. Without one, hosts go one
	// at a time in config order.
	Rollout bool `json:"rollout"`
	// Runnable: this hoist's deploy runs the plan. Always true now; it
	// was false for a rollout block while rollouts were only planned, and
	// stays in the shape for the scripts that read it.
	Runnable bool `json:"runnable"`
	Hosts    int  `json:"hosts"`
	// Starts: when a deploy started now would start, by hoist.yml's
	// deploy windows; absent without a windows block.
	Starts                 string      `json:"starts,omitempty"`
	Preflight              bool        `json:"preflight"`
	MaxParallel            int         `json:"max_parallel"` // as set; 0: each batch's size
	PauseSeconds           float64     `json:"pause_seconds"`
	ApprovalTimeoutSeconds float64     `json:"approval_timeout_seconds"` // 0 without a rollout block
	MaxFailed              int         `json:"max_failed"`               // hosts that may fail before the rollout stops
	OnFailure              string      `json:"on_failure"`
	Strategy               string      `json:"strategy"` // recreate or zero-downtime
	Batches                []planBatch `json:"batches"`

	spec *config.Spec
}

type planBatch struct {
	Number        int        `json:"number"`         // 1 for the first
	Parallel      int        `json:"parallel"`       // hosts changed at once
	ApprovalAfter bool       `json:"approval_after"` // the rollout waits for approval after this batch
	Hosts         []planHost `json:"hosts"`
}

type planHost struct {
	Name    string `json:"name"`              // as hoist shows the host: its name, else its target
	Target  string `json:"target"`            // what is dialled: [user@]address[:port]
	Current string `json:"current,omitempty"` // the host's current release, read with --version
	Action  string `json:"action"`            // deploy, redeploy, skip or unknown
}

// makePlan lays out spec's hosts in batches. st is every host's state,
// read for version; nil without --version.
func makePlan(spec *config.Spec, version string, st *workflows.StatusResult) plan {
	p := plan{
		Service: spec.Service, Environment: spec.EnvironmentName(), Version: version,
		Hosts: len(spec.Hosts), Runnable: true, MaxParallel: 1, OnFailure: config.OnFailureRollback,
		Strategy: config.StrategyRecreate, spec: spec,
	}
	if spec.ZeroDowntime() {
		p.Strategy = config.StrategyZeroDowntime
	}
	var sizes []rollout.Size // none: one host per batch
	approve := map[int]bool{}
	if r := spec.Rollout; r != nil {
		p.Rollout = true
		p.Preflight, p.MaxParallel, p.OnFailure = r.Preflight, r.MaxParallel, r.OnFailure
		p.PauseSeconds, p.ApprovalTimeoutSeconds = r.Pause.Seconds(), r.ApprovalTimeout.Seconds()
		p.MaxFailed = r.MaxFailed.BudgetOf(len(spec.Hosts))
		sizes = r.Batches
		for _, b := range r.ApproveAfter {
			approve[b] = true
		}
	}
	hosts := make([]planHost, len(spec.Hosts))
	for i, h := range spec.Hosts {
		hosts[i] = planHost{Name: h.String(), Target: h.Target(), Action: actionDeploy}
		if st != nil {
			hosts[i].Current, hosts[i].Action = hostAction(h, i, version, st, p.Rollout)
		}
	}
	for i, b := range rollout.Batches(hosts, sizes) {
		parallel := 1
		if p.Rollout {
			parallel = rollout.Parallel(p.MaxParallel, len(b))
		}
		p.Batches = append(p.Batches, planBatch{Number: i + 1, Parallel: parallel, ApprovalAfter: approve[i+1], Hosts: b})
	}
	return p
}

// hostAction is what a deploy of version does to host h (the i-th of the
// spec), from the status read. The status workflow reads the hosts in
// config order and lists every one, read or not; a host it could not read
// has an empty state, like one never deployed to, and is unknown when any
// host could not be read.
func hostAction(h config.Host, i int, version string, st *workflows.StatusResult, fleet bool) (current, action string) {
	if i >= len(st.Hosts) || st.Hosts[i].Target.Host != h.Target() {
		return "", actionUnknown
	}
	hs := st.Hosts[i]
	if unread(st, hs) {
		return "", actionUnknown
	}
	switch {
	case hs.State.Current != version:
		return hs.State.Current, actionDeploy
	case fleet:
		return hs.State.Current, actionSkip
	default:
		return hs.State.Current, actionRedeploy
	}
}

func isEmptyStatus(hs activities.HostStatus) bool {
	return hs.State.Current == "" && len(hs.State.Releases) == 0 && len(hs.Containers) == 0
}

// print writes the plan for people.
func (p plan) print(w io.Writer) {
	what := fmt.Sprintf("Plan for %s (%s environment)", p.Service, p.Environment)
	if p.Version != "" {
		what += ", version " + p.Version
	}
	fmt.Fprintf(w, "%s: %s in %s; hoist plan changes nothing\n", what, count(p.Hosts, "host"), count(len(p.Batches), "batch"))
	if p.Starts != "" {
		fmt.Fprintf(w, "starts: %s\n", p.Starts)
	}
	if r := p.spec.Rollout; r != nil {
		parallel := "batch size"
		if r.MaxParallel > 0 {
			parallel = fmt.Sprint(r.MaxParallel)
		}
		preflight := "no"
		if r.Preflight {
			preflight = "yes (sync, registry login and pull on every host before any host switches)"
		}
		failed := count(p.MaxFailed, "host")
		if r.MaxFailed.Percent {
			failed = fmt.Sprintf("%s of %s = %s (rounded down)", r.MaxFailed, count(p.Hosts, "host"), count(p.MaxFailed, "host"))
		}
		fmt.Fprintf(w, "rollout: batches %s, max_parallel: %s, preflight: %s, pause: %s, max_failed: %s, on_failure: %s\n",
			config.SizesText(r.Batches), parallel, preflight, config.FormatDuration(r.Pause), failed, r.OnFailure)
	} else {
		fmt.Fprintf(w, "no rollout block: one host at a time in config order, as hoist deploy runs today; "+
			"each host pulls before its own switch, and a failure rolls back every host the deploy changed\n")
	}
	if px := p.spec.Proxy; p.Strategy == config.StrategyZeroDowntime && px != nil {
		fmt.Fprintf(w, "strategy: zero-downtime (a proxy on %s in front of slots %s and %s, to %s:%d; the old slot drains for %s)\n",
			px.Listen, cmds.SlotProject(p.Service, cmds.SlotA), cmds.SlotProject(p.Service, cmds.SlotB),
			px.Service, px.Port, config.FormatDuration(px.Drain))
	} else {
		fmt.Fprintf(w, "strategy: recreate (compose up -d replaces the containers: requests fail while they restart)\n")
	}
	width := 0
	for _, b := range p.Batches {
		for _, h := range b.Hosts {
			width = max(width, len(h.Name))
		}
	}
	for _, b := range p.Batches {
		fmt.Fprintf(w, "batch %d (%s", b.Number, count(len(b.Hosts), "host"))
		if p.Rollout {
			fmt.Fprintf(w, ", %d at a time", b.Parallel)
		}
		fmt.Fprintf(w, "):\n")
		for _, h := range b.Hosts {
			fmt.Fprintf(w, "  %s\n", strings.TrimRight(fmt.Sprintf("%-*s  %s", width, h.Name, p.hostText(h)), " "))
		}
		if b.ApprovalAfter {
			fmt.Fprintf(w, "  then wait for approval; no answer within %s: the rollout fails (on_failure: %s)\n",
				config.FormatDuration(p.spec.Rollout.ApprovalTimeout), p.OnFailure)
		}
	}
	if p.Version != "" {
		n := map[string]int{}
		for _, b := range p.Batches {
			for _, h := range b.Hosts {
				n[h.Action]++
			}
		}
		var parts []string
		for _, a := range []string{actionDeploy, actionRedeploy, actionSkip, actionUnknown} {
			if n[a] > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", n[a], map[string]string{
					actionDeploy: "to deploy", actionRedeploy: "to redeploy", actionSkip: "skipped", actionUnknown: "unknown"}[a]))
			}
		}
		fmt.Fprintf(w, "%s\n", strings.Join(parts, ", "))
	}
}

// hostText is what happens to host h, for the text plan.
func (p plan) hostText(h planHost) string {
	switch h.Action {
	case actionSkip:
		return "skip: already on " + p.Version
	case actionRedeploy:
		return "redeploy: already on " + p.Version + " (nothing switched; up and the running check run again)"
	case actionUnknown:
		return "unknown: could not be read"
	}
	if p.Version == "" {
		return ""
	}
	if h.Current == "" {
		return "deploy (no current release)"
	}
	return "deploy (current " + h.Current + ")"
}

// count is "1 host", "3 hosts", "2 batches".
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	if strings.HasSuffix(noun, "ch") {
		return fmt.Sprintf("%d %ses", n, noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// startsText says when a deploy started at now would start, by the
// deploy windows (the workflow decides the same way when it runs).
func startsText(spec *config.Spec, now time.Time) string {
	if spec.Windows == nil {
		return ""
	}
	w, err := window.Parse(*spec.Windows)
	if err != nil {
		return "" // Load refused such a spec already
	}
	return w.Describe(now)
}
