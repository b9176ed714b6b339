package workflows

import (
	"go.temporal.io/sdk/workflow"

	"github.com/hoist-dev/hoist/activities"
)

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
