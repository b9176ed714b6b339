//go:build integration

package e2e

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Published ports of the schedule tests.
const (
	portScheduleTrigger = 18310
	portScheduleSkip    = 18311
	portScheduleBuffer  = 18312
	portScheduleFailure = 18313
)

// farCron never fires while a test runs: the tests trigger runs.
const farCron = "0 0 1 1 * 2099"

// scheduleJSON is what the tests read of `hoist schedule describe -o json`.
type scheduleJSON struct {
	ID       string      `json:"id"`
	Overlap  string      `json:"overlap"`
	Paused   bool        `json:"paused"`
	Note     string      `json:"note"`
	NextRuns []time.Time `json:"next_runs"`
	Running  []string    `json:"running"`
	Recent   []runJSON   `json:"recent"`
}

type runJSON struct {
	WorkflowID string `json:"workflow_id"`
	RunID      string `json:"run_id"`
	Outcome    string `json:"outcome"`
	Version    string `json:"version"`
	Message    string `json:"message"`
}

func (s *service) describeSchedule(cfg, name string) scheduleJSON {
	s.t.Helper()
	r := s.hoist("schedule", "describe", "-c", cfg, "-o", "json", name)
	r.want(s.t, 0)
	var v scheduleJSON
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
		s.t.Fatalf("describe -o json: %v\n%s", err, r)
	}
	return v
}

// createSchedule creates schedule name from the service's files now,
// and deletes it when the test ends.
func (s *service) createSchedule(cfg, name string, flags ...string) result {
	s.t.Helper()
	args := append([]string{"schedule", "create", "-c", cfg, "--cron", farCron}, flags...)
	r := s.hoist(append(args, name)...)
	r.want(s.t, 0, fmt.Sprintf("Created schedule %s of %s in production (hoist/%s/production/%s)", name, s.name, s.name, name))
	s.t.Cleanup(func() {
		// Gone already when the test deleted it (exit 2).
		if r := runHoist(s.t, s.dir, s.queue, "schedule", "delete", "-c", cfg, name); r.code != 0 && r.code != 2 {
			s.t.Errorf("deleting schedule %s: %s", name, r)
		}
	})
	return r
}

var triggeredRun = regexp.MustCompile(`(?m)^Run:    (\S+) \(run (\S+)\), version (\S+)$`)

// trigger runs schedule name now and returns the run's workflow ID, run
// ID and the version the CLI says it deploys, checking that version is
// the time of the trigger.
func (s *service) trigger(cfg, name string) (id, runID, version string) {
	s.t.Helper()
	before := time.Now().UTC().Truncate(time.Second)
	r := s.hoist("schedule", "trigger", "-c", cfg, name)
	after := time.Now().UTC()
	r.want(s.t, 0, fmt.Sprintf("Triggered schedule %s of %s in production (hoist/%s/production/%s)", name, s.name, s.name, name))
	m := triggeredRun.FindStringSubmatch(r.stdout)
	if m == nil {
		s.t.Fatalf("trigger names no run\n%s", r)
	}
	id, runID, version = m[1], m[2], m[3]
	if lo, hi := before.Format("20060102150405"), after.Format("20060102150405"); version < lo || version > hi {
		s.t.Fatalf("the triggered run's version %s is not the time of the trigger (%s to %s)", version, lo, hi)
	}
	return id, runID, version
}

// finished polls describe until the run id is no longer running.
func (s *service) finished(cfg, name, id string, within time.Duration) runJSON {
	s.t.Helper()
	deadline := time.Now().Add(within)
	for {
		v := s.describeSchedule(cfg, name)
		for _, r := range v.Recent {
			if r.WorkflowID == id && r.Outcome != "running" {
				return r
			}
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("run %s of schedule %s did not finish within %s: %+v", id, name, within, v.Recent)
		}
		time.Sleep(2 * time.Second)
	}
}

// A schedule created, triggered: the host runs the files frozen at
// create, as a release named after the trigger's time; then paused,
// listed, and deleted.
func TestScheduleTriggerPauseDelete(t *testing.T) {
	t.Parallel()
	s := newService(t, "sched", portScheduleTrigger)
	s.compose("frozen", image("v1"))
	cfg := s.hoistYML()
	// A cron string Temporal refuses is a usage error naming --cron.
	bad := s.hoist("schedule", "create", "-c", cfg, "--cron", "61 * * * *", "nightly")
	if bad.code != 2 || bad.stdout != "" || bad.stderr != "hoist: --cron: Temporal refused the schedule: Invalid schedule spec: Minute is not in range [0-59]; nothing was created\n" {
		t.Fatalf("a bad cron: want exit 2 naming --cron\n%s", bad)
	}
	created := s.createSchedule(cfg, "nightly")
	wantContains(t, "create's output", created.stdout, "When:      cron \""+farCron+"\" (UTC), overlap skip", "Next runs: 2099-01-01T00:00:00Z")
	// Edits after create do not reach the schedule.
	s.compose("edited", image("v2"))

	id, runID, version := s.trigger(cfg, "nightly")
	if !strings.HasPrefix(id, "scheduled/"+s.name+"/production/nightly-") {
		t.Fatalf("run workflow ID %q", id)
	}
	run := s.finished(cfg, "nightly", id, 90*time.Second)
	wantMsg := fmt.Sprintf("deployed %s version %s to production (workflow deploy/%s, run ", s.name, version, s.name)
	if run.Outcome != "deployed" || run.Version != version || run.RunID != runID || !strings.HasPrefix(run.Message, wantMsg) {
		t.Fatalf("the run: %+v; want deployed %s", run, version)
	}
	s.wantState(version, suite.env.Image("v1"), version)
	s.wantServes("frozen")
	// The deploy was hoist's own Deploy under the lock, saying who started it.
	out, err := temporal(t, "workflow", "describe", "--workflow-id", "deploy/"+s.name, "--output", "json")
	if err != nil {
		t.Fatal(err)
	}
	wantContains(t, "the deploy's description", string(out), "schedule hoist/"+s.name+"/production/nightly", `"Deploy"`)

	r := s.hoist("schedule", "pause", "-c", cfg, "--note", "e2e", "nightly")
	r.want(t, 0, fmt.Sprintf("Paused schedule nightly of %s in production (hoist/%s/production/nightly)", s.name, s.name))
	r = s.hoist("schedule", "describe", "-c", cfg, "nightly")
	r.want(t, 0)
	wantContains(t, "describe", r.stdout, "State:     paused (paused by ", "with hoist schedule pause: e2e)", "Next runs: none while paused; then 2099-01-01T00:00:00Z",
		id+"  deployed "+version+": "+wantMsg)
	if v := s.describeSchedule(cfg, "nightly"); !v.Paused || v.Overlap != "skip" {
		t.Fatalf("describe -o json: %+v", v)
	}
	// Listing goes through visibility, which catches up in a moment.
	deadline := time.Now().Add(30 * time.Second)
	for {
		r = s.hoist("schedule", "list", "-c", cfg)
		if r.code == 0 && regexp.MustCompile(`(?m)^nightly +`+s.name+` +production +`+regexp.QuoteMeta(farCron)+` +skip +paused +- +deployed `+version+`$`).MatchString(r.stdout) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("list does not show the paused schedule and its last run\n%s", r)
		}
		time.Sleep(time.Second)
	}

	r = s.hoist("schedule", "delete", "-c", cfg, "nightly")
	r.want(t, 0, fmt.Sprintf("Deleted schedule nightly of %s in production (hoist/%s/production/nightly)", s.name, s.name))
	r = s.hoist("schedule", "describe", "-c", cfg, "nightly")
	if r.code != 2 || r.stderr != fmt.Sprintf("hoist: no schedule nightly of %[1]s in production (no hoist/%[1]s/production/nightly); hoist schedule list shows them\n", s.name) {
		t.Fatalf("describe after delete: want exit 2 saying there is no such schedule\n%s", r)
	}
}

// slowDeploy starts a deploy of v1 that keeps the lock for its whole
// running check (an unhealthy release, health.unhealthy warn, a 20 s
// window) and returns its run ID; the test's cleanup waits for it.
func (s *service) slowDeploy() string {
	s.t.Helper()
	slow := image("v1")
	slow.starting = true
	r := s.deploy("v1", slow, "--detach")
	m := regexp.MustCompile(`(?m)^Workflow: (\S+) \(run (\S+)\)$`).FindStringSubmatch(r.stdout)
	if r.code != 0 || m == nil || m[1] != "deploy/"+s.name {
		s.t.Fatalf("the slow deploy did not start\n%s", r)
	}
	s.t.Cleanup(func() { temporal(s.t, "workflow", "result", "--workflow-id", "deploy/"+s.name, "--run-id", m[2]) })
	return m[2]
}

// deployRun is one run of the service's deploy workflow (the lock).
type deployRun struct {
	Execution struct {
		RunID string `json:"runId"`
	} `json:"execution"`
	StartTime time.Time `json:"startTime"`
	CloseTime time.Time `json:"closeTime"`
}

// deployRuns lists the closed runs of the service's deploy workflow once
// visibility shows want of them (it lags a moment), or fails.
func (s *service) deployRuns(want int) []deployRun {
	s.t.Helper()
	query := fmt.Sprintf("WorkflowId = 'deploy/%s' AND ExecutionStatus != 'Running'", s.name)
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		out, err := temporal(s.t, "workflow", "list", "--query", query, "--output", "json")
		if err != nil {
			s.t.Fatal(err)
		}
		var runs []deployRun
		if err := json.Unmarshal(out, &runs); err != nil {
			s.t.Fatalf("workflow list: %v\n%s", err, out)
		}
		if len(runs) >= want || time.Now().After(deadline) {
			if len(runs) != want {
				s.t.Fatalf("closed runs of deploy/%s: %d, want %d\n%s", s.name, len(runs), want, out)
			}
			return runs
		}
	}
}

// A schedule firing while a deploy of its service runs, overlap skip:
// the run deploys nothing and says which deploy holds the lock; only
// that deploy ever ran.
func TestScheduleOverlapSkip(t *testing.T) {
	t.Parallel()
	s := newService(t, "schedskip", portScheduleSkip, 2)
	s.wait = "{retries: 20, delay: 1s}"
	s.compose("frozen", image("v2"))
	cfg := s.hoistYML()
	s.createSchedule(cfg, "nightly", "--overlap", "skip")
	deployRun := s.slowDeploy()

	id, _, version := s.trigger(cfg, "nightly")
	run := s.finished(cfg, "nightly", id, 30*time.Second)
	want := fmt.Sprintf("skipped the scheduled deploy of %[1]s version %[2]s to production, scheduled for ", s.name, version)
	holder := fmt.Sprintf(": another deploy or rollback of %[1]s in production holds the lock, workflow deploy/%[1]s (run %[2]s), version v1, started ", s.name, deployRun)
	if run.Outcome != "skipped" || run.Version != version || !strings.HasPrefix(run.Message, want) || !strings.Contains(run.Message, holder) ||
		!strings.HasSuffix(run.Message, "(overlap skip)") {
		t.Fatalf("the run: %+v\nwant skipped, %q…%q…(overlap skip)", run, want, holder)
	}

	out, err := temporal(t, "workflow", "result", "--workflow-id", "deploy/"+s.name, "--run-id", deployRun, "--output", "json")
	if err != nil {
		t.Fatalf("waiting for the slow deploy: %v\n%s", err, out)
	}
	// Only the slow deploy ever held the lock; the host never saw the
	// scheduled release.
	if runs := s.deployRuns(1); runs[0].Execution.RunID != deployRun {
		t.Fatalf("deploy/%s ran as %s, want only %s", s.name, runs[0].Execution.RunID, deployRun)
	}
	s.wantState("v1", suite.env.Image("v1"), "v1")
}

// The same with overlap buffer-one: the run waits for the lock, on a
// timer, and deploys once the slow deploy is over, never beside it.
func TestScheduleOverlapBufferOne(t *testing.T) {
	t.Parallel()
	s := newService(t, "schedbuf", portScheduleBuffer, 1)
	s.wait = "{retries: 20, delay: 1s}"
	s.compose("frozen", image("v2"))
	cfg := s.hoistYML()
	s.createSchedule(cfg, "nightly", "--overlap", "buffer-one")
	deployRun := s.slowDeploy()

	id, _, version := s.trigger(cfg, "nightly")
	run := s.finished(cfg, "nightly", id, 2*time.Minute)
	if run.Outcome != "deployed" || run.Version != version {
		t.Fatalf("the run: %+v; want deployed %s", run, version)
	}
	out, err := temporal(t, "workflow", "result", "--workflow-id", "deploy/"+s.name, "--run-id", deployRun, "--output", "json")
	if err != nil {
		t.Fatalf("the slow deploy: %v\n%s", err, out)
	}
	// Two deploys, one after the other: the scheduled one started after
	// the slow one closed.
	runs := s.deployRuns(2)
	var slow, scheduled = runs[0], runs[1]
	if slow.Execution.RunID != deployRun {
		slow, scheduled = scheduled, slow
	}
	if slow.Execution.RunID != deployRun || scheduled.StartTime.Before(slow.CloseTime) {
		t.Fatalf("the scheduled deploy started at %s, the slow one (%s) closed at %s", scheduled.StartTime, slow.Execution.RunID, slow.CloseTime)
	}
	s.wantState(version, suite.env.Image("v2"), "v1", version)
	s.wantServes("frozen")
}

// A run whose deploy fails fails itself, and with --pause-on-failure the
// schedule's own policy pauses the schedule.
func TestSchedulePauseOnFailure(t *testing.T) {
	t.Parallel()
	s := newService(t, "schedfail", portScheduleFailure)
	s.compose("crash", image("v1").crashing())
	cfg := s.hoistYML()
	s.createSchedule(cfg, "nightly", "--pause-on-failure")
	id, _, version := s.trigger(cfg, "nightly")
	run := s.finished(cfg, "nightly", id, 90*time.Second)
	want := fmt.Sprintf("the scheduled deploy of %[1]s version %[2]s to production failed (workflow deploy/%[1]s, run ", s.name, version)
	if run.Outcome != "failed" || !strings.HasPrefix(run.Message, want) {
		t.Fatalf("the run: %+v\nwant failed, %q…", run, want)
	}
	// Temporal pauses the schedule when it sees the failure.
	deadline := time.Now().Add(20 * time.Second)
	for {
		v := s.describeSchedule(cfg, "nightly")
		if v.Paused {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the schedule is not paused after its run failed: %+v", v)
		}
		time.Sleep(time.Second)
	}
	r := s.hoist("schedule", "describe", "-c", cfg, "nightly")
	wantContains(t, "describe", r.stdout, "State:     paused", "pause on failure", id+"  failed: "+want)
}
