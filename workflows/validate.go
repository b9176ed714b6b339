package workflows

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/hoist-dev/hoist/activities"
	"github.com/hoist-dev/hoist/commands"
	"github.com/hoist-dev/hoist/config"
)

// maxPoll bounds DeployInput.Poll: slower polling than this is no check.
const maxPoll = time.Minute

// Validate checks the whole input of a Deploy the way the CLI checks a
// hoist.yml, because the workflow is reachable from any client of its
// task queue (the Temporal CLI, the Web UI's "Start Workflow", a script).
// Pure and deterministic: it runs inside the workflow. The error names
// the field.
func (in DeployInput) Validate() error {
	var problems []error
	add := func(field, format string, args ...any) {
		problems = append(problems, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	switch in.Kind {
	case "", KindDeploy:
		switch {
		case len(in.Bundle) == 0 && in.BundleRef == nil:
			add("bundle", "a deploy needs the release files (hoist deploy packs them)")
		case len(in.Bundle) != 0 && in.BundleRef != nil:
			add("bundle_ref", "a deploy carries its files or names them, not both")
		case in.BundleRef != nil && !validRef(*in.BundleRef):
			add("bundle_ref", "want the sha256 digest, size and workflow of the bundle's ReleaseBundle run")
		}
	case KindRollback:
		if len(in.Bundle) != 0 || in.BundleRef != nil {
			add("bundle", "a rollback ships no files")
		}
	default:
		add("kind", "want %q or %q, got %q", KindDeploy, KindRollback, in.Kind)
	}
	if err := config.ValidateVersion(in.Version); err != nil {
		add("version", "%v", err)
	} else if !commands.IsVersion(in.Version) {
		add("version", "%q is not a release folder name", in.Version)
	}
	if in.Poll < 0 || in.Poll > maxPoll {
		add("poll", "want between 0 and %s, got %s", maxPoll, in.Poll)
	}
	if err := in.Spec.Validate(); err != nil {
		problems = append(problems, err)
	}
	in.validateAround(add)
	if in.Limited != "" && len(in.Limited) > 200 {
		add("limited", "the --hosts pattern is limited to 200 bytes")
	}
	if len(problems) == 0 {
		return nil
	}
	return invalidInput(errors.Join(problems...))
}

// invalidInput is the refusal of a deploy's input: permanent, before
// any host.
func invalidInput(err error) error {
	return temporal.NewNonRetryableApplicationError("invalid deploy input, nothing was touched: "+err.Error(), activities.ErrInvalid, nil)
}

// validateStatus checks a Status input the same way.
func (in StatusInput) validate() error {
	if err := in.Spec.Validate(); err != nil {
		return temporal.NewNonRetryableApplicationError("invalid status input: "+err.Error(), activities.ErrInvalid, nil)
	}
	return nil
}
