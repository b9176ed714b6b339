package cli

import (
	"encoding/json"
	"github.com/stretchr/testify/mock"
	"strings"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/activities"
	cmds "github.com/hoist-dev/hoist/commands"
	"github.com/hoist-dev/hoist/workflows"
)

func TestFleetReleases(t *testing.T) {
	for _, c := range []struct {
		hosts  []string // name=current ("" none)
		errors []string
		want   string
	}{
		{[]string{"h1=v2"}, nil, "1 host: 1 on v2"},
		{[]string{"h1=v1", "h2=v2", "h3=v2", "h4=v10", "h5=v10", "h6=v0"}, nil, "6 hosts: 2 on v10, 2 on v2, 1 on v0, 1 on v1"},
		{[]string{"h1=", "h2=v2", "h3="}, nil, "3 hosts: 1 on v2, 2 with no release"},
		{[]string{"h1=v2", "h2=", "h3=v2"}, []string{"host h2, step inspect: connection refused"}, "3 hosts: 2 on v2, 1 unknown"},
	} {
		st := &workflows.StatusResult{Errors: c.errors}
		for _, h := range c.hosts {
			name, current, _ := strings.Cut(h, "=")
			st.Hosts = append(st.Hosts, hostOn("10.0.0.1", name, current))
		}
		f := fleetReleases(st)
		if f.text() != c.want || f.Text != c.want {
			t.Errorf("%v: %q, want %q", c.hosts, f.Text, c.want)
		}
	}
}

// status prints the fleet line under the service's; --output json is
// the documented shape, exit 3 when a host could not be read.
func TestStatusFleetLineAndJSON(t *testing.T) {
	cfg := planConfig(t, "  - {address: 10.77.0.11, name: h1}\n  - {address: 10.77.0.12, name: h2}\n  - {address: 10.77.0.13, name: h3}\n", "")
	h1 := hostOn("10.77.0.11", "h1", "v2")
	h1.State.Releases = []cmds.Release{{Version: "v2", Good: true}, {Version: "v1", Good: true}}
	h1.Containers = []cmds.Container{{Name: "web-web-1", Service: "web", Status: "running", Health: "healthy", RestartCount: 1}}
	res := workflows.StatusResult{Hosts: []activities.HostStatus{h1, hostOn("10.77.0.12", "h2", "v1"), hostOn("10.77.0.13", "h3", "")},
		Errors: []string{"host h3, step inspect: ssh: connect to 10.77.0.13: connection refused"}}
	code, out, errOut := runWith(t, statusFake(t, res), "status", "-c", cfg)
	if code != ExitUnsafe || !strings.HasPrefix(out, "web (staging environment)\n3 hosts: 1 on v1, 1 on v2, 1 unknown\nh1  current: v2\n") {
		t.Fatalf("exit %d, stdout:\n%s", code, out)
	}
	wantContains(t, errOut, "hoist: host h3, step inspect")

	code, out, errOut = runWith(t, statusFake(t, res), "status", "-c", cfg, "--output", "json")
	var got map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil || code != ExitUnsafe {
		t.Fatalf("exit %d, %v\n%s", code, err, out)
	}
	wantContains(t, errOut, "hoist: host h3, step inspect")
	wantKeys(t, got, "service", "environment", "fleet", "hosts", "errors")
	fleet := got["fleet"].(map[string]any)
	wantKeys(t, fleet, "hosts", "releases", "text")
	if fleet["text"] != "3 hosts: 1 on v1, 1 on v2, 1 unknown" || fleet["hosts"] != 3.0 {
		t.Errorf("fleet %v", fleet)
	}
	groups := fleet["releases"].([]any)
	if len(groups) != 3 {
		t.Fatalf("releases %v", groups)
	}
	wantKeys(t, groups[0].(map[string]any), "release", "unknown", "count", "hosts")
	if g := groups[2].(map[string]any); g["unknown"] != true || g["release"] != "" || g["hosts"].([]any)[0] != "h3" {
		t.Errorf("unknown group %v", g)
	}
	host := got["hosts"].([]any)[0].(map[string]any)
	wantKeys(t, host, "name", "target", "read", "current", "releases", "containers")
	wantKeys(t, host["releases"].([]any)[0].(map[string]any), "version", "health", "current")
	wantKeys(t, host["containers"].([]any)[0].(map[string]any), "name", "service", "status", "health", "restart_count")
	if host["read"] != true || got["hosts"].([]any)[2].(map[string]any)["read"] != false {
		t.Errorf("read flags: %v", got["hosts"])
	}
}

// A deploy waiting for its --at time shows in status, with when it starts.
func TestStatusShowsScheduledDeploy(t *testing.T) {
	cfg := planConfig(t, "  - {address: 10.77.0.11, name: h1}\n", "")
	res := workflows.StatusResult{Hosts: []activities.HostStatus{hostOn("10.77.0.11", "h1", "v1")}}
	fake := newFake(t)
	fake.On("DescribeWorkflowExecution", mock.Anything, "deploy/web/staging", "").Return(runningDeployOf(t, "deploy/web/staging", "run-1", "v2"), nil).Once()
	at := time.Date(2026, 12, 24, 2, 0, 0, 0, time.UTC)
	fake.On("QueryWorkflow", mock.Anything, "deploy/web/staging", "run-1", workflows.ProgressQuery).
		Return(encoded(t, workflows.Progress{Kind: workflows.KindDeploy, Version: "v2", Phase: workflows.PhaseScheduled, Until: at}), nil)
	code, out, _ := runWith(t, statusFakeWith(t, res, fake), "status", "-c", cfg)
	if code != ExitOK || !strings.Contains(out, "\nIn progress: deploy of web (staging) version v2\n") ||
		!strings.Contains(out, "\n⏳ Scheduled: starts at 2026-12-24T02:00:00Z (hoist cancel removes it)\n") {
		t.Fatalf("exit %d, stdout:\n%s", code, out)
	}
}
