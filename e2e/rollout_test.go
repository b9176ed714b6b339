//go:build integration

package e2e

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/remote"
)

// Fleet rollouts (issue 9) on the test bed's h1..h3: batches, approval,
// the failure budget and the fleet saga, against real hosts.

// Ports of the rollout tests.
const (
	portRolloutApprove   = 18280
	portRolloutTimeout   = 18281
	portRolloutCrash     = 18282
	portRolloutHalt      = 18283
	portRolloutBudget    = 18284
	portRolloutPreflight = 18285
	portRolloutKill      = 18286
	portRolloutCancel    = 18287
)

// h3Faults keeps the rollout tests, which need h1..h3 up, apart from
// TestHostFaults, which stops and cuts h3 (and Temporal): it holds the
// lock for its whole run, rollouts share it.
var h3Faults sync.RWMutex

// rolloutService is a service on h1..h3 with a rollout block; it waits
// while h3's faults run.
func rolloutService(t *testing.T, prefix string, port int, block string) *service {
	h3Faults.RLock()
	t.Cleanup(h3Faults.RUnlock)
	s := newService(t, prefix, port, 1, 2, 3)
	s.extra = "rollout:\n" + block
	return s
}

// mustRollout deploys with the rollout block and requires its success
// line ("✅ Successfully deployed S version V to N host(s) in B batch(es)").
func (s *service) mustRollout(version string, a app) result {
	s.t.Helper()
	r := s.deploy(version, a)
	r.want(s.t, 0)
	r.line(s.t, s.deployedLine(version)+" to ")
	return r
}

// payloadText is every payload of a history, decoded (the CLI's JSON
// shows them in base64), one per line.
func payloadText(t *testing.T, raw []byte) string {
	t.Helper()
	var doc any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	var out []string
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if s, ok := x.(string); ok && k == "data" {
					if b, err := base64.StdEncoding.DecodeString(s); err == nil {
						out = append(out, string(b))
					}
					continue
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(doc)
	return strings.Join(out, "\n")
}

// count is how many events of type (without EVENT_TYPE_) the history has.
func (h *history) countEvents(typ string) int {
	n := 0
	for _, e := range h.Events {
		if strings.TrimPrefix(e.EventType, "EVENT_TYPE_") == typ {
			n++
		}
	}
	return n
}

// waitForApproval waits until the rollout has started its n-th approval
// wait (each starts a timer: the approval timeout).
func (s *service) waitForApproval(n int) {
	s.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		// The CLI may not have started the workflow yet: not found is "not yet".
		out, err := temporal(s.t, "workflow", "show", "--workflow-id", "deploy/"+s.name, "--output", "json")
		h := &history{raw: out}
		if err == nil && json.Unmarshal(out, h) == nil && h.running() && h.countEvents("TIMER_STARTED") >= n {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("waited 2m for approval wait %d of deploy/%s (last read: %v)", n, s.name, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// serving checks what each host's published port answers, h1..h3.
func (s *service) wantServing(t *testing.T, want ...string) {
	t.Helper()
	for i, v := range want {
		url := fmt.Sprintf("http://%s:%d/", suite.env.Host(i+1), s.port)
		if got, err := getEventually(url, v); err != nil || got != v {
			t.Fatalf("h%d serves %q (%v), want %s", i+1, got, err, v)
		}
		if st := s.state(i + 1); st.current != v {
			t.Fatalf("h%d's current is %q, want %s", i+1, st.current, v)
		}
	}
}

// crashOn makes the release crash on the given hosts only: an env file
// outside the release, read by the compose file's optional env_file.
func (s *service) crashOn(a app, hosts ...int) app {
	s.t.Helper()
	a.envFile = s.base + "-host.env"
	for _, h := range hosts {
		ssh(s.t, h, fmt.Sprintf("mkdir -p /srv/e2e && echo CRASH_AFTER=0 > %s", remote.Quote(a.envFile)))
		s.t.Cleanup(func() { _, _ = sshRun(h, "rm -f "+remote.Quote(a.envFile)) })
	}
	return a
}

func TestRolloutApproveThenReject(t *testing.T) {
	t.Parallel()
	s := rolloutService(t, "fleet-approve", portRolloutApprove, "  batches: [1, \"100%\"]\n  approve_after: [1]\n")
	// The first deploy too waits after h1: approve it.
	s.compose("v1", image("v1"))
	p := s.start("deploy", "--config", s.hoistYML(), "--version", "v1")
	s.waitForApproval(1)
	s.hoist("approve", "--config", s.hoistYML(), "--note", "first deploy").want(t, 0)
	p.wait(t, 2*time.Minute).want(t, 0)
	s.wantServing(t, "v1", "v1", "v1")

	// v2: after batch 1 exactly h1 runs v2, h2 and h3 still serve v1.
	s.compose("v2", image("v2"))
	p = s.start("deploy", "--config", s.hoistYML(), "--version", "v2")
	s.waitForApproval(1)
	s.wantServing(t, "v2", "v1", "v1")
	// Approving is refused twice over: nothing else to approve once done.
	r := s.hoist("approve", "--config", s.hoistYML(), "--note", "canary looks fine")
	r.want(t, 0)
	done := p.wait(t, 2*time.Minute)
	done.want(t, 0)
	s.wantServing(t, "v2", "v2", "v2")
	wantContains(t, "deploy output", done.stdout, "canary looks fine")
	wantContains(t, "the history's decoded payloads", payloadText(t, s.deployHistory().raw), "canary looks fine", `"by":"`)

	// v3 rejected after h1: h1 back on v2, the others never changed.
	s.compose("v3", image("v3"))
	p = s.start("deploy", "--config", s.hoistYML(), "--version", "v3")
	s.waitForApproval(1)
	s.wantServing(t, "v3", "v2", "v2")
	s.hoist("reject", "--config", s.hoistYML(), "--note", "latency up").want(t, 0)
	done = p.wait(t, 2*time.Minute)
	done.want(t, 1)
	wantContains(t, "deploy output", done.stdout, "rejected by", "latency up", "Rolled back to v2")
	s.wantServing(t, "v2", "v2", "v2")
	for _, h := range []int{2, 3} {
		if st := s.state(h); strings.Contains(strings.Join(st.releases, ","), "(failed)") {
			t.Errorf("h%d: a release is marked failed after a rejection: %v", h, st.releases)
		}
	}
	// No deploy waits now: approve refuses, naming why.
	r = s.hoist("approve", "--config", s.hoistYML())
	if r.code != 2 && r.code != 4 {
		t.Fatalf("approve with nothing waiting: exit %d, want 2 or 4\n%s", r.code, r)
	}
}

func TestRolloutApprovalTimeoutRollsBack(t *testing.T) {
	t.Parallel()
	s := rolloutService(t, "fleet-timeout", portRolloutTimeout, "  batches: [1, \"100%\"]\n")
	s.mustRollout("v1", image("v1"))
	s.extra = "rollout:\n  batches: [1, \"100%\"]\n  approve_after: [1]\n  approval_timeout: 3s\n"
	r := s.deploy("v2", image("v2"))
	r.want(t, 1)
	wantContains(t, "output", r.stdout, "no approval within approval_timeout (3s) after batch 1", "Rolled back to v1")
	s.wantServing(t, "v1", "v1", "v1")
}

func TestRolloutCrashInSecondBatch(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, onFailure string
		port            int
		code            int
		serving         []string
	}{
		{"rollback", "rollback", portRolloutCrash, 1, []string{"v1", "v1", "v1"}},
		{"halt", "halt", portRolloutHalt, 5, []string{"v2", "v1", "v1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			block := fmt.Sprintf("  batches: [1, \"100%%\"]\n  on_failure: %s\n", tc.onFailure)
			s := rolloutService(t, "fleet-crash-"+tc.name, tc.port, block)
			s.mustRollout("v1", image("v1"))
			r := s.deploy("v2", s.crashOn(image("v2"), 2, 3))
			r.want(t, tc.code)
			s.wantServing(t, tc.serving...)
			wantContains(t, "output", r.stdout, "h2", "h3")
			for _, h := range []int{2, 3} {
				if st := s.state(h); !strings.Contains(strings.Join(st.releases, ","), "v2 (failed)") {
					t.Errorf("h%d: v2 not marked failed: %v", h, st.releases)
				}
			}
			if tc.onFailure == "halt" {
				wantContains(t, "summary", r.stdout, "did not reach every host")
			}
		})
	}
}

func TestRolloutMaxFailedOthersDeploy(t *testing.T) {
	t.Parallel()
	s := rolloutService(t, "fleet-budget", portRolloutBudget, "  batches: [\"100%\"]\n  max_failed: 1\n")
	s.mustRollout("v1", image("v1"))
	r := s.deploy("v2", s.crashOn(image("v2"), 2))
	r.want(t, 5)
	wantContains(t, "output", r.stdout, "within max_failed (1)")
	s.wantServing(t, "v2", "v1", "v2")
}

// A sync refused on h3 (a release v2 with other files is there) fails
// pre-flight: no host switched, nothing rolled back.
func TestRolloutPreflightFailureChangesNoHost(t *testing.T) {
	t.Parallel()
	s := rolloutService(t, "fleet-preflight", portRolloutPreflight, "  batches: [1, \"100%\"]\n")
	s.mustRollout("v1", image("v1"))
	v2 := remote.Quote(s.base + "/v2")
	ssh(t, 3, fmt.Sprintf("mkdir -p %s && echo other > %s/compose.yaml", v2, v2))
	r := s.deploy("v2", image("v2"))
	r.want(t, 1)
	wantContains(t, "output", r.stdout, "pre-flight failed on 1 of 3 hosts", "h3", "No host had been changed")
	s.wantServing(t, "v1", "v1", "v1")
	for _, h := range []int{1, 2} {
		out := ssh(t, h, "ls "+remote.Quote(s.base))
		if !strings.Contains(out, "v2") {
			t.Errorf("h%d: pre-flight did not sync v2 before the failure elsewhere: %s", h, out)
		}
	}
	raw := string(s.deployHistory().raw)
	if strings.Contains(raw, "/revert") || strings.Contains(raw, "/start") {
		t.Errorf("a start or revert child ran after a pre-flight failure")
	}
}

// kill -9 of the worker while a batch runs, and again while the rollout
// waits for approval: it converges, and approve afterwards finishes it.
func TestRolloutWorkerKilled(t *testing.T) {
	s := newFaultService(t, "fleet-kill", portRolloutKill, 1, 2, 3)
	s.extra = "rollout:\n  batches: [1, \"100%\"]\n"
	w := s.ownWorker("w1")
	s.mustRollout("v1", image("v1"))
	s.extra = "rollout:\n  batches: [1, \"100%\"]\n  approve_after: [1]\n"
	s.compose("v2", image("v2"))
	p := s.start("deploy", "--config", s.hoistYML(), "--version", "v2")
	// Mid-batch: the start child of h1 runs.
	s.waitHistory("h1's start child", time.Minute, func(h *history) bool { return strings.Contains(string(h.raw), "/h1/start") })
	w.kill(t)
	w2 := s.ownWorker("w2")
	s.waitForApproval(1)
	s.wantServing(t, "v2", "v1", "v1")
	// While waiting: kill again; the wait is durable, and a new worker
	// takes the approval.
	w2.kill(t)
	s.ownWorker("w3")
	s.hoist("approve", "--config", s.hoistYML()).want(t, 0)
	p.wait(t, 3*time.Minute).want(t, 0)
	s.wantServing(t, "v2", "v2", "v2")
}

func TestRolloutCancelWhileWaiting(t *testing.T) {
	t.Parallel()
	s := rolloutService(t, "fleet-cancel", portRolloutCancel, "  batches: [1, \"100%\"]\n")
	s.mustRollout("v1", image("v1"))
	s.extra = "rollout:\n  batches: [1, \"100%\"]\n  approve_after: [1]\n"
	s.compose("v2", image("v2"))
	p := s.start("deploy", "--config", s.hoistYML(), "--version", "v2")
	s.waitForApproval(1)
	s.hoist("cancel", "--config", s.hoistYML()).want(t, 0)
	r := p.wait(t, 2*time.Minute)
	wantContains(t, "output", r.stdout, "cancelled", "Rolled back to v1")
	s.wantServing(t, "v1", "v1", "v1")
}
