package activities

import (
	"context"
	"errors"
	"path"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/hoist-dev/hoist/commands"
	"github.com/hoist-dev/hoist/health"
	"github.com/hoist-dev/hoist/sshexec"
)

// WaitRunning polls the release's containers until every checked one has
// been running and passed the health gate (health.check) for in.Stable,
// one has crashed, one is unhealthy, or the window ends. Polling is far
// more frequent than the seed's 5 s delay: success is reported as soon as
// it is true, and a crash — including a restart under a restart policy,
// which a slow poll sees as "running" — ends the wait at once.
//
// The gate checks each running container at the poll rate from the
// moment it runs (health.check docker: hoist runs the container's own
// healthcheck test with docker exec instead of waiting for Docker's
// interval; http: a GET through the SSH connection; none: running only):
// healthy_runs passes in a row make it healthy, and unhealthy_runs
// failures in a row past its start period make it unhealthy at once, a
// verdict, not a timeout. A container still starting when the window ends
// is "not healthy in time". A zero window is one look, which still takes
// the polls healthy_runs needs.
//
// The verdict is a result, not an error: what to do about it is the
// workflow's decision.
func (a *Activities) WaitRunning(ctx context.Context, in WaitInput) (WaitResult, error) {
	t := in.Target
	if err := t.checkRelease(in.Version); err != nil {
		return WaitResult{}, invalid(t, "wait running", err)
	}
	if in.Project != "" {
		if err := commands.CheckProject(in.Project); err != nil {
			return WaitResult{}, invalid(t, "wait running", err)
		}
	}
	for _, s := range in.Services {
		if err := commands.CheckServiceName(s); err != nil {
			return WaitResult{}, invalid(t, "wait running", err)
		}
	}
	poll := in.Poll
	if poll <= 0 {
		poll = 250 * time.Millisecond
	}
	g, err := a.newGate(t, in.Health, poll)
	var app *temporal.ApplicationError
	switch {
	case errors.As(err, &app):
		return WaitResult{}, err
	case err != nil:
		return WaitResult{}, invalid(t, "wait running", err)
	}
	if in.RecordedServices {
		services, err := a.recordedServices(ctx, t, in.Version)
		if err != nil {
			return WaitResult{}, err
		}
		in.Services = services
	}
	compose := t.Slot(in.Version, in.Project)
	deadline := time.Now().Add(in.Window)
	// Restarts count from the moment a container is first seen, unless up
	// created it: then every restart since creation is a crash.
	baseline := map[string]int{}
	var res WaitResult
	var ids []string
	inspectFailures := 0
	var healthySince time.Time // all good, uninterrupted, since then
	confirming := false        // the gate said unhealthy: this poll only looks
	for {
		if len(ids) == 0 {
			out, err := a.run(ctx, t, "wait running, release "+in.Version, compose.ContainerIDsByLabel(in.Services...))
			if err != nil {
				return res, err
			}
			ids = commands.ParseIDs(out.Stdout)
		}
		var cs []commands.Container
		hostNow := ""
		if len(ids) > 0 {
			out, err := a.SSH.Run(ctx, t.Host, commands.InspectContainers(ids...))
			var exit *sshexec.ExitError
			switch {
			case errors.As(err, &exit) && inspectFailures < 3:
				inspectFailures++
				ids = nil // a container went away: list again
			case err != nil:
				return res, fail(ctx, t, "wait running, release "+in.Version, err)
			default:
				inspectFailures = 0
			}
			cs = ofServices(commands.ParseContainers(out.Stdout), in.Services)
			hostNow = commands.ParseHostClock(out.Stdout)
		}
		for i := range cs {
			c := &cs[i]
			b, seen := baseline[c.ID]
			if !seen {
				if in.UpAt == "" || c.CreatedBefore(in.UpAt) {
					b = c.RestartCount
				}
				baseline[c.ID] = b
			}
			c.RestartCount -= min(b, c.RestartCount)
		}
		res.Polls++
		v, detail := commands.Judge(g.judgeable(cs))
		output := ""
		if v != commands.Crashed && !confirming {
			stop := a.heartbeat(ctx, res.Polls) // a check may take its healthcheck's timeout
			g.check(ctx, cs, hostNow)
			stop()
			if ctx.Err() != nil {
				return res, ctx.Err()
			}
		}
		gv, gdetail, gout := g.verdict(cs)
		if gv == health.Unhealthy && v != commands.Crashed && !confirming {
			// Look once more, at once: a container that exited under its
			// check failed it too, and that is a crash, with its logs.
			confirming = true
			continue
		}
		confirming = false
		starting := false // running, the gate still deciding
		switch {
		case v == commands.Crashed:
		case gv == health.Unhealthy:
			v, detail, output = commands.Unhealthy, gdetail, gout
		case v == commands.Healthy && gv == health.Pending:
			v, detail, output, starting = commands.Pending, gdetail, gout, true
		}
		res.Verdict, res.Detail, res.Containers, res.Checks = v.String(), detail, cs, g.checks
		activity.RecordHeartbeat(ctx, res.Polls)
		now := time.Now()
		stable := false
		if v == commands.Healthy {
			if healthySince.IsZero() {
				healthySince = now
			}
			stable = now.Sub(healthySince) >= in.Stable || upLongEnough(cs, hostNow, in.Stable)
		} else {
			healthySince = time.Time{}
		}
		if v == commands.Crashed {
			res.Detail += a.lastLogs(ctx, t, in.Version, in.EnvFiles, cs)
		}
		decided := stable || v == commands.Crashed || gv == health.Unhealthy
		// A look (zero window) still takes the polls healthy_runs needs.
		ended := !now.Before(deadline) && !(starting && res.Polls < g.policy.HealthyRuns)
		if decided || ended {
			if starting {
				res.Verdict, res.Detail = commands.Unhealthy.String(), "not healthy in time ("+detail+")"
			}
			if output != "" {
				res.Detail += "; the last check said: " + redact(oneLine(output), a.envValues(ctx, t, in.Version, in.EnvFiles))
			}
			if v == commands.Pending && !starting && detail == "" {
				res.Detail = "no container of the release is running"
			}
			if len(in.Services) > 0 {
				res.Unchecked = a.unchecked(ctx, t, compose, in.Services, in.UpAt)
			}
			return res, nil
		}
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-time.After(poll):
		}
	}
}

// ofServices keeps the containers of services (all when none are named):
// ContainerIDsByLabel filters by one service only, as compose ps does.
func ofServices(cs []commands.Container, services []string) []commands.Container {
	if len(services) < 2 {
		return cs
	}
	return slices.DeleteFunc(cs, func(c commands.Container) bool { return !slices.Contains(services, c.Service) })
}

// oneLine is a check's output for a one-line detail.
func oneLine(s string) string {
	return strings.ReplaceAll(strings.TrimSpace(s), "\n", " | ")
}

// lastLogs is the end of the crashed container's output, for the error:
// the rollback removes the container, and with it `docker logs`.
func (a *Activities) lastLogs(ctx context.Context, t Target, version string, envFiles []string, cs []commands.Container) string {
	for _, c := range cs {
		if c.Status == "exited" || c.Status == "dead" || c.Status == "restarting" || c.RestartCount > 0 {
			res, err := a.SSH.Run(ctx, t.Host, commands.ContainerLogs(c.ID, 5))
			if err != nil {
				return ""
			}
			out := strings.TrimSpace(res.Stdout + "\n" + res.Stderr)
			if len(out) > 1024 {
				out = "…" + out[len(out)-1024:]
			}
			if out == "" {
				return ""
			}
			out = redact(out, a.envValues(ctx, t, version, envFiles))
			return "; its last output: " + strings.ReplaceAll(out, "\n", " | ")
		}
	}
	return ""
}

// upLongEnough: every container has been running for at least d by the
// host's own clock, so a container up started a while ago counts from its
// start, not from when this poll first saw it.
func upLongEnough(cs []commands.Container, hostNow string, d time.Duration) bool {
	if hostNow == "" || len(cs) == 0 {
		return false
	}
	for _, c := range cs {
		up, ok := c.UpFor(hostNow)
		if !ok || up < d {
			return false
		}
	}
	return true
}

// recordedServices reads the services the release's good mark lists; a
// release without a mark is checked by every service it has.
func (a *Activities) recordedServices(ctx context.Context, t Target, version string) ([]string, error) {
	res, err := a.SSH.Run(ctx, t.Host, t.Layout().GoodServices(version))
	var exit *sshexec.ExitError
	if errors.As(err, &exit) {
		return nil, nil
	}
	if err != nil {
		return nil, fail(ctx, t, "wait running, release "+version, err)
	}
	var services []string
	for _, s := range strings.Fields(res.Stdout) {
		if commands.CheckServiceName(s) == nil {
			services = append(services, s)
		}
	}
	return services, nil
}

// unchecked judges the release's services that `services:` leaves out:
// they do not decide the deploy, but one that crashes or restarts is
// reported, never passed over in silence. Best effort: a failed look is
// no verdict.
func (a *Activities) unchecked(ctx context.Context, t Target, compose commands.Compose, checked []string, upAt string) string {
	out, err := a.SSH.Run(ctx, t.Host, compose.ContainerIDsByLabel())
	if err != nil {
		return ""
	}
	ids := commands.ParseIDs(out.Stdout)
	if len(ids) == 0 {
		return ""
	}
	out, err = a.SSH.Run(ctx, t.Host, commands.InspectContainers(ids...))
	if err != nil {
		return ""
	}
	var others []commands.Container
	for _, c := range commands.ParseContainers(out.Stdout) {
		if slices.Contains(checked, c.Service) {
			continue
		}
		if upAt == "" || c.CreatedBefore(upAt) {
			c.RestartCount = 0 // restarts from before this deploy are not its doing
		}
		others = append(others, c)
	}
	if v, detail := commands.Judge(others); v == commands.Crashed {
		return "unchecked service (not in services:) " + detail
	}
	return ""
}

// envValues reads the values the release's env files set, to keep them
// out of captured output (which goes into the workflow's history). Any
// failure reads nothing: then no output is kept at all.
func (a *Activities) envValues(ctx context.Context, t Target, version string, files []string) map[string]string {
	if len(files) == 0 {
		return map[string]string{}
	}
	for _, f := range files {
		if p := path.Clean(f); path.IsAbs(p) || p == ".." || strings.HasPrefix(p, "../") || strings.ContainsAny(p, "\x00\n") {
			return nil
		}
	}
	res, err := a.SSH.Run(ctx, t.Host, t.Compose(version).ReadEnvFiles(files))
	var exit *sshexec.ExitError
	if err != nil && !errors.As(err, &exit) { // a missing file is no failure
		return nil
	}
	return parseEnv(res.Stdout)
}

// parseEnv reads KEY=VALUE lines as compose does (export prefix, quotes,
// comments): value -> key.
func parseEnv(s string) map[string]string {
	vals := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "export "))
		k, v, ok := strings.Cut(line, "=")
		if !ok || strings.HasPrefix(k, "#") {
			continue
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		if len(v) >= 4 { // shorter values would redact ordinary words
			vals[v] = strings.TrimSpace(k)
		}
	}
	return vals
}

// redact replaces every env value in out by its key's name. nil values
// (the env files could not be read) drop the output: better no output
// than a secret in the history.
func redact(out string, values map[string]string) string {
	if values == nil {
		return "(withheld: the release's env files could not be read to redact it)"
	}
	keys := make([]string, 0, len(values))
	for v := range values {
		keys = append(keys, v)
	}
	slices.SortFunc(keys, func(x, y string) int { return len(y) - len(x) }) // longest first
	for _, v := range keys {
		out = strings.ReplaceAll(out, v, "["+values[v]+" redacted]")
	}
	return out
}
