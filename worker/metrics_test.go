package worker

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/hoist-dev/hoist/metrics"
	"github.com/hoist-dev/hoist/workflows"
)

// A deploy's outcome is what --output json says of it (cli.conclude),
// and a rollback is counted when the failure put hosts back.
func TestDeployOutcome(t *testing.T) {
	failure := func(d workflows.FailureDetails) error {
		return temporal.NewNonRetryableApplicationError("x", workflows.FailureType, nil, d)
	}
	cases := []struct {
		name              string
		res               *workflows.DeployResult
		err               error
		outcome, rollback string
	}{
		{"deployed", &workflows.DeployResult{Outcome: workflows.OutcomeDeployed}, nil, "deployed", ""},
		{"warning", &workflows.DeployResult{Outcome: workflows.OutcomeWarning}, nil, "warning", ""},
		{"rolled back", nil, failure(workflows.FailureDetails{RolledBackTo: "v1"}), "rolled back", metrics.ResultOK},
		{"failed before any host", nil, failure(workflows.FailureDetails{}), "failed", ""},
		{"refused by the worker's set-up", nil, failure(workflows.FailureDetails{Setup: true, NothingToRollBackTo: true}), "failed", ""},
		{"refused by a window", nil, failure(workflows.FailureDetails{Refused: true}), "failed", ""},
		{"rollback failed", nil, failure(workflows.FailureDetails{RolledBackTo: "v1", RollbackFailed: true}), "unsafe", metrics.ResultFailed},
		{"first deploy failed", nil, failure(workflows.FailureDetails{NothingToRollBackTo: true}), "unsafe", ""},
		{"mixed", nil, failure(workflows.FailureDetails{Mixed: true, RolledBackTo: "v1"}), "mixed", metrics.ResultOK},
		{"cancelled", nil, temporal.NewCanceledError(workflows.FailureDetails{Cancelled: true, RolledBackTo: "v1"}), "cancelled", metrics.ResultOK},
		{"cancelled before a host", nil, temporal.NewCanceledError(), "cancelled", ""},
		{"cancelled, unsafe", nil, temporal.NewCanceledError(workflows.FailureDetails{Cancelled: true, RollbackFailed: true}), "unsafe", metrics.ResultFailed},
		{"invalid input", nil, temporal.NewNonRetryableApplicationError("kind: x", "InvalidInput", nil), "unsafe", ""},
	}
	for _, c := range cases {
		outcome, rollback := deployOutcome(c.res, c.err)
		if outcome != c.outcome || rollback != c.rollback {
			t.Errorf("%s: outcome %q rollback %q, want %q %q", c.name, outcome, rollback, c.outcome, c.rollback)
		}
	}
}

// samples scrapes m's /metrics into "name{labels}" → value (histograms:
// their count), the labels the test names only.
func samples(t *testing.T, m *metrics.Metrics, keep ...string) map[string]float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Mux(func(context.Context) error { return nil }).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(rec.Body.String()))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for name, f := range families {
		if !strings.HasPrefix(name, "hoist_") {
			continue
		}
		for _, s := range f.GetMetric() {
			var labels []string
			for _, l := range s.GetLabel() {
				for _, k := range keep {
					if l.GetName() == k {
						labels = append(labels, fmt.Sprintf("%s=%s", k, l.GetValue()))
					}
				}
			}
			key := name + "{" + strings.Join(labels, ",") + "}"
			if h := s.GetHistogram(); h != nil {
				out[key] += float64(h.GetSampleCount())
			} else {
				out[key] += s.GetCounter().GetValue()
			}
		}
	}
	return out
}

// stand-ins for the Deploy workflow and its steps, under hoist's names:
// the interceptor reads only their results.
type fakeActs struct{}

func (*fakeActs) StartRelease(context.Context) error  { return nil }
func (*fakeActs) SwitchCurrent(context.Context) error { return nil }
func (*fakeActs) WaitRunning(context.Context) error {
	return errors.New("crashed: web exited with code 1")
}

func fakeDeploy(ctx workflow.Context, in workflows.DeployInput) (*workflows.DeployResult, error) {
	var a *fakeActs
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute, RetryPolicy: &temporal.RetryPolicy{MaximumAttempts: 1}})
	if err := workflow.ExecuteActivity(actx, a.StartRelease).Get(ctx, nil); err != nil {
		return nil, err
	}
	lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{StartToCloseTimeout: time.Minute})
	if err := workflow.ExecuteLocalActivity(lctx, a.SwitchCurrent).Get(ctx, nil); err != nil {
		return nil, err
	}
	if in.Version == "crash" {
		_ = workflow.ExecuteActivity(actx, a.WaitRunning).Get(ctx, nil)
		return nil, temporal.NewNonRetryableApplicationError("crashed", workflows.FailureType, nil, workflows.FailureDetails{RolledBackTo: "v1"})
	}
	return &workflows.DeployResult{Outcome: workflows.OutcomeDeployed}, nil
}

func fakeStatus(ctx workflow.Context) error { return nil }

// Through the worker's interceptors, a Deploy workflow is counted once
// when it ends, by kind and outcome, with its rollback; each step, local
// or not, is timed by its activity type and result; other workflows are
// not counted as deploys.
func TestInterceptorsRecordDeploysAndSteps(t *testing.T) {
	m, err := metrics.New(func(err error) { t.Errorf("meter: %v", err) })
	if err != nil {
		t.Fatal(err)
	}
	run := func(name string, wf any, args ...any) {
		var ts testsuite.WorkflowTestSuite
		ts.SetMetricsHandler(m.Handler())
		env := ts.NewTestWorkflowEnvironment()
		env.SetWorkerOptions(sdkworker.Options{Interceptors: Options().Interceptors})
		env.RegisterWorkflowWithOptions(wf, workflow.RegisterOptions{Name: name})
		env.RegisterActivity(&fakeActs{})
		env.ExecuteWorkflow(name, args...)
		if !env.IsWorkflowCompleted() {
			t.Fatalf("%s did not complete", name)
		}
	}
	run(workflows.DeployWorkflowName, fakeDeploy, workflows.DeployInput{Version: "v2"})
	run(workflows.DeployWorkflowName, fakeDeploy, workflows.DeployInput{Version: "v3", Kind: workflows.KindRollback})
	run(workflows.DeployWorkflowName, fakeDeploy, workflows.DeployInput{Version: "crash", Kind: workflows.KindDeploy})
	run(workflows.StatusWorkflowName, fakeStatus)

	got := samples(t, m, "kind", "outcome", "result", "activity_type", "workflow_type")
	// (The test environment tags a workflow's handler with no
	// workflow_type; a worker does.)
	want := map[string]float64{
		"hoist_deploys_total{kind=deploy,outcome=deployed}":                                         1,
		"hoist_deploys_total{kind=rollback,outcome=deployed}":                                       1,
		"hoist_deploys_total{kind=deploy,outcome=rolled back}":                                      1,
		"hoist_rollbacks_total{kind=deploy,result=ok}":                                              1,
		"hoist_step_duration_seconds{activity_type=StartRelease,result=ok,workflow_type=Deploy}":    3,
		"hoist_step_duration_seconds{activity_type=SwitchCurrent,result=ok,workflow_type=Deploy}":   3,
		"hoist_step_duration_seconds{activity_type=WaitRunning,result=failed,workflow_type=Deploy}": 1,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected sample %s = %v", k, got[k])
		}
	}
}
