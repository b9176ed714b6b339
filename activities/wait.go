package activities

import (
	"context"
	"errors"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/hoist-dev/hoist/commands"
	"github.com/hoist-dev/hoist/sshexec"
)

// WaitRunning polls the release's containers until every checked one is
// running (and healthy, where it has a healthcheck), one has crashed, or
// the window ends. Polling is far more frequent than the seed's 5 s delay:
// success is reported as soon as it is true, and a crash — including a
// restart under a restart policy, which a slow poll sees as "running" —
// ends the wait at once. The verdict is a result, not an error: what to do
// about it is the workflow's decision.
func (a *Activities) WaitRunning(ctx context.Context, in WaitInput) (WaitResult, error) {
	t := in.Target
	poll := in.Poll
	if poll <= 0 {
		poll = 250 * time.Millisecond
	}
	deadline := time.Now().Add(in.Window)
	// Restarts count from the moment a container is first seen, unless up
	// created it: then every restart since creation is a crash.
	baseline := map[string]int{}
	var res WaitResult
	var ids []string
	inspectFailures := 0
	for {
		if len(ids) == 0 {
			out, err := a.run(ctx, t, "wait running, release "+in.Version, t.compose(in.Version).ContainerIDs(in.Services...))
			if err != nil {
				return res, err
			}
			ids = commands.ParseIDs(out.Stdout)
		}
		var cs []commands.Container
		if len(ids) > 0 {
			out, err := a.SSH.Run(ctx, t.Host, commands.InspectContainers(ids...))
			var exit *sshexec.ExitError
			switch {
			case errors.As(err, &exit) && inspectFailures < 3:
				inspectFailures++
				ids = nil // a container went away: list again
			case err != nil:
				return res, fail(t, "wait running, release "+in.Version, err)
			default:
				inspectFailures = 0
			}
			cs = commands.ParseContainers(out.Stdout)
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
		v, detail := commands.Judge(cs)
		res.Verdict, res.Detail, res.Containers = v.String(), detail, cs
		activity.RecordHeartbeat(ctx, res.Polls)
		if v == commands.Healthy || v == commands.Crashed || !time.Now().Before(deadline) {
			if v == commands.Pending && detail == "" {
				res.Detail = "no container of the release is running"
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
