//go:build integration

package e2e

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
)

// portPlan is this file's published port.
const portPlan = 18260

// Issue 9, hoist plan: with v1 on the three hosts, a plan for v1 skips
// them all, a plan for v2 with batches [1, "100%"] and approve_after [1]
// is h1, the approval point, then h2 and h3; --output json says the same.
// Plans change nothing on any host. It reads h1..h3: it waits while h3's
// faults run.
func TestPlanRollout(t *testing.T) {
	t.Parallel()
	h3Faults.RLock()
	t.Cleanup(h3Faults.RUnlock)
	s := newService(t, "plan", portPlan, 1, 2, 3)
	s.mustDeploy("v1", image("v1"))
	s.wantState("v1", suite.env.Image("v1"), "v1")

	// No rollout block: today's order, one host per batch, and a host on
	// v1 is deployed again (up and check), not skipped.
	r := s.hoist("plan", "-c", s.hoistYML(), "--version", "v1")
	r.want(t, 0,
		fmt.Sprintf("Plan for %s (production environment), version v1: 3 hosts in 3 batches; hoist plan changes nothing", s.name),
		"batch 1 (1 host):", "batch 3 (1 host):",
		"  h3  redeploy: already on v1 (nothing switched; up and the running check run again)", "3 to redeploy")

	s.extra = "rollout:\n  batches: [1, \"100%\"]\n  approve_after: [1]\n"
	cfg := s.hoistYML()
	r = s.hoist("plan", "-c", cfg, "--version", "v1")
	r.want(t, 0, "  h1  skip: already on v1", "  h2  skip: already on v1", "  h3  skip: already on v1", "3 skipped")

	r = s.hoist("plan", "-c", cfg, "--version", "v2")
	plan := []string{
		fmt.Sprintf("Plan for %s (production environment), version v2: 3 hosts in 2 batches; hoist plan changes nothing", s.name),
		`rollout: batches [1, "100%"], max_parallel: batch size, preflight: yes (sync, registry login and pull on every host before any host switches), pause: 0s, max_failed: 0 hosts, on_failure: rollback`,
		"strategy: recreate (compose up -d replaces the containers: requests fail while they restart)",
		"batch 1 (1 host, 1 at a time):",
		"  h1  deploy (current v1)",
		"  then wait for approval; no answer within 4h: the rollout fails (on_failure: rollback)",
		"batch 2 (2 hosts, 2 at a time):",
		"  h2  deploy (current v1)",
		"  h3  deploy (current v1)",
		"3 to deploy",
	}
	r.want(t, 0)
	if got := outLines(r.stdout); !slices.Equal(got, plan) {
		t.Fatalf("plan for v2:\n%q\nwant\n%q", got, plan)
	}

	r = s.hoist("plan", "-c", cfg, "--version", "v2", "--output", "json")
	r.want(t, 0)
	var p struct {
		Service  string `json:"service"`
		Version  string `json:"version"`
		Rollout  bool   `json:"rollout"`
		Runnable bool   `json:"runnable"`
		Hosts    int    `json:"hosts"`
		Batches  []struct {
			Number        int  `json:"number"`
			Parallel      int  `json:"parallel"`
			ApprovalAfter bool `json:"approval_after"`
			Hosts         []struct {
				Name, Target, Current, Action string
			} `json:"hosts"`
		} `json:"batches"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &p); err != nil {
		t.Fatalf("--output json is not JSON: %v\n%s", err, r)
	}
	var got []string
	for _, b := range p.Batches {
		line := fmt.Sprintf("%d/%d/%v:", b.Number, b.Parallel, b.ApprovalAfter)
		for _, h := range b.Hosts {
			line += fmt.Sprintf(" %s@%s=%s(%s)", h.Name, h.Target, h.Action, h.Current)
		}
		got = append(got, line)
	}
	want := []string{
		fmt.Sprintf("1/1/true: h1@%s@%s=deploy(v1)", suite.env.User, suite.env.Host(1)),
		fmt.Sprintf("2/2/false: h2@%s@%s=deploy(v1) h3@%s@%s=deploy(v1)", suite.env.User, suite.env.Host(2), suite.env.User, suite.env.Host(3)),
	}
	if p.Service != s.name || p.Version != "v2" || !p.Rollout || !p.Runnable || p.Hosts != 3 || !slices.Equal(got, want) {
		t.Fatalf("JSON plan %+v\nbatches %q\nwant %q", p, got, want)
	}

	// hoist plan changed nothing anywhere.
	s.wantState("v1", suite.env.Image("v1"), "v1")
	s.wantServes("v1")
}
