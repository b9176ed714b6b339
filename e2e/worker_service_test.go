//go:build integration

package e2e

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/hoist-dev/hoist/remote"
	hoistworker "github.com/hoist-dev/hoist/worker"
)

// The worker as a service (issue 12 §5): its metrics and health
// endpoint during real deploys, and a SIGTERM in the middle of a compose
// up. Ports 18360-18369 are this file's (18369: deploy/'s image test).
const (
	portSvcMetrics    = 18360 // published by the metrics test's service
	portSvcSigterm    = 18361
	metricsSvcMetrics = 18362 // --metrics-addr of the metrics test's worker
	metricsSvcSigterm = 18363
)

// newSvcService is a service named svc-PREFIX-RANDOM on a task queue of
// its own: the test's workers are the only ones that run its deploys,
// and so the only ones whose metrics count them.
func newSvcService(t *testing.T, prefix string, port int, hosts ...int) *service {
	t.Helper()
	if len(hosts) == 0 {
		hosts = []int{1}
	}
	name := fmt.Sprintf("svc-%s-%06x", prefix, rand.Uint32()&0xffffff)
	s := &service{
		t: t, name: name, base: "/srv/e2e/" + name, port: port, hosts: hosts,
		dir: t.TempDir(), queue: suite.queue + "-" + name, wait: "{retries: 5, delay: 1s}",
	}
	if err := os.MkdirAll(filepath.Join(s.dir, "files"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.cleanup)
	return s
}

// svcWorker starts `hoist worker` on the service's queue with
// --metrics-addr 127.0.0.1:metricsPort and --log-format json, and waits
// until /healthz says 200: that is how a supervisor knows it polls. It is
// stopped when the test ends, and its log shown when the test failed.
func (s *service) svcWorker(tag string, metricsPort int) (*worker, string) {
	s.t.Helper()
	logPath := filepath.Join(suite.tmp, s.name+"-"+tag+".log")
	f, err := os.Create(logPath)
	if err != nil {
		s.t.Fatal(err)
	}
	defer f.Close()
	base := fmt.Sprintf("http://127.0.0.1:%d", metricsPort)
	cmd := exec.Command(suite.bin, "--task-queue", s.queue, "worker",
		"--ssh-key", suite.env.SSHKey, "--known-hosts", suite.env.KnownHosts, "--log-level", "debug",
		"--metrics-addr", strings.TrimPrefix(base, "http://"), "--log-format", "json")
	cmd.Env = temporalEnv()
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	w := &worker{cmd: cmd, done: make(chan error, 1), log: logPath}
	go func() { w.done <- cmd.Wait() }()
	s.t.Cleanup(func() {
		_ = w.stop()
		if s.t.Failed() {
			s.t.Logf("log of worker %s (%s), last lines:\n%s", tag, logPath, tail(logPath, 30))
		}
	})
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if code, _ := healthz(base); code == http.StatusOK {
			return w, base
		}
		select {
		case err := <-w.done:
			s.t.Fatalf("worker %s exited before it was healthy (%v):\n%s", tag, err, tail(logPath, 30))
		default:
		}
		if time.Now().After(deadline) {
			code, body := healthz(base)
			s.t.Fatalf("worker %s: /healthz %d %q 20 s after start:\n%s", tag, code, body, tail(logPath, 30))
		}
	}
}

func healthz(base string) (int, string) {
	resp, err := http.Get(base + "/healthz")
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// scrape reads base/metrics into series name → samples; a sample's key is
// its labels, sorted, k="v" comma-separated (a histogram's value is its
// count).
func scrape(t *testing.T, base string) map[string]map[string]float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("/metrics is not Prometheus text: %v", err)
	}
	out := map[string]map[string]float64{}
	for name, f := range families {
		out[name] = map[string]float64{}
		for _, m := range f.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			sort.Strings(labels)
			v := m.GetCounter().GetValue()
			if h := m.GetHistogram(); h != nil {
				v = float64(h.GetSampleCount())
			}
			out[name][strings.Join(labels, ",")] = v
		}
	}
	return out
}

// sumOf adds the samples of series name whose labels include every one of
// want (k="v").
func sumOf(m map[string]map[string]float64, name string, want ...string) float64 {
	total := 0.0
	for labels, v := range m[name] {
		all := true
		for _, w := range want {
			all = all && strings.Contains(","+labels+",", ","+w+",")
		}
		if all {
			total += v
		}
	}
	return total
}

// During real deploys the counters move, and only by what happened: a
// deploy, a crash rolled back, a host whose user is refused; the SDK's
// own metrics are served beside hoist's; a query, which replays the whole
// history of a finished deploy on the worker, counts nothing again; and
// every line the worker logged is JSON.
func TestWorkerMetricsDuringDeploys(t *testing.T) {
	t.Parallel()
	s := newSvcService(t, "metrics", portSvcMetrics)
	w, base := s.svcWorker("w1", metricsSvcMetrics)
	queue := fmt.Sprintf("task_queue=%q", s.queue)
	before := scrape(t, base)

	s.mustDeploy("v1", image("v1"))
	s.deploy("v2", image("v2").crashing()).want(t, 1)
	after := scrape(t, base)
	moved := func(name string, labels ...string) float64 {
		return sumOf(after, name, append(labels, queue)...) - sumOf(before, name, append(labels, queue)...)
	}
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"hoist_deploys_total", []string{`kind="deploy"`, `outcome="deployed"`, `workflow_type="Deploy"`}, 1},
		{"hoist_deploys_total", []string{`kind="deploy"`, `outcome="rolled back"`}, 1},
		{"hoist_deploys_total", nil, 2},
		{"hoist_rollbacks_total", []string{`kind="deploy"`, `result="ok"`}, 1},
		{"hoist_step_duration_seconds", []string{`activity_type="StartRelease"`, `result="ok"`}, 3}, // v1, v2, v1 again
		// A crash is the running check's verdict, not its failure.
		{"hoist_step_duration_seconds", []string{`activity_type="WaitRunning"`, `result="ok"`}, 3},
		{"hoist_step_duration_seconds", []string{`result="failed"`}, 0},
	} {
		if got := moved(c.name, c.labels...); got != c.want {
			t.Errorf("%s{%s} moved by %v, want %v; now:\n%v", c.name, strings.Join(c.labels, ","), got, c.want, after[c.name])
		}
	}
	// The SDK's metrics, through the same handler.
	if got := moved("temporal_workflow_completed_total", `workflow_type="Deploy"`); got != 1 {
		t.Errorf("temporal_workflow_completed_total{workflow_type=Deploy} moved by %v, want 1", got)
	}
	if got := moved("temporal_activity_execution_latency_seconds", `activity_type="StartRelease"`); got != 3 {
		t.Errorf("temporal_activity_execution_latency_seconds{activity_type=StartRelease} moved by %v, want 3", got)
	}

	// A query on the finished deploy: the worker replays its whole
	// history (a closed workflow is not kept in its cache) and counts
	// nothing again.
	if out, err := temporal(t, "workflow", "query", "--workflow-id", "deploy/"+s.name, "--type", "progress"); err != nil || !strings.Contains(string(out), `"phase"`) {
		t.Fatalf("query: %v\n%s", err, out)
	}
	if replayed := scrape(t, base); sumOf(replayed, "hoist_deploys_total", queue) != sumOf(after, "hoist_deploys_total", queue) {
		t.Fatalf("a query's replay counted a deploy again: %v, was %v", replayed["hoist_deploys_total"], after["hoist_deploys_total"])
	}

	// A host that refuses the user: one failed connection attempt, by
	// reason, never by host (the SSH client counts; that worker is
	// ours alone).
	sshBefore := sumOf(scrape(t, base), "hoist_ssh_connection_errors_total", `reason="auth"`)
	refused := newSvcService(t, "metricsauth", portSvcMetrics)
	refused.queue = s.queue
	refused.compose("v1", image("v1"))
	cfg := refused.hoistYML()
	text, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg, []byte(strings.Replace(string(text), "user: "+suite.env.User, "user: nosuchuser", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := refused.hoist("deploy", "--config", cfg, "--version", "v1"); r.code == 0 || !strings.Contains(r.stdout+r.stderr, "auth") {
		t.Fatalf("a deploy as a refused user: %s", r)
	}
	final := scrape(t, base)
	if got := sumOf(final, "hoist_ssh_connection_errors_total", `reason="auth"`) - sshBefore; got < 1 {
		t.Errorf("hoist_ssh_connection_errors_total{reason=auth} moved by %v, want at least 1: %v", got, final["hoist_ssh_connection_errors_total"])
	}
	for labels := range final["hoist_ssh_connection_errors_total"] {
		if strings.Contains(labels, "host") {
			t.Errorf("SSH errors are labelled by host: %s", labels)
		}
	}

	if err := w.stop(); err != nil {
		t.Fatal(err)
	}
	log, err := os.ReadFile(w.log)
	if err != nil {
		t.Fatal(err)
	}
	sdk := false
	for _, l := range strings.Split(strings.TrimSpace(string(log)), "\n") {
		if !strings.HasPrefix(l, "{") || !strings.HasSuffix(l, "}") {
			t.Errorf("a line of the worker's log is not JSON: %s", l)
		}
		sdk = sdk || strings.Contains(l, `"msg":"Started Worker"`) && strings.Contains(l, `"component":"temporal"`)
	}
	if !sdk {
		t.Error("the SDK's own lines are not in the JSON log")
	}
}

// SIGTERM to the worker while a compose up runs (systemctl stop, docker
// stop): /healthz turns 503 at once, the up runs to its end, the worker
// exits 0 after it, and the up's success is in the history; a second
// worker goes on from there. The host is never left half up: both
// services of the release run, the up ran once (attempt 1) and nothing
// is left over. The release's web waits for its db to be healthy (its
// first check after 6 s), so the up takes that long; cut off by the stop,
// it would leave v1 removed, v2's db up and its web created, never
// started.
func TestWorkerSIGTERMDuringComposeUp(t *testing.T) {
	t.Parallel()
	s := newSvcService(t, "sigterm", portSvcSigterm)
	w1, base := s.svcWorker("w1", metricsSvcSigterm)
	s.mustDeploy("v1", image("v1"))

	writeComposeFile(t, s, fmt.Sprintf(`services:
  db:
    image: %[1]s
    environment: {VERSION: "db-v2", PORT: "9090"}
    healthcheck:
      test: ["CMD", "/app", "-healthcheck"]
      interval: 6s
      timeout: 2s
      retries: 3
  web:
    image: %[1]s
    ports: ["%[2]d:8080"]
    environment: {VERSION: "v2"}
    depends_on:
      db: {condition: service_healthy}
`, suite.env.Image("v2"), s.port))
	s.hoist("deploy", "--config", s.hoistYML(), "--version", "v2", "--detach").want(t, 0)
	// compose up has created v2's db and waits for it to be healthy.
	dbCreated := fmt.Sprintf("docker ps --all --quiet --filter label=com.docker.compose.project=%s --filter label=com.docker.compose.service=db | grep -q .", remote.Quote(s.name))
	waitRemote(t, 1, time.Minute, "compose up of v2 to create db", dbCreated)
	webState := fmt.Sprintf("docker ps --all --filter label=com.docker.compose.project=%s --filter label=com.docker.compose.service=web --format '{{.State}} {{.Image}}'", remote.Quote(s.name))
	if out := strings.TrimSpace(ssh(t, 1, webState)); out != "created "+suite.env.Image("v2") {
		t.Fatalf("while v2's up waits for db, web is %q, want v2's created, not started", out)
	}

	if err := w1.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	signalled := time.Now()
	// The signal is handled a moment later, not within Signal.
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		code, body := healthz(base)
		if code == http.StatusServiceUnavailable && strings.Contains(body, "stopping") {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("/healthz 2 s into the stop: %d %q, want 503 stopping", code, body)
			break
		}
	}
	var exitErr error
	select {
	case exitErr = <-w1.done:
	case <-time.After(hoistworker.StopTimeout + 30*time.Second):
		t.Fatalf("the worker did not exit within %s of SIGTERM", hoistworker.StopTimeout+30*time.Second)
	}
	took := time.Since(signalled)
	var exit *exec.ExitError
	if errors.As(exitErr, &exit) || exitErr != nil {
		t.Fatalf("the worker exited %v after SIGTERM, want 0:\n%s", exitErr, tail(w1.log, 20))
	}
	// It exited after the up ended, not before: v2's web had been
	// created by then, and the up's success reached the history.
	if out := ssh(t, 1, webState); !strings.HasPrefix(strings.TrimSpace(out), "running "+suite.env.Image("v2")) {
		t.Fatalf("when the stopped worker exited, web was %q: the up was cut off", out)
	}
	h := s.deployHistory()
	if h.completed("StartRelease") != 1 { // the history of v2's deploy
		t.Fatalf("the up's success is not in the history: StartRelease completed %d times; activities %v", h.completed("StartRelease"), h.activities())
	}
	logText, _ := os.ReadFile(w1.log)
	if !strings.Contains(string(logText), "stopping: no new steps are taken") {
		t.Errorf("the worker's log does not say it is stopping:\n%s", tail(w1.log, 20))
	}
	t.Logf("the worker exited %s after SIGTERM, the up done", took.Round(100*time.Millisecond))

	s.svcWorker("w2", metricsSvcSigterm)
	h = s.waitClosed(recoverWithin)
	if h.closed() != "WORKFLOW_EXECUTION_COMPLETED" {
		t.Fatalf("deploy ended %s (%s), want completed; activities %v", h.closed(), h.failureType(), h.activities())
	}
	if n := h.attempts("StartRelease"); n != 1 {
		t.Errorf("v2's up ran on attempt %d, want 1: it was cut off and run again", n)
	}
	h.wantScheduled(t, map[string]int{"StartRelease": 1, "WaitRunning": 1})
	st := s.state(1)
	if st.current != "v2" {
		t.Fatalf("current is %q, want v2", st.current)
	}
	if len(st.containers) != 2 {
		t.Fatalf("containers %+v, want v2's db and web", st.containers)
	}
	for _, c := range st.containers {
		if c.State != "running" || c.Image != suite.env.Image("v2") {
			t.Fatalf("containers %+v, want v2's db and web running", st.containers)
		}
	}
	s.wantServes("v2")
	s.wantTidy()
	r := s.hoist("watch", "-c", s.hoistYML())
	r.want(t, 0, s.deployedLine("v2"))
}
