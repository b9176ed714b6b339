package cli

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	ucli "github.com/urfave/cli/v2"
)

// A worker whose registry credentials cannot be used refuses to start
// (exit 2, nothing dialled), naming the file and the problem, never a
// password: a missing password found at start is not a deploy failing
// later at its login.
func TestWorkerRefusesUnusableRegistryCredentials(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	t.Setenv("HOIST_E2E_UNSET_PW", "")
	cases := map[string][]string{
		filepath.Join(dir, "missing.yml"): {"--registry-credentials", "no such file"},
		write("unset.yml", "r.example:5000: {username: ci, password_env: HOIST_E2E_UNSET_PW}\n"):        {"HOIST_E2E_UNSET_PW", "not set"},
		write("inline.yml", "r.example:5000: {username: ci, password: hunter2}\n"):                      {"inline.yml:1", "the password is not written here"},
		write("empty-pw.yml", "r.example:5000: {username: ci, password_file: "+write("pw", "\n")+"}\n"): {"is empty"},
	}
	for file, want := range cases {
		code, out, errOut := run(t, "--temporal-address", "127.0.0.1:1", "worker", "--known-hosts", os.DevNull, "--registry-credentials", file)
		if code != ExitUsage {
			t.Errorf("%s: exit %d, want %d\n%s%s", file, code, ExitUsage, out, errOut)
			continue
		}
		for _, w := range want {
			if !strings.Contains(errOut, w) {
				t.Errorf("%s: stderr does not say %q:\n%s", file, w, errOut)
			}
		}
		if strings.Contains(errOut, "hunter2") {
			t.Errorf("%s: stderr shows the password:\n%s", file, errOut)
		}
	}
}

// --log-format json makes every line the worker logs one JSON object,
// the reason it stopped included (stderr then says it plainly once
// more); text is the default; anything else is a usage error.
func TestWorkerLogFormat(t *testing.T) {
	args := []string{"--temporal-address", "127.0.0.1:1", "worker", "--known-hosts", os.DevNull}
	code, _, errOut := run(t, append(args, "--log-format", "json")...)
	if code == ExitOK || code == ExitUsage {
		t.Fatalf("a worker that cannot reach Temporal exited %d:\n%s", code, errOut)
	}
	lines := strings.Split(strings.TrimRight(errOut, "\n"), "\n")
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, "hoist: cannot reach Temporal at 127.0.0.1:1") {
		t.Fatalf("the last line is not the plain error: %q", last)
	}
	stopped := false
	for _, l := range lines[:len(lines)-1] {
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("not a JSON line: %q (%v)\n%s", l, err, errOut)
		}
		if rec["time"] == nil || rec["level"] == nil || rec["msg"] == nil {
			t.Errorf("a JSON line without time, level or msg: %s", l)
		}
		if rec["msg"] == "hoist worker stopped" && strings.Contains(fmt.Sprint(rec["err"]), "cannot reach Temporal") {
			stopped = true
		}
	}
	if !stopped || len(lines) < 3 {
		t.Fatalf("the JSON log does not say why the worker stopped:\n%s", errOut)
	}

	_, _, errOut = run(t, args...)
	if !strings.Contains(errOut, `level=INFO msg="no --registry-credentials`) {
		t.Fatalf("the default is not text:\n%s", errOut)
	}

	code, _, errOut = run(t, append(args, "--log-format", "xml")...)
	if code != ExitUsage || !strings.Contains(errOut, `--log-format: want text or json, got "xml"`) {
		t.Fatalf("--log-format xml: exit %d\n%s", code, errOut)
	}
}

// --metrics-addr is opened before anything is dialled: an address in use
// or not host:port is a usage error (exit 2) naming the flag.
func TestWorkerMetricsAddrRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for _, addr := range []string{ln.Addr().String(), "no-port"} {
		code, _, errOut := run(t, "--temporal-address", "127.0.0.1:1", "worker", "--known-hosts", os.DevNull, "--metrics-addr", addr)
		if code != ExitUsage || !strings.Contains(errOut, "--metrics-addr: ") || strings.Contains(errOut, "cannot reach Temporal") {
			t.Errorf("--metrics-addr %s: exit %d\n%s", addr, code, errOut)
		}
	}
}

// deploy/systemd/worker.env.example documents the variable of every
// setting `hoist worker` takes from the environment (the first name of
// each flag's, set or commented out): a new flag needs a line there.
func TestWorkerEnvExampleDocumentsEveryVariable(t *testing.T) {
	text, err := os.ReadFile(filepath.Join("..", "deploy", "systemd", "worker.env.example"))
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, l := range strings.Split(string(text), "\n") {
		if name, _, ok := strings.Cut(strings.TrimPrefix(l, "#"), "="); ok && !strings.ContainsAny(name, " \t") {
			documented[name] = true
		}
	}
	flags := append(workerCommand(Streams{}).Flags, globalFlags()...)
	for _, f := range flags {
		var env []string
		switch f := f.(type) {
		case *ucli.StringFlag:
			env = f.EnvVars
		case *ucli.StringSliceFlag:
			env = f.EnvVars
		case *ucli.IntFlag:
			env = f.EnvVars
		case *ucli.BoolFlag:
			env = f.EnvVars
		default:
			t.Fatalf("flag %s: a %T this test does not read", f.Names()[0], f)
		}
		if len(env) > 0 && !documented[env[0]] {
			t.Errorf("worker.env.example has no line for %s (--%s)", env[0], f.Names()[0])
		}
	}
	if !documented["TEMPORAL_TLS"] {
		t.Error("worker.env.example has no line for TEMPORAL_TLS")
	}
}
