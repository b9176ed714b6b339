package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	failurepb "go.temporal.io/api/failure/v1"
	taskqueuepb "go.temporal.io/api/taskqueue/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/hoist-dev/hoist/activities"
	"github.com/hoist-dev/hoist/config"
	"github.com/hoist-dev/hoist/workflows"
)

// The table is one: `hoist --help` prints it and README holds it row for
// row, so CI authors read the codes hoist returns.
func TestExitCodeTableInHelpAndReadme(t *testing.T) {
	code, out, _ := run(t, "--help")
	if code != ExitOK {
		t.Fatalf("--help: exit %d", code)
	}
	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, e := range exitCodes {
		seen[e.code] = true
		if !strings.Contains(out, fmt.Sprintf("%-4d %s", e.code, e.meaning)) {
			t.Errorf("--help lacks exit code %d (%s):\n%s", e.code, e.meaning, out)
		}
		if row := fmt.Sprintf("| %d | %s |", e.code, e.meaning); !bytes.Contains(readme, []byte(row)) {
			t.Errorf("README.md lacks the row %q", row)
		}
	}
	for _, c := range []int{ExitOK, ExitRolledBack, ExitUsage, ExitUnsafe, ExitBusy, ExitMixed, ExitInterrupted} {
		if !seen[c] {
			t.Errorf("exit code %d is not in the table", c)
		}
	}
	wantContains(t, out, "services:", "environment")
}

// CI must tell "rolled back, the previous release serves" from "a human
// is needed".
func TestFailureCode(t *testing.T) {
	for _, c := range []struct {
		d    workflows.FailureDetails
		want int
	}{
		{workflows.FailureDetails{RolledBackTo: "v1"}, ExitRolledBack},
		{workflows.FailureDetails{}, ExitRolledBack}, // no host had been changed
		{workflows.FailureDetails{RolledBackTo: "v1", RollbackFailed: true}, ExitUnsafe},
		{workflows.FailureDetails{NothingToRollBackTo: true}, ExitUnsafe},
		{workflows.FailureDetails{Cancelled: true, RolledBackTo: "v1"}, ExitRolledBack},
		{workflows.FailureDetails{Cancelled: true, RolledBackTo: "v1", RollbackFailed: true}, ExitUnsafe},
		// the worker holds no credential for the spec's registry: setup, nothing touched
		{workflows.FailureDetails{Setup: true}, ExitUsage},
		// a rollout that ended on both releases by design: failures within
		// max_failed, or on_failure: halt
		{workflows.FailureDetails{Mixed: true}, ExitMixed},
		{workflows.FailureDetails{Mixed: true, RolledBackTo: "v1"}, ExitMixed},
		{workflows.FailureDetails{Mixed: true, Cancelled: true}, ExitMixed},
		// a host that could not be put back needs a human, mixed or not
		{workflows.FailureDetails{Mixed: true, RollbackFailed: true, RolledBackTo: "v1"}, ExitUnsafe},
		{workflows.FailureDetails{Mixed: true, NothingToRollBackTo: true}, ExitUnsafe},
	} {
		if got := failureCode(c.d); got != c.want {
			t.Errorf("failureCode(%+v) = %d, want %d", c.d, got, c.want)
		}
	}
}

func testIn() workflows.DeployInput {
	return workflows.DeployInput{Spec: config.Spec{Service: "web", Environment: "staging"}, Version: "v2", Kind: workflows.KindDeploy}
}

// The outcome of a followed deploy decides the exit code; the failure's
// cause reaches the output once.
func TestOutcomeCodes(t *testing.T) {
	fail := func(d workflows.FailureDetails, msg string) error {
		return temporal.NewNonRetryableApplicationError(msg, workflows.FailureType, nil, d)
	}
	for _, c := range []struct {
		name string
		err  error
		want int
		line string
	}{
		{"deployed", nil, ExitOK, "✅ Successfully deployed web version v2 in staging"},
		{"rolled back", fail(workflows.FailureDetails{RolledBackTo: "v1"}, "❌ Deployment of version v2 failed! Rolled back to v1. Cause: x"), ExitRolledBack, "❌ Deployment of version v2 failed! Rolled back to v1. Cause: x"},
		{"rollback failed", fail(workflows.FailureDetails{RolledBackTo: "v1", RollbackFailed: true}, "❌ … FAILED too"), ExitUnsafe, "❌ … FAILED too"},
		{"first deploy", fail(workflows.FailureDetails{NothingToRollBackTo: true}, "❌ … Nothing to roll back to"), ExitUnsafe, "❌ … Nothing to roll back to"},
		{"cancelled, rollback failed", temporal.NewCanceledError(workflows.FailureDetails{Version: "v2", Cancelled: true, RolledBackTo: "v1", RollbackFailed: true, Recovery: []string{"host h1: up of v1 failed"}}),
			ExitUnsafe, "❌ Deployment of version v2 was cancelled. Rolling back to v1 FAILED: host h1: up of v1 failed"},
		{"cancelled, rolled back", temporal.NewCanceledError(workflows.FailureDetails{Version: "v2", Cancelled: true, RolledBackTo: "v1"}),
			ExitRolledBack, "❌ Deployment of version v2 was cancelled. Rolled back to v1."},
		{"terminated", errors.New("workflow terminated"), ExitUnsafe, ""},
	} {
		var out bytes.Buffer
		res := &workflows.DeployResult{}
		if c.err == nil {
			res = &workflows.DeployResult{Version: "v2", Kind: workflows.KindDeploy, Outcome: workflows.OutcomeDeployed}
		}
		err := outcome(Streams{Out: &out}, testIn(), res, c.err)
		if got := ExitCode(err); got != c.want {
			t.Errorf("%s: exit %d, want %d (%v)", c.name, got, c.want, err)
		}
		if c.line != "" && strings.TrimRight(out.String(), "\n") != c.line {
			t.Errorf("%s: printed %q, want %q", c.name, out.String(), c.line)
		}
		if strings.Contains(out.String(), "Rolled back") && strings.Contains(out.String(), "FAILED") {
			t.Errorf("%s: says both rolled back and FAILED: %q", c.name, out.String())
		}
	}
}

// A successful cancel exits 0; one whose rollback failed needs a human.
func TestCancelOutcome(t *testing.T) {
	var out bytes.Buffer
	err := cancelOutcome(Streams{Out: &out}, testIn(), &workflows.DeployResult{},
		temporal.NewCanceledError(workflows.FailureDetails{Version: "v2", Cancelled: true, RolledBackTo: "v1"}))
	if ExitCode(err) != ExitOK {
		t.Fatalf("cancel that rolled back: exit %d (%v)", ExitCode(err), err)
	}
	err = cancelOutcome(Streams{Out: &out}, testIn(), &workflows.DeployResult{},
		temporal.NewCanceledError(workflows.FailureDetails{Version: "v2", Cancelled: true, RolledBackTo: "v1", RollbackFailed: true}))
	if ExitCode(err) != ExitUnsafe {
		t.Fatalf("cancel whose rollback failed: exit %d", ExitCode(err))
	}
}

// The failing step's line and the closing message do not both carry the
// cause; a held cause the closing message lacks still shows.
func TestCausePrintedOnce(t *testing.T) {
	cause := "host h1, step up: exit status 1: port is already allocated"
	var out bytes.Buffer
	p := &stepPrinter{w: &out}
	p.print(workflows.Progress{Phase: "deploying", Events: []workflows.Event{
		{Host: "h1", Step: "sync", State: "ok"},
		{Host: "h1", Step: "up", State: "started"},
	}})
	p.print(workflows.Progress{Phase: "rolling back", Events: []workflows.Event{
		{Host: "h1", Step: "sync", State: "ok"},
		{Host: "h1", Step: "up", State: "failed", Detail: cause},
		{Host: "h1", Step: "mark v2 failed", State: "failed", Detail: "host h1: disk full"},
		{Host: "h1", Step: "rollback: up v1", State: "ok"},
	}})
	s := Streams{Out: &out}
	err := p.close(outcome(s, testIn(), &workflows.DeployResult{}, temporal.NewNonRetryableApplicationError(
		"❌ Deployment of version v2 failed! Rolled back to v1. Cause: "+cause, workflows.FailureType, nil, workflows.FailureDetails{RolledBackTo: "v1"})))
	if ExitCode(err) != ExitRolledBack {
		t.Fatalf("exit %d", ExitCode(err))
	}
	if n := strings.Count(out.String(), cause); n != 1 {
		t.Fatalf("the cause is printed %d times:\n%s", n, out.String())
	}
	if !strings.Contains(out.String(), "  ✗ h1 mark v2 failed: host h1: disk full\n") {
		t.Fatalf("a failure the closing message lacks is lost:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "  ✗ h1") {
		t.Fatalf("the failed step is not marked:\n%s", out.String())
	}
}

// --attach follows only the deploy that was asked for.
func TestSameDeploy(t *testing.T) {
	in := testIn()
	for _, c := range []struct {
		r    running
		want string // "" = follow it
	}{
		{running{kind: workflows.KindDeploy, version: "v2"}, ""},
		{running{version: "v2"}, ""},
		{running{kind: workflows.KindDeploy, version: "v3c"}, "not version v2"},
		{running{kind: workflows.KindRollback, version: "v2"}, "not a deploy"},
		{running{kind: workflows.KindDeploy}, "cannot tell which version"},
	} {
		err := sameDeploy(in, &c.r)
		if (err == nil) != (c.want == "") || (err != nil && !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%+v: %v, want %q", c.r, err, c.want)
		}
	}
	rb := workflows.DeployInput{Kind: workflows.KindRollback} // rollback without --to
	if err := sameDeploy(rb, &running{kind: workflows.KindRollback, version: "v1"}); err != nil {
		t.Errorf("rollback --attach without --to: %v", err)
	}
}

func TestLivePollers(t *testing.T) {
	now := time.Now()
	at := func(ago time.Duration) *taskqueuepb.PollerInfo {
		return &taskqueuepb.PollerInfo{LastAccessTime: timestamppb.New(now.Add(-ago))}
	}
	if n := livePollers(nil, now); n != 0 {
		t.Fatalf("no pollers: %d", n)
	}
	if n := livePollers([]*taskqueuepb.PollerInfo{at(5 * time.Minute), at(3 * time.Minute)}, now); n != 0 {
		t.Fatalf("workers gone for minutes count as live: %d", n)
	}
	if n := livePollers([]*taskqueuepb.PollerInfo{at(5 * time.Minute), at(30 * time.Second)}, now); n != 1 {
		t.Fatalf("one live worker: %d", n)
	}
	msg := noWorkerError("127.0.0.1:7233", "prod", "hoist-q").Error()
	wantContains(t, msg, "no worker polls task queue hoist-q in namespace prod", "--task-queue hoist-q worker", "--wait-for-worker")
}

// Ctrl-C: whatever error the interrupted command returns, the user reads
// that the deploy goes on, never "context canceled", and exit 130.
func TestInterruptedIsNotContextCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var errb bytes.Buffer
	code := report(ctx, &errb, fmt.Errorf("deploy of web: %w", context.Canceled))
	if code != ExitInterrupted || strings.Contains(errb.String(), "context canceled") || !strings.Contains(errb.String(), "goes on") {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
}

// urfave/cli reads backquoted text in a usage as the flag's placeholder:
// "--attach hoist watch" reads as a flag taking an argument.
func TestHelpTexts(t *testing.T) {
	_, out, _ := run(t, "deploy", "--help")
	if strings.Contains(out, "--attach hoist") || strings.Contains(out, "--attach value") {
		t.Errorf("deploy --help shows --attach with an argument:\n%s", out)
	}
	wantContains(t, out, "--attach ", "exits 4", "services:", "hoist codec-key")
	_, out, _ = run(t, "rollback", "--help")
	if strings.Contains(out, "start the deploy") {
		t.Errorf("rollback --help: --detach says it starts the deploy:\n%s", out)
	}
	wantContains(t, out, "start the rollback")
}

func wantContains(t *testing.T, s string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(s, p) {
			t.Errorf("%q lacks %q", s, p)
		}
	}
}

// The warning of a namespace without hoist's search attributes gives the
// command that registers them, in that namespace.
func TestRegisterAttributesHint(t *testing.T) {
	got := registerAttributesHint("temporal.example:7233", "prod")
	want := "temporal operator search-attribute create --address temporal.example:7233 --namespace prod --name HoistService --type Keyword && " +
		"temporal operator search-attribute create --address temporal.example:7233 --namespace prod --name HoistEnvironment --type Keyword && " +
		"temporal operator search-attribute create --address temporal.example:7233 --namespace prod --name HoistVersion --type Keyword"
	if got != want {
		t.Fatalf("hint:\n got %s\nwant %s", got, want)
	}
}

// Only a host that did not answer is announced while it is retried; a
// command's retried failure is the step's cause, said once at the end.
func TestRetryNotices(t *testing.T) {
	fc := temporal.GetDefaultFailureConverter()
	failure := func(msg, typ string) *failurepb.Failure {
		return fc.ErrorToFailure(temporal.NewApplicationError(msg, typ))
	}
	var out bytes.Buffer
	r := &retryNotices{w: &out, fc: fc, seen: map[string]bool{}}
	pending := []*workflowpb.PendingActivityInfo{
		{ActivityId: "5", Attempt: 2, LastFailure: failure("host ghost, step inspect: dial tcp 10.77.0.19:22: connect: no route to host", activities.ErrUnreachable)},
		{ActivityId: "7", Attempt: 2, LastFailure: failure("host h1, step pull: exit status 1: manifest unknown", activities.ErrCommand)},
	}
	r.check(pending)
	r.check(pending) // once per step
	want := "  ⟳ host ghost, step inspect: dial tcp 10.77.0.19:22: connect: no route to host (attempt 1 failed; retrying)\n"
	if out.String() != want {
		t.Fatalf("printed %q, want %q", out.String(), want)
	}
}

// A cancelled deploy with nothing to roll back to says why, in the
// workflow's words, and needs a human.
func TestCancelledWithNothingToRollBackTo(t *testing.T) {
	d := workflows.FailureDetails{Version: "v2", Cancelled: true, NothingToRollBackTo: true, NoGoodRelease: true}
	var out bytes.Buffer
	err := outcome(Streams{Out: &out}, testIn(), &workflows.DeployResult{}, temporal.NewCanceledError(d))
	want := "❌ Deployment of version v2 was cancelled. " + workflows.NothingToRollBackToText(d) + "\n"
	if ExitCode(err) != ExitUnsafe || out.String() != want {
		t.Fatalf("exit %d, printed %q; want %d and %q", ExitCode(err), out.String(), ExitUnsafe, want)
	}
}
