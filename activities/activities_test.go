package activities

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/hoist-dev/hoist/commands"
	"github.com/hoist-dev/hoist/config"
	"github.com/hoist-dev/hoist/remote"
	"github.com/hoist-dev/hoist/sshexec"
)

// reply is what the fake host answers to one command line.
type reply struct {
	out  string
	code int // non-zero: an *sshexec.ExitError
	err  error
}

// fakeRunner answers expected command lines and fails the test on any
// other: an activity that runs something unexpected is a bug.
type fakeRunner struct {
	t       *testing.T
	mu      sync.Mutex
	answers map[string][]reply // command line -> replies in order (last repeats)
	ran     []remote.Command
	uploads []string
	upload  func(dir string) (sshexec.UploadResult, error)
}

func newFake(t *testing.T) *fakeRunner {
	return &fakeRunner{t: t, answers: map[string][]reply{}}
}

func (f *fakeRunner) on(cmd remote.Command, r ...reply) { f.answers[cmd.String()] = r }

func (f *fakeRunner) Run(_ context.Context, host string, cmd remote.Command, _ ...sshexec.RunOption) (sshexec.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ran = append(f.ran, cmd)
	line := cmd.String()
	rs, ok := f.answers[line]
	if !ok {
		f.t.Errorf("unexpected command on %s: %s", host, line)
		return sshexec.Result{}, errors.New("unexpected command")
	}
	r := rs[0]
	if len(rs) > 1 {
		f.answers[line] = rs[1:]
	}
	res := sshexec.Result{Stdout: r.out, ExitCode: r.code}
	if r.code != 0 {
		res = sshexec.Result{Stderr: r.out, ExitCode: r.code}
	}
	if r.err != nil {
		return res, r.err
	}
	if r.code != 0 {
		return res, &sshexec.ExitError{Host: host, Command: line, Code: r.code, StderrTail: r.out}
	}
	return res, nil
}

func (f *fakeRunner) Upload(_ context.Context, host, localDir, remoteDir string) (sshexec.UploadResult, error) {
	f.uploads = append(f.uploads, remoteDir)
	if f.upload != nil {
		return f.upload(remoteDir)
	}
	return sshexec.UploadResult{}, nil
}

var target = Target{Host: "deploy@h1", Name: "h1", Base: "/srv/web", Service: "web"}

func actEnv(acts *Activities) *testsuite.TestActivityEnvironment {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(acts)
	return env
}

func appErrType(err error) string {
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		t := app.Type()
		if app.NonRetryable() {
			t += " (non-retryable)"
		}
		return t
	}
	return fmt.Sprintf("%T", err)
}

func TestInspectHostOfNewHostIsEmpty(t *testing.T) {
	f := newFake(t)
	f.on(target.Layout().Inspect(), reply{code: 2, out: "cd: can't cd to /srv/web"})
	f.on(target.Layout().BaseExists(), reply{code: 1})
	acts := &Activities{SSH: f}
	st, err := acts.InspectHost(context.Background(), target)
	if err != nil || st.Current != "" || len(st.Releases) != 0 {
		t.Fatalf("state %+v err %v", st, err)
	}
}

func TestSwitchCurrentRefusesMissingRelease(t *testing.T) {
	f := newFake(t)
	f.on(target.Layout().Locked(target.Layout().SwitchCurrent("v1")), reply{})
	f.on(target.Layout().Locked(target.Layout().SwitchCurrent("v9")), reply{code: 1})
	acts := &Activities{SSH: f}
	if err := acts.SwitchCurrent(context.Background(), ReleaseInput{Target: target, Version: "v1"}); err != nil {
		t.Fatal(err)
	}
	err := acts.SwitchCurrent(context.Background(), ReleaseInput{Target: target, Version: "v9"})
	if got := appErrType(err); got != ErrMissing+" (non-retryable)" || !strings.Contains(err.Error(), "host h1") {
		t.Fatalf("missing release: %s %v", got, err)
	}
}

func TestSyncConflictIsPermanent(t *testing.T) {
	dir := t.TempDir()
	writeCompose(t, dir)
	bundle, err := config.Bundle(dir)
	if err != nil {
		t.Fatal(err)
	}
	f := newFake(t)
	f.on(target.Layout().EnsureBase(), reply{})
	f.upload = func(d string) (sshexec.UploadResult, error) {
		return sshexec.UploadResult{}, &sshexec.ConflictError{Host: "h1", Dir: d, Want: "sha256:a", Got: "sha256:b"}
	}
	env := actEnv(&Activities{SSH: f})
	_, err = env.ExecuteActivity((&Activities{}).SyncRelease, SyncInput{Target: target, Version: "v2", Bundle: bundle})
	if got := appErrType(err); got != ErrConflict+" (non-retryable)" || !strings.Contains(err.Error(), "new --version") {
		t.Fatalf("conflict: %s %v", got, err)
	}
	if len(f.uploads) != 1 || f.uploads[0] != "/srv/web/v2" {
		t.Fatalf("uploads %v", f.uploads)
	}
}

func inspectLine(id, name string, restarts int, created, status string, health string) string {
	h := ""
	if health != "" {
		h = fmt.Sprintf(`,"Health":{"Status":%q}`, health)
	}
	// No healthcheck config: hoist has no test to run, Docker's status decides.
	return fmt.Sprintf("%s\t/%s\tweb\t%d\t%s\t{\"Status\":%q,\"ExitCode\":0,\"StartedAt\":\"x\"%s}\tnull\t{}\n", id, name, restarts, created, status, h)
}

func TestWaitRunningCatchesRestartOfNewContainer(t *testing.T) {
	f := newFake(t)
	c := target.Compose("v2")
	f.on(c.ContainerIDsByLabel(), reply{out: "abc\n"})
	f.on(commands.InspectContainers("abc"),
		reply{out: inspectLine("abc", "web-web-1", 0, "2025-11-21T05:00:01Z", "running", "starting")},
		reply{out: inspectLine("abc", "web-web-1", 1, "2025-11-21T05:00:01Z", "running", "starting")})
	f.on(commands.ContainerLogs("abc", 5), reply{out: "panic: config missing\n"})
	res := wait(t, f, WaitInput{Target: target, Version: "v2", Window: 5 * time.Second, Poll: time.Millisecond, UpAt: "2025-11-21T05:00:00Z"})
	if res.Verdict != "crashed" || res.Polls != 2 || !strings.Contains(res.Detail, "restarted") || !strings.Contains(res.Detail, "panic: config missing") {
		t.Fatalf("result %+v", res)
	}
}

func TestWaitRunningIgnoresOldRestartsOfKeptContainer(t *testing.T) {
	f := newFake(t)
	c := target.Compose("v2")
	f.on(c.ContainerIDsByLabel(), reply{out: "abc\n"})
	// Created before up, restarted 3 times last week: healthy now.
	f.on(commands.InspectContainers("abc"), reply{out: inspectLine("abc", "web-web-1", 3, "2025-11-20T05:00:00Z", "running", "")})
	res := wait(t, f, WaitInput{Target: target, Version: "v2", Window: time.Second, Poll: time.Millisecond, UpAt: "2025-11-21T05:00:00Z"})
	if res.Verdict != "healthy" || res.Polls != 1 {
		t.Fatalf("result %+v", res)
	}
}

func TestWaitRunningWindowEndsUnhealthy(t *testing.T) {
	f := newFake(t)
	c := target.Compose("v2")
	f.on(c.ContainerIDsByLabel("web"), reply{out: "abc\n"})
	f.on(c.ContainerIDsByLabel(), reply{out: "abc\n"})
	f.on(commands.InspectContainers("abc"), reply{out: inspectLine("abc", "web-web-1", 0, "2025-11-21T05:00:01Z", "running", "unhealthy")})
	res := wait(t, f, WaitInput{Target: target, Version: "v2", Services: []string{"web"}, Window: 50 * time.Millisecond, Poll: 5 * time.Millisecond, UpAt: "2025-11-21T05:00:00Z"})
	if res.Verdict != "unhealthy" || res.Polls < 2 {
		t.Fatalf("result %+v", res)
	}
}

func TestErrorsNameHostAndStep(t *testing.T) {
	f := newFake(t)
	rel := ReleaseInput{Target: target, Version: "v2"}
	f.on(target.Layout().Locked(target.Compose("v2").Pull()), reply{code: 18, out: "manifest for testapp:v9 not found"})
	err := (&Activities{SSH: f}).PullImages(context.Background(), rel)
	if got := appErrType(err); got != ErrCommand || !strings.Contains(err.Error(), "host h1, step pull, release v2") || !strings.Contains(err.Error(), "manifest") {
		t.Fatalf("%s %v", got, err)
	}
	f.on(target.Layout().Locked(target.Compose("v2").Pull()), reply{err: &sshexec.HostKeyError{Host: "h1", Problem: sshexec.HostKeyChanged}})
	err = (&Activities{SSH: f}).PullImages(context.Background(), rel)
	if got := appErrType(err); got != ErrHostKey+" (non-retryable)" {
		t.Fatalf("host key: %s %v", got, err)
	}
	f.on(target.Layout().Locked(target.Compose("v2").Pull()), reply{err: &sshexec.ConnError{Host: "h1", Op: "dial", Err: errors.New("refused")}})
	err = (&Activities{SSH: f}).PullImages(context.Background(), rel)
	if got := appErrType(err); got != ErrUnreachable {
		t.Fatalf("unreachable: %s %v", got, err)
	}
}

func writeCompose(t *testing.T, dir string) {
	t.Helper()
	if err := osWriteFile(dir+"/compose.yaml", "services: {web: {image: x}}\n"); err != nil {
		t.Fatal(err)
	}
}

func TestWaitRunningWantsStableRun(t *testing.T) {
	f := newFake(t)
	c := target.Compose("v2")
	f.on(c.ContainerIDsByLabel(), reply{out: "abc\n"})
	// Running at the first polls, then it crashes: not a success.
	f.on(commands.InspectContainers("abc"),
		reply{out: inspectLine("abc", "web-web-1", 0, "2025-11-21T05:00:01Z", "running", "")},
		reply{out: inspectLine("abc", "web-web-1", 0, "2025-11-21T05:00:01Z", "running", "")},
		reply{out: inspectLine("abc", "web-web-1", 0, "2025-11-21T05:00:01Z", "exited", "")})
	f.on(commands.ContainerLogs("abc", 5), reply{})
	res := wait(t, f, WaitInput{Target: target, Version: "v2", Window: 5 * time.Second, Poll: time.Millisecond, Stable: time.Second, UpAt: "2025-11-21T05:00:00Z"})
	if res.Verdict != "crashed" || res.Polls != 3 {
		t.Fatalf("result %+v", res)
	}
}

func TestWaitRunningCountsUptimeOnTheHostClock(t *testing.T) {
	f := newFake(t)
	c := target.Compose("v2")
	f.on(c.ContainerIDsByLabel(), reply{out: "abc\n"})
	line := strings.Replace(inspectLine("abc", "web-web-1", 0, "2025-11-21T05:00:01Z", "running", ""), `"StartedAt":"x"`, `"StartedAt":"2025-11-21T05:00:02Z"`, 1)
	f.on(commands.InspectContainers("abc"), reply{out: "2025-11-21T05:00:03.5Z\n" + line})
	res := wait(t, f, WaitInput{Target: target, Version: "v2", Window: 5 * time.Second, Poll: time.Millisecond, Stable: time.Second, UpAt: "2025-11-21T05:00:00Z"})
	if res.Verdict != "healthy" || res.Polls != 1 {
		t.Fatalf("up 1.5 s by the host's clock: want healthy at the first poll, got %+v", res)
	}
}

// wait runs WaitRunning in an activity environment (it heartbeats).
func wait(t *testing.T, f *fakeRunner, in WaitInput) WaitResult {
	t.Helper()
	v, err := actEnv(&Activities{SSH: f}).ExecuteActivity((&Activities{}).WaitRunning, in)
	if err != nil {
		t.Fatal(err)
	}
	var res WaitResult
	if err := v.Get(&res); err != nil {
		t.Fatal(err)
	}
	return res
}

// Any client of the task queue can start an activity: each one refuses
// an input no command may be built from, before running anything, and
// says so without a retry. (Before, StopRelease with a version of
// "../tmp/x" panicked in the command builder and was retried.)
func TestActivitiesRefuseHostileInput(t *testing.T) {
	bad := []Target{
		{Host: "h1", Base: "/", Service: "web"},
		{Host: "h1", Base: "/srv/../etc", Service: "web"},
		{Host: "h1", Base: "srv", Service: "web"},
		{Host: "h1", Base: "/srv/web", Service: "--help"},
		{Host: "", Base: "/srv/web", Service: "web"},
		{Host: "-oProxyCommand=x", Base: "/srv/web", Service: "web"},
	}
	versions := []string{"../tmp/x", "current", ".hoist-lock", "-t..", ""}
	acts := &Activities{SSH: newFake(t)} // any command fails the test
	ctx := context.Background()
	type call struct {
		name string
		run  func(Target, string) error
	}
	calls := []call{
		{"InspectHost", func(tg Target, _ string) error { _, err := acts.InspectHost(ctx, tg); return err }},
		{"SyncRelease", func(tg Target, v string) error {
			_, err := acts.SyncRelease(ctx, SyncInput{Target: tg, Version: v})
			return err
		}},
		{"SwitchCurrent", func(tg Target, v string) error { return acts.SwitchCurrent(ctx, ReleaseInput{tg, v}) }},
		{"PullImages", func(tg Target, v string) error { return acts.PullImages(ctx, ReleaseInput{tg, v}) }},
		{"StartRelease", func(tg Target, v string) error { _, err := acts.StartRelease(ctx, ReleaseInput{tg, v}); return err }},
		{"StopRelease", func(tg Target, v string) error { return acts.StopRelease(ctx, ReleaseInput{tg, v}) }},
		{"HaltRelease", func(tg Target, v string) error { return acts.HaltRelease(ctx, ReleaseInput{tg, v}) }},
		{"MarkFailed", func(tg Target, v string) error { return acts.MarkFailed(ctx, ReleaseInput{tg, v}) }},
		{"MarkGood", func(tg Target, v string) error { return acts.MarkGood(ctx, MarkGoodInput{Target: tg, Version: v}) }},
		{"ClearFailed", func(tg Target, v string) error { return acts.ClearFailed(ctx, ReleaseInput{tg, v}) }},
		{"PruneReleases", func(tg Target, _ string) error {
			_, err := acts.PruneReleases(ctx, PruneInput{Target: tg, Keep: 3})
			return err
		}},
		{"WaitRunning", func(tg Target, v string) error {
			_, err := acts.WaitRunning(ctx, WaitInput{Target: tg, Version: v, Window: time.Second})
			return err
		}},
	}
	check := func(what string, err error) {
		t.Helper()
		if got := appErrType(err); got != ErrInvalid+" (non-retryable)" {
			t.Errorf("%s: got %s %v, want a non-retryable %s", what, got, err, ErrInvalid)
		}
	}
	for _, c := range calls {
		for _, tg := range bad {
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Errorf("%s on %+v panicked: %v", c.name, tg, r)
					}
				}()
				check(fmt.Sprintf("%s target %+v", c.name, tg), c.run(tg, "v1"))
			}()
		}
		if c.name == "InspectHost" || c.name == "PruneReleases" {
			continue
		}
		for _, v := range versions {
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Errorf("%s version %q panicked: %v", c.name, v, r)
					}
				}()
				check(fmt.Sprintf("%s version %q", c.name, v), c.run(target, v))
			}()
		}
	}
	_, err := acts.WaitRunning(ctx, WaitInput{Target: target, Version: "v1", Services: []string{"--all"}})
	check("WaitRunning service --all", err)
}

// services: [web] decides success; a worker service of the same release
// in a crash loop is named in the result, not passed over.
func TestWaitRunningReportsUncheckedServiceCrash(t *testing.T) {
	f := newFake(t)
	c := target.Compose("v2")
	f.on(c.ContainerIDsByLabel("web"), reply{out: "abc\n"})
	f.on(commands.InspectContainers("abc"), reply{out: inspectLine("abc", "web-web-1", 0, "2025-11-21T05:00:01Z", "running", "")})
	f.on(c.ContainerIDsByLabel(), reply{out: "abc\ndef\n"})
	worker := strings.Replace(inspectLine("def", "web-worker-1", 4, "2025-11-21T05:00:01Z", "restarting", ""), "\tweb\t", "\tworker\t", 1)
	f.on(commands.InspectContainers("abc", "def"), reply{out: inspectLine("abc", "web-web-1", 0, "2025-11-21T05:00:01Z", "running", "") + worker})
	res := wait(t, f, WaitInput{Target: target, Version: "v2", Services: []string{"web"}, Window: 5 * time.Second, Poll: time.Millisecond, UpAt: "2025-11-21T05:00:00Z"})
	if res.Verdict != "healthy" || !strings.Contains(res.Unchecked, "web-worker-1 (service worker)") || !strings.Contains(res.Unchecked, "restarted 4") {
		t.Fatalf("result %+v: want healthy, and the worker's crash loop named", res)
	}
}

// services: [web, worker] lists the whole project (docker's label filters
// cannot say "web or worker") and judges only those two: a db container
// of the project in a crash loop decides nothing, and is reported.
func TestWaitRunningJudgesOnlyNamedServices(t *testing.T) {
	f := newFake(t)
	c := target.Compose("v2")
	f.on(c.ContainerIDsByLabel(), reply{out: "abc\ndef\nghi\n"})
	as := func(id, name, service string, restarts int, status string) string {
		return strings.Replace(inspectLine(id, name, restarts, "2025-11-21T05:00:01Z", status, ""), "\tweb\t", "\t"+service+"\t", 1)
	}
	all := as("abc", "web-web-1", "web", 0, "running") + as("def", "web-worker-1", "worker", 0, "running") + as("ghi", "web-db-1", "db", 3, "restarting")
	f.on(commands.InspectContainers("abc", "def", "ghi"), reply{out: all})
	res := wait(t, f, WaitInput{Target: target, Version: "v2", Services: []string{"web", "worker"}, Window: 5 * time.Second, Poll: time.Millisecond, UpAt: "2025-11-21T05:00:00Z"})
	if res.Verdict != "healthy" || len(res.Containers) != 2 || !strings.Contains(res.Unchecked, "web-db-1 (service db)") {
		t.Fatalf("result %+v: want healthy on web and worker alone, db's crash loop named as unchecked", res)
	}
}

// A rollback checks the previous release by the services its good mark
// recorded, not by the failed release's services: list.
func TestWaitRunningChecksRecordedServices(t *testing.T) {
	f := newFake(t)
	c := target.Compose("v1")
	f.on(target.Layout().GoodServices("v1"), reply{out: "api\n"})
	f.on(c.ContainerIDsByLabel("api"), reply{out: "abc\n"})
	f.on(c.ContainerIDsByLabel(), reply{out: "abc\n"})
	f.on(commands.InspectContainers("abc"), reply{out: inspectLine("abc", "web-api-1", 0, "2025-11-21T05:00:01Z", "running", "")})
	res := wait(t, f, WaitInput{Target: target, Version: "v1", Services: []string{"api", "newsvc"}, RecordedServices: true,
		Window: 5 * time.Second, Poll: time.Millisecond, UpAt: "2025-11-21T05:00:00Z"})
	if res.Verdict != "healthy" {
		t.Fatalf("result %+v", res)
	}
}

// Issue 8 §8: a crash's last output goes into the history; values the
// release's env files set are redacted from it, by key name.
func TestCrashOutputRedactsEnvValues(t *testing.T) {
	f := newFake(t)
	c := target.Compose("v2")
	f.on(c.ContainerIDsByLabel(), reply{out: "abc\n"})
	f.on(commands.InspectContainers("abc"), reply{out: inspectLine("abc", "web-web-1", 0, "2025-11-21T05:00:01Z", "exited", "")})
	f.on(commands.ContainerLogs("abc", 5), reply{out: "connecting to postgres://app:hunter2-Sup3r@db/app\npanic: token tok_live_123456 refused\n"})
	f.on(c.ReadEnvFiles([]string{".env", "conf/app.env"}), reply{out: "# db\nexport DB_URL='postgres://app:hunter2-Sup3r@db/app'\nAPI_TOKEN=tok_live_123456\nMODE=on\n"})
	res := wait(t, f, WaitInput{Target: target, Version: "v2", EnvFiles: []string{".env", "conf/app.env"}, Window: 5 * time.Second, Poll: time.Millisecond, UpAt: "2025-11-21T05:00:00Z"})
	if res.Verdict != "crashed" || strings.Contains(res.Detail, "hunter2") || strings.Contains(res.Detail, "tok_live") ||
		!strings.Contains(res.Detail, "[DB_URL redacted]") || !strings.Contains(res.Detail, "[API_TOKEN redacted]") {
		t.Fatalf("detail %q: env values must be redacted by name", res.Detail)
	}
}
