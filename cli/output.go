package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	ucli "github.com/urfave/cli/v2"
	"go.temporal.io/sdk/temporal"

	"github.com/hoist-dev/hoist/workflows"
)

// jsonOutput reads --output: false for text (or a command without the
// flag), true for json, a usage error for anything else.
func jsonOutput(c *ucli.Context) (bool, error) {
	switch o := c.String(outputFlag.Name); o {
	case "", outputText:
		return false, nil
	case outputJSON:
		return true, nil
	default:
		return false, Usagef("--output: want %s or %s, got %q", outputText, outputJSON, o)
	}
}

// Outcomes of a deploy or rollback in --output json: the workflows'
// outcomes (FailureDetails.Outcome decides a failed one's), and started.
const (
	jsonStarted    = "started"                   // --detach: it runs; `hoist watch` follows it
	jsonDeployed   = workflows.OutcomeDeployed   // every host runs version (for kind rollback: was rolled back to it)
	jsonWarning    = workflows.OutcomeWarning    // deployed, with health warnings
	jsonRolledBack = workflows.OutcomeRolledBack // failed; every host it changed is back on its previous release
	jsonFailed     = workflows.OutcomeFailed     // failed before changing any host (or refused by the worker's set-up)
	jsonMixed      = workflows.OutcomeMixed      // a rollout ended with hosts on both releases, by design
	jsonCancelled  = workflows.OutcomeCancelled  // cancelled; what it changed is back (exit 0 from hoist cancel, 1 here, 5 under halt)
	jsonUnsafe     = workflows.OutcomeUnsafe     // a human is needed: a host could not be put back, or hoist cannot tell
)

// ending is how a followed deploy or rollback ended: what the text output
// closes with, the exit code, and what --output json says.
type ending struct {
	kind, version string
	outcome       string
	code          int
	lines         []string // the closing text, printed as is
	fleet         *workflows.Fleet
	hosts         []workflows.HostOutcome // a host-by-host deploy's, when it did not fail
	// err is a result hoist could not classify: returned as the command's
	// error (exit 3) in text mode.
	err error
}

// conclude reads the workflow's result or failure. It prints nothing.
func conclude(in workflows.DeployInput, res *workflows.DeployResult, err error) ending {
	env := in.Spec.EnvironmentName()
	e := ending{kind: in.Kind, version: in.Version}
	if err == nil {
		// The workflow's own result wins: an attached CLI may not know
		// what it follows.
		if res.Version != "" {
			e.version = res.Version
		}
		if res.Kind != "" {
			e.kind = res.Kind
		}
		e.code, e.outcome, e.fleet, e.hosts = ExitOK, jsonDeployed, res.Fleet, res.Hosts
		// Failed notifications are said after the outcome; they change no exit code.
		noted := func(e ending) ending {
			for _, n := range res.Notices {
				e.lines = append(e.lines, "ℹ️ "+n)
			}
			return e
		}
		if res.Outcome == workflows.OutcomeWarning {
			e.outcome = jsonWarning
			for _, w := range res.Warnings {
				e.lines = append(e.lines, fmt.Sprintf("⚠️ Warning: %s. Monitor closely.", w))
			}
			return noted(e)
		}
		fleet := ""
		if res.Fleet != nil {
			fleet = fmt.Sprintf(" %d host(s) in %d batch(es)", len(res.Fleet.Hosts), res.Fleet.Batches)
		}
		if e.kind == workflows.KindRollback {
			if fleet != "" {
				fleet = " on" + fleet
			}
			e.lines = []string{fmt.Sprintf("✅ Rolled back %s to version %s%s%s", in.Spec.Service, e.version, inEnv(env), fleet)}
		} else {
			if fleet != "" {
				fleet = " to" + fleet
			}
			e.lines = []string{fmt.Sprintf("✅ Successfully deployed %s version %s%s%s", in.Spec.Service, e.version, inEnv(env), fleet)}
		}
		return noted(e)
	}
	var app *temporal.ApplicationError
	if errors.As(err, &app) && app.Type() == workflows.FailureType {
		var d workflows.FailureDetails
		_ = app.Details(&d)
		e.version, e.kind = or(d.Version, e.version), or(d.Kind, e.kind)
		e.code, e.fleet, e.lines, e.outcome = failureCode(d), d.Fleet, []string{app.Message()}, d.Outcome(false)
		return e
	}
	var canceled *temporal.CanceledError
	if errors.As(err, &canceled) {
		var d workflows.FailureDetails
		if !canceled.HasDetails() || canceled.Details(&d) != nil {
			d = workflows.FailureDetails{}
		}
		d.Version, d.Kind = or(d.Version, e.version), or(d.Kind, e.kind)
		e.version, e.kind = d.Version, d.Kind
		e.code, e.fleet, e.lines, e.outcome = failureCode(d), d.Fleet, []string{cancelledMessage(d)}, d.Outcome(true)
		return e
	}
	e.err = fmt.Errorf("%s of %s (%s) version %s: %w; hoist cannot tell what the hosts run: check `hoist status`", e.kind, in.Spec.Service, env, e.version, err)
	e.code, e.outcome, e.lines = ExitUnsafe, jsonUnsafe, []string{e.err.Error()}
	return e
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// deployJSON is what deploy, rollback and watch print with --output
// json: one object, once the deploy has ended (or, with --detach, has
// started). README documents it; fields are only ever added.
type deployJSON struct {
	Service     string           `json:"service"`
	Environment string           `json:"environment"`
	Version     string           `json:"version"`
	Kind        string           `json:"kind"`
	Outcome     string           `json:"outcome"`
	ExitCode    int              `json:"exit_code"`
	Message     string           `json:"message"`
	WorkflowID  string           `json:"workflow_id"`
	RunID       string           `json:"run_id"`
	Limited     string           `json:"limited"` // the --hosts pattern, "" when every host (or not known: watch of a host-by-host deploy)
	Fleet       *workflows.Fleet `json:"fleet"`   // a rollout's hosts, batches, approvals; null without a rollout block
	Hosts       []hostJSON       `json:"hosts"`
}

// hostJSON is one host's end in deployJSON.
type hostJSON struct {
	Host     string `json:"host"`
	State    string `json:"state"`              // as in fleet (deployed, warning, skipped, failed, reverted, unsafe, not run, ...)
	Previous string `json:"previous,omitempty"` // the release it ran before
	Runs     string `json:"runs,omitempty"`     // the release it runs now, as far as hoist knows
	Detail   string `json:"detail,omitempty"`
}

// deployReport is e as deployJSON.
func deployReport(in workflows.DeployInput, e ending, id, runID string) deployJSON {
	out := deployJSON{
		Service: in.Spec.Service, Environment: in.Spec.EnvironmentName(), Version: e.version, Kind: e.kind,
		Outcome: e.outcome, ExitCode: e.code, WorkflowID: id, RunID: runID, Limited: in.Limited,
		Fleet: e.fleet, Hosts: []hostJSON{},
	}
	for i, l := range e.lines {
		if i > 0 {
			out.Message += "\n"
		}
		out.Message += l
	}
	if e.fleet != nil {
		out.Limited = or(e.fleet.Limited, out.Limited)
		for _, h := range e.fleet.Hosts {
			out.Hosts = append(out.Hosts, hostJSON{Host: h.Host, State: h.State, Previous: h.Previous, Runs: h.Runs, Detail: h.Detail})
		}
		return out
	}
	for _, h := range e.hosts {
		state := workflows.StateDeployed
		if e.outcome == jsonWarning && h.Verdict == "unhealthy" {
			state = workflows.StateWarning
		}
		out.Hosts = append(out.Hosts, hostJSON{Host: h.Host, State: state, Previous: h.Previous, Runs: e.version, Detail: h.Detail})
	}
	return out
}

// writeJSON writes v indented, as hoist plan does.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
