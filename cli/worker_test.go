package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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
