package metrics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/hoist-dev/hoist/sshexec"
)

func newMetrics(t *testing.T) *Metrics {
	t.Helper()
	m, err := New(func(err error) { t.Errorf("meter: %v", err) })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Shutdown(context.Background()) })
	return m
}

// scrape GETs /metrics and returns its samples as "name{l="v",...} value"
// lines, labels sorted, and the raw text.
func scrape(t *testing.T, h http.Handler) (map[string]float64, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("/metrics: %d %s", rec.Code, rec.Body)
	}
	text := rec.Body.String()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatalf("/metrics is not Prometheus text: %v\n%s", err, text)
	}
	out := map[string]float64{}
	for name, f := range families {
		for _, m := range f.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			key := name + "{" + strings.Join(labels, ",") + "}"
			switch {
			case m.GetCounter() != nil:
				out[key] = m.GetCounter().GetValue()
			case m.GetHistogram() != nil:
				out[key+" count"] = float64(m.GetHistogram().GetSampleCount())
				out[key+" sum"] = m.GetHistogram().GetSampleSum()
			case m.GetGauge() != nil:
				out[key] = m.GetGauge().GetValue()
			}
		}
	}
	return out, text
}

// hoist's metrics come out under their Prometheus names, with their
// labels and nothing else (no OpenTelemetry scope or target labels),
// counters as counters and timers as histograms in seconds whose buckets
// reach minutes.
func TestHoistMetricsInPrometheusText(t *testing.T) {
	m := newMetrics(t)
	h := m.Handler().WithTags(map[string]string{"namespace": "default", "task_queue": "hoist"})
	Deploy(h, "deploy", "deployed", "")
	Deploy(h, "deploy", "rolled back", ResultOK)
	Deploy(h, "deploy", "rolled back", ResultOK)
	Deploy(h, "rollback", "unsafe", ResultFailed)
	Step(h.WithTags(map[string]string{"activity_type": "StartRelease"}), ResultOK, 90*time.Second)
	m.SSHConnectionError(&sshexec.ConnError{Op: "dial", Err: errors.New("refused")})

	got, text := scrape(t, m.Mux(func(context.Context) error { return nil }))
	want := map[string]float64{
		`hoist_deploys_total{kind="deploy",namespace="default",outcome="deployed",task_queue="hoist"}`:                       1,
		`hoist_deploys_total{kind="deploy",namespace="default",outcome="rolled back",task_queue="hoist"}`:                    2,
		`hoist_deploys_total{kind="rollback",namespace="default",outcome="unsafe",task_queue="hoist"}`:                       1,
		`hoist_rollbacks_total{kind="deploy",namespace="default",result="ok",task_queue="hoist"}`:                            2,
		`hoist_rollbacks_total{kind="rollback",namespace="default",result="failed",task_queue="hoist"}`:                      1,
		`hoist_step_duration_seconds{activity_type="StartRelease",namespace="default",result="ok",task_queue="hoist"} count`: 1,
		`hoist_step_duration_seconds{activity_type="StartRelease",namespace="default",result="ok",task_queue="hoist"} sum`:   90,
		`hoist_ssh_connection_errors_total{reason="dial"}`:                                                                   1,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	for k := range got {
		if strings.HasPrefix(k, "hoist_") {
			if _, ok := want[k]; !ok {
				t.Errorf("unexpected sample %s", k)
			}
		}
		if strings.Contains(k, "otel_scope") {
			t.Errorf("OpenTelemetry scope labels are exported: %s", k)
		}
	}
	for _, line := range []string{
		"# TYPE hoist_deploys_total counter",
		"# HELP hoist_ssh_connection_errors_total Failed SSH connection attempts, by reason.",
		"# TYPE hoist_step_duration_seconds histogram",
		`le="120"`, `le="600"`,
		"# TYPE go_goroutines gauge", // the runtime's collectors
	} {
		if !strings.Contains(text, line) {
			t.Errorf("/metrics has no %q:\n%s", line, text)
		}
	}
}

// /healthz answers 200 while the worker polls, 503 with the reason when
// it does not.
func TestHealthz(t *testing.T) {
	m := newMetrics(t)
	var why error
	mux := m.Mux(func(ctx context.Context) error {
		if _, ok := ctx.Deadline(); !ok {
			t.Error("the readiness check has no deadline")
		}
		return why
	})
	get := func() (int, string) {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
		b, _ := io.ReadAll(rec.Body)
		return rec.Code, string(b)
	}
	if code, body := get(); code != 200 || body != "ok: polling\n" {
		t.Fatalf("ready: %d %q", code, body)
	}
	why = errors.New("stopping: takes no new steps")
	if code, body := get(); code != 503 || body != "not ready: stopping: takes no new steps\n" {
		t.Fatalf("not ready: %d %q", code, body)
	}
}

func TestSSHReason(t *testing.T) {
	for err, want := range map[error]string{
		&sshexec.ConnError{Op: "dial", Err: errors.New("refused")}:               "dial",
		&sshexec.ConnError{Op: "dial via jump@j:22", Err: errors.New("refused")}: "dial",
		&sshexec.ConnError{Op: "handshake", Err: errors.New("timed out")}:        "handshake",
		fmt.Errorf("ssh h: via jump host j: %w", &sshexec.AuthError{}):           "auth",
		&sshexec.HostKeyError{Problem: sshexec.HostKeyChanged}:                   "host_key",
		fmt.Errorf("ssh h: %w", errors.New("known_hosts: permission denied")):    "other",
	} {
		if got := SSHReason(err); got != want {
			t.Errorf("SSHReason(%v) = %q, want %q", err, got, want)
		}
	}
}

// The server listens at once (a port in use is an error at start), serves
// the mux and stops.
func TestListen(t *testing.T) {
	m := newMetrics(t)
	s, err := Listen("127.0.0.1:0", m.Mux(func(context.Context) error { return nil }))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Listen(s.Addr(), http.NotFoundHandler()); err == nil {
		t.Error("a second server on the same port started")
	}
	resp, err := http.Get("http://" + s.Addr() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("/healthz: %s", resp.Status)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get("http://" + s.Addr() + "/healthz"); err == nil {
		t.Error("the server still answers after Close")
	}
}
