package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/mocks"

	"github.com/hoist-dev/hoist/activities"
	cmds "github.com/hoist-dev/hoist/commands"
	"github.com/hoist-dev/hoist/config"
	"github.com/hoist-dev/hoist/workflows"
)

// planConfig writes a service folder whose hoist.yml is head, hosts and
// more, and returns its path.
func planConfig(t *testing.T, hosts, more string) string {
	t.Helper()
	cfg := serviceDir(t, map[string]string{})
	yml := "service: web\nenvironment: staging\nremote_base: /srv/web\nfiles: files\nhosts:\n" + hosts + more
	if err := os.WriteFile(cfg, []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	return cfg
}

const fourHosts = "  - {address: 10.77.0.11, user: deploy, name: h1}\n  - deploy@10.77.0.12\n  - {address: 10.77.0.13, name: h3}\n  - {address: 10.77.0.14, name: h4}\n"

// runOffline runs the CLI with a Dial that fails the test: the command
// must not reach Temporal.
func runOffline(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	s := Streams{In: strings.NewReader(""), Out: &out, Err: &errb,
		Dial: func(client.Options) (client.Client, error) {
			t.Errorf("%v dialled Temporal", args)
			return nil, context.Canceled
		}}
	code = Run(context.Background(), append([]string{"hoist"}, args...), s)
	return code, out.String(), errb.String()
}

// Without --version, plan reads only hoist.yml: the canary on
// four hosts is [h1] [h2] [h3 h4], approval after batch 1.
func TestPlanOfRolloutBlock(t *testing.T) {
	cfg := planConfig(t, fourHosts, "rollout:\n  batches: [1, \"25%\", \"100%\"]\n  max_parallel: 10\n  approve_after: [1]\n  pause: 30s\n  max_failed: '50%'\n")
	code, out, errOut := runOffline(t, "plan", "-c", cfg)
	if code != ExitOK || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	want := `Plan for web (staging environment): 4 hosts in 3 batches; hoist plan changes nothing
rollout: batches [1, "25%", "100%"], max_parallel: 10, preflight: yes (sync, registry login and pull on every host before any host switches), pause: 30s, max_failed: 50% of 4 hosts = 2 hosts (rounded down), on_failure: rollback
strategy: recreate (compose up -d replaces the containers: requests fail while they restart)
batch 1 (1 host, 1 at a time):
  h1
  then wait for approval; no answer within 4h: the rollout fails (on_failure: rollback)
batch 2 (1 host, 1 at a time):
  deploy@10.77.0.12
batch 3 (2 hosts, 2 at a time):
  h3
  h4
`
	if out != want {
		t.Fatalf("plan:\n%s\nwant:\n%s", out, want)
	}
}

// Without a rollout block the plan is today's order, and says so; a host
// already on the version is redeployed, as hoist deploy does today.
func TestPlanWithoutRolloutBlock(t *testing.T) {
	cfg := planConfig(t, "  - {address: 10.77.0.11, name: h1}\n  - {address: 10.77.0.12, name: h2}\n", "")
	code, out, _ := runOffline(t, "plan", "-c", cfg)
	want := `Plan for web (staging environment): 2 hosts in 2 batches; hoist plan changes nothing
no rollout block: one host at a time in config order, as hoist deploy runs today; each host pulls before its own switch, and a failure rolls back every host the deploy changed
strategy: recreate (compose up -d replaces the containers: requests fail while they restart)
batch 1 (1 host):
  h1
batch 2 (1 host):
  h2
`
	if code != ExitOK || out != want {
		t.Fatalf("exit %d, plan:\n%s\nwant:\n%s", code, out, want)
	}
}

// The plan names the strategy, and for zero-downtime its proxy.
func TestPlanNamesTheStrategy(t *testing.T) {
	cfg := planConfig(t, "  - {address: 10.77.0.11, name: h1}\n",
		"strategy: zero-downtime\nproxy: {service: web, port: 8080, listen: '0.0.0.0:8081', drain: 2s}\n")
	code, out, _ := runOffline(t, "plan", "-c", cfg)
	if line := "strategy: zero-downtime (a proxy on 0.0.0.0:8081 in front of slots web-a and web-b, to web:8080; the old slot drains for 2s)\n"; code != ExitOK || !strings.Contains(out, line) {
		t.Fatalf("exit %d, plan:\n%s\nwant the line %q", code, out, line)
	}
	code, out, _ = runOffline(t, "plan", "-c", cfg, "--output", "json")
	var p struct{ Strategy string }
	if err := json.Unmarshal([]byte(out), &p); code != ExitOK || err != nil || p.Strategy != "zero-downtime" {
		t.Fatalf("exit %d, %v, json %s", code, err, out)
	}
}

// statusFake answers one status workflow with hosts, checking that the
// status read carries no rollout block.
func statusFake(t *testing.T, res workflows.StatusResult) *mocks.Client {
	return statusFakeWith(t, res, newFake(t))
}

// statusFakeWith adds the status workflow to fake, whose expectations
// set first (a running deploy) take precedence.
func statusFakeWith(t *testing.T, res workflows.StatusResult, fake *mocks.Client) *mocks.Client {
	fake.On("DescribeTaskQueue", mock.Anything, "q", enums.TASK_QUEUE_TYPE_WORKFLOW).Return(pollers(true), nil)
	run := mocks.NewWorkflowRun(t)
	run.On("Get", mock.Anything, mock.Anything).Run(func(args mock.Arguments) {
		*args.Get(1).(*workflows.StatusResult) = res
	}).Return(nil).Once()
	fake.On("ExecuteWorkflow", mock.Anything, mock.Anything, workflows.StatusWorkflowName, mock.MatchedBy(func(in workflows.StatusInput) bool {
		return in.Spec.Rollout == nil && len(in.Spec.Hosts) == len(res.Hosts)
	})).Return(run, nil).Once()
	// status asks whether a deploy runs; here none ever ran.
	fake.On("DescribeWorkflowExecution", mock.Anything, mock.Anything, "").Return(nil, serviceerror.NewNotFound("not found")).Maybe()
	return fake
}

func hostOn(target, name, current string) activities.HostStatus {
	hs := activities.HostStatus{Target: activities.Target{Host: target, Name: name, Base: "/srv/web", Service: "web"}}
	if current != "" {
		hs.State = cmds.State{Current: current, Releases: []cmds.Release{{Version: current}}}
	}
	return hs
}

// With --version the hosts are read through the status workflow: those
// already on the version are skipped by a rollout, the others listed with
// what they run now. The JSON is the documented shape.
func TestPlanVersionMarksHostsOnIt(t *testing.T) {
	three := "  - {address: 10.77.0.11, name: h1}\n  - {address: 10.77.0.12, name: h2}\n  - {address: 10.77.0.13, name: h3}\n"
	cfg := planConfig(t, three, "rollout: {batches: [1, '100%'], approve_after: [1], on_failure: halt}\n")
	res := workflows.StatusResult{Hosts: []activities.HostStatus{
		hostOn("10.77.0.11", "h1", "v1"), hostOn("10.77.0.12", "h2", "v2"), hostOn("10.77.0.13", "h3", ""),
	}}
	code, out, errOut := runWith(t, statusFake(t, res), "plan", "-c", cfg, "--version", "v2")
	if code != ExitOK || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	for _, l := range []string{
		"Plan for web (staging environment), version v2: 3 hosts in 2 batches; hoist plan changes nothing",
		"batch 1 (1 host, 1 at a time):", "  h1  deploy (current v1)",
		"  then wait for approval; no answer within 4h: the rollout fails (on_failure: halt)",
		"batch 2 (2 hosts, 2 at a time):", "  h2  skip: already on v2", "  h3  deploy (no current release)",
		"2 to deploy, 1 skipped",
	} {
		if !strings.Contains(out, l+"\n") {
			t.Errorf("no line %q in\n%s", l, out)
		}
	}

	code, out, _ = runWith(t, statusFake(t, res), "plan", "-c", cfg, "--version", "v2", "--output", "json")
	if code != ExitOK {
		t.Fatalf("json: exit %d", code)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	var want map[string]any
	if err := json.Unmarshal([]byte(`{
	  "service": "web", "environment": "staging", "version": "v2",
	  "rollout": true, "runnable": true, "hosts": 3,
	  "preflight": true, "max_parallel": 0, "pause_seconds": 0, "approval_timeout_seconds": 14400,
	  "max_failed": 0, "on_failure": "halt", "strategy": "recreate",
	  "batches": [
	    {"number": 1, "parallel": 1, "approval_after": true, "hosts": [
	      {"name": "h1", "target": "10.77.0.11", "current": "v1", "action": "deploy"}]},
	    {"number": 2, "parallel": 2, "approval_after": false, "hosts": [
	      {"name": "h2", "target": "10.77.0.12", "current": "v2", "action": "skip"},
	      {"name": "h3", "target": "10.77.0.13", "action": "deploy"}]}
	  ]}`), &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("JSON\n%s\nwant the shape README documents", out)
	}
}

// Without a rollout block a host already on the version is not skipped:
// today's deploy runs up and the running check there again.
func TestPlanVersionWithoutBlockRedeploys(t *testing.T) {
	cfg := planConfig(t, "  - {address: 10.77.0.11, name: h1}\n", "")
	res := workflows.StatusResult{Hosts: []activities.HostStatus{hostOn("10.77.0.11", "h1", "v2")}}
	code, out, _ := runWith(t, statusFake(t, res), "plan", "-c", cfg, "--version", "v2")
	if code != ExitOK || !strings.Contains(out, "  h1  redeploy: already on v2 (nothing switched; up and the running check run again)\n") ||
		!strings.Contains(out, "1 to redeploy\n") || strings.Contains(out, "skip") {
		t.Fatalf("exit %d\n%s", code, out)
	}
}

// A host the status read could not reach is unknown, never skipped, and
// the plan exits 3 (hoist cannot tell what it runs), naming why.
func TestPlanUnreadableHost(t *testing.T) {
	two := "  - {address: 10.77.0.11, name: h1}\n  - {address: 10.77.0.12, name: h2}\n"
	cfg := planConfig(t, two, "rollout: {batches: ['100%']}\n")
	res := workflows.StatusResult{
		Hosts:  []activities.HostStatus{hostOn("10.77.0.11", "h1", "v2"), hostOn("10.77.0.12", "h2", "")},
		Errors: []string{"host h2, step inspect: ssh: connect to 10.77.0.12: connection refused"},
	}
	code, out, errOut := runWith(t, statusFake(t, res), "plan", "-c", cfg, "--version", "v2")
	if code != ExitUnsafe {
		t.Fatalf("exit %d, want %d", code, ExitUnsafe)
	}
	wantContains(t, out, "  h1  skip: already on v2\n", "  h2  unknown: could not be read\n", "1 skipped, 1 unknown\n")
	wantContains(t, errOut, "hoist: host h2, step inspect: ssh: connect to 10.77.0.12: connection refused")
}

// plan refuses what it cannot plan with exit 2, before dialling anything.
func TestPlanRefusals(t *testing.T) {
	good := planConfig(t, fourHosts, "")
	bad := planConfig(t, fourHosts, "rollout:\n  batches: [1, '100%']\n  approve_after: [3]\n")
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"plan", "-c", bad}, bad + `:12: rollout.approve_after[0]: batch 3 does not exist: 4 host(s) in batches [1, "100%"] make 2 batch(es)`},
		{[]string{"plan", "-c", good, "--output", "yaml"}, `--output: want text or json, got "yaml"`},
		{[]string{"plan", "-c", good, "--version", "../x"}, "--version"},
		{[]string{"plan", "-c", good, "--version", "current"}, `--version: "current" is reserved`},
		{[]string{"plan", "-c", filepath.Join(t.TempDir(), "none.yml")}, "none.yml: cannot read"},
	}
	for _, c := range cases {
		code, out, errOut := runOffline(t, c.args...)
		if code != ExitUsage || out != "" || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit 2 and %q", c.args, code, out, errOut, c.want)
		}
	}
}

// deploy and rollback run a rollout block: the workflow gets the spec
// with it (before the fleet workflow they refused it, exit 2).
func TestDeployRunsRolloutBlock(t *testing.T) {
	cfg := planConfig(t, fourHosts, "rollout: {batches: [1, '100%']}\n")
	for _, args := range [][]string{
		{"deploy", "-c", cfg, "--version", "v2"},
		{"rollback", "-c", cfg, "--to", "v1"},
	} {
		fake := newFake(t)
		fake.On("DescribeTaskQueue", mock.Anything, "q", enums.TASK_QUEUE_TYPE_WORKFLOW).Return(pollers(true), nil)
		if args[0] == "deploy" {
			holdsBundle(t, fake)
		}
		fake.On("ExecuteWorkflow", mock.Anything, mock.Anything, workflows.DeployWorkflowName, mock.MatchedBy(func(in workflows.DeployInput) bool {
			return in.Spec.Rollout != nil && len(in.Spec.Rollout.Batches) == 2 && len(in.Spec.Hosts) == 4 && in.Limited == ""
		})).Return(nil, errors.New("stop here")).Once()
		code, _, errOut := runWith(t, fake, args...)
		if code != ExitUnsafe || !strings.Contains(errOut, "starting the deploy workflow: stop here") {
			t.Errorf("%v: exit %d, stderr %q", args, code, errOut)
		}
	}
}

// README's example of `hoist plan --output json` is what hoist prints for
// the same fleet, key for key and value for value.
func TestPlanJSONIsREADMEs(t *testing.T) {
	want, example := readmeJSON(t, 0)
	cfg := planConfig(t, "  - {address: 10.77.0.11, user: deploy, name: h1}\n  - {address: 10.77.0.12, user: deploy, name: h2}\n  - {address: 10.77.0.13, user: deploy, name: h3}\n",
		"rollout: {batches: [1, '100%'], approve_after: [1]}\n")
	if err := os.WriteFile(cfg, []byte(strings.Replace(mustRead(t, cfg), "environment: staging\n", "", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	res := workflows.StatusResult{Hosts: []activities.HostStatus{
		hostOn("deploy@10.77.0.11", "h1", "v1"), hostOn("deploy@10.77.0.12", "h2", "v2"), hostOn("deploy@10.77.0.13", "h3", ""),
	}}
	code, out, _ := runWith(t, statusFake(t, res), "plan", "-c", cfg, "--version", "v2", "--output", "json")
	var got map[string]any
	if err := json.Unmarshal([]byte(out), &got); code != ExitOK || err != nil {
		t.Fatalf("exit %d, %v\n%s", code, err, out)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("hoist prints\n%s\nREADME shows\n%s", out, example)
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// plan says when a deploy would start under hoist.yml's deploy windows.
func TestPlanSaysWhenItStarts(t *testing.T) {
	cfg := planConfig(t, fourHosts, "windows: {timezone: UTC, allow: [\"Mon 10:00-11:00\"]}\n")
	spec, err := config.Load(cfg)
	if err != nil {
		t.Fatal(err)
	}
	got := startsText(spec, time.Date(2026, 12, 8, 9, 0, 0, 0, time.UTC)) // a Tuesday
	if !strings.Contains(got, "2026-12-14 10:00") || !strings.Contains(got, "next allowed") {
		t.Fatalf("starts: %q", got)
	}
	var b strings.Builder
	p := plan{Service: "web", Environment: "staging", Hosts: 4, spec: spec, Starts: got}
	p.print(&b)
	if !strings.Contains(b.String(), "\nstarts: "+got+"\n") {
		t.Fatalf("plan output:\n%s", b.String())
	}
}
