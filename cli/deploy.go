package cli

import (
	"errors"
	"fmt"
	"strings"
	"time"

	ucli "github.com/urfave/cli/v2"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	cmds "github.com/hoist-dev/hoist/commands"
	"github.com/hoist-dev/hoist/config"
	"github.com/hoist-dev/hoist/rollout"
	"github.com/hoist-dev/hoist/workflows"
)

var configFlag = &ucli.StringFlag{Name: "config", Aliases: []string{"c"}, Usage: "hoist.yml of the service", Value: "hoist.yml"}

// detachFlag's usage names what is started. No backquotes in usages:
// urfave/cli reads backquoted text as the flag's value placeholder.
func detachFlag(what string) *ucli.BoolFlag {
	return &ucli.BoolFlag{Name: "detach", Usage: "start the " + what + ", print its workflow ID and Web UI link, and exit"}
}

var attachFlag = &ucli.BoolFlag{Name: "attach", Usage: "if the same deploy (or rollback) of the service and environment is already running, follow it as hoist watch does instead of failing; another version running still exits 4"}

func deployCommand(s Streams) *ucli.Command {
	return &ucli.Command{
		Name:  "deploy",
		Usage: "deploy the service's files as a new release to every host, rolling back on failure",
		Description: `Ships the files folder as release --version to every host of hoist.yml.
Pre-flight first: upload, registry login and pull on every host (the old
release still serves; a failure anywhere leaves every host as it was).
Then, host by host in order: switch current, up, the running check. With
a rollout block in hoist.yml, batch by batch instead, one line per host,
waiting for hoist approve where it says (hoist plan shows the batches).
--hosts limits the deploy to some hosts. The running check covers
hoist.yml's services: (every compose service when left out); a crash or
restart of a service not listed is a warning.
A bundle holding an env file (.env, or an env_file the compose file
names) is refused unless payloads are encrypted: see hoist codec-key.`,
		Flags: []ucli.Flag{
			configFlag, detachFlag("deploy"), attachFlag, uiURLFlag, waitForWorkerFlag, hostsFlag, outputFlag,
			&ucli.StringFlag{Name: "version", Usage: "release version [0-9A-Za-z._-]{1,64} (default: now, UTC, as YYYYMMDDhhmmss; with --at, that time)"},
			&ucli.StringFlag{Name: "at", Usage: "start the deploy then, not now: RFC 3339 (2026-12-24T02:00:00Z) or HH:MM in windows.timezone (UTC without one); accepted now, it waits on a durable timer in Temporal, holding the service's lock; hoist watch and status show it, hoist cancel removes it; returns at once"},
			&ucli.BoolFlag{Name: "ignore-window", Usage: "deploy even outside hoist.yml's deploy windows (needs --reason; recorded in the history)"},
			&ucli.StringFlag{Name: "reason", Usage: "why --ignore-window, recorded in the history"},
		},
		Action: func(c *ucli.Context) error {
			if _, err := jsonOutput(c); err != nil {
				return err
			}
			spec, err := loadSpec(c)
			if err != nil {
				return err
			}
			total := len(spec.Hosts)
			limited, err := applyHosts(c, spec)
			if err != nil {
				return err
			}
			var at *time.Time
			if v := c.String("at"); v != "" {
				loc := time.UTC
				if spec.Windows != nil && spec.Windows.Timezone != "" {
					if loc, err = time.LoadLocation(spec.Windows.Timezone); err != nil {
						return Usagef("windows.timezone: %v", err)
					}
				}
				t, err := parseAt(v, time.Now(), loc)
				if err != nil {
					return &UsageError{Err: err}
				}
				at = &t
			}
			override, err := windowOverride(c)
			if err != nil {
				return err
			}
			version := c.String("version")
			if version == "" {
				when := time.Now()
				if at != nil {
					when = *at
				}
				version = config.NewVersion(when)
			}
			if err := config.ValidateVersion(version); err != nil {
				return &UsageError{Err: err}
			}
			if err := checkReleaseName("--version", version); err != nil {
				return err
			}
			bundle, err := config.Bundle(spec.FilesDir)
			if err != nil {
				return &UsageError{Err: fmt.Errorf("files %s: %w", spec.FilesDir, err)}
			}
			if err := checkSecretsEncrypted(c, spec, bundle); err != nil {
				return err
			}
			in := workflows.DeployInput{Spec: *spec, Version: version, Kind: workflows.KindDeploy, Bundle: bundle, Limited: limited,
				At: at, WindowOverride: override}
			sayLimited(c, s, in, total)
			return startAndFollow(c, s, in, total)
		},
	}
}

func rollbackCommand(s Streams) *ucli.Command {
	return &ucli.Command{
		Name:  "rollback",
		Usage: "switch every host back to an earlier release that is still on it",
		Flags: []ucli.Flag{
			configFlag, detachFlag("rollback"), attachFlag, uiURLFlag, waitForWorkerFlag, hostsFlag, outputFlag,
			&ucli.StringFlag{Name: "to", Usage: "release to roll back to (default: on every host, the newest release other than current that passed its running check, by when it was last current)"},
		},
		Action: func(c *ucli.Context) error {
			if _, err := jsonOutput(c); err != nil {
				return err
			}
			spec, err := loadSpec(c)
			if err != nil {
				return err
			}
			total := len(spec.Hosts)
			limited, err := applyHosts(c, spec)
			if err != nil {
				return err
			}
			to := c.String("to")
			if to != "" {
				if err := config.ValidateVersion(to); err != nil {
					var ce *config.Error
					if errors.As(err, &ce) { // it names --version: this is --to
						c := *ce
						c.Field = "--to"
						err = &c
					}
					return &UsageError{Err: err}
				}
				if err := checkReleaseName("--to", to); err != nil {
					return err
				}
			}
			in := workflows.DeployInput{Spec: *spec, Version: to, Kind: workflows.KindRollback, Limited: limited}
			sayLimited(c, s, in, total)
			cl, err := dial(c, s)
			if err != nil {
				return err
			}
			defer cl.Close()
			if to == "" {
				// A deploy in flight leaves the hosts between releases: the
				// lock, not the hosts' state, is the answer then.
				if r, err := runningDeploy(c, cl, spec); err != nil {
					return err
				} else if r != nil {
					return joinRunning(c, s, cl, in, r, total)
				}
				st, err := readStatusWith(c, cl, spec)
				if err != nil {
					return err
				}
				if in.Version, err = defaultRollbackTarget(st); err != nil {
					return err
				}
			}
			return startAndFollowWith(c, s, cl, in, total)
		},
	}
}

// sayLimited says loudly, before anything starts, that --hosts leaves
// hosts out; with --output json on stderr, stdout being the object.
func sayLimited(c *ucli.Context, s Streams, in workflows.DeployInput, total int) {
	if in.Limited == "" {
		return
	}
	w := s.Out
	if asJSON, _ := jsonOutput(c); asJSON {
		w = s.Err
	}
	fmt.Fprintln(w, limitedLine(in.Limited, in.Spec.Hosts, total))
}

// windowOverride is --ignore-window --reason, with who gave it.
func windowOverride(c *ucli.Context) (*workflows.WindowOverride, error) {
	reason := strings.TrimSpace(c.String("reason"))
	switch {
	case !c.Bool("ignore-window") && reason == "":
		return nil, nil
	case !c.Bool("ignore-window"):
		return nil, Usagef("--reason goes with --ignore-window")
	case reason == "":
		return nil, Usagef("--ignore-window needs --reason TEXT: why this deploy goes outside its windows (recorded in the history)")
	}
	return &workflows.WindowOverride{Reason: reason, By: whoAmI()}, nil
}

// checkReleaseName refuses a version the config rule allows but the
// release layout cannot hold: "current" is the link itself, and names
// starting with "." are hoist's own (.current.tmp, the link it switches
// with): a release so named is renamed over current and breaks every
// later deploy.
func checkReleaseName(flag, v string) error {
	if !cmds.IsVersion(v) {
		return Usagef("%s: %q is reserved for hoist's own entries under remote_base; choose another version", flag, v)
	}
	return nil
}

func loadSpec(c *ucli.Context) (*config.Spec, error) {
	spec, err := config.Load(c.String("config"))
	if err != nil {
		return nil, &UsageError{Err: err}
	}
	return spec, nil
}

// registerAttributesHint is the command that adds hoist's search
// attributes to namespace ns of the Temporal at addr: one create per
// attribute, since the temporal CLI given several names adds none when
// one of them exists already (a namespace from before HoistEnvironment).
func registerAttributesHint(addr, ns string) string {
	var cmds []string
	for _, name := range workflows.SearchAttributeNames {
		cmds = append(cmds, fmt.Sprintf("temporal operator search-attribute create --address %s --namespace %s --name %s --type Keyword", addr, ns, name))
	}
	return strings.Join(cmds, " && ")
}

// startAndFollow starts the deploy workflow under the lock of the
// service and environment and, unless detached, prints each step as it
// happens and the outcome. total is the service's host count before
// --hosts.
func startAndFollow(c *ucli.Context, s Streams, in workflows.DeployInput, total int) error {
	cl, err := dial(c, s)
	if err != nil {
		return err
	}
	defer cl.Close()
	return startAndFollowWith(c, s, cl, in, total)
}

func startAndFollowWith(c *ucli.Context, s Streams, cl client.Client, in workflows.DeployInput, total int) error {
	if err := checkWorker(c, cl); err != nil {
		return err
	}
	if in.At == nil {
		// A deploy that waits for --at keeps its files in its own input:
		// a holder run could pass the namespace's retention before it starts.
		if err := holdBundle(c, cl, &in); err != nil {
			return err
		}
	}
	env := in.Spec.EnvironmentName()
	id := workflows.DeployWorkflowID(in.Spec.Service, env)
	opts := client.StartWorkflowOptions{
		ID:                                       id,
		TaskQueue:                                c.String(flagTaskQueue),
		WorkflowIDConflictPolicy:                 enums.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowIDReusePolicy:                    enums.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		StaticSummary:                            staticSummary(in),
		TypedSearchAttributes:                    workflows.SearchAttributes(in),
		// Who started it, for hoist history (visibility returns memos).
		Memo: map[string]any{workflows.MemoBy: whoAmI()},
	}
	run, err := cl.ExecuteWorkflow(c.Context, opts, workflows.DeployWorkflowName, in)
	var invalid *serviceerror.InvalidArgument
	if errors.As(err, &invalid) && strings.Contains(invalid.Error(), "search attribute") {
		// A namespace without hoist's attributes still deploys; only
		// filtering in the Web UI is lost.
		fmt.Fprintf(s.Err, "hoist: warning: namespace %s has no search attributes %s; deploys cannot be filtered by them. "+
			"Register them once: %s\n", c.String(flagNamespace), strings.Join(workflows.SearchAttributeNames, ", "),
			registerAttributesHint(c.String(flagTemporalAddress), c.String(flagNamespace)))
		opts.TypedSearchAttributes = temporal.SearchAttributes{}
		run, err = cl.ExecuteWorkflow(c.Context, opts, workflows.DeployWorkflowName, in)
	}
	if err != nil {
		var started *serviceerror.WorkflowExecutionAlreadyStarted
		if errors.As(err, &started) {
			r, lerr := describeRunning(c, cl, id, started.RunId)
			if lerr != nil {
				return lerr
			}
			return joinRunning(c, s, cl, in, r, total)
		}
		return fmt.Errorf("starting the deploy workflow: %w", err)
	}
	link := workflowLink(c, id, run.GetRunID())
	asJSON, _ := jsonOutput(c)
	if in.At != nil {
		fmt.Fprintf(s.Out, "Scheduled %s of %s version %s for %s (in %s)\nEnvironment: %s\nWorkflow: %s (run %s)\nWeb UI:   %s\n`hoist watch` follows it, `hoist cancel` removes it.\n",
			in.Kind, in.Spec.Service, in.Version, in.At.UTC().Format(time.RFC3339), time.Until(*in.At).Round(time.Second), env, id, run.GetRunID(), link)
		return nil
	}
	if c.Bool("detach") {
		if asJSON {
			e := ending{kind: in.Kind, version: in.Version, outcome: jsonStarted, code: ExitOK,
				lines: []string{fmt.Sprintf("Started %s of %s version %s", in.Kind, in.Spec.Service, in.Version)}}
			return writeJSON(s.Out, deployReport(in, e, id, run.GetRunID()))
		}
		fmt.Fprintf(s.Out, "Started %s of %s version %s\nEnvironment: %s\nWorkflow: %s (run %s)\nWeb UI:   %s\n", in.Kind, in.Spec.Service, in.Version, env, id, run.GetRunID(), link)
		return nil
	}
	if !asJSON {
		fmt.Fprintln(s.Out, startLine(in, link))
	}
	return follow(c, s, cl, run, in, total)
}

// startLine is the first line of a deploy or rollback: what goes where,
// and for a rollout how.
//
//	Deploying web version v2 to 3 host(s) in 2 batch(es) (batches [1, 100%], max_parallel 10, preflight, approve after batch 1, on_failure rollback) — environment production — LINK
func startLine(in workflows.DeployInput, link string) string {
	doing := map[string]string{workflows.KindDeploy: "Deploying", workflows.KindRollback: "Rolling back"}[in.Kind]
	what := fmt.Sprintf("%s %s version %s to %d host(s)", doing, in.Spec.Service, in.Version, len(in.Spec.Hosts))
	if r := in.Spec.Rollout; r != nil {
		what += fmt.Sprintf(" in %d batch(es) (%s)", len(rollout.Counts(len(in.Spec.Hosts), r.Batches)), rolloutText(r, len(in.Spec.Hosts)))
	}
	return fmt.Sprintf("%s — environment %s — %s", what, in.Spec.EnvironmentName(), link)
}

// rolloutText is a rollout block in a few words: "batches [1, 100%],
// max_parallel 10, preflight, approve after batch 1, on_failure rollback".
func rolloutText(r *config.Rollout, hosts int) string {
	sizes := make([]string, len(r.Batches))
	for i, b := range r.Batches {
		sizes[i] = b.String()
	}
	parts := []string{"batches [" + strings.Join(sizes, ", ") + "]"}
	if r.MaxParallel > 0 {
		parts = append(parts, fmt.Sprintf("max_parallel %d", r.MaxParallel))
	} else {
		parts = append(parts, "max_parallel batch size")
	}
	if r.Preflight {
		parts = append(parts, "preflight")
	} else {
		parts = append(parts, "no preflight")
	}
	if r.Pause > 0 {
		parts = append(parts, "pause "+config.FormatDuration(r.Pause))
	}
	// After the last batch there is nothing left to approve: the
	// workflow does not wait there (a --hosts limit can make a listed
	// batch the last).
	batches := len(rollout.Counts(hosts, r.Batches))
	var nums []string
	for _, b := range r.ApproveAfter {
		if b < batches {
			nums = append(nums, fmt.Sprint(b))
		}
	}
	if len(nums) > 0 {
		word := "batch"
		if len(nums) > 1 {
			word = "batches"
		}
		parts = append(parts, "approve after "+word+" "+strings.Join(nums, ", "))
	}
	if m := r.MaxFailed.BudgetOf(hosts); m > 0 {
		parts = append(parts, fmt.Sprintf("max_failed %d", m))
	}
	parts = append(parts, "on_failure "+r.OnFailure)
	return strings.Join(parts, ", ")
}

// staticSummary is the deploy's one line in the Web UI's list.
func staticSummary(in workflows.DeployInput) string {
	sum := fmt.Sprintf("%s %s (%s) %s to %d host(s)", in.Kind, in.Spec.Service, in.Spec.EnvironmentName(), in.Version, len(in.Spec.Hosts))
	if in.Limited != "" {
		sum += " (--hosts " + in.Limited + ")"
	}
	return sum
}

// joinRunning answers a deploy or rollback refused because r holds the
// lock: with --attach it follows r when r is what was asked for, and in
// every other case it exits 4 naming what runs. It never reports r's
// outcome as that of another version.
func joinRunning(c *ucli.Context, s Streams, cl client.Client, in workflows.DeployInput, r *running, total int) error {
	what := r.what(in.Spec.Service, in.Spec.EnvironmentName())
	if c.Bool("attach") && !c.Bool("detach") {
		if err := sameDeploy(in, r); err != nil {
			return busyf("not attaching: the %s is running, %v; wait for it (`hoist watch` follows it) or `hoist cancel` it, then retry", what, err)
		}
		w := s.Out
		if asJSON, _ := jsonOutput(c); asJSON {
			w = s.Err
		}
		fmt.Fprintf(w, "%s is already running; following it\n", capitalize(what))
		return attachRun(c, s, cl, &in.Spec, r, total)
	}
	return busyf("another deploy or rollback of %s is running: workflow %s (run %s), the %s; see %s; wait for it (`hoist watch` follows it) or `hoist cancel` it",
		in.Spec.Service, r.id, r.runID, what, workflowLink(c, r.id, r.runID))
}

// sameDeploy says whether following r answers the request in: the same
// kind, and the same version (any version for a rollback without --to).
func sameDeploy(in workflows.DeployInput, r *running) error {
	switch {
	case r.version == "":
		return fmt.Errorf("and hoist cannot tell which version it is of (no %s search attribute, and no worker answered its progress query)", workflows.VersionAttribute.GetName())
	case r.kind != "" && r.kind != in.Kind:
		return fmt.Errorf("not a %s", in.Kind)
	case in.Version != "" && r.version != in.Version:
		return fmt.Errorf("not version %s", in.Version)
	}
	return nil
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
