// Package metrics is what `hoist worker --metrics-addr` serves: the
// Temporal SDK's metrics and hoist's own in the Prometheus text format on
// /metrics, and the worker's health on /healthz.
//
// Everything goes through one Temporal metrics handler, backed by
// OpenTelemetry and exported to a Prometheus registry of its own (not the
// global one). The SDK hands that handler to workflows and activities
// (workflow.GetMetricsHandler, activity.GetMetricsHandler) with their
// tags set, and the workflow's skips replays, so a deploy replayed on
// another worker, or for a query, is not counted twice.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/otlptranslator"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.temporal.io/sdk/client"
	temporalotel "go.temporal.io/sdk/contrib/opentelemetry"

	"github.com/hoist-dev/hoist/sshexec"
)

// hoist's own metrics, as the handler is given them. In Prometheus
// counters get _total and timers _seconds: hoist_deploys_total,
// hoist_rollbacks_total, hoist_step_duration_seconds,
// hoist_ssh_connection_errors_total.
//
// Labels stay few: kinds, outcomes, results and reasons are fixed sets,
// and the SDK's tags (namespace, task_queue, workflow_type,
// activity_type) are a worker's own few. Host names are not labels: a
// deploy may name any host, so they would grow without bound; the log
// names the host of every failure.
const (
	// Deploys counts finished Deploy workflows (deploys and hoist
	// rollback) by kind (deploy, rollback) and outcome, as --output json
	// names it: deployed, warning, rolled back, failed, mixed, cancelled,
	// unsafe.
	Deploys = "hoist_deploys"
	// Rollbacks counts deploys that failed (or were cancelled) and put
	// the hosts they changed back, by kind and result: ok, or failed when
	// some host could not be put back (a human is needed).
	Rollbacks = "hoist_rollbacks"
	// StepDuration times every step (activity) the worker runs, by the
	// SDK's activity_type and result: ok, failed, cancelled.
	StepDuration = "hoist_step_duration"
	// SSHConnectionErrors counts failed SSH connection attempts by
	// reason: dial, handshake, auth, host_key, other.
	SSHConnectionErrors = "hoist_ssh_connection_errors"
)

// help is the HELP line of each of hoist's metrics (the SDK's have none).
var help = map[string]string{
	Deploys:             "Deploys and rollbacks (kind) that ended, by outcome as hoist deploy --output json names it.",
	Rollbacks:           "Failed or cancelled deploys that put the hosts they changed back, by result (failed: some host was not).",
	StepDuration:        "Time the worker's steps (activity_type) took, by result.",
	SSHConnectionErrors: "Failed SSH connection attempts, by reason.",
}

// Label names and values of hoist's metrics.
const (
	LabelKind    = "kind"
	LabelOutcome = "outcome"
	LabelResult  = "result"
	LabelReason  = "reason"

	ResultOK        = "ok"
	ResultFailed    = "failed"
	ResultCancelled = "cancelled"
)

// buckets are the histogram bounds of every timer, in seconds: from the
// SDK's millisecond RPCs to a pull or a running check of minutes.
// OpenTelemetry's default bounds (0 to 10000) are meant for milliseconds.
var buckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600}

// view gives hoist's metrics their help text and every timer buckets in
// seconds. One view for both: two matching one instrument would export
// it twice.
func view(i sdkmetric.Instrument) (sdkmetric.Stream, bool) {
	s := sdkmetric.Stream{Name: i.Name, Description: i.Description, Unit: i.Unit}
	h, ours := help[i.Name]
	if ours {
		s.Description = h
	}
	timer := i.Kind == sdkmetric.InstrumentKindHistogram && i.Unit == "s"
	if timer {
		s.Aggregation = sdkmetric.AggregationExplicitBucketHistogram{Boundaries: buckets}
	}
	return s, ours || timer
}

// Metrics holds the registry /metrics serves and the handler that feeds it.
type Metrics struct {
	registry *prometheus.Registry
	provider *sdkmetric.MeterProvider
	handler  client.MetricsHandler
}

// New makes an empty registry with the Go runtime's and the process's
// collectors, and the Temporal metrics handler that records into it.
// onError hears of an instrument the meter refused (the SDK's default
// panics).
func New(onError func(error)) (*Metrics, error) {
	reg := prometheus.NewRegistry()
	if err := reg.Register(collectors.NewGoCollector()); err != nil {
		return nil, err
	}
	if err := reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})); err != nil {
		return nil, err
	}
	exporter, err := otelprom.New(
		otelprom.WithRegisterer(reg),
		otelprom.WithTranslationStrategy(otlptranslator.UnderscoreEscapingWithSuffixes),
		otelprom.WithoutScopeInfo(),
		otelprom.WithoutTargetInfo(),
	)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter), sdkmetric.WithView(view))
	if onError == nil {
		onError = func(error) {}
	}
	handler := temporalotel.NewMetricsHandler(temporalotel.MetricsHandlerOptions{
		Meter: provider.Meter("hoist"),
		// Counters only go up: exported as Prometheus counters (_total),
		// not gauges.
		UseMonotonicCounters: true,
		OnError:              onError,
	})
	return &Metrics{registry: reg, provider: provider, handler: handler}, nil
}

// Handler is the Temporal metrics handler: client.Options.MetricsHandler.
func (m *Metrics) Handler() client.MetricsHandler { return m.handler }

// Shutdown flushes and stops the meter provider.
func (m *Metrics) Shutdown(ctx context.Context) error { return m.provider.Shutdown(ctx) }

// SSHConnectionError counts a failed SSH connection attempt:
// sshexec.Config.OnConnectError.
func (m *Metrics) SSHConnectionError(err error) {
	m.handler.WithTags(map[string]string{LabelReason: SSHReason(err)}).Counter(SSHConnectionErrors).Inc(1)
}

// SSHReason is the reason label of an SSH connection error.
func SSHReason(err error) string {
	var (
		conn *sshexec.ConnError
		auth *sshexec.AuthError
		hk   *sshexec.HostKeyError
	)
	switch {
	case errors.As(err, &hk):
		return "host_key"
	case errors.As(err, &auth):
		return "auth"
	case errors.As(err, &conn) && conn.Op == "handshake":
		return "handshake"
	case errors.As(err, &conn):
		return "dial" // TCP connect, direct or through a jump host
	}
	return "other" // a key file or known_hosts that could not be read
}

// Deploy counts a finished deploy, and its rollback when it had one
// (rollback is "", ResultOK or ResultFailed). h is the workflow's
// handler, workflow.GetMetricsHandler, which records nothing in replay.
func Deploy(h client.MetricsHandler, kind, outcome, rollback string) {
	h.WithTags(map[string]string{LabelKind: kind, LabelOutcome: outcome}).Counter(Deploys).Inc(1)
	if rollback != "" {
		h.WithTags(map[string]string{LabelKind: kind, LabelResult: rollback}).Counter(Rollbacks).Inc(1)
	}
}

// Step records how long a step took. h is the activity's handler,
// activity.GetMetricsHandler.
func Step(h client.MetricsHandler, result string, took time.Duration) {
	h.WithTags(map[string]string{LabelResult: result}).Timer(StepDuration).Record(took)
}

// Ready says whether the worker polls: nil, or why not.
type Ready func(context.Context) error

// readyTimeout bounds one health check: a probe must get an answer.
const readyTimeout = 3 * time.Second

// Mux serves /metrics (Prometheus text) and /healthz: 200 "ok" when ready
// says nil, else 503 with its reason.
func (m *Metrics) Mux(ready Ready) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		defer cancel()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if err := ready(ctx); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, "not ready: %v\n", err)
			return
		}
		fmt.Fprintln(w, "ok: polling")
	})
	return mux
}

// Server is the HTTP server of --metrics-addr.
type Server struct {
	srv  *http.Server
	ln   net.Listener
	done chan error
}

// Listen opens addr (host:port) now, so a port in use stops the worker
// at start rather than leaving it unwatched, and serves h on it.
func Listen(addr string, h http.Handler) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &Server{srv: &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}, ln: ln, done: make(chan error, 1)}
	go func() { s.done <- s.srv.Serve(ln) }()
	return s, nil
}

// Addr is the address the server listens on (a port 0 resolved).
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops the server, letting requests in flight end within ctx.
func (s *Server) Close(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if serr := <-s.done; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}
