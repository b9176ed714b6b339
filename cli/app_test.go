package cli

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
)

func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Run(context.Background(), append([]string{"hoist"}, args...), Streams{In: strings.NewReader(""), Out: &out, Err: &errb})
	return code, out.String(), errb.String()
}

func TestHelpAndVersion(t *testing.T) {
	code, out, _ := run(t, "--help")
	if code != ExitOK || !strings.Contains(out, "--temporal-address") || !strings.Contains(out, "TEMPORAL_ADDRESS") {
		t.Fatalf("--help: code %d, output:\n%s", code, out)
	}
	for _, flag := range []string{"--namespace", "--task-queue", "HOIST_TASK_QUEUE", "TEMPORAL_NAMESPACE"} {
		if !strings.Contains(out, flag) {
			t.Errorf("--help does not mention %s", flag)
		}
	}
	code, out, _ = run(t, "--version")
	if code != ExitOK || !strings.Contains(out, "hoist version") {
		t.Fatalf("--version: code %d, output %q", code, out)
	}
}

func TestUnknownFlagIsUsageError(t *testing.T) {
	code, _, errOut := run(t, "--no-such-flag")
	if code != ExitUsage {
		t.Fatalf("unknown flag: exit %d, want %d (stderr %q)", code, ExitUsage, errOut)
	}
}

func TestExitCodeMapping(t *testing.T) {
	cases := []struct {
		err  error
		want int
	}{
		{nil, ExitOK},
		{errors.New("boom"), ExitUnsafe}, // unclassified: hoist cannot say the service is safe
		{Usagef("bad %s", "x"), ExitUsage},
		{errorsJoin(Usagef("bad")), ExitUsage},
		{exitWith(ExitRolledBack), ExitRolledBack},
		{busyf("held"), ExitBusy},
		{interrupted("stop"), ExitInterrupted},
	}
	for _, c := range cases {
		if got := ExitCode(c.err); got != c.want {
			t.Errorf("ExitCode(%v) = %d, want %d", c.err, got, c.want)
		}
	}
}

func errorsJoin(err error) error { return errors.Join(errors.New("context"), err) }

// What a command would read as "not given" is refused before it loads a
// config or dials Temporal (the address below reaches nothing).
func TestCommandLineRefusedBeforeAnything(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"deploi"}, `unknown command "deploi"`},
		{[]string{"deploy", "--version="}, "--version: must not be empty"},
		{[]string{"rollback", "--to", ""}, "--to: must not be empty"},
		{[]string{"status", "--config="}, "--config: must not be empty"},
		{[]string{"status", "extra"}, `status takes no arguments, got ["extra"]`},
		{[]string{"cancel", "my-service"}, `cancel takes no arguments, got ["my-service"]`},
		{[]string{"deploy", "--version", "v1", "extra"}, "deploy takes no arguments"},
	} {
		code, out, errOut := run(t, append([]string{"--temporal-address", "127.0.0.1:1"}, c.args...)...)
		if code != ExitUsage || !strings.Contains(errOut, c.want) || out != "" {
			t.Errorf("hoist %q: exit %d, stdout %q, stderr %q; want exit %d and %q", c.args, code, out, errOut, ExitUsage, c.want)
		}
	}
}

func TestFlagsFirst(t *testing.T) {
	app := NewApp(Streams{})
	for _, c := range []struct{ in, want string }{
		{"hoist schedule create nightly -c h.yml --cron 0_3", "hoist schedule create -c h.yml --cron 0_3 nightly"},
		{"hoist --task-queue q schedule trigger nightly -c h.yml", "hoist --task-queue q schedule trigger -c h.yml nightly"},
		{"hoist schedule create -c h.yml nightly", "hoist schedule create -c h.yml nightly"},
		{"hoist deploy -c h.yml --version v2", "hoist deploy -c h.yml --version v2"},
		{"hoist schedule list", "hoist schedule list"},
		{"hoist exec web --hosts h1 -- ls -l", "hoist exec --hosts h1 web -- ls -l"},
		{"hoist exec web -- ls -l", "hoist exec web -- ls -l"},
		{"hoist logs web api --tail 5", "hoist logs --tail 5 web api"},
		{"hoist nosuch x -c y", "hoist nosuch x -c y"},
	} {
		if got := strings.Join(flagsFirst(app, strings.Fields(c.in)), " "); got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.in, got, c.want)
		}
	}
}
