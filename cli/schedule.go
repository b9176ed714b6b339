package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	ucli "github.com/urfave/cli/v2"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/hoist-dev/hoist/activities"
	"github.com/hoist-dev/hoist/config"
	"github.com/hoist-dev/hoist/workflows"
)

// scheduleMemoKey is the schedule memo field hoist keeps what a schedule
// deploys in: Temporal turns a cron string into calendars, and the files
// live in the action's input, which the CLI would otherwise have to
// decode in full.
const scheduleMemoKey = "hoist"

// scheduleMemo is what hoist schedule list and describe show of a
// schedule beyond Temporal's own state. Names and digests only, never
// the files.
type scheduleMemo struct {
	Service        string    `json:"service"`
	Environment    string    `json:"environment"`
	Name           string    `json:"name"`
	Cron           string    `json:"cron"`
	Jitter         string    `json:"jitter,omitempty"`
	Overlap        string    `json:"overlap"`
	PauseOnFailure bool      `json:"pause_on_failure"`
	Files          string    `json:"files"` // the files folder, on the machine that created the schedule
	Hosts          int       `json:"hosts"`
	BundleSHA256   string    `json:"bundle_sha256"`
	BundleBytes    int       `json:"bundle_bytes"`
	CreatedBy      string    `json:"created_by"`
	CreatedAt      time.Time `json:"created_at"`
}

// scheduleCatchup is how late a run may start after Temporal was
// unavailable at its time: a deploy due at 03:00 should not start at
// noon because the server came back then. Temporal's default is a year.
const scheduleCatchup = 15 * time.Minute

// scheduleTriggerWait bounds how long hoist schedule trigger watches for
// the run it asked for to start.
const (
	scheduleTriggerWait = 10 * time.Second
	scheduleTriggerPoll = 250 * time.Millisecond
)

// scheduleNextRuns is how many coming times describe lists.
const scheduleNextRuns = 5

const scheduleDescription = `A schedule deploys the service's release files as they are when the
schedule is created: they are frozen into it, and later edits of the
files folder or hoist.yml do not reach it; delete and create it again to
change them. Each run deploys them as a new release whose version is the
time it was scheduled for, UTC, as YYYYMMDDhhmmss (a trigger's: when it
was triggered), through the same lock as hoist deploy: a run never
deploys beside another deploy or rollback of the service and
environment. If one runs, --overlap decides: skip (the run deploys
nothing and says what held the lock) or buffer-one (it waits, retrying
every 30s for up to 1h, then fails saying so). The cron string is UTC
unless it starts with CRON_TZ=ZONE. A run missed by more than 15m (Temporal
unavailable at its time) is skipped, not started late. hoist status and
hoist watch show a scheduled deploy while it runs; hoist cancel cancels it.`

func scheduleCommand(s Streams) *ucli.Command {
	subs := []*ucli.Command{
		scheduleCreateCommand(s), scheduleListCommand(s), scheduleDescribeCommand(s),
		schedulePauseCommand(s, true), schedulePauseCommand(s, false),
		scheduleTriggerCommand(s), scheduleDeleteCommand(s),
	}
	for _, sub := range subs {
		checkCommandLine(sub)
		acceptGlobalFlags(sub)
	}
	return &ucli.Command{
		Name:        "schedule",
		Usage:       "deploy the service's files, frozen now, on a cron schedule (Temporal Schedules)",
		Description: scheduleDescription,
		ArgsUsage:   "create|list|describe|pause|unpause|trigger|delete",
		Subcommands: subs,
		// Reached only without a known subcommand.
		Action: func(c *ucli.Context) error {
			if c.Args().Present() {
				return Usagef("unknown schedule command %q; see hoist schedule --help", c.Args().First())
			}
			return ucli.ShowSubcommandHelp(c)
		},
	}
}

func scheduleCreateCommand(s Streams) *ucli.Command {
	return &ucli.Command{
		Name:  "create",
		Usage: "create schedule NAME: deploy the files as they are now at each time of --cron",
		Description: scheduleDescription + `

NAME is 1 to 64 of [0-9A-Za-z._-]; the schedule's ID is
hoist/SERVICE/ENVIRONMENT/NAME.`,
		ArgsUsage: "NAME",
		Flags: []ucli.Flag{
			configFlag, waitForWorkerFlag, outputFlag,
			&ucli.StringFlag{Name: "cron", Usage: `when to deploy: a cron string, "MIN HOUR DAY MONTH WEEKDAY" ("0 3 * * 1-5": 03:00 UTC on weekdays), a 6th field for the year, @daily, @every 6h; UTC unless prefixed CRON_TZ=Asia/Shanghai`},
			&ucli.StringFlag{Name: "overlap", Value: workflows.OverlapSkip, Usage: "when a deploy or rollback of the service and environment runs at a run's time: skip (deploy nothing; say what runs) or buffer-one (wait for it, up to 1h)"},
			&ucli.BoolFlag{Name: "pause-on-failure", Usage: "pause the schedule when a run fails (its deploy failed, or buffer-one gave up); hoist schedule unpause resumes it"},
			&ucli.DurationFlag{Name: "jitter", Usage: "start each run up to this much later, at random (5m)"},
		},
		Action: func(c *ucli.Context) error {
			asJSON, err := jsonOutput(c)
			if err != nil {
				return err
			}
			name, err := scheduleName(c)
			if err != nil {
				return err
			}
			cron := strings.TrimSpace(c.String("cron"))
			if cron == "" {
				return Usagef(`--cron is required: when the schedule deploys, e.g. --cron "0 3 * * 1-5"`)
			}
			overlap, err := overlapPolicy(c.String("overlap"))
			if err != nil {
				return err
			}
			jitter := c.Duration("jitter")
			if jitter < 0 {
				return Usagef("--jitter: must not be negative, got %s", jitter)
			}
			spec, err := loadSpec(c)
			if err != nil {
				return err
			}
			bundle, err := config.Bundle(spec.FilesDir)
			if err != nil {
				return &UsageError{Err: fmt.Errorf("files %s: %w", spec.FilesDir, err)}
			}
			if err := checkSecretsEncrypted(c, spec, bundle); err != nil {
				return err
			}
			in := workflows.ScheduledDeployInput{
				DeployInput: workflows.DeployInput{Spec: *spec, Kind: workflows.KindDeploy, Bundle: bundle},
				Overlap:     c.String("overlap"),
			}
			if err := in.Validate(); err != nil {
				return &UsageError{Err: err}
			}
			env := spec.EnvironmentName()
			id := workflows.ScheduleID(spec.Service, env, name)
			memo := scheduleMemo{
				Service: spec.Service, Environment: env, Name: name, Cron: cron, Overlap: in.Overlap,
				PauseOnFailure: c.Bool("pause-on-failure"), Files: spec.FilesDir, Hosts: len(spec.Hosts),
				BundleSHA256: activities.RefOf(bundle, "", "").Digest, BundleBytes: len(bundle),
				CreatedBy: whoAmI(), CreatedAt: time.Now().UTC().Truncate(time.Second),
			}
			if jitter > 0 {
				memo.Jitter = config.FormatDuration(jitter)
			}
			cl, err := dial(c, s)
			if err != nil {
				return err
			}
			defer cl.Close()
			if err := checkWorker(c, cl); err != nil {
				return err
			}
			h, err := cl.ScheduleClient().Create(c.Context, client.ScheduleOptions{
				ID:   id,
				Spec: client.ScheduleSpec{CronExpressions: []string{cron}, Jitter: jitter},
				Action: &client.ScheduleWorkflowAction{
					ID:            workflows.ScheduleRunID(spec.Service, env, name),
					Workflow:      workflows.ScheduledDeployWorkflowName,
					Args:          []any{in},
					TaskQueue:     c.String(flagTaskQueue),
					StaticSummary: fmt.Sprintf("scheduled deploy of %s (%s) to %d host(s), schedule %s", spec.Service, env, len(spec.Hosts), id),
				},
				Overlap:        overlap,
				PauseOnFailure: memo.PauseOnFailure,
				CatchupWindow:  scheduleCatchup,
				Note:           "created by " + memo.CreatedBy + " with hoist schedule create",
				Memo:           map[string]any{scheduleMemoKey: memo},
			})
			var invalid *serviceerror.InvalidArgument
			switch {
			case errors.Is(err, temporal.ErrScheduleAlreadyRunning):
				return Usagef("schedule %s of %s in %s exists already (%s): to change it, `hoist schedule delete %s` first, then create it again",
					name, spec.Service, env, id, name)
			case errors.As(err, &invalid):
				flag := "--cron"
				if strings.Contains(strings.ToLower(invalid.Message), "jitter") {
					flag = "--jitter"
				}
				return Usagef("%s: Temporal refused the schedule: %s; nothing was created", flag, invalid.Message)
			case err != nil:
				return fmt.Errorf("creating schedule %s: %w", id, err)
			}
			v := scheduleView{ID: id, Memo: &memo, Overlap: in.Overlap}
			if desc, err := h.Describe(c.Context); err == nil {
				v = viewOf(c, id, desc)
			} else {
				fmt.Fprintf(s.Err, "hoist: warning: schedule %s was created, but describing it failed: %v\n", id, err)
			}
			if asJSON {
				return writeJSON(s.Out, v)
			}
			fmt.Fprintf(s.Out, "Created schedule %s of %s in %s (%s)\n", name, spec.Service, env, id)
			fmt.Fprintf(s.Out, "It deploys the files of %s as they are now (%s) to %d host(s); create it again to change them.\n",
				spec.FilesDir, bundleText(memo), len(spec.Hosts))
			fmt.Fprintf(s.Out, "When:      %s\n", whenText(v))
			fmt.Fprintf(s.Out, "Next runs: %s\n", timesText(v.NextRuns, scheduleNextRuns))
			return nil
		},
	}
}

func scheduleListCommand(s Streams) *ucli.Command {
	return &ucli.Command{
		Name:  "list",
		Usage: "list the schedules of the service and environment (--all: every hoist schedule), with next run, state and last result",
		Flags: []ucli.Flag{
			configFlag, outputFlag,
			&ucli.BoolFlag{Name: "all", Usage: "every hoist schedule of the namespace, not only the service's in its environment (no hoist.yml needed)"},
		},
		Action: func(c *ucli.Context) error {
			asJSON, err := jsonOutput(c)
			if err != nil {
				return err
			}
			// The service's own, unless --all: hoist schedules only, either way.
			var service, env string
			if !c.Bool("all") {
				spec, err := loadSpec(c)
				if err != nil {
					return err
				}
				service, env = spec.Service, spec.EnvironmentName()
			}
			cl, err := dial(c, s)
			if err != nil {
				return err
			}
			defer cl.Close()
			it, err := cl.ScheduleClient().List(c.Context, client.ScheduleListOptions{})
			if err != nil {
				return fmt.Errorf("listing schedules: %w", err)
			}
			views := []scheduleView{}
			for it.HasNext() {
				e, err := it.Next()
				if err != nil {
					return fmt.Errorf("listing schedules: %w", err)
				}
				sv, en, _, ok := workflows.ParseScheduleID(e.ID)
				if !ok || service != "" && (sv != service || en != env) {
					continue
				}
				v := scheduleView{ID: e.ID, Paused: e.Paused, Note: e.Note, NextRuns: e.NextActionTimes}
				v.fill(c, e.Memo)
				if n := len(e.RecentActions); n > 0 {
					last := actionOf(c, cl, e.RecentActions[n-1])
					v.Last = &last
				}
				views = append(views, v)
			}
			slices.SortFunc(views, func(a, b scheduleView) int { return strings.Compare(a.ID, b.ID) })
			if asJSON {
				return writeJSON(s.Out, views)
			}
			if len(views) == 0 {
				what := "hoist schedules in namespace " + c.String(flagNamespace)
				if service != "" {
					what = fmt.Sprintf("schedules of %s in %s", service, env)
				}
				fmt.Fprintf(s.Out, "No %s (hoist schedule create makes one)\n", what)
				return nil
			}
			printScheduleList(s.Out, views)
			return nil
		},
	}
}

func scheduleDescribeCommand(s Streams) *ucli.Command {
	return &ucli.Command{
		Name:      "describe",
		Usage:     "show schedule NAME: what it deploys, cron, overlap, state, next runs, recent runs and their outcomes",
		ArgsUsage: "NAME",
		Flags:     []ucli.Flag{configFlag, outputFlag, uiURLFlag},
		Action: func(c *ucli.Context) error {
			asJSON, err := jsonOutput(c)
			if err != nil {
				return err
			}
			return withSchedule(c, s, func(sc scheduleRef, cl client.Client, h client.ScheduleHandle) error {
				desc, err := h.Describe(c.Context)
				if err != nil {
					return sc.lookupError(err)
				}
				v := viewOf(c, sc.id, desc)
				for _, a := range desc.Info.RecentActions {
					v.Recent = append(v.Recent, actionOf(c, cl, a))
				}
				if asJSON {
					return writeJSON(s.Out, v)
				}
				printSchedule(c, s.Out, sc, v)
				return nil
			})
		},
	}
}

func schedulePauseCommand(s Streams, pause bool) *ucli.Command {
	name, usage := "pause", "pause schedule NAME: no run starts until hoist schedule unpause (a run in progress goes on)"
	if !pause {
		name, usage = "unpause", "resume schedule NAME: its next time runs (times missed while paused do not)"
	}
	return &ucli.Command{
		Name:      name,
		Usage:     usage,
		ArgsUsage: "NAME",
		Flags:     []ucli.Flag{configFlag, &ucli.StringFlag{Name: "note", Usage: "why, shown by hoist schedule describe"}},
		Action: func(c *ucli.Context) error {
			return withSchedule(c, s, func(sc scheduleRef, _ client.Client, h client.ScheduleHandle) error {
				note := fmt.Sprintf("%sd by %s with hoist schedule %s", name, whoAmI(), name)
				if n := strings.TrimSpace(c.String("note")); n != "" {
					note += ": " + n
				}
				var err error
				if pause {
					err = h.Pause(c.Context, client.SchedulePauseOptions{Note: note})
				} else {
					err = h.Unpause(c.Context, client.ScheduleUnpauseOptions{Note: note})
				}
				if err != nil {
					return sc.lookupError(err)
				}
				fmt.Fprintf(s.Out, "%sd schedule %s of %s in %s (%s)\n", capitalize(name), sc.name, sc.service, sc.env, sc.id)
				return nil
			})
		},
	}
}

func scheduleTriggerCommand(s Streams) *ucli.Command {
	return &ucli.Command{
		Name:  "trigger",
		Usage: "run schedule NAME once now, under its overlap policy; its version is the time of the trigger",
		Description: `Starts one run of the schedule now, as if now were one of its times: the
files frozen in the schedule, a version named after now, the deploy lock
and --overlap as always. Prints the run's workflow ID once it starts;
hoist watch follows the deploy, hoist schedule describe shows the outcome.`,
		ArgsUsage: "NAME",
		Flags:     []ucli.Flag{configFlag, waitForWorkerFlag, uiURLFlag},
		Action: func(c *ucli.Context) error {
			return withSchedule(c, s, func(sc scheduleRef, cl client.Client, h client.ScheduleHandle) error {
				before, err := h.Describe(c.Context)
				if err != nil {
					return sc.lookupError(err)
				}
				if err := checkWorker(c, cl); err != nil {
					return err
				}
				if err := h.Trigger(c.Context, client.ScheduleTriggerOptions{}); err != nil {
					return sc.lookupError(err)
				}
				fmt.Fprintf(s.Out, "Triggered schedule %s of %s in %s (%s)\n", sc.name, sc.service, sc.env, sc.id)
				fmt.Fprintln(s.Out, triggered(c, h, before))
				return nil
			})
		},
	}
}

func scheduleDeleteCommand(s Streams) *ucli.Command {
	return &ucli.Command{
		Name:      "delete",
		Usage:     "delete schedule NAME; a run in progress, and its deploy, go on",
		ArgsUsage: "NAME",
		Flags:     []ucli.Flag{configFlag},
		Action: func(c *ucli.Context) error {
			return withSchedule(c, s, func(sc scheduleRef, _ client.Client, h client.ScheduleHandle) error {
				if err := h.Delete(c.Context); err != nil {
					return sc.lookupError(err)
				}
				fmt.Fprintf(s.Out, "Deleted schedule %s of %s in %s (%s)\n", sc.name, sc.service, sc.env, sc.id)
				return nil
			})
		},
	}
}

// scheduleName is the command's one argument, checked like a version.
func scheduleName(c *ucli.Context) (string, error) {
	if c.NArg() != 1 {
		return "", Usagef("%s takes the schedule's NAME, got %q", c.Command.Name, c.Args().Slice())
	}
	name := c.Args().First()
	if err := config.ValidateVersion(name); err != nil {
		var ce *config.Error
		if errors.As(err, &ce) { // it names --version: this is NAME
			c := *ce
			c.Field = "NAME"
			err = &c
		}
		return "", &UsageError{Err: err}
	}
	return name, nil
}

// overlapPolicy is the schedule's own policy for --overlap: it covers a
// run of the schedule while its previous run still runs, as the run
// itself covers any other deploy holding the lock.
func overlapPolicy(v string) (enums.ScheduleOverlapPolicy, error) {
	switch v {
	case workflows.OverlapSkip:
		return enums.SCHEDULE_OVERLAP_POLICY_SKIP, nil
	case workflows.OverlapBufferOne:
		return enums.SCHEDULE_OVERLAP_POLICY_BUFFER_ONE, nil
	}
	return enums.SCHEDULE_OVERLAP_POLICY_UNSPECIFIED, Usagef("--overlap: want %s or %s, got %q", workflows.OverlapSkip, workflows.OverlapBufferOne, v)
}

// overlapName is --overlap's word for a schedule's policy.
func overlapName(p enums.ScheduleOverlapPolicy) string {
	switch p {
	case enums.SCHEDULE_OVERLAP_POLICY_SKIP, enums.SCHEDULE_OVERLAP_POLICY_UNSPECIFIED:
		return workflows.OverlapSkip
	case enums.SCHEDULE_OVERLAP_POLICY_BUFFER_ONE:
		return workflows.OverlapBufferOne
	}
	// Not one hoist sets: Temporal's name for it, in --overlap's style.
	name := strings.TrimPrefix(enums.ScheduleOverlapPolicy_name[int32(p)], "SCHEDULE_OVERLAP_POLICY_")
	return strings.ReplaceAll(strings.ToLower(name), "_", "-")
}

// scheduleRef is the schedule a command names.
type scheduleRef struct {
	id, name, service, env string
}

// lookupError says that the schedule is not there when Temporal says
// so, in the words of hoist's other "nothing there" errors (exit 2).
func (sc scheduleRef) lookupError(err error) error {
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return Usagef("no schedule %s of %s in %s (no %s); hoist schedule list shows them", sc.name, sc.service, sc.env, sc.id)
	}
	return fmt.Errorf("schedule %s: %w", sc.id, err)
}

// withSchedule reads NAME and the service's config, connects, and runs
// fn with the schedule's handle.
func withSchedule(c *ucli.Context, s Streams, fn func(sc scheduleRef, cl client.Client, h client.ScheduleHandle) error) error {
	name, err := scheduleName(c)
	if err != nil {
		return err
	}
	return withService(c, s, func(spec *config.Spec, cl client.Client) error {
		env := spec.EnvironmentName()
		sc := scheduleRef{id: workflows.ScheduleID(spec.Service, env, name), name: name, service: spec.Service, env: env}
		return fn(sc, cl, cl.ScheduleClient().GetHandle(c.Context, sc.id))
	})
}

// triggered watches for the run a trigger asked for, and says what
// became of it.
func triggered(c *ucli.Context, h client.ScheduleHandle, before *client.ScheduleDescription) string {
	deadline := time.Now().Add(scheduleTriggerWait)
	for {
		select {
		case <-c.Context.Done():
			return "It was accepted; hoist schedule describe shows its run."
		case <-time.After(scheduleTriggerPoll):
		}
		d, err := h.Describe(c.Context)
		if err == nil {
			if r := newAction(before.Info.RecentActions, d.Info.RecentActions); r != nil && r.StartWorkflowResult != nil {
				w := r.StartWorkflowResult
				return fmt.Sprintf("Run:    %s (run %s), version %s\nWeb UI: %s\nhoist watch follows its deploy; hoist schedule describe shows its outcome.",
					w.WorkflowID, w.FirstExecutionRunID, config.NewVersion(r.ScheduleTime), workflowLink(c, w.WorkflowID, w.FirstExecutionRunID))
			}
			if d.Info.NumActionsSkippedOverlap > before.Info.NumActionsSkippedOverlap {
				return fmt.Sprintf("The schedule skipped it: its previous run still runs (overlap %s); hoist schedule describe shows it.",
					overlapName(d.Schedule.Policy.Overlap))
			}
		}
		if time.Now().After(deadline) {
			return fmt.Sprintf("No run started within %s: the schedule buffers it while its previous run runs (overlap %s), or no worker took it yet; hoist schedule describe shows it.",
				scheduleTriggerWait, overlapName(before.Schedule.Policy.Overlap))
		}
	}
}

// newAction is the newest action of after that before does not hold.
func newAction(before, after []client.ScheduleActionResult) *client.ScheduleActionResult {
	seen := map[string]bool{}
	for _, a := range before {
		if a.StartWorkflowResult != nil {
			seen[a.StartWorkflowResult.WorkflowID] = true
		}
	}
	for i := len(after) - 1; i >= 0; i-- {
		if a := after[i]; a.StartWorkflowResult != nil && !seen[a.StartWorkflowResult.WorkflowID] {
			return &a
		}
	}
	return nil
}

// scheduleView is a schedule as list and describe show it, and their
// --output json.
type scheduleView struct {
	ID             string        `json:"id"`
	Memo           *scheduleMemo `json:"deploys,omitempty"` // nil: not created by hoist, or unreadable
	Overlap        string        `json:"overlap"`
	PauseOnFailure bool          `json:"pause_on_failure"`
	Paused         bool          `json:"paused"`
	Note           string        `json:"note,omitempty"`
	NextRuns       []time.Time   `json:"next_runs"`
	Actions        int           `json:"actions"`              // runs started
	SkippedOverlap int           `json:"skipped_by_overlap"`   // times the schedule skipped, its previous run still running
	Running        []string      `json:"running,omitempty"`    // workflow IDs of its runs in progress
	Last           *actionView   `json:"last,omitempty"`       // list: the newest run
	Recent         []actionView  `json:"recent,omitempty"`     // describe: the newest runs, oldest first
	MemoError      string        `json:"memo_error,omitempty"` // why Memo is nil
}

// actionView is one run of a schedule and what became of it.
type actionView struct {
	ScheduledAt time.Time `json:"scheduled_at"`
	StartedAt   time.Time `json:"started_at"`
	WorkflowID  string    `json:"workflow_id"`
	RunID       string    `json:"run_id"`
	// Outcome: running, deployed, skipped, failed, cancelled, terminated,
	// timed out, or gone (past the namespace's retention).
	Outcome string `json:"outcome"`
	Version string `json:"version,omitempty"`
	Message string `json:"message,omitempty"`
}

func viewOf(c *ucli.Context, id string, d *client.ScheduleDescription) scheduleView {
	v := scheduleView{ID: id, NextRuns: d.Info.NextActionTimes, Actions: d.Info.NumActions, SkippedOverlap: d.Info.NumActionsSkippedOverlap}
	if p := d.Schedule.Policy; p != nil {
		v.Overlap, v.PauseOnFailure = overlapName(p.Overlap), p.PauseOnFailure
	}
	if st := d.Schedule.State; st != nil {
		v.Paused, v.Note = st.Paused, st.Note
	}
	for _, r := range d.Info.RunningWorkflows {
		v.Running = append(v.Running, r.WorkflowID)
	}
	v.fill(c, d.Memo)
	return v
}

// fill reads hoist's memo of the schedule, with the CLI's converter:
// payloads are encrypted when keys are set.
func (v *scheduleView) fill(c *ucli.Context, memo *commonpb.Memo) {
	p := memo.GetFields()[scheduleMemoKey]
	if p == nil {
		v.MemoError = "no hoist memo: not created by hoist schedule create"
		return
	}
	var m scheduleMemo
	if err := memoConverter(c).FromPayload(p, &m); err != nil {
		v.MemoError = "reading its memo: " + err.Error()
		return
	}
	v.Memo = &m
	if v.Overlap == "" {
		v.Overlap = m.Overlap
	}
}

func memoConverter(c *ucli.Context) converter.DataConverter {
	opts, _, err := clientOptions(c, nil)
	if err != nil || opts.DataConverter == nil {
		return converter.GetDefaultDataConverter()
	}
	return opts.DataConverter
}

// actionOf reads what became of one run of a schedule.
func actionOf(c *ucli.Context, cl client.Client, a client.ScheduleActionResult) actionView {
	v := actionView{ScheduledAt: a.ScheduleTime, StartedAt: a.ActualTime}
	if a.StartWorkflowResult == nil {
		v.Outcome = "unknown"
		return v
	}
	v.WorkflowID, v.RunID = a.StartWorkflowResult.WorkflowID, a.StartWorkflowResult.FirstExecutionRunID
	v.Outcome, v.Version, v.Message = runOutcome(c.Context, cl, v.WorkflowID, v.RunID)
	return v
}

// runOutcome is the outcome of a ScheduledDeploy run: its status, and
// for a closed run its result or failure.
func runOutcome(ctx context.Context, cl client.Client, id, runID string) (outcome, version, message string) {
	desc, err := cl.DescribeWorkflowExecution(ctx, id, runID)
	var nf *serviceerror.NotFound
	switch {
	case errors.As(err, &nf):
		return "gone", "", "no longer in Temporal (past the namespace's retention)"
	case err != nil:
		return "unknown", "", fmt.Sprintf("describing %s: %v", id, err)
	}
	switch st := desc.GetWorkflowExecutionInfo().GetStatus(); st {
	case enums.WORKFLOW_EXECUTION_STATUS_RUNNING:
		return "running", "", ""
	case enums.WORKFLOW_EXECUTION_STATUS_COMPLETED, enums.WORKFLOW_EXECUTION_STATUS_FAILED:
		var res workflows.ScheduledDeployResult
		err := cl.GetWorkflow(ctx, id, runID).Get(ctx, &res)
		var app *temporal.ApplicationError
		switch {
		case err == nil:
			return res.Outcome, res.Version, res.Message
		case errors.As(err, &app):
			return "failed", "", app.Message()
		default:
			return "failed", "", err.Error()
		}
	case enums.WORKFLOW_EXECUTION_STATUS_CANCELED:
		return "cancelled", "", ""
	case enums.WORKFLOW_EXECUTION_STATUS_TIMED_OUT:
		return "timed out", "", ""
	default:
		name := strings.TrimPrefix(enums.WorkflowExecutionStatus_name[int32(st)], "WORKFLOW_EXECUTION_STATUS_")
		return strings.ReplaceAll(strings.ToLower(name), "_", " "), "", ""
	}
}

func printScheduleList(w io.Writer, views []scheduleView) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSERVICE\tENVIRONMENT\tCRON\tOVERLAP\tSTATE\tNEXT RUN\tLAST RUN")
	for _, v := range views {
		service, env, name, _ := workflows.ParseScheduleID(v.ID)
		cron := "?"
		if v.Memo != nil {
			cron = v.Memo.Cron
		}
		next := "-"
		if len(v.NextRuns) > 0 && !v.Paused {
			next = v.NextRuns[0].UTC().Format(time.RFC3339)
		}
		overlap := v.Overlap
		if overlap == "" {
			overlap = "?"
		}
		last := "-"
		if v.Last != nil {
			last = v.Last.Outcome
			if v.Last.Version != "" {
				last += " " + v.Last.Version
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", name, service, env, cron, overlap, stateText(v.Paused), next, last)
	}
	tw.Flush()
}

func printSchedule(c *ucli.Context, w io.Writer, sc scheduleRef, v scheduleView) {
	fmt.Fprintf(w, "Schedule %s of %s in %s (%s)\n", sc.name, sc.service, sc.env, sc.id)
	if m := v.Memo; m != nil {
		fmt.Fprintf(w, "Deploys:   the files of %s as they were at %s (%s) to %d host(s), frozen by %s; create it again to change them\n",
			m.Files, m.CreatedAt.UTC().Format(time.RFC3339), bundleText(*m), m.Hosts, m.CreatedBy)
	} else {
		fmt.Fprintf(w, "Deploys:   unknown (%s)\n", v.MemoError)
	}
	fmt.Fprintf(w, "When:      %s\n", whenText(v))
	state := stateText(v.Paused)
	if v.Note != "" {
		state += " (" + v.Note + ")"
	}
	fmt.Fprintf(w, "State:     %s\n", state)
	if v.Paused {
		fmt.Fprintf(w, "Next runs: none while paused; then %s\n", timesText(v.NextRuns, scheduleNextRuns))
	} else {
		fmt.Fprintf(w, "Next runs: %s\n", timesText(v.NextRuns, scheduleNextRuns))
	}
	fmt.Fprintf(w, "Runs:      %d started, %d skipped by the schedule (its previous run still running)\n", v.Actions, v.SkippedOverlap)
	if len(v.Recent) == 0 {
		fmt.Fprintln(w, "Recent:    none yet")
		return
	}
	fmt.Fprintln(w, "Recent:")
	for _, a := range v.Recent {
		line := fmt.Sprintf("  %s  %s  %s", a.ScheduledAt.UTC().Format(time.RFC3339), a.WorkflowID, a.Outcome)
		if a.Version != "" {
			line += " " + a.Version
		}
		if a.Message != "" {
			line += ": " + a.Message
		}
		fmt.Fprintln(w, line)
		if a.RunID != "" {
			fmt.Fprintf(w, "    %s\n", workflowLink(c, a.WorkflowID, a.RunID))
		}
	}
}

func stateText(paused bool) string {
	if paused {
		return "paused"
	}
	return "active"
}

// whenText: `cron "0 3 * * 1-5" (UTC), jitter 5m, overlap skip, pause on failure`.
func whenText(v scheduleView) string {
	parts := []string{"cron ?"}
	if m := v.Memo; m != nil {
		zone := " (UTC)"
		if strings.HasPrefix(m.Cron, "CRON_TZ=") || strings.HasPrefix(m.Cron, "TZ=") {
			zone = ""
		}
		parts = []string{fmt.Sprintf("cron %q%s", m.Cron, zone)}
		if m.Jitter != "" {
			parts = append(parts, "jitter "+m.Jitter)
		}
	}
	parts = append(parts, "overlap "+v.Overlap)
	if v.PauseOnFailure {
		parts = append(parts, "pause on failure")
	}
	return strings.Join(parts, ", ")
}

// bundleText: "2048 bytes, sha256 0123456789ab".
func bundleText(m scheduleMemo) string {
	sum := m.BundleSHA256
	if len(sum) > 12 {
		sum = sum[:12]
	}
	return fmt.Sprintf("%d bytes, sha256 %s", m.BundleBytes, sum)
}

// timesText is the first n times, UTC, comma-separated; "none" for none.
func timesText(ts []time.Time, n int) string {
	if len(ts) == 0 {
		return "none"
	}
	var out []string
	for i, t := range ts {
		if i == n {
			break
		}
		out = append(out, t.UTC().Format(time.RFC3339))
	}
	return strings.Join(out, ", ")
}
