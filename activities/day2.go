package activities

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/hoist-dev/hoist/commands"
	"github.com/hoist-dev/hoist/remote"
	"github.com/hoist-dev/hoist/sshexec"
)

// Day-2 activities (hoist logs, hoist exec) run one command in the
// release a host serves and hand its output back as numbered lines: the
// newest of them in the activity's heartbeat details while it runs,
// which the CLI reads from the pending activity and which never reach
// the workflow's history, and the last KeptOutputBytes in the result, so
// lines written after the CLI's last look are not lost.

// Bounds of the day-2 activities. They hold whatever the workflow asked:
// anything on the task queue can call these activities.
const (
	MaxLogTail      = 10000     // lines per container hoist logs starts with
	MaxLogServices  = 64        // services named in one hoist logs
	MaxExecArgs     = 256       // words of one hoist exec command
	MaxExecBytes    = 16 << 10  // bytes of one hoist exec command, all words
	KeptOutputBytes = 256 << 10 // the last output of a host kept in the result
	WindowBytes     = 64 << 10  // the newest output of a host in one heartbeat
	MaxLineBytes    = 8 << 10   // a longer line is cut (Line.Cut says by how much)
)

// streamEvery is how often a running day-2 command's newest lines are
// handed to the SDK as heartbeat details. The SDK sends at most one
// heartbeat a second (worker.Options), the last details given: a window
// of WindowBytes covers far more than a second of any sane log.
const streamEvery = 250 * time.Millisecond

// lineOverhead is about what a line costs in JSON besides its text: a
// line of one byte still counts against the budgets.
const lineOverhead = 32

// Line is one line of a day-2 command's output, without its newline.
type Line struct {
	Seq    int    `json:"seq"` // from 0, in the order the host wrote them, both streams
	Stderr bool   `json:"stderr,omitempty"`
	Text   string `json:"text"`
	Cut    int    `json:"cut,omitempty"` // bytes cut off the end (over MaxLineBytes)
}

// StreamProgress is a running day-2 command's heartbeat detail.
type StreamProgress struct {
	Index   int    `json:"index"` // the host's place in the request
	Host    string `json:"host"`
	Release string `json:"release,omitempty"`
	// Lines are the newest lines, oldest first, at most WindowBytes: a
	// reader that saw up to Seq n prints those after n, and knows it
	// missed some when the first is past n+1.
	Lines []Line `json:"lines,omitempty"`
}

// StreamResult is how a day-2 command ended on one host. A command that
// ran and exited non-zero is a result, not an error: its exit status is
// the user's to read.
type StreamResult struct {
	Index    int    `json:"index"`
	Host     string `json:"host"`
	Release  string `json:"release"`
	ExitCode int    `json:"exit_code"`
	Signal   string `json:"signal,omitempty"` // the command was killed by it
	// Lines are the last lines, at most KeptOutputBytes; Total counts all
	// the command wrote.
	Lines []Line `json:"lines,omitempty"`
	Total int    `json:"total"`
}

// LogsInput asks for the container logs of the release a host serves.
type LogsInput struct {
	Target     Target   `json:"target"`
	Index      int      `json:"index"`
	Services   []string `json:"services,omitempty"` // empty: every service
	Tail       int      `json:"tail"`               // 1..MaxLogTail lines per container
	Follow     bool     `json:"follow,omitempty"`   // until cancelled
	Timestamps bool     `json:"timestamps,omitempty"`
}

func (in LogsInput) check() error {
	if err := in.Target.check(); err != nil {
		return err
	}
	switch {
	case in.Index < 0:
		return fmt.Errorf("index %d: want 0 or more", in.Index)
	case in.Tail < 1 || in.Tail > MaxLogTail:
		return fmt.Errorf("tail %d: want 1 to %d lines", in.Tail, MaxLogTail)
	case len(in.Services) > MaxLogServices:
		return fmt.Errorf("%d services: at most %d", len(in.Services), MaxLogServices)
	}
	for _, s := range in.Services {
		if err := commands.CheckServiceName(s); err != nil {
			return err
		}
	}
	return nil
}

// ExecInput asks to run a command in a service's container of the
// release a host serves.
type ExecInput struct {
	Target  Target   `json:"target"`
	Index   int      `json:"index"`
	Service string   `json:"service"`
	Command []string `json:"command"`
}

func (in ExecInput) check() error {
	if err := in.Target.check(); err != nil {
		return err
	}
	if in.Index < 0 {
		return fmt.Errorf("index %d: want 0 or more", in.Index)
	}
	if err := commands.CheckServiceName(in.Service); err != nil {
		return err
	}
	return CheckExecCommand(in.Command)
}

// CheckExecCommand refuses a command hoist exec cannot pass on as it is
// given: none, an empty program name, a NUL byte (no shell word can hold
// one), or more than MaxExecArgs words or MaxExecBytes bytes.
func CheckExecCommand(argv []string) error {
	switch {
	case len(argv) == 0 || argv[0] == "":
		return errors.New("no command to run")
	case len(argv) > MaxExecArgs:
		return fmt.Errorf("the command has %d words: at most %d", len(argv), MaxExecArgs)
	}
	n := 0
	for i, w := range argv {
		if strings.IndexByte(w, 0) >= 0 {
			return fmt.Errorf("word %d of the command holds a NUL byte, which no command line can pass", i+1)
		}
		n += len(w)
	}
	if n > MaxExecBytes {
		return fmt.Errorf("the command is %d bytes: at most %d", n, MaxExecBytes)
	}
	return nil
}

// ReadLogs prints the container logs of the release the host serves: the
// last Tail lines of each container and, with Follow, what they write
// until the activity is cancelled (which ends docker compose logs on the
// host: sshexec signals its process group).
func (a *Activities) ReadLogs(ctx context.Context, in LogsInput) (StreamResult, error) {
	t := in.Target
	if err := in.check(); err != nil {
		return StreamResult{}, invalid(t, "logs", err)
	}
	release, err := a.currentRelease(ctx, t, "logs")
	if err != nil {
		return StreamResult{}, err
	}
	if err := a.checkServices(ctx, t, release, "logs", in.Services...); err != nil {
		return StreamResult{}, err
	}
	cmd := t.Compose(release).Logs(commands.LogsOptions{Services: in.Services, Tail: in.Tail, Follow: in.Follow, Timestamps: in.Timestamps})
	if !in.Follow || !activity.IsActivity(ctx) {
		return a.stream(ctx, in.Index, t, release, "logs", cmd)
	}
	// A follow never ends by itself: a stopping worker (a restart of
	// hoist worker) would wait its whole stop timeout for it. It ends the
	// follow at once instead, and says so.
	followCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	stopping := make(chan struct{})
	go func() {
		select {
		case <-activity.GetWorkerStopChannel(ctx):
			close(stopping)
			cancel()
		case <-followCtx.Done():
		}
	}()
	res, err := a.stream(followCtx, in.Index, t, release, "logs", cmd)
	select {
	case <-stopping:
		if ctx.Err() == nil {
			return StreamResult{}, temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("host %s, step logs: the worker following it is stopping; follow again (hoist logs --follow)", t.Label()), ErrWorkerStopping, nil)
		}
	default:
	}
	return res, err
}

// ErrWorkerStopping: a follow ended because its worker stops.
const ErrWorkerStopping = "WorkerStopping"

// ExecCommand runs the command in the service's running container of the
// release the host serves, without a TTY or standard input. It is never
// retried (the workflow runs it once): a command is not known to be safe
// to run twice. It takes no lock: a deploy must not wait for it.
func (a *Activities) ExecCommand(ctx context.Context, in ExecInput) (StreamResult, error) {
	t := in.Target
	if err := in.check(); err != nil {
		return StreamResult{}, invalid(t, "exec", err)
	}
	release, err := a.currentRelease(ctx, t, "exec")
	if err != nil {
		return StreamResult{}, err
	}
	if err := a.checkServices(ctx, t, release, "exec", in.Service); err != nil {
		return StreamResult{}, err
	}
	return a.stream(ctx, in.Index, t, release, "exec in "+in.Service, t.Compose(release).Exec(in.Service, in.Command))
}

// currentRelease is the release current points at on the host: the one
// it serves, whose compose file day-2 commands load.
func (a *Activities) currentRelease(ctx context.Context, t Target, step string) (string, error) {
	st, err := a.InspectHost(ctx, t)
	if err != nil {
		return "", err
	}
	if st.Current == "" {
		return "", temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("host %s, step %s: no current release of %s in %s: nothing was deployed there (hoist deploy)", t.Label(), step, t.Service, t.Base), ErrMissing, nil)
	}
	return st.Current, nil
}

// checkServices refuses a service the release does not define: compose
// would print nothing and succeed for its logs, and an exec in it would
// fail with a status the user takes for the command's.
func (a *Activities) checkServices(ctx context.Context, t Target, release, step string, services ...string) error {
	if len(services) == 0 {
		return nil
	}
	res, err := a.run(ctx, t, step, t.Compose(release).ServiceNames())
	if err != nil {
		return err
	}
	have := commands.ParseServiceNames(res.Stdout)
	for _, s := range services {
		if !slices.Contains(have, s) {
			return temporal.NewNonRetryableApplicationError(fmt.Sprintf("host %s, step %s: release %s has no service %q (its services: %s)",
				t.Label(), step, release, s, strings.Join(have, ", ")), ErrInvalid, nil)
		}
	}
	return nil
}

// stream runs cmd, keeping its output as numbered lines, heartbeating
// the newest of them until it ends.
func (a *Activities) stream(ctx context.Context, index int, t Target, release, step string, cmd remote.Command) (StreamResult, error) {
	lines := newLineLog(KeptOutputBytes)
	progress := func() StreamProgress {
		return StreamProgress{Index: index, Host: t.Label(), Release: release, Lines: lines.tail(WindowBytes)}
	}
	stop := heartbeatEvery(ctx, streamEvery, progress)
	// sshexec's own copy of the output is only for an error's stderr
	// tail: the lines are kept here.
	_, err := a.SSH.Run(ctx, t.Host, cmd, sshexec.OnLine(lines.add), sshexec.MaxOutput(4<<10))
	stop()
	res := StreamResult{Index: index, Host: t.Label(), Release: release, Lines: lines.tail(KeptOutputBytes), Total: lines.total()}
	var exit *sshexec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		res.ExitCode, res.Signal = exit.Code, exit.Signal
	default:
		return StreamResult{}, fail(ctx, t, step, err)
	}
	return res, nil
}

// heartbeatEvery records details() as the activity's heartbeat at once
// and then every interval, until stopped; stop returns once the last
// heartbeat is recorded.
func heartbeatEvery(ctx context.Context, every time.Duration, details func() StreamProgress) (stop func()) {
	if !activity.IsActivity(ctx) {
		return func() {}
	}
	done, gone := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(gone)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			activity.RecordHeartbeat(ctx, details())
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return func() {
		close(done)
		<-gone
	}
}

// lineLog numbers the lines of a command's two streams in the order they
// arrive and keeps the newest within a byte budget.
type lineLog struct {
	mu     sync.Mutex
	budget int
	lines  []Line // lines[start:] are the newest, oldest first
	start  int
	bytes  int // cost of lines[start:]: text plus lineOverhead each
	next   int // Seq of the next line
}

func newLineLog(budget int) *lineLog { return &lineLog{budget: budget} }

// add is an sshexec.OnLine callback.
func (l *lineLog) add(stream, text string) {
	ln := Line{Stderr: stream == "stderr", Text: text}
	if len(text) > MaxLineBytes {
		keep := MaxLineBytes
		for keep > 0 && !utf8.RuneStart(text[keep]) {
			keep--
		}
		ln.Text, ln.Cut = text[:keep], len(text)-keep
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	ln.Seq = l.next
	l.next++
	l.lines = append(l.lines, ln)
	l.bytes += cost(ln)
	for l.bytes > l.budget && l.start < len(l.lines)-1 {
		l.bytes -= cost(l.lines[l.start])
		l.lines[l.start] = Line{} // its text may go
		l.start++
	}
	if l.start > len(l.lines)/2 {
		// Compact now and then, not at every line: the dropped front
		// would otherwise stay in the array for good.
		l.lines = append([]Line(nil), l.lines[l.start:]...)
		l.start = 0
	}
}

// tail is the newest lines costing at most budget, oldest first.
func (l *lineLog) tail(budget int) []Line {
	l.mu.Lock()
	defer l.mu.Unlock()
	i, n := len(l.lines), 0
	for i > l.start && n+cost(l.lines[i-1]) <= budget {
		i--
		n += cost(l.lines[i])
	}
	if i == len(l.lines) {
		return nil
	}
	return append([]Line(nil), l.lines[i:]...)
}

func (l *lineLog) total() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.next
}

func cost(l Line) int { return len(l.Text) + lineOverhead }
