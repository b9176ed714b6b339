package activities

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/commands"
	"github.com/hoist-dev/hoist/config"
)

// The health gate's tests: hoist runs the container's healthcheck itself
// (health.check docker), probes it over HTTP (http), or only wants it
// running (none).

const (
	hostClock = "2025-11-21T05:00:03Z" // the host's clock at every inspect below
	upSince   = "2025-11-21T05:00:02Z" // the container's start: up 1 s
	// testapp's healthcheck in exec form, Docker's 30 s interval: Docker
	// would run it first 30 s after the start.
	execCheck = `{"Test":["CMD","/app","-healthcheck"],"Interval":30000000000,"Timeout":1500000000,"Retries":3}`
	nets      = `{"web_default":{"IPAddress":"172.20.0.5","GlobalIPv6Address":""}}`
)

// gateLine is one container as InspectContainers prints it, after the
// host's clock: running since upSince, Docker's own status health.
func gateLine(id, status, health, healthcheck string) string {
	h := ""
	if health != "" {
		h = fmt.Sprintf(`,"Health":{"Status":%q,"FailingStreak":0,"Log":[]}`, health)
	}
	return fmt.Sprintf("%s\n%s\t/web-web-1\tweb\t0\t2025-11-21T05:00:01Z\t{\"Status\":%q,\"ExitCode\":0,\"StartedAt\":%q%s}\t%s\t%s\n",
		hostClock, id, status, upSince, h, healthcheck, nets)
}

var testappCheck = []string{"/app", "-healthcheck"}

func checkCmd(id string) string {
	return commands.RunHealthcheck(id, testappCheck, 1500*time.Millisecond).String()
}

// ranCount is how many times the fake ran the command line.
func (f *fakeRunner) ranCount(line string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.ran {
		if c.String() == line {
			n++
		}
	}
	return n
}

func gateInput(h config.Health) WaitInput {
	return WaitInput{Target: target, Version: "v2", Window: 30 * time.Second, Poll: time.Millisecond, UpAt: "2025-11-21T05:00:00Z", Health: h}
}

// Docker says "starting" (its first check is 30 s away); hoist's own runs
// of the test pass twice: healthy now.
func TestGateHealthyBeforeDockersFirstCheck(t *testing.T) {
	f := newFake(t)
	f.on(target.Compose("v2").ContainerIDsByLabel(), reply{out: "abc\n"})
	f.on(commands.InspectContainers("abc"), reply{out: gateLine("abc", "running", "starting", execCheck)})
	f.on(commands.RunHealthcheck("abc", testappCheck, 1500*time.Millisecond), reply{})
	res := wait(t, f, gateInput(config.Health{}))
	if res.Verdict != "healthy" || res.Checks != 2 || res.Polls != 2 {
		t.Fatalf("result %+v: want healthy after 2 checks in 2 polls (healthy_runs 2 by default)", res)
	}
	if n := f.ranCount(checkCmd("abc")); n != 2 {
		t.Fatalf("the healthcheck ran %d times, want 2", n)
	}
}

// Three failures in a row (the healthcheck's retries) past the start
// period: unhealthy at once, not at the end of the 30 s window; the
// detail counts them and quotes the last check, env values cut out.
func TestGateUnhealthyIsAVerdictNotATimeout(t *testing.T) {
	f := newFake(t)
	f.on(target.Compose("v2").ContainerIDsByLabel(), reply{out: "abc\n"})
	f.on(commands.InspectContainers("abc"), reply{out: gateLine("abc", "running", "starting", execCheck)})
	f.on(commands.RunHealthcheck("abc", testappCheck, 1500*time.Millisecond),
		reply{code: 1, out: "healthcheck: status 500 for token tok_live_123456"})
	f.on(target.Compose("v2").ReadEnvFiles([]string{".env"}), reply{out: "API_TOKEN=tok_live_123456\n"})
	in := gateInput(config.Health{})
	in.EnvFiles = []string{".env"}
	start := time.Now()
	res := wait(t, f, in)
	if res.Verdict != "unhealthy" || res.Checks != 3 || res.Polls != 4 {
		t.Fatalf("result %+v: want unhealthy after 3 checks (and one more look)", res)
	}
	wantIn(t, res.Detail, "container web-web-1 (service web) is unhealthy: 3 consecutive runs of its healthcheck failed",
		"3 make it unhealthy: its healthcheck's retries", "the last check said: exit 1 healthcheck: status 500 for token [API_TOKEN redacted]")
	if strings.Contains(res.Detail, "tok_live") {
		t.Fatalf("detail %q holds an env value", res.Detail)
	}
	if time.Since(start) > 10*time.Second {
		t.Fatalf("the verdict took %s: the window was waited out", time.Since(start))
	}
}

// health.unhealthy_runs overrides the healthcheck's retries.
func TestGateUnhealthyRuns(t *testing.T) {
	f := newFake(t)
	f.on(target.Compose("v2").ContainerIDsByLabel(), reply{out: "abc\n"})
	f.on(commands.InspectContainers("abc"), reply{out: gateLine("abc", "running", "starting", execCheck)})
	f.on(commands.RunHealthcheck("abc", testappCheck, 1500*time.Millisecond), reply{code: 1})
	res := wait(t, f, gateInput(config.Health{UnhealthyRuns: 1}))
	if res.Verdict != "unhealthy" || res.Checks != 1 {
		t.Fatalf("result %+v: want unhealthy at the first failed check", res)
	}
	wantIn(t, res.Detail, "1 consecutive runs of its healthcheck failed (1 make it unhealthy: health.unhealthy_runs")
}

// Failures in the start period do not count: the container is still
// starting when the window ends, "not healthy in time", never unhealthy
// before.
func TestGateStartPeriod(t *testing.T) {
	f := newFake(t)
	f.on(target.Compose("v2").ContainerIDsByLabel(), reply{out: "abc\n"})
	hc := `{"Test":["CMD","/app","-healthcheck"],"Timeout":1500000000,"StartPeriod":60000000000,"Retries":1}`
	f.on(commands.InspectContainers("abc"), reply{out: gateLine("abc", "running", "starting", hc)})
	f.on(commands.RunHealthcheck("abc", testappCheck, 1500*time.Millisecond), reply{code: 1, out: "connection refused"})
	in := gateInput(config.Health{})
	in.Window = 50 * time.Millisecond
	res := wait(t, f, in)
	if res.Verdict != "unhealthy" || res.Checks < 2 {
		t.Fatalf("result %+v: want unhealthy at the window's end, after several checks", res)
	}
	wantIn(t, res.Detail, "not healthy in time (container web-web-1 (service web): 0 of 2 passes in a row",
		fmt.Sprintf("%d failed in its start period of 1m", res.Checks), "the last check said: exit 1 connection refused")
}

// A check that fails because the container exited under it is a crash,
// with the container's last output, not an unhealthy verdict.
func TestGateContainerExitedUnderItsCheck(t *testing.T) {
	f := newFake(t)
	f.on(target.Compose("v2").ContainerIDsByLabel(), reply{out: "abc\n"})
	f.on(commands.InspectContainers("abc"),
		reply{out: gateLine("abc", "running", "starting", execCheck)},
		reply{out: gateLine("abc", "exited", "starting", execCheck)})
	f.on(commands.RunHealthcheck("abc", testappCheck, 1500*time.Millisecond), reply{code: 1, out: "Error response from daemon: container abc is not running"})
	f.on(commands.ContainerLogs("abc", 5), reply{out: "panic: no config"})
	res := wait(t, f, gateInput(config.Health{UnhealthyRuns: 1}))
	if res.Verdict != "crashed" || !strings.Contains(res.Detail, "panic: no config") {
		t.Fatalf("result %+v: want the crash, with its logs", res)
	}
}

// A hung test is ended on the host by its timeout: a failed check.
func TestGateTimedOutCheck(t *testing.T) {
	f := newFake(t)
	f.on(target.Compose("v2").ContainerIDsByLabel(), reply{out: "abc\n"})
	f.on(commands.InspectContainers("abc"), reply{out: gateLine("abc", "running", "starting", execCheck)})
	f.on(commands.RunHealthcheck("abc", testappCheck, 1500*time.Millisecond), reply{code: commands.HealthcheckTimedOut})
	res := wait(t, f, gateInput(config.Health{UnhealthyRuns: 1}))
	if res.Verdict != "unhealthy" || !strings.Contains(res.Detail, "the last check said: timed out after 1.5s") {
		t.Fatalf("result %+v", res)
	}
}

// A pass, a failure, passes: healthy needs healthy_runs in a row.
func TestGatePassesInARow(t *testing.T) {
	f := newFake(t)
	f.on(target.Compose("v2").ContainerIDsByLabel(), reply{out: "abc\n"})
	f.on(commands.InspectContainers("abc"), reply{out: gateLine("abc", "running", "starting", execCheck)})
	f.on(commands.RunHealthcheck("abc", testappCheck, 1500*time.Millisecond), reply{}, reply{code: 1}, reply{}, reply{}, reply{})
	res := wait(t, f, gateInput(config.Health{HealthyRuns: 2}))
	if res.Verdict != "healthy" || res.Checks != 4 {
		t.Fatalf("result %+v: want healthy at the 4th check (pass, fail, pass, pass)", res)
	}
}

// health.check none: running and stable only; Docker's "unhealthy" and
// the healthcheck are not looked at, nothing is run in the container.
func TestGateNone(t *testing.T) {
	f := newFake(t)
	f.on(target.Compose("v2").ContainerIDsByLabel(), reply{out: "abc\n"})
	f.on(commands.InspectContainers("abc"), reply{out: gateLine("abc", "running", "unhealthy", execCheck)})
	res := wait(t, f, gateInput(config.Health{Check: config.CheckNone}))
	if res.Verdict != "healthy" || res.Checks != 0 || res.Polls != 1 {
		t.Fatalf("result %+v", res)
	}
}

// A container without a healthcheck: running and stable, as before.
func TestGateWithoutHealthcheck(t *testing.T) {
	f := newFake(t)
	f.on(target.Compose("v2").ContainerIDsByLabel(), reply{out: "abc\n"})
	f.on(commands.InspectContainers("abc"), reply{out: gateLine("abc", "running", "", "null")})
	res := wait(t, f, gateInput(config.Health{Check: config.CheckDocker}))
	if res.Verdict != "healthy" || res.Checks != 0 || res.Polls != 1 {
		t.Fatalf("result %+v", res)
	}
}

// A look (a zero window: adopting the current release, after a failed
// up) takes the polls healthy_runs needs, no more.
func TestGateLook(t *testing.T) {
	for _, tc := range []struct {
		name    string
		code    int
		verdict string
	}{{"passing", 0, "healthy"}, {"failing", 1, "unhealthy"}} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t)
			f.on(target.Compose("v1").ContainerIDsByLabel(), reply{out: "abc\n"})
			f.on(commands.InspectContainers("abc"), reply{out: gateLine("abc", "running", "healthy", execCheck)})
			f.on(commands.RunHealthcheck("abc", testappCheck, 1500*time.Millisecond), reply{code: tc.code})
			res := wait(t, f, WaitInput{Target: target, Version: "v1", Window: 0, Poll: time.Millisecond, Health: config.Health{}})
			if res.Verdict != tc.verdict || res.Polls != 2 || res.Checks != 2 {
				t.Fatalf("result %+v: want %s after 2 polls", res, tc.verdict)
			}
			if tc.code != 0 {
				wantIn(t, res.Detail, "not healthy in time (", "2 failed in a row (3 make it unhealthy)")
			}
		})
	}
}

// A zero-downtime slot is waited for as its own compose project.
func TestGateSlotProject(t *testing.T) {
	f := newFake(t)
	f.on(target.Slot("v2", "web-b").ContainerIDsByLabel(), reply{out: "abc\n"})
	f.on(commands.InspectContainers("abc"), reply{out: gateLine("abc", "running", "starting", execCheck)})
	f.on(commands.RunHealthcheck("abc", testappCheck, 1500*time.Millisecond), reply{})
	in := gateInput(config.Health{})
	in.Project = "web-b"
	if res := wait(t, f, in); res.Verdict != "healthy" {
		t.Fatalf("result %+v", res)
	}
	in.Project = "../x"
	if _, err := (&Activities{SSH: f}).WaitRunning(context.Background(), in); appErrType(err) != ErrInvalid+" (non-retryable)" {
		t.Fatalf("project ../x: %v", err)
	}
}

// dialingFake is a host whose SSH connection forwards ports: every
// address is served by handler; dialed records the addresses.
type dialingFake struct {
	*fakeRunner
	srv    *httptest.Server
	mu     sync.Mutex
	dialed []string
}

func newDialingFake(t *testing.T, handler http.HandlerFunc) *dialingFake {
	d := &dialingFake{fakeRunner: newFake(t), srv: httptest.NewServer(handler)}
	t.Cleanup(d.srv.Close)
	return d
}

func (d *dialingFake) Dial(ctx context.Context, host, addr string) (net.Conn, error) {
	d.mu.Lock()
	d.dialed = append(d.dialed, host+" "+addr)
	d.mu.Unlock()
	var nd net.Dialer
	return nd.DialContext(ctx, "tcp", strings.TrimPrefix(d.srv.URL, "http://"))
}

var httpCheck = config.Health{Check: config.CheckHTTP, HTTP: &config.HTTPCheck{Path: "/healthz", Port: 8080, Expect: 200}}

// health.check http: GET /healthz on the container's address and port,
// from the host; a container without a healthcheck at all works.
func TestGateHTTP(t *testing.T) {
	var mu sync.Mutex
	var paths []string
	f := newDialingFake(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.Host+r.URL.Path)
		mu.Unlock()
		fmt.Fprintln(w, "ok")
	})
	f.on(target.Compose("v2").ContainerIDsByLabel(), reply{out: "abc\n"})
	f.on(commands.InspectContainers("abc"), reply{out: gateLine("abc", "running", "", "null")})
	a := &Activities{SSH: f}
	v, err := actEnv(a).ExecuteActivity(a.WaitRunning, gateInput(httpCheck))
	if err != nil {
		t.Fatal(err)
	}
	var res WaitResult
	v.Get(&res)
	if res.Verdict != "healthy" || res.Checks != 2 {
		t.Fatalf("result %+v", res)
	}
	if len(f.dialed) != 2 || f.dialed[0] != "deploy@h1 172.20.0.5:8080" || paths[0] != "172.20.0.5:8080/healthz" {
		t.Fatalf("dialed %q, asked %q: want GET http://172.20.0.5:8080/healthz through h1, twice", f.dialed, paths)
	}
}

// A 500 where 200 is expected fails; three in a row (the default without
// a healthcheck) are the verdict, with the status and the body.
func TestGateHTTPUnhealthy(t *testing.T) {
	f := newDialingFake(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprintln(w, "unhealthy")
	})
	f.on(target.Compose("v2").ContainerIDsByLabel(), reply{out: "abc\n"})
	f.on(commands.InspectContainers("abc"), reply{out: gateLine("abc", "running", "", "null")})
	a := &Activities{SSH: f}
	v, err := actEnv(a).ExecuteActivity(a.WaitRunning, gateInput(httpCheck))
	if err != nil {
		t.Fatal(err)
	}
	var res WaitResult
	v.Get(&res)
	if res.Verdict != "unhealthy" || res.Checks != 3 {
		t.Fatalf("result %+v", res)
	}
	wantIn(t, res.Detail, "3 consecutive http checks failed (3 make it unhealthy: the default without a healthcheck",
		"the last check said: GET http://172.20.0.5:8080/healthz answered 500, want 200 unhealthy")
}

// A worker whose SSH executor cannot forward ports says so, for good.
func TestGateHTTPNeedsADialer(t *testing.T) {
	_, err := (&Activities{SSH: newFake(t)}).WaitRunning(context.Background(), gateInput(httpCheck))
	if appErrType(err) != ErrInvalid+" (non-retryable)" || !strings.Contains(err.Error(), "forwards ports") {
		t.Fatalf("err %v", err)
	}
}

func wantIn(t *testing.T, s string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(s, p) {
			t.Fatalf("%q does not contain %q", s, p)
		}
	}
}
