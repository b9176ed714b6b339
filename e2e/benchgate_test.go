//go:build integration

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/internal/loadgen"
)

// The benchmarks of issue 11 (make bench): the playbook's scenario — the
// demo app with a healthcheck every 3 s, a restart policy, wait {retries:
// 6, delay: 5s} — deployed with strategy recreate and zero-downtime under
// constant load, an unhealthy release's verdict, and a crash after the
// switch. Every number is printed per run with fmt.Printf (b.Logf is
// hidden unless a benchmark fails) and summed up with b.ReportMetric.
// Goals are read off these numbers, never asserted: a benchmark fails only
// when a run did not do what it measures (no deploy, no new version seen).

// Published ports of these benchmarks (the proxy's, in zero-downtime).
const (
	portBenchUpgradeRecreate = 18350
	portBenchUpgradeZD       = 18351
	portBenchUnhealthy       = 18352
	portBenchCrashZD         = 18353
	portBenchCrashZDNoRest   = 18354
	portBenchUpgradePlaybook = 18355
	portBenchUpgradeVsHoist  = 18356
	portBenchUpgradeVsZD     = 18357
)

// benchDrain is the zero-downtime benchmarks' proxy.drain: testapp
// answers in microseconds, so a second covers every request in flight at
// the switch; a deploy's wall time includes it.
const benchDrain = "1s"

// benchCrashDrain is long enough for a release crashing after 200
// requests of load to crash while the old slot still drains.
const benchCrashDrain = "8s"

// demoApp is the web service of the demo app's scenario.
type demoApp struct {
	tag       string            // testapp image tag
	unhealthy bool              // UNHEALTHY=1: its healthcheck always fails
	noRestart bool              // without the restart policy
	env       map[string]string // more environment
}

// composeDemo writes files/compose.yaml for version: the demo app with
// the playbook's healthcheck (every 3 s, retries 3, exec form: the image
// has no shell) and restart policy.
func (s *service) composeDemo(version string, d demoApp) {
	s.t.Helper()
	env := map[string]string{"VERSION": version}
	for k, v := range d.env {
		env[k] = v
	}
	if d.unhealthy {
		env["UNHEALTHY"] = "1"
	}
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	fmt.Fprintf(&b, "services:\n  web:\n    image: %s\n", suite.env.Image(d.tag))
	if !d.noRestart {
		b.WriteString("    restart: unless-stopped\n")
	}
	fmt.Fprintf(&b, "    ports:\n      - \"%d:8080\"\n    environment:\n", s.port)
	for _, k := range keys {
		fmt.Fprintf(&b, "      %s: %q\n", k, env[k])
	}
	b.WriteString("    healthcheck:\n      test: [\"CMD\", \"/app\", \"-healthcheck\"]\n" +
		"      interval: 3s\n      timeout: 1s\n      retries: 3\n      start_period: 0s\n")
	if err := os.WriteFile(filepath.Join(s.dir, "files", "compose.yaml"), []byte(b.String()), 0o644); err != nil {
		s.t.Fatal(err)
	}
}

func (s *service) deployDemo(version string, d demoApp) result {
	s.t.Helper()
	s.composeDemo(version, d)
	return s.hoist("deploy", "--config", s.hoistYML(), "--version", version)
}

// demoService is a service of the demo app's scenario on host 1.
func demoService(b *testing.B, prefix string, port int) *service {
	s := newService(b, prefix, port)
	s.wait = "{retries: 6, delay: 5s}"
	return s
}

// benchModes are the loads of a run, side by side: keep-alive GETs, and
// keep-alive POSTs, which Go's client never sends again, so every
// connection closed under one is counted.
var benchModes = []loadgen.Mode{loadgen.KeepAliveGET, loadgen.KeepAlivePOST}

// benchWorkers per mode: 4 requests in flight in all, as the zero-downtime
// tests have, on a test bed machine of two cores.
const benchWorkers = 2

// underLoads runs benchModes at the service's address on host 1 while f
// runs, from a moment before to a moment after, and returns each mode's
// result (testing.TB: underLoad in zerodowntime_test.go takes *testing.T).
func underLoads(tb testing.TB, s *service, f func()) []loadgen.Result {
	tb.Helper()
	url := fmt.Sprintf("http://%s:%d/", suite.env.Host(1), s.port)
	ctx, cancel := context.WithCancel(context.Background())
	out := make([]loadgen.Result, len(benchModes))
	var wg sync.WaitGroup
	for i, m := range benchModes {
		wg.Go(func() {
			out[i] = loadgen.Run(ctx, loadgen.Config{URL: url, Mode: m, Workers: benchWorkers, Timeout: 10 * time.Second})
		})
	}
	time.Sleep(300 * time.Millisecond) // the load is flowing before anything changes
	f()
	time.Sleep(300 * time.Millisecond)
	cancel()
	wg.Wait()
	for _, r := range out {
		if r.Total() < 100 {
			tb.Fatalf("%s: only %d requests: the load did not run (%s)", r.Mode, r.Total(), r)
		}
	}
	return out
}

// merged is every request of the results, by start time.
func merged(rs []loadgen.Result) loadgen.Result {
	var m loadgen.Result
	for _, r := range rs {
		m.Records = append(m.Records, r.Records...)
	}
	slices.SortStableFunc(m.Records, func(a, b loadgen.Record) int { return a.Start.Compare(b.Start) })
	return m
}

// failedByMode is "keepalive-get=0 keepalive-post=0", and the total.
func failedByMode(rs []loadgen.Result) (string, int) {
	var parts []string
	total := 0
	for _, r := range rs {
		n := len(r.Failures())
		total += n
		parts = append(parts, fmt.Sprintf("%s=%d", r.Mode, n))
	}
	return strings.Join(parts, " "), total
}

// failureWindow is the time from the first failed request's start to
// the last one's end (0 without failures): the outage, which the count
// of failures does not show (a refused connection fails fast, so a short
// outage under back-to-back load is many failures).
func failureWindow(r loadgen.Result) time.Duration {
	f := r.Failures()
	if len(f) == 0 {
		return 0
	}
	var end time.Time
	for _, x := range f {
		if e := x.Start.Add(x.Latency); e.After(end) {
			end = e
		}
	}
	return end.Sub(f[0].Start)
}

// failureSpan is ", failing for 0.150s", or "" without failures.
func failureSpan(r loadgen.Result) string {
	if len(r.Failures()) == 0 {
		return ""
	}
	return fmt.Sprintf(", failing for %.3fs", failureWindow(r).Seconds())
}

// mid is the median (the mean of the middle two of an even count).
func mid(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func secs(ds []time.Duration) string {
	var parts []string
	for _, d := range ds {
		parts = append(parts, fmt.Sprintf("%.2f", d.Seconds()))
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// report prints and reports a duration metric: median and max.
func report(b *testing.B, name string, ds []time.Duration) {
	b.Helper()
	fmt.Printf("%s %s: median %.2fs, max %.2fs, runs %s s\n", b.Name(), name, mid(ds).Seconds(), slices.Max(ds).Seconds(), secs(ds))
	b.ReportMetric(mid(ds).Seconds(), "s-"+name+"(median)")
	b.ReportMetric(slices.Max(ds).Seconds(), "s-"+name+"(max)")
}

// BenchmarkUpgrade deploys the next version of the demo app (images v2
// and v3 in turn) under constant keep-alive GET and POST load, with
// strategy recreate (compose up -d replaces the container) and
// zero-downtime (a new slot behind the proxy), and per run records the
// deploy's wall time (CLI start to exit), the time from its start to the
// load's first answer by the new version, and the requests that failed.
// Run with -benchtime 10x for 10 runs each.
func BenchmarkUpgrade(b *testing.B) {
	b.Run("recreate", func(b *testing.B) {
		benchUpgrade(b, demoService(b, "bench-up-rc", portBenchUpgradeRecreate))
	})
	b.Run("zero-downtime", func(b *testing.B) {
		s := demoService(b, "bench-up-zd", portBenchUpgradeZD)
		s.zeroDowntime(benchDrain)
		benchUpgrade(b, s)
	})
}

func benchUpgrade(b *testing.B, s *service) {
	s.deployDemo("u0", demoApp{tag: "v1"}).want(b, 0, s.deployedLine("u0"))
	var wall, toServing, outage []time.Duration
	var failed []int
	var requests int
	var maxLatency time.Duration
	for i := 0; b.Loop(); i++ {
		version := fmt.Sprintf("u%d", i+1)
		var r result
		var start time.Time
		loads := underLoads(b, s, func() {
			start = time.Now()
			r = s.deployDemo(version, demoApp{tag: []string{"v2", "v3"}[i%2]})
		})
		r.want(b, 0, s.deployedLine(version))
		all := merged(loads)
		first, ok := all.FirstSeen(version)
		if !ok {
			b.Fatalf("deploy of %s: the load never saw it answer (%s)", version, all)
		}
		byMode, n := failedByMode(loads)
		wall, toServing, failed = append(wall, r.took), append(toServing, first.Sub(start)), append(failed, n)
		outage = append(outage, failureWindow(all))
		requests += all.Total()
		maxLatency = max(maxLatency, all.MaxLatency())
		fmt.Printf("%s run %d (%s): wall %.2fs, to new version serving %.2fs, failed %d of %d (%s)%s, max latency %s\n  steps: %s\n",
			b.Name(), i+1, version, r.took.Seconds(), first.Sub(start).Seconds(), n, all.Total(), byMode, failureSpan(all), all.MaxLatency().Round(time.Millisecond), steps(r))
	}
	b.StopTimer()
	report(b, "wall", wall)
	report(b, "to-serving", toServing)
	report(b, "failing", outage)
	fmt.Printf("%s failed requests per run: %v (max %d, total %d of %d requests, max latency %s)\n",
		b.Name(), failed, slices.Max(failed), sum(failed), requests, maxLatency.Round(time.Millisecond))
	b.ReportMetric(float64(slices.Max(failed)), "failed-req(max)")
	b.ReportMetric(float64(sum(failed)), "failed-req(total)")
}

// BenchmarkPlaybookUpgrade puts hoist and the users' own Ansible playbook
// (bench/playbook/deploy.yml, ansible-core from Debian) side by side on
// the playbook's scenario: the demo app on h1 (healthcheck every 3 s,
// restart policy, wait {retries: 6, delay: 5s}), the next version, the
// image cached, a probe every 20 ms as BenchmarkDeploy has. Runs
// alternate (hoist, then the playbook) so both meet the same machine. Per
// run: the wall time of the deploy command, the time to the new version's
// first answer, the probes that got no answer. hoist runs twice: strategy
// recreate, the playbook's own way (compose up -d), and zero-downtime
// (drain 1 s); BenchmarkUpgrade has both under full load.
func BenchmarkPlaybookUpgrade(b *testing.B) {
	hs := demoService(b, "bench-up-vs", portBenchUpgradeVsHoist)
	zs := demoService(b, "bench-up-vz", portBenchUpgradeVsZD)
	zs.zeroDowntime(benchDrain)
	ps := demoService(b, "bench-up-pb", portBenchUpgradePlaybook)
	play := playbook(b, ps)
	hs.deployDemo("u0", demoApp{tag: "v1"}).want(b, 0, hs.deployedLine("u0"))
	zs.deployDemo("u0", demoApp{tag: "v1"}).want(b, 0, zs.deployedLine("u0"))
	ps.composeDemo("u0", demoApp{tag: "v1"})
	play("u0")
	type side struct {
		name            string
		wall, toServing []time.Duration
		failed          []int
		deploy          func(version string, d demoApp) time.Duration
		url             string
	}
	hoist := func(s *service) func(string, demoApp) time.Duration {
		return func(v string, d demoApp) time.Duration {
			r := s.deployDemo(v, d)
			r.want(b, 0, s.deployedLine(v))
			return r.took
		}
	}
	sides := []*side{
		{name: "hoist", url: fmt.Sprintf("http://%s:%d/", suite.env.Host(1), hs.port), deploy: hoist(hs)},
		{name: "hoist-zero-downtime", url: fmt.Sprintf("http://%s:%d/", suite.env.Host(1), zs.port), deploy: hoist(zs)},
		{name: "playbook", url: fmt.Sprintf("http://%s:%d/", suite.env.Host(1), ps.port), deploy: func(v string, d demoApp) time.Duration {
			ps.composeDemo(v, d)
			return play(v)
		}},
	}
	for i := 0; b.Loop(); i++ {
		version := fmt.Sprintf("u%d", i+1)
		d := demoApp{tag: []string{"v2", "v3"}[i%2]}
		for _, sd := range sides {
			p := startProbe(sd.url)
			start := time.Now()
			took := sd.deploy(version, d)
			time.Sleep(200 * time.Millisecond)
			evs := p.finish()
			at, ok := firstAnswer(evs, start, version)
			if !ok {
				b.Fatalf("%s's deploy of %s: the probe never saw it answer", sd.name, version)
			}
			missed := 0
			for _, e := range evs {
				if e.answer == "" {
					missed++
				}
			}
			sd.wall, sd.toServing, sd.failed = append(sd.wall, took), append(sd.toServing, at.Sub(start)), append(sd.failed, missed)
			fmt.Printf("%s run %d (%s), %s: wall %.2fs, to new version serving %.2fs, %d of %d probes unanswered\n",
				b.Name(), i+1, version, sd.name, took.Seconds(), at.Sub(start).Seconds(), missed, len(evs))
		}
	}
	b.StopTimer()
	for _, sd := range sides {
		fmt.Printf("%s %s: wall median %.2fs (runs %s s), to serving median %.2fs, unanswered probes %v\n",
			b.Name(), sd.name, mid(sd.wall).Seconds(), secs(sd.wall), mid(sd.toServing).Seconds(), sd.failed)
		b.ReportMetric(mid(sd.wall).Seconds(), "s-wall-"+sd.name+"(median)")
	}
	pb := mid(sides[2].wall).Seconds()
	fmt.Printf("%s: hoist's wall time is %.2f× the playbook's with recreate, %.2f× with zero-downtime (goal ≤ 0.5×)\n",
		b.Name(), mid(sides[0].wall).Seconds()/pb, mid(sides[1].wall).Seconds()/pb)
	b.ReportMetric(mid(sides[0].wall).Seconds()/pb, "hoist/playbook-wall")
	b.ReportMetric(mid(sides[1].wall).Seconds()/pb, "hoist-zd/playbook-wall")
}

// stepLine matches the CLI's line of a step on h1: mark, name, time.
var stepLine = regexp.MustCompile(`^  (\S) h1\s+(.+?)\s+([0-9]+\.[0-9]+)s(\s|$)`)

// steps is the deploy's step lines in short, "✓ pull 0.19, ✓ up 0.63, …",
// to show where a run's time went.
func steps(r result) string {
	var parts []string
	for _, l := range outLines(r.stdout) {
		if m := stepLine.FindStringSubmatch(l); m != nil {
			parts = append(parts, m[1]+" "+m[2]+" "+m[3])
		}
	}
	return strings.Join(parts, ", ")
}

func sum(ns []int) int {
	t := 0
	for _, n := range ns {
		t += n
	}
	return t
}

// waitStepLine matches the CLI's line of a failed wait step, "  ✗ h1
// wait running   3.21s …", and captures its time.
var waitStepLine = regexp.MustCompile(`^  ✗ h1\s+wait running\s+([0-9.]+)s`)

// BenchmarkUnhealthyVerdict deploys a release of the demo app whose
// healthcheck always fails (retries 3, every 3 s) under health.unhealthy:
// rollback, and per run records the time from the deploy's start to its
// ❌ exit (the rollback to the previous release, verified, included), from
// the workflow's start to the wait step's verdict (the history), and the
// wait step's own time (the CLI's step line).
func BenchmarkUnhealthyVerdict(b *testing.B) {
	s := demoService(b, "bench-unh", portBenchUnhealthy)
	s.extra = "health: {unhealthy: rollback}\n"
	s.deployDemo("g0", demoApp{tag: "v1"}).want(b, 0, s.deployedLine("g0"))
	var toExit, toVerdict, waitStep []time.Duration
	for i := 0; b.Loop(); i++ {
		version := fmt.Sprintf("bad%d", i+1)
		r := s.deployDemo(version, demoApp{tag: []string{"v2", "v3"}[i%2], unhealthy: true})
		r.want(b, 1)
		line := r.line(b, "❌ Deployment of version "+version+" failed! Rolled back to g0.")
		wantContains(b, "the failure line", line, "is unhealthy: 3 consecutive runs of its healthcheck failed")
		var step time.Duration
		for _, l := range outLines(r.stdout) {
			if m := waitStepLine.FindStringSubmatch(l); m != nil {
				f, _ := strconv.ParseFloat(m[1], 64)
				step = time.Duration(f * float64(time.Second))
				break
			}
		}
		if step == 0 {
			b.Fatalf("deploy of %s: no failed wait running step line\n%s", version, r)
		}
		verdict, checks := s.verdictTime(b)
		toExit, toVerdict, waitStep = append(toExit, r.took), append(toVerdict, verdict), append(waitStep, step)
		fmt.Printf("%s run %d (%s): to ❌ exit %.2fs, workflow start to verdict %.2fs, wait step %.2fs, %d checks\n  steps: %s\n",
			b.Name(), i+1, version, r.took.Seconds(), verdict.Seconds(), step.Seconds(), checks, steps(r))
	}
	b.StopTimer()
	report(b, "to-exit", toExit)
	report(b, "to-verdict", toVerdict)
	report(b, "wait-step", waitStep)
}

// verdictTime reads the latest deploy's history: the time from the
// workflow's start to the completion of its first WaitRunning (the
// release's verdict), and the checks that took.
func (s *service) verdictTime(tb testing.TB) (time.Duration, int) {
	tb.Helper()
	h := s.deployHistory()
	var evs struct {
		Events []struct {
			EventID   string `json:"eventId"`
			EventType string `json:"eventType"`
			EventTime string `json:"eventTime"`
			Scheduled *struct {
				ActivityType struct{ Name string }
			} `json:"activityTaskScheduledEventAttributes"`
			Completed *struct {
				ScheduledEventID string `json:"scheduledEventId"`
			} `json:"activityTaskCompletedEventAttributes"`
		} `json:"events"`
	}
	if err := json.Unmarshal(h.raw, &evs); err != nil {
		tb.Fatalf("history of deploy/%s: %v", s.name, err)
	}
	var start time.Time
	waits := map[string]bool{}
	for _, e := range evs.Events {
		at, err := time.Parse(time.RFC3339Nano, e.EventTime)
		if err != nil {
			tb.Fatalf("history of deploy/%s: event %s time %q: %v", s.name, e.EventID, e.EventTime, err)
		}
		switch {
		case e.EventType == "EVENT_TYPE_WORKFLOW_EXECUTION_STARTED":
			start = at
		case e.Scheduled != nil && e.Scheduled.ActivityType.Name == "WaitRunning":
			waits[e.EventID] = true
		case e.Completed != nil && waits[e.Completed.ScheduledEventID]:
			checks := 0
			if w := s.waits(); len(w) > 0 {
				checks = w[0].Checks
			}
			return at.Sub(start), checks
		}
	}
	tb.Fatalf("history of deploy/%s: no completed WaitRunning", s.name)
	return 0, 0
}

// BenchmarkZeroDowntimeCrash deploys, with strategy zero-downtime, a
// release of the demo app that crashes after answering 200 requests: after
// the switch, under constant keep-alive GET and POST load. Per run it
// records the failed requests (the old slot still runs during the drain
// and takes the traffic back), the time from the crashing release's last
// answer to the previous release's first answer after it (requests
// meanwhile are held by the proxy's retries, so this is what a client
// waited), and the deploy's time to its ❌ exit. With the demo app's
// restart policy, Docker may restart the crashed release, which then
// answers again until it crashes again or hoist takes the traffic back;
// without it, the first crash is the last.
func BenchmarkZeroDowntimeCrash(b *testing.B) {
	b.Run("restart-unless-stopped", func(b *testing.B) { benchZeroDowntimeCrash(b, portBenchCrashZD, false) })
	b.Run("no-restart", func(b *testing.B) { benchZeroDowntimeCrash(b, portBenchCrashZDNoRest, true) })
}

func benchZeroDowntimeCrash(b *testing.B, port int, noRestart bool) {
	s := demoService(b, "bench-crash-zd", port)
	s.zeroDowntime(benchCrashDrain)
	s.deployDemo("c0", demoApp{tag: "v1", noRestart: noRestart}).want(b, 0, s.deployedLine("c0"))
	var toPrevious, badServed, toExit []time.Duration
	var failed []int
	for i := 0; b.Loop(); i++ {
		version := fmt.Sprintf("x%d", i+1)
		var r result
		loads := underLoads(b, s, func() {
			r = s.deployDemo(version, demoApp{tag: "v2", noRestart: noRestart, env: map[string]string{"CRASH_AFTER_REQUESTS": "200"}})
		})
		r.want(b, 1)
		r.line(b, "❌ Deployment of version "+version+" failed! Rolled back to c0.")
		all := merged(loads)
		first, okFirst := all.FirstSeen(version)
		var lastEnd time.Time
		answers := 0
		for _, x := range all.Records {
			if !x.Failed() && x.Version == version {
				answers++
				if end := x.Start.Add(x.Latency); end.After(lastEnd) {
					lastEnd = end
				}
			}
		}
		if !okFirst {
			b.Fatalf("deploy of %s: the load never saw it answer, so the switch never happened (%s)", version, all)
		}
		var back time.Time
		for _, x := range all.Records {
			if end := x.Start.Add(x.Latency); !x.Failed() && x.Version == "c0" && end.After(lastEnd) && (back.IsZero() || end.Before(back)) {
				back = end
			}
		}
		if back.IsZero() {
			b.Fatalf("deploy of %s: c0 never answered after %s's last answer (%s)", version, version, all)
		}
		if after := all.SeenAfter(back); !slices.Equal(after, []string{"c0"}) {
			b.Fatalf("deploy of %s: after c0 answered again, versions %v answered", version, after)
		}
		byMode, n := failedByMode(loads)
		toPrevious, badServed, toExit, failed = append(toPrevious, back.Sub(lastEnd)), append(badServed, back.Sub(first)), append(toExit, r.took), append(failed, n)
		for _, l := range loads {
			for _, x := range l.Failures()[:min(len(l.Failures()), 5)] {
				fmt.Printf("  failed %s at crash%+.3fs after %s: status %d %s\n", l.Mode, x.Start.Sub(lastEnd).Seconds(), x.Latency.Round(time.Millisecond), x.Status, x.Err)
			}
		}
		fmt.Printf("%s run %d (%s): crash → previous serving %.3fs, new version's first answer → previous only %.2fs (%d answers by it), failed %d of %d (%s)%s, max latency %s, to ❌ exit %.2fs\n  steps: %s\n",
			b.Name(), i+1, version, back.Sub(lastEnd).Seconds(), back.Sub(first).Seconds(), answers, n, all.Total(), byMode, failureSpan(all), all.MaxLatency().Round(time.Millisecond), r.took.Seconds(), steps(r))
	}
	b.StopTimer()
	report(b, "crash-to-previous", toPrevious)
	report(b, "bad-release-served", badServed)
	report(b, "to-exit", toExit)
	fmt.Printf("%s failed requests per run: %v (max %d)\n", b.Name(), failed, slices.Max(failed))
	b.ReportMetric(float64(slices.Max(failed)), "failed-req(max)")
}
