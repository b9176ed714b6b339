package cli

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/mock"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/mocks"
	"go.temporal.io/sdk/temporal"

	"github.com/hoist-dev/hoist/workflows"
)

// decideFake is a running deploy of web in staging, run-3, whose decide
// Update answers with answer or fails with err; sent receives what
// hoist sent.
func decideFake(t *testing.T, answer string, err error, sent *workflows.Approval) *mocks.Client {
	fake := newFake(t)
	id := "deploy/web/staging"
	fake.On("DescribeWorkflowExecution", mock.Anything, id, "").Return(runningDeployOf(t, id, "run-3", "v2"), nil).Once()
	fake.On("QueryWorkflow", mock.Anything, id, "run-3", workflows.ProgressQuery).Return(nil, errors.New("no answer")).Once()
	fake.On("DescribeTaskQueue", mock.Anything, "q", enums.TASK_QUEUE_TYPE_WORKFLOW).Return(pollers(true), nil).Once()
	h := mocks.NewWorkflowUpdateHandle(t)
	h.On("Get", mock.Anything, mock.Anything).Run(func(args mock.Arguments) {
		*args.Get(1).(*string) = answer
	}).Return(err).Once()
	fake.On("UpdateWorkflow", mock.Anything, mock.MatchedBy(func(o client.UpdateWorkflowOptions) bool {
		if o.WorkflowID != id || o.RunID != "run-3" || o.UpdateName != workflows.DecideUpdate || o.WaitForStage != client.WorkflowUpdateStageCompleted || len(o.Args) != 1 {
			return false
		}
		*sent = o.Args[0].(workflows.Approval)
		return true
	})).Return(h, nil).Once()
	return fake
}

func TestApprove(t *testing.T) {
	cfg := serviceDir(t, map[string]string{})
	t.Setenv("USER", "alice")
	var sent workflows.Approval
	answer := "approved: the rollout goes on with batch 2 of 2"
	code, out, errOut := runWith(t, decideFake(t, answer, nil, &sent), "approve", "-c", cfg, "--note", "canary looks fine")
	if code != ExitOK || out != answer+"\n" || errOut != "" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if !sent.Approve || sent.Note != "canary looks fine" || !strings.HasPrefix(sent.By, "alice@") || len(sent.By) <= len("alice@") {
		t.Fatalf("sent %+v", sent)
	}
}

func TestReject(t *testing.T) {
	cfg := serviceDir(t, map[string]string{})
	var sent workflows.Approval
	answer := "rejected: every host this rollout changed goes back to its previous release"
	code, out, _ := runWith(t, decideFake(t, answer, nil, &sent), "reject", "-c", cfg)
	if code != ExitOK || out != answer+"\n" || sent.Approve || sent.By == "" || sent.Note != "" {
		t.Fatalf("exit %d, stdout %q, sent %+v", code, out, sent)
	}
}

// A deploy that is not waiting refuses in the validator: exit 4 with the
// workflow's words (what it is doing); nothing is recorded.
func TestApproveNotWaiting(t *testing.T) {
	cfg := serviceDir(t, map[string]string{})
	var sent workflows.Approval
	refusal := temporal.NewApplicationError("the deploy of version v2 is not waiting for approval (it is deploying batch 2 of 3)", "")
	code, out, errOut := runWith(t, decideFake(t, "", refusal, &sent), "approve", "-c", cfg)
	want := "hoist: not approved: the deploy of version v2 is not waiting for approval (it is deploying batch 2 of 3); nothing was recorded; `hoist watch -c " + cfg + "` follows it\n"
	if code != ExitBusy || out != "" || errOut != want {
		t.Fatalf("exit %d, stdout %q, stderr %q; want exit 4 and %q", code, out, errOut, want)
	}
	// A host-by-host deploy has no decide Update at all.
	unknown := temporal.NewApplicationError("unknown update decide. KnownUpdates=[]", "")
	code, _, errOut = runWith(t, decideFake(t, "", unknown, &sent), "reject", "-c", cfg)
	if code != ExitBusy || !strings.Contains(errOut, "not rejected: the deploy or rollback of web (staging) version v2 has no rollout block, so nothing in it waits for approval") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
}

// Nothing running, or it ended before the Update reached it: exit 2.
func TestApproveNothingRunning(t *testing.T) {
	cfg := serviceDir(t, map[string]string{})
	id := "deploy/web/staging"
	fake := newFake(t)
	fake.On("DescribeWorkflowExecution", mock.Anything, id, "").Return(nil, serviceerror.NewNotFound("no such workflow")).Once()
	code, out, errOut := runWith(t, fake, "approve", "-c", cfg)
	if code != ExitUsage || out != "" || errOut != "hoist: nothing to approve: no deploy or rollback of web is running in staging\n" {
		t.Fatalf("never ran: exit %d, stdout %q, stderr %q", code, out, errOut)
	}

	fake = newFake(t)
	done := &workflowservice.DescribeWorkflowExecutionResponse{WorkflowExecutionInfo: &workflowpb.WorkflowExecutionInfo{
		Execution: &commonpb.WorkflowExecution{WorkflowId: id, RunId: "run-2"}, Status: enums.WORKFLOW_EXECUTION_STATUS_COMPLETED}}
	fake.On("DescribeWorkflowExecution", mock.Anything, id, "").Return(done, nil).Once()
	fake.On("QueryWorkflow", mock.Anything, id, "run-2", workflows.ProgressQuery).Return(nil, errors.New("no answer")).Maybe()
	code, _, errOut = runWith(t, fake, "reject", "-c", cfg)
	if code != ExitUsage || errOut != "hoist: nothing to reject: no deploy or rollback of web is running in staging\n" {
		t.Fatalf("completed: exit %d, stderr %q", code, errOut)
	}

	var sent workflows.Approval
	fake = newFake(t)
	fake.On("DescribeWorkflowExecution", mock.Anything, id, "").Return(runningDeployOf(t, id, "run-3", "v2"), nil).Once()
	fake.On("QueryWorkflow", mock.Anything, id, "run-3", workflows.ProgressQuery).Return(nil, errors.New("no answer")).Once()
	fake.On("DescribeTaskQueue", mock.Anything, "q", enums.TASK_QUEUE_TYPE_WORKFLOW).Return(pollers(true), nil).Once()
	fake.On("UpdateWorkflow", mock.Anything, mock.MatchedBy(func(o client.UpdateWorkflowOptions) bool { sent = o.Args[0].(workflows.Approval); return true })).
		Return(nil, serviceerror.NewNotFound("workflow execution already completed")).Once()
	code, _, errOut = runWith(t, fake, "approve", "-c", cfg)
	if code != ExitUsage || !strings.Contains(errOut, "nothing to approve: no deploy or rollback of web is running in staging (it ended a moment ago") || !sent.Approve {
		t.Fatalf("ended meanwhile: exit %d, stderr %q, sent %+v", code, errOut, sent)
	}
}

func TestApproveNoteTooLong(t *testing.T) {
	cfg := serviceDir(t, map[string]string{})
	code, _, errOut := runOffline(t, "approve", "-c", cfg, "--note", strings.Repeat("x", 1001))
	if code != ExitUsage || !strings.Contains(errOut, "--note: at most 1000 bytes, got 1001") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
}
