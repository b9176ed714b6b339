//go:build integration

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Case 8: a second deploy of a service while one runs is refused at once,
// naming the running workflow; the running one is not disturbed.
func TestConcurrentDeployRefused(t *testing.T) {
	t.Parallel()
	s := newService(t, "concurrent", portConcurrent)
	// An unhealthy release keeps the first deploy in its running check for
	// the whole 8 s window.
	s.wait = "{retries: 8, delay: 1s}"
	slow := image("v1")
	slow.starting = true

	first := s.deploy("v1", slow, "--detach")
	first.want(t, 0, fmt.Sprintf("Started deploy of %s version v1", s.name))
	m := regexp.MustCompile(`(?m)^Workflow: (\S+) \(run (\S+)\)$`).FindStringSubmatch(first.stdout)
	if m == nil || m[1] != "deploy/"+s.name {
		t.Fatalf("--detach does not print \"Workflow: deploy/%s (run ...)\"\n%s", s.name, first)
	}
	runID := m[2]
	// Whatever happens below, the service's containers are removed only
	// once the first deploy is over.
	t.Cleanup(func() { temporal(t, "workflow", "result", "--workflow-id", "deploy/"+s.name, "--run-id", runID) })

	// The second deploy, with other files under another version.
	second := s.deploy("v2", image("v2"))
	second.want(t, 4) // refused: another deploy of the service and environment runs
	wantContains(t, "stderr of the refused deploy", second.stderr,
		fmt.Sprintf("another deploy or rollback of %s is running: workflow deploy/%s (run %s)", s.name, s.name, runID))
	if second.took > 10*time.Second {
		t.Fatalf("the refusal took %s: it should come at once", second.took)
	}

	// The first deploy goes on and ends with its warning; v2 never
	// reached the host.
	out, err := temporal(t, "workflow", "result", "--workflow-id", "deploy/"+s.name, "--run-id", runID, "--output", "json")
	if err != nil {
		t.Fatalf("waiting for the first deploy: %v\n%s", err, out)
	}
	var res struct {
		Status string
		Result struct {
			Outcome string
			Version string
		}
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("workflow result: %v\n%s", err, out)
	}
	if res.Result.Outcome != "warning" || res.Result.Version != "v1" {
		t.Fatalf("first deploy's result: %s; want v1 deployed with a warning", out)
	}
	s.wantState("v1", suite.env.Image("v1"), "v1")
	s.wantServes("v1")
}

// Case 9: an invalid version or config is a usage error (exit 2), and no
// host is touched: remote_base does not exist anywhere afterwards, and no
// deploy workflow was started.
func TestInvalidInputTouchesNothing(t *testing.T) {
	t.Parallel()
	s := newService(t, "invalid", portInvalid, 1, 2)
	s.compose("v1", image("v1"))
	cfg := s.hoistYML()

	for _, c := range []struct {
		name string
		args []string
		want string // in stderr
	}{
		{"slash in version", []string{"deploy", "--config", cfg, "--version", "a/b"}, `--version: must be letters, digits, '.', '_' and '-', got "a/b"`},
		{"dot-dot version", []string{"deploy", "--config", cfg, "--version", ".."}, "--version"},
		// Names of hoist's own entries under remote_base: a release folder
		// so named would be taken for, or renamed over, the current link.
		{"version named like the current link", []string{"deploy", "--config", cfg, "--version", "current"}, "--version"},
		{"version named like the temporary link", []string{"deploy", "--config", cfg, "--version", ".current.tmp"}, "--version"},
		{"rollback to the current link", []string{"rollback", "--config", cfg, "--to", "current"}, "--to"},
		{"rollback to a bad version", []string{"rollback", "--config", cfg, "--to", "a/b"}, `hoist: --to: must be letters, digits, '.', '_' and '-', got "a/b"`},
		{"unknown flag", []string{"deploy", "--config", cfg, "--version", "v1", "--no-such-flag"}, "no-such-flag"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := runHoist(t, s.dir, s.queue, c.args...)
			if r.code != 2 {
				t.Fatalf("exit %d, want 2\n%s", r.code, r)
			}
			wantContains(t, "stderr", r.stderr, c.want)
		})
	}

	// A config with an unknown key on line 6: the message cites file and
	// line, and suggests the key meant.
	bad := filepath.Join(s.dir, "bad.yml")
	text := fmt.Sprintf("service: %s\nremote_base: %s\nfiles: files\nhosts:\n  - {address: %s, user: %s, name: h1}\nkeep_release: 3\n",
		s.name, s.base, suite.env.Host(1), suite.env.User)
	if err := os.WriteFile(bad, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	r := runHoist(t, s.dir, s.queue, "deploy", "--config", bad, "--version", "v1")
	if r.code != 2 {
		t.Fatalf("exit %d, want 2\n%s", r.code, r)
	}
	wantContains(t, "stderr", r.stderr, bad+`:6: unknown key "keep_release" (did you mean "keep_releases"?)`)

	// Relative to the working folder, the file is cited as named.
	r = runHoist(t, s.dir, s.queue, "status", "--config", "bad.yml")
	if r.code != 2 || !strings.Contains(r.stderr, `bad.yml:6: unknown key "keep_release"`) {
		t.Fatalf("status with a bad config: want exit 2 citing bad.yml:6\n%s", r)
	}

	s.wantNoBase()
	out, err := temporal(t, "workflow", "describe", "--workflow-id", "deploy/"+s.name)
	if err == nil || !strings.Contains(err.Error(), "workflow not found") {
		t.Fatalf("want no deploy workflow of %s; temporal workflow describe: %v\n%s", s.name, err, out)
	}
}
