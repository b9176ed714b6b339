package workflows

import (
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/hoist-dev/hoist/activities"
)

// StatusTimeout bounds a status read of n hosts, as the execution timeout
// its starter sets: hosts are read one after another, each in at most two
// attempts of quickStep with a second between them, and a minute is left
// for the rest. A read nobody waits for any more (the CLI was stopped)
// ends by then instead of lingering in the Web UI's list as running.
func StatusTimeout(n int) time.Duration {
	return time.Minute + time.Duration(n)*(2*quickStep.StartToCloseTimeout+5*time.Second)
}

// Status reads every host's releases and containers. It runs on the
// workers because the SSH credentials live there, not with the CLI.
func Status(ctx workflow.Context, in StatusInput) (*StatusResult, error) {
	if err := in.validate(); err != nil {
		return nil, err
	}
	d := &deploy{in: DeployInput{Spec: in.Spec}}
	opts := quickStep
	opts.RetryPolicy = retries(2)
	res := &StatusResult{}
	for _, t := range d.targets() {
		opts.Summary = t.Label() + ": status"
		var hs activities.HostStatus
		err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, opts), a.Status, t).Get(ctx, &hs)
		if err != nil {
			res.Errors = append(res.Errors, rootMessage(err))
			hs = activities.HostStatus{Target: t}
		}
		res.Hosts = append(res.Hosts, hs)
	}
	return res, nil
}
