package workflows_test

import (
	"os"
	"path/filepath"
	"testing"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/workflow"

	sdkworker "go.temporal.io/sdk/worker"

	"github.com/hoist-dev/hoist/worker"
)

// TestReplayRecordedHistories replays histories recorded from real runs
// against the test bed (scripts/record-histories.sh) through today's
// workflow code. A change that would break a deploy in flight — a step
// added, removed or reordered without workflow.GetVersion — fails here.
func TestReplayRecordedHistories(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	// NAME: recorded before the hardening change (issue 8); hardened-NAME:
	// hardened, before pre-flight (issue 9); preflight-NAME: today's host by
	// host; fleet-NAME: today's rollouts. Each
	// replays the flow deploys in flight across an upgrade ran.
	want := []string{"deploy-success", "deploy-warning", "deploy-rollback", "deploy-first-failure", "deploy-two-hosts-rollback", "deploy-cancelled", "status",
		"hardened-deploy-success", "hardened-deploy-warning", "hardened-deploy-rollback", "hardened-deploy-first-failure",
		"hardened-deploy-two-hosts-rollback", "hardened-deploy-cancelled", "hardened-status",
		"hardened-deploy-pull-failed", "hardened-deploy-up-failed", "hardened-rollback-manual",
		"preflight-deploy-success", "preflight-deploy-warning", "preflight-deploy-rollback", "preflight-deploy-first-failure",
		"preflight-deploy-two-hosts-rollback", "preflight-deploy-cancelled", "preflight-status",
		"preflight-deploy-pull-failed", "preflight-deploy-up-failed", "preflight-rollback-manual", "preflight-deploy-preflight-failed",
		// fleet-NAME: rollouts (issue 9), the parents and DeployHost children.
		"fleet-deploy-approved", "fleet-deploy-rejected", "fleet-deploy-timeout", "fleet-deploy-crash-rollback", "fleet-deploy-crash-halt",
		"fleet-deploy-budget", "fleet-deploy-preflight-failed", "fleet-deploy-cancelled",
		"fleet-host-prepare", "fleet-host-start", "fleet-host-start-failed", "fleet-host-revert",
		// around-NAME: --at, windows, notifications, hooks (issue 10).
		"around-deploy-at", "around-deploy-at-cancelled", "around-deploy-window-wait", "around-deploy-window-refused",
		"around-deploy-window-override", "around-deploy-notify-rolled-back", "around-deploy-notify-unconfirmed",
		"around-deploy-hooks-failed", "around-host-hooks-failed",
		// zd-NAME: strategy zero-downtime and the health gate (issue 11).
		"zd-deploy-success", "zd-deploy-never-healthy", "zd-deploy-crash-after-switch", "zd-deploy-worker-killed",
		"zd-rollback-manual", "zd-host-start", "zd-host-revert"}
	have := map[string]bool{}
	for _, f := range files {
		have[filepath.Base(f[:len(f)-len(".json")])] = true
	}
	for _, w := range want {
		if !have[w] {
			t.Errorf("testdata/%s.json is missing: record it with scripts/record-histories.sh", w)
		}
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			r := sdkworker.NewWorkflowReplayer()
			worker.RegisterWorkflows(r)
			// A rollout's children's IDs derive from the parent's: replay
			// under the workflow ID the history was recorded with, not the
			// replayer's stand-in.
			file, err := os.Open(f)
			if err != nil {
				t.Fatal(err)
			}
			defer file.Close()
			hist, err := client.HistoryFromJSON(file, client.HistoryJSONOptions{})
			if err != nil {
				t.Fatal(err)
			}
			exec := workflow.Execution{ID: "replay", RunID: "replay"}
			if a := hist.GetEvents()[0].GetWorkflowExecutionStartedEventAttributes(); a.GetWorkflowId() != "" {
				exec = workflow.Execution{ID: a.GetWorkflowId(), RunID: a.GetOriginalExecutionRunId()}
			}
			if err := r.ReplayWorkflowHistoryWithOptions(nil, hist, sdkworker.ReplayWorkflowHistoryOptions{OriginalExecution: exec}); err != nil {
				t.Fatalf("replaying %s: %v", f, err)
			}
		})
	}
}
