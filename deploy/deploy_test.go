// Package deploy_test checks what deploy/ ships for running the worker as
// a service: the systemd unit (with systemd's own checker) and the
// scratch image's build context (a static binary).
package deploy_test

import (
	"bufio"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/worker"
)

const unitFile = "systemd/hoist-worker.service"

// unitSettings reads the unit's Key=Value lines by section.
func unitSettings(t *testing.T) map[string][]string {
	t.Helper()
	f, err := os.Open(unitFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	settings := map[string][]string{}
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "["):
			section = strings.Trim(line, "[]")
		default:
			k, v, _ := strings.Cut(line, "=")
			settings[section+"."+k] = append(settings[section+"."+k], v)
		}
	}
	return settings
}

// The unit runs the worker as user hoist with its settings from
// /etc/hoist/worker.env, restarts it on failure, gives a stopping worker
// the time it takes (worker.StopTimeout and a margin), and is hardened.
func TestSystemdUnitSettings(t *testing.T) {
	s := unitSettings(t)
	want := map[string]string{
		"Service.User":                  "hoist",
		"Service.EnvironmentFile":       "-/etc/hoist/worker.env",
		"Service.ExecStart":             "/usr/local/bin/hoist worker",
		"Service.Restart":               "on-failure",
		"Service.KillSignal":            "SIGTERM",
		"Service.NoNewPrivileges":       "yes",
		"Service.ProtectSystem":         "strict",
		"Service.ProtectHome":           "yes",
		"Service.PrivateTmp":            "yes",
		"Service.ReadWritePaths":        "/var/lib/hoist",
		"Service.StateDirectory":        "hoist",
		"Service.Environment":           "HOME=/var/lib/hoist",
		"Service.CapabilityBoundingSet": "",
	}
	for k, v := range want {
		if got := s[k]; len(got) != 1 || got[0] != v {
			t.Errorf("%s: %s=%q, want %q", unitFile, k, got, v)
		}
	}
	stop := s["Service.TimeoutStopSec"]
	if len(stop) != 1 {
		t.Fatalf("%s sets no TimeoutStopSec (systemd's default 90 s would cut a stopping worker off)", unitFile)
	}
	d, err := time.ParseDuration(stop[0] + "s")
	if err != nil {
		t.Fatalf("TimeoutStopSec=%s: want seconds: %v", stop[0], err)
	}
	if d < worker.StopTimeout+15*time.Second || d > worker.StopTimeout+time.Minute {
		t.Errorf("TimeoutStopSec=%s: want worker.StopTimeout (%s) and a margin of 15 s to 1 min for the stop itself", stop[0], worker.StopTimeout)
	}
}

// The example environment file holds no secret: it names files.
func TestEnvExampleHoldsNoSecrets(t *testing.T) {
	text, err := os.ReadFile("systemd/worker.env.example")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(text), "\n") {
		name, _, ok := strings.Cut(strings.TrimPrefix(l, "#"), "=")
		if !ok || strings.ContainsAny(name, " \t") {
			continue // prose
		}
		switch name {
		case "HOIST_CODEC_KEYS", "TEMPORAL_API_KEY", "E2E_REGISTRY_PASSWORD":
			t.Errorf("worker.env.example sets %s, a secret: name a file instead", name)
		}
		if strings.Contains(strings.ToUpper(name), "PASSWORD") {
			t.Errorf("worker.env.example sets %s: registry passwords belong in password_file", name)
		}
	}
}

// The image is FROM scratch and its context is what build.sh makes: the
// hoist binary statically linked (no interpreter, no shared library),
// the CA certificates, a passwd line for its user and a /tmp anyone may
// write to (release bundles are unpacked there).
func TestImageContextIsStatic(t *testing.T) {
	dockerfile, err := os.ReadFile("docker/Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var froms []string
	for _, l := range strings.Split(string(dockerfile), "\n") {
		if f := strings.Fields(l); len(f) > 1 && strings.EqualFold(f[0], "FROM") {
			froms = append(froms, f[1])
		}
	}
	if len(froms) != 1 || froms[0] != "scratch" {
		t.Fatalf("Dockerfile FROM %v, want scratch alone", froms)
	}
	for _, want := range []string{"USER 65532:65532", `ENTRYPOINT ["/usr/local/bin/hoist"]`, `CMD ["worker"]`} {
		if !strings.Contains(string(dockerfile), "\n"+want+"\n") {
			t.Errorf("Dockerfile has no line %q", want)
		}
	}

	dir := t.TempDir()
	cmd := exec.Command("./docker/build.sh", "context", dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build.sh context: %v\n%s", err, out)
	}
	bin := filepath.Join(dir, "rootfs/usr/local/bin/hoist")
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Fatalf("%s is dynamically linked (program header %s): a scratch image has no libc", bin, p.Type)
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Fatalf("%s needs %v", bin, libs)
	}
	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "hoist version ") {
		t.Fatalf("%s --version: %v %s", bin, err, out)
	}
	for _, p := range []string{"rootfs/etc/ssl/certs/ca-certificates.crt", "rootfs/etc/passwd", "Dockerfile"} {
		if fi, err := os.Stat(filepath.Join(dir, p)); err != nil || fi.Size() == 0 {
			t.Errorf("the context has no %s: %v", p, err)
		}
	}
	if fi, err := os.Stat(filepath.Join(dir, "rootfs/tmp")); err != nil || fi.Mode()&os.ModeSticky == 0 || fi.Mode().Perm() != 0o777 {
		t.Errorf("rootfs/tmp: %v %v, want a directory of mode 1777", fi.Mode(), err)
	}
	passwd, _ := os.ReadFile(filepath.Join(dir, "rootfs/etc/passwd"))
	if !strings.Contains(string(passwd), "hoist:x:65532:65532:") {
		t.Errorf("etc/passwd has no hoist user 65532:\n%s", passwd)
	}
}
