package cli

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/hoist-dev/hoist/activities"
	"github.com/hoist-dev/hoist/workflows"
)

func TestSplitExecArgs(t *testing.T) {
	for _, c := range []struct {
		args    []string
		service string
		command []string
		err     string
	}{
		{[]string{"web", "--", "ls", "-la"}, "web", []string{"ls", "-la"}, ""},
		{[]string{"web", "--", "--hosts", "x"}, "web", []string{"--hosts", "x"}, ""},
		{[]string{"web", "--", "sh", "-c", "exit 3", "--"}, "web", []string{"sh", "-c", "exit 3", "--"}, ""},
		{[]string{"web", "ls", "-la"}, "", nil, "put -- between the service and the command"},
		{[]string{}, "", nil, "name the service, then -- and the command"},
		{[]string{"--", "ls"}, "", nil, "name the service, then --"},
		{[]string{"web"}, "", nil, "no command to run"},
		{[]string{"web", "--"}, "", nil, "no command to run"},
		{[]string{"web", "--", ""}, "", nil, "no command to run"},
		{[]string{"-d", "--", "ls"}, "", nil, `compose service "-d" is not a service name`},
		{[]string{"web", "--", "echo", "a\x00"}, "", nil, "NUL byte"},
	} {
		service, command, err := splitExecArgs(c.args)
		switch {
		case c.err == "" && (err != nil || service != c.service || !slices.Equal(command, c.command)):
			t.Errorf("%q: %q %q %v, want %q %q", c.args, service, command, err, c.service, c.command)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err) || ExitCode(err) != ExitUsage):
			t.Errorf("%q: error %v, want a usage error with %q", c.args, err, c.err)
		}
	}
}

func host(i int, name string, code int) workflows.Day2Host {
	return workflows.Day2Host{StreamResult: activities.StreamResult{Index: i, Host: name, Release: "v2", ExitCode: code}}
}

// The exit status rule of hoist exec's help.
func TestExecOutcome(t *testing.T) {
	notRun := workflows.Day2Host{StreamResult: activities.StreamResult{Index: 0, Host: "h1"}, Error: "host h1, step inspect: connection refused"}
	killed := host(0, "h1", 137)
	killed.Signal = "KILL"
	for _, c := range []struct {
		name    string
		hosts   []workflows.Day2Host
		several bool
		code    int
		said    string
	}{
		{"one host, 0", []workflows.Day2Host{host(0, "h1", 0)}, false, 0, ""},
		{"one host, 3", []workflows.Day2Host{host(0, "h1", 3)}, false, 3, "hoist: h1: exit 3\n"},
		{"one host, not run", []workflows.Day2Host{notRun}, false, 255, "hoist: h1: not run (exit 255): host h1, step inspect: connection refused\n"},
		{"one host, killed", []workflows.Day2Host{killed}, false, 137, "hoist: h1: killed by signal KILL (exit status 137)\n"},
		{"several, all 0", []workflows.Day2Host{host(0, "h1", 0), host(1, "h2", 0)}, true, 0, "h1: exit 0\nh2: exit 0\n"},
		{"several, first failing wins", []workflows.Day2Host{host(0, "h1", 0), host(1, "h2", 3), host(2, "h3", 5)}, true, 3, "h1: exit 0\nh2: exit 3\nh3: exit 5\n"},
		{"several, not run first", []workflows.Day2Host{notRun, host(1, "h2", 3)}, true, 255, "h1: not run (exit 255): host h1, step inspect: connection refused\nh2: exit 3\n"},
	} {
		var w bytes.Buffer
		err := execOutcome(&w, &workflows.Day2Result{Hosts: c.hosts}, c.several)
		if ExitCode(err) != c.code || w.String() != c.said {
			t.Errorf("%s: exit %d, said %q; want %d, %q", c.name, ExitCode(err), w.String(), c.code, c.said)
		}
	}
}

// One host: the command's streams as they are, its exit status hoist's;
// the command reaches the workflow word for word, after --.
func TestExecOneHostPassesStatusBack(t *testing.T) {
	cfg := planConfig(t, twoHosts, "")
	d := newDay2(t, workflows.ExecWorkflowName,
		[]activities.StreamProgress{{Index: 0, Host: "h1", Lines: lines(0, "migrating", "E:warning: x")}})
	d.ends(workflows.Day2Result{Hosts: []workflows.Day2Host{{StreamResult: activities.StreamResult{
		Index: 0, Host: "h1", Release: "v2", ExitCode: 3, Total: 3, Lines: lines(0, "migrating", "E:warning: x", "E:failed")}}}}, nil)
	code, out, errOut := runWith(t, d.fake, "exec", "app", "-c", cfg, "--hosts", "h1", "--timeout", "90s", "--", "rake", "db:migrate", "--trace")
	if code != 3 || out != "migrating\n" || errOut != "warning: x\nfailed\nhoist: h1: exit 3\n" {
		t.Fatalf("exit %d\nstdout %q\nstderr %q", code, out, errOut)
	}
	in := d.input.(workflows.ExecInput)
	if in.Service != "app" || !slices.Equal(in.Command, []string{"rake", "db:migrate", "--trace"}) || in.Timeout.Seconds() != 90 || len(in.Spec.Hosts) != 1 {
		t.Errorf("input %+v", in)
	}
	if !strings.HasPrefix(d.opts.ID, "hoist-exec/web/staging/") || !strings.Contains(d.opts.StaticSummary, "rake db:migrate --trace") || d.opts.Memo[workflows.MemoBy] == "" {
		t.Errorf("started %+v", d.opts)
	}
	if len(d.svc.deleted) != 0 {
		t.Errorf("deleted %v: an exec run is the record of what ran", d.svc.deleted)
	}
}

// Several hosts: lines prefixed, each host's status said, the first
// failing host's status is hoist's.
func TestExecSeveralHosts(t *testing.T) {
	cfg := planConfig(t, twoHosts, "")
	d := newDay2(t, workflows.ExecWorkflowName)
	d.ends(workflows.Day2Result{Hosts: []workflows.Day2Host{
		{StreamResult: activities.StreamResult{Index: 0, Host: "h1", Release: "v2", Total: 1, Lines: lines(0, "ok")}},
		{StreamResult: activities.StreamResult{Index: 1, Host: "web-2", Release: "v2", ExitCode: 4, Total: 1, Lines: lines(0, "E:nope")}},
	}}, nil)
	code, out, errOut := runWith(t, d.fake, "exec", "-c", cfg, "app", "--", "true")
	if code != 4 || out != "h1    | ok\n" || errOut != "web-2 | nope\nh1: exit 0\nweb-2: exit 4\n" {
		t.Fatalf("exit %d\nstdout %q\nstderr %q", code, out, errOut)
	}
}

func TestExecUsageErrors(t *testing.T) {
	cfg := planConfig(t, twoHosts, "")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"exec", "-c", cfg}, "name the service, then -- and the command"},
		{[]string{"exec", "-c", cfg, "app"}, "no command to run"},
		// Options after SERVICE are moved before it (flagsFirst): without
		// --, the command's first word would become the service.
		{[]string{"exec", "-c", cfg, "app", "--hosts", "h1", "rake", "db:migrate"}, "put -- between the service and the command"},
		{[]string{"exec", "app", "-c", cfg, "ls", "-la"}, "put -- between the service and the command"},
		{[]string{"exec", "-c", cfg, "--timeout", "7h", "app", "--", "ls"}, "--timeout: want 1s to 6h0m0s"},
		{[]string{"exec", "-c", cfg, "--hosts", "h9", "app", "--", "ls"}, `--hosts "h9" matches none`},
	} {
		code, out, errOut := runOffline(t, c.args...)
		if code != ExitUsage || out != "" || !strings.Contains(errOut, c.want) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want %q", c.args, code, out, errOut, c.want)
		}
	}
}
