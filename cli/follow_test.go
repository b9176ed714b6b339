package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	ucli "github.com/urfave/cli/v2"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/mocks"
	"go.temporal.io/sdk/temporal"

	"github.com/hoist-dev/hoist/config"
	"github.com/hoist-dev/hoist/rollout"
	"github.com/hoist-dev/hoist/workflows"
)

// fleetRun fakes a deploy workflow that ends at once with res or err,
// checking what it was started with; its progress query is not answered.
func fleetRun(t *testing.T, check func(workflows.DeployInput) bool, res *workflows.DeployResult, err error) *mocks.Client {
	fake := newFake(t)
	fake.On("DescribeTaskQueue", mock.Anything, "q", enums.TASK_QUEUE_TYPE_WORKFLOW).Return(pollers(true), nil)
	holdsBundle(t, fake)
	run := mocks.NewWorkflowRun(t)
	run.On("GetID").Return("deploy/web/staging").Maybe()
	run.On("GetRunID").Return("run-1").Maybe()
	run.On("Get", mock.Anything, mock.Anything).Run(func(args mock.Arguments) {
		if res != nil {
			*args.Get(1).(*workflows.DeployResult) = *res
		}
	}).Return(err).Once()
	fake.On("ExecuteWorkflow", mock.Anything, mock.MatchedBy(func(o client.StartWorkflowOptions) bool { return o.ID == "deploy/web/staging" }),
		workflows.DeployWorkflowName, mock.MatchedBy(func(in workflows.DeployInput) bool { return byReference(in) && check(in) })).Return(run, nil).Once()
	fake.On("QueryWorkflow", mock.Anything, mock.Anything, mock.Anything, workflows.ProgressQuery).Return(nil, errors.New("no worker")).Maybe()
	fake.On("DescribeWorkflowExecution", mock.Anything, mock.Anything, mock.Anything).Return(nil, errors.New("no")).Maybe()
	return fake
}

func doneFleet() *workflows.Fleet {
	return &workflows.Fleet{Batches: 2, Batch: 2, OnFailure: "rollback", Limited: "h1,h3*", Hosts: []workflows.FleetHost{
		{Host: "h1", Batch: 1, State: workflows.StateDeployed, Previous: "v1", Runs: "v2"},
		{Host: "h3", Batch: 2, State: workflows.StateDeployed, Previous: "v1", Runs: "v2"},
	}, Approvals: []workflows.Approval{{Approve: true, By: "alice@laptop", Batch: 1, Note: "ok"}}}
}

// A rollout limited by --hosts, start to end, as a pipe sees it: the
// limit, the start line, the summary, the closing line.
func TestDeployRolloutOutput(t *testing.T) {
	cfg := planConfig(t, fourHosts, "rollout: {batches: [1, '100%'], max_parallel: 10, approve_after: [1]}\n")
	res := &workflows.DeployResult{Service: "web", Version: "v2", Kind: workflows.KindDeploy, Outcome: workflows.OutcomeDeployed, Fleet: doneFleet()}
	fake := fleetRun(t, func(in workflows.DeployInput) bool {
		return in.Limited == "h1,h3*" && hostNames(in.Spec.Hosts) == "h1, h3" && in.Spec.Rollout != nil
	}, res, nil)
	code, out, errOut := runWith(t, fake, "deploy", "-c", cfg, "--version", "v2", "--hosts", "h1,h3*")
	want := "" +
		"⚠ Limited to 2 of 4 hosts by --hosts 'h1,h3*': h1, h3\n" +
		"Deploying web version v2 to 2 host(s) in 2 batch(es) (batches [1, 100%], max_parallel 10, preflight, approve after batch 1, on_failure rollback) — environment staging — http://localhost:8233/namespaces/default/workflows/deploy%2Fweb%2Fstaging/run-1/history\n" +
		"✔ approved by alice@laptop after batch 1: ok\n" +
		"Fleet: 2 hosts in 2 batches: 2 deployed\n" +
		"  h1   batch 1  deployed   v1 → v2\n" +
		"  h3   batch 2  deployed   v1 → v2\n" +
		"  batch 1: 1 deployed\n" +
		"  batch 2: 1 deployed\n" +
		"⚠ Limited by --hosts 'h1,h3*' to 2 of 4 hosts: the other 2 were not touched\n" +
		"✅ Successfully deployed web version v2 in staging to 2 host(s) in 2 batch(es)\n"
	if code != ExitOK || out != want {
		t.Fatalf("exit %d, stderr %q, stdout:\n%s\nwant:\n%s", code, errOut, out, want)
	}
}

// --output json: nothing but one object on stdout, the limit on stderr;
// a rollout that ended on both releases is "mixed", exit 5.
func TestDeployJSON(t *testing.T) {
	cfg := planConfig(t, fourHosts, "rollout: {batches: ['100%'], max_failed: 1}\n")
	fl := &workflows.Fleet{Batches: 1, Batch: 1, OnFailure: "rollback", MaxFailed: 1, Failed: 1, Limited: "h1,h3", Hosts: []workflows.FleetHost{
		{Host: "h1", Batch: 1, State: workflows.StateDeployed, Previous: "v1", Runs: "v2"},
		{Host: "h3", Batch: 1, State: workflows.StateFailed, Previous: "v1", Runs: "v1", Detail: "wait running: crashed"},
	}}
	msg := "❌ Deployment of version v2 did not reach every host: 1 host(s) failed, within max_failed (1). Fleet: 1 deployed, 1 failed"
	fail := temporal.NewNonRetryableApplicationError(msg, workflows.FailureType, nil,
		workflows.FailureDetails{Version: "v2", Kind: workflows.KindDeploy, Mixed: true, RolledBackTo: "v1", Fleet: fl})
	fake := fleetRun(t, func(in workflows.DeployInput) bool { return in.Limited == "h1,h3" }, nil, fail)
	code, out, errOut := runWith(t, fake, "deploy", "-c", cfg, "--version", "v2", "--hosts", "h1,h3", "--output", "json")
	if code != ExitMixed {
		t.Fatalf("exit %d, want %d; stderr %q", code, ExitMixed, errOut)
	}
	if errOut != "⚠ Limited to 2 of 4 hosts by --hosts 'h1,h3': h1, h3\n" {
		t.Errorf("stderr %q", errOut)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, out)
	}
	wantKeys(t, got, "service", "environment", "version", "kind", "outcome", "exit_code", "message", "workflow_id", "run_id", "limited", "fleet", "hosts")
	for k, v := range map[string]any{"service": "web", "environment": "staging", "version": "v2", "kind": "deploy", "outcome": "mixed",
		"exit_code": 5.0, "message": msg, "workflow_id": "deploy/web/staging", "run_id": "run-1", "limited": "h1,h3"} {
		if got[k] != v {
			t.Errorf("%s: %#v, want %#v", k, got[k], v)
		}
	}
	hosts := got["hosts"].([]any)
	if len(hosts) != 2 || !reflect.DeepEqual(hosts[1], map[string]any{"host": "h3", "state": "failed", "previous": "v1", "runs": "v1", "detail": "wait running: crashed"}) {
		t.Errorf("hosts: %#v", hosts)
	}
	fleet := got["fleet"].(map[string]any)
	wantKeys(t, fleet, "batches", "batch", "hosts", "on_failure", "max_failed", "failed", "limited")
	if fh := fleet["hosts"].([]any)[0].(map[string]any); !reflect.DeepEqual(fh, map[string]any{"host": "h1", "batch": 1.0, "state": "deployed", "previous": "v1", "runs": "v2"}) {
		t.Errorf("fleet host: %#v", fh)
	}
}

func wantKeys(t *testing.T, m map[string]any, keys ...string) {
	t.Helper()
	var got []string
	for k := range m {
		got = append(got, k)
	}
	slices.Sort(got)
	slices.Sort(keys)
	if !slices.Equal(got, keys) {
		t.Errorf("keys %v, want %v", got, keys)
	}
}

// --detach --output json: the workflow's IDs at once, outcome started.
func TestDeployDetachJSON(t *testing.T) {
	cfg := planConfig(t, fourHosts, "")
	fake := newFake(t)
	fake.On("DescribeTaskQueue", mock.Anything, "q", enums.TASK_QUEUE_TYPE_WORKFLOW).Return(pollers(true), nil)
	holdsBundle(t, fake)
	run := mocks.NewWorkflowRun(t)
	run.On("GetRunID").Return("run-9")
	fake.On("ExecuteWorkflow", mock.Anything, mock.Anything, workflows.DeployWorkflowName, mock.Anything).Return(run, nil).Once()
	code, out, _ := runWith(t, fake, "deploy", "-c", cfg, "--version", "v2", "--detach", "-o", "json")
	var got deployJSON
	if err := json.Unmarshal([]byte(out), &got); code != ExitOK || err != nil {
		t.Fatalf("exit %d, %v\n%s", code, err, out)
	}
	want := deployJSON{Service: "web", Environment: "staging", Version: "v2", Kind: "deploy", Outcome: "started", Message: "Started deploy of web version v2",
		WorkflowID: "deploy/web/staging", RunID: "run-9", Hosts: []hostJSON{}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
}

// Every way a deploy ends has one outcome word and one exit code.
func TestConclude(t *testing.T) {
	fail := func(d workflows.FailureDetails) error {
		return temporal.NewNonRetryableApplicationError("msg", workflows.FailureType, nil, d)
	}
	fl := &workflows.Fleet{Batches: 1, OnFailure: "halt", Hosts: []workflows.FleetHost{{Host: "h1", Batch: 1, State: workflows.StateDeployed}, {Host: "h2", Batch: 1, State: workflows.StateNotRun}}}
	for _, c := range []struct {
		name    string
		res     workflows.DeployResult
		err     error
		outcome string
		code    int
		line    string
	}{
		{"deployed", workflows.DeployResult{Version: "v2", Outcome: workflows.OutcomeDeployed}, nil, "deployed", 0, "✅ Successfully deployed web version v2 in staging"},
		{"fleet deployed", workflows.DeployResult{Version: "v2", Outcome: workflows.OutcomeDeployed, Fleet: &workflows.Fleet{Batches: 2, Hosts: make([]workflows.FleetHost, 3)}}, nil,
			"deployed", 0, "✅ Successfully deployed web version v2 in staging to 3 host(s) in 2 batch(es)"},
		{"fleet rolled back", workflows.DeployResult{Version: "v1", Kind: workflows.KindRollback, Outcome: workflows.OutcomeDeployed, Fleet: &workflows.Fleet{Batches: 1, Hosts: make([]workflows.FleetHost, 2)}}, nil,
			"deployed", 0, "✅ Rolled back web to version v1 in staging on 2 host(s) in 1 batch(es)"},
		{"warning", workflows.DeployResult{Version: "v2", Outcome: workflows.OutcomeWarning, Warnings: []string{"host h1: web is unhealthy"}}, nil, "warning", 0, "⚠️ Warning: host h1: web is unhealthy. Monitor closely."},
		{"rolled back", workflows.DeployResult{}, fail(workflows.FailureDetails{RolledBackTo: "v1"}), "rolled back", 1, "msg"},
		{"failed, nothing changed", workflows.DeployResult{}, fail(workflows.FailureDetails{}), "failed", 1, "msg"},
		{"setup", workflows.DeployResult{}, fail(workflows.FailureDetails{Setup: true}), "failed", 2, "msg"},
		{"mixed", workflows.DeployResult{}, fail(workflows.FailureDetails{Mixed: true, RolledBackTo: "v1"}), "mixed", 5, "msg"},
		{"unsafe", workflows.DeployResult{}, fail(workflows.FailureDetails{Mixed: true, RollbackFailed: true}), "unsafe", 3, "msg"},
		{"cancelled", workflows.DeployResult{}, temporal.NewCanceledError(workflows.FailureDetails{Cancelled: true, RolledBackTo: "v1"}), "cancelled", 1,
			"❌ Deployment of version v2 was cancelled. Rolled back to v1."},
		{"cancelled under halt", workflows.DeployResult{}, temporal.NewCanceledError(workflows.FailureDetails{Cancelled: true, Mixed: true, Fleet: fl}), "cancelled", 5,
			"❌ Deployment of version v2 was cancelled. Hosts it had deployed keep it (on_failure: halt): 1 deployed, 1 not run."},
		{"cancelled, rollback failed", workflows.DeployResult{}, temporal.NewCanceledError(workflows.FailureDetails{Cancelled: true, RollbackFailed: true, RolledBackTo: "v1"}), "unsafe", 3,
			"❌ Deployment of version v2 was cancelled. Rolling back to v1 FAILED: "},
		{"terminated", workflows.DeployResult{}, errors.New("workflow terminated"), "unsafe", 3,
			"deploy of web (staging) version v2: workflow terminated; hoist cannot tell what the hosts run: check `hoist status`"},
	} {
		e := conclude(testIn(), &c.res, c.err)
		if e.outcome != c.outcome || e.code != c.code || strings.Join(e.lines, "\n") != c.line {
			t.Errorf("%s: %q, exit %d, %q; want %q, %d, %q", c.name, e.outcome, e.code, e.lines, c.outcome, c.code, c.line)
		}
	}
}

func TestStartLine(t *testing.T) {
	spec := config.Spec{Service: "web", Hosts: make([]config.Host, 3)}
	in := workflows.DeployInput{Spec: spec, Version: "v2", Kind: workflows.KindDeploy}
	if got, want := startLine(in, "LINK"), "Deploying web version v2 to 3 host(s) — environment production — LINK"; got != want {
		t.Errorf("no rollout:\n%s\nwant\n%s", got, want)
	}
	spec.Rollout = &config.Rollout{Batches: []rollout.Size{rollout.Count(1), rollout.Percent(100)}, MaxParallel: 10, Preflight: true,
		ApproveAfter: []int{1}, OnFailure: config.OnFailureRollback, ApprovalTimeout: time.Hour}
	in.Spec = spec
	if got, want := startLine(in, "LINK"), "Deploying web version v2 to 3 host(s) in 2 batch(es) (batches [1, 100%], max_parallel 10, preflight, approve after batch 1, on_failure rollback) — environment production — LINK"; got != want {
		t.Errorf("rollout:\n%s\nwant\n%s", got, want)
	}
	in.Spec.Hosts = in.Spec.Hosts[:1] // one batch: nothing waits after it
	if got, want := startLine(in, "LINK"), "Deploying web version v2 to 1 host(s) in 1 batch(es) (batches [1, 100%], max_parallel 10, preflight, on_failure rollback) — environment production — LINK"; got != want {
		t.Errorf("one host:\n%s\nwant\n%s", got, want)
	}
	spec.Rollout = &config.Rollout{Batches: []rollout.Size{rollout.Count(1), rollout.Percent(50)}, Pause: 30 * time.Second,
		ApproveAfter: []int{1, 2, 3}, MaxFailed: rollout.Percent(50), OnFailure: config.OnFailureHalt}
	spec.Hosts = make([]config.Host, 4) // batches of 1, 2, 1
	in = workflows.DeployInput{Spec: spec, Version: "v1", Kind: workflows.KindRollback}
	if got, want := startLine(in, "LINK"), "Rolling back web version v1 to 4 host(s) in 3 batch(es) (batches [1, 50%], max_parallel batch size, no preflight, pause 30s, approve after batches 1, 2, max_failed 2, on_failure halt) — environment production — LINK"; got != want {
		t.Errorf("rollback:\n%s\nwant\n%s", got, want)
	}
}

// hoist cancel of a rollout shows the summary before the closing line.
func TestCancelOutcomeFleet(t *testing.T) {
	fl := &workflows.Fleet{Batches: 2, OnFailure: "rollback", Hosts: []workflows.FleetHost{
		{Host: "h1", Batch: 1, State: workflows.StateReverted, Previous: "v1", Runs: "v1"},
		{Host: "h2", Batch: 2, State: workflows.StateNotRun, Runs: "v1"},
	}}
	var out bytes.Buffer
	err := cancelOutcome(Streams{Out: &out}, testIn(), &workflows.DeployResult{},
		temporal.NewCanceledError(workflows.FailureDetails{Version: "v2", Cancelled: true, RolledBackTo: "v1", Fleet: fl}))
	want := "" +
		"Fleet: 2 hosts in 2 batches: 1 reverted, 1 not run\n" +
		"  h1   batch 1  reverted   back on v1\n" +
		"  h2   batch 2  not run    on v1\n" +
		"  batch 1: 1 reverted\n" +
		"  batch 2: 1 not run\n" +
		"❌ Deployment of version v2 was cancelled. Rolled back to v1.\n"
	if ExitCode(err) != ExitOK || out.String() != want {
		t.Fatalf("exit %d, printed:\n%s\nwant:\n%s", ExitCode(err), out.String(), want)
	}
}

// encoded is a query answer holding p.
func encoded(t *testing.T, p workflows.Progress) *mocks.Value {
	v := mocks.NewEncodedValue(t)
	v.On("Get", mock.Anything).Run(func(args mock.Arguments) { *args.Get(0).(*workflows.Progress) = p }).Return(nil).Maybe()
	return v
}

// watch of a running rollout: the parent's progress gives the hosts, the
// child of the host being deployed its step; the wait is announced with
// the command to answer it, then the summary and the closing line.
func TestWatchRolloutLive(t *testing.T) {
	cfg := planConfig(t, "  - {address: 10.77.0.11, name: h1}\n  - {address: 10.77.0.12, name: h2}\n", "rollout: {batches: [1, '100%'], approve_after: [1]}\n")
	since := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	live := &workflows.Fleet{Batches: 2, Batch: 1, OnFailure: "rollback", Hosts: []workflows.FleetHost{
		{Host: "h1", Batch: 1, State: workflows.StateDeploying, Previous: "v1", Runs: "v1", Child: "deploy/web/staging/h1/start"},
		{Host: "h2", Batch: 2, State: workflows.StatePrepared, Previous: "v1", Runs: "v1"},
	}}
	waiting := &workflows.Fleet{Batches: 2, Batch: 1, OnFailure: "rollback", Hosts: []workflows.FleetHost{
		{Host: "h1", Batch: 1, State: workflows.StateDeployed, Previous: "v1", Runs: "v2"},
		{Host: "h2", Batch: 2, State: workflows.StatePrepared, Previous: "v1", Runs: "v1"},
	}, Waiting: &workflows.ApprovalWait{AfterBatch: 1, Reason: "approve_after: [1]", Since: since, Deadline: since.Add(time.Hour)}}
	final := &workflows.Fleet{Batches: 2, Batch: 2, OnFailure: "rollback", Hosts: []workflows.FleetHost{
		{Host: "h1", Batch: 1, State: workflows.StateDeployed, Previous: "v1", Runs: "v2"},
		{Host: "h2", Batch: 2, State: workflows.StateDeployed, Previous: "v1", Runs: "v2"},
	}, Approvals: []workflows.Approval{{Approve: true, By: "alice@laptop", Batch: 1}}}

	fake := newFake(t)
	id := "deploy/web/staging"
	fake.On("DescribeWorkflowExecution", mock.Anything, id, "").Return(runningDeployOf(t, id, "run-1", "v2"), nil).Once()
	answers := make(chan *workflows.Fleet, 4)
	answers <- live // describeRunning's query
	answers <- live // first tick
	answers <- waiting
	fake.On("QueryWorkflow", mock.Anything, id, "run-1", workflows.ProgressQuery).Return(func(_ context.Context, _, _, _ string, _ ...any) (converter.EncodedValue, error) {
		select {
		case fl := <-answers:
			return encoded(t, workflows.Progress{Kind: workflows.KindDeploy, Version: "v2", Phase: "deploying", Fleet: fl}), nil
		default:
			return nil, errors.New("no more answers")
		}
	})
	fake.On("QueryWorkflow", mock.Anything, "deploy/web/staging/h1/start", "", workflows.ProgressQuery).
		Return(encoded(t, workflows.Progress{Events: []workflows.Event{{Host: "h1", Step: "switch", State: "ok"}, {Host: "h1", Step: "wait running", State: "started"}}}), nil).Once()
	run := mocks.NewWorkflowRun(t)
	run.On("GetID").Return(id).Maybe()
	run.On("GetRunID").Return("run-1").Maybe()
	run.On("Get", mock.Anything, mock.Anything).Run(func(args mock.Arguments) {
		for len(answers) > 0 { // until the ticks took every answer
			time.Sleep(50 * time.Millisecond)
		}
		time.Sleep(fleetEvery + 100*time.Millisecond) // and showed the last
		*args.Get(1).(*workflows.DeployResult) = workflows.DeployResult{Version: "v2", Kind: workflows.KindDeploy, Outcome: workflows.OutcomeDeployed, Fleet: final}
	}).Return(nil).Once()
	fake.On("GetWorkflow", mock.Anything, id, "run-1").Return(run).Once()
	code, out, errOut := runWith(t, fake, "watch", "-c", cfg, "--namespace", "prod")
	deadline := since.Add(time.Hour).Local().Format("2006-01-02 15:04:05 MST")
	want := "" +
		"Following deploy of web (staging) version v2 (running) — http://localhost:8233/namespaces/prod/workflows/deploy%2Fweb%2Fstaging/run-1/history\n" +
		"h1 batch 1: deploying (wait running)\n" +
		"h2 batch 2: prepared (on v1)\n" +
		"⏸ Waiting for approval after batch 1 of 2 (approve_after: [1]) until " + deadline + ": hoist approve -c " + cfg + " --namespace prod [--note TEXT]  |  hoist reject -c " + cfg + " --namespace prod\n" +
		"h1 batch 1: deployed (v1 → v2)\n" +
		"✔ approved by alice@laptop after batch 1\n" +
		"h2 batch 2: deployed (v1 → v2)\n" + // its last change, printed before the summary
		"Fleet: 2 hosts in 2 batches: 2 deployed\n" +
		"  h1   batch 1  deployed   v1 → v2\n" +
		"  h2   batch 2  deployed   v1 → v2\n" +
		"  batch 1: 1 deployed\n" +
		"  batch 2: 1 deployed\n" +
		"✅ Successfully deployed web version v2 in staging to 2 host(s) in 2 batch(es)\n"
	if code != ExitOK || out != want {
		t.Fatalf("exit %d, stderr %q, stdout:\n%s\nwant:\n%s", code, errOut, out, want)
	}
}

// The approve hint repeats what reaches Temporal only when it came from
// the command line: an environment variable reaches approve too.
func TestApproveHint(t *testing.T) {
	t.Setenv("TEMPORAL_ADDRESS", "10.0.0.1:7233")
	t.Setenv("TEMPORAL_NAMESPACE", "")
	clearConnectionEnv(t)
	t.Setenv("TEMPORAL_ADDRESS", "10.0.0.1:7233")
	var got string
	app := NewApp(Streams{In: strings.NewReader(""), Out: &bytes.Buffer{}, Err: &bytes.Buffer{}})
	app.Commands = append(app.Commands, &ucli.Command{Name: "probe", Flags: []ucli.Flag{configFlag}, Action: func(c *ucli.Context) error {
		got = approveHint(c)
		return nil
	}})
	acceptGlobalFlags(app.Commands[len(app.Commands)-1])
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"probe"}, "-c hoist.yml"},
		{[]string{"probe", "-c", "my dir/hoist.yml", "--namespace", "prod"}, "-c 'my dir/hoist.yml' --namespace prod"},
		{[]string{"--temporal-address", "10.0.0.2:7233", "probe", "-c", "a.yml"}, "-c a.yml --temporal-address 10.0.0.2:7233"},
		// TLS files given as flags are needed to reach the deploy again;
		// they are paths, never secrets.
		{[]string{"probe", "-c", "a.yml", "--tls-ca", "/etc/t/ca.pem", "--tls-cert", "c.pem", "--tls-key", "k.pem", "--tls-server-name", "tmp.internal"},
			"-c a.yml --tls-ca /etc/t/ca.pem --tls-cert c.pem --tls-key k.pem --tls-server-name tmp.internal"},
		{[]string{"--tls", "probe", "-c", "a.yml", "--api-key-file", "/etc/t/key"}, "-c a.yml --tls --api-key-file /etc/t/key"},
	} {
		got = ""
		if err := app.Run(append([]string{"hoist"}, c.args...)); err != nil || got != c.want {
			t.Errorf("%v: %q (%v), want %q", c.args, got, err, c.want)
		}
	}
}
