package activities

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"unsafe"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"

	"github.com/hoist-dev/hoist/commands"
	"github.com/hoist-dev/hoist/remote"
	"github.com/hoist-dev/hoist/sshexec"
)

// streamRunner answers each expected command line with a script that may
// write lines through Run's OnLine callback, as sshexec does while a
// command runs; any other command fails the test.
type streamRunner struct {
	t       *testing.T
	mu      sync.Mutex
	scripts map[string]func(ctx context.Context, line func(stream, text string)) (sshexec.Result, error)
	ran     []string
}

func newStreamRunner(t *testing.T) *streamRunner {
	return &streamRunner{t: t, scripts: map[string]func(context.Context, func(string, string)) (sshexec.Result, error){}}
}

func (r *streamRunner) on(cmd remote.Command, f func(ctx context.Context, line func(stream, text string)) (sshexec.Result, error)) {
	r.scripts[cmd.String()] = f
}

func (r *streamRunner) Run(ctx context.Context, host string, cmd remote.Command, opts ...sshexec.RunOption) (sshexec.Result, error) {
	r.mu.Lock()
	r.ran = append(r.ran, cmd.String())
	f, ok := r.scripts[cmd.String()]
	r.mu.Unlock()
	if !ok {
		r.t.Errorf("unexpected command on %s: %s", host, cmd)
		return sshexec.Result{}, errors.New("unexpected command")
	}
	line := onLineOf(opts)
	if line == nil {
		line = func(string, string) {}
	}
	return f(ctx, line)
}

func (r *streamRunner) Upload(context.Context, string, string, string) (sshexec.UploadResult, error) {
	r.t.Error("a day-2 activity uploaded")
	return sshexec.UploadResult{}, errors.New("unexpected upload")
}

// onLineOf is the OnLine callback among Run's options. sshexec keeps
// options unexported, so it is read back by reflection: an option applied
// to a fresh options value, then its callback field. If sshexec renames
// the field this fails loudly (the scripts see no callback and the tests
// that count lines fail).
func onLineOf(opts []sshexec.RunOption) func(stream, line string) {
	for _, o := range opts {
		fn := reflect.ValueOf(o)
		v := reflect.New(fn.Type().In(0).Elem())
		fn.Call([]reflect.Value{v})
		f := v.Elem().FieldByName("onLine")
		if !f.IsValid() || f.IsNil() {
			continue
		}
		return reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem().Interface().(func(string, string))
	}
	return nil
}

// onV2 is a host whose current release is v2, with services web and
// worker.
func onV2(r *streamRunner, t Target) {
	r.on(t.Layout().Inspect(), func(context.Context, func(string, string)) (sshexec.Result, error) {
		return sshexec.Result{Stdout: "d\t1\t\tv1\x00d\t2\t\tv2\x00l\t2\tv2\tcurrent\x00"}, nil
	})
	r.on(t.Compose("v2").ServiceNames(), func(context.Context, func(string, string)) (sshexec.Result, error) {
		return sshexec.Result{Stdout: "web\nworker\n"}, nil
	})
}

func exitWith(code int, stderr string) (sshexec.Result, error) {
	return sshexec.Result{ExitCode: code}, &sshexec.ExitError{Host: "h1", Code: code, StderrTail: stderr}
}

// ReadLogs runs compose logs in the release current points at; its lines
// come back numbered in arrival order over both streams, in the result
// and, while it runs, in the heartbeat details.
func TestReadLogsStreamsNumberedLines(t *testing.T) {
	r := newStreamRunner(t)
	onV2(r, target)
	logs := target.Compose("v2").Logs(commands.LogsOptions{Tail: 50, Services: []string{"web"}})
	r.on(logs, func(_ context.Context, line func(string, string)) (sshexec.Result, error) {
		line("stdout", "web-1  | listening on :8080")
		line("stderr", "web-1  | warning: slow")
		line("stdout", "web-1  | ready")
		return sshexec.Result{}, nil
	})
	env := actEnv(&Activities{SSH: r})
	var beats []StreamProgress
	var mu sync.Mutex
	env.SetOnActivityHeartbeatListener(func(_ *activity.Info, d converter.EncodedValues) {
		var p StreamProgress
		if err := d.Get(&p); err != nil {
			t.Error(err)
		}
		mu.Lock()
		beats = append(beats, p)
		mu.Unlock()
	})
	val, err := env.ExecuteActivity((&Activities{}).ReadLogs, LogsInput{Target: target, Index: 2, Services: []string{"web"}, Tail: 50})
	if err != nil {
		t.Fatal(err)
	}
	var res StreamResult
	if err := val.Get(&res); err != nil {
		t.Fatal(err)
	}
	want := StreamResult{Index: 2, Host: "h1", Release: "v2", Total: 3, Lines: []Line{
		{Seq: 0, Text: "web-1  | listening on :8080"}, {Seq: 1, Stderr: true, Text: "web-1  | warning: slow"}, {Seq: 2, Text: "web-1  | ready"}}}
	if !reflect.DeepEqual(res, want) {
		t.Fatalf("result\n got  %+v\n want %+v", res, want)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(beats) == 0 || beats[0].Index != 2 || beats[0].Host != "h1" || beats[0].Release != "v2" {
		t.Fatalf("heartbeats %+v: want the first to name index 2, host h1 and release v2 at once", beats)
	}
}

// A command that ran and exited non-zero is the user's result, with its
// status and output; it is not an activity failure.
func TestExecCommandExitStatusIsAResult(t *testing.T) {
	r := newStreamRunner(t)
	onV2(r, target)
	r.on(target.Compose("v2").Exec("web", []string{"sh", "-c", "echo no; exit 3"}), func(_ context.Context, line func(string, string)) (sshexec.Result, error) {
		line("stderr", "no")
		return exitWith(3, "no")
	})
	res, err := (&Activities{SSH: r}).ExecCommand(context.Background(), ExecInput{Target: target, Service: "web", Command: []string{"sh", "-c", "echo no; exit 3"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 3 || res.Release != "v2" || len(res.Lines) != 1 || !res.Lines[0].Stderr || res.Lines[0].Text != "no" {
		t.Fatalf("result %+v", res)
	}
}

// Cancelling the activity (Ctrl-C in hoist logs --follow, or the
// follow's lease ending) cancels the remote command's context, and the
// activity ends as cancelled.
func TestReadLogsFollowEndsOnCancel(t *testing.T) {
	r := newStreamRunner(t)
	onV2(r, target)
	started := make(chan struct{})
	r.on(target.Compose("v2").Logs(commands.LogsOptions{Tail: 10, Follow: true}), func(ctx context.Context, line func(string, string)) (sshexec.Result, error) {
		line("stdout", "web-1  | first")
		close(started)
		<-ctx.Done()
		return sshexec.Result{ExitCode: -1}, fmt.Errorf("ssh h1: run: %w", ctx.Err())
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := (&Activities{SSH: r}).ReadLogs(ctx, LogsInput{Target: target, Tail: 10, Follow: true})
		done <- err
	}()
	<-started
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want the context's cancellation", err)
	}
}

// A stopping worker ends a follow at once, saying so, rather than wait
// out its stop timeout for a command that never ends.
func TestReadLogsFollowEndsWhenWorkerStops(t *testing.T) {
	r := newStreamRunner(t)
	onV2(r, target)
	started := make(chan struct{})
	r.on(target.Compose("v2").Logs(commands.LogsOptions{Tail: 10, Follow: true}), func(ctx context.Context, _ func(string, string)) (sshexec.Result, error) {
		close(started)
		<-ctx.Done()
		return sshexec.Result{ExitCode: -1}, fmt.Errorf("ssh h1: run: %w", ctx.Err())
	})
	env := actEnv(&Activities{SSH: r})
	stop := make(chan struct{})
	env.SetWorkerStopChannel(stop)
	go func() {
		<-started
		close(stop)
	}()
	_, err := env.ExecuteActivity((&Activities{}).ReadLogs, LogsInput{Target: target, Tail: 10, Follow: true})
	if got := appErrType(err); got != ErrWorkerStopping+" (non-retryable)" || !strings.Contains(err.Error(), "host h1, step logs: the worker following it is stopping") {
		t.Fatalf("got %s %v", got, err)
	}
}

func TestDay2ErrorsNameHostAndClass(t *testing.T) {
	r := newStreamRunner(t)
	r.on(target.Layout().Inspect(), func(context.Context, func(string, string)) (sshexec.Result, error) {
		return sshexec.Result{Stdout: "d\t1\t\tv1\x00"}, nil // a release, but no current link
	})
	_, err := (&Activities{SSH: r}).ReadLogs(context.Background(), LogsInput{Target: target, Tail: 1})
	if got := appErrType(err); got != ErrMissing+" (non-retryable)" || !strings.Contains(err.Error(), "host h1, step logs: no current release of web in /srv/web") {
		t.Fatalf("no current release: %s %v", got, err)
	}

	r = newStreamRunner(t)
	onV2(r, target)
	r.on(target.Compose("v2").Exec("web", []string{"true"}), func(context.Context, func(string, string)) (sshexec.Result, error) {
		return sshexec.Result{}, &sshexec.ConnError{Host: "h1", Op: "run", Started: true, Err: errors.New("connection reset")}
	})
	_, err = (&Activities{SSH: r}).ExecCommand(context.Background(), ExecInput{Target: target, Service: "web", Command: []string{"true"}})
	if got := appErrType(err); got != ErrUnreachable || !strings.Contains(err.Error(), "host h1, step exec in web") {
		t.Fatalf("dropped connection: %s %v", got, err)
	}
}

// A service the release does not define is refused by name, with the
// ones it has: compose would print no logs and succeed. Without a service
// named, none is looked up.
func TestDay2UnknownServiceRefused(t *testing.T) {
	r := newStreamRunner(t)
	onV2(r, target)
	_, err := (&Activities{SSH: r}).ReadLogs(context.Background(), LogsInput{Target: target, Tail: 1, Services: []string{"web", "wbe"}})
	if got := appErrType(err); got != ErrInvalid+" (non-retryable)" || !strings.Contains(err.Error(), `host h1, step logs: release v2 has no service "wbe" (its services: web, worker)`) {
		t.Fatalf("unknown service: %s %v", got, err)
	}
	_, err = (&Activities{SSH: r}).ExecCommand(context.Background(), ExecInput{Target: target, Service: "db", Command: []string{"ls"}})
	if got := appErrType(err); got != ErrInvalid+" (non-retryable)" || !strings.Contains(err.Error(), `step exec: release v2 has no service "db"`) {
		t.Fatalf("exec in unknown service: %s %v", got, err)
	}
	for _, c := range r.ran {
		if strings.Contains(c, " logs ") || strings.Contains(c, " exec ") {
			t.Errorf("ran %s for a service the release lacks", c)
		}
	}

	r = newStreamRunner(t)
	onV2(r, target)
	r.on(target.Compose("v2").Logs(commands.LogsOptions{Tail: 1}), func(context.Context, func(string, string)) (sshexec.Result, error) {
		return sshexec.Result{}, nil
	})
	if _, err := (&Activities{SSH: r}).ReadLogs(context.Background(), LogsInput{Target: target, Tail: 1}); err != nil {
		t.Fatal(err)
	}
	if slices.Contains(r.ran, target.Compose("v2").ServiceNames().String()) {
		t.Errorf("services looked up with none named: %q", r.ran)
	}
}

// The day-2 activities check their own input: no command runs for any of
// these, and each refusal is permanent.
func TestDay2ActivitiesRefuseHostileInput(t *testing.T) {
	acts := &Activities{SSH: newStreamRunner(t)} // any command fails the test
	ctx := context.Background()
	long := make([]string, MaxExecArgs+1)
	for i := range long {
		long[i] = "x"
	}
	badBase := Target{Host: "h1", Base: "/", Service: "web"}
	badHost := Target{Host: "-oProxyCommand=x", Base: "/srv/web", Service: "web"}
	badProject := Target{Host: "h1", Base: "/srv/web", Service: "Web"}
	check := func(what string, err error) {
		t.Helper()
		if got := appErrType(err); got != ErrInvalid+" (non-retryable)" {
			t.Errorf("%s: %s, want a non-retryable %s", what, got, ErrInvalid)
		}
	}
	for name, in := range map[string]LogsInput{
		"tail 0":         {Target: target, Tail: 0},
		"tail over":      {Target: target, Tail: MaxLogTail + 1},
		"service option": {Target: target, Tail: 1, Services: []string{"--all"}},
		"negative index": {Target: target, Tail: 1, Index: -1},
		"base /":         {Target: badBase, Tail: 1},
		"host option":    {Target: badHost, Tail: 1},
	} {
		_, err := acts.ReadLogs(ctx, in)
		check("logs "+name, err)
	}
	for name, in := range map[string]ExecInput{
		"no command":      {Target: target, Service: "web"},
		"empty program":   {Target: target, Service: "web", Command: []string{""}},
		"NUL":             {Target: target, Service: "web", Command: []string{"echo", "a\x00b"}},
		"too many words":  {Target: target, Service: "web", Command: long},
		"too many bytes":  {Target: target, Service: "web", Command: []string{"echo", strings.Repeat("x", MaxExecBytes)}},
		"service option":  {Target: target, Service: "-d", Command: []string{"ls"}},
		"project invalid": {Target: badProject, Service: "web", Command: []string{"ls"}},
		"base /":          {Target: badBase, Service: "web", Command: []string{"ls"}},
	} {
		_, err := acts.ExecCommand(ctx, in)
		check("exec "+name, err)
	}
}

// The line log keeps the newest lines within its budget, numbered over
// both streams; a line over MaxLineBytes is cut on a character boundary.
func TestLineLog(t *testing.T) {
	l := newLineLog(3 * (lineOverhead + 2))
	for i := range 5 {
		l.add("stdout", fmt.Sprintf("l%d", i))
	}
	l.add("stderr", "e5")
	if got := l.tail(1 << 20); !reflect.DeepEqual(got, []Line{{Seq: 3, Text: "l3"}, {Seq: 4, Text: "l4"}, {Seq: 5, Stderr: true, Text: "e5"}}) {
		t.Errorf("kept %+v", got)
	}
	if got := l.tail(2 * (lineOverhead + 2)); len(got) != 2 || got[0].Seq != 4 {
		t.Errorf("window of two: %+v", got)
	}
	if got := l.tail(lineOverhead); got != nil {
		t.Errorf("a window smaller than one line: %+v", got)
	}
	if l.total() != 6 {
		t.Errorf("total %d", l.total())
	}

	long := newLineLog(1 << 20)
	text := strings.Repeat("a", MaxLineBytes-1) + "€" + "tail" // € (3 bytes) straddles the cut
	long.add("stdout", text)
	got := long.tail(1 << 20)[0]
	if got.Text != strings.Repeat("a", MaxLineBytes-1) || got.Cut != len(text)-(MaxLineBytes-1) {
		t.Errorf("cut line: %d bytes kept, cut %d", len(got.Text), got.Cut)
	}

	// Many lines through a small budget: memory stays bounded, the
	// numbering goes on.
	many := newLineLog(10 * (lineOverhead + 4))
	for i := range 10000 {
		many.add("stdout", fmt.Sprintf("%04d", i))
	}
	if k := many.tail(1 << 20); len(k) != 10 || k[0].Seq != 9990 || k[9].Text != "9999" || cap(many.lines) > 64 {
		t.Errorf("after 10000 lines: kept %d from %d, array cap %d", len(k), k[0].Seq, cap(many.lines))
	}
}
