package workflows

import (
	"fmt"

	"go.temporal.io/sdk/workflow"

	"github.com/hoist-dev/hoist/activities"
	"github.com/hoist-dev/hoist/config"
)

// hooks runs the release's hooks at pos on the host, in order: a failing
// required hook fails the host (before_up before anything on it changed,
// after_up like a failed running check); an optional one, and any
// on_failure hook, is a warning. once hooks run on the deploy's first host
// only.
func (d *deploy) hooks(ctx workflow.Context, h *hostRun, pos string) (warnings []string, err error) {
	if d.in.Kind == KindRollback {
		return nil, nil // hooks are the new release's; a rollback ships none
	}
	for _, hook := range d.in.Spec.Hooks.At(pos) {
		if hook.Once && !h.onceHost {
			continue
		}
		in := activities.HookInput{Target: h.t, Version: d.in.Version, Service: hook.Service, Position: pos, EnvFiles: withDotEnv(h.envFiles)}
		var res activities.HookResult
		step := fmt.Sprintf("hook %s %s", pos, hook.Service)
		herr := d.step(ctx, h.t.Label(), step, hookStep, a.RunHook, in, &res)
		if herr == nil {
			continue
		}
		if hook.Optional || pos == config.HookOnFailure {
			warnings = append(warnings, fmt.Sprintf("host %s: %s failed (required: false): %s", h.t.Label(), step, rootMessage(herr)))
			continue
		}
		return warnings, &stepError{host: h.t.Label(), step: step, err: herr}
	}
	return warnings, nil
}
