package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/mocks"
	"go.temporal.io/sdk/temporal"

	"github.com/hoist-dev/hoist/activities"
	cmds "github.com/hoist-dev/hoist/commands"
	"github.com/hoist-dev/hoist/workflows"
)

// readmeJSON is the n-th (from 0) jsonc example under README's
// ### Rollouts, its comments removed, decoded; and its text. The
// examples are, in order: hoist plan, deploy (and rollback, watch),
// status, each with --output json.
func readmeJSON(t *testing.T, n int) (map[string]any, string) {
	t.Helper()
	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(readme), "### Rollouts")
	if !ok {
		t.Fatal("README has no ### Rollouts")
	}
	after, _, _ = strings.Cut(after, "\n### ") // the section only
	var example string
	for i := 0; i <= n; i++ {
		if _, after, ok = strings.Cut(after, "```jsonc\n"); !ok {
			t.Fatalf("README's Rollouts has no jsonc example %d", n)
		}
		example, after, ok = strings.Cut(after, "```")
		if !ok {
			t.Fatalf("README's jsonc example %d is not closed", n)
		}
	}
	var lines []string
	for _, l := range strings.Split(example, "\n") {
		if i := strings.Index(l, "//"); i >= 0 {
			l = l[:i]
		}
		lines = append(lines, l)
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(strings.Join(lines, "\n")), &v); err != nil {
		t.Fatalf("README's jsonc example %d is not JSON once its comments are gone: %v", n, err)
	}
	return v, example
}

func threeHostsProduction(t *testing.T, more string) string {
	cfg := planConfig(t, "  - {address: 10.77.0.11, user: deploy, name: h1}\n  - {address: 10.77.0.12, user: deploy, name: h2}\n  - {address: 10.77.0.13, user: deploy, name: h3}\n", more)
	if err := os.WriteFile(cfg, []byte(strings.Replace(mustRead(t, cfg), "environment: staging\n", "", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// README's example of deploy --output json is what hoist prints for a
// rollout halted by a failure in batch 2.
func TestDeployJSONIsREADMEs(t *testing.T) {
	want, example := readmeJSON(t, 1)
	cfg := threeHostsProduction(t, "rollout: {batches: [1, '100%'], max_parallel: 1, approve_after: [1], on_failure: halt}\n")
	detail := "wait running: crashed: web exited with code 1"
	fl := &workflows.Fleet{Batches: 2, Batch: 2, OnFailure: "halt", MaxFailed: 0, Failed: 1,
		Stopped:   "1 host(s) failed, more than max_failed (0)",
		Approvals: []workflows.Approval{{Approve: true, By: "alice@laptop", Note: "canary looks fine", Batch: 1, At: time.Date(2026, 12, 1, 10, 3, 0, 0, time.UTC)}},
		Hosts: []workflows.FleetHost{
			{Host: "h1", Batch: 1, State: workflows.StateDeployed, Previous: "v1", Runs: "v2"},
			{Host: "h2", Batch: 2, State: workflows.StateFailed, Previous: "v1", Runs: "v1", Detail: detail},
			{Host: "h3", Batch: 2, State: workflows.StateNotRun, Previous: "v1", Runs: "v1"},
		}}
	msg := "❌ Deployment of version v2 did not reach every host: 1 host(s) failed, more than max_failed (0); first: host h2, step wait running: crashed: web exited with code 1. Fleet: 1 deployed, 1 failed, 1 not run"
	fail := temporal.NewNonRetryableApplicationError(msg, workflows.FailureType, nil,
		workflows.FailureDetails{Version: "v2", Kind: workflows.KindDeploy, Mixed: true, RolledBackTo: "v1", Fleet: fl})

	fake := newFake(t)
	fake.On("DescribeTaskQueue", mock.Anything, "q", enums.TASK_QUEUE_TYPE_WORKFLOW).Return(pollers(true), nil)
	holdsBundle(t, fake)
	run := mocks.NewWorkflowRun(t)
	run.On("GetID").Return("deploy/web").Maybe()
	run.On("GetRunID").Return("0b6f0b8e-2c5f-4a53-9d0e-6f1d3c8f2a10").Maybe()
	run.On("Get", mock.Anything, mock.Anything).Return(fail).Once()
	fake.On("ExecuteWorkflow", mock.Anything, mock.Anything, workflows.DeployWorkflowName, mock.Anything).Return(run, nil).Once()
	code, out, _ := runWith(t, fake, "deploy", "-c", cfg, "--version", "v2", "--output", "json")
	var got map[string]any
	if err := json.Unmarshal([]byte(out), &got); code != ExitMixed || err != nil {
		t.Fatalf("exit %d, %v\n%s", code, err, out)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("hoist prints\n%s\nREADME shows\n%s", out, example)
	}
}

// README's example of status --output json is what hoist prints for the
// same hosts.
func TestStatusJSONIsREADMEs(t *testing.T) {
	want, example := readmeJSON(t, 2)
	cfg := threeHostsProduction(t, "")
	h1 := hostOn("deploy@10.77.0.11", "h1", "v2")
	h1.State.Releases = []cmds.Release{{Version: "v2", Good: true}, {Version: "v1", Good: true}}
	h1.Containers = []cmds.Container{{Name: "web-web-1", Service: "web", Status: "running", Health: "healthy"}}
	h2 := hostOn("deploy@10.77.0.12", "h2", "v2")
	h2.State.Releases[0].Good = true
	res := workflows.StatusResult{Hosts: []activities.HostStatus{h1, h2, hostOn("deploy@10.77.0.13", "h3", "")},
		Errors: []string{"host h3, step inspect: dial tcp 10.77.0.13:22: connect: connection refused"}}
	code, out, _ := runWith(t, statusFake(t, res), "status", "-c", cfg, "--output", "json")
	var got map[string]any
	if err := json.Unmarshal([]byte(out), &got); code != ExitUnsafe || err != nil {
		t.Fatalf("exit %d, %v\n%s", code, err, out)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("hoist prints\n%s\nREADME shows\n%s", out, example)
	}
}
