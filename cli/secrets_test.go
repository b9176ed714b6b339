package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hoist-dev/hoist/codec"
)

// serviceDir writes hoist.yml and files/ with the given files; it returns
// hoist.yml's path.
func serviceDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	if files["compose.yaml"] == "" {
		files["compose.yaml"] = "services:\n  web:\n    image: nginx\n"
	}
	for name, content := range files {
		p := filepath.Join(dir, "files", name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg := filepath.Join(dir, "hoist.yml")
	if err := os.WriteFile(cfg, []byte("service: web\nenvironment: staging\nremote_base: /srv/web\nfiles: files\nhosts: [10.77.0.11]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// Without payload encryption the bundle is readable in the Web UI: a
// bundle holding an env file is refused before anything is dialled.
func TestEnvFileRefusedWithoutEncryption(t *testing.T) {
	t.Setenv(envCodecKeys, "")
	os.Unsetenv(envCodecKeys)
	for _, c := range []struct {
		name  string
		files map[string]string
		want  string
	}{
		{".env", map[string]string{".env": "DB_URL=postgres://u:secret@db/x\n"}, ".env holds environment values"},
		{"env_file", map[string]string{"compose.yaml": "services:\n  web:\n    image: nginx\n    env_file: conf/web.env\n", "conf/web.env": "K=v\n"}, "conf/web.env holds environment values"},
	} {
		cfg := serviceDir(t, c.files)
		code, out, errOut := run(t, "--temporal-address", "127.0.0.1:1", "deploy", "-c", cfg, "--version", "v1")
		if code != ExitUsage || out != "" || !strings.Contains(errOut, c.want) {
			t.Fatalf("%s: exit %d, stdout %q, stderr %q; want exit 2 and %q", c.name, code, out, errOut, c.want)
		}
		wantContains(t, errOut, "not encrypted", "hoist codec-key", "--codec-key-file", "Nothing was started")
		if strings.Contains(errOut, "cannot reach Temporal") {
			t.Fatalf("%s: it dialled Temporal before refusing: %s", c.name, errOut)
		}
	}
	// The same bundle with keys goes on, to Temporal (unreachable here).
	line, err := codec.GenerateKey("k1")
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(envCodecKeys, line)
	cfg := serviceDir(t, map[string]string{".env": "A=1\n"})
	_, _, errOut := run(t, "--temporal-address", "127.0.0.1:1", "deploy", "-c", cfg, "--version", "v1")
	if strings.Contains(errOut, "holds environment values") || !strings.Contains(errOut, "cannot reach Temporal at 127.0.0.1:1") {
		t.Fatalf("with keys: stderr %q, want it to go on to Temporal", errOut)
	}
}

// Global flags after the command mean what they mean before it; the one
// given after wins.
func TestGlobalFlagsAnywhere(t *testing.T) {
	os.Unsetenv(envCodecKeys)
	cfg := serviceDir(t, map[string]string{".env": "A=1\n"})
	for _, args := range [][]string{
		{"--codec-key-file", "/nonexistent/keys", "deploy", "-c", cfg, "--version", "v1"},
		{"deploy", "-c", cfg, "--codec-key-file", "/nonexistent/keys", "--version", "v1"},
		{"--codec-key-file", "/other/keys", "deploy", "-c", cfg, "--codec-key-file", "/nonexistent/keys"},
	} {
		code, _, errOut := run(t, args...)
		if code != ExitUsage || !strings.Contains(errOut, "--codec-key-file") || !strings.Contains(errOut, "/nonexistent/keys") {
			t.Errorf("hoist %q: exit %d, stderr %q; want the key file /nonexistent/keys read", args, code, errOut)
		}
	}
	code, _, errOut := run(t, "status", "-c", filepath.Join(t.TempDir(), "none.yml"), "--namespace", "x", "--task-queue", "q", "--temporal-address", "127.0.0.1:1")
	if code != ExitUsage || strings.Contains(errOut, "flag provided but not defined") || !strings.Contains(errOut, "cannot read") {
		t.Errorf("status with global flags after it: exit %d, stderr %q", code, errOut)
	}
}
