package workflows

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/hoist-dev/hoist/activities"
	"github.com/hoist-dev/hoist/commands"
	"github.com/hoist-dev/hoist/config"
)

// Strategy zero-downtime (issue 11) against the fake fleet of
// deploy_test.go, grown a proxy side: which slot the dial file names and
// what each slot's project holds. The slot activities change it as the
// real ones change a host, and are logged in order with the rest.

// fakeSlot is one slot's compose project on a host.
type fakeSlot struct {
	version string // the release folder its containers came from
	running bool
}

// slotHost is what a zero-downtime host has beside its fakeHost (whose
// running field is the service's own project, strategy recreate).
type slotHost struct {
	dial  string               // the slot the proxy follows; "" before the first switch
	slots map[string]*fakeSlot // slot -> its containers; absent: none
	proxy bool                 // the proxy container runs
	files bool                 // the proxy's files and network are there
}

type slotFleet struct {
	*fleet
	zd map[string]*slotHost
	// afterSwitch: "host/version" -> the verdict of a wait on a slot
	// while the proxy sends that slot traffic (a release that crashes once
	// it serves); otherwise fleet.verdict decides.
	afterSwitch map[string]string
	logs        []activities.SaveLogsInput
}

func newSlotFleet(hosts ...string) *slotFleet {
	f := &slotFleet{fleet: newFleet(hosts...), zd: map[string]*slotHost{}, afterSwitch: map[string]string{}}
	for _, h := range hosts {
		f.zd[h] = &slotHost{slots: map[string]*fakeSlot{}}
	}
	return f
}

// seedSlots: host has versions, all good, current runs in slot serving
// with the proxy on it; stopped are "slot=version" stopped slots.
func (f *slotFleet) seedSlots(host, current, serving string, versions []string, stopped ...string) {
	f.seed(host, current, versions...)
	f.hosts[host].running = "" // nothing in the service's own project
	z := f.zd[host]
	z.dial, z.proxy, z.files = serving, true, true
	z.slots[serving] = &fakeSlot{version: current, running: true}
	for _, s := range stopped {
		slot, v, _ := strings.Cut(s, "=")
		z.slots[slot] = &fakeSlot{version: v}
	}
}

// record logs a call as "host call"; failOn["host/call"] makes it fail.
func (f *slotFleet) record(t activities.Target, call string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, t.Host+" "+call)
	return f.failOn[t.Host+"/"+call]
}

// show is a host as a user would check it: current, the proxy's dial,
// the slots, the service's own project, the release marks.
func (f *slotFleet) show(host string) string {
	h, z := f.hosts[host], f.zd[host]
	slot := func(s string) string {
		switch x := z.slots[s]; {
		case x == nil:
			return "-"
		case x.running:
			return x.version
		default:
			return x.version + "(stopped)"
		}
	}
	var good, failed []string
	for v, bad := range h.releases {
		if bad {
			failed = append(failed, v)
		}
		if h.good[v] {
			good = append(good, v)
		}
	}
	sort.Strings(good)
	sort.Strings(failed)
	dial := z.dial
	if dial == "" {
		dial = "-"
	}
	own := h.running
	if own == "" {
		own = "-"
	}
	return fmt.Sprintf("current=%s dial=%s a=%s b=%s own=%s good=%s failed=%s",
		h.current, dial, slot(commands.SlotA), slot(commands.SlotB), own, strings.Join(good, ","), strings.Join(failed, ","))
}

func (f *slotFleet) assertHost(t *testing.T, host, want string) {
	t.Helper()
	if got := f.show(host); got != want {
		t.Errorf("%s:\n  got  %s\n  want %s", host, got, want)
	}
}

func commandFailed(format string, args ...any) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(format, args...), activities.ErrCommand, nil)
}

// wireSlots mocks the slot activities, and WaitRunning and SaveLogs
// anew: it runs before fleet.wire, and the first mock of an activity is
// the one used.
func (f *slotFleet) wireSlots(env *testsuite.TestWorkflowEnvironment) {
	any := mock.Anything
	env.OnActivity(a.Slots, any, any).Return(func(_ context.Context, in activities.SlotsInput) (activities.SlotsResult, error) {
		f.op.Lock()
		defer f.op.Unlock()
		if err := f.record(in.Target, "Slots"); err != nil {
			return activities.SlotsResult{}, err
		}
		z := f.zd[in.Target.Host]
		info := func(s *fakeSlot) commands.SlotInfo {
			if s == nil {
				return commands.SlotInfo{}
			}
			i := commands.SlotInfo{Version: s.version, Total: 1}
			if s.running {
				i.Running = 1
			}
			return i
		}
		res := activities.SlotsResult{Serving: z.dial, A: info(z.slots[commands.SlotA]), B: info(z.slots[commands.SlotB])}
		if z.dial != "" {
			res.Dial = commands.SlotDial(in.Target.Service, z.dial, in.Proxy.Service, in.Proxy.Port)
		}
		if own := f.hosts[in.Target.Host].running; own != "" {
			res.Own = commands.SlotInfo{Version: own, Running: 1, Total: 1}
		}
		return res, nil
	})
	env.OnActivity(a.EnsureProxy, any, any).Return(func(_ context.Context, in activities.ProxyInput) (activities.ProxyResult, error) {
		f.op.Lock()
		defer f.op.Unlock()
		z := f.zd[in.Target.Host]
		if in.FilesOnly {
			z.files = true
			return activities.ProxyResult{}, f.record(in.Target, "EnsureProxy files")
		}
		if err := f.record(in.Target, "EnsureProxy container"); err != nil {
			return activities.ProxyResult{}, err
		}
		res := activities.ProxyResult{Started: !z.proxy}
		z.files, z.proxy = true, true
		return res, nil
	})
	env.OnActivity(a.StartSlot, any, any).Return(func(_ context.Context, in activities.SlotInput) (activities.StartResult, error) {
		f.op.Lock()
		defer f.op.Unlock()
		if err := f.record(in.Target, "StartSlot "+in.Slot+" "+in.Version); err != nil {
			return activities.StartResult{}, err
		}
		z := f.zd[in.Target.Host]
		if _, ok := f.hosts[in.Target.Host].releases[in.Version]; !ok || !z.files {
			return activities.StartResult{}, commandFailed("host %s, step start slot %s: no release folder %s or no slot override", in.Target.Host, in.Slot, in.Version)
		}
		z.slots[in.Slot] = &fakeSlot{version: in.Version, running: true}
		return activities.StartResult{UpAt: "up " + in.Slot + " " + in.Version}, nil
	})
	env.OnActivity(a.StopSlot, any, any).Return(func(_ context.Context, in activities.SlotInput) error {
		f.op.Lock()
		defer f.op.Unlock()
		if err := f.record(in.Target, "StopSlot "+in.Slot+" "+in.Version); err != nil {
			return err
		}
		if s := f.zd[in.Target.Host].slots[in.Slot]; s != nil {
			s.running = false
		}
		return nil
	})
	env.OnActivity(a.RemoveSlot, any, any).Return(func(_ context.Context, in activities.SlotInput) error {
		f.op.Lock()
		defer f.op.Unlock()
		if err := f.record(in.Target, "RemoveSlot "+in.Slot+" "+in.Version); err != nil {
			return err
		}
		delete(f.zd[in.Target.Host].slots, in.Slot)
		return nil
	})
	env.OnActivity(a.SwitchTraffic, any, any).Return(func(_ context.Context, in activities.SwitchTrafficInput) error {
		f.op.Lock()
		defer f.op.Unlock()
		if err := f.record(in.Target, "SwitchTraffic "+in.Slot); err != nil {
			return err
		}
		f.zd[in.Target.Host].dial = in.Slot
		return nil
	})
	env.OnActivity(a.CheckProxy, any, any).Return(func(_ context.Context, in activities.CheckProxyInput) (activities.CheckProxyResult, error) {
		f.op.Lock()
		defer f.op.Unlock()
		if err := f.record(in.Target, "CheckProxy "+in.Slot); err != nil {
			return activities.CheckProxyResult{}, err
		}
		z := f.zd[in.Target.Host]
		if s := z.slots[in.Slot]; !z.proxy || z.dial != in.Slot || s == nil || !s.running {
			return activities.CheckProxyResult{}, commandFailed("host %s, step check through the proxy: the proxy did not answer from slot %s", in.Target.Host, in.Slot)
		}
		return activities.CheckProxyResult{Status: 200, Upstream: commands.SlotDial(in.Target.Service, in.Slot, in.Proxy.Service, in.Proxy.Port), Tries: 1}, nil
	})
	env.OnActivity(a.WaitRunning, any, any).Return(func(_ context.Context, in activities.WaitInput) (activities.WaitResult, error) {
		f.op.Lock()
		defer f.op.Unlock()
		if f.onWait != nil {
			f.onWait()
		}
		slot := strings.TrimPrefix(in.Project, in.Target.Service+"-")
		call := "WaitRunning " + in.Version
		if in.Project != "" {
			call = "WaitRunning " + slot + " " + in.Version
		}
		if in.Stable > 0 {
			call += " stable " + config.FormatDuration(in.Stable)
		}
		if err := f.record(in.Target, call); err != nil {
			return activities.WaitResult{}, err
		}
		f.waits = append(f.waits, in)
		key := in.Target.Host + "/" + in.Version
		v := f.verdict[key]
		if in.Project == "" {
			// The service's own project, as the real check reads it.
			if f.hosts[in.Target.Host].running != in.Version {
				return activities.WaitResult{Verdict: "pending", Detail: "no containers of " + in.Version}, nil
			}
		} else {
			z := f.zd[in.Target.Host]
			s := z.slots[slot]
			if s == nil || s.version != in.Version || !s.running {
				return activities.WaitResult{Verdict: "pending", Detail: fmt.Sprintf("no running containers of %s in slot %s", in.Version, slot)}, nil
			}
			if z.dial == slot && f.afterSwitch[key] != "" {
				v = f.afterSwitch[key]
			}
			if v == "crashed" {
				s.running = false
			}
		}
		if v == "" {
			v = "healthy"
		}
		return activities.WaitResult{Verdict: v, Detail: "containers are " + v}, nil
	})
	env.OnActivity(a.SaveLogs, any, any).Return(func(_ context.Context, in activities.SaveLogsInput) (activities.SaveLogsResult, error) {
		f.op.Lock()
		defer f.op.Unlock()
		if err := f.record(in.Target, strings.TrimSpace("SaveLogs "+in.Version+" "+in.Project)); err != nil {
			return activities.SaveLogsResult{}, err
		}
		f.logs = append(f.logs, in)
		return activities.SaveLogsResult{Path: in.Target.Base + "/" + in.Version + "/.hoist-logs/" + in.Name + ".log"}, nil
	})
}

// deploySlots is deployWith with the slot activities wired first.
func deploySlots(t *testing.T, f *slotFleet, in DeployInput, setup ...func(*testsuite.TestWorkflowEnvironment)) run {
	t.Helper()
	f.wireFirst = f.wireSlots
	return deployWith(t, f.fleet, in, setup...)
}

const drain = 10 * time.Second

// zeroDowntime is s with strategy zero-downtime and a 10 s drain.
func zeroDowntime(s config.Spec) config.Spec {
	s.Strategy = config.StrategyZeroDowntime
	s.Proxy = &config.Proxy{Service: "web", Port: 8080, Listen: config.DefaultProxyListen, Image: config.DefaultProxyImage, Drain: drain}
	return s
}

func zdDeploy(version string, hosts ...string) DeployInput {
	return DeployInput{Spec: zeroDowntime(spec(hosts...)), Version: version, Bundle: []byte("b")}
}

// waitsOf are the waits of host on the given project.
func waitsOf(f *slotFleet, host, project string) []activities.WaitInput {
	var out []activities.WaitInput
	for _, w := range f.waits {
		if w.Target.Host == host && w.Project == project {
			out = append(out, w)
		}
	}
	return out
}

// 1. A first deploy goes into slot a: nothing serves, so nothing drains
// or stops; an upgrade goes into slot b, watched through the drain, and
// slot a stops before current follows.
func TestZeroDowntimeFirstDeployThenUpgrade(t *testing.T) {
	f := newSlotFleet("h1")
	r := deploySlots(t, f, zdDeploy("v1", "h1"))
	if r.err != nil {
		t.Fatal(r.err)
	}
	assertCalls(t, f.fleet, "h1", "SyncRelease v1", "PullImages v1", "Slots", "EnsureProxy files", "StartSlot a v1", "WaitRunning a v1",
		"EnsureProxy container", "SwitchTraffic a", "CheckProxy a", "SwitchCurrent v1", "MarkGood v1", "PruneReleases v1")
	f.assertHost(t, "h1", "current=v1 dial=a a=v1 b=- own=- good=v1 failed=")
	if r.res.Outcome != OutcomeDeployed || r.res.Hosts[0].Previous != "" {
		t.Errorf("result %+v", r.res)
	}

	f.calls, f.waits = nil, nil
	r = deploySlots(t, f, zdDeploy("v2", "h1"))
	if r.err != nil {
		t.Fatal(r.err)
	}
	assertCalls(t, f.fleet, "h1", "SyncRelease v2", "PullImages v2", "Slots", "EnsureProxy files", "StartSlot b v2", "WaitRunning b v2",
		"EnsureProxy container", "SwitchTraffic b", "CheckProxy b", "WaitRunning b v2 stable 10s", "StopSlot a v1",
		"SwitchCurrent v2", "MarkGood v2", "PruneReleases v2,v1")
	f.assertHost(t, "h1", "current=v2 dial=b a=v1(stopped) b=v2 own=- good=v1,v2 failed=")
	w := waitsOf(f, "h1", "web-b")
	if len(w) != 2 || w[0].UpAt != "up b v2" || w[0].Stable != 0 || w[1].Stable != drain || w[1].Window != drain+w[0].Window {
		t.Errorf("gate then drain watch of slot b: %+v", w)
	}
	if r.res.Hosts[0].Previous != "v1" || r.res.Hosts[0].Verdict != "healthy" {
		t.Errorf("result %+v", r.res)
	}
}

// 2. A redeploy of what the serving slot runs is checked where it is:
// the traffic stays on that slot, current is not switched, nothing stops.
func TestZeroDowntimeRedeployIsCheckedWhereItServes(t *testing.T) {
	f := newSlotFleet("h1")
	f.seedSlots("h1", "v2", "b", []string{"v1", "v2"}, "a=v1")
	r := deploySlots(t, f, zdDeploy("v2", "h1"))
	if r.err != nil {
		t.Fatal(r.err)
	}
	assertCalls(t, f.fleet, "h1", "SyncRelease v2", "PullImages v2", "Slots", "EnsureProxy files", "StartSlot b v2", "WaitRunning b v2",
		"EnsureProxy container", "SwitchTraffic b", "CheckProxy b", "MarkGood v2", "PruneReleases v2,v1")
	f.assertHost(t, "h1", "current=v2 dial=b a=v1(stopped) b=v2 own=- good=v1,v2 failed=")
}

// 3. A release never healthy in its slot gets no traffic, whatever
// health.unhealthy says (spec's is warn): its slot is removed, after its
// logs are saved from it, and nothing else on the host changed.
func TestZeroDowntimeNeverHealthyRemovesTheSlotOnly(t *testing.T) {
	f := newSlotFleet("h1")
	f.seedSlots("h1", "v1", "a", []string{"v1"})
	f.verdict["h1/v2"] = "unhealthy"
	r := deploySlots(t, f, zdDeploy("v2", "h1"))
	msg, d := failureOf(t, r.err)
	assertCalls(t, f.fleet, "h1", "SyncRelease v2", "PullImages v2", "Slots", "EnsureProxy files", "StartSlot b v2", "WaitRunning b v2",
		"MarkFailed v2", "SaveLogs v2 web-b", "RemoveSlot b v2")
	f.assertHost(t, "h1", "current=v1 dial=a a=v1 b=- own=- good=v1 failed=v2")
	if d.RolledBackTo != "" || d.NothingToRollBackTo || d.RollbackFailed || d.Host != "h1" || d.Step != "wait healthy in slot b" {
		t.Errorf("details %+v", d)
	}
	for _, want := range []string{"❌ Deployment of version v2 failed", "host h1, step wait healthy in slot b: unhealthy: containers are unhealthy",
		"No host had been changed.", "logs of the failed containers are kept on the host: h1: /srv/web/v2/.hoist-logs/"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q\n  lacks %q", msg, want)
		}
	}
	if len(f.logs) != 1 || f.logs[0].Project != "web-b" {
		t.Errorf("logs saved from %+v, want the slot's project web-b", f.logs)
	}
}

// A first deploy that is never healthy: its slot goes, and there was
// nothing to roll back to.
func TestZeroDowntimeFirstDeployNeverHealthy(t *testing.T) {
	f := newSlotFleet("h1")
	f.verdict["h1/v1"] = "crashed"
	r := deploySlots(t, f, zdDeploy("v1", "h1"))
	msg, d := failureOf(t, r.err)
	assertCalls(t, f.fleet, "h1", "SyncRelease v1", "PullImages v1", "Slots", "EnsureProxy files", "StartSlot a v1", "WaitRunning a v1",
		"MarkFailed v1", "SaveLogs v1 web-a", "RemoveSlot a v1")
	f.assertHost(t, "h1", "current= dial=- a=- b=- own=- good= failed=v1")
	if !d.NothingToRollBackTo || d.RolledBackTo != "" || !strings.Contains(msg, "there was no previous release") {
		t.Errorf("message %q details %+v", msg, d)
	}
}

// 4. The check through the proxy fails after the switch: the old slot,
// still running, gets the traffic back at once and is checked, then the
// failed slot goes; current was never switched.
func TestZeroDowntimeProxyCheckFailsAfterSwitch(t *testing.T) {
	f := newSlotFleet("h1")
	f.seedSlots("h1", "v1", "a", []string{"v1"})
	f.failOn["h1/CheckProxy b"] = commandFailed("host h1, step check through the proxy: the proxy on 0.0.0.0:80 did not answer from slot b")
	r := deploySlots(t, f, zdDeploy("v2", "h1"))
	msg, d := failureOf(t, r.err)
	assertCalls(t, f.fleet, "h1", "SyncRelease v2", "PullImages v2", "Slots", "EnsureProxy files", "StartSlot b v2", "WaitRunning b v2",
		"EnsureProxy container", "SwitchTraffic b", "CheckProxy b",
		"MarkFailed v2", "SwitchTraffic a", "WaitRunning a v1", "SaveLogs v2 web-b", "RemoveSlot b v2")
	f.assertHost(t, "h1", "current=v1 dial=a a=v1 b=- own=- good=v1 failed=v2")
	if d.RolledBackTo != "v1" || d.RollbackFailed || d.Host != "h1" || d.Step != "check through the proxy" ||
		!strings.Contains(msg, "❌ Deployment of version v2 failed! Rolled back to v1.") || !strings.Contains(msg, "did not answer from slot b") {
		t.Errorf("message %q details %+v", msg, d)
	}
	if back := waitsOf(f, "h1", "web-a"); len(back) != 1 || !back[0].RecordedServices {
		t.Errorf("v1 is checked in slot a by its recorded services: %+v", back)
	}
}

// 5. The new release crashes once it gets traffic, during the drain: the
// same undo, the old slot still runs.
func TestZeroDowntimeCrashDuringDrain(t *testing.T) {
	f := newSlotFleet("h1")
	f.seedSlots("h1", "v1", "a", []string{"v1"})
	f.afterSwitch["h1/v2"] = "crashed"
	r := deploySlots(t, f, zdDeploy("v2", "h1"))
	msg, d := failureOf(t, r.err)
	assertCalls(t, f.fleet, "h1", "SyncRelease v2", "PullImages v2", "Slots", "EnsureProxy files", "StartSlot b v2", "WaitRunning b v2",
		"EnsureProxy container", "SwitchTraffic b", "CheckProxy b", "WaitRunning b v2 stable 10s",
		"MarkFailed v2", "SwitchTraffic a", "WaitRunning a v1", "SaveLogs v2 web-b", "RemoveSlot b v2")
	f.assertHost(t, "h1", "current=v1 dial=a a=v1 b=- own=- good=v1 failed=v2")
	if d.RolledBackTo != "v1" || d.Step != "drain 10s, watching slot b" || !strings.Contains(msg, "crashed after the switch") {
		t.Errorf("message %q details %+v", msg, d)
	}
}

// Current fails to switch after the old slot stopped: the previous
// release is started again in its slot and gated before the traffic goes
// back to it.
func TestZeroDowntimeFailureAfterOldSlotStopped(t *testing.T) {
	f := newSlotFleet("h1")
	f.seedSlots("h1", "v1", "a", []string{"v1"})
	f.failOn["h1/SwitchCurrent/v2"] = commandFailed("disk full")
	r := deploySlots(t, f, zdDeploy("v2", "h1"))
	_, d := failureOf(t, r.err)
	assertCalls(t, f.fleet, "h1", "SyncRelease v2", "PullImages v2", "Slots", "EnsureProxy files", "StartSlot b v2", "WaitRunning b v2",
		"EnsureProxy container", "SwitchTraffic b", "CheckProxy b", "WaitRunning b v2 stable 10s", "StopSlot a v1", "SwitchCurrent v2",
		"StartSlot a v1", "WaitRunning a v1", "SwitchTraffic a", "RemoveSlot b v2", "SwitchCurrent v1")
	f.assertHost(t, "h1", "current=v1 dial=a a=v1 b=- own=- good=v1 failed=")
	if d.RolledBackTo != "v1" || d.RollbackFailed {
		t.Errorf("details %+v", d)
	}
}

// 6. A rollout whose second batch fails: the done host of batch 1 is
// reverted by the slot switch back, from what its start phase did with
// the slots (HostChanged.Slots), not by the recreate undo.
func TestZeroDowntimeRolloutRevertsBySlots(t *testing.T) {
	hosts := []string{"h1", "h2", "h3"}
	f := newSlotFleet(hosts...)
	for _, h := range hosts {
		f.seedSlots(h, "v1", "a", []string{"v1"})
	}
	f.verdict["h2/v2"] = "crashed"
	r := deploySlots(t, f, deployV2(zeroDowntime(rolloutSpec(config.Rollout{Preflight: true}, hosts...))))
	msg, d := failureOf(t, r.err)
	started := []string{"SyncRelease v2", "PullImages v2", "Slots", "EnsureProxy files", "StartSlot b v2", "WaitRunning b v2",
		"EnsureProxy container", "SwitchTraffic b", "CheckProxy b", "WaitRunning b v2 stable 10s", "StopSlot a v1",
		"SwitchCurrent v2", "MarkGood v2", "PruneReleases v2,v1"}
	reverted := append(started, "StartSlot a v1", "WaitRunning a v1", "SwitchTraffic a", "RemoveSlot b v2", "SwitchCurrent v1")
	assertCalls(t, f.fleet, "h1", reverted...)
	assertCalls(t, f.fleet, "h3", reverted...)
	assertCalls(t, f.fleet, "h2", "SyncRelease v2", "PullImages v2", "Slots", "EnsureProxy files", "StartSlot b v2", "WaitRunning b v2",
		"MarkFailed v2", "SaveLogs v2 web-b", "RemoveSlot b v2")
	for _, c := range f.calls {
		if strings.Contains(c, "StopRelease") || strings.Contains(c, "StartRelease") {
			t.Errorf("the recreate undo ran: %s", c)
		}
	}
	f.assertHost(t, "h1", "current=v1 dial=a a=v1 b=- own=- good=v1,v2 failed=")
	f.assertHost(t, "h2", "current=v1 dial=a a=v1 b=- own=- good=v1 failed=v2")
	f.assertHost(t, "h3", "current=v1 dial=a a=v1 b=- own=- good=v1,v2 failed=")
	var states []string
	for _, h := range d.Fleet.Hosts {
		states = append(states, h.Host+":"+h.State)
	}
	if got := strings.Join(states, " "); got != "h1:reverted h2:failed h3:reverted" || d.RolledBackTo != "v1" || d.Host != "h2" || !strings.Contains(msg, "h2") {
		t.Errorf("states %s, message %q, details %+v", got, msg, d)
	}
}

// 7. hoist rollback to a release whose stopped slot is still there: the
// slot is started again and the traffic switched to it.
func TestZeroDowntimeRollbackIntoStoppedSlot(t *testing.T) {
	f := newSlotFleet("h1")
	f.seedSlots("h1", "v2", "b", []string{"v1", "v2"}, "a=v1")
	in := zdDeploy("v1", "h1")
	in.Kind, in.Bundle = KindRollback, nil
	r := deploySlots(t, f, in)
	if r.err != nil {
		t.Fatal(r.err)
	}
	assertCalls(t, f.fleet, "h1", "PullImages v1", "Slots", "EnsureProxy files", "StartSlot a v1", "WaitRunning a v1",
		"EnsureProxy container", "SwitchTraffic a", "CheckProxy a", "WaitRunning a v1 stable 10s", "StopSlot b v2",
		"SwitchCurrent v1", "MarkGood v1", "PruneReleases v1,v2")
	f.assertHost(t, "h1", "current=v1 dial=a a=v1 b=v2(stopped) own=- good=v1,v2 failed=")
	if r.res.Kind != KindRollback || r.res.Hosts[0].Previous != "v2" {
		t.Errorf("result %+v", r.res)
	}
}

// A host on strategy recreate moves to zero-downtime: its own project is
// stopped just before the proxy takes its ports, and the release goes
// into slot a.
func TestZeroDowntimeMovesFromRecreate(t *testing.T) {
	f := newSlotFleet("h1")
	f.seed("h1", "v1", "v1") // v1 runs in the service's own project
	r := deploySlots(t, f, zdDeploy("v2", "h1"))
	if r.err != nil {
		t.Fatal(r.err)
	}
	assertCalls(t, f.fleet, "h1", "SyncRelease v2", "PullImages v2", "Slots", "EnsureProxy files", "StartSlot a v2", "WaitRunning a v2",
		"StopRelease v1", "EnsureProxy container", "SwitchTraffic a", "CheckProxy a", "SwitchCurrent v2", "MarkGood v2", "PruneReleases v2,v1")
	f.assertHost(t, "h1", "current=v2 dial=a a=v2 b=- own=- good=v1,v2 failed=")
}

// A deploy recorded before the strategy existed (no strategy, no proxy
// in its spec), and one with strategy recreate, take none of the slot
// steps: the recreate flow, step for step.
func TestSpecWithoutStrategyTakesNoSlotSteps(t *testing.T) {
	for _, strategy := range []string{"", config.StrategyRecreate} {
		t.Run("strategy "+strategy, func(t *testing.T) {
			f := newSlotFleet("h1")
			f.seed("h1", "v1", "v1")
			s := spec("h1")
			s.Strategy = strategy
			r := deploySlots(t, f, DeployInput{Spec: s, Version: "v2", Bundle: []byte("b")})
			if r.err != nil {
				t.Fatal(r.err)
			}
			assertCalls(t, f.fleet, "h1", "SyncRelease v2", "PullImages v2", "SwitchCurrent v2", "StartRelease v2", "WaitRunning v2", "MarkGood v2", "PruneReleases v2,v1")
			f.assertHost(t, "h1", "current=v2 dial=- a=- b=- own=v2 good=v1,v2 failed=")
		})
	}
}

// A rollout's pause watches each host after it switched, before it
// counts as done, whatever the strategy (a crash in the pause fails the
// host while the batch can still be stopped).
func TestZeroDowntimeRolloutPauseWatchesTheNewSlot(t *testing.T) {
	const pause = 30 * time.Second
	f := newSlotFleet("h1")
	f.seedSlots("h1", "v1", "a", []string{"v1"})
	s := zeroDowntime(rolloutSpec(config.Rollout{Preflight: true, Pause: pause}, "h1"))
	r := deploySlots(t, f, deployV2(s))
	if r.err != nil {
		t.Fatal(r.err)
	}
	watched := false
	for _, c := range calls(f.fleet, "h1") {
		if c == "MarkGood v2" {
			break
		}
		var st string
		if _, err := fmt.Sscanf(c, "WaitRunning b v2 stable %s", &st); err == nil {
			d, _ := time.ParseDuration(st)
			watched = watched || d >= pause
		}
	}
	if !watched {
		t.Errorf("no watch of slot b for the rollout's pause (%s) before v2 was marked good: %q", pause, calls(f.fleet, "h1"))
	}
}

// A redeploy of the serving release whose check through the proxy fails
// is rolled back to the previous release, as with strategy recreate
// (TestRedeployOfCurrentIsNotItsOwnRollbackTarget): current follows the
// traffic back.
func TestZeroDowntimeFailedRedeployRollsCurrentBack(t *testing.T) {
	f := newSlotFleet("h1")
	f.seedSlots("h1", "v2", "b", []string{"v1", "v2"}, "a=v1")
	f.failOn["h1/CheckProxy b"] = commandFailed("host h1, step check through the proxy: the proxy did not answer from slot b")
	r := deploySlots(t, f, zdDeploy("v2", "h1"))
	_, d := failureOf(t, r.err)
	t.Logf("calls %q", calls(f.fleet, "h1"))
	f.assertHost(t, "h1", "current=v1 dial=a a=v1 b=- own=- good=v1 failed=v2")
	if d.RolledBackTo != "v1" {
		t.Errorf("details %+v", d)
	}
}

// A current release nothing is known about (its good mark could not be
// written) is looked at where it runs, in its slot, before anything
// replaces it: healthy there, it is the rollback target.
func TestZeroDowntimeUnknownCurrentIsLookedAtInItsSlot(t *testing.T) {
	f := newSlotFleet("h1")
	f.seedSlots("h1", "v1", "a", []string{"v1"})
	delete(f.hosts["h1"].good, "v1")
	f.failOn["h1/CheckProxy b"] = commandFailed("host h1, step check through the proxy: the proxy did not answer from slot b")
	r := deploySlots(t, f, zdDeploy("v2", "h1"))
	_, d := failureOf(t, r.err)
	if c := strings.Join(calls(f.fleet, "h1"), ", "); !strings.Contains(c, "Slots, WaitRunning a v1, MarkGood v1") {
		t.Errorf("v1 not looked at in slot a: %s", c)
	}
	f.assertHost(t, "h1", "current=v1 dial=a a=v1 b=- own=- good=v1 failed=v2")
	if d.RolledBackTo != "v1" {
		t.Errorf("details %+v", d)
	}
}

// A current release that cannot be adopted (its mark cannot be written)
// is no rollback target, but it served a moment ago: a failure after the
// switch gives it the traffic back before the failed slot goes, never
// leaving the proxy on a removed slot.
func TestZeroDowntimeUnadoptedCurrentGetsTheTrafficBack(t *testing.T) {
	f := newSlotFleet("h1")
	f.seedSlots("h1", "v1", "a", []string{"v1"})
	delete(f.hosts["h1"].good, "v1")
	f.failOn["h1/MarkGood/v1"] = commandFailed("host h1, step mark v1 good: read-only file system")
	f.failOn["h1/CheckProxy b"] = commandFailed("host h1, step check through the proxy: the proxy did not answer from slot b")
	r := deploySlots(t, f, zdDeploy("v2", "h1"))
	msg, d := failureOf(t, r.err)
	t.Logf("calls %q\nmessage %s", calls(f.fleet, "h1"), msg)
	f.assertHost(t, "h1", "current=v1 dial=a a=v1 b=- own=- good= failed=v2")
	if d.RolledBackTo != "" || !strings.Contains(msg, "check through the proxy") ||
		!strings.Contains(msg, "the proxy sends traffic to v1 in slot a again, the release that served before this deploy (not known good") {
		t.Errorf("message %q details %+v", msg, d)
	}
}
