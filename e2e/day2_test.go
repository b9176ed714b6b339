//go:build integration

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/workflows"
)

// The day-2 commands (issue 10): hoist logs, exec and history against the
// test bed's hosts, through the package worker.

// Ports of the day-2 tests.
const (
	portDay2Logs    = 18300
	portDay2Follow  = 18301
	portDay2History = 18302
	portDay2Orphan  = 18303
)

// day2ToolSource is a static helper mounted into the release's container
// (the testapp image is FROM scratch: no shell, nothing to exec but the
// app). say writes lines to the container's own log (PID 1's stdout, what
// docker logs keeps); many writes N numbered lines there; exit writes a
// line to each stream and exits N; args prints its arguments one a line.
const day2ToolSource = `package main

import (
	"fmt"
	"os"
	"strconv"
)

func main() {
	if len(os.Args) < 2 {
		os.Exit(64)
	}
	args := os.Args[2:]
	switch os.Args[1] {
	case "say", "many":
		f, err := os.OpenFile("/proc/1/fd/1", os.O_WRONLY, 0)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		if os.Args[1] == "say" {
			for _, a := range args {
				fmt.Fprintln(f, a)
			}
			return
		}
		n, _ := strconv.Atoi(args[0])
		for i := 1; i <= n; i++ {
			fmt.Fprintf(f, "%s-%02d\n", args[1], i)
		}
	case "exit":
		fmt.Println("out line")
		fmt.Fprintln(os.Stderr, "err line")
		n, _ := strconv.Atoi(args[0])
		os.Exit(n)
	case "args":
		for _, a := range args {
			fmt.Println(a)
		}
	}
}
`

var day2Tool struct {
	once sync.Once
	path string
	err  error
}

// day2ToolBinary builds the helper once per run, statically.
func day2ToolBinary(t testing.TB) string {
	t.Helper()
	day2Tool.once.Do(func() {
		dir := filepath.Join(suite.tmp, "day2tool")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			day2Tool.err = err
			return
		}
		for name, text := range map[string]string{"main.go": day2ToolSource, "go.mod": "module day2tool\n\ngo 1.22\n"} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
				day2Tool.err = err
				return
			}
		}
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", "tool", ".")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off", "GOFLAGS=")
		if out, err := cmd.CombinedOutput(); err != nil {
			day2Tool.err = fmt.Errorf("building the day-2 helper: %v\n%s", err, out)
			return
		}
		day2Tool.path = filepath.Join(dir, "tool")
	})
	if day2Tool.err != nil {
		t.Fatal(day2Tool.err)
	}
	return day2Tool.path
}

// day2Service is a service on the given hosts whose releases mount the
// helper at /tool (withTool). It waits while TestHostFaults runs: that
// stops Temporal.
func day2Service(t *testing.T, prefix string, port int, hosts ...int) *service {
	h3Faults.RLock()
	t.Cleanup(h3Faults.RUnlock)
	return newService(t, prefix, port, hosts...)
}

// withTool writes the release's files: the helper and a compose file
// whose web service mounts it.
func (s *service) withTool(version string, a app) {
	s.t.Helper()
	bin, err := os.ReadFile(day2ToolBinary(s.t))
	if err != nil {
		s.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.dir, "files", "tool"), bin, 0o755); err != nil {
		s.t.Fatal(err)
	}
	env := "      VERSION: \"" + version + "\"\n"
	for k, v := range a.env {
		env += fmt.Sprintf("      %s: %q\n", k, v)
	}
	compose := fmt.Sprintf("services:\n  web:\n    image: %s\n    ports:\n      - \"%d:8080\"\n    environment:\n%s    volumes:\n      - ./tool:/tool:ro\n",
		suite.env.Image("v1"), s.port, env)
	if err := os.WriteFile(filepath.Join(s.dir, "files", "compose.yaml"), []byte(compose), 0o644); err != nil {
		s.t.Fatal(err)
	}
}

func (s *service) deployTool(version string, a app) result {
	s.t.Helper()
	s.withTool(version, a)
	return s.hoist("deploy", "--config", s.hoistYML(), "--version", version)
}

// hostLines are the stdout lines hoist prefixed with host n.
func hostLines(out string, n int) []string {
	var got []string
	prefix := fmt.Sprintf("h%d | ", n)
	for _, l := range outLines(out) {
		if strings.HasPrefix(l, prefix) {
			got = append(got, strings.TrimPrefix(l, prefix))
		}
	}
	return got
}

func hasLine(lines []string, parts ...string) bool {
	return slices.ContainsFunc(lines, func(l string) bool {
		for _, p := range parts {
			if !strings.Contains(l, p) {
				return false
			}
		}
		return true
	})
}

// logsEventually runs hoist logs until cond holds of its result (docker
// writes a container's log a moment after the line was written).
func (s *service) logsEventually(cond func(result) bool, args ...string) result {
	s.t.Helper()
	var r result
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		r = s.hoist(append([]string{"logs", "--config", s.hoistYML()}, args...)...)
		if cond(r) || time.Now().After(deadline) {
			return r
		}
	}
}

// runsOf lists the runs of workflows whose ID starts with prefix.
func runsOf(t *testing.T, prefix string) []string {
	t.Helper()
	out, err := temporal(t, "workflow", "list", "--query", "WorkflowId STARTS_WITH '"+prefix+"'", "--output", "json")
	if err != nil {
		t.Fatal(err)
	}
	var runs []struct {
		Execution struct{ WorkflowID, RunID string }
	}
	if len(strings.TrimSpace(string(out))) > 0 {
		if err := json.Unmarshal(out, &runs); err != nil {
			t.Fatalf("temporal workflow list: %v\n%s", err, out)
		}
	}
	var ids []string
	for _, r := range runs {
		ids = append(ids, r.Execution.WorkflowID)
	}
	return ids
}

// wantNoRuns waits until no workflow ID starts with prefix: hoist asks
// Temporal to delete a logs run once it has printed it, and the server
// does so in the background, after it has finished closing the run (the
// dev server took from seconds to a few minutes).
func wantNoRuns(t *testing.T, prefix string) {
	t.Helper()
	start := time.Now()
	var left []string
	for deadline := start.Add(6 * time.Minute); time.Now().Before(deadline); time.Sleep(2 * time.Second) {
		if left = runsOf(t, prefix); len(left) == 0 {
			t.Logf("the runs of %s* were gone %s after the last was printed", prefix, time.Since(start).Round(time.Second))
			return
		}
	}
	t.Fatalf("runs of %s* still in Temporal %s after hoist asked to delete them: %v", prefix, time.Since(start).Round(time.Second), left)
}

// TestDay2LogsAndExec: logs from both hosts, each line prefixed with its
// host, among them what the app logged; --tail bounds them; exec passes
// its output and exit status back, word for word, on one host or both.
func TestDay2LogsAndExec(t *testing.T) {
	t.Parallel()
	s := day2Service(t, "day2", portDay2Logs, 1, 2)
	s.deployTool("v1", app{}).want(t, 0, s.deployedLine("v1"))

	// What the app itself logged when it started, from each host.
	r := s.logsEventually(func(r result) bool {
		return hasLine(hostLines(r.stdout, 1), "testapp v1: ", "listening on :8080") && hasLine(hostLines(r.stdout, 2), "testapp v1: ", "listening on :8080")
	})
	r.want(t, 0)
	if !hasLine(hostLines(r.stdout, 1), "web-1", "testapp v1: ", "listening on :8080") || !hasLine(hostLines(r.stdout, 2), "web-1", "listening on :8080") {
		t.Fatalf("logs lack the app's start line from each host, prefixed h1 | and h2 | (compose's container prefix after)\n%s", r)
	}
	for _, l := range outLines(r.stdout) {
		if !strings.HasPrefix(l, "h1 | ") && !strings.HasPrefix(l, "h2 | ") {
			t.Fatalf("a line without its host: %q\n%s", l, r)
		}
	}

	// A line written into the container's log on h1 only shows for h1.
	marker := "marker-" + s.name
	s.hoist("exec", "--config", s.hoistYML(), "--hosts", "h1", "web", "--", "/tool", "say", marker).want(t, 0)
	r = s.logsEventually(func(r result) bool { return hasLine(hostLines(r.stdout, 1), marker) })
	if !hasLine(hostLines(r.stdout, 1), marker) || hasLine(hostLines(r.stdout, 2), marker) {
		t.Fatalf("the marker logged on h1 should show for h1 only\n%s", r)
	}

	// --tail 5: the last five lines of the container, no more.
	s.hoist("exec", "--config", s.hoistYML(), "--hosts", "h1", "web", "--", "/tool", "many", "30", "tail").want(t, 0)
	r = s.logsEventually(func(r result) bool { return hasLine(hostLines(r.stdout, 1), "tail-30") }, "--hosts", "h1", "--tail", "5")
	r.want(t, 0)
	got := hostLines(r.stdout, 1)
	if len(got) != 5 || len(outLines(r.stdout)) != 5 {
		t.Fatalf("--tail 5 showed %d lines (%d from h1)\n%s", len(outLines(r.stdout)), len(got), r)
	}
	for i, l := range got {
		if want := fmt.Sprintf("tail-%02d", 26+i); !strings.HasSuffix(l, want) {
			t.Fatalf("--tail 5 line %d is %q, want it to end with %s\n%s", i+1, l, want, r)
		}
	}

	// A service the release does not have (compose would print nothing
	// and succeed): refused by name, exit 3.
	r = s.hoist("logs", "--config", s.hoistYML(), "--hosts", "h2", "nosuch")
	r.want(t, 3)
	if r.stdout != "" || r.stderr != "hoist: host h2, step logs: release v1 has no service \"nosuch\" (its services: web)\n" {
		t.Fatalf("logs of a service the release lacks\n%s", r)
	}

	// exec on one host: its streams as they are, its exit status hoist's
	// (hoist's options may follow the service, before --).
	r = s.hoist("exec", "web", "--config", s.hoistYML(), "--hosts", "h2", "--", "/tool", "exit", "3")
	if r.code != 3 || r.stdout != "out line\n" || r.stderr != "err line\nhoist: h2: exit 3\n" {
		t.Fatalf("exec exit 3 on h2: want exit 3, stdout \"out line\", stderr \"err line\" and the status\n%s", r)
	}
	// Each word reaches the command as it was given: no shell between.
	r = s.hoist("exec", "--config", s.hoistYML(), "--hosts", "h1", "web", "--", "/tool", "args", "--help", "a b", "$HOME", "it's", "")
	if r.code != 0 || r.stdout != "--help\na b\n$HOME\nit's\n\n" {
		t.Fatalf("exec args: the words changed on the way\n%s", r)
	}
	// On both hosts: prefixed lines, each host's status.
	r = s.hoist("exec", "--config", s.hoistYML(), "web", "--", "/tool", "exit", "0")
	if r.code != 0 || !slices.Equal(sorted(outLines(r.stdout)), []string{"h1 | out line", "h2 | out line"}) ||
		!strings.HasSuffix(r.stderr, "h1: exit 0\nh2: exit 0\n") || !strings.Contains(r.stderr, "h1 | err line\n") || !strings.Contains(r.stderr, "h2 | err line\n") {
		t.Fatalf("exec on both hosts: want each line prefixed with its host and each host's status\n%s", r)
	}
	// Several hosts, one exiting non-zero: that status is hoist's.
	r = s.hoist("exec", "--config", s.hoistYML(), "--hosts", "h1,h2", "web", "--", "/tool", "exit", "4")
	if r.code != 4 || !strings.HasSuffix(r.stderr, "h1: exit 4\nh2: exit 4\n") {
		t.Fatalf("exec exit 4 on both\n%s", r)
	}

	// The logs runs are gone from Temporal; the exec runs stay, as the
	// record of what ran where and by whom.
	wantNoRuns(t, "hoist-logs/"+s.name+"/")
	if n := len(runsOf(t, "hoist-exec/"+s.name+"/")); n != 6 {
		t.Fatalf("%d exec runs kept, want the 6 this test ran", n)
	}
}

func sorted(s []string) []string { s = slices.Clone(s); slices.Sort(s); return s }

// composeLogsProcs lists the docker compose logs processes of the
// project on each of hosts, as each host's ps sees them.
func composeLogsProcs(t *testing.T, project string, hosts ...int) map[int]string {
	t.Helper()
	procs := map[int]string{}
	for _, h := range hosts {
		// The [-] keeps the pattern from matching this shell's own command line.
		out, err := sshRun(h, "pgrep -af -- 'compose -[-]project-name "+project+" logs' || true")
		if err != nil {
			t.Fatalf("pgrep on h%d: %v\n%s", h, err, out)
		}
		if out = strings.TrimSpace(out); out != "" {
			procs[h] = out
		}
	}
	return procs
}

// TestDay2LogsFollow: --follow shows lines the app logs after it started,
// from both hosts, for longer than the follow's lease (its reading
// signal renews it); Ctrl-C ends it and docker compose logs on every host.
func TestDay2LogsFollow(t *testing.T) {
	t.Parallel()
	s := day2Service(t, "day2f", portDay2Follow, 1, 2)
	s.deployTool("v1", app{}).want(t, 0, s.deployedLine("v1"))
	p := s.start("logs", "--config", s.hoistYML(), "--follow", "--tail", "1")
	seen := func(host int, parts ...string) bool { return hasLine(hostLines(p.result().stdout, host), parts...) }
	waitFor := func(what string, timeout time.Duration, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(timeout); !cond(); time.Sleep(200 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("waited %s for %s\n%s", timeout, what, p.result())
			}
		}
	}
	waitFor("the last line of each host", 30*time.Second, func() bool { return seen(1, "listening on :8080") && seen(2, "listening on :8080") })
	if procs := composeLogsProcs(t, s.name, 1, 2); !strings.Contains(procs[1], "--follow") || !strings.Contains(procs[2], "--follow") {
		t.Fatalf("want docker compose logs --follow running on h1 and h2 while hoist follows, got %v", procs)
	}

	first := "follow-a-" + s.name
	s.hoist("exec", "--config", s.hoistYML(), "--hosts", "h2", "web", "--", "/tool", "say", first).want(t, 0)
	waitFor("the line logged on h2 after the follow started", 15*time.Second, func() bool { return seen(2, first) })
	if seen(1, first) {
		t.Fatalf("h2's line shown as h1's\n%s", p.result())
	}

	// Past the lease: still following (hoist renews it).
	time.Sleep(workflows.DefaultFollowLease + 10*time.Second)
	second := "follow-b-" + s.name
	s.hoist("exec", "--config", s.hoistYML(), "--hosts", "h1", "web", "--", "/tool", "say", second).want(t, 0)
	waitFor("a line logged after the lease had passed", 15*time.Second, func() bool { return seen(1, second) })

	if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	r := p.wait(t, 40*time.Second)
	if r.code != 130 {
		t.Fatalf("after Ctrl-C: exit %d, want 130\n%s", r.code, r)
	}
	wantContains(t, "stderr", r.stderr, "interrupted: logs stopped on every host")
	// hoist returned once the workflow had ended, after its activities had
	// ended their remote commands: none is left.
	var procs map[int]string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if procs = composeLogsProcs(t, s.name, 1, 2); len(procs) == 0 {
			break
		}
	}
	if len(procs) != 0 {
		t.Fatalf("docker compose logs still runs after hoist logs --follow ended: %v", procs)
	}
	wantNoRuns(t, "hoist-logs/"+s.name+"/")
}

// TestDay2FollowWithoutReader: a follow whose hoist was killed (no Ctrl-C,
// no cancel) ends by itself once its lease passes without a reading
// signal, and docker compose logs with it on every host.
func TestDay2FollowWithoutReader(t *testing.T) {
	t.Parallel()
	s := day2Service(t, "day2o", portDay2Orphan, 1, 2)
	s.deployTool("v1", app{}).want(t, 0, s.deployedLine("v1"))
	p := s.start("logs", "--config", s.hoistYML(), "--follow", "--tail", "1")
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		procs := composeLogsProcs(t, s.name, 1, 2)
		if r := p.result(); len(procs) == 2 && hasLine(hostLines(r.stdout, 1), "listening") && hasLine(hostLines(r.stdout, 2), "listening") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the follow did not start on both hosts within 30s: %v\n%s", procs, p.result())
		}
	}
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	<-p.done
	var procs map[int]string
	for deadline := killed.Add(workflows.DefaultFollowLease + 30*time.Second); time.Now().Before(deadline); time.Sleep(time.Second) {
		if procs = composeLogsProcs(t, s.name, 1, 2); len(procs) == 0 {
			break
		}
	}
	if len(procs) != 0 {
		t.Fatalf("docker compose logs still runs %s after hoist was killed (lease %s): %v", time.Since(killed).Round(time.Second), workflows.DefaultFollowLease, procs)
	}
	if took := time.Since(killed); took < workflows.DefaultFollowLease-15*time.Second {
		t.Fatalf("the follow ended %s after hoist was killed: before its lease (%s) could have passed", took.Round(time.Second), workflows.DefaultFollowLease)
	}
	t.Logf("the follow ended %s after hoist was killed", time.Since(killed).Round(time.Second))
}

// whoAmI is who hoist records as a deploy's starter (user@host).
func whoAmI(t *testing.T) string {
	t.Helper()
	name := os.Getenv("USER")
	if name == "" {
		if u, err := user.Current(); err == nil {
			name = u.Username
		}
	}
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	return name + "@" + host
}

// TestDay2History: the deploys and rollback this test makes, newest
// first, with kind, version, outcome, who and a link, in text and JSON.
func TestDay2History(t *testing.T) {
	t.Parallel()
	s := day2Service(t, "day2h", portDay2History, 1)
	s.deployTool("v1", app{}).want(t, 0, s.deployedLine("v1"))
	s.deployTool("v2", app{}.crashing()).want(t, 1)
	s.deployTool("v3", app{}).want(t, 0, s.deployedLine("v3"))
	s.hoist("rollback", "--config", s.hoistYML()).want(t, 0)

	type entry struct {
		Kind, Version, Outcome, By, Status, Link string
		Hosts                                    []string
	}
	var got []entry
	var r result
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		r = s.hoist("history", "--config", s.hoistYML(), "--output", "json")
		got = nil
		if r.code == 0 && json.Unmarshal([]byte(r.stdout), &got) == nil && len(got) == 4 && got[0].Status == "completed" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("history did not list the 4 runs within 20s\n%s", r)
		}
	}
	me := whoAmI(t)
	want := []entry{
		{Kind: "rollback", Version: "v1", Outcome: "deployed"},
		{Kind: "deploy", Version: "v3", Outcome: "deployed"},
		{Kind: "deploy", Version: "v2", Outcome: "rolled back"},
		{Kind: "deploy", Version: "v1", Outcome: "deployed"},
	}
	for i, w := range want {
		g := got[i]
		if g.Kind != w.Kind || g.Version != w.Version || g.Outcome != w.Outcome || g.By != me || !slices.Equal(g.Hosts, []string{"h1"}) ||
			!strings.Contains(g.Link, "/workflows/deploy%2F"+s.name+"/") {
			t.Errorf("entry %d: %+v, want %s %s %s by %s on h1", i+1, g, w.Kind, w.Version, w.Outcome, me)
		}
	}

	r = s.hoist("history", "--config", s.hoistYML(), "--limit", "2")
	r.want(t, 0)
	lines := outLines(r.stdout)
	if len(lines) != 4 || lines[0] != s.name+" (production environment): 2 deploys and rollbacks, newest first" {
		t.Fatalf("history --limit 2: want a heading, the column names and 2 rows\n%s", r)
	}
	for i, parts := range [][]string{{"rollback", "v1", "deployed", me, "h1", "http://"}, {"deploy", "v3", "deployed", me}} {
		for _, p := range parts {
			if !strings.Contains(lines[i+2], " "+p) {
				t.Fatalf("row %d lacks %q\n%s", i+1, p, r)
			}
		}
	}
}
