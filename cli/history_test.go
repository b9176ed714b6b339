package cli

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/mocks"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/hoist-dev/hoist/config"
	"github.com/hoist-dev/hoist/workflows"
)

// pastRun is one run of the deploy lock as the fake's visibility and
// history hold it.
type pastRun struct {
	runID   string
	status  enums.WorkflowExecutionStatus
	started time.Time
	took    time.Duration
	by      string // "" for a run from before the memo
	in      workflows.DeployInput
	res     *workflows.DeployResult // a completed run's result
	err     error                   // a failed or cancelled run's
}

var t0 = time.Date(2026, 1, 10, 10, 0, 0, 0, time.UTC)

func historyFake(t *testing.T, wantQuery string, runs ...pastRun) *mocks.Client {
	t.Helper()
	dc := converter.GetDefaultDataConverter()
	fake := newFake(t)
	svc := &fakeService{histories: map[string]*workflowservice.GetWorkflowExecutionHistoryResponse{}}
	fake.On("WorkflowService").Return(svc)
	list := &workflowservice.ListWorkflowExecutionsResponse{}
	for _, r := range runs {
		info := &workflowpb.WorkflowExecutionInfo{
			Execution: &commonpb.WorkflowExecution{WorkflowId: "deploy/web/staging", RunId: r.runID},
			Type:      &commonpb.WorkflowType{Name: workflows.DeployWorkflowName},
			StartTime: timestamppb.New(r.started), Status: r.status,
		}
		if r.status != enums.WORKFLOW_EXECUTION_STATUS_RUNNING {
			info.CloseTime = timestamppb.New(r.started.Add(r.took))
		}
		if r.by != "" {
			p, _ := dc.ToPayload(r.by)
			info.Memo = &commonpb.Memo{Fields: map[string]*commonpb.Payload{workflows.MemoBy: p}}
		}
		list.Executions = append(list.Executions, info)
		input, err := dc.ToPayloads(r.in)
		if err != nil {
			t.Fatal(err)
		}
		svc.histories[r.runID] = &workflowservice.GetWorkflowExecutionHistoryResponse{History: &historypb.History{Events: []*historypb.HistoryEvent{{
			EventType:  enums.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED,
			Attributes: &historypb.HistoryEvent_WorkflowExecutionStartedEventAttributes{WorkflowExecutionStartedEventAttributes: &historypb.WorkflowExecutionStartedEventAttributes{Input: input}},
		}}}}
		if r.res != nil || r.err != nil {
			run := mocks.NewWorkflowRun(t)
			res, err := r.res, r.err
			run.On("Get", mock.Anything, mock.Anything).Run(func(args mock.Arguments) {
				if res != nil {
					*args.Get(1).(*workflows.DeployResult) = *res
				}
			}).Return(err).Once()
			fake.On("GetWorkflow", mock.Anything, "deploy/web/staging", r.runID).Return(run).Once()
		}
	}
	fake.On("ListWorkflow", mock.Anything, mock.MatchedBy(func(req *workflowservice.ListWorkflowExecutionsRequest) bool {
		return req.GetQuery() == wantQuery && req.GetNamespace() == "default" && req.GetPageSize() == 20
	})).Return(list, nil).Once()
	t.Cleanup(func() {
		for _, n := range svc.pageSizes {
			if n != 1 {
				t.Errorf("a run's history was read %d events at a time: only its first event is needed", n)
			}
		}
	})
	return fake
}

func deployOf(version, kind, limited string, hosts ...string) workflows.DeployInput {
	in := workflows.DeployInput{Version: version, Kind: kind, Limited: limited, Spec: config.Spec{Service: "web", Environment: "staging"}}
	for _, h := range hosts {
		in.Spec.Hosts = append(in.Spec.Hosts, config.Host{Address: "10.0.0.1", Name: h})
	}
	return in
}

func historyRuns() []pastRun {
	return []pastRun{
		// Visibility's order is not trusted: history sorts by start.
		{runID: "r1", status: enums.WORKFLOW_EXECUTION_STATUS_COMPLETED, started: t0, took: 62 * time.Second,
			in:  deployOf("v1", workflows.KindDeploy, "", "h1", "h2"),
			res: &workflows.DeployResult{Version: "v1", Kind: workflows.KindDeploy, Outcome: workflows.OutcomeDeployed}},
		{runID: "r3", status: enums.WORKFLOW_EXECUTION_STATUS_COMPLETED, started: t0.Add(2 * time.Hour), took: 9 * time.Second, by: "bob@ci",
			in:  deployOf("v2", workflows.KindRollback, "h1", "h1"),
			res: &workflows.DeployResult{Version: "v2", Kind: workflows.KindRollback, Outcome: workflows.OutcomeDeployed}},
		{runID: "r2", status: enums.WORKFLOW_EXECUTION_STATUS_FAILED, started: t0.Add(time.Hour), took: 95 * time.Second, by: "alice@laptop",
			in:  deployOf("v3", workflows.KindDeploy, "", "h1", "h2", "h3", "h4", "h5", "h6"),
			err: temporal.NewNonRetryableApplicationError("❌ Deployment of version v3 failed! Rolled back to v2.", workflows.FailureType, nil, workflows.FailureDetails{Version: "v3", RolledBackTo: "v2"})},
		{runID: "r4", status: enums.WORKFLOW_EXECUTION_STATUS_RUNNING, started: t0.Add(3 * time.Hour), by: "alice@laptop",
			in: deployOf("v4", workflows.KindDeploy, "", "h1", "h2")},
		{runID: "r5", status: enums.WORKFLOW_EXECUTION_STATUS_TERMINATED, started: t0.Add(30 * time.Minute), took: time.Minute, by: "carol@ops",
			in: deployOf("v9", workflows.KindDeploy, "", "h1")},
	}
}

// hoist history: the deploy lock's runs, newest first, with what each
// was (from its input), how it ended (from its result or failure, else
// its status), who started it ("-" before the memo) and its link.
func TestHistoryTable(t *testing.T) {
	cfg := planConfig(t, twoHosts, "")
	fake := historyFake(t, "WorkflowId = 'deploy/web/staging' AND WorkflowType = 'Deploy'", historyRuns()...)
	code, out, errOut := runWith(t, fake, "history", "-c", cfg)
	if code != ExitOK || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if lines[0] != "web (staging environment): 5 deploys and rollbacks, newest first" {
		t.Errorf("heading %q", lines[0])
	}
	link := "http://localhost:8233/namespaces/default/workflows/deploy%2Fweb%2Fstaging/"
	want := []string{
		"STARTED               TOOK  KIND      VERSION  OUTCOME      BY            HOSTS                 WEB UI",
		"2026-01-10 13:00:00Z  ",
		"2026-01-10 12:00:00Z  9s    rollback  v2       deployed     bob@ci        h1 (--hosts h1)       " + link + "r3/history",
		"2026-01-10 11:00:00Z  1m35s deploy    v3       rolled back  alice@laptop  h1,h2,h3,h4 +2        " + link + "r2/history",
		"2026-01-10 10:30:00Z  1m0s  deploy    v9       terminated   carol@ops     h1                    " + link + "r5/history",
		"2026-01-10 10:00:00Z  1m2s  deploy    v1       deployed     -             h1,h2                 " + link + "r1/history",
	}
	if len(lines) != 1+len(want) {
		t.Fatalf("output:\n%s", out)
	}
	for i, w := range want {
		got := lines[i+1]
		if i == 1 {
			// Running: TOOK is measured against now.
			if !strings.HasPrefix(got, w) || !strings.Contains(got, "so far") || !strings.Contains(got, "deploy    v4       running      alice@laptop") {
				t.Errorf("line %d:\n got  %q\n want a running v4 line", i+1, got)
			}
			continue
		}
		if strings.Join(strings.Fields(got), " ") != strings.Join(strings.Fields(w), " ") {
			t.Errorf("line %d:\n got  %q\n want %q", i+1, got, w)
		}
	}
}

// --output json: the same entries, every field present.
func TestHistoryJSON(t *testing.T) {
	cfg := planConfig(t, twoHosts, "")
	fake := historyFake(t, "WorkflowId = 'deploy/web/staging' AND WorkflowType = 'Deploy'", historyRuns()[2])
	code, out, _ := runWith(t, fake, "history", "-c", cfg, "-o", "json")
	var got []map[string]any
	if err := json.Unmarshal([]byte(out), &got); code != ExitOK || err != nil || len(got) != 1 {
		t.Fatalf("exit %d, %v\n%s", code, err, out)
	}
	wantKeys(t, got[0], "workflow_id", "run_id", "kind", "version", "started", "closed", "status", "outcome", "by", "hosts", "limited", "link")
	if got[0]["outcome"] != "rolled back" || got[0]["status"] != "failed" || got[0]["by"] != "alice@laptop" || len(got[0]["hosts"].([]any)) != 6 ||
		got[0]["started"] != "2026-01-10T11:00:00Z" || got[0]["closed"] != "2026-01-10T11:01:35Z" {
		t.Errorf("entry %v", got[0])
	}
}

// A run whose input cannot be read still lists what visibility knows,
// and says why the rest is missing; nothing deployed yet says so.
func TestHistoryUnreadableAndEmpty(t *testing.T) {
	cfg := planConfig(t, twoHosts, "")
	fake := newFake(t)
	svc := &fakeService{histories: map[string]*workflowservice.GetWorkflowExecutionHistoryResponse{}}
	fake.On("WorkflowService").Return(svc)
	p, _ := converter.GetDefaultDataConverter().ToPayload("v7")
	fake.On("ListWorkflow", mock.Anything, mock.Anything).Return(&workflowservice.ListWorkflowExecutionsResponse{Executions: []*workflowpb.WorkflowExecutionInfo{{
		Execution: &commonpb.WorkflowExecution{WorkflowId: "deploy/web/staging", RunId: "gone"}, StartTime: timestamppb.New(t0),
		Status:           enums.WORKFLOW_EXECUTION_STATUS_TIMED_OUT,
		SearchAttributes: &commonpb.SearchAttributes{IndexedFields: map[string]*commonpb.Payload{workflows.VersionAttribute.GetName(): p}},
	}}}, nil).Once()
	code, out, errOut := runWith(t, fake, "history", "-c", cfg)
	if code != ExitOK || !strings.Contains(out, "v7       timed out") {
		t.Fatalf("exit %d\n%s", code, out)
	}
	wantContains(t, errOut, "hoist: warning: run gone of deploy/web/staging: reading its input: no such run")

	fake = newFake(t)
	fake.On("ListWorkflow", mock.Anything, mock.Anything).Return(&workflowservice.ListWorkflowExecutionsResponse{}, nil).Once()
	code, out, _ = runWith(t, fake, "history", "-c", cfg)
	if code != ExitOK || out != "No deploys or rollbacks of web (staging environment) in Temporal.\n" {
		t.Fatalf("exit %d %q", code, out)
	}

	fake = newFake(t)
	fake.On("ListWorkflow", mock.Anything, mock.Anything).Return(nil, errors.New("visibility unavailable")).Once()
	code, _, errOut = runWith(t, fake, "history", "-c", cfg)
	if code != ExitUnsafe || !strings.Contains(errOut, "listing the deploys of web (staging) in namespace default: visibility unavailable") {
		t.Fatalf("exit %d %q", code, errOut)
	}
}

func TestHistoryQueryQuotes(t *testing.T) {
	if got := historyQuery("web", "production"); got != "WorkflowId = 'deploy/web' AND WorkflowType = 'Deploy'" {
		t.Errorf("production: %s", got)
	}
	if got := queryString(`a'b\c`); got != `'a\'b\\c'` {
		t.Errorf("quoted %s", got)
	}
	code, _, errOut := runOffline(t, "history", "--limit", "0")
	if code != ExitUsage || !strings.Contains(errOut, "--limit: want 1 to 1000") {
		t.Errorf("--limit 0: exit %d %q", code, errOut)
	}
}
