package activities

import (
	"fmt"
	"strings"
	"time"

	"github.com/hoist-dev/hoist/commands"
	"github.com/hoist-dev/hoist/config"
)

// Target is one service on one host: everything an activity needs to know
// where it acts. It carries no credentials: those live with the worker.
type Target struct {
	Host    string `json:"host"`           // what the SSH layer dials: user@address:port or an alias
	Name    string `json:"name,omitempty"` // how people call the host, for messages
	Base    string `json:"base"`           // remote_base
	Service string `json:"service"`        // compose project name
}

// check refuses a target no command may be built for. Activities run it
// on their input first: the workflow validates too, but an activity is
// reachable from any client of the task queue.
func (t Target) check() error {
	switch {
	case t.Host == "" || strings.ContainsAny(t.Host, "\x00\r\n") || strings.HasPrefix(t.Host, "-"):
		return fmt.Errorf("host %q is not a host to dial", t.Host)
	}
	if err := t.Layout().Check(); err != nil {
		return err
	}
	return commands.CheckProject(t.Service)
}

// checkRelease is check plus the release's folder name.
func (t Target) checkRelease(version string) error {
	if err := t.check(); err != nil {
		return err
	}
	_, err := t.Layout().Release(version)
	return err
}

// Label names the host in messages.
func (t Target) Label() string {
	if t.Name != "" {
		return t.Name
	}
	return t.Host
}

// Layout is where the service lives on the host.
func (t Target) Layout() commands.Layout { return commands.Layout{Base: t.Base} }

// Compose builds compose commands for one release of the service.
func (t Target) Compose(version string) commands.Compose {
	return commands.Compose{Layout: t.Layout(), Project: t.Service, Version: version}
}

// Slot builds compose commands for the release as one of zero-downtime's
// slot projects; project "" is the service's own.
func (t Target) Slot(version, project string) commands.Compose {
	c := t.Compose(version)
	if project != "" {
		c.Project = project
	}
	return c
}

// SyncInput carries the release bundle to one host.
type SyncInput struct {
	Target  Target `json:"target"`
	Version string `json:"version"`
	Bundle  []byte `json:"bundle,omitempty"` // gzip'd tar from config.Bundle
	// Ref names the bundle instead of carrying it (a rollout's hosts).
	Ref BundleRef `json:"ref,omitempty"`
	// ComposeFile is the bundle's compose file, to find its env_file
	// entries.
	ComposeFile string `json:"compose_file,omitempty"`
}

// SyncResult says whether anything was written.
type SyncResult struct {
	Uploaded bool `json:"uploaded"` // false: the same content was already there
	// EnvFiles are the release's env files (config.EnvFiles), by path in
	// the release: their values are redacted from captured output.
	EnvFiles []string `json:"env_files,omitempty"`
}

// ReleaseInput names one release on one host.
type ReleaseInput struct {
	Target  Target `json:"target"`
	Version string `json:"version"`
}

// LoginInput says which registry to log the host in to; never the secret.
type LoginInput struct {
	Target   Target          `json:"target"`
	Registry config.Registry `json:"registry"`
}

// LoginResult names the server logged in to (ECR's comes from the token).
type LoginResult struct {
	Server string `json:"server"`
}

// StartResult is what StartRelease saw when it started the release.
type StartResult struct {
	// UpAt is the host's clock just before compose up: containers created
	// earlier were left in place by up, and their restarts from before the
	// deploy do not count against it.
	UpAt string `json:"up_at,omitempty"`
}

// WaitInput bounds the running check.
type WaitInput struct {
	Target   Target        `json:"target"`
	Version  string        `json:"version"`
	Services []string      `json:"services,omitempty"` // empty: every service of the project
	Window   time.Duration `json:"window"`             // retries × delay, as in the seed
	Poll     time.Duration `json:"poll"`               // how often state is read
	Stable   time.Duration `json:"stable,omitempty"`   // how long all must stay up to count as success
	UpAt     string        `json:"up_at,omitempty"`    // from StartResult
	// EnvFiles are the release's env files (relative paths): values read
	// from them are kept out of the crashed container's captured output.
	EnvFiles []string `json:"env_files,omitempty"`
	// RecordedServices: check the services the release's good mark lists
	// (MarkGood), not Services: a rollback checks the previous release by
	// its own services. No mark: every service.
	RecordedServices bool `json:"recorded_services,omitempty"`
	// Health is hoist.yml's health policy: how a running container is
	// proven healthy (config.Health.Gate fills in an older spec's zero
	// values).
	Health config.Health `json:"health,omitempty"`
	// Project is the compose project the release runs as: "" is the
	// service's own (strategy recreate); zero-downtime's slots are
	// SERVICE-a and SERVICE-b (Target.Slot).
	Project string `json:"project,omitempty"`
}

// WaitResult is the verdict at the moment the wait ended.
type WaitResult struct {
	Verdict    string               `json:"verdict"` // healthy | crashed | unhealthy | pending
	Detail     string               `json:"detail,omitempty"`
	Containers []commands.Container `json:"containers,omitempty"`
	Polls      int                  `json:"polls"`
	// Checks is how many health checks hoist ran (health.check docker
	// or http), on every container together.
	Checks int `json:"checks,omitempty"`
	// Unchecked says which services outside the checked ones crash or
	// restart: they do not decide the verdict, but the operator is told.
	Unchecked string `json:"unchecked,omitempty"`
}

// SaveLogsInput names the file a failed release's container logs are kept
// in (Name: a plain name, a timestamp).
type SaveLogsInput struct {
	Target  Target `json:"target"`
	Version string `json:"version"`
	Name    string `json:"name"`
	// Project: a zero-downtime slot's project ("" is the service's own).
	Project string `json:"project,omitempty"`
}

// SaveLogsResult is where the logs are, on the host.
type SaveLogsResult struct {
	Path string `json:"path"`
}

// MarkGoodInput names a release that passed its running check and the
// services that check covered (none: every service).
type MarkGoodInput struct {
	Target   Target   `json:"target"`
	Version  string   `json:"version"`
	Services []string `json:"services,omitempty"`
}

// PruneInput asks to keep the newest Keep releases and never the protected.
type PruneInput struct {
	Target  Target   `json:"target"`
	Keep    int      `json:"keep"`
	Protect []string `json:"protect,omitempty"`
}

// PruneResult lists what was removed.
type PruneResult struct {
	Removed []string `json:"removed,omitempty"`
}

// HostStatus is what `hoist status` shows for one host.
type HostStatus struct {
	Target     Target               `json:"target"`
	State      commands.State       `json:"state"`
	Containers []commands.Container `json:"containers,omitempty"`
	// Traffic is the dial the zero-downtime proxy follows ("" for
	// strategy recreate).
	Traffic string `json:"traffic,omitempty"`
}
