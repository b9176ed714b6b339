//go:build integration

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// What the CLI promises scripts and people (issue 8 §6, §7, §8): one deploy
// lock per service and environment, exit codes CI can act on, and
// messages that name what happened.

const (
	portEnvironments = 18130
	portAttach       = 18131
	portInterrupt    = 18132
	portEnvFile      = 18133
	portNoWorker     = 18134
	portCauseOnce    = 18135
	portUnreachable  = 18136
	portCauseShell   = 18137
)

// staging is a second config of s's service, on other hosts, in the
// staging environment; it is cleaned off its hosts like s.
func (s *service) staging(t *testing.T, hosts ...int) *service {
	t.Helper()
	st := newService(t, "unused", s.port, hosts...)
	st.name, st.base = s.name, s.base
	st.extra = "environment: staging\n"
	return st
}

// A staging and a production config of one service, on different hosts,
// deploy side by side; cancelling staging leaves production's deploy
// alone; each deploy carries its environment as a search attribute.
func TestEnvironmentsSideBySide(t *testing.T) {
	t.Parallel()
	prod := newService(t, "envs", portEnvironments, 1)
	stg := prod.staging(t, 2)
	prod.wait = "{retries: 8, delay: 1s}"
	stg.wait = prod.wait
	prod.mustDeploy("v1", image("v1"))
	stg.deploy("v1", image("v1")).want(t, 0, fmt.Sprintf("✅ Successfully deployed %s version v1 in staging", stg.name))

	// Unhealthy v2 keeps each deploy in its running check for 8 s.
	slow := image("v2")
	slow.starting = true
	d := stg.deploy("v2", slow, "--detach")
	d.want(t, 0, "Environment: staging")
	wantContains(t, "staging's --detach", d.stdout, fmt.Sprintf("Workflow: deploy/%s/staging (run ", stg.name))
	p := prod.deploy("v2", slow, "--detach")
	p.want(t, 0, "Environment: production")
	wantContains(t, "production's --detach", p.stdout, fmt.Sprintf("Workflow: deploy/%s (run ", prod.name))

	// Cancel staging once it is in its running check (switched, up).
	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if h := workflowHistory(t, "deploy/"+stg.name+"/staging"); h.running() && h.count("WaitRunning") >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("staging's deploy never reached its running check")
		}
	}
	c := stg.hoist("cancel", "-c", stg.hoistYML())
	c.want(t, 0, "❌ Deployment of version v2 was cancelled. Rolled back to v1.")
	wantContains(t, "cancel", c.stdout, fmt.Sprintf("Cancel requested for deploy/%s/staging", stg.name))

	// Production's deploy was not cancelled: it ends with its warning.
	out, err := temporal(t, "workflow", "result", "--workflow-id", "deploy/"+prod.name, "--output", "json")
	if err != nil {
		t.Fatalf("production's deploy: %v\n%s", err, out)
	}
	var res struct {
		Status string
		Result struct{ Outcome, Version string }
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if res.Status != "COMPLETED" || res.Result.Version != "v2" || res.Result.Outcome != "warning" {
		t.Fatalf("production's deploy ended %s %+v, want COMPLETED v2 warning\n%s", res.Status, res.Result, out)
	}
	if st := prod.state(1); st.current != "v2" {
		t.Fatalf("h1 (production): current %q, want v2", st.current)
	}
	if st := stg.state(2); st.current != "v1" {
		t.Fatalf("h2 (staging): current %q, want v1 after the cancel", st.current)
	}

	// Each environment is found by its search attribute.
	for env, want := range map[string]string{"staging": "deploy/" + stg.name + "/staging", "production": "deploy/" + prod.name} {
		ids := listWorkflows(t, fmt.Sprintf("HoistService='%s' AND HoistEnvironment='%s'", prod.name, env))
		if len(ids) == 0 || slices.ContainsFunc(ids, func(id string) bool { return id != want }) {
			t.Errorf("deploys in %s: %q, want only %s", env, ids, want)
		}
	}
	// Status says which environment it read.
	prod.hoist("status", "-c", prod.hoistYML()).want(t, 0, fmt.Sprintf("%s (production environment)", prod.name))
}

// listWorkflows lists the IDs of the workflows query matches; visibility
// may lag the start by a moment.
func listWorkflows(t *testing.T, query string) []string {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		out, err := temporal(t, "workflow", "list", "--query", query, "--output", "json")
		if err != nil {
			t.Fatal(err)
		}
		var rows []struct {
			Execution struct{ WorkflowID string } `json:"execution"`
		}
		if err := json.Unmarshal(out, &rows); err != nil {
			// One JSON object per line in some versions of the CLI.
			rows = nil
			for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
				var r struct {
					Execution struct{ WorkflowID string } `json:"execution"`
				}
				if json.Unmarshal([]byte(l), &r) == nil {
					rows = append(rows, r)
				}
			}
		}
		var ids []string
		for _, r := range rows {
			ids = append(ids, r.Execution.WorkflowID)
		}
		if len(ids) > 0 || time.Now().After(deadline) {
			return ids
		}
	}
}

// A retried CI job that runs `deploy --attach` of another version than the
// one running must not read that deploy's success as its own; a rollback
// while a deploy runs is refused by the lock, not by the half-switched
// hosts; the same version attaches.
func TestRefusedWhileAnotherDeployRuns(t *testing.T) {
	t.Parallel()
	s := newService(t, "busy", portAttach)
	s.wait = "{retries: 8, delay: 1s}"
	s.mustDeploy("v1", image("v1"))
	slow := image("v2")
	slow.starting = true
	s.deploy("v2", slow, "--detach").want(t, 0)

	r := s.deploy("v3", image("v3"), "--attach")
	r.want(t, 4)
	wantContains(t, "stderr of --attach of another version", r.stderr, "version v2", "not version v3")
	if strings.Contains(r.stdout, "Successfully deployed") || strings.Contains(r.stdout, "following it") {
		t.Fatalf("--attach of v3 followed v2\n%s", r)
	}

	r = s.hoist("rollback", "-c", s.hoistYML())
	r.want(t, 4)
	wantContains(t, "stderr of rollback", r.stderr, "another deploy or rollback of "+s.name+" is running")
	if strings.Contains(r.stderr, "disagree") {
		t.Fatalf("rollback blamed the hosts, not the lock\n%s", r)
	}

	r = s.deploy("v4", image("v1"))
	r.want(t, 4)
	wantContains(t, "stderr of a second deploy", r.stderr, "another deploy or rollback of "+s.name+" is running: workflow deploy/"+s.name)

	// Global flags after the command, as a user types them.
	s.hoist("status", "-c", s.hoistYML(), "--namespace", "default").want(t, 0)

	s.compose("v2", slow)
	r = s.hoist("deploy", "-c", s.hoistYML(), "--version", "v2", "--attach")
	r.want(t, 0)
	r.line(t, "⚠️ Warning: host h1: ")
	wantContains(t, "stdout of --attach of the running version", r.stdout, "following it")
}

// Ctrl-C while following: the deploy goes on, the CLI says so and exits
// 130, never "context canceled"; `hoist watch` then follows it to its end.
func TestInterruptedFollow(t *testing.T) {
	t.Parallel()
	s := newService(t, "sigint", portInterrupt)
	s.wait = "{retries: 8, delay: 1s}"
	s.mustDeploy("v1", image("v1"))
	slow := image("v2")
	slow.starting = true
	s.compose("v2", slow)
	cli := s.start("deploy", "--config", s.hoistYML(), "--version", "v2")
	s.waitHistory("v2's running check", 90*time.Second, func(h *history) bool { return h.running() && h.count("WaitRunning") >= 1 })
	if err := cli.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	r := cli.wait(t, 30*time.Second)
	if r.code != 130 {
		t.Fatalf("exit %d after Ctrl-C, want 130\n%s", r.code, r)
	}
	wantContains(t, "stderr after Ctrl-C", r.stderr, "the deploy goes on; `hoist watch` re-attaches")
	if strings.Contains(r.stderr+r.stdout, "context canceled") {
		t.Fatalf("Ctrl-C printed context canceled\n%s", r)
	}
	w := s.hoist("watch", "-c", s.hoistYML())
	w.want(t, 0)
	w.line(t, "⚠️ Warning: host h1: ")
}

// Without payload encryption, a bundle holding an env file is refused
// before anything is started or touched, saying how to encrypt.
func TestEnvFileRefusedInCleartext(t *testing.T) {
	t.Parallel()
	s := newService(t, "envfile", portEnvFile)
	secret := "postgres://app:hunter2@db/app"
	if err := os.WriteFile(filepath.Join(s.dir, "files", ".env"), []byte("DB_URL="+secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := s.deploy("v1", app{image: suite.env.Image("v1"), envFile: ".env"})
	r.want(t, 2)
	wantContains(t, "stderr", r.stderr, ".env holds environment values", "not encrypted", "hoist codec-key", "--codec-key-file")
	if strings.Contains(r.stderr+r.stdout, secret) {
		t.Fatalf("the refusal prints the secret\n%s", r)
	}
	s.wantNoBase()
	if out, err := temporal(t, "workflow", "describe", "--workflow-id", "deploy/"+s.name); err == nil {
		t.Fatalf("a deploy workflow was started:\n%s", out)
	}

	// An env_file the compose file names, in a sub-folder.
	if err := os.Remove(filepath.Join(s.dir, "files", ".env")); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(s.dir, "files", "conf"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.dir, "files", "conf", "db.env"), []byte("DB_URL="+secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r = s.deploy("v1", app{image: suite.env.Image("v1"), envFile: "conf/db.env"})
	r.want(t, 2)
	wantContains(t, "stderr", r.stderr, "conf/db.env holds environment values")
	s.wantNoBase()
}

// With no worker on the task queue, deploy and status say so at once and
// start nothing; --wait-for-worker starts anyway, and a worker that comes
// later runs the deploy.
func TestNoWorkerSaidAtOnce(t *testing.T) {
	t.Parallel()
	s := newService(t, "noworker", portNoWorker)
	s.queue = suite.queue + "-noworker"
	s.compose("v1", image("v1"))
	for _, args := range [][]string{
		{"status", "-c", s.hoistYML()},
		{"deploy", "-c", s.hoistYML(), "--version", "v1"},
	} {
		r := s.hoist(args...)
		r.want(t, 2)
		wantContains(t, "stderr of "+args[0], r.stderr, "no worker polls task queue "+s.queue+" in namespace default", "worker --ssh-key", "--wait-for-worker")
	}
	s.wantNoBase()
	if out, err := temporal(t, "workflow", "describe", "--workflow-id", "deploy/"+s.name); err == nil {
		t.Fatalf("a deploy workflow was started:\n%s", out)
	}

	s.hoist("deploy", "-c", s.hoistYML(), "--version", "v1", "--wait-for-worker", "--detach").want(t, 0)
	startTestWorker(t, "noworker", nil)
	s.hoist("watch", "-c", s.hoistYML()).want(t, 0, s.deployedLine("v1"))
}

// A failed deploy's cause is printed once, not on the failed step's line
// and again in the closing line, and it holds what went wrong, not the
// internal shell hoist ran it with.
func TestCausePrintedOnce(t *testing.T) {
	t.Parallel()
	s := newService(t, "causeonce", portCauseOnce)
	s.mustDeploy("v1", image("v1"))
	r := s.deploy("v2", image("nope")) // no such tag: the pull fails
	if r.code != 1 {
		t.Fatalf("exit %d, want 1 (v1 still serves)\n%s", r.code, r)
	}
	line := r.line(t, "❌ Deployment of version v2 failed")
	if n := strings.Count(r.stdout, "host h1, step pull"); n != 1 {
		t.Fatalf("the cause (host h1, step pull: the missing image) is printed %d times\n%s", n, r)
	}
	// The closing message runs to the end: the cause carries compose's
	// last lines.
	if closing := r.stdout[strings.Index(r.stdout, line):]; !strings.Contains(closing, "testapp:nope") {
		t.Fatalf("the closing message does not say which image is missing: %q", closing)
	}
	if !hasFailedStep(r.stdout, "h1") {
		t.Fatalf("no step is shown failed\n%s", r)
	}
	s.wantServes("v1")
}

// The cause says what failed where, not the shell line hoist ran (today:
// "run cd /srv/... && flock ... docker compose ... pull --quiet: exit
// status 1: ..."). The command line is the worker's to log.
func TestCauseWithoutInternalShell(t *testing.T) {
	t.Parallel()
	s := newService(t, "causeshell", portCauseShell)
	s.mustDeploy("v1", image("v1"))
	r := s.deploy("v2", image("nope"))
	line := r.line(t, "❌ Deployment of version v2 failed")
	for _, shell := range []string{" && ", "date -u", "flock ", "--project-name"} {
		if strings.Contains(r.stdout, shell) {
			t.Fatalf("the output holds hoist's internal shell (%q): %q\n%s", shell, line, r)
		}
	}
	wantContains(t, "the closing message", r.stdout[strings.Index(r.stdout, line):], "host h1", "pull", "testapp:nope")
}

func hasFailedStep(stdout, host string) bool {
	for _, l := range outLines(stdout) {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "✗" && f[1] == host {
			return true
		}
	}
	return false
}

// A host that does not answer is retried for about a minute; the CLI
// names it and its first error while the retries go on, not only at the
// end or in the worker's log.
func TestUnreachableHostNamedAtOnce(t *testing.T) {
	t.Parallel()
	s := newService(t, "unreach", portUnreachable)
	s.hosts = nil // nothing on the test bed's hosts to clean
	// 10.77.0.19 is on the test bed's bridge, and no host has it.
	cfg := filepath.Join(s.dir, "hoist.yml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf("service: %s\nremote_base: %s\nfiles: files\nhosts:\n  - {address: 10.77.0.19, user: deploy, name: ghost}\nwait: {retries: 2, delay: 1s}\n", s.name, s.base)), 0o644); err != nil {
		t.Fatal(err)
	}
	s.compose("v1", image("v1"))
	cli := s.start("deploy", "-c", cfg, "--version", "v1")
	deadline := time.Now().Add(60 * time.Second)
	for {
		out := cli.result().stdout
		if strings.Contains(out, "⟳ host ghost") {
			break
		}
		select {
		case <-cli.done:
			t.Fatalf("the deploy ended before the CLI named the unreachable host\n%s", cli.result())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the CLI has not named the unreachable host after 60 s of retries\n%s", cli.result())
		}
		time.Sleep(200 * time.Millisecond)
	}
	line := ""
	for _, l := range outLines(cli.result().stdout) {
		if strings.Contains(l, "⟳ host ghost") {
			line = l
		}
	}
	wantContains(t, "the retry line", line, "10.77.0.19", "retrying")
	r := cli.wait(t, 3*time.Minute)
	if r.code == 0 {
		t.Fatalf("a deploy to an unreachable host succeeded\n%s", r)
	}
}
