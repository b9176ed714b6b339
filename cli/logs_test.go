package cli

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/api/enums/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/mocks"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/grpc"

	"github.com/hoist-dev/hoist/activities"
	"github.com/hoist-dev/hoist/workflows"
)

// fakeService is the raw WorkflowService a day-2 command or history uses
// beside the client; any call it does not implement panics (nil).
type fakeService struct {
	workflowservice.WorkflowServiceClient
	mu        sync.Mutex
	deleted   []string // run IDs
	deleteErr error
	histories map[string]*workflowservice.GetWorkflowExecutionHistoryResponse // by run ID
	pageSizes []int32
}

func (f *fakeService) DeleteWorkflowExecution(_ context.Context, req *workflowservice.DeleteWorkflowExecutionRequest, _ ...grpc.CallOption) (*workflowservice.DeleteWorkflowExecutionResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deleted = append(f.deleted, req.GetNamespace()+"/"+req.GetWorkflowExecution().GetWorkflowId()+"/"+req.GetWorkflowExecution().GetRunId())
	return &workflowservice.DeleteWorkflowExecutionResponse{}, f.deleteErr
}

func (f *fakeService) GetWorkflowExecutionHistory(_ context.Context, req *workflowservice.GetWorkflowExecutionHistoryRequest, _ ...grpc.CallOption) (*workflowservice.GetWorkflowExecutionHistoryResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pageSizes = append(f.pageSizes, req.GetMaximumPageSize())
	h, ok := f.histories[req.GetExecution().GetRunId()]
	if !ok {
		return nil, errors.New("no such run")
	}
	return h, nil
}

// day2 is a fake Temporal for one day-2 command: a worker polls, the run
// starts, its activities report beats (one describe each, the last
// repeated) before its result comes back.
type day2 struct {
	t        *testing.T
	fake     *mocks.Client
	svc      *fakeService
	run      *mocks.WorkflowRun
	mu       sync.Mutex
	opts     client.StartWorkflowOptions
	input    any
	describe int
	reached  chan struct{} // closed once every beat was described
	beats    [][]activities.StreamProgress
}

func newDay2(t *testing.T, workflow string, beats ...[]activities.StreamProgress) *day2 {
	d := &day2{t: t, fake: newFake(t), svc: &fakeService{}, run: mocks.NewWorkflowRun(t), reached: make(chan struct{}), beats: beats}
	if len(beats) == 0 {
		close(d.reached)
	}
	d.fake.On("DescribeTaskQueue", mock.Anything, "q", enums.TASK_QUEUE_TYPE_WORKFLOW).Return(pollers(true), nil)
	d.fake.On("WorkflowService").Return(d.svc).Maybe()
	d.run.On("GetID").Return("the-run-id").Maybe()
	d.run.On("GetRunID").Return("run-1").Maybe()
	d.fake.On("ExecuteWorkflow", mock.Anything, mock.Anything, workflow, mock.Anything).Run(func(args mock.Arguments) {
		d.mu.Lock()
		d.opts, d.input = args.Get(1).(client.StartWorkflowOptions), args.Get(3)
		d.mu.Unlock()
	}).Return(d.run, nil).Once()
	d.fake.On("DescribeWorkflowExecution", mock.Anything, "the-run-id", "run-1").Return(
		func(context.Context, string, string) (*workflowservice.DescribeWorkflowExecutionResponse, error) {
			d.mu.Lock()
			defer d.mu.Unlock()
			if len(d.beats) == 0 {
				return &workflowservice.DescribeWorkflowExecutionResponse{}, nil
			}
			i := min(d.describe, len(d.beats)-1)
			d.describe++
			if d.describe == len(d.beats) {
				close(d.reached)
			}
			resp := &workflowservice.DescribeWorkflowExecutionResponse{}
			for _, p := range d.beats[i] {
				details, err := converter.GetDefaultDataConverter().ToPayloads(p)
				if err != nil {
					d.t.Error(err)
				}
				resp.PendingActivities = append(resp.PendingActivities, &workflowpb.PendingActivityInfo{HeartbeatDetails: details})
			}
			return resp, nil
		}).Maybe()
	return d
}

// ends makes the run end with res (or err) once every beat was seen.
func (d *day2) ends(res workflows.Day2Result, err error) {
	d.run.On("Get", mock.Anything, mock.Anything).Run(func(args mock.Arguments) {
		<-d.reached
		*args.Get(1).(*workflows.Day2Result) = res
	}).Return(err).Once()
}

func lines(from int, texts ...string) []activities.Line {
	out := make([]activities.Line, len(texts))
	for i, s := range texts {
		out[i] = activities.Line{Seq: from + i, Text: s}
		if strings.HasPrefix(s, "E:") {
			out[i].Stderr, out[i].Text = true, strings.TrimPrefix(s, "E:")
		}
	}
	return out
}

const twoHosts = "  - {address: 10.77.0.11, name: h1}\n  - {address: 10.77.0.12, name: web-2}\n"

// Each host's lines are printed once, in order, prefixed with the host,
// as the heartbeats bring them and then from the result; the run is
// started on its own ID with who started it, and deleted once printed.
func TestLogsPrefixesEveryHostOnce(t *testing.T) {
	cfg := planConfig(t, twoHosts, "")
	d := newDay2(t, workflows.LogsWorkflowName,
		[]activities.StreamProgress{{Index: 0, Host: "h1", Release: "v2", Lines: lines(0, "web-1  | a", "E:web-1  | b")}},
		[]activities.StreamProgress{{Index: 0, Host: "h1", Lines: lines(1, "E:web-1  | b", "web-1  | c")}, {Index: 1, Host: "web-2", Lines: lines(0, "web-1  | x")}},
	)
	d.ends(workflows.Day2Result{Hosts: []workflows.Day2Host{
		{StreamResult: activities.StreamResult{Index: 0, Host: "h1", Release: "v2", Total: 4, Lines: lines(0, "web-1  | a", "E:web-1  | b", "web-1  | c", "web-1  | d")}},
		{StreamResult: activities.StreamResult{Index: 1, Host: "web-2", Release: "v2", Total: 2, Lines: lines(0, "web-1  | x", "web-1  | y")}},
	}}, nil)
	code, out, errOut := runWith(t, d.fake, "logs", "-c", cfg, "--tail", "7", "web")
	if code != ExitOK || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	want := "h1    | web-1  | a\nh1    | web-1  | b\nh1    | web-1  | c\nweb-2 | web-1  | x\nh1    | web-1  | d\nweb-2 | web-1  | y\n"
	if out != want {
		t.Fatalf("stdout:\n%s\nwant:\n%s", out, want)
	}
	in := d.input.(workflows.LogsInput)
	if !strings.HasPrefix(d.opts.ID, "hoist-logs/web/staging/") || d.opts.WorkflowExecutionTimeout == 0 || d.opts.Memo[workflows.MemoBy] == "" ||
		in.Tail != 7 || strings.Join(in.Services, ",") != "web" || in.Follow || len(in.Spec.Hosts) != 2 {
		t.Errorf("started %+v with %+v", d.opts, in)
	}
	if strings.Join(d.svc.deleted, " ") != "default/the-run-id/run-1" {
		t.Errorf("deleted %v, want the run", d.svc.deleted)
	}
}

// Lines never seen are counted, not silently skipped; a host that could
// not be read fails the command (3) by name, the others still print.
func TestLogsSaysWhatItMissed(t *testing.T) {
	cfg := planConfig(t, twoHosts, "")
	d := newDay2(t, workflows.LogsWorkflowName)
	d.svc.deleteErr = errors.New("permission denied")
	d.ends(workflows.Day2Result{Hosts: []workflows.Day2Host{
		{StreamResult: activities.StreamResult{Index: 0, Host: "h1", Release: "v2", Total: 9, Lines: lines(5, "five", "six", "seven", "eight")}},
		{StreamResult: activities.StreamResult{Index: 1, Host: "web-2"}, Error: "host web-2, step inspect: connection refused"},
	}}, nil)
	code, out, errOut := runWith(t, d.fake, "logs", "-c", cfg)
	if code != ExitUnsafe {
		t.Fatalf("exit %d, want %d; stderr %q", code, ExitUnsafe, errOut)
	}
	if out != "h1    | five\nh1    | six\nh1    | seven\nh1    | eight\n" {
		t.Fatalf("stdout %q", out)
	}
	wantContains(t, errOut, "hoist: h1: 5 line(s) not shown: more output than hoist keeps",
		"hoist: host web-2, step inspect: connection refused\n",
		"could not delete the logs run the-run-id (run run-1)", "until the namespace's retention: permission denied")
}

// Ctrl-C during --follow asks the workflow to stop (its activities end
// docker compose logs on the hosts), waits for it, and exits 130.
func TestLogsFollowInterrupted(t *testing.T) {
	cfg := planConfig(t, twoHosts, "")
	d := newDay2(t, workflows.LogsWorkflowName,
		[]activities.StreamProgress{{Index: 1, Host: "web-2", Lines: lines(0, "hello")}})
	cancelled := make(chan struct{})
	d.fake.On("CancelWorkflow", mock.Anything, "the-run-id", "run-1").Run(func(mock.Arguments) { close(cancelled) }).Return(nil).Once()
	d.run.On("Get", mock.Anything, mock.Anything).Run(func(mock.Arguments) { <-cancelled }).Return(temporal.NewCanceledError()).Once()
	ctx, interrupt := context.WithCancel(context.Background())
	go func() {
		<-d.reached
		interrupt()
	}()
	var out, errb bytes.Buffer
	s := Streams{In: strings.NewReader(""), Out: &out, Err: &errb, Dial: func(client.Options) (client.Client, error) { return d.fake, nil }}
	code := Run(ctx, []string{"hoist", "--task-queue", "q", "logs", "-c", cfg, "--follow"}, s)
	d.fake.AssertExpectations(t)
	if code != ExitInterrupted || out.String() != "web-2 | hello\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out.String(), errb.String())
	}
	wantContains(t, errb.String(), "interrupted: logs stopped on every host")
	if in := d.input.(workflows.LogsInput); !in.Follow {
		t.Errorf("input %+v: not a follow", in)
	}
	if len(d.svc.deleted) != 1 {
		t.Errorf("deleted %v: the stopped run should go too", d.svc.deleted)
	}
}

// A Ctrl-C whose cancel request fails says so, and leaves the run
// alone: deleting it would terminate it.
func TestLogsFollowCancelFails(t *testing.T) {
	cfg := planConfig(t, twoHosts, "")
	d := newDay2(t, workflows.LogsWorkflowName,
		[]activities.StreamProgress{{Index: 0, Host: "h1", Lines: lines(0, "hello")}})
	d.fake.On("CancelWorkflow", mock.Anything, "the-run-id", "run-1").Return(errors.New("connection refused")).Once()
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	d.run.On("Get", mock.Anything, mock.Anything).Run(func(mock.Arguments) { <-release }).Return(nil).Maybe()
	ctx, interrupt := context.WithCancel(context.Background())
	go func() {
		<-d.reached
		interrupt()
	}()
	var out, errb bytes.Buffer
	s := Streams{In: strings.NewReader(""), Out: &out, Err: &errb, Dial: func(client.Options) (client.Client, error) { return d.fake, nil }}
	code := Run(ctx, []string{"hoist", "--task-queue", "q", "logs", "-c", cfg, "--follow"}, s)
	if code != ExitInterrupted {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
	wantContains(t, errb.String(), "asking workflow the-run-id (run run-1) to stop logs failed (connection refused): it goes on until it ends by itself")
	if len(d.svc.deleted) != 0 {
		t.Errorf("deleted %v: a run not known to have ended", d.svc.deleted)
	}
}

// What the workflow and activities would refuse is refused before
// anything is dialled.
func TestLogsUsageErrors(t *testing.T) {
	cfg := planConfig(t, twoHosts, "")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"logs", "-c", cfg, "--tail", "0"}, "--tail: want 1 to 10000 lines, got 0"},
		{[]string{"logs", "-c", cfg, "--tail", "10001"}, "--tail: want 1 to 10000"},
		{[]string{"logs", "-c", cfg, "web", "-x"}, `compose service "-x" is not a service name`},
		{[]string{"logs", "-c", cfg, "--hosts", "nope"}, `--hosts "nope" matches none`},
	} {
		code, out, errOut := runOffline(t, c.args...)
		if code != ExitUsage || out != "" || !strings.Contains(errOut, c.want) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want %q", c.args, code, out, errOut, c.want)
		}
	}
}
