package activities

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/hoist-dev/hoist/commands"
	"github.com/hoist-dev/hoist/config"
	"github.com/hoist-dev/hoist/health"
	"github.com/hoist-dev/hoist/sshexec"
)

// gate is the health gate of one wait: it runs health.check on each
// running container at the poll rate, from the moment the container
// runs, and keeps each one's checks (health.Sequence) by container ID.
// Docker's own health status does not decide where hoist checks: the
// point is not to wait for Docker's interval.
type gate struct {
	a      *Activities
	t      Target
	policy config.Health // Gate()'d
	poll   time.Duration
	seqs   map[string]*health.Sequence
	seen   map[string]time.Time // first seen running: its uptime when the host's clock is unreadable
	client *http.Client         // check http
	checks int
}

// outputMax is how much of a check's output is kept: Docker keeps 4 KiB
// in its health log; the verdict's detail needs far less.
const outputMax = 256

func (a *Activities) newGate(t Target, policy config.Health, poll time.Duration) (*gate, error) {
	g := &gate{a: a, t: t, policy: policy.Gate(), poll: poll, seqs: map[string]*health.Sequence{}, seen: map[string]time.Time{}}
	switch g.policy.Check {
	case config.CheckDocker, config.CheckNone:
	case config.CheckHTTP:
		h := g.policy.HTTP
		if h == nil || h.Port < 1 || h.Port > 65535 || !strings.HasPrefix(h.Path, "/") || strings.ContainsAny(h.Path, " \r\n\x00") {
			return nil, fmt.Errorf("health.check http %+v: want a path starting with / and a port", h)
		}
		d, ok := a.SSH.(tcpDialer)
		if !ok {
			return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("host %s, step wait running: health.check http needs an SSH executor that forwards ports, and this worker's cannot", t.Label()), ErrInvalid, nil)
		}
		g.client = &http.Client{
			// A fresh forwarded connection per check, as a healthcheck
			// makes: a kept one could outlive the process it tested.
			Transport: &http.Transport{
				DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
					return d.Dial(ctx, t.Host, addr)
				},
				DisableKeepAlives: true,
			},
			// The status of the path itself, as curl -f sees it.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
			Timeout:       max(4*poll, 2*time.Second),
		}
	default:
		return nil, fmt.Errorf("health.check %q: want docker, http or none", g.policy.Check)
	}
	return g, nil
}

// decides reports whether hoist's checks, not Docker's health status,
// decide the container's health (with none, nothing but running does).
func (g *gate) decides(c commands.Container) bool {
	return g.policy.Check != config.CheckDocker || c.Healthcheck.Argv() != nil
}

// probes reports whether hoist checks the container itself.
func (g *gate) probes(c commands.Container) bool {
	switch g.policy.Check {
	case config.CheckHTTP:
		return true
	case config.CheckDocker:
		return c.Healthcheck.Argv() != nil
	}
	return false
}

// judgeable is cs for commands.Judge: Docker's health status blanked
// where the gate decides, so Judge sees crashes and running only.
func (g *gate) judgeable(cs []commands.Container) []commands.Container {
	out := make([]commands.Container, len(cs))
	for i, c := range cs {
		if g.decides(c) {
			c.Health = ""
		}
		out[i] = c
	}
	return out
}

// check runs one check on every running container the gate probes, at
// once (each is its own SSH session or forwarded connection), and adds
// each outcome to the container's sequence. A check that could not be
// run for the host's sake (connection trouble) is no check: the next
// inspect says what is wrong with the host.
func (g *gate) check(ctx context.Context, cs []commands.Container, hostNow string) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	now := time.Now()
	for _, c := range cs {
		if c.Status != "running" || c.RestartCount > 0 || !g.probes(c) {
			continue
		}
		seq := g.seqs[c.ID]
		if seq == nil {
			seq = g.sequence(c)
			g.seqs[c.ID] = seq
			g.seen[c.ID] = now
		}
		up, ok := c.UpFor(hostNow)
		if !ok {
			up = now.Sub(g.seen[c.ID])
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			pass, out, ok := g.probe(ctx, c)
			if !ok {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			seq.Add(health.Check{Pass: pass, Up: up, Output: out})
			g.checks++
		}()
	}
	wg.Wait()
}

// sequence is the container's verdict rules: healthy_runs; unhealthy_runs,
// or the healthcheck's own retries; the healthcheck's start period.
func (g *gate) sequence(c commands.Container) *health.Sequence {
	s := &health.Sequence{HealthyRuns: g.policy.HealthyRuns, UnhealthyRuns: g.policy.UnhealthyRuns}
	hc := c.Healthcheck
	if hc != nil && len(hc.Test) > 0 && hc.Test[0] != "NONE" {
		s.StartPeriod = hc.StartPeriod
		if s.UnhealthyRuns == 0 {
			s.UnhealthyRuns = hc.RetriesOrDefault()
		}
	}
	if s.UnhealthyRuns == 0 {
		s.UnhealthyRuns = config.DefaultUnhealthyRuns
	}
	return s
}

func (g *gate) probe(ctx context.Context, c commands.Container) (pass bool, out string, ok bool) {
	if g.policy.Check == config.CheckHTTP {
		return g.probeHTTP(ctx, c)
	}
	return g.probeExec(ctx, c)
}

// probeExec runs the container's healthcheck test, bounded on the host by
// its timeout; the run's own bound is a backstop for a stalled connection.
func (g *gate) probeExec(ctx context.Context, c commands.Container) (bool, string, bool) {
	timeout := c.Healthcheck.TimeoutOrDefault()
	rctx, cancel := context.WithTimeout(ctx, timeout+5*time.Second)
	defer cancel()
	res, err := g.a.SSH.Run(rctx, g.t.Host, commands.RunHealthcheck(c.ID, c.Healthcheck.Argv(), timeout), sshexec.MaxOutput(outputMax))
	out := strings.TrimSpace(strings.TrimSpace(res.Stdout) + "\n" + strings.TrimSpace(res.Stderr))
	var exit *sshexec.ExitError
	switch {
	case err == nil:
		return true, out, true
	case errors.As(err, &exit) && exit.Code == commands.HealthcheckTimedOut:
		return false, strings.TrimSpace("timed out after " + config.FormatDuration(timeout) + " " + out), true
	case errors.As(err, &exit):
		return false, strings.TrimSpace(fmt.Sprintf("exit %d %s", exit.Code, out)), true
	}
	return false, "", false
}

// probeHTTP GETs the path on the container's port, at its first address,
// from the host through the SSH connection; it passes on the expected
// status.
func (g *gate) probeHTTP(ctx context.Context, c commands.Container) (bool, string, bool) {
	h := g.policy.HTTP
	if len(c.IPs) == 0 {
		return false, "the container has no network address to probe", true
	}
	url := "http://" + net.JoinHostPort(c.IPs[0], strconv.Itoa(h.Port)) + h.Path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false, err.Error(), true
	}
	req.Header.Set("User-Agent", "hoist-health")
	resp, err := g.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return false, "", false
		}
		var conn *sshexec.ConnError
		if errors.As(err, &conn) {
			return false, "", false // the host, not the container
		}
		return false, "GET " + url + ": " + shortHTTPError(err), true
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, outputMax))
	out := strings.TrimSpace(fmt.Sprintf("GET %s answered %d %s", url, resp.StatusCode, strings.TrimSpace(string(body))))
	if resp.StatusCode != h.Expect {
		out = fmt.Sprintf("GET %s answered %d, want %d %s", url, resp.StatusCode, h.Expect, strings.TrimSpace(string(body)))
	}
	return resp.StatusCode == h.Expect, strings.TrimSpace(out), true
}

// shortHTTPError drops net/http's repetition of the method and URL.
func shortHTTPError(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}

// verdict is the gate's word on the containers it probes in cs: unhealthy
// as soon as one is, healthy once every one is, pending otherwise. detail
// says which container and how its checks went; output is its last
// check's output, to be redacted before it reaches the history.
func (g *gate) verdict(cs []commands.Container) (v health.Verdict, detail, output string) {
	v = health.Healthy
	for _, c := range cs {
		if !g.probes(c) {
			continue
		}
		seq := g.seqs[c.ID]
		switch {
		case seq == nil:
			if v == health.Healthy {
				v, detail = health.Pending, fmt.Sprintf("container %s (service %s) not checked yet", c.Name, c.Service)
			}
		case seq.Verdict() == health.Unhealthy:
			return health.Unhealthy, fmt.Sprintf("container %s (service %s) is unhealthy: %d consecutive %s failed (%s; %d checks in all)",
				c.Name, c.Service, seq.Failures(), g.what(), g.runs(c, seq), seq.Checks()), seq.Last().Output
		case seq.Verdict() == health.Pending && v == health.Healthy:
			v = health.Pending
			detail = fmt.Sprintf("container %s (service %s): %d of %d passes in a row", c.Name, c.Service, seq.Passes(), max(seq.HealthyRuns, 1))
			if n := seq.Graced(); n > 0 {
				detail += fmt.Sprintf(", %d failed in its start period of %s", n, config.FormatDuration(seq.StartPeriod))
			}
			if f := seq.Failures(); f > 0 {
				detail += fmt.Sprintf(", %d failed in a row (%d make it unhealthy)", f, seq.UnhealthyRuns)
			}
			detail += fmt.Sprintf("; %d checks in all", seq.Checks())
			if seq.Checks() > 0 {
				output = seq.Last().Output
			}
		}
	}
	return v, detail, output
}

func (g *gate) what() string {
	if g.policy.Check == config.CheckHTTP {
		return "http checks"
	}
	return "runs of its healthcheck"
}

// runs says how many failures make the container unhealthy, and why.
func (g *gate) runs(c commands.Container, seq *health.Sequence) string {
	src := "health.unhealthy_runs"
	switch hc := c.Healthcheck; {
	case g.policy.UnhealthyRuns > 0:
	case hc != nil && len(hc.Test) > 0 && hc.Test[0] != "NONE":
		src = "its healthcheck's retries"
	default:
		src = "the default without a healthcheck"
	}
	return fmt.Sprintf("%d make it unhealthy: %s", seq.UnhealthyRuns, src)
}
