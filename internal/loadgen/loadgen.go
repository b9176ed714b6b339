// Package loadgen drives constant HTTP load at one URL and records every
// request, so a test can say what a user would have seen during a deploy:
// how many requests failed and when, which versions answered and from
// when, and how long the slowest requests waited.
//
// Three modes, because each hides different failures:
//   - KeepAliveGET: one persistent connection per worker. Go's client
//     silently retries a GET whose reused connection the server closed,
//     so a dropped connection may not show here;
//   - KeepAlivePOST: the same with POSTs, which Go never retries: every
//     connection closed under a request is a failure;
//   - NewConnection: a fresh connection (GET) per request, so a port that
//     stops accepting shows at once.
package loadgen

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// Mode is how requests are sent.
type Mode string

const (
	KeepAliveGET  Mode = "keepalive-get"
	KeepAlivePOST Mode = "keepalive-post"
	NewConnection Mode = "new-connection"
)

// Modes are all modes, in the order tests run them.
var Modes = []Mode{KeepAliveGET, KeepAlivePOST, NewConnection}

// Config says what load to drive.
type Config struct {
	URL  string
	Mode Mode
	// Workers send requests concurrently, each one after the other
	// (default 4).
	Workers int
	// Duration bounds the run (0: until ctx is done). No request starts
	// after it, or after ctx is done; requests in flight then finish
	// (within Timeout) and count: stopping the load is never a failure.
	Duration time.Duration
	// Pause between one worker's requests (0: back to back).
	Pause time.Duration
	// Timeout of one request, a transport error when exceeded (default 10s).
	Timeout time.Duration
}

// Record is one request.
type Record struct {
	Start   time.Time
	Latency time.Duration // until the body was read
	Status  int           // 0 on a transport error
	Version string        // the body's first line (testapp answers its version)
	Err     string        // the transport error, if any
}

// Failed reports a transport error or a status outside 2xx.
func (r Record) Failed() bool { return r.Err != "" || r.Status < 200 || r.Status > 299 }

// Result is every request of a run, by start time.
type Result struct {
	Mode    Mode
	Records []Record
}

// Run drives the load and returns when it is over (see Config.Duration).
// A URL that cannot be requested, or an unknown mode, is one failed record.
func Run(ctx context.Context, c Config) Result {
	if u, err := url.Parse(c.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return Result{Mode: c.Mode, Records: []Record{{Start: time.Now(), Err: fmt.Sprintf("loadgen: %q is not an http(s) URL", c.URL)}}}
	}
	if !slices.Contains(Modes, c.Mode) {
		return Result{Mode: c.Mode, Records: []Record{{Start: time.Now(), Err: fmt.Sprintf("loadgen: unknown mode %q (want one of %v)", c.Mode, Modes)}}}
	}
	if c.Workers <= 0 {
		c.Workers = 4
	}
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
	if c.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.Duration)
		defer cancel()
	}
	perWorker := make([][]Record, c.Workers)
	var wg sync.WaitGroup
	for i := range perWorker {
		wg.Go(func() { perWorker[i] = worker(ctx, c) })
	}
	wg.Wait()
	res := Result{Mode: c.Mode}
	for _, rs := range perWorker {
		res.Records = append(res.Records, rs...)
	}
	slices.SortStableFunc(res.Records, func(a, b Record) int { return a.Start.Compare(b.Start) })
	return res
}

// worker sends requests until ctx is done, over its own transport: in the
// keep-alive modes, that is one connection reused as long as the server
// keeps it open.
func worker(ctx context.Context, c Config) []Record {
	tr := &http.Transport{
		DisableKeepAlives:   c.Mode == NewConnection,
		MaxIdleConnsPerHost: 1,
		DisableCompression:  true,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: c.Timeout}
	// In-flight requests are not cut short when the load stops.
	reqCtx := context.WithoutCancel(ctx)
	var out []Record
	for ctx.Err() == nil {
		out = append(out, once(reqCtx, client, c))
		if c.Pause > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(c.Pause):
			}
		}
	}
	return out
}

func once(ctx context.Context, client *http.Client, c Config) Record {
	method, body := http.MethodGet, io.Reader(nil)
	if c.Mode == KeepAlivePOST {
		method, body = http.MethodPost, strings.NewReader("loadgen")
	}
	req, err := http.NewRequestWithContext(ctx, method, c.URL, body)
	if err != nil {
		return Record{Start: time.Now(), Err: err.Error()}
	}
	r := Record{Start: time.Now()}
	resp, err := client.Do(req)
	if err != nil {
		r.Latency, r.Err = time.Since(r.Start), err.Error()
		return r
	}
	line, err := bufio.NewReader(io.LimitReader(resp.Body, 64<<10)).ReadString('\n')
	if err == io.EOF {
		err = nil
	}
	if err == nil {
		// The rest, so the connection can be reused.
		_, err = io.Copy(io.Discard, resp.Body)
	}
	resp.Body.Close()
	r.Latency, r.Status, r.Version = time.Since(r.Start), resp.StatusCode, strings.TrimRight(line, "\r\n")
	if err != nil {
		r.Err = "reading the body: " + err.Error()
	}
	return r
}

// Total is the number of requests sent.
func (r Result) Total() int { return len(r.Records) }

// Failures are the requests that failed, by start time.
func (r Result) Failures() []Record {
	return r.filter(Record.Failed)
}

// TransportErrors are the requests that got no complete answer.
func (r Result) TransportErrors() []Record {
	return r.filter(func(x Record) bool { return x.Err != "" })
}

// Non2xx are the requests answered with a status outside 2xx.
func (r Result) Non2xx() []Record {
	return r.filter(func(x Record) bool { return x.Err == "" && x.Failed() })
}

func (r Result) filter(keep func(Record) bool) []Record {
	var out []Record
	for _, x := range r.Records {
		if keep(x) {
			out = append(out, x)
		}
	}
	return out
}

// Versions counts the successful answers by version.
func (r Result) Versions() map[string]int {
	m := map[string]int{}
	for _, x := range r.Records {
		if !x.Failed() {
			m[x.Version]++
		}
	}
	return m
}

// FirstSeen is the start of the first successful request answered by
// version (false: none was).
func (r Result) FirstSeen(version string) (time.Time, bool) {
	for _, x := range r.Records {
		if !x.Failed() && x.Version == version {
			return x.Start, true
		}
	}
	return time.Time{}, false
}

// LastSeen is the start of the last successful request answered by version.
func (r Result) LastSeen(version string) (time.Time, bool) {
	for _, x := range slices.Backward(r.Records) {
		if !x.Failed() && x.Version == version {
			return x.Start, true
		}
	}
	return time.Time{}, false
}

// SeenAfter lists, sorted, the versions that answered requests started at
// or after t: a request started earlier may be answered by the old
// version whenever it ends.
func (r Result) SeenAfter(t time.Time) []string {
	var vs []string
	for _, x := range r.Records {
		if !x.Failed() && !x.Start.Before(t) && !slices.Contains(vs, x.Version) {
			vs = append(vs, x.Version)
		}
	}
	slices.Sort(vs)
	return vs
}

// MaxLatency is the slowest request's latency, failed ones included.
func (r Result) MaxLatency() time.Duration { return r.Percentile(100) }

// Percentile is the latency p percent of requests (failed ones included)
// took at most, by nearest rank: Percentile(99) is the p99.
func (r Result) Percentile(p float64) time.Duration {
	if len(r.Records) == 0 {
		return 0
	}
	ls := make([]time.Duration, len(r.Records))
	for i, x := range r.Records {
		ls[i] = x.Latency
	}
	slices.Sort(ls)
	rank := int(math.Ceil(p / 100 * float64(len(ls))))
	return ls[min(max(rank, 1), len(ls))-1]
}

// String is a one-line summary for test logs and benchmarks.
func (r Result) String() string {
	vs := r.Versions()
	names := make([]string, 0, len(vs))
	for v := range vs {
		names = append(names, v)
	}
	slices.Sort(names)
	var seen []string
	for _, v := range names {
		seen = append(seen, fmt.Sprintf("%s=%d", v, vs[v]))
	}
	return fmt.Sprintf("%s: %d requests, %d transport errors, %d non-2xx, versions [%s], p99 %s, max %s",
		r.Mode, r.Total(), len(r.TransportErrors()), len(r.Non2xx()), strings.Join(seen, " "),
		r.Percentile(99).Round(time.Microsecond), r.MaxLatency().Round(time.Microsecond))
}
