// Package workflows holds hoist's Temporal workflows: deterministic
// orchestration of the activities, with the rollback as a saga
// compensation. No I/O, clocks or goroutines here.
package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/hoist-dev/hoist/activities"
	"github.com/hoist-dev/hoist/config"
)

// Names as they appear in the Temporal Web UI and CLI.
const (
	DeployWorkflowName = "Deploy"
	StatusWorkflowName = "Status"
	ProgressQuery      = "progress"
	FailureType        = "DeployFailed"
)

// MemoBy is the memo key of a deploy's starter (user@host), which
// hoist history lists.
const MemoBy = "by"

// Kinds of deploy.
const (
	KindDeploy   = "deploy"   // ship a new release bundle
	KindRollback = "rollback" // switch back to a release already on the hosts
)

// DeployWorkflowID is the deploy lock: one deploy or rollback per service
// and environment at a time, enforced by Temporal's workflow-ID
// uniqueness. Production keeps the ID it had before environments
// existed, deploy/SERVICE, so a CLI upgraded while a deploy runs still
// finds it and cannot start a second one beside it; any other environment
// is deploy/SERVICE/ENVIRONMENT (a service name holds no '/', so the two
// forms never meet). The workflow never reads its own ID: replay does
// not depend on it.
func DeployWorkflowID(service, environment string) string {
	if environment == "" || environment == config.DefaultEnvironment {
		return "deploy/" + service
	}
	return "deploy/" + service + "/" + environment
}

// Search attributes of a deploy workflow, for finding deploys in the Web
// UI ("HoistService = 'web' AND HoistEnvironment = 'staging'"). Temporal
// stores them in plain text even when payloads are encrypted: they hold
// names only, never secrets.
var (
	ServiceAttribute     = temporal.NewSearchAttributeKeyKeyword("HoistService")
	EnvironmentAttribute = temporal.NewSearchAttributeKeyKeyword("HoistEnvironment")
	VersionAttribute     = temporal.NewSearchAttributeKeyKeyword("HoistVersion")
	SearchAttributeNames = []string{ServiceAttribute.GetName(), EnvironmentAttribute.GetName(), VersionAttribute.GetName()}
)

// SearchAttributes of the deploy of in.
func SearchAttributes(in DeployInput) temporal.SearchAttributes {
	return temporal.NewSearchAttributes(
		ServiceAttribute.ValueSet(in.Spec.Service),
		EnvironmentAttribute.ValueSet(in.Spec.EnvironmentName()),
		VersionAttribute.ValueSet(in.Version))
}

// DeployInput is the whole deploy spec. It holds no credentials.
type DeployInput struct {
	Spec    config.Spec `json:"spec"`
	Version string      `json:"version"`
	Kind    string      `json:"kind"`             // KindDeploy (default) or KindRollback
	Bundle  []byte      `json:"bundle,omitempty"` // the release files, for KindDeploy
	// BundleRef names the release files instead of carrying them: they
	// are in the input of a ReleaseBundle run (what hoist deploy does).
	// A deploy has Bundle or BundleRef, never both.
	BundleRef *activities.BundleRef `json:"bundle_ref,omitempty"`
	// Poll overrides how often container state is read while waiting.
	Poll time.Duration `json:"poll,omitempty"`
	// Limited is the --hosts pattern Spec.Hosts was cut down with, for
	// the record and the summary; "" when the deploy covers every host.
	Limited string `json:"limited,omitempty"`
	// At: hoist deploy --at; the deploy waits for it on a durable timer
	// (cancel removes it; status and watch show it waiting).
	At *time.Time `json:"at,omitempty"`
	// WindowOverride: hoist deploy --ignore-window --reason.
	WindowOverride *WindowOverride `json:"window_override,omitempty"`
}

// HostOutcome is what happened on one host.
type HostOutcome struct {
	Host     string   `json:"host"`
	Previous string   `json:"previous,omitempty"` // the rollback target recorded before the switch
	Verdict  string   `json:"verdict,omitempty"`
	Detail   string   `json:"detail,omitempty"`
	Pruned   []string `json:"pruned,omitempty"`
}

// Outcomes of a deploy that did not fail.
const (
	OutcomeDeployed = "deployed"
	OutcomeWarning  = "warning" // running but unhealthy, health.unhealthy: warn
)

// DeployResult is returned when the deploy did not fail.
type DeployResult struct {
	Service  string   `json:"service"`
	Version  string   `json:"version"`
	Kind     string   `json:"kind"`
	Outcome  string   `json:"outcome"`
	Warnings []string `json:"warnings,omitempty"`
	// Notices: notifications that failed or went unconfirmed; they change
	// no outcome.
	Notices []string      `json:"notices,omitempty"`
	Hosts   []HostOutcome `json:"hosts"`
	// Fleet is the rollout's summary, for a spec with a rollout block.
	Fleet *Fleet `json:"fleet,omitempty"`
}

// FailureDetails travel with a failed deploy's error, so the CLI can say
// exactly what happened and what the fleet runs now.
type FailureDetails struct {
	Version             string `json:"version"`
	Kind                string `json:"kind"`
	Host                string `json:"host"`  // where the deploy failed
	Step                string `json:"step"`  // which step failed
	Cause               string `json:"cause"` // why
	RolledBackTo        string `json:"rolled_back_to,omitempty"`
	NothingToRollBackTo bool   `json:"nothing_to_roll_back_to,omitempty"`
	// NoGoodRelease: there were releases before, but none had passed its
	// running check there (with NothingToRollBackTo).
	NoGoodRelease bool `json:"no_good_release,omitempty"`
	// Setup: refused before any host, for what the worker's set-up lacks
	// (no credential for the spec's registry) or the input is: fix it and
	// deploy again, nothing was touched.
	Setup     bool `json:"setup,omitempty"`
	Cancelled bool `json:"cancelled,omitempty"`
	// RollbackFailed: the previous release did not come back on some
	// host; Recovery says per host what state it is in and what to run.
	RollbackFailed bool     `json:"rollback_failed,omitempty"`
	Recovery       []string `json:"recovery,omitempty"`
	// Logs are where the failed release's container logs were kept before
	// the rollback removed its containers: "host: path".
	Logs []string `json:"logs,omitempty"`
	// Mixed: a rollout ended with hosts on both releases, by design
	// (failures within max_failed, or on_failure: halt): every host the
	// new release failed on is back on its previous release, and Fleet
	// says which host runs what.
	Mixed bool `json:"mixed,omitempty"`
	// Fleet is the rollout's summary, for a spec with a rollout block.
	Fleet *Fleet `json:"fleet,omitempty"`
	// Refused: the deploy windows did not allow it (outside: refuse);
	// nothing was touched.
	Refused bool `json:"refused,omitempty"`
	// Notices: notifications that failed; they change no outcome.
	Notices []string `json:"notices,omitempty"`
}

// Event is one step on one host, for `hoist deploy`'s live output and the
// progress query.
type Event struct {
	Seq    int           `json:"seq"`
	Host   string        `json:"host"`
	Step   string        `json:"step"`
	State  string        `json:"state"` // started | ok | failed | skipped
	Detail string        `json:"detail,omitempty"`
	Took   time.Duration `json:"took,omitempty"`
}

// Progress answers the progress query.
type Progress struct {
	Kind    string  `json:"kind"`    // KindDeploy or KindRollback
	Version string  `json:"version"` // the release deployed or rolled back to
	Events  []Event `json:"events"`
	Phase   string  `json:"phase"` // scheduled | waiting for window | pre-flight | deploying | waiting for approval | rolling back | done
	// Until: when a scheduled deploy starts, or its window opens.
	Until time.Time `json:"until,omitempty"`
	// Fleet is the rollout's state, for a spec with a rollout block.
	Fleet *Fleet `json:"fleet,omitempty"`
}

// StatusInput asks for the state of every host of a service.
type StatusInput struct {
	Spec config.Spec `json:"spec"`
}

// StatusResult is the state of every host, in config order.
type StatusResult struct {
	Hosts  []activities.HostStatus `json:"hosts"`
	Errors []string                `json:"errors,omitempty"` // hosts that could not be read
}
