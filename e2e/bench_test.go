//go:build integration

package e2e

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// Port for the benchmarks, apart from the tests'.
const portBench = 18097

// probe polls url every 20 ms and records when each answer was first and
// last seen, and when the service did not answer.
type probe struct {
	mu     sync.Mutex
	events []probeEvent
	stop   chan struct{}
	done   chan struct{}
}

type probeEvent struct {
	at     time.Time
	answer string // "" when it did not answer
}

func startProbe(url string) *probe {
	p := &probe{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		for {
			select {
			case <-p.stop:
				return
			default:
			}
			got, err := get(url)
			if err != nil {
				got = ""
			}
			p.mu.Lock()
			p.events = append(p.events, probeEvent{at: time.Now(), answer: strings.TrimSpace(got)})
			p.mu.Unlock()
			time.Sleep(20 * time.Millisecond)
		}
	}()
	return p
}

func (p *probe) finish() []probeEvent {
	close(p.stop)
	<-p.done
	return p.events
}

// firstAnswer is when the probe first got want at or after from.
func firstAnswer(evs []probeEvent, from time.Time, want string) (time.Time, bool) {
	for _, e := range evs {
		if !e.at.Before(from) && e.answer == want {
			return e.at, true
		}
	}
	return time.Time{}, false
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// BenchmarkDeploy measures, per deploy, the time from `hoist deploy`
// starting to the new version answering on the host, and the CLI's own
// time to its ✅ line. Run with -benchtime 5x for the median of 5.
func BenchmarkDeploy(b *testing.B) {
	s := newService(b, "bench-deploy", portBench)
	s.wait = "{retries: 6, delay: 5s}"
	url := fmt.Sprintf("http://%s:%d/", suite.env.Host(1), portBench)
	s.mustDeploy("b0", image("v1"))
	var toServing, toExit []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		version := fmt.Sprintf("b%d", i+1)
		img := image([]string{"v2", "v3"}[i%2])
		r, start, took, evs := probedDeploy(s, url, version, img)
		r.want(b, 0, s.deployedLine(version))
		at, ok := firstAnswer(evs, start, version)
		if !ok {
			b.Fatalf("deploy of %s: the probe never saw it answer", version)
		}
		toServing = append(toServing, at.Sub(start))
		toExit = append(toExit, took)
	}
	b.StopTimer()
	b.ReportMetric(median(toServing).Seconds(), "s-to-serving(median)")
	b.ReportMetric(median(toExit).Seconds(), "s-cli(median)")
	b.Logf("deploy → new version serving: %v; deploy → ✅: %v", toServing, toExit)
}

// probedDeploy deploys version while probing url, and returns what the
// CLI showed, when it started, how long it took and what the probe saw.
func probedDeploy(s *service, url, version string, a app) (result, time.Time, time.Duration, []probeEvent) {
	p := startProbe(url)
	start := time.Now()
	r := s.deploy(version, a)
	return r, start, time.Since(start), p.finish()
}

// BenchmarkCrashRollback measures, per crashing deploy, the outage: from
// the moment the previous version stops answering (compose up of the
// crashing release replaced it) to the moment it answers again after the
// automatic rollback; and the CLI's time to its ❌ line.
func BenchmarkCrashRollback(b *testing.B) {
	s := newService(b, "bench-crash", portBench+1)
	s.wait = "{retries: 6, delay: 5s}"
	url := fmt.Sprintf("http://%s:%d/", suite.env.Host(1), portBench+1)
	s.mustDeploy("good", image("v1"))
	var outage, toExit []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		version := fmt.Sprintf("crash%d", i+1)
		r, _, took, evs := probedDeploy(s, url, version, image("v2").crashing())
		if r.code != 1 || !strings.Contains(r.stdout, "Rolled back to good") {
			b.Fatalf("crashing deploy %s: want exit 1 and a rollback to good\n%s", version, r)
		}
		var down time.Time
		for _, e := range evs {
			if e.answer != "good" {
				down = e.at
				break
			}
		}
		if down.IsZero() {
			b.Fatalf("deploy of %s: the previous version never stopped answering", version)
		}
		back, ok := firstAnswer(evs, down, "good")
		if !ok {
			b.Fatalf("deploy of %s: the previous version never answered again", version)
		}
		outage = append(outage, back.Sub(down))
		toExit = append(toExit, took)
	}
	b.StopTimer()
	b.ReportMetric(median(outage).Seconds(), "s-outage(median)")
	b.ReportMetric(median(toExit).Seconds(), "s-cli(median)")
	b.Logf("crash up → previous serving: %v; deploy → ❌: %v", outage, toExit)
}
