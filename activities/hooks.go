package activities

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"go.temporal.io/sdk/temporal"

	"github.com/hoist-dev/hoist/config"
	"github.com/hoist-dev/hoist/sshexec"
)

// HookInput is one hook: a one-off compose service of a release.
type HookInput struct {
	Target   Target `json:"target"`
	Version  string `json:"version"`
	Service  string `json:"service"`
	Position string `json:"position"` // config.HookBeforeUp, HookAfterUp or HookOnFailure
	// EnvFiles are the release's env files: their values are cut out of
	// the output that reaches the history.
	EnvFiles []string `json:"env_files,omitempty"`
}

// HookResult is the end of what the hook printed.
type HookResult struct {
	Tail string `json:"tail,omitempty"`
}

// hookTailLines is how much of a hook's output reaches the history: the
// end of it, where a migration says how it ended.
const hookTailLines = 10

// RunHook runs the hook in the release's folder and waits for it. It
// is run again only when the host could not be reached (the hook never
// ran, or its end was not seen); a hook that ran and failed is a verdict,
// not retried: a migration that failed halfway must not run twice on its
// own. A cancelled deploy ends it (the SSH session's command is killed).
func (a *Activities) RunHook(ctx context.Context, in HookInput) (HookResult, error) {
	step := "hook " + in.Position + " " + in.Service
	if err := in.Target.checkRelease(in.Version); err != nil {
		return HookResult{}, invalid(in.Target, step, err)
	}
	if msg := config.CheckServiceName(in.Service); msg != "" {
		return HookResult{}, invalid(in.Target, step, errors.New("service "+msg))
	}
	switch in.Position {
	case config.HookBeforeUp, config.HookAfterUp, config.HookOnFailure:
	default:
		return HookResult{}, invalid(in.Target, step, fmt.Errorf("position %q is not a hook position", in.Position))
	}
	stop := a.heartbeat(ctx, "hook")
	defer stop()
	res, err := a.SSH.Run(ctx, in.Target.Host, in.Target.Layout().Locked(in.Target.Compose(in.Version).RunHook(in.Service)))
	tail := lastLines(res.Stdout+res.Stderr, hookTailLines)
	var exit *sshexec.ExitError
	if errors.As(err, &exit) {
		said := exitSummary(exit)
		if tail != "" && !strings.Contains(said, tail) {
			said += "; it printed: " + tail
		}
		// What the hook printed may hold the release's secrets: the
		// values its env files set are cut out before it reaches history.
		said = redact(said, a.envValues(ctx, in.Target, in.Version, in.EnvFiles))
		msg := fmt.Sprintf("host %s, %s, release %s: %s", in.Target.Label(), step, in.Version, said)
		return HookResult{}, temporal.NewNonRetryableApplicationError(msg, ErrCommand, nil)
	}
	if tail != "" {
		tail = redact(tail, a.envValues(ctx, in.Target, in.Version, in.EnvFiles))
	}
	if err != nil {
		return HookResult{}, fail(ctx, in.Target, step+", release "+in.Version, err)
	}
	return HookResult{Tail: tail}, nil
}

// lastLines is the last n non-empty lines of s, joined by " | ".
func lastLines(s string, n int) string {
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
