// Package activities holds hoist's Temporal activities: thin adapters that
// check state on a host, run the commands the commands package builds
// through the SSH executor, and classify what went wrong. Each is safe to
// run again after a crash at any point: it looks before it acts.
package activities

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/hoist-dev/hoist/commands"
	"github.com/hoist-dev/hoist/config"
	"github.com/hoist-dev/hoist/notify"
	"github.com/hoist-dev/hoist/registrycreds"
	"github.com/hoist-dev/hoist/remote"
	"github.com/hoist-dev/hoist/sshexec"
)

// Runner runs commands on hosts; *sshexec.Client is the real one.
type Runner interface {
	Run(ctx context.Context, host string, cmd remote.Command, opts ...sshexec.RunOption) (sshexec.Result, error)
	Upload(ctx context.Context, host, localDir, remoteDir string) (sshexec.UploadResult, error)
}

// Activities are the steps of a deploy. Their fields are their
// dependencies, injected when the worker starts; they never read the
// environment themselves.
type Activities struct {
	SSH Runner
	// Registries are the worker's registry credentials, by server: the
	// only ones a host is ever logged in with. nil holds none.
	Registries *registrycreds.Store
	// Getenv reads the worker's own environment, where a credential's
	// password_env is looked up.
	Getenv func(string) string
	// ECR fetches registry credentials from AWS; nil disables ECR.
	ECR ECRTokens
	// HeartbeatEvery is how often long steps report liveness.
	HeartbeatEvery time.Duration
	// Bundles fetches bundles a sync names by reference; nil: such a
	// sync is refused.
	Bundles Bundles
	// Notify sends deploy notifications to the worker's notifiers
	// (hoist worker --notify-config); nil: the worker has none.
	Notifier *notify.Sender
	// UIURL is the Temporal Web UI the notifications link to, and
	// Namespace the deploys' namespace in it.
	UIURL, Namespace string
}

// Error types: retry policies and the workflow match on these names.
const (
	ErrHostKey     = "HostKeyError"    // host key unknown or changed: needs a person
	ErrAuth        = "AuthError"       // SSH key refused
	ErrUnreachable = "HostUnreachable" // connection failed or dropped: retry
	ErrCommand     = "CommandFailed"   // a remote command exited non-zero
	ErrConflict    = "ReleaseConflict" // the version exists with other content
	ErrInvalid     = "InvalidInput"    // a value no retry can fix
	ErrRegistry    = "RegistryLogin"   // credentials missing or refused
	ErrMissing     = "ReleaseMissing"  // the release folder is not on the host
	ErrLocked      = "HostLocked"      // another step of the service held the host's lock too long: retry
)

// commandAttempts is how often a command that ran and exited non-zero is
// tried: once more covers a passing fault (a registry hiccup); a port in
// use or a missing image will not fix itself, and the deploy should roll
// back now rather than after the host's unreachability budget.
const commandAttempts = 2

// fail wraps err with where it happened and classifies it for Temporal.
func fail(ctx context.Context, t Target, step string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	msg := fmt.Sprintf("host %s, step %s: %v", t.Label(), step, err)
	var ran *sshexec.ExitError
	if errors.As(err, &ran) {
		// What the command said, not the internal shell hoist ran it in
		// (that stays in the error's cause, for the worker's log).
		msg = fmt.Sprintf("host %s, step %s: %s", t.Label(), step, exitSummary(ran))
	}
	var (
		hk   *sshexec.HostKeyError
		auth *sshexec.AuthError
		conf *sshexec.ConflictError
		exit *sshexec.ExitError
		conn *sshexec.ConnError
	)
	switch {
	case errors.As(err, &hk):
		return temporal.NewNonRetryableApplicationError(msg+" (check the host and update known_hosts, or run the worker with --host-key-policy accept-new for a new host)", ErrHostKey, err)
	case errors.As(err, &auth):
		return temporal.NewNonRetryableApplicationError(msg+" (the worker's SSH key or agent is not accepted by the host)", ErrAuth, err)
	case errors.As(err, &conf):
		return temporal.NewNonRetryableApplicationError(msg+" (a release with this version but other files is already on the host; deploy under a new --version)", ErrConflict, err)
	case errors.Is(err, remote.ErrInvalidCommand):
		return temporal.NewNonRetryableApplicationError(msg, ErrInvalid, err)
	case errors.As(err, &exit) && exit.Code == commands.LockBusyCode:
		return temporal.NewApplicationErrorWithCause(msg+" (another step of this service held its lock on the host; retrying)", ErrLocked, err)
	case errors.As(err, &exit):
		if activity.IsActivity(ctx) && activity.GetInfo(ctx).Attempt >= commandAttempts {
			return temporal.NewNonRetryableApplicationError(msg, ErrCommand, err)
		}
		return temporal.NewApplicationErrorWithCause(msg, ErrCommand, err)
	case errors.As(err, &conn) || sshexec.Retryable(err):
		return temporal.NewApplicationErrorWithCause(msg, ErrUnreachable, err)
	}
	return temporal.NewApplicationErrorWithCause(msg, ErrCommand, err)
}

// heartbeat reports liveness every HeartbeatEvery until stopped, so a
// worker that died is noticed within the heartbeat timeout, not the step's.
func (a *Activities) heartbeat(ctx context.Context, details ...any) (stop func()) {
	every := a.HeartbeatEvery
	if every <= 0 {
		every = time.Second
	}
	done := make(chan struct{})
	go func() {
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-tick.C:
				activity.RecordHeartbeat(ctx, details...)
			}
		}
	}()
	return func() { close(done) }
}

func (a *Activities) run(ctx context.Context, t Target, step string, cmd remote.Command) (sshexec.Result, error) {
	res, err := a.SSH.Run(ctx, t.Host, cmd)
	return res, fail(ctx, t, step, err)
}

// runLocked runs a command that changes the host under the service's
// lock there (commands.Layout.Locked): a second attempt of a step waits
// for the first instead of interleaving with it.
func (a *Activities) runLocked(ctx context.Context, t Target, step string, cmd remote.Command) (sshexec.Result, error) {
	return a.run(ctx, t, step, t.Layout().Locked(cmd))
}

// invalid is the error for an input no retry can fix: it names the step
// and is never retried.
func invalid(t Target, step string, err error) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf("host %s, step %s: invalid input: %v", t.Label(), step, err), ErrInvalid, err)
}

// InspectHost reads the releases and current link under remote_base.
func (a *Activities) InspectHost(ctx context.Context, t Target) (commands.State, error) {
	if err := t.check(); err != nil {
		return commands.State{}, invalid(t, "inspect", err)
	}
	res, err := a.SSH.Run(ctx, t.Host, t.Layout().Inspect())
	var exit *sshexec.ExitError
	if errors.As(err, &exit) {
		// Inspect fails when remote_base does not exist yet: a host never
		// deployed to. Ask rather than parse a localised message.
		_, missing := a.SSH.Run(ctx, t.Host, t.Layout().BaseExists())
		if errors.As(missing, &exit) && exit.Code == 1 {
			return commands.State{}, nil
		}
	}
	if err != nil {
		return commands.State{}, fail(ctx, t, "inspect", err)
	}
	return commands.ParseState(res.Stdout), nil
}

// SyncRelease puts the bundle's files in remote_base/VERSION: uploaded to
// a temporary sibling and renamed, so a release folder is always whole.
// The same content already there is a no-op; other content is refused.
func (a *Activities) SyncRelease(ctx context.Context, in SyncInput) (SyncResult, error) {
	t := in.Target
	if err := t.checkRelease(in.Version); err != nil {
		return SyncResult{}, invalid(t, "sync", err)
	}
	dir, _ := t.Layout().Release(in.Version)
	local, err := os.MkdirTemp("", "hoist-bundle-")
	if err != nil {
		return SyncResult{}, fmt.Errorf("step sync: temporary folder on the worker: %w", err)
	}
	defer os.RemoveAll(local)
	bundle, err := a.bundleOf(ctx, in)
	if err != nil {
		return SyncResult{}, err
	}
	if err := config.ExtractBundle(bundle, local); err != nil {
		return SyncResult{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf("host %s, step sync, release %s: bad bundle: %v", t.Label(), in.Version, err), ErrInvalid, err)
	}
	envFiles, _ := config.BundleEnvFiles(bundle, in.ComposeFile) // a bundle it cannot read failed above
	if _, err := a.run(ctx, t, "sync", t.Layout().EnsureBase()); err != nil {
		return SyncResult{}, err
	}
	stop := a.heartbeat(ctx, "sync")
	defer stop()
	up, err := a.SSH.Upload(ctx, t.Host, local, dir)
	if err != nil {
		return SyncResult{}, fail(ctx, t, "sync, release "+in.Version, err)
	}
	return SyncResult{Uploaded: !up.Skipped, EnvFiles: envFiles}, nil
}

// SwitchCurrent points current at the release, atomically. The command
// is its own check: it refuses a release that is not there, and run again
// it renames an identical link over current, which changes nothing.
func (a *Activities) SwitchCurrent(ctx context.Context, in ReleaseInput) error {
	t := in.Target
	if err := t.checkRelease(in.Version); err != nil {
		return invalid(t, "switch current", err)
	}
	_, err := a.SSH.Run(ctx, t.Host, t.Layout().Locked(t.Layout().SwitchCurrent(in.Version)))
	var exit *sshexec.ExitError
	if errors.As(err, &exit) && exit.Code == 1 && exit.StderrTail == "" {
		// test -d failed: the release folder is not on this host.
		return temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("host %s, step switch: release %s is not in %s", t.Label(), in.Version, t.Base), ErrMissing, nil)
	}
	return fail(ctx, t, "switch current to "+in.Version, err)
}

// PullImages pulls the release's images while the running release serves.
func (a *Activities) PullImages(ctx context.Context, in ReleaseInput) error {
	if err := in.Target.checkRelease(in.Version); err != nil {
		return invalid(in.Target, "pull", err)
	}
	stop := a.heartbeat(ctx, "pull")
	defer stop()
	_, err := a.runLocked(ctx, in.Target, "pull, release "+in.Version, in.Target.Compose(in.Version).Pull())
	return err
}

// StartRelease runs compose up for the release.
func (a *Activities) StartRelease(ctx context.Context, in ReleaseInput) (StartResult, error) {
	if err := in.Target.checkRelease(in.Version); err != nil {
		return StartResult{}, invalid(in.Target, "up", err)
	}
	stop := a.heartbeat(ctx, "up")
	defer stop()
	res, err := a.runLocked(ctx, in.Target, "up, release "+in.Version, in.Target.Compose(in.Version).Up())
	if err != nil {
		return StartResult{}, err
	}
	return StartResult{UpAt: commands.ParseHostClock(res.Stdout)}, nil
}

// StopRelease runs compose down for the release.
func (a *Activities) StopRelease(ctx context.Context, in ReleaseInput) error {
	if err := in.Target.checkRelease(in.Version); err != nil {
		return invalid(in.Target, "down", err)
	}
	stop := a.heartbeat(ctx, "down")
	defer stop()
	_, err := a.runLocked(ctx, in.Target, "down, release "+in.Version, in.Target.Compose(in.Version).Down())
	return err
}

// HaltRelease stops a failed release's containers without removing them:
// with nothing to roll back to, a crash loop should stop, but its logs
// must stay for whoever looks into it.
func (a *Activities) HaltRelease(ctx context.Context, in ReleaseInput) error {
	if err := in.Target.checkRelease(in.Version); err != nil {
		return invalid(in.Target, "stop", err)
	}
	_, err := a.runLocked(ctx, in.Target, "stop, release "+in.Version, in.Target.Compose(in.Version).Stop())
	return err
}

func (a *Activities) projectContainers(ctx context.Context, t Target, project string) ([]commands.Container, error) {
	res, err := a.run(ctx, t, "list containers", commands.ProjectContainers(project))
	if err != nil {
		return nil, err
	}
	ids := commands.ParseIDs(res.Stdout)
	if len(ids) == 0 {
		return nil, nil
	}
	res, err = a.run(ctx, t, "inspect containers", commands.InspectContainers(ids...))
	if err != nil {
		return nil, err
	}
	return commands.ParseContainers(res.Stdout), nil
}

// MarkFailed marks the release failed so no rollback picks it.
func (a *Activities) MarkFailed(ctx context.Context, in ReleaseInput) error {
	if err := in.Target.checkRelease(in.Version); err != nil {
		return invalid(in.Target, "mark failed", err)
	}
	st, err := a.InspectHost(ctx, in.Target)
	if err != nil || !st.Has(in.Version) {
		return err
	}
	_, err = a.runLocked(ctx, in.Target, "mark "+in.Version+" failed", in.Target.Layout().MarkFailed(in.Version))
	return err
}

// SaveLogs keeps the release's container logs in its folder on the host
// before a rollback removes the containers, and says where.
func (a *Activities) SaveLogs(ctx context.Context, in SaveLogsInput) (SaveLogsResult, error) {
	if err := in.Target.checkRelease(in.Version); err != nil {
		return SaveLogsResult{}, invalid(in.Target, "save logs", err)
	}
	if !commands.IsVersion(in.Name) {
		return SaveLogsResult{}, invalid(in.Target, "save logs", fmt.Errorf("log name %q is not a plain name", in.Name))
	}
	if in.Project != "" && in.Project != commands.SlotProject(in.Target.Service, commands.SlotA) && in.Project != commands.SlotProject(in.Target.Service, commands.SlotB) {
		return SaveLogsResult{}, invalid(in.Target, "save logs", fmt.Errorf("project %q is neither the service's nor one of its slots", in.Project))
	}
	c := in.Target.Slot(in.Version, in.Project)
	if _, err := a.runLocked(ctx, in.Target, "save logs of "+in.Version, c.SaveLogs(in.Name)); err != nil {
		return SaveLogsResult{}, err
	}
	return SaveLogsResult{Path: c.SavedLogs(in.Name)}, nil
}

// MarkGood records that the release passed its running check, with the
// services checked, so rollback may choose it and check it by its own
// services.
func (a *Activities) MarkGood(ctx context.Context, in MarkGoodInput) error {
	if err := in.Target.checkRelease(in.Version); err != nil {
		return invalid(in.Target, "mark good", err)
	}
	for _, s := range in.Services {
		if err := commands.CheckServiceName(s); err != nil {
			return invalid(in.Target, "mark good", err)
		}
	}
	_, err := a.runLocked(ctx, in.Target, "mark "+in.Version+" good", in.Target.Layout().MarkGood(in.Version, in.Services))
	return err
}

// ClearFailed removes a failed mark once the release has succeeded
// (deploys recorded before MarkGood existed).
func (a *Activities) ClearFailed(ctx context.Context, in ReleaseInput) error {
	if err := in.Target.checkRelease(in.Version); err != nil {
		return invalid(in.Target, "clear failed mark", err)
	}
	_, err := a.runLocked(ctx, in.Target, "clear failed mark of "+in.Version, in.Target.Layout().ClearFailed(in.Version))
	return err
}

// PruneReleases removes what retention does not keep (State.Prunable:
// the newest Keep good releases, current, the protected ones and recent
// failures stay).
func (a *Activities) PruneReleases(ctx context.Context, in PruneInput) (PruneResult, error) {
	if in.Keep < 1 {
		return PruneResult{}, invalid(in.Target, "prune releases", fmt.Errorf("keep %d: want at least 1", in.Keep))
	}
	st, err := a.InspectHost(ctx, in.Target)
	if err != nil {
		return PruneResult{}, err
	}
	doomed := st.Prunable(in.Keep, in.Protect...)
	if len(doomed) == 0 {
		return PruneResult{}, nil
	}
	if _, err := a.runLocked(ctx, in.Target, "remove old releases", in.Target.Layout().RemoveReleases(doomed...)); err != nil {
		return PruneResult{}, err
	}
	return PruneResult{Removed: doomed}, nil
}

// Status reports one host's releases and the project's containers.
func (a *Activities) Status(ctx context.Context, t Target) (HostStatus, error) {
	st, err := a.InspectHost(ctx, t)
	if err != nil {
		return HostStatus{}, err
	}
	cs, err := a.projectContainers(ctx, t, t.Service)
	if err != nil {
		return HostStatus{}, err
	}
	hs := HostStatus{Target: t, State: st, Containers: cs}
	// Strategy zero-downtime: the slots' containers, and which one the
	// proxy sends traffic to. A host without a dial file has no slots.
	if res, err := a.SSH.Run(ctx, t.Host, t.Layout().ReadUpstream()); err == nil {
		hs.Traffic = strings.TrimSpace(res.Stdout)
		for _, slot := range []string{commands.SlotA, commands.SlotB} {
			more, err := a.projectContainers(ctx, t, commands.SlotProject(t.Service, slot))
			if err != nil {
				return HostStatus{}, err
			}
			hs.Containers = append(hs.Containers, more...)
		}
	}
	return hs, nil
}

// exitSummary is how a remote command ended and the end of its stderr.
func exitSummary(e *sshexec.ExitError) string {
	s := fmt.Sprintf("exit status %d", e.Code)
	if e.Signal != "" {
		s = "killed by signal " + e.Signal
	}
	if tail := strings.TrimSpace(e.StderrTail); tail != "" {
		s += ": " + tail
	}
	return s
}
