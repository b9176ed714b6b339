//go:build integration

package sshexec

import (
	"slices"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/internal/testbed"
	"github.com/hoist-dev/hoist/remote"
)

// reportMedian adds the median of the iterations' durations to the
// benchmark's output: ns/op is a mean, which one slow dial skews.
func reportMedian(b *testing.B, d []time.Duration) {
	if len(d) == 0 {
		return
	}
	slices.Sort(d)
	b.ReportMetric(float64(d[len(d)/2].Microseconds())/1000, "median-ms")
}

// BenchmarkRunWarm is one Run of `true` on an established connection: a
// session open, exec, exit status and close.
func BenchmarkRunWarm(b *testing.B) {
	env := testbed.Load(b)
	c := tbClient(b, env)
	mustRun(b, c, env.Host(1), remote.Cmd("true"))
	var d []time.Duration
	for b.Loop() {
		start := time.Now()
		mustRun(b, c, env.Host(1), remote.Cmd("true"))
		d = append(d, time.Since(start))
	}
	reportMedian(b, d)
}

// BenchmarkRunFresh is the same Run with a new Client each time: TCP
// connect, key exchange, public key auth, then the session.
func BenchmarkRunFresh(b *testing.B) {
	env := testbed.Load(b)
	var d []time.Duration
	for b.Loop() {
		start := time.Now()
		c := tbClient(b, env)
		mustRun(b, c, env.Host(1), remote.Cmd("true"))
		c.Close()
		d = append(d, time.Since(start))
	}
	reportMedian(b, d)
}
