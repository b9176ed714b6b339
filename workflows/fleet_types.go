package workflows

import (
	"time"

	"github.com/hoist-dev/hoist/activities"
	"github.com/hoist-dev/hoist/config"
)

// Names of the fleet rollout's parts, as the Web UI and CLI see them.
const (
	// DeployHostWorkflowName is the child workflow that deploys one host
	// of a rollout: each host's steps have their own history, and the
	// parent records a few events per host.
	DeployHostWorkflowName = "DeployHost"
	// DecideUpdate is the Update `hoist approve` and `hoist reject` send
	// to a rollout waiting for approval.
	DecideUpdate = "decide"
)

// Phases of a DeployHost child. Pre-flight prepares every host before
// any host starts, so a host's deploy is two children then; without
// pre-flight one child does both.
const (
	PhasePrepare = "prepare" // inspect, sync, login, pull: nothing the running release uses changes
	PhaseStart   = "start"   // switch, up, the running check, the pause watch, the good mark
	PhaseDeploy  = "deploy"  // prepare, then start
	PhaseRevert  = "revert"  // put a host this rollout changed back on its previous release
)

// HostInput is one DeployHost child's input: the spec with only this
// host in it, and the bundle by reference: the bytes entered history
// once, in the parent's input (see activities.BundleRef).
type HostInput struct {
	Spec    config.Spec          `json:"spec"`
	Version string               `json:"version"`
	Kind    string               `json:"kind"`
	Phase   string               `json:"phase"`
	Bundle  activities.BundleRef `json:"bundle,omitempty"`
	Poll    time.Duration        `json:"poll,omitempty"`
	// Pause is the rollout's pause: the host is watched this long after
	// its running check, before it is marked good.
	Pause time.Duration `json:"pause,omitempty"`
	// Prepared is what the prepare phase found, for start and revert.
	Prepared *HostPrepared `json:"prepared,omitempty"`
	// Changed is what start did to the host, for revert.
	Changed *HostChanged `json:"changed,omitempty"`
	// OnceHost: the first host of the first batch, where once hooks run.
	OnceHost bool `json:"once_host,omitempty"`
}

// HostPrepared is what a host's prepare phase found and did.
type HostPrepared struct {
	Previous string   `json:"previous,omitempty"` // the rollback target; "" on a first deploy
	Current  string   `json:"current,omitempty"`  // what current pointed at
	First    bool     `json:"first,omitempty"`    // no current release: nothing served before
	EnvFiles []string `json:"env_files,omitempty"`
	// Skip: the host already runs the version, with the same files,
	// marked good: the rollout leaves it alone.
	Skip bool `json:"skip,omitempty"`
}

// HostChanged is what a start phase changed on a host: what a revert
// undoes.
type HostChanged struct {
	Switched bool `json:"switched,omitempty"`
	Started  bool `json:"started,omitempty"`
	// Slots: what a zero-downtime start did with the slots.
	Slots *SlotRun `json:"slots,omitempty"`
}

// HostResult is what a DeployHost child returns when it did not fail.
type HostResult struct {
	Host     string        `json:"host"`
	Prepared *HostPrepared `json:"prepared,omitempty"`
	Changed  *HostChanged  `json:"changed,omitempty"`
	Outcome  HostOutcome   `json:"outcome"`
	Warnings []string      `json:"warnings,omitempty"`
}

// States of a host in a rollout, as `hoist deploy`, `watch` and the
// JSON output show them.
const (
	StatePending   = "pending"   // not started yet
	StatePreparing = "preparing" // pre-flight: inspect, sync, login, pull
	StatePrepared  = "prepared"  // pre-flight done, waiting for its batch
	StateDeploying = "deploying" // switch, up, the running check
	StateDeployed  = "deployed"  // runs the new release, checked
	StateWarning   = "warning"   // runs the new release, running but unhealthy (health.unhealthy: warn)
	StateSkipped   = "skipped"   // already ran the release: left alone
	StateFailed    = "failed"    // the new release failed here; the host was put back on its previous release
	StateReverting = "reverting" // being put back on its previous release
	StateReverted  = "reverted"  // ran the new release; put back on its previous one when the rollout stopped
	StateUnsafe    = "unsafe"    // could not be put back, or nothing to put it back on: see the recovery
	StateNotRun    = "not run"   // the rollout stopped before this host's turn; it was not changed
)

// FleetHost is one host's line in a rollout's progress and summary.
type FleetHost struct {
	Host     string `json:"host"`
	Batch    int    `json:"batch"` // 1-based
	State    string `json:"state"`
	Step     string `json:"step,omitempty"`     // the step running or last done, while deploying
	Previous string `json:"previous,omitempty"` // the release it ran before
	Runs     string `json:"runs,omitempty"`     // the release it runs now, as far as the rollout knows
	Detail   string `json:"detail,omitempty"`   // why it failed, or its warning
	// Child is the DeployHost workflow doing the host's current phase:
	// `hoist watch` asks it for the step.
	Child string `json:"child,omitempty"`
}

// Approval is a decision on a rollout waiting for approval.
type Approval struct {
	Approve bool      `json:"approve"`
	By      string    `json:"by"`             // who: user@machine, as the CLI found it
	Note    string    `json:"note,omitempty"` // why, in their words
	Batch   int       `json:"batch,omitempty"`
	At      time.Time `json:"at,omitempty"` // set by the workflow
}

// ApprovalWait is a rollout waiting for approval.
type ApprovalWait struct {
	AfterBatch int       `json:"after_batch"`
	Reason     string    `json:"reason"` // approve_after, or the health warning that stopped it
	Since      time.Time `json:"since"`
	Deadline   time.Time `json:"deadline"` // no answer by then: the rollout rolls back
}

// Fleet is a rollout's state: in the progress query while it runs, and
// in the result or failure when it ends.
type Fleet struct {
	Batches   int           `json:"batches"`
	Batch     int           `json:"batch"` // the batch running or last run, 1-based; 0 during pre-flight
	Hosts     []FleetHost   `json:"hosts"` // config order
	Waiting   *ApprovalWait `json:"waiting,omitempty"`
	Approvals []Approval    `json:"approvals,omitempty"`
	OnFailure string        `json:"on_failure"`
	MaxFailed int           `json:"max_failed"`
	Failed    int           `json:"failed"` // hosts the new release failed on so far
	// Limited names the --hosts pattern when the deploy was limited to
	// some hosts of the service.
	Limited string `json:"limited,omitempty"`
	// Stopped says why the rollout stopped early, when it did.
	Stopped string `json:"stopped,omitempty"`
}

// Count is how many hosts are in state.
func (f *Fleet) Count(state string) int {
	n := 0
	for _, h := range f.Hosts {
		if h.State == state {
			n++
		}
	}
	return n
}
