//go:build integration

package deploy_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// systemd-analyze comes with Debian's systemd package, which the test bed
// installs (scripts/testbed/testbed.sh): this check runs with the
// integration tests, after the test bed is up, so a machine without
// systemd fails here saying so instead of in the unit tests before the
// install ran.

// systemdAnalyze is systemd-analyze, or the test fails saying how to get
// it: a check that is skipped where the tool is missing is a check CI
// can lose without anyone seeing.
func systemdAnalyze(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Fatalf("systemd-analyze is not installed; it checks deploy/%s. On Debian it is in the package systemd: apt-get update && apt-get install -y systemd", unitFile)
	}
	return p
}

// unitCopy writes the unit to a temporary folder with its ExecStart
// binary, /usr/local/bin/hoist, replaced by an executable that exists
// here: systemd-analyze verify refuses a unit whose ExecStart it cannot
// find, and a test must not install into /usr/local/bin. The test binary
// serves: verify checks that the path is an executable file, not what
// it does.
func unitCopy(t *testing.T) string {
	t.Helper()
	text, err := os.ReadFile(unitFile)
	if err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	const bin = "ExecStart=/usr/local/bin/hoist "
	if !strings.Contains(string(text), "\n"+bin) {
		t.Fatalf("%s has no %q line", unitFile, bin)
	}
	p := filepath.Join(t.TempDir(), filepath.Base(unitFile))
	if err := os.WriteFile(p, []byte(strings.Replace(string(text), bin, "ExecStart="+self+" ", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// systemd itself finds nothing to say about the unit: no unknown key, no
// key in the wrong section, no bad value (verify prints those as
// warnings and still exits 0, so any output fails), and its own exposure
// score of the hardening stays at 2.0 or under (of 10; 1.5 when written).
func TestSystemdUnitVerifies(t *testing.T) {
	analyze := systemdAnalyze(t)
	unit := unitCopy(t)
	out, err := exec.Command(analyze, "verify", unit).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("systemd-analyze verify %s: %v\n%s", unitFile, err, out)
	}
	out, err = exec.Command(analyze, "security", "--offline=yes", "--threshold=20", unit).CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze security: exposure above 2.0 (%v):\n%s", err, out)
	}
}
