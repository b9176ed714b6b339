package loadgen

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// server is a test backend that counts what it saw. Its handler decides
// per request (numbered from 1) what to do; stop ends the load when the
// backend has handled that many requests, so no test depends on timing.
type server struct {
	*httptest.Server
	requests, conns atomic.Int64
}

func newServer(t *testing.T, handle func(n int64, w http.ResponseWriter, r *http.Request)) *server {
	s := &server{}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handle(s.requests.Add(1), w, r)
	}))
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

// Both versions are seen, and no request started after the switch is
// answered by the old one; in the keep-alive modes a worker keeps its
// connection, in NewConnection every request has its own.
func TestVersionsAcrossASwitch(t *testing.T) {
	for _, mode := range Modes {
		t.Run(string(mode), func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			// The handler numbers requests and picks the version under one
			// lock: numbered by the server's counter, request 101 could
			// read the version before request 100 stored v2.
			var mu sync.Mutex
			var seen int
			version := "v1"
			var switchedAt time.Time
			s := newServer(t, func(_ int64, w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				seen++
				if seen == 100 {
					switchedAt = time.Now() // before any v2 answer
					version = "v2"
				}
				if seen >= 200 {
					cancel()
				}
				v := version
				mu.Unlock()
				fmt.Fprintf(w, "%s\nmore body\n", v)
			})
			res := Run(ctx, Config{URL: s.URL, Mode: mode, Workers: 4})
			t.Log(res)
			mu.Lock()
			defer mu.Unlock()
			if f := res.Failures(); len(f) != 0 {
				t.Fatalf("%d failures, first %+v", len(f), f[0])
			}
			if got := int64(res.Total()); got != s.requests.Load() {
				t.Errorf("recorded %d requests, the server handled %d", got, s.requests.Load())
			}
			vs := res.Versions()
			if vs["v1"] != 99 || vs["v2"] != res.Total()-99 {
				t.Errorf("versions %v of %d requests, want v1=99 and the rest v2", vs, res.Total())
			}
			if after := res.SeenAfter(switchedAt); !slices.Equal(after, []string{"v2"}) {
				t.Errorf("versions seen after the switch: %v, want [v2]", after)
			}
			last, ok := res.LastSeen("v1")
			if !ok || !last.Before(switchedAt) {
				t.Errorf("v1 last seen at %v (%v), after the switch at %v", last, ok, switchedAt)
			}
			if first, ok := res.FirstSeen("v2"); !ok || first.Before(res.Records[0].Start) {
				t.Errorf("v2 first seen at %v (%v)", first, ok)
			}
			conns := s.conns.Load()
			if mode == NewConnection && conns != int64(res.Total()) {
				t.Errorf("%d connections for %d requests, want one each", conns, res.Total())
			}
			if mode != NewConnection && conns > int64(res.Total()/4) {
				t.Errorf("%d connections for %d requests from 4 workers: connections were not kept", conns, res.Total())
			}
		})
	}
}

// Every answer outside 2xx is counted, with its status and time.
func TestNon2xxCounted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var failed atomic.Int64
	s := newServer(t, func(n int64, w http.ResponseWriter, r *http.Request) {
		if n >= 100 {
			cancel()
		}
		if n%7 == 0 {
			failed.Add(1)
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "v1")
	})
	start := time.Now()
	res := Run(ctx, Config{URL: s.URL, Mode: KeepAlivePOST, Workers: 3})
	bad := res.Non2xx()
	if int64(len(bad)) != failed.Load() || len(bad) == 0 {
		t.Fatalf("%d non-2xx recorded, the server failed %d", len(bad), failed.Load())
	}
	if len(res.TransportErrors()) != 0 || len(res.Failures()) != len(bad) {
		t.Errorf("transport errors %d, failures %d, want 0 and %d", len(res.TransportErrors()), len(res.Failures()), len(bad))
	}
	for _, b := range bad {
		if b.Status != http.StatusServiceUnavailable || b.Start.Before(start) || b.Version != "down" {
			t.Errorf("failure recorded as %+v", b)
		}
	}
	if vs := res.Versions(); vs["v1"] != res.Total()-len(bad) || len(vs) != 1 {
		t.Errorf("versions %v: failed answers counted as versions", vs)
	}
}

// A connection the server closes under a request is a transport error
// in the modes where Go's client does not retry: POST, and a request on a
// fresh connection.
func TestClosedConnectionsCounted(t *testing.T) {
	for _, mode := range []Mode{KeepAlivePOST, NewConnection} {
		t.Run(string(mode), func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var closed atomic.Int64
			s := newServer(t, func(n int64, w http.ResponseWriter, r *http.Request) {
				if n >= 100 {
					cancel()
				}
				if n%5 == 0 {
					conn, _, err := http.NewResponseController(w).Hijack()
					if err != nil {
						panic(err)
					}
					closed.Add(1)
					conn.Close()
					return
				}
				fmt.Fprintln(w, "v1")
			})
			res := Run(ctx, Config{URL: s.URL, Mode: mode, Workers: 4})
			t.Log(res)
			errs := res.TransportErrors()
			if int64(len(errs)) != closed.Load() || len(errs) == 0 {
				t.Fatalf("%d transport errors recorded, the server closed %d connections under a request", len(errs), closed.Load())
			}
			if int64(res.Total()) != s.requests.Load() {
				t.Errorf("recorded %d requests, the server saw %d: something was retried", res.Total(), s.requests.Load())
			}
			if errs[0].Status != 0 || errs[0].Err == "" {
				t.Errorf("transport error recorded as %+v", errs[0])
			}
		})
	}
}

// The contrast that makes KeepAlivePOST necessary: against the same
// server, Go's client resends a GET whose reused connection was closed
// under it, so most closes never show as errors.
func TestClosedConnectionsHiddenFromGET(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var closed atomic.Int64
	s := newServer(t, func(n int64, w http.ResponseWriter, r *http.Request) {
		if n >= 100 {
			cancel()
		}
		if n%5 == 0 {
			conn, _, err := http.NewResponseController(w).Hijack()
			if err != nil {
				panic(err)
			}
			closed.Add(1)
			conn.Close()
			return
		}
		fmt.Fprintln(w, "v1")
	})
	res := Run(ctx, Config{URL: s.URL, Mode: KeepAliveGET, Workers: 4})
	t.Logf("%s; the server closed %d connections under a request, saw %d requests", res, closed.Load(), s.requests.Load())
	if int64(len(res.TransportErrors())) >= closed.Load() || int64(res.Total()) >= s.requests.Load() {
		t.Errorf("no GET was resent: %d errors for %d closes, %d requests recorded of %d", len(res.TransportErrors()), closed.Load(), res.Total(), s.requests.Load())
	}
}

// Stopping the load lets requests in flight finish: they count as
// answered, not failed.
func TestStopIsNotAFailure(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const workers = 3
	var arrived sync.WaitGroup
	arrived.Add(workers)
	release := make(chan struct{})
	s := newServer(t, func(n int64, w http.ResponseWriter, r *http.Request) {
		if n <= workers {
			arrived.Done()
		}
		<-release
		fmt.Fprintln(w, "v1")
	})
	go func() {
		arrived.Wait() // every worker's first request is in flight
		cancel()
		close(release)
	}()
	res := Run(ctx, Config{URL: s.URL, Mode: KeepAliveGET, Workers: workers})
	if res.Total() != workers || len(res.Failures()) != 0 {
		t.Fatalf("%s; want %d answered requests", res, workers)
	}
}

func TestDurationEndsTheRun(t *testing.T) {
	s := newServer(t, func(n int64, w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "v1") })
	res := Run(context.Background(), Config{URL: s.URL, Mode: NewConnection, Workers: 2, Duration: 50 * time.Millisecond, Pause: time.Millisecond})
	if res.Total() == 0 || len(res.Failures()) != 0 {
		t.Fatalf("%s", res)
	}
}

func TestRefusesBadConfig(t *testing.T) {
	for _, c := range []Config{{URL: "127.0.0.1:80", Mode: KeepAliveGET}, {URL: "http://127.0.0.1:1/", Mode: "get"}} {
		res := Run(context.Background(), c)
		if res.Total() != 1 || len(res.TransportErrors()) != 1 {
			t.Errorf("%+v: %s", c, res)
		}
	}
}

func TestResultQueries(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	var recs []Record
	for i := range 100 {
		v := "v1"
		if i >= 60 {
			v = "v2"
		}
		recs = append(recs, Record{Start: at(i * 10), Latency: time.Duration(i+1) * time.Millisecond, Status: 200, Version: v})
	}
	recs[30] = Record{Start: at(300), Latency: 900 * time.Millisecond, Err: "connection reset"}
	recs[70] = Record{Start: at(700), Latency: 2 * time.Millisecond, Status: 502, Version: ""}
	recs[99].Version = "v1" // a late old answer
	r := Result{Mode: KeepAliveGET, Records: recs}

	if r.Total() != 100 || len(r.Failures()) != 2 || len(r.TransportErrors()) != 1 || len(r.Non2xx()) != 1 {
		t.Errorf("counts: %s", r)
	}
	if f := r.Failures(); !f[0].Start.Equal(at(300)) || !f[1].Start.Equal(at(700)) {
		t.Errorf("failures at %v, %v", f[0].Start, f[1].Start)
	}
	if first, ok := r.FirstSeen("v2"); !ok || !first.Equal(at(600)) {
		t.Errorf("FirstSeen(v2) = %v %v", first, ok)
	}
	if last, ok := r.LastSeen("v1"); !ok || !last.Equal(at(990)) {
		t.Errorf("LastSeen(v1) = %v %v", last, ok)
	}
	if _, ok := r.FirstSeen("v3"); ok {
		t.Error("v3 seen")
	}
	if got := r.SeenAfter(at(600)); !slices.Equal(got, []string{"v1", "v2"}) {
		t.Errorf("SeenAfter(600ms) = %v", got)
	}
	if got := r.SeenAfter(at(995)); len(got) != 0 {
		t.Errorf("SeenAfter(end) = %v", got)
	}
	if vs := r.Versions(); vs["v1"] != 59+1 || vs["v2"] != 38 {
		t.Errorf("versions %v", vs)
	}
	// Latencies 1..100 ms but #31 is 900 ms and #71 is 2 ms: sorted, the
	// 99th of 100 is 100 ms, the slowest 900 ms.
	if p := r.Percentile(99); p != 100*time.Millisecond {
		t.Errorf("p99 = %s", p)
	}
	if m := r.MaxLatency(); m != 900*time.Millisecond {
		t.Errorf("max = %s", m)
	}
	if p := r.Percentile(50); p != 50*time.Millisecond {
		t.Errorf("p50 = %s", p)
	}
	if p := (Result{}).Percentile(99); p != 0 {
		t.Errorf("p99 of nothing = %s", p)
	}
	if s := r.String(); !strings.Contains(s, "100 requests, 1 transport errors, 1 non-2xx, versions [v1=60 v2=38]") {
		t.Errorf("String() = %s", s)
	}
}
