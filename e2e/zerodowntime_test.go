//go:build integration

package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/internal/loadgen"
	"github.com/hoist-dev/hoist/remote"
)

// Published ports of the zero-downtime tests (the proxy's listen port).
const (
	portZDSmoke    = 18340
	portZDLoad     = 18341
	portZDRecreate = 18342
	portZDNever    = 18343
	portZDCrash    = 18344
	portZDKill     = 18345
	portZDFleet    = 18346
	portZDMove     = 18347
	portZDFleetBad = 18348
)

// zdService is a service deployed with strategy zero-downtime: the proxy
// publishes the service's port, the slots publish nothing.
func zdService(t *testing.T, prefix string, port int, hosts ...int) *service {
	s := newService(t, prefix, port, hosts...)
	s.zeroDowntime("1s")
	return s
}

// zeroDowntime makes s a zero-downtime service with the given drain.
func (s *service) zeroDowntime(drain string) {
	s.extra = fmt.Sprintf("strategy: zero-downtime\nproxy:\n  service: web\n  port: 8080\n  listen: \"0.0.0.0:%d\"\n  image: %s\n  drain: %s\n",
		s.port, suite.env.Registry+"/caddy:2.11.9", drain)
	// Runs before the service's own cleanup (LIFO): the slots, the proxy
	// and the shared network are the zero-downtime leftovers.
	s.t.Cleanup(s.cleanupSlots)
}

func (s *service) cleanupSlots() {
	for _, h := range s.hosts {
		script := fmt.Sprintf(`cd %[1]s 2>/dev/null || exit 0
for p in %[2]s-a %[2]s-b; do ids=$(docker ps -aq --filter label=com.docker.compose.project=$p); [ -z "$ids" ] || docker rm -f $ids >/dev/null; done
docker rm -f hoist-proxy-%[2]s >/dev/null 2>&1; docker network rm hoist-%[2]s >/dev/null 2>&1; true`, remote.Quote(s.base), s.name)
		if out, err := sshRun(h, script); err != nil {
			s.t.Errorf("cleanup of %s's slots on h%d: %v\n%s", s.name, h, err, out)
		}
	}
}

// slotState is what runs in the service's slots on host n: "a=v1:running b=v2:exited proxy=running dial=..."
func (s *service) slotState(n int) string {
	s.t.Helper()
	script := fmt.Sprintf(`for p in a b; do printf '%%s=' $p; docker ps -a --filter label=com.docker.compose.project=%[1]s-$p --format '{{.Label "com.docker.compose.project.working_dir"}}:{{.State}}' | sed 's#.*/##' | sort | tr '\n' ','; printf ' '; done
printf 'proxy='; docker inspect --format '{{.State.Status}}' hoist-proxy-%[1]s 2>/dev/null | tr -d '\n' || printf none
printf ' dial='; cat %[2]s/.proxy/upstream/dial 2>/dev/null || printf none`, s.name, remote.Quote(s.base))
	return strings.TrimSpace(ssh(s.t, n, script))
}

// The whole cycle once, without load: v1 into slot a, v2 into slot b with
// traffic switched and a stopped, a never-healthy v3 refused with v2
// serving on, and hoist rollback back to v1 in slot a.
func TestZeroDowntimeSmoke(t *testing.T) {
	t.Parallel()
	s := zdService(t, "zds", portZDSmoke)
	s.mustDeploy("v1", image("v1").with("X", "1"))
	s.wantServes("v1")
	if got, want := s.slotState(1), fmt.Sprintf("a=v1:running, b= proxy=running dial=%s-a-web-1:8080", s.name); got != want {
		t.Fatalf("after v1: %q, want %q", got, want)
	}
	s.mustDeploy("v2", image("v2"))
	s.wantServes("v2")
	if got, want := s.slotState(1), fmt.Sprintf("a=v1:exited, b=v2:running, proxy=running dial=%s-b-web-1:8080", s.name); got != want {
		t.Fatalf("after v2: %q, want %q", got, want)
	}
	st := s.state(1)
	if st.current != "v2" || len(st.containers) != 0 {
		t.Fatalf("current %q, own project's containers %+v: want v2 and none", st.current, st.containers)
	}

	a := image("v3")
	a.unhealthy = true
	r := s.deploy("v3", a)
	r.want(t, 1)
	r.line(t, "❌ Deployment of version v3 failed")
	s.wantServes("v2")
	if got, want := s.slotState(1), fmt.Sprintf("a= b=v2:running, proxy=running dial=%s-b-web-1:8080", s.name); got != want {
		t.Fatalf("after the failed v3: %q, want %q", got, want)
	}

	r = s.hoist("rollback", "--config", s.hoistYML(), "--to", "v1")
	r.want(t, 0)
	s.wantServes("v1")
	if got, want := s.slotState(1), fmt.Sprintf("a=v1:running, b=v2:exited, proxy=running dial=%s-a-web-1:8080", s.name); got != want {
		t.Fatalf("after the rollback: %q, want %q", got, want)
	}
}

// underLoad runs load at the service's address on host n while f runs,
// and for a moment after, so what f left is what the load ends on.
func underLoad(t *testing.T, s *service, n int, mode loadgen.Mode, f func()) (loadgen.Result, time.Time) {
	t.Helper()
	url := fmt.Sprintf("http://%s:%d/", suite.env.Host(n), s.port)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan loadgen.Result)
	go func() {
		done <- loadgen.Run(ctx, loadgen.Config{URL: url, Mode: mode, Workers: 4, Timeout: 5 * time.Second})
	}()
	time.Sleep(300 * time.Millisecond) // the load is flowing before anything changes
	f()
	end := time.Now()
	time.Sleep(300 * time.Millisecond)
	cancel()
	res := <-done
	t.Logf("%s", res)
	return res, end
}

// wantNoFailure fails on any failed request, saying the first few.
func wantNoFailure(t *testing.T, what string, res loadgen.Result) {
	t.Helper()
	if res.Total() < 100 {
		t.Fatalf("%s: only %d requests: the load did not run", what, res.Total())
	}
	if f := res.Failures(); len(f) > 0 {
		t.Fatalf("%s: %d of %d requests failed, the first: %+v", what, len(f), res.Total(), f[:min(len(f), 3)])
	}
}

// Zero-downtime under constant load, in the three ways clients come:
// keep-alive GETs, keep-alive POSTs (which Go's client never retries)
// and a new connection per request. Not one request fails, both versions
// answer during the deploy, only the new one once it returned (the old
// slot is stopped after the drain), and no request waited a second (a
// stop-first design hidden by the proxy's retries would).
func TestZeroDowntimeUnderLoad(t *testing.T) {
	t.Parallel()
	s := zdService(t, "zdl", portZDLoad)
	s.mustDeploy("l0", image("v1"))
	for i, mode := range loadgen.Modes {
		from, to := fmt.Sprintf("l%d", i), fmt.Sprintf("l%d", i+1)
		res, end := underLoad(t, s, 1, mode, func() { s.mustDeploy(to, image([]string{"v2", "v3"}[i%2])) })
		wantNoFailure(t, string(mode), res)
		if vs := res.Versions(); vs[from] == 0 || vs[to] == 0 {
			t.Fatalf("%s: versions seen %v, want both %s and %s", mode, vs, from, to)
		}
		if after := res.SeenAfter(end); !slices.Equal(after, []string{to}) {
			t.Fatalf("%s: after the deploy returned, versions %v answered, want only %s", mode, after, to)
		}
		if m := res.MaxLatency(); m >= time.Second {
			t.Fatalf("%s: a request took %s: requests were held while nothing served", mode, m)
		}
	}
}

// The negative control: the same load through strategy recreate fails
// requests while compose replaces the container, so the zero above means
// something.
func TestRecreateUnderLoadFails(t *testing.T) {
	t.Parallel()
	s := newService(t, "zdr", portZDRecreate)
	s.mustDeploy("r0", image("v1"))
	res, _ := underLoad(t, s, 1, loadgen.KeepAliveGET, func() { s.mustDeploy("r1", image("v2")) })
	if len(res.Failures()) == 0 {
		t.Fatalf("recreate under load failed no request (%s): the zero-downtime tests' load cannot tell", res)
	}
}

// A release that never gets healthy is never given traffic: the deploy
// fails, not one request fails, the old release serves on, and the new
// slot is gone.
func TestZeroDowntimeNeverHealthy(t *testing.T) {
	t.Parallel()
	s := zdService(t, "zdn", portZDNever)
	s.mustDeploy("n1", image("v1"))
	a := image("v2")
	a.unhealthy = true
	var r result
	res, _ := underLoad(t, s, 1, loadgen.KeepAlivePOST, func() { r = s.deploy("n2", a) })
	r.want(t, 1)
	r.line(t, "❌ Deployment of version n2 failed")
	wantNoFailure(t, "never healthy", res)
	if vs := res.Versions(); vs["n2"] != 0 || vs["n1"] == 0 {
		t.Fatalf("versions seen %v: want n1 only", vs)
	}
	if got, want := s.slotState(1), fmt.Sprintf("a=n1:running, b= proxy=running dial=%s-a-web-1:8080", s.name); got != want {
		t.Fatalf("after the failed n2: %q, want %q", got, want)
	}
	if st := s.state(1); st.current != "n1" {
		t.Fatalf("current is %q, want n1", st.current)
	}
}

// A release that crashes right after the switch, while the old slot
// drains, gives the traffic back to the old slot, which never stopped:
// not one request fails.
func TestZeroDowntimeCrashAfterSwitch(t *testing.T) {
	t.Parallel()
	s := newService(t, "zdc", portZDCrash)
	s.zeroDowntime("8s")
	s.mustDeploy("c1", image("v1"))
	var r result
	res, _ := underLoad(t, s, 1, loadgen.KeepAliveGET, func() { r = s.deploy("c2", image("v2").with("CRASH_AFTER_REQUESTS", "200")) })
	r.want(t, 1)
	r.line(t, "❌ Deployment of version c2 failed! Rolled back to c1.")
	wantContains(t, "the deploy's output", r.stdout, "after the switch")
	wantNoFailure(t, "crash after the switch", res)
	if vs := res.Versions(); vs["c2"] == 0 {
		t.Fatalf("versions seen %v: c2 never answered, so the switch never happened", vs)
	}
	if after := res.SeenAfter(time.Now().Add(-350 * time.Millisecond)); !slices.Equal(after, []string{"c1"}) {
		t.Fatalf("after the rollback, versions %v answered, want only c1", after)
	}
	if got, want := s.slotState(1), fmt.Sprintf("a=c1:running, b= proxy=running dial=%s-a-web-1:8080", s.name); got != want {
		t.Fatalf("after the rollback: %q, want %q", got, want)
	}
}

// kill -9 of the only worker between the traffic switch and the old
// slot's stop: the host serves the new release meanwhile, and a new
// worker goes on from the drain to the end. Not one request fails.
func TestZeroDowntimeWorkerKilledAfterSwitch(t *testing.T) {
	t.Parallel()
	s := newFaultService(t, "zdk", portZDKill, 1)
	s.zeroDowntime("5s")
	w1 := s.ownWorker("w1")
	s.mustDeploy("k1", image("v1"))
	res, _ := underLoad(t, s, 1, loadgen.KeepAlivePOST, func() {
		s.deploy("k2", image("v2"), "--detach").want(t, 0)
		s.waitHistory("the traffic switch", 90*time.Second, func(h *history) bool { return h.completed("SwitchTraffic") == 1 })
		w1.kill(t)
		time.Sleep(2 * time.Second) // no worker: the host serves on by itself
		s.ownWorker("w2")
		h := s.waitClosed(2 * time.Minute)
		if h.running() {
			t.Fatal("the deploy did not end after the new worker started")
		}
	})
	wantNoFailure(t, "worker killed after the switch", res)
	if vs := res.Versions(); vs["k1"] == 0 || vs["k2"] == 0 {
		t.Fatalf("versions seen %v, want both", vs)
	}
	if got, want := s.slotState(1), fmt.Sprintf("a=k1:exited, b=k2:running, proxy=running dial=%s-b-web-1:8080", s.name); got != want {
		t.Fatalf("after the recovery: %q, want %q", got, want)
	}
	if st := s.state(1); st.current != "k2" {
		t.Fatalf("current is %q, want k2", st.current)
	}
}

// A rollout of three zero-downtime hosts in two batches: each host
// switches through its own proxy, and the one under load fails nothing.
func TestZeroDowntimeRollout(t *testing.T) {
	t.Parallel()
	s := newService(t, "zdf", portZDFleet, 1, 2, 3)
	s.zeroDowntime("1s")
	s.extra += "rollout: {batches: [1, \"100%\"]}\n"
	r := s.deploy("f1", image("v1"))
	r.want(t, 0)
	r.line(t, s.deployedLine("f1"))
	res, _ := underLoad(t, s, 3, loadgen.NewConnection, func() { r = s.deploy("f2", image("v2")) })
	r.want(t, 0)
	r.line(t, s.deployedLine("f2")+" to 3 host(s) in 2 batch(es)")
	wantNoFailure(t, "rollout", res)
	for _, h := range s.hosts {
		if got, want := s.slotState(h), fmt.Sprintf("a=f1:exited, b=f2:running, proxy=running dial=%s-b-web-1:8080", s.name); got != want {
			t.Fatalf("h%d: %q, want %q", h, got, want)
		}
	}
	s.wantServes("f2")
	st := s.hoist("status", "--config", s.hoistYML())
	st.want(t, 0, fmt.Sprintf("  traffic: slot b (%s-b-web-1:8080)", s.name))
}

// A host that ran the service with strategy recreate moves to
// zero-downtime: the recreate project is taken down (the one gap) before
// the proxy takes its port, and the next deploy switches with no gap.
func TestZeroDowntimeFromRecreate(t *testing.T) {
	t.Parallel()
	s := newService(t, "zdm", portZDMove)
	s.mustDeploy("m1", image("v1"))
	s.zeroDowntime("1s")
	r := s.mustDeploy("m2", image("v2"))
	wantContains(t, "the deploy's output", r.stdout, "down m1 (strategy recreate)")
	s.wantServes("m2")
	if st := s.state(1); st.current != "m2" || len(st.containers) != 0 {
		t.Fatalf("current %q, recreate project's containers %+v: want m2 and none", st.current, st.containers)
	}
	if got, want := s.slotState(1), fmt.Sprintf("a=m2:running, b= proxy=running dial=%s-a-web-1:8080", s.name); got != want {
		t.Fatalf("after the move: %q, want %q", got, want)
	}
	res, _ := underLoad(t, s, 1, loadgen.KeepAliveGET, func() { s.mustDeploy("m3", image("v3")) })
	wantNoFailure(t, "the first switch after the move", res)
}

// A zero-downtime rollout whose second batch crashes: the first batch's
// host, already switched and done, is switched back to the old slot by
// the fleet's compensation, and its traffic never sees an error.
func TestZeroDowntimeRolloutRollsBackDoneHost(t *testing.T) {
	t.Parallel()
	s := newService(t, "zdb", portZDFleetBad, 1, 2, 3)
	s.zeroDowntime("1s")
	s.extra += "rollout: {batches: [1, \"100%\"]}\n"
	r := s.deploy("b1", image("v1"))
	r.want(t, 0)
	res, _ := underLoad(t, s, 1, loadgen.KeepAlivePOST, func() { r = s.deploy("b2", s.crashOn(image("v2"), 2, 3)) })
	r.want(t, 1)
	r.line(t, "❌ Deployment of version b2 failed! Rolled back to b1.")
	wantNoFailure(t, "rollback of the done host", res)
	if vs := res.Versions(); vs["b2"] == 0 {
		t.Fatalf("versions seen on h1 %v: b2 never served there, so nothing was switched back", vs)
	}
	for _, h := range s.hosts {
		if got, want := s.slotState(h), fmt.Sprintf("a=b1:running, b= proxy=running dial=%s-a-web-1:8080", s.name); got != want {
			t.Fatalf("h%d after the rollback: %q, want %q", h, got, want)
		}
		if st := s.state(h); st.current != "b1" {
			t.Fatalf("h%d: current is %q, want b1", h, st.current)
		}
	}
	s.wantServes("b1")
}
