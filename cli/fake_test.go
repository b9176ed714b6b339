package cli

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	taskqueuepb "go.temporal.io/api/taskqueue/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/mocks"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/hoist-dev/hoist/workflows"
)

// runWith runs the CLI against a fake Temporal: a call the test did not
// expect fails it (testify panics, and the mock asserts what was expected).
func runWith(t *testing.T, fake *mocks.Client, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	s := Streams{In: strings.NewReader(""), Out: &out, Err: &errb,
		Dial: func(client.Options) (client.Client, error) { return fake, nil }}
	code = Run(context.Background(), append([]string{"hoist", "--task-queue", "q"}, args...), s)
	fake.AssertExpectations(t)
	return code, out.String(), errb.String()
}

func newFake(t *testing.T) *mocks.Client {
	fake := mocks.NewClient(t)
	fake.On("Close").Return().Maybe()
	return fake
}

func pollers(fresh bool) *workflowservice.DescribeTaskQueueResponse {
	if !fresh {
		return &workflowservice.DescribeTaskQueueResponse{}
	}
	return &workflowservice.DescribeTaskQueueResponse{Pollers: []*taskqueuepb.PollerInfo{{LastAccessTime: timestamppb.Now(), Identity: "1@w"}}}
}

func runningDeployOf(t *testing.T, id, runID, version string) *workflowservice.DescribeWorkflowExecutionResponse {
	t.Helper()
	p, err := converter.GetDefaultDataConverter().ToPayload(version)
	if err != nil {
		t.Fatal(err)
	}
	return &workflowservice.DescribeWorkflowExecutionResponse{WorkflowExecutionInfo: &workflowpb.WorkflowExecutionInfo{
		Execution:        &commonpb.WorkflowExecution{WorkflowId: id, RunId: runID},
		Status:           enums.WORKFLOW_EXECUTION_STATUS_RUNNING,
		SearchAttributes: &commonpb.SearchAttributes{IndexedFields: map[string]*commonpb.Payload{workflows.VersionAttribute.GetName(): p}},
	}}
}

// With no worker on the queue, status and deploy start nothing and say
// how to start one, instead of waiting in silence.
func TestNoWorkerStartsNothing(t *testing.T) {
	cfg := serviceDir(t, map[string]string{})
	for _, args := range [][]string{{"status", "-c", cfg}, {"deploy", "-c", cfg, "--version", "v1"}, {"rollback", "-c", cfg, "--to", "v1"}} {
		// Not in parallel: commands share package-level flag values
		// (configFlag, waitForWorkerFlag), which urfave/cli writes as it
		// parses; go test -race flags parallel runs.
		t.Run(args[0], func(t *testing.T) {
			fake := newFake(t)
			fake.On("DescribeTaskQueue", mock.Anything, "q", enums.TASK_QUEUE_TYPE_WORKFLOW).Return(pollers(false), nil)
			code, out, errOut := runWith(t, fake, args...)
			if code != ExitUsage || out != "" {
				t.Errorf("%s: exit %d, stdout %q", args[0], code, out)
			}
			wantContains(t, errOut, "no worker polls task queue q in namespace default", "--wait-for-worker", "nothing was started")
		})
	}
}

// A worker started a moment before the command (a script that starts one
// and deploys) is waited for: it polls within the grace period.
func TestWorkerStartingIsWaitedFor(t *testing.T) {
	cfg := serviceDir(t, map[string]string{})
	fake := newFake(t)
	fake.On("DescribeTaskQueue", mock.Anything, "q", enums.TASK_QUEUE_TYPE_WORKFLOW).Return(pollers(false), nil).Twice()
	fake.On("DescribeTaskQueue", mock.Anything, "q", enums.TASK_QUEUE_TYPE_WORKFLOW).Return(pollers(true), nil).Once()
	fake.On("ExecuteWorkflow", mock.Anything, mock.Anything, workflows.StatusWorkflowName, mock.Anything).
		Return(nil, errors.New("stop here")).Once()
	_, _, errOut := runWith(t, fake, "status", "-c", cfg)
	wantContains(t, errOut, "starting the status workflow: stop here")
}

// A retried CI job's `deploy --attach` of v3d while v3c runs must not
// follow v3c to a success: exit 4, naming v3c. The lock is the service's
// staging environment.
func TestAttachAnotherVersionRefused(t *testing.T) {
	cfg := serviceDir(t, map[string]string{})
	fake := newFake(t)
	fake.On("DescribeTaskQueue", mock.Anything, "q", enums.TASK_QUEUE_TYPE_WORKFLOW).Return(pollers(true), nil)
	holdsBundle(t, fake)
	fake.On("ExecuteWorkflow", mock.Anything, mock.MatchedBy(func(o client.StartWorkflowOptions) bool {
		env, ok := o.TypedSearchAttributes.GetKeyword(workflows.EnvironmentAttribute)
		return o.ID == "deploy/web/staging" && ok && env == "staging"
	}), workflows.DeployWorkflowName, mock.Anything).
		Return(nil, serviceerror.NewWorkflowExecutionAlreadyStarted("already started", "", "run-1")).Once()
	fake.On("DescribeWorkflowExecution", mock.Anything, "deploy/web/staging", "run-1").
		Return(runningDeployOf(t, "deploy/web/staging", "run-1", "v3c"), nil).Once()
	fake.On("QueryWorkflow", mock.Anything, "deploy/web/staging", "run-1", workflows.ProgressQuery).
		Return(nil, errors.New("no worker answered")).Once()
	code, out, errOut := runWith(t, fake, "deploy", "-c", cfg, "--version", "v3d", "--attach")
	if code != ExitBusy {
		t.Fatalf("exit %d, want %d; stdout %q stderr %q", code, ExitBusy, out, errOut)
	}
	wantContains(t, errOut, "version v3c", "not version v3d")
	if strings.Contains(out, "Successfully") || strings.Contains(out, "following") {
		t.Fatalf("it followed another version: %q", out)
	}
}

// `hoist rollback` while a deploy runs is refused by the lock, before it
// reads the hosts (which a deploy in flight leaves between releases).
func TestRollbackWhileDeployRunsRefused(t *testing.T) {
	cfg := serviceDir(t, map[string]string{})
	fake := newFake(t)
	fake.On("DescribeWorkflowExecution", mock.Anything, "deploy/web/staging", "").
		Return(runningDeployOf(t, "deploy/web/staging", "run-2", "v2"), nil).Once()
	fake.On("QueryWorkflow", mock.Anything, "deploy/web/staging", "run-2", workflows.ProgressQuery).
		Return(nil, errors.New("no worker answered")).Once()
	code, _, errOut := runWith(t, fake, "rollback", "-c", cfg)
	if code != ExitBusy {
		t.Fatalf("exit %d, want %d; stderr %q", code, ExitBusy, errOut)
	}
	wantContains(t, errOut, "another deploy or rollback of web is running: workflow deploy/web/staging (run run-2)", "version v2")
	if strings.Contains(errOut, "disagree") {
		t.Fatalf("blamed the hosts: %q", errOut)
	}
}

// holdsBundle expects the deploy's bundle to be stored first, in a
// ReleaseBundle run of its own under its content-addressed ID.
func holdsBundle(t *testing.T, fake *mocks.Client) {
	t.Helper()
	run := mocks.NewWorkflowRun(t)
	run.On("GetRunID").Return("holder-run").Once()
	fake.On("ExecuteWorkflow", mock.Anything, mock.MatchedBy(func(o client.StartWorkflowOptions) bool {
		return strings.HasPrefix(o.ID, "hoist-bundle/") && len(o.ID) == len("hoist-bundle/")+64
	}), workflows.ReleaseBundleWorkflowName, mock.MatchedBy(func(h workflows.BundleHold) bool {
		return len(h.Bundle) > 0 && h.Service != ""
	})).Return(run, nil).Once()
}

// byReference: the deploy names the bundle the holder holds, and carries
// none of it.
func byReference(in workflows.DeployInput) bool {
	r := in.BundleRef
	return len(in.Bundle) == 0 && r != nil && r.Run == "holder-run" && r.Workflow == "hoist-bundle/"+r.Digest && r.Size > 0
}

// `hoist status` reads hosts through a workflow of its own: in the Web UI's
// list it must say what it is, stay out of a HoistService filter (no
// search attributes), and not outlive the command for long.
func TestStatusWorkflowIsRecognisableAndShortLived(t *testing.T) {
	cfg := serviceDir(t, map[string]string{})
	fake := newFake(t)
	fake.On("DescribeTaskQueue", mock.Anything, "q", enums.TASK_QUEUE_TYPE_WORKFLOW).Return(pollers(true), nil)
	var got client.StartWorkflowOptions
	fake.On("ExecuteWorkflow", mock.Anything, mock.MatchedBy(func(o client.StartWorkflowOptions) bool { got = o; return true }),
		workflows.StatusWorkflowName, mock.Anything).Return(nil, errors.New("stop here")).Once()
	runWith(t, fake, "status", "-c", cfg)
	if !strings.HasPrefix(got.ID, "status/web/") {
		t.Errorf("ID %q, want status/web/…", got.ID)
	}
	if want := "read of 1 host(s) of web (staging) for hoist status; changes nothing"; got.StaticSummary != want {
		t.Errorf("summary %q, want %q", got.StaticSummary, want)
	}
	if got.WorkflowExecutionTimeout <= 0 || got.WorkflowExecutionTimeout > 5*time.Minute {
		t.Errorf("execution timeout %s, want a few minutes at most", got.WorkflowExecutionTimeout)
	}
	if got.TypedSearchAttributes.Size() != 0 {
		t.Errorf("search attributes %v: a HoistService filter would list status reads among deploys", got.TypedSearchAttributes)
	}
}
