package cli

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/mocks"
	"go.temporal.io/sdk/temporal"

	"github.com/hoist-dev/hoist/activities"
	"github.com/hoist-dev/hoist/workflows"
)

const nightlyID = "hoist/web/staging/nightly"

var (
	dec3 = time.Date(2026, 12, 3, 3, 0, 0, 0, time.UTC)
	dec2 = time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)
)

func scheduleFake(t *testing.T) (*mocks.Client, *mocks.ScheduleClient) {
	fake := newFake(t)
	sc := mocks.NewScheduleClient(t)
	fake.On("ScheduleClient").Return(sc).Maybe()
	return fake, sc
}

func handleOf(t *testing.T, sc *mocks.ScheduleClient, id string) *mocks.ScheduleHandle {
	h := mocks.NewScheduleHandle(t)
	sc.On("GetHandle", mock.Anything, id).Return(h)
	return h
}

func memoPayload(t *testing.T, m scheduleMemo) *commonpb.Memo {
	t.Helper()
	p, err := converter.GetDefaultDataConverter().ToPayload(m)
	if err != nil {
		t.Fatal(err)
	}
	return &commonpb.Memo{Fields: map[string]*commonpb.Payload{scheduleMemoKey: p}}
}

func nightlyMemo() scheduleMemo {
	return scheduleMemo{Service: "web", Environment: "staging", Name: "nightly", Cron: "0 3 * * 1-5", Overlap: "skip",
		Files: "/src/web/files", Hosts: 1, BundleSHA256: strings.Repeat("ab", 32), BundleBytes: 2048,
		CreatedBy: "alice@laptop", CreatedAt: time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC)}
}

func nextTimes(from time.Time, n int) []time.Time {
	var ts []time.Time
	for i := range n {
		ts = append(ts, from.AddDate(0, 0, i))
	}
	return ts
}

func TestScheduleCreate(t *testing.T) {
	cfg := serviceDir(t, map[string]string{})
	t.Setenv("USER", "alice")
	for _, c := range []struct {
		name    string
		flags   []string
		overlap enums.ScheduleOverlapPolicy
		jitter  time.Duration
		pause   bool
		when    string
	}{
		{"defaults", nil, enums.SCHEDULE_OVERLAP_POLICY_SKIP, 0, false, `When:      cron "0 3 * * 1-5" (UTC), overlap skip`},
		{"buffer-one", []string{"--overlap", "buffer-one", "--pause-on-failure", "--jitter", "5m"}, enums.SCHEDULE_OVERLAP_POLICY_BUFFER_ONE, 5 * time.Minute, true,
			`When:      cron "0 3 * * 1-5" (UTC), jitter 5m, overlap buffer-one, pause on failure`},
	} {
		t.Run(c.name, func(t *testing.T) {
			fake, sc := scheduleFake(t)
			fake.On("DescribeTaskQueue", mock.Anything, "q", enums.TASK_QUEUE_TYPE_WORKFLOW).Return(pollers(true), nil)
			h := mocks.NewScheduleHandle(t)
			var got client.ScheduleOptions
			sc.On("Create", mock.Anything, mock.Anything).Run(func(args mock.Arguments) { got = args.Get(1).(client.ScheduleOptions) }).Return(h, nil)
			h.On("Describe", mock.Anything).Return(func(context.Context) *client.ScheduleDescription {
				m := got.Memo[scheduleMemoKey].(scheduleMemo)
				return &client.ScheduleDescription{
					Schedule: client.Schedule{Policy: &client.SchedulePolicies{Overlap: got.Overlap, PauseOnFailure: got.PauseOnFailure}, State: &client.ScheduleState{}},
					Info:     client.ScheduleInfo{NextActionTimes: nextTimes(dec3, 10)},
					Memo:     memoPayload(t, m),
				}
			}, nil)
			args := append([]string{"schedule", "create", "-c", cfg, "--cron", "0 3 * * 1-5"}, c.flags...)
			code, out, errOut := runWith(t, fake, append(args, "nightly")...)
			if code != ExitOK || errOut != "" {
				t.Fatalf("exit %d, stderr %q", code, errOut)
			}
			files := strings.TrimSuffix(cfg, "hoist.yml") + "files"
			in := got.Action.(*client.ScheduleWorkflowAction).Args[0].(workflows.ScheduledDeployInput)
			sum := activities.RefOf(in.Bundle, "", "").Digest
			want := "Created schedule nightly of web in staging (hoist/web/staging/nightly)\n" +
				"It deploys the files of " + files + " as they are now (" + bundleTextOf(len(in.Bundle), sum) + ") to 1 host(s); create it again to change them.\n" +
				c.when + "\n" +
				"Next runs: 2026-12-03T03:00:00Z, 2026-12-04T03:00:00Z, 2026-12-05T03:00:00Z, 2026-12-06T03:00:00Z, 2026-12-07T03:00:00Z\n"
			if out != want {
				t.Errorf("stdout\n got %q\nwant %q", out, want)
			}
			action := got.Action.(*client.ScheduleWorkflowAction)
			if got.ID != nightlyID || got.Overlap != c.overlap || got.PauseOnFailure != c.pause || got.CatchupWindow != 15*time.Minute ||
				len(got.Spec.CronExpressions) != 1 || got.Spec.CronExpressions[0] != "0 3 * * 1-5" || got.Spec.Jitter != c.jitter {
				t.Errorf("options %+v", got)
			}
			if action.ID != "scheduled/web/staging/nightly" || action.Workflow != workflows.ScheduledDeployWorkflowName || action.TaskQueue != "q" || len(action.Args) != 1 {
				t.Errorf("action %+v", action)
			}
			if in.Version != "" || in.Kind != workflows.KindDeploy || len(in.Bundle) == 0 || in.BundleRef != nil || in.Spec.Service != "web" || in.Overlap != map[bool]string{false: "skip", true: "buffer-one"}[c.overlap == enums.SCHEDULE_OVERLAP_POLICY_BUFFER_ONE] {
				t.Errorf("frozen input %+v", in)
			}
			if err := in.Validate(); err != nil {
				t.Errorf("the frozen input is one the workflow refuses: %v", err)
			}
			m := got.Memo[scheduleMemoKey].(scheduleMemo)
			if host, _ := os.Hostname(); m.CreatedBy != "alice@"+host || m.BundleSHA256 != sum || m.Cron != "0 3 * * 1-5" || m.Files != files {
				t.Errorf("memo %+v", m)
			}
		})
	}
}

func bundleTextOf(n int, sum string) string {
	return bundleText(scheduleMemo{BundleBytes: n, BundleSHA256: sum})
}

// Refused before Temporal is dialled: nothing is expected of the fake.
func TestScheduleCreateUsageErrors(t *testing.T) {
	cfg := serviceDir(t, map[string]string{})
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--cron", "0 3 * * *"}, `hoist: create takes the schedule's NAME, got []` + "\n"},
		{[]string{"--cron", "0 3 * * *", "a", "b"}, `hoist: create takes the schedule's NAME, got ["a" "b"]` + "\n"},
		{[]string{"--cron", "0 3 * * *", "night/ly"}, `hoist: NAME: must be letters, digits, '.', '_' and '-', got "night/ly"` + "\n"},
		{[]string{"--cron", "0 3 * * *", "--", "-x"}, `hoist: NAME: must not start with '-', got "-x"` + "\n"},
		{[]string{"nightly"}, `hoist: --cron is required: when the schedule deploys, e.g. --cron "0 3 * * 1-5"` + "\n"},
		{[]string{"--cron", "0 3 * * *", "--overlap", "allow", "nightly"}, `hoist: --overlap: want skip or buffer-one, got "allow"` + "\n"},
		{[]string{"--cron", "0 3 * * *", "--jitter", "-1m", "nightly"}, "hoist: --jitter: must not be negative, got -1m0s\n"},
	} {
		fake := newFake(t)
		code, out, errOut := runWith(t, fake, append([]string{"schedule", "create", "-c", cfg}, c.args...)...)
		if code != ExitUsage || out != "" || errOut != c.want {
			t.Errorf("%v: exit %d, stdout %q, stderr\n got %q\nwant %q", c.args, code, out, errOut, c.want)
		}
	}
}

// What Temporal refuses at create is the user's to fix: exit 2, naming
// the flag.
func TestScheduleCreateRefusedByTemporal(t *testing.T) {
	cfg := serviceDir(t, map[string]string{})
	for _, c := range []struct {
		err  error
		want string
	}{
		{serviceerror.NewInvalidArgument("Invalid schedule spec: Minute is not in range [0-59]"),
			"hoist: --cron: Temporal refused the schedule: Invalid schedule spec: Minute is not in range [0-59]; nothing was created\n"},
		{temporal.ErrScheduleAlreadyRunning,
			"hoist: schedule nightly of web in staging exists already (hoist/web/staging/nightly): to change it, `hoist schedule delete nightly` first, then create it again\n"},
	} {
		fake, sc := scheduleFake(t)
		fake.On("DescribeTaskQueue", mock.Anything, "q", enums.TASK_QUEUE_TYPE_WORKFLOW).Return(pollers(true), nil)
		sc.On("Create", mock.Anything, mock.Anything).Return(nil, c.err)
		code, out, errOut := runWith(t, fake, "schedule", "create", "-c", cfg, "--cron", "61 * * * *", "nightly")
		if code != ExitUsage || out != "" || errOut != c.want {
			t.Errorf("exit %d, stdout %q, stderr\n got %q\nwant %q", code, out, errOut, c.want)
		}
	}
}

// An env file in the files is refused without encryption, before any
// schedule: the frozen files would be readable in the schedule.
func TestScheduleCreateRefusesCleartextEnvFile(t *testing.T) {
	t.Setenv(envCodecKeys, "")
	os.Unsetenv(envCodecKeys)
	cfg := serviceDir(t, map[string]string{".env": "K=v\n"})
	code, out, errOut := runWith(t, newFake(t), "schedule", "create", "-c", cfg, "--cron", "0 3 * * *", "nightly")
	if code != ExitUsage || out != "" {
		t.Fatalf("exit %d, stdout %q", code, out)
	}
	wantContains(t, errOut, ".env holds environment values", "Nothing was started")
}

// An unknown NAME is "nothing there": exit 2, the same words for every
// subcommand.
func TestScheduleUnknownName(t *testing.T) {
	cfg := serviceDir(t, map[string]string{})
	nf := serviceerror.NewNotFound("schedule not found")
	want := "hoist: no schedule nightly of web in staging (no hoist/web/staging/nightly); hoist schedule list shows them\n"
	for _, c := range []struct {
		cmd  string
		wire func(h *mocks.ScheduleHandle)
	}{
		{"describe", func(h *mocks.ScheduleHandle) { h.On("Describe", mock.Anything).Return(nil, nf) }},
		{"pause", func(h *mocks.ScheduleHandle) { h.On("Pause", mock.Anything, mock.Anything).Return(nf) }},
		{"unpause", func(h *mocks.ScheduleHandle) { h.On("Unpause", mock.Anything, mock.Anything).Return(nf) }},
		{"trigger", func(h *mocks.ScheduleHandle) { h.On("Describe", mock.Anything).Return(nil, nf) }},
		{"delete", func(h *mocks.ScheduleHandle) { h.On("Delete", mock.Anything).Return(nf) }},
	} {
		t.Run(c.cmd, func(t *testing.T) {
			fake, sc := scheduleFake(t)
			c.wire(handleOf(t, sc, nightlyID))
			code, out, errOut := runWith(t, fake, "schedule", c.cmd, "-c", cfg, "nightly")
			if code != ExitUsage || out != "" || errOut != want {
				t.Errorf("exit %d, stdout %q, stderr\n got %q\nwant %q", code, out, errOut, want)
			}
		})
	}
}

func TestSchedulePauseUnpauseDelete(t *testing.T) {
	cfg := serviceDir(t, map[string]string{})
	t.Setenv("USER", "alice")
	host, _ := os.Hostname()
	for _, c := range []struct {
		args []string
		wire func(h *mocks.ScheduleHandle)
		want string
	}{
		{[]string{"pause", "--note", "freeze week"}, func(h *mocks.ScheduleHandle) {
			h.On("Pause", mock.Anything, client.SchedulePauseOptions{Note: "paused by alice@" + host + " with hoist schedule pause: freeze week"}).Return(nil)
		}, "Paused schedule nightly of web in staging (hoist/web/staging/nightly)\n"},
		{[]string{"unpause"}, func(h *mocks.ScheduleHandle) {
			h.On("Unpause", mock.Anything, client.ScheduleUnpauseOptions{Note: "unpaused by alice@" + host + " with hoist schedule unpause"}).Return(nil)
		}, "Unpaused schedule nightly of web in staging (hoist/web/staging/nightly)\n"},
		{[]string{"delete"}, func(h *mocks.ScheduleHandle) { h.On("Delete", mock.Anything).Return(nil) },
			"Deleted schedule nightly of web in staging (hoist/web/staging/nightly)\n"},
	} {
		fake, sc := scheduleFake(t)
		c.wire(handleOf(t, sc, nightlyID))
		args := append([]string{"schedule", c.args[0], "-c", cfg}, c.args[1:]...)
		code, out, errOut := runWith(t, fake, append(args, "nightly")...)
		if code != ExitOK || out != c.want || errOut != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", c.args, code, out, errOut)
		}
	}
}

// runStatus makes DescribeWorkflowExecution say id's run is in st.
func runStatus(fake *mocks.Client, id, runID string, st enums.WorkflowExecutionStatus) {
	fake.On("DescribeWorkflowExecution", mock.Anything, id, runID).Return(&workflowservice.DescribeWorkflowExecutionResponse{
		WorkflowExecutionInfo: &workflowpb.WorkflowExecutionInfo{Execution: &commonpb.WorkflowExecution{WorkflowId: id, RunId: runID}, Status: st}}, nil)
}

// runResult makes id's run end with res, or fail with err.
func runResult(t *testing.T, fake *mocks.Client, id, runID string, res *workflows.ScheduledDeployResult, err error) {
	run := mocks.NewWorkflowRun(t)
	fake.On("GetWorkflow", mock.Anything, id, runID).Return(run)
	call := run.On("Get", mock.Anything, mock.Anything).Return(err)
	if res != nil {
		call.Run(func(args mock.Arguments) { *args.Get(1).(*workflows.ScheduledDeployResult) = *res })
	}
}

func action(at time.Time, id, runID string) client.ScheduleActionResult {
	return client.ScheduleActionResult{ScheduleTime: at, ActualTime: at.Add(time.Second),
		StartWorkflowResult: &client.ScheduleWorkflowExecution{WorkflowID: id, FirstExecutionRunID: runID}}
}

// describe shows cron, overlap, state, the next 5 runs and each recent
// run with its workflow ID and outcome.
func describeFake(t *testing.T) *mocks.Client {
	fake, sc := scheduleFake(t)
	h := handleOf(t, sc, nightlyID)
	run1, run2, run3 := "scheduled/web/staging/nightly-2026-12-01T03:00:00Z", "scheduled/web/staging/nightly-2026-12-02T03:00:00Z", "scheduled/web/staging/nightly-2026-12-02T10:00:00Z"
	h.On("Describe", mock.Anything).Return(&client.ScheduleDescription{
		Schedule: client.Schedule{
			Policy: &client.SchedulePolicies{Overlap: enums.SCHEDULE_OVERLAP_POLICY_SKIP, PauseOnFailure: true},
			State:  &client.ScheduleState{Paused: true, Note: "paused by bob@ci with hoist schedule pause"},
		},
		Info: client.ScheduleInfo{
			NumActions: 3, NumActionsSkippedOverlap: 1,
			RecentActions: []client.ScheduleActionResult{
				action(dec2.AddDate(0, 0, -1), run1, "r1"), action(dec2, run2, "r2"), action(dec2.Add(7*time.Hour), run3, "r3"),
			},
			NextActionTimes: nextTimes(dec3, 10),
		},
		Memo: memoPayload(t, nightlyMemo()),
	}, nil)
	runStatus(fake, run1, "r1", enums.WORKFLOW_EXECUTION_STATUS_COMPLETED)
	runResult(t, fake, run1, "r1", &workflows.ScheduledDeployResult{Outcome: "deployed", Version: "20261201030000", Message: "deployed web version 20261201030000 to staging (workflow deploy/web/staging, run d1): deployed"}, nil)
	runStatus(fake, run2, "r2", enums.WORKFLOW_EXECUTION_STATUS_FAILED)
	runResult(t, fake, run2, "r2", nil, temporal.NewNonRetryableApplicationError("the scheduled deploy of web version 20261202030000 to staging failed (workflow deploy/web/staging, run d2): manifest unknown", workflows.ScheduledFailureType, nil))
	runStatus(fake, run3, "r3", enums.WORKFLOW_EXECUTION_STATUS_RUNNING)
	return fake
}

func TestScheduleDescribe(t *testing.T) {
	cfg := serviceDir(t, map[string]string{})
	code, out, errOut := runWith(t, describeFake(t), "schedule", "describe", "-c", cfg, "nightly")
	if code != ExitOK || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	ui := "http://localhost:8233/namespaces/default/workflows/"
	want := "Schedule nightly of web in staging (hoist/web/staging/nightly)\n" +
		"Deploys:   the files of /src/web/files as they were at 2026-12-01T09:30:00Z (2048 bytes, sha256 abababababab) to 1 host(s), frozen by alice@laptop; create it again to change them\n" +
		`When:      cron "0 3 * * 1-5" (UTC), overlap skip, pause on failure` + "\n" +
		"State:     paused (paused by bob@ci with hoist schedule pause)\n" +
		"Next runs: none while paused; then 2026-12-03T03:00:00Z, 2026-12-04T03:00:00Z, 2026-12-05T03:00:00Z, 2026-12-06T03:00:00Z, 2026-12-07T03:00:00Z\n" +
		"Runs:      3 started, 1 skipped by the schedule (its previous run still running)\n" +
		"Recent:\n" +
		"  2026-12-01T03:00:00Z  scheduled/web/staging/nightly-2026-12-01T03:00:00Z  deployed 20261201030000: deployed web version 20261201030000 to staging (workflow deploy/web/staging, run d1): deployed\n" +
		"    " + ui + "scheduled%2Fweb%2Fstaging%2Fnightly-2026-12-01T03:00:00Z/r1/history\n" +
		"  2026-12-02T03:00:00Z  scheduled/web/staging/nightly-2026-12-02T03:00:00Z  failed: the scheduled deploy of web version 20261202030000 to staging failed (workflow deploy/web/staging, run d2): manifest unknown\n" +
		"    " + ui + "scheduled%2Fweb%2Fstaging%2Fnightly-2026-12-02T03:00:00Z/r2/history\n" +
		"  2026-12-02T10:00:00Z  scheduled/web/staging/nightly-2026-12-02T10:00:00Z  running\n" +
		"    " + ui + "scheduled%2Fweb%2Fstaging%2Fnightly-2026-12-02T10:00:00Z/r3/history\n"
	if out != want {
		t.Errorf("stdout\n got %s\nwant %s", out, want)
	}
}

func TestScheduleDescribeJSON(t *testing.T) {
	cfg := serviceDir(t, map[string]string{})
	code, out, _ := runWith(t, describeFake(t), "schedule", "describe", "-c", cfg, "-o", "json", "nightly")
	var v scheduleView
	if err := json.Unmarshal([]byte(out), &v); code != ExitOK || err != nil {
		t.Fatalf("exit %d, %v\n%s", code, err, out)
	}
	if v.ID != nightlyID || !v.Paused || v.Overlap != "skip" || !v.PauseOnFailure || v.Memo == nil || v.Memo.Cron != "0 3 * * 1-5" ||
		len(v.NextRuns) != 10 || v.Actions != 3 || v.SkippedOverlap != 1 || len(v.Recent) != 3 {
		t.Fatalf("%+v", v)
	}
	outcomes := []string{v.Recent[0].Outcome, v.Recent[1].Outcome, v.Recent[2].Outcome}
	if strings.Join(outcomes, ",") != "deployed,failed,running" || v.Recent[0].Version != "20261201030000" || v.Recent[2].RunID != "r3" {
		t.Errorf("recent %+v", v.Recent)
	}
}

// list shows the service's schedules in its environment; --all every
// hoist schedule, never another kind.
func TestScheduleList(t *testing.T) {
	cfg := serviceDir(t, map[string]string{})
	entries := func(t *testing.T) []*client.ScheduleListEntry {
		other := nightlyMemo()
		other.Environment, other.Name, other.Cron = "production", "weekly", "@weekly"
		return []*client.ScheduleListEntry{
			{ID: "hoist/web/staging/nightly", NextActionTimes: nextTimes(dec3, 5), Memo: memoPayload(t, nightlyMemo()),
				RecentActions: []client.ScheduleActionResult{action(dec2, "scheduled/web/staging/nightly-2026-12-02T03:00:00Z", "r2")}},
			{ID: "hoist/web/production/weekly", Paused: true, NextActionTimes: nextTimes(dec3, 5), Memo: memoPayload(t, other)},
			{ID: "billing-report", NextActionTimes: nextTimes(dec3, 5)},
			{ID: "hoist/api/staging/a", NextActionTimes: nextTimes(dec3, 5)},
		}
	}
	for _, c := range []struct {
		all  bool
		want string
	}{
		{false, "NAME     SERVICE  ENVIRONMENT  CRON         OVERLAP  STATE   NEXT RUN              LAST RUN\n" +
			"nightly  web      staging      0 3 * * 1-5  skip     active  2026-12-03T03:00:00Z  skipped 20261202030000\n"},
		{true, "NAME     SERVICE  ENVIRONMENT  CRON         OVERLAP  STATE   NEXT RUN              LAST RUN\n" +
			"a        api      staging      ?            ?        active  2026-12-03T03:00:00Z  -\n" +
			"weekly   web      production   @weekly      skip     paused  -                     -\n" +
			"nightly  web      staging      0 3 * * 1-5  skip     active  2026-12-03T03:00:00Z  skipped 20261202030000\n"},
	} {
		fake, sc := scheduleFake(t)
		it := mocks.NewScheduleListIterator(t)
		es := entries(t)
		i := 0
		it.On("HasNext").Return(func() bool { return i < len(es) })
		it.On("Next").Return(func() (*client.ScheduleListEntry, error) { i++; return es[i-1], nil })
		sc.On("List", mock.Anything, client.ScheduleListOptions{}).Return(it, nil)
		id, run := "scheduled/web/staging/nightly-2026-12-02T03:00:00Z", "r2"
		runStatus(fake, id, run, enums.WORKFLOW_EXECUTION_STATUS_COMPLETED)
		runResult(t, fake, id, run, &workflows.ScheduledDeployResult{Outcome: "skipped", Version: "20261202030000", Message: "skipped …"}, nil)
		args := []string{"schedule", "list", "-c", cfg}
		if c.all {
			args = []string{"schedule", "list", "--all"} // no hoist.yml needed
		}
		code, out, errOut := runWith(t, fake, args...)
		if code != ExitOK || out != c.want || errOut != "" {
			t.Errorf("all %v: exit %d, stderr %q, stdout\n got %s\nwant %s", c.all, code, errOut, out, c.want)
		}
	}
}

// trigger asks for a run and names it once it starts.
func TestScheduleTrigger(t *testing.T) {
	cfg := serviceDir(t, map[string]string{})
	fake, sc := scheduleFake(t)
	fake.On("DescribeTaskQueue", mock.Anything, "q", enums.TASK_QUEUE_TYPE_WORKFLOW).Return(pollers(true), nil)
	h := handleOf(t, sc, nightlyID)
	old := action(dec2, "scheduled/web/staging/nightly-2026-12-02T03:00:00Z", "r2")
	now := time.Date(2026, 12, 2, 12, 34, 56, 0, time.UTC)
	desc := func(actions ...client.ScheduleActionResult) *client.ScheduleDescription {
		return &client.ScheduleDescription{Schedule: client.Schedule{Policy: &client.SchedulePolicies{}, State: &client.ScheduleState{}},
			Info: client.ScheduleInfo{RecentActions: actions}}
	}
	h.On("Describe", mock.Anything).Return(desc(old), nil).Twice() // before, and before the run started
	h.On("Trigger", mock.Anything, client.ScheduleTriggerOptions{}).Return(nil).Once()
	h.On("Describe", mock.Anything).Return(desc(old, action(now, "scheduled/web/staging/nightly-2026-12-02T12:34:56Z", "r9")), nil)
	code, out, errOut := runWith(t, fake, "schedule", "trigger", "-c", cfg, "nightly")
	want := "Triggered schedule nightly of web in staging (hoist/web/staging/nightly)\n" +
		"Run:    scheduled/web/staging/nightly-2026-12-02T12:34:56Z (run r9), version 20261202123456\n" +
		"Web UI: http://localhost:8233/namespaces/default/workflows/scheduled%2Fweb%2Fstaging%2Fnightly-2026-12-02T12:34:56Z/r9/history\n" +
		"hoist watch follows its deploy; hoist schedule describe shows its outcome.\n"
	if code != ExitOK || out != want || errOut != "" {
		t.Errorf("exit %d, stderr %q, stdout\n got %s\nwant %s", code, errOut, out, want)
	}
}

func TestOverlapPolicy(t *testing.T) {
	for _, c := range []struct {
		in   string
		want enums.ScheduleOverlapPolicy
	}{{"skip", enums.SCHEDULE_OVERLAP_POLICY_SKIP}, {"buffer-one", enums.SCHEDULE_OVERLAP_POLICY_BUFFER_ONE}} {
		got, err := overlapPolicy(c.in)
		if err != nil || got != c.want || overlapName(got) != c.in {
			t.Errorf("%q: %v, %v, back %q", c.in, got, err, overlapName(got))
		}
	}
	for _, bad := range []string{"", "SKIP", "buffer_one", "allow-all"} {
		if _, err := overlapPolicy(bad); ExitCode(err) != ExitUsage {
			t.Errorf("%q: %v", bad, err)
		}
	}
	if got := overlapName(enums.SCHEDULE_OVERLAP_POLICY_ALLOW_ALL); got != "allow-all" {
		t.Errorf("allow all: %q", got)
	}
}
