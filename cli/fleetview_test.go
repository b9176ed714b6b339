package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/workflows"
)

// sampleFleet is a 3-host rollout in batch 2: h1 done, h2 deploying, h3
// failed and put back.
func sampleFleet() *workflows.Fleet {
	return &workflows.Fleet{Batches: 2, Batch: 2, OnFailure: "halt", MaxFailed: 1, Failed: 1, Hosts: []workflows.FleetHost{
		{Host: "h1", Batch: 1, State: workflows.StateDeployed, Previous: "v1", Runs: "v2"},
		{Host: "h2", Batch: 2, State: workflows.StateDeploying, Previous: "v1", Runs: "v1", Child: "deploy/web/h2/start"},
		{Host: "h3", Batch: 2, State: workflows.StateFailed, Previous: "v1", Runs: "v1", Detail: "wait running: crashed: web exited 1\nweb-1 | Error: boom"},
	}}
}

func TestFleetRows(t *testing.T) {
	got := strings.Join(fleetRows(sampleFleet(), map[string]string{"h2": "up", "h1": "stale"}), "\n")
	want := "" +
		"  h1   batch 1  deployed   v1 → v2\n" +
		"  h2   batch 2  deploying  up\n" +
		"  h3   batch 2  failed     back on v1: wait running: crashed: web exited 1 …"
	if got != want {
		t.Fatalf("rows:\n%s\nwant:\n%s", got, want)
	}
}

// Every state says what the host runs, in a fixed form.
func TestHostText(t *testing.T) {
	for _, c := range []struct {
		h    workflows.FleetHost
		step string
		want string
	}{
		{workflows.FleetHost{State: workflows.StatePending}, "", ""},
		{workflows.FleetHost{State: workflows.StatePreparing, Runs: "v1"}, "pull", "pull"},
		{workflows.FleetHost{State: workflows.StatePrepared, Runs: "v1"}, "", "on v1"},
		{workflows.FleetHost{State: workflows.StateDeployed, Runs: "v2"}, "", "(none) → v2"},
		{workflows.FleetHost{State: workflows.StateWarning, Previous: "v1", Runs: "v2", Detail: "host h1: web is running but unhealthy"}, "", "v1 → v2: host h1: web is running but unhealthy"},
		{workflows.FleetHost{State: workflows.StateSkipped, Previous: "v2", Runs: "v2"}, "", "already on v2"},
		{workflows.FleetHost{State: workflows.StateFailed, Detail: "up: exit status 1"}, "", "up: exit status 1"},
		{workflows.FleetHost{State: workflows.StateReverting, Runs: "v2"}, "rollback: up v1", "rollback: up v1"},
		{workflows.FleetHost{State: workflows.StateReverted, Previous: "v1", Runs: "v1"}, "", "back on v1"},
		{workflows.FleetHost{State: workflows.StateUnsafe, Detail: "host h2: up of v1 failed"}, "", "NOT back on its previous release: host h2: up of v1 failed"},
		{workflows.FleetHost{State: workflows.StateNotRun, Previous: "v1", Runs: "v1"}, "", "on v1"},
	} {
		if got := hostText(c.h, c.step); got != c.want {
			t.Errorf("%s: %q, want %q", c.h.State, got, c.want)
		}
	}
}

// Not a terminal: a line per change of a host's state or step, pending
// hosts not at all; a wait is announced once, each decision once.
func TestFleetViewPlain(t *testing.T) {
	var out bytes.Buffer
	v := newFleetView(&out, false, 0, "-c 'my dir/hoist.yml'", time.UTC)
	fl := &workflows.Fleet{Batches: 2, Batch: 1, Hosts: []workflows.FleetHost{
		{Host: "h1", Batch: 1, State: workflows.StateDeploying, Previous: "v1", Runs: "v1", Child: "c1"},
		{Host: "h2", Batch: 2, State: workflows.StatePending},
	}}
	v.update(fl, map[string]string{"h1": "switch"})
	v.update(fl, map[string]string{"h1": "switch"}) // nothing changed
	v.update(fl, map[string]string{"h1": "up"})
	fl.Hosts[0] = workflows.FleetHost{Host: "h1", Batch: 1, State: workflows.StateDeployed, Previous: "v1", Runs: "v2"}
	since := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	fl.Waiting = &workflows.ApprovalWait{AfterBatch: 1, Reason: "approve_after: [1]", Since: since, Deadline: since.Add(4 * time.Hour)}
	v.update(fl, nil)
	v.update(fl, nil)
	fl.Waiting = nil
	fl.Approvals = []workflows.Approval{{Approve: true, By: "alice@laptop", Note: "canary looks fine", Batch: 1}}
	fl.Batch = 2
	fl.Hosts[1].State, fl.Hosts[1].Child = workflows.StateDeploying, "c2"
	v.update(fl, nil)
	v.update(fl, nil)
	want := "" +
		"h1 batch 1: deploying (switch)\n" +
		"h1 batch 1: deploying (up)\n" +
		"⏸ Waiting for approval after batch 1 of 2 (approve_after: [1]) until 2026-12-01 14:00:00 UTC: hoist approve -c 'my dir/hoist.yml' [--note TEXT]  |  hoist reject -c 'my dir/hoist.yml'\n" +
		"h1 batch 1: deployed (v1 → v2)\n" +
		"✔ approved by alice@laptop after batch 1: canary looks fine\n" +
		"h2 batch 2: deploying\n"
	if out.String() != want {
		t.Fatalf("printed:\n%s\nwant:\n%s", out.String(), want)
	}
}

// On a terminal the table is redrawn in place: cursor up over it, clear,
// notices above it, the table again; nothing when nothing changed.
func TestFleetViewTerminal(t *testing.T) {
	var out bytes.Buffer
	v := newFleetView(&out, true, 40, "-c hoist.yml", time.UTC)
	fl := &workflows.Fleet{Batches: 1, Batch: 1, Hosts: []workflows.FleetHost{
		{Host: "h1", Batch: 1, State: workflows.StateDeploying, Child: "c1"},
		{Host: "h2", Batch: 1, State: workflows.StatePending},
	}}
	v.update(fl, map[string]string{"h1": "up"})
	v.update(fl, map[string]string{"h1": "up"})
	fl.Approvals = []workflows.Approval{{Approve: false, By: "bob@ci", Batch: 1}}
	fl.Hosts[0].State, fl.Hosts[0].Detail, fl.Hosts[0].Runs = workflows.StateFailed, "wait running: crashed: the service web exited with code 1 after 2s", "v1"
	v.update(fl, nil)
	v.finish(fl, 0)
	want := "" +
		"  h1   batch 1  deploying  up\n" +
		"  h2   batch 1  pending\n" +
		"\x1b[2A\x1b[J" +
		"✘ rejected by bob@ci after batch 1\n" +
		"  h1   batch 1  failed     back on v1:…\n" + // cut to 39 of the 40 columns: no line wraps
		"  h2   batch 1  pending\n" +
		"\x1b[2A\x1b[J" +
		"Fleet: 2 hosts in 1 batch: 1 failed, 1 pending\n" +
		"  h1   batch 1  failed     back on v1: wait running: crashed: the service web exited with code 1 after 2s\n" +
		"  h2   batch 1  pending\n" +
		"  batch 1: 1 failed, 1 pending\n"
	if out.String() != want {
		t.Fatalf("printed:\n%q\nwant:\n%q", out.String(), want)
	}
}

func TestFleetSummary(t *testing.T) {
	fl := sampleFleet()
	fl.Hosts[1].State, fl.Hosts[1].Runs, fl.Hosts[1].Child = workflows.StateDeployed, "v2", ""
	fl.Limited = "h*"
	got := strings.Join(fleetSummary(fl, 12), "\n")
	want := "" +
		"Fleet: 3 hosts in 2 batches: 2 deployed, 1 failed\n" +
		"  h1   batch 1  deployed   v1 → v2\n" +
		"  h2   batch 2  deployed   v1 → v2\n" +
		"  h3   batch 2  failed     back on v1: wait running: crashed: web exited 1 …\n" +
		"  batch 1: 1 deployed\n" +
		"  batch 2: 1 deployed, 1 failed\n" +
		"⚠ Limited by --hosts 'h*' to 3 of 12 hosts: the other 9 were not touched"
	if got != want {
		t.Fatalf("summary:\n%s\nwant:\n%s", got, want)
	}
	if got := limitedSummary("h1,h2", 2, 0); got != "⚠ Limited by --hosts 'h1,h2' to 2 hosts" {
		t.Errorf("total unknown: %q", got)
	}
}

// Batch numbers line up past 9 batches.
func TestFleetRowsManyBatches(t *testing.T) {
	fl := &workflows.Fleet{Batches: 12, Hosts: []workflows.FleetHost{
		{Host: "web-1", Batch: 1, State: workflows.StatePending},
		{Host: "w2", Batch: 12, State: workflows.StateNotRun, Runs: "v1"},
	}}
	got := strings.Join(fleetRows(fl, nil), "\n")
	want := "  web-1   batch 1   pending\n  w2      batch 12  not run    on v1"
	if got != want {
		t.Fatalf("rows:\n%q\nwant:\n%q", got, want)
	}
}

// The children asked per tick are bounded and take turns; a host that
// left the changing states, or moved to another child, loses its step.
func TestStepReaderDue(t *testing.T) {
	fl := &workflows.Fleet{}
	for i := 0; i < 5; i++ {
		fl.Hosts = append(fl.Hosts, workflows.FleetHost{Host: string(rune('a' + i)), State: workflows.StateDeploying, Child: "c"})
	}
	fl.Hosts = append(fl.Hosts, workflows.FleetHost{Host: "done", State: workflows.StateDeployed, Child: "c"},
		workflows.FleetHost{Host: "nochild", State: workflows.StateDeploying})
	r := newStepReader()
	names := func(hs []workflows.FleetHost) string {
		var s []string
		for _, h := range hs {
			s = append(s, h.Host)
		}
		return strings.Join(s, "")
	}
	for _, want := range []string{"abc", "dea", "bcd"} {
		if got := names(r.due(fl, 3)); got != want {
			t.Fatalf("due: %q, want %q", got, want)
		}
	}
	if got := names(r.due(fl, 50)); got != "abcde" {
		t.Fatalf("all due: %q", got)
	}
	r.steps["a"] = childStep{child: "c", step: "up"}
	r.steps["b"] = childStep{child: "old", step: "pull"}
	r.steps["done"] = childStep{child: "c", step: "wait running"}
	r.forget(fl)
	if got := r.current(); len(got) != 1 || got["a"] != "up" {
		t.Fatalf("steps kept: %v", got)
	}
}

func TestFit(t *testing.T) {
	for _, c := range []struct {
		line  string
		width int
		want  string
	}{
		{"abc", 0, "abc"},
		{"abc", 4, "abc"},
		{"abcd", 4, "ab…"},
		{"→→→→→", 5, "→→→…"},
	} {
		if got := fit(c.line, c.width); got != c.want {
			t.Errorf("fit(%q, %d) = %q, want %q", c.line, c.width, got, c.want)
		}
	}
}

// A host's last change before the rollout ends is printed as a plain
// line too, not only in the summary (seen: h2's "failed" missing when it
// failed in the same tick the deploy ended).
func TestFleetViewPlainFinishPrintsLastChanges(t *testing.T) {
	var out bytes.Buffer
	v := newFleetView(&out, false, 0, "-c hoist.yml", time.UTC)
	fl := &workflows.Fleet{Batches: 1, Batch: 1, Hosts: []workflows.FleetHost{
		{Host: "h2", Batch: 1, State: workflows.StateDeploying, Previous: "v1", Runs: "v1", Child: "c2"},
	}}
	v.update(fl, map[string]string{"h2": "wait running"})
	fl.Hosts[0] = workflows.FleetHost{Host: "h2", Batch: 1, State: workflows.StateFailed, Previous: "v1", Runs: "v1", Detail: "wait running: crashed"}
	v.finish(fl, 1)
	if !strings.Contains(out.String(), "h2 batch 1: failed (back on v1: wait running: crashed)\nFleet:") {
		t.Fatalf("printed:\n%s", out.String())
	}
}

// A host whose new release failed puts itself back inside its child: its
// line says reverting, not deploying (seen: "deploying (rollback: up v4)").
func TestHostRevertingItselfSaysReverting(t *testing.T) {
	h := workflows.FleetHost{Host: "h2", Batch: 2, State: workflows.StateDeploying, Previous: "v1", Runs: "v1", Child: "c"}
	if got, want := plainHostLine(h, "rollback: up v1"), "h2 batch 2: reverting (rollback: up v1)"; got != want {
		t.Errorf("plain: %q, want %q", got, want)
	}
	rows := fleetRows(&workflows.Fleet{Batches: 2, Hosts: []workflows.FleetHost{h}}, map[string]string{"h2": "rollback: up v1"})
	if want := "  h2   batch 2  reverting  rollback: up v1"; rows[0] != want {
		t.Errorf("row: %q, want %q", rows[0], want)
	}
}
