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
Then, host by host in order: switch current, up, the running check. The running check covers
hoist.yml's services: (every compose service when left out); a crash or
restart of a service not listed is a warning.
A bundle holding an env file (.env, or an env_file the compose file
names) is refused unless payloads are encrypted: see hoist codec-key.`,
		Flags: []ucli.Flag{
			configFlag, detachFlag("deploy"), attachFlag, uiURLFlag, waitForWorkerFlag,
			&ucli.StringFlag{Name: "version", Usage: "release version [0-9A-Za-z._-]{1,64} (default: now, UTC, as YYYYMMDDhhmmss)"},
		},
		Action: func(c *ucli.Context) error {
			spec, err := loadSpec(c)
			if err != nil {
				return err
			}
			version := c.String("version")
			if version == "" {
				version = config.NewVersion(time.Now())
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
			in := workflows.DeployInput{Spec: *spec, Version: version, Kind: workflows.KindDeploy, Bundle: bundle}
			return startAndFollow(c, s, in)
		},
	}
}

func rollbackCommand(s Streams) *ucli.Command {
	return &ucli.Command{
		Name:  "rollback",
		Usage: "switch every host back to an earlier release that is still on it",
		Flags: []ucli.Flag{
			configFlag, detachFlag("rollback"), attachFlag, uiURLFlag, waitForWorkerFlag,
			&ucli.StringFlag{Name: "to", Usage: "release to roll back to (default: on every host, the newest release other than current that passed its running check, by when it was last current)"},
		},
		Action: func(c *ucli.Context) error {
			spec, err := loadSpec(c)
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
			in := workflows.DeployInput{Spec: *spec, Version: to, Kind: workflows.KindRollback}
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
					return joinRunning(c, s, cl, in, r)
				}
				st, err := readStatusWith(c, cl, spec)
				if err != nil {
					return err
				}
				if in.Version, err = defaultRollbackTarget(st); err != nil {
					return err
				}
			}
			return startAndFollowWith(c, s, cl, in)
		},
	}
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
// happens and the outcome.
func startAndFollow(c *ucli.Context, s Streams, in workflows.DeployInput) error {
	cl, err := dial(c, s)
	if err != nil {
		return err
	}
	defer cl.Close()
	return startAndFollowWith(c, s, cl, in)
}

func startAndFollowWith(c *ucli.Context, s Streams, cl client.Client, in workflows.DeployInput) error {
	if err := checkWorker(c, cl); err != nil {
		return err
	}
	env := in.Spec.EnvironmentName()
	id := workflows.DeployWorkflowID(in.Spec.Service, env)
	opts := client.StartWorkflowOptions{
		ID:                                       id,
		TaskQueue:                                c.String(flagTaskQueue),
		WorkflowIDConflictPolicy:                 enums.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowIDReusePolicy:                    enums.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		StaticSummary:                            fmt.Sprintf("%s %s (%s) %s to %d host(s)", in.Kind, in.Spec.Service, env, in.Version, len(in.Spec.Hosts)),
		TypedSearchAttributes:                    workflows.SearchAttributes(in),
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
			return joinRunning(c, s, cl, in, r)
		}
		return fmt.Errorf("starting the deploy workflow: %w", err)
	}
	link := workflowLink(c, id, run.GetRunID())
	if c.Bool("detach") {
		fmt.Fprintf(s.Out, "Started %s of %s version %s\nEnvironment: %s\nWorkflow: %s (run %s)\nWeb UI:   %s\n", in.Kind, in.Spec.Service, in.Version, env, id, run.GetRunID(), link)
		return nil
	}
	doing := map[string]string{workflows.KindDeploy: "Deploying", workflows.KindRollback: "Rolling back"}[in.Kind]
	fmt.Fprintf(s.Out, "%s %s version %s to %d host(s) — environment %s — %s\n", doing, in.Spec.Service, in.Version, len(in.Spec.Hosts), env, link)
	return follow(c, s, cl, run, in)
}

// joinRunning answers a deploy or rollback refused because r holds the
// lock: with --attach it follows r when r is what was asked for, and in
// every other case it exits 4 naming what runs. It never reports r's
// outcome as that of another version.
func joinRunning(c *ucli.Context, s Streams, cl client.Client, in workflows.DeployInput, r *running) error {
	what := r.what(in.Spec.Service, in.Spec.EnvironmentName())
	if c.Bool("attach") && !c.Bool("detach") {
		if err := sameDeploy(in, r); err != nil {
			return busyf("not attaching: the %s is running, %v; wait for it (`hoist watch` follows it) or `hoist cancel` it, then retry", what, err)
		}
		fmt.Fprintf(s.Out, "%s is already running; following it\n", capitalize(what))
		return attachRun(c, s, cl, &in.Spec, r)
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
