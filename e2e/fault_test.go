//go:build integration

package e2e

import (
	"crypto/sha256"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/remote"
)

// The fault-injection suite: a deploy must survive the death of the
// worker, the Temporal server, the SSH connection or the CLI, and end as
// if nothing had happened, or roll back cleanly. Each case checks what a
// user checks on the host: one folder per release, current right, the
// right containers, the right version answering, nothing half-done.
//
// The Temporal restart stops what every test uses: it does not call
// t.Parallel, so Go runs it before the parallel tests start. The cases that
// slow, cut or stop a host's SSH all use h3, which no other test uses: they
// run one after another as subtests of TestHostFaults, alongside the
// parallel tests.

const (
	portKillWorkerWait   = 18098
	portKillWorkerUp     = 18099
	portCancel           = 18100
	portKillWorkerSync   = 18101
	portKillWorkerSwitch = 18102
	portKillWorkerPull   = 18103
	portKillCompensation = 18104
	portTemporalRestart  = 18105
	portSSHDrop          = 18106
	portSSHDDown         = 18107
	portHostGone         = 18108
	portCLIKilled        = 18109
	portTwoWorkers       = 18110
	portAttachRunning    = 18111
	faultHost            = 3
	slowLink             = "1mbit" // a 900 KB upload takes ~7 s, a 3 MB pull ~25 s
	recoverWithin        = 2 * time.Minute
)

// TestHostFaults runs the cases that disrupt h3, one at a time.
func TestHostFaults(t *testing.T) {
	t.Parallel()
	// Tests that need h3 up (the rollouts on h1..h3) wait meanwhile.
	h3Faults.Lock()
	t.Cleanup(h3Faults.Unlock)
	for _, c := range []struct {
		name string
		run  func(*testing.T)
	}{
		{"WorkerKilledDuringSync", testWorkerKilledDuringSync},
		{"WorkerKilledAfterSwitch", testWorkerKilledAfterSwitch},
		{"WorkerKilledDuringSlowPull", testWorkerKilledDuringSlowPull},
		{"SSHConnectionCutMidCommand", testSSHConnectionCutMidCommand},
		{"HostSSHDownTwentySeconds", testHostSSHDownTwentySeconds},
		{"HostDownBeyondRetryBudget", testHostDownBeyondRetryBudget},
		{"RedeployOfCurrentWithRegistryDown", testRedeployOfCurrentWithRegistryDown},
	} {
		t.Run(c.name, c.run)
	}
}

// kill -9 of the only worker while it uploads the release over a slow
// link: the new worker uploads again; one release folder, no partial
// upload left behind, the files intact.
func testWorkerKilledDuringSync(t *testing.T) {
	s := newFaultService(t, "killsync", portKillWorkerSync, faultHost)
	w1 := s.ownWorker("w1")
	s.mustDeploy("v1", image("v1"))
	data := s.ballast(900 << 10)

	suite.env.LinkSlow(t, faultHost, slowLink)
	t.Cleanup(func() { suite.env.LinkFast(t, faultHost) })
	s.deploy("v2", image("v2"), "--detach").want(t, 0)
	s.scheduled("SyncRelease", 1)
	// The upload is under way: its temporary folder is on the host.
	waitRemote(t, faultHost, 30*time.Second, "the upload's temporary folder",
		fmt.Sprintf("ls -A %s | grep -q '^[.]v2[.]tmp-'", remote.Quote(s.base)))
	w1.kill(t)
	killed := time.Now()
	suite.env.LinkFast(t, faultHost)
	s.ownWorker("w2")

	h := s.wantRecovered(killed, "v2", "v1", "v2")
	sum := ssh(t, faultHost, fmt.Sprintf("sha256sum < %s/v2/ballast.bin", remote.Quote(s.base)))
	if want := fmt.Sprintf("%x", sha256.Sum256(data)); !strings.HasPrefix(sum, want) {
		t.Fatalf("the release's file on the host has sha256 %s, want %s", sum, want)
	}
	h.wantScheduled(t, map[string]int{"SyncRelease": 1, "SwitchCurrent": 1, "StartRelease": 1})
}

// kill -9 right after current was switched, while the new image is still
// to be pulled over a slow link: the old release serves on (only the link
// moved); the new worker goes on from the next step.
func testWorkerKilledAfterSwitch(t *testing.T) {
	s := newFaultService(t, "killswitch", portKillWorkerSwitch, faultHost)
	w1 := s.startSlowPullDeploy()
	s.waitHistory("the switch to complete", 90*time.Second, func(h *history) bool { return h.completed("SwitchCurrent") == 1 })
	w1.kill(t)
	killed := time.Now()
	if st := s.state(faultHost); st.current != "v2" {
		t.Fatalf("after the switch completed, current -> %q, want v2", st.current)
	}
	s.wantServes("v1")
	suite.env.LinkFast(t, faultHost)
	s.ownWorker("w2")

	h := s.wantRecovered(killed, "v2", "v1", "v2")
	s.wantImage(suite.env.Image("big"))
	h.wantScheduled(t, map[string]int{"SyncRelease": 1, "SwitchCurrent": 1, "PullImages": 1, "StartRelease": 1})
}

// kill -9 while compose pulls a large image over a slow link: the old
// release serves all along; the new worker pulls again and deploys.
func testWorkerKilledDuringSlowPull(t *testing.T) {
	s := newFaultService(t, "killpull", portKillWorkerPull, faultHost)
	w1 := s.startSlowPullDeploy()
	s.scheduled("PullImages", 1)
	waitRemote(t, faultHost, 30*time.Second, "compose pull to run", "pgrep -f -- ' pull' >/dev/null")
	time.Sleep(time.Second)
	s.wantServes("v1")
	w1.kill(t)
	killed := time.Now()
	s.wantServes("v1")
	suite.env.LinkFast(t, faultHost)
	s.ownWorker("w2")

	h := s.wantRecovered(killed, "v2", "v1", "v2")
	s.wantImage(suite.env.Image("big"))
	h.wantScheduled(t, map[string]int{"PullImages": 1, "StartRelease": 1})
}

// kill -9 right after compose up, and during the running check: a new
// worker finishes the deploy; up is not scheduled again.
func TestWorkerKilledRightAfterUp(t *testing.T) {
	t.Parallel()
	testWorkerKilledAt(t, "killup", portKillWorkerUp, "StartRelease")
}

func TestWorkerKilledDuringWait(t *testing.T) {
	t.Parallel()
	testWorkerKilledAt(t, "killwait", portKillWorkerWait, "WaitRunning")
}

func testWorkerKilledAt(t *testing.T, name string, port int, step string) {
	s := newFaultService(t, name, port)
	s.wait = "{retries: 10, delay: 1s, stable: 3s}"
	w1 := s.ownWorker("w1")
	s.mustDeploy("v1", image("v1"))
	s.deploy("v2", app{image: suite.env.Image("v2"), health: true}, "--detach").want(t, 0)
	s.scheduled(step, 1)
	w1.kill(t)
	killed := time.Now()
	s.ownWorker("w2")

	h := s.wantRecovered(killed, "v2", "v1", "v2")
	h.wantScheduled(t, map[string]int{"SyncRelease": 1, "SwitchCurrent": 1, "PullImages": 1, "StartRelease": 1, "WaitRunning": 1})
}

// kill -9 in the middle of the rollback of a crashed release: the new
// worker finishes the compensation; the previous release serves, and
// `hoist watch` reports the failed deploy with exit 1.
func TestWorkerKilledDuringCompensation(t *testing.T) {
	t.Parallel()
	s := newFaultService(t, "killcomp", portKillCompensation)
	w1 := s.ownWorker("w1")
	s.mustDeploy("v1", image("v1"))
	s.deploy("v2", image("v2").crashing(), "--detach").want(t, 0)
	// The compensation's compose up of v1: the second StartRelease.
	s.scheduled("StartRelease", 2)
	w1.kill(t)
	killed := time.Now()
	s.ownWorker("w2")

	h := s.waitClosed(recoverWithin)
	if h.closed() != "WORKFLOW_EXECUTION_FAILED" || h.failureType() != "DeployFailed" {
		t.Fatalf("deploy closed %s (%s), want a DeployFailed failure", h.closed(), h.failureType())
	}
	h.wantActivities(t, rolledBackDeploy...)
	s.wantState("v1", suite.env.Image("v1"), "v1", "v2 (failed)")
	s.wantServes("v1")
	s.wantTidy()
	r := s.hoist("watch", "-c", s.hoistYML())
	r.want(t, 1)
	r.line(t, "❌ Deployment of version v2 failed! Rolled back to v1. Cause: host h1, step wait running: ")
	t.Logf("rollback completed %s after the kill", time.Since(killed).Round(100*time.Millisecond))
}

// Two workers poll the queue; the one holding the running check is
// killed; the other finishes the deploy.
func TestTwoWorkersOneKilled(t *testing.T) {
	t.Parallel()
	s := newFaultService(t, "twoworkers", portTwoWorkers)
	s.wait = "{retries: 10, delay: 1s, stable: 4s}"
	ws := map[int]*worker{}
	for _, tag := range []string{"w1", "w2"} {
		w := s.ownWorker(tag)
		ws[w.cmd.Process.Pid] = w
	}
	s.mustDeploy("v1", image("v1"))
	s.deploy("v2", app{image: suite.env.Image("v2"), health: true}, "--detach").want(t, 0)
	s.scheduled("WaitRunning", 1)
	var holder int
	for deadline := time.Now().Add(30 * time.Second); holder == 0; time.Sleep(100 * time.Millisecond) {
		if holder = s.pendingWorker("WaitRunning"); holder == 0 && time.Now().After(deadline) {
			t.Fatal("no worker was seen holding the running check")
		}
	}
	w, ok := ws[holder]
	if !ok {
		t.Fatalf("the running check is held by pid %d, not by one of the test's workers %v", holder, ws)
	}
	w.kill(t)
	killed := time.Now()

	h := s.wantRecovered(killed, "v2", "v1", "v2")
	h.wantScheduled(t, map[string]int{"StartRelease": 1, "WaitRunning": 1})
	t.Logf("worker %d was the one killed", holder)
}

// The Temporal server stops in the middle of a deploy and starts again on
// the same database: the worker and the CLI that follows the deploy both
// carry on, and the deploy ends as it would have.
func TestTemporalRestartMidDeploy(t *testing.T) {
	s := newFaultService(t, "tmprlrestart", portTemporalRestart, faultHost)
	s.wait = "{retries: 10, delay: 2s, stable: 8s}"
	s.ownWorker("w1")
	s.mustDeploy("v1", image("v1"))
	s.compose("v2", app{image: suite.env.Image("v2"), health: true})
	cli := s.start("deploy", "--config", s.hoistYML(), "--version", "v2")
	s.scheduled("WaitRunning", 1)
	suite.env.TemporalStop(t)
	stopped := time.Now()
	t.Cleanup(func() { suite.env.TemporalStart(t) }) // never leave it down
	time.Sleep(3 * time.Second)
	suite.env.TemporalStart(t)
	t.Logf("Temporal was down for %s", time.Since(stopped).Round(100*time.Millisecond))

	s.wantFollowedToSuccess(cli, "v2", "v1", "v2")
	t.Logf("deploy ended %s after Temporal went down", time.Since(stopped).Round(100*time.Millisecond))
}

// The SSH connection is cut in the middle of a long command (a pull over
// a slow link): the step is retried on a new connection and converges.
func testSSHConnectionCutMidCommand(t *testing.T) {
	s := newFaultService(t, "sshdrop", portSSHDrop, faultHost)
	s.ownWorker("w1")
	s.mustDeploy("v1", image("v1"))
	forgetImage(t, faultHost, suite.env.Image("big"))
	suite.env.LinkSlow(t, faultHost, "4mbit")
	t.Cleanup(func() { suite.env.LinkFast(t, faultHost) })
	s.compose("v2", app{image: suite.env.Image("big")})
	cli := s.start("deploy", "--config", s.hoistYML(), "--version", "v2")
	s.scheduled("PullImages", 1)
	waitRemote(t, faultHost, 30*time.Second, "compose pull to run", "pgrep -f -- ' pull' >/dev/null")
	suite.env.SSHDrop(t, faultHost)
	cut := time.Now()

	h := s.wantFollowedToSuccess(cli, "v2", "v1", "v2")
	s.wantImage(suite.env.Image("big"))
	if a := h.attempts("PullImages"); a < 2 {
		t.Fatalf("the pull completed on attempt %d: the cut did not interrupt it", a)
	}
	t.Logf("connection cut mid-pull; deploy ended %s later", time.Since(cut).Round(100*time.Millisecond))
}

// A host's sshd is down for 20 s while a two-host deploy runs (its
// containers run on): h2's pre-flight completes, h3's first step retries
// until sshd is back — no host switches meanwhile, both serve the old
// release — and then the deploy completes on both.
func testHostSSHDownTwentySeconds(t *testing.T) {
	s := newFaultService(t, "sshddown", portSSHDDown, 2, faultHost)
	s.ownWorker("w1")
	s.mustDeploy("v1", image("v1"))
	s.compose("v2", image("v2"))
	suite.env.SSHDStop(t, faultHost)
	down := time.Now()
	t.Cleanup(func() { suite.env.SSHDStart(t, faultHost) })
	cli := s.start("deploy", "--config", s.hoistYML(), "--version", "v2")
	s.waitHistory("h2's pre-flight", 90*time.Second, func(h *history) bool { return h.completed("PullImages") == 1 })
	time.Sleep(time.Until(down.Add(20 * time.Second)))
	// sshd is down, the app is not: h3 still serves the old release, and
	// so does h2, pulled but not switched while h3's pre-flight waits.
	for _, n := range []int{2, faultHost} {
		if got, err := getEventually(fmt.Sprintf("http://%s:%d/", suite.env.Host(n), s.port), "v1"); got != "v1" {
			t.Fatalf("h%d answers %q (%v) while h3's sshd is down, want v1", n, got, err)
		}
	}
	if h := s.deployHistory(); h.count("SwitchCurrent") != 0 {
		t.Fatalf("a host switched while h3's pre-flight waited: %v", h.activities())
	}
	suite.env.SSHDStart(t, faultHost)
	back := time.Now()

	h := s.wantFollowedToSuccess(cli, "v2", "v1", "v2")
	if a := h.attempts("InspectHost"); a < 2 {
		t.Fatalf("h3's inspect completed on attempt %d: it never met the outage", a)
	}
	t.Logf("sshd back after %s down; deploy ended %s later", back.Sub(down).Round(100*time.Millisecond), time.Since(back).Round(100*time.Millisecond))
}

// A host stays unreachable for longer than the retry budget: the deploy
// fails naming the host and step. Pre-flight runs on every host before any
// switches, so the reachable host was synced and pulled but never changed,
// and the unreachable one not even that.
func testHostDownBeyondRetryBudget(t *testing.T) {
	s := newFaultService(t, "hostgone", portHostGone, 2, faultHost)
	s.ownWorker("w1")
	s.mustDeploy("v1", image("v1"))
	suite.env.SSHDStop(t, faultHost)
	t.Cleanup(func() { suite.env.SSHDStart(t, faultHost) })

	r := s.deploy("v2", image("v2"))
	r.want(t, 1)
	line := r.line(t, "❌ Deployment of version v2 failed: host h3, step inspect: pre-flight failed on 1 of 2 hosts, so no host was switched: h3 (inspect: ssh ")
	wantContains(t, "the failure line", line, "10.77.0.13", "No host had been changed.")
	for _, step := range []string{"switch current", "up", "rollback: switch current to v1"} {
		if hasStep(r.stdout, "h2", step) {
			t.Fatalf("h2 ran %q after a pre-flight failure\n%s", step, r)
		}
	}
	suite.env.SSHDStart(t, faultHost)
	st2 := s.state(2)
	if st2.current != "v1" || strings.Join(st2.releases, ",") != "v1,v2" {
		t.Fatalf("h2 after the pre-flight failure: current %q, releases %q; want v1 and v1,v2 (synced, never switched)", st2.current, st2.releases)
	}
	st3 := s.state(faultHost)
	if st3.current != "v1" || strings.Join(st3.releases, ",") != "v1" {
		t.Fatalf("h3 was never reachable, yet: current %q, releases %q", st3.current, st3.releases)
	}
	s.wantServes("v1")
	s.wantTidy()
	t.Logf("deploy failed after %s", r.took.Round(100*time.Millisecond))
}

// The CLI dies while it follows a deploy: the deploy goes on; `hoist
// watch` shows its steps and outcome and exits as the deploy did, for a
// success and for a rollback. `hoist deploy --attach` follows a deploy
// that is already running instead of failing.
func TestCLIKilledThenWatch(t *testing.T) {
	t.Parallel()
	s := newService(t, "clikilled", portCLIKilled)
	s.wait = "{retries: 10, delay: 1s, stable: 2s}"
	s.mustDeploy("v1", image("v1"))

	for _, c := range []struct {
		version string
		app     app
		code    int
		line    string
	}{
		{"v2", image("v2"), 0, s.deployedLine("v2")},
		{"v3", image("v3").crashing(), 1, "❌ Deployment of version v3 failed! Rolled back to v2. Cause: host h1, step wait running: "},
	} {
		s.compose(c.version, c.app)
		cli := s.start("deploy", "--config", s.hoistYML(), "--version", c.version)
		s.waitHistory("compose up of "+c.version, 90*time.Second, func(h *history) bool {
			return h.running() && h.count("StartRelease") == 1
		})
		_ = cli.cmd.Process.Kill()
		<-cli.done
		r := s.hoist("watch", "--config", s.hoistYML())
		if r.code != c.code {
			t.Fatalf("watch of %s: exit %d, want %d\n%s", c.version, r.code, c.code, r)
		}
		r.line(t, c.line)
		if !hasStep(r.stdout, "h1", "up") || !hasStep(r.stdout, "h1", "sync") {
			t.Fatalf("watch does not show the deploy's steps\n%s", r)
		}
	}
	s.wantState("v2", suite.env.Image("v2"), "v1", "v2", "v3 (failed)")
	s.wantServes("v2")

	// --attach: a deploy of v4 is running. `hoist deploy --attach` of
	// another version is refused (exit 4, naming v4: a retried CI job must
	// never believe v5 shipped); of v4 itself, it follows it to its end.
	s.compose("v4", image("v1"))
	s.hoist("deploy", "--config", s.hoistYML(), "--version", "v4", "--detach").want(t, 0)
	r := s.hoist("deploy", "--config", s.hoistYML(), "--version", "v5", "--attach")
	r.want(t, 4)
	wantContains(t, "the refused --attach", r.stdout+r.stderr, "v4")
	r = s.hoist("deploy", "--config", s.hoistYML(), "--version", "v4", "--attach")
	r.want(t, 0, s.deployedLine("v4"))
	// keep_releases 3 counts good releases: v4, v2, v1 all stay, and the
	// failed v3, newer than v1, with them.
	s.wantState("v4", suite.env.Image("v1"), "v1", "v2", "v3 (failed)", "v4")
}

// startSlowPullDeploy deploys v1 through a worker of the test's own, then
// starts (detached) a deploy of v2 from the big image with h3's link slowed:
// its pull takes ~25 s. It returns the worker.
func (s *service) startSlowPullDeploy() *worker {
	s.t.Helper()
	w := s.ownWorker("w1")
	s.mustDeploy("v1", image("v1"))
	forgetImage(s.t, faultHost, suite.env.Image("big"))
	suite.env.LinkSlow(s.t, faultHost, slowLink)
	s.t.Cleanup(func() { suite.env.LinkFast(s.t, faultHost) })
	s.deploy("v2", app{image: suite.env.Image("big")}, "--detach").want(s.t, 0)
	return w
}

// wantRecovered waits for the deploy to end after a fault at since: it
// must complete, the hosts show version, and nothing is left over.
func (s *service) wantRecovered(since time.Time, version string, releases ...string) *history {
	s.t.Helper()
	h := s.waitClosed(recoverWithin)
	s.wantCompleted(h, version, releases...)
	s.wantTidy()
	s.t.Logf("deploy completed %s after the fault", time.Since(since).Round(100*time.Millisecond))
	return h
}

// wantFollowedToSuccess waits for the CLI that follows the deploy: it must
// print the success line and exit 0, and the hosts must show it.
func (s *service) wantFollowedToSuccess(cli *proc, version string, releases ...string) *history {
	s.t.Helper()
	r := cli.wait(s.t, recoverWithin)
	r.want(s.t, 0, s.deployedLine(version))
	h := s.waitClosed(10 * time.Second)
	s.wantCompleted(h, version, releases...)
	s.wantTidy()
	return h
}

// waitRemote runs script on host n until it exits 0.
func waitRemote(t testing.TB, n int, timeout time.Duration, what, script string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if _, err := sshRun(n, script); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("h%d: waited %s for %s", n, timeout, what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// forgetImage removes an image from host n, so the next pull is a real one.
func forgetImage(t testing.TB, n int, image string) {
	t.Helper()
	ssh(t, n, fmt.Sprintf("docker image rm --force %s >/dev/null 2>&1; ! docker image inspect %s >/dev/null 2>&1", remote.Quote(image), remote.Quote(image)))
}

// wantCompleted checks that the deploy completed and left the hosts with
// current -> version, running its one container, and exactly releases.
func (s *service) wantCompleted(h *history, version string, releases ...string) {
	s.t.Helper()
	if h.closed() != "WORKFLOW_EXECUTION_COMPLETED" {
		s.t.Fatalf("deploy ended %s (%s), want completed; activities %v", h.closed(), h.failureType(), h.activities())
	}
	s.wantState(version, "", releases...)
	for _, n := range s.hosts {
		if cs := s.state(n).containers; len(cs) != 1 || cs[0].State != "running" {
			s.t.Fatalf("h%d: containers of %s are %+v, want one running", n, s.name, cs)
		}
	}
	s.wantServes(version)
}

// wantImage checks the image the service's container runs on every host.
func (s *service) wantImage(image string) {
	s.t.Helper()
	for _, n := range s.hosts {
		if cs := s.state(n).containers; len(cs) != 1 || cs[0].Image != image {
			s.t.Fatalf("h%d: containers of %s are %+v, want one of %s", n, s.name, cs, image)
		}
	}
}

// hoist cancel during the wait: compensation runs, the previous release
// serves again, and cancel exits 0 saying so.
func TestCancelRollsBack(t *testing.T) {
	t.Parallel()
	s := newService(t, "cancel", portCancel)
	s.wait = "{retries: 20, delay: 3s}"
	s.mustDeploy("v1", image("v1"))
	bad := image("v2")
	bad.starting = true // running but never healthy: the wait lasts its window
	s.deploy("v2", bad, "--detach").want(t, 0)
	deadline := time.Now().Add(60 * time.Second)
	for !slices.Contains(s.deployHistory().activities(), "WaitRunning") {
		if time.Now().After(deadline) {
			t.Fatalf("the deploy never reached the wait: %v", s.deployHistory().activities())
		}
		time.Sleep(100 * time.Millisecond)
	}
	r := s.hoist("cancel", "-c", s.hoistYML())
	r.want(t, 0, "❌ Deployment of version v2 was cancelled. Rolled back to v1.")
	if c := s.deployHistory().closed(); c != "WORKFLOW_EXECUTION_CANCELED" {
		t.Fatalf("deploy closed with %s, want WORKFLOW_EXECUTION_CANCELED", c)
	}
	// Cancelled during its check, v2 neither passed nor failed it: unmarked.
	s.wantState("v1", suite.env.Image("v1"), "v1", "v2")
	s.wantServes("v1")
	// Nothing left to cancel.
	r = s.hoist("cancel", "--config", s.hoistYML())
	r.want(t, 2)
	wantContains(t, "second cancel", r.stderr, "no deploy or rollback of "+s.name+" is running")
}
