package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
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

var detachFlag = &ucli.BoolFlag{Name: "detach", Usage: "start the deploy, print its workflow ID and Web UI link, and exit"}

var attachFlag = &ucli.BoolFlag{Name: "attach", Usage: "if a deploy or rollback of the service is already running, follow it (as `hoist watch` does) instead of failing"}

func deployCommand(s Streams) *ucli.Command {
	return &ucli.Command{
		Name:  "deploy",
		Usage: "deploy the service's files as a new release to every host, rolling back on failure",
		Flags: []ucli.Flag{
			configFlag, detachFlag, attachFlag, uiURLFlag,
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
			configFlag, detachFlag, attachFlag, uiURLFlag,
			&ucli.StringFlag{Name: "to", Usage: "release to roll back to (default: the newest release older than current not marked failed)"},
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
			} else {
				st, err := readStatus(c, spec)
				if err != nil {
					return err
				}
				to, err = defaultRollbackTarget(st)
				if err != nil {
					return err
				}
			}
			in := workflows.DeployInput{Spec: *spec, Version: to, Kind: workflows.KindRollback}
			return startAndFollow(c, s, in)
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

const registerAttributesHint = "temporal operator search-attribute create --name HoistService --type Keyword " +
	"&& temporal operator search-attribute create --name HoistVersion --type Keyword"

// startAndFollow starts the deploy workflow under the service's lock and,
// unless detached, prints each step as it happens and the outcome.
func startAndFollow(c *ucli.Context, s Streams, in workflows.DeployInput) error {
	cl, err := dial(c)
	if err != nil {
		return err
	}
	defer cl.Close()
	id := workflows.DeployWorkflowID(in.Spec.Service)
	opts := client.StartWorkflowOptions{
		ID:                                       id,
		TaskQueue:                                c.String(flagTaskQueue),
		WorkflowIDConflictPolicy:                 enums.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowIDReusePolicy:                    enums.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		StaticSummary:                            fmt.Sprintf("%s %s %s to %d host(s)", in.Kind, in.Spec.Service, in.Version, len(in.Spec.Hosts)),
		TypedSearchAttributes:                    workflows.SearchAttributes(in),
	}
	run, err := cl.ExecuteWorkflow(c.Context, opts, workflows.DeployWorkflowName, in)
	var invalid *serviceerror.InvalidArgument
	if errors.As(err, &invalid) && strings.Contains(invalid.Error(), "search attribute") {
		// A namespace without hoist's attributes still deploys; only
		// filtering in the Web UI is lost.
		fmt.Fprintf(s.Err, "hoist: warning: namespace %s has no search attributes %s; deploys cannot be filtered by them. "+
			"Register them once: %s\n", c.String(flagNamespace), strings.Join(workflows.SearchAttributeNames, ", "), registerAttributesHint)
		opts.TypedSearchAttributes = temporal.SearchAttributes{}
		run, err = cl.ExecuteWorkflow(c.Context, opts, workflows.DeployWorkflowName, in)
	}
	if err != nil {
		var started *serviceerror.WorkflowExecutionAlreadyStarted
		if errors.As(err, &started) {
			if c.Bool("attach") && !c.Bool("detach") {
				fmt.Fprintf(s.Out, "A deploy or rollback of %s is already running; following it instead of starting version %s\n", in.Spec.Service, in.Version)
				return attach(c, s, cl, &in.Spec, started.RunId)
			}
			return fmt.Errorf("another deploy or rollback of %s is running: workflow %s (run %s), see %s; wait for it or `hoist cancel`",
				in.Spec.Service, id, started.RunId, workflowLink(c, id, started.RunId))
		}
		return fmt.Errorf("starting the deploy workflow: %w", err)
	}
	link := workflowLink(c, id, run.GetRunID())
	if c.Bool("detach") {
		fmt.Fprintf(s.Out, "Started %s of %s version %s\nWorkflow: %s (run %s)\nWeb UI:   %s\n", in.Kind, in.Spec.Service, in.Version, id, run.GetRunID(), link)
		return nil
	}
	doing := map[string]string{workflows.KindDeploy: "Deploying", workflows.KindRollback: "Rolling back"}[in.Kind]
	fmt.Fprintf(s.Out, "%s %s version %s to %d host(s) — %s\n", doing, in.Spec.Service, in.Version, len(in.Spec.Hosts), link)
	return follow(c.Context, s, cl, run, in)
}

// follow prints steps as the progress query reports them, then the outcome.
func follow(ctx context.Context, s Streams, cl client.Client, run client.WorkflowRun, in workflows.DeployInput) error {
	done := make(chan error, 1)
	var res workflows.DeployResult
	go func() { done <- run.Get(ctx, &res) }()
	printed := 0
	show := func() {
		v, err := cl.QueryWorkflow(ctx, run.GetID(), run.GetRunID(), workflows.ProgressQuery)
		if err != nil {
			return
		}
		var p workflows.Progress
		if v.Get(&p) != nil {
			return
		}
		printed = printEvents(s.Out, p.Events, printed)
	}
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			show()
			return outcome(s, in, &res, err)
		case <-tick.C:
			show()
		case <-ctx.Done():
			fmt.Fprintf(s.Err, "hoist: stopped following; the deploy goes on: workflow %s; `hoist watch` follows it again\n", run.GetID())
			return &silentError{code: ExitFailed}
		}
	}
}

// printEvents prints finished steps not printed yet, in order, stopping at
// the first still running so the output reads top to bottom.
func printEvents(w io.Writer, evs []workflows.Event, from int) int {
	for ; from < len(evs); from++ {
		e := evs[from]
		if e.State == "started" {
			return from
		}
		mark := map[string]string{"ok": "✓", "failed": "✗", "warning": "⚠", "skipped": "-"}[e.State]
		line := fmt.Sprintf("  %s %-12s %-34s %6.2fs", mark, e.Host, e.Step, e.Took.Seconds())
		if e.Detail != "" {
			line += "  " + e.Detail
		}
		fmt.Fprintln(w, strings.TrimRight(line, " "))
	}
	return from
}

// outcome prints the seed's closing line and decides the exit code.
func outcome(s Streams, in workflows.DeployInput, res *workflows.DeployResult, err error) error {
	if err == nil {
		// The workflow's own result wins: an attached CLI may not know
		// what it follows.
		if res.Version != "" {
			in.Version = res.Version
		}
		if res.Kind != "" {
			in.Kind = res.Kind
		}
		if res.Outcome == workflows.OutcomeWarning {
			for _, w := range res.Warnings {
				fmt.Fprintf(s.Out, "⚠️ Warning: %s. Monitor closely.\n", w)
			}
			return nil
		}
		if in.Kind == workflows.KindRollback {
			fmt.Fprintf(s.Out, "✅ Rolled back %s to version %s\n", in.Spec.Service, in.Version)
			return nil
		}
		fmt.Fprintf(s.Out, "✅ Successfully deployed %s version %s\n", in.Spec.Service, in.Version)
		return nil
	}
	var app *temporal.ApplicationError
	if errors.As(err, &app) && app.Type() == workflows.FailureType {
		fmt.Fprintln(s.Out, app.Message())
		return &silentError{code: ExitFailed}
	}
	var canceled *temporal.CanceledError
	if errors.As(err, &canceled) {
		var d workflows.FailureDetails
		ok := canceled.HasDetails() && canceled.Details(&d) == nil
		version := in.Version
		if ok && d.Version != "" {
			version = d.Version
		}
		msg := "❌ Deployment of version " + version + " was cancelled."
		if ok && d.RolledBackTo != "" {
			msg += " Rolled back to " + d.RolledBackTo + "."
		}
		fmt.Fprintln(s.Out, msg)
		return &silentError{code: ExitFailed}
	}
	return fmt.Errorf("deploy of %s version %s: %w", in.Spec.Service, in.Version, err)
}
