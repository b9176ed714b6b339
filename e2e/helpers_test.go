//go:build integration

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/remote"
)

// service is one test's service: its own name, remote_base, published
// port, hosts and files folder, cleaned off the hosts when the test ends.
type service struct {
	t     testing.TB
	name  string
	base  string // remote_base
	port  int    // published port of the web service
	hosts []int  // test bed host numbers, 1-based
	dir   string // holds hoist.yml and files/
	queue string // task queue the CLI starts workflows on
	extra string // more hoist.yml lines
	wait  string // the wait: mapping
}

// newService makes a service named e2e-PREFIX-RANDOM on the given hosts,
// with wait {retries: 5, delay: 1s}.
func newService(t testing.TB, prefix string, port int, hosts ...int) *service {
	t.Helper()
	if len(hosts) == 0 {
		hosts = []int{1}
	}
	name := fmt.Sprintf("e2e-%s-%06x", prefix, rand.Uint32()&0xffffff)
	s := &service{
		t: t, name: name, base: "/srv/e2e/" + name, port: port, hosts: hosts,
		dir: t.TempDir(), queue: suite.queue, wait: "{retries: 5, delay: 1s}",
	}
	if err := os.MkdirAll(filepath.Join(s.dir, "files"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.cleanup)
	return s
}

// cleanup shows the hosts' state when the test failed, then removes the
// service's containers, network and folder from every host. A cleanup that
// fails fails the test: leftovers would break the next run.
func (s *service) cleanup() {
	t := s.t
	base := remote.Quote(s.base) // it may hold spaces and shell syntax
	if t.Failed() {
		for _, h := range s.hosts {
			out, _ := sshRun(h, fmt.Sprintf("set -x; ls -la %[1]s %[1]s/*/ 2>&1; docker ps --all --filter label=com.docker.compose.project=%[2]s --format '{{.Names}} {{.Image}} {{.Status}}'", base, s.name))
			t.Logf("state of h%d after the failure:\n%s", h, out)
		}
		t.Logf("worker log (%s), last lines about %s:\n%s", suite.workerLog, s.name, grepTail(suite.workerLog, s.name, 40))
		if os.Getenv("HOIST_E2E_KEEP") != "" {
			t.Logf("HOIST_E2E_KEEP is set: %s left on the hosts", s.base)
			return
		}
	}
	for _, h := range s.hosts {
		script := fmt.Sprintf("docker compose --project-name %s down --remove-orphans --timeout 1 >/dev/null 2>&1; "+
			"if [ -e %[2]s ]; then chmod -R u+rwx %[2]s && rm -rf %[2]s; fi; test ! -e %[2]s", s.name, base)
		if out, err := sshRun(h, script); err != nil {
			t.Errorf("cleanup of %s on h%d: %v\n%s", s.name, h, err, out)
		}
		if out, _ := sshRun(h, "docker ps --all --quiet --filter label=com.docker.compose.project="+s.name); strings.TrimSpace(out) != "" {
			t.Errorf("cleanup of %s on h%d left containers: %s", s.name, h, out)
		}
	}
}

// hoistYML writes hoist.yml and returns its path.
func (s *service) hoistYML() string {
	s.t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "service: %s\nremote_base: %s\nfiles: files\nhosts:\n", s.name, s.base)
	for _, h := range s.hosts {
		fmt.Fprintf(&b, "  - {address: %s, user: %s, name: h%d}\n", suite.env.Host(h), suite.env.User, h)
	}
	fmt.Fprintf(&b, "wait: %s\n", s.wait)
	b.WriteString(s.extra)
	p := filepath.Join(s.dir, "hoist.yml")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		s.t.Fatal(err)
	}
	return p
}

// app shapes the web service of a release's compose file.
type app struct {
	image     string            // full image reference; default the plain registry's testapp:v1
	env       map[string]string // besides VERSION, which is always the release version
	restart   string            // restart policy
	unhealthy bool              // UNHEALTHY=1 and a 1 s healthcheck
	starting  bool              // the same in a 1 h start period: never decided, the wait lasts its window ("not healthy in time")
	health    bool              // the healthcheck without UNHEALTHY
	ports     []int             // more published ports (to container port 8081)
	envFile   string            // an optional env_file on the host, outside the release
}

// Published ports, one per test, so tests run in parallel on one host.
const (
	portFirstDeploy     = 18081
	portCrash           = 18082
	portCrashLoop       = 18083
	portCrashFirst      = 18084
	portUnhealthyWarn   = 18085
	portUnhealthyRevert = 18086
	portRetention       = 18087
	portRedeploy        = 18088
	portManualRollback  = 18089
	portConcurrent      = 18091
	portInvalid         = 18092
	portTwoHosts        = 18093
	portTwoHostsBlocked = 18094
	portRegistryBasic   = 18095
	portRegistryECR     = 18096
)

// image is the plain registry's testapp image at tag (v1, v2, v3).
func image(tag string) app { return app{image: suite.env.Image(tag)} }

// with returns a copy of a with more environment.
func (a app) with(kv ...string) app {
	env := map[string]string{}
	for k, v := range a.env {
		env[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		env[kv[i]] = kv[i+1]
	}
	a.env = env
	return a
}

// crashing is a with the app exiting 1 at once.
func (a app) crashing() app { return a.with("CRASH_AFTER", "0") }

// compose writes files/compose.yaml for release version.
func (s *service) compose(version string, a app) {
	s.t.Helper()
	img := a.image
	if img == "" {
		img = suite.env.Image("v1")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "services:\n  web:\n    image: %s\n    ports:\n      - \"%d:8080\"\n", img, s.port)
	for _, p := range a.ports {
		fmt.Fprintf(&b, "      - \"%d:8081\"\n", p)
	}
	if a.restart != "" {
		fmt.Fprintf(&b, "    restart: %s\n", a.restart)
	}
	env := map[string]string{"VERSION": version}
	for k, v := range a.env {
		env[k] = v
	}
	if a.unhealthy || a.starting {
		env["UNHEALTHY"] = "1"
	}
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	b.WriteString("    environment:\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "      %s: %q\n", k, env[k])
	}
	if a.envFile != "" {
		fmt.Fprintf(&b, "    env_file:\n      - path: %s\n        required: false\n", a.envFile)
	}
	if a.unhealthy || a.health || a.starting {
		start := "0s"
		if a.starting {
			start = "1h"
		}
		// The image is FROM scratch with the binary at /app.
		b.WriteString("    healthcheck:\n      test: [\"CMD\", \"/app\", \"-healthcheck\"]\n" +
			"      interval: 1s\n      timeout: 1s\n      retries: 1\n      start_period: " + start + "\n")
	}
	if err := os.WriteFile(filepath.Join(s.dir, "files", "compose.yaml"), []byte(b.String()), 0o644); err != nil {
		s.t.Fatal(err)
	}
}

// result is what one run of bin/hoist showed the user.
type result struct {
	args   []string
	code   int
	stdout string
	stderr string
	took   time.Duration
}

func (r result) String() string {
	return fmt.Sprintf("hoist %s: exit %d after %s\n--- stdout:\n%s--- stderr:\n%s", strings.Join(r.args, " "), r.code, r.took.Round(time.Millisecond), r.stdout, r.stderr)
}

// hoist runs bin/hoist with the global flags for the suite's Temporal and
// the service's task queue, in the service's folder.
func (s *service) hoist(args ...string) result {
	s.t.Helper()
	return runHoist(s.t, s.dir, s.queue, args...)
}

func runHoist(t testing.TB, dir, queue string, args ...string) result {
	t.Helper()
	full := append([]string{"--task-queue", queue}, args...)
	ctx := withTimeout(t, 2*time.Minute)
	cmd := exec.CommandContext(ctx, suite.bin, full...)
	cmd.Dir = dir
	cmd.Env = temporalEnv()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	r := result{args: full, stdout: out.String(), stderr: errb.String(), took: time.Since(start)}
	var exit *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("hoist %s did not finish within 2 minutes (is the worker on %s alive?)\n%s", strings.Join(full, " "), queue, r)
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	case err != nil:
		t.Fatalf("running hoist %s: %v", strings.Join(full, " "), err)
	}
	t.Logf("%s", r)
	return r
}

// deploy runs `hoist deploy` of the release at version after writing the
// config and the compose file.
func (s *service) deploy(version string, a app, flags ...string) result {
	s.t.Helper()
	s.compose(version, a)
	args := append([]string{"deploy", "--config", s.hoistYML(), "--version", version}, flags...)
	return s.hoist(args...)
}

// mustDeploy deploys and requires the success line.
func (s *service) mustDeploy(version string, a app) result {
	s.t.Helper()
	r := s.deploy(version, a)
	r.want(s.t, 0, s.deployedLine(version))
	return r
}

func (s *service) deployedLine(version string) string {
	return fmt.Sprintf("✅ Successfully deployed %s version %s", s.name, version)
}

// want checks the exit code and that stdout holds each line exactly.
func (r result) want(t testing.TB, code int, lines ...string) {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit code %d, want %d\n%s", r.code, code, r)
	}
	for _, l := range lines {
		if !slices.Contains(outLines(r.stdout), l) {
			t.Fatalf("stdout has no line %q\n%s", l, r)
		}
	}
}

// line returns the stdout line starting with prefix, failing without one.
func (r result) line(t testing.TB, prefix string) string {
	t.Helper()
	for _, l := range outLines(r.stdout) {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	t.Fatalf("stdout has no line starting with %q\n%s", prefix, r)
	return ""
}

func outLines(s string) []string { return strings.Split(strings.TrimRight(s, "\n"), "\n") }

// wantContains fails unless s holds every part.
func wantContains(t testing.TB, what, s string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(s, p) {
			t.Fatalf("%s does not contain %q:\n%s", what, p, s)
		}
	}
}

// sshRun runs a shell script on test bed host n as the deploy user, with
// the test bed's ssh config; it returns stdout and stderr together.
func sshRun(n int, script string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ssh", "-F", suite.env.SSHConfig, fmt.Sprintf("h%d", n), "--", script)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// ssh is sshRun that fails the test on error.
func ssh(t testing.TB, n int, script string) string {
	t.Helper()
	out, err := sshRun(n, script)
	if err != nil {
		t.Fatalf("on h%d: %s: %v\n%s", n, script, err, out)
	}
	return out
}

// hostState is what a user checks on one host, read in one SSH session:
// where current points, the release folders and the project's containers.
type hostState struct {
	current    string      // "" when there is no current link
	releases   []string    // sorted by name, "V (failed)" when marked failed
	containers []container // of the compose project, running or not
}

// container is a line of `docker ps --format json`, filtered to the compose
// project's label: the same containers `docker compose ps --all` lists.
type container struct {
	Names, Image, State, Status string
}

// health is the container's health as docker ps shows it in Status.
func (c container) health() string {
	for _, h := range []string{"unhealthy", "healthy", "health: starting"} {
		if strings.Contains(c.Status, "("+h+")") {
			return h
		}
	}
	return ""
}

const stateSep = "@@hoist-e2e@@"

// state reads host n.
func (s *service) state(n int) hostState {
	s.t.Helper()
	script := fmt.Sprintf(`readlink %[4]s; echo %[3]s
if cd %[1]s 2>/dev/null; then for d in *; do if [ -d "$d" ] && [ ! -L "$d" ]; then if [ -e "$d/.hoist-failed" ]; then echo "$d (failed)"; else echo "$d"; fi; fi; done; fi; echo %[3]s
docker ps --all --filter label=com.docker.compose.project=%[2]s --format '{{json .}}'`, remote.Quote(s.base), s.name, stateSep, remote.Quote(s.base+"/current"))
	out := ssh(s.t, n, script)
	parts := strings.Split(out, stateSep+"\n")
	if len(parts) != 3 {
		s.t.Fatalf("h%d: reading the state of %s: unexpected output:\n%s", n, s.name, out)
	}
	var st hostState
	st.current = strings.TrimSpace(parts[0])
	for _, l := range strings.Split(strings.TrimSpace(parts[1]), "\n") {
		if l != "" {
			st.releases = append(st.releases, l)
		}
	}
	sort.Strings(st.releases)
	dec := json.NewDecoder(strings.NewReader(parts[2]))
	for {
		var c container
		if err := dec.Decode(&c); err == io.EOF {
			break
		} else if err != nil {
			s.t.Fatalf("h%d: docker ps output: %v\n%s", n, err, parts[2])
		}
		st.containers = append(st.containers, c)
	}
	return st
}

// wantState checks every host of the service: current points at current,
// the release folders are exactly releases (in any order, "V (failed)"
// for a marked one), and, unless image is "", the project runs exactly one
// container, of image.
func (s *service) wantState(current, image string, releases ...string) {
	s.t.Helper()
	releases = slices.Clone(releases)
	sort.Strings(releases)
	for _, h := range s.hosts {
		st := s.state(h)
		if st.current != current {
			s.t.Fatalf("h%d: %s/current -> %q, want %q", h, s.base, st.current, current)
		}
		if !slices.Equal(st.releases, releases) {
			s.t.Fatalf("h%d: release folders in %s are %q, want %q", h, s.base, st.releases, releases)
		}
		if image == "" {
			continue
		}
		if cs := st.containers; len(cs) != 1 || cs[0].State != "running" || cs[0].Image != image {
			s.t.Fatalf("h%d: containers of %s are %+v, want one running %s", h, s.name, cs, image)
		}
	}
}

// wantNoBase checks that remote_base does not exist on any of the
// service's hosts.
func (s *service) wantNoBase() {
	s.t.Helper()
	for _, n := range s.hosts {
		if out := ssh(s.t, n, fmt.Sprintf("ls -d %s 2>/dev/null || true", remote.Quote(s.base))); strings.TrimSpace(out) != "" {
			s.t.Fatalf("h%d: %s exists, but nothing should have touched the host", n, s.base)
		}
	}
}

// get answers GET http://host:port/ ("" and the error when it fails).
func get(url string) (string, error) {
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return strings.TrimSpace(string(b)), fmt.Errorf("%s", resp.Status)
	}
	return strings.TrimSpace(string(b)), err
}

// wantServes checks that every host answers version on the service's port.
// The release was checked running before hoist returned; the app may still
// need a moment to listen, so a few seconds of retries are allowed.
func (s *service) wantServes(version string) {
	s.t.Helper()
	for _, h := range s.hosts {
		url := fmt.Sprintf("http://%s:%d/", suite.env.Host(h), s.port)
		if got, err := getEventually(url, version); err != nil || got != version {
			s.t.Fatalf("GET %s: %q (%v), want %q", url, got, err, version)
		}
	}
}

// getEventually GETs url until it answers want, for up to 5 s, and returns
// the last answer.
func getEventually(url, want string) (got string, err error) {
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		got, err = get(url)
		if (err == nil && got == want) || time.Now().After(deadline) {
			return got, err
		}
	}
}

// temporal runs the temporal CLI against the suite's dev server.
func temporal(t testing.TB, args ...string) ([]byte, error) {
	t.Helper()
	ctx := withTimeout(t, time.Minute)
	args = append(args, temporalCLIFlags()...)
	cmd := exec.CommandContext(ctx, suite.env.TemporalBin, args...)
	cmd.Env = cleanEnv()
	var errb bytes.Buffer
	cmd.Stderr = &errb
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("temporal %s: %v: %s", strings.Join(args, " "), err, errb.String())
	}
	return out, nil
}

// history is a workflow's event history as `temporal workflow show
// --output json` prints it.
type history struct {
	raw    []byte
	Events []struct {
		EventID                              string `json:"eventId"`
		EventType                            string `json:"eventType"`
		ActivityTaskCompletedEventAttributes *struct {
			ScheduledEventID string `json:"scheduledEventId"`
			Result           struct {
				Payloads []struct{ Data []byte } // base64 in the JSON
			}
		} `json:"activityTaskCompletedEventAttributes"`
		ActivityTaskScheduledEventAttributes *struct{ ActivityType struct{ Name string } } `json:"activityTaskScheduledEventAttributes"`
		ActivityTaskStartedEventAttributes   *struct {
			ScheduledEventID string `json:"scheduledEventId"`
			Attempt          int    `json:"attempt"`
		} `json:"activityTaskStartedEventAttributes"`
		WorkflowExecutionFailedEventAttributes *struct {
			Failure struct {
				Message                string
				ApplicationFailureInfo struct{ Type string }
			}
		} `json:"workflowExecutionFailedEventAttributes"`
	} `json:"events"`
}

// deployHistory reads the history of the service's latest deploy or
// rollback workflow (deploy/SERVICE).
func (s *service) deployHistory() *history {
	s.t.Helper()
	return workflowHistory(s.t, "deploy/"+s.name)
}

func workflowHistory(t testing.TB, id string) *history {
	t.Helper()
	out, err := temporal(t, "workflow", "show", "--workflow-id", id, "--output", "json")
	if err != nil {
		t.Fatal(err)
	}
	h := &history{raw: out}
	if err := json.Unmarshal(out, h); err != nil {
		t.Fatalf("history of %s: %v", id, err)
	}
	return h
}

// activities lists the activity types scheduled, in order.
func (h *history) activities() []string {
	var out []string
	for _, e := range h.Events {
		if a := e.ActivityTaskScheduledEventAttributes; a != nil {
			out = append(out, a.ActivityType.Name)
		}
	}
	return out
}

// closed is the last event's type, without its EVENT_TYPE_ prefix.
func (h *history) closed() string {
	if len(h.Events) == 0 {
		return ""
	}
	return strings.TrimPrefix(h.Events[len(h.Events)-1].EventType, "EVENT_TYPE_")
}

// failureType is the application failure type the workflow failed with.
func (h *history) failureType() string {
	for _, e := range h.Events {
		if f := e.WorkflowExecutionFailedEventAttributes; f != nil {
			return f.Failure.ApplicationFailureInfo.Type
		}
	}
	return ""
}

// wantActivities checks the exact sequence of activities scheduled.
func (h *history) wantActivities(t *testing.T, want ...string) {
	t.Helper()
	if got := h.activities(); !slices.Equal(got, want) {
		t.Fatalf("activities in the history:\n  %v\nwant\n  %v", got, want)
	}
}

// activityResults are the decoded results of every completed activity of
// type name, in order.
func (h *history) activityResults(name string) []string {
	scheduled := map[string]bool{}
	var out []string
	for _, e := range h.Events {
		if a := e.ActivityTaskScheduledEventAttributes; a != nil && a.ActivityType.Name == name {
			scheduled[e.EventID] = true
		}
		if c := e.ActivityTaskCompletedEventAttributes; c != nil && scheduled[c.ScheduledEventID] {
			var parts []string
			for _, p := range c.Result.Payloads {
				parts = append(parts, string(p.Data))
			}
			out = append(out, strings.Join(parts, ","))
		}
	}
	return out
}
