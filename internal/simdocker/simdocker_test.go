package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hoist-dev/hoist/commands"
	"github.com/hoist-dev/hoist/remote"
)

// The stand-in is checked on the exact command lines hoist's builders
// render, run through a real shell with the stand-in first on PATH as
// "docker", and its output read back with hoist's own parsers: when hoist
// changes a command or a format, these tests fail, not the benchmark
// silently.

// asDocker makes the test binary the stand-in when a test runs it as
// "docker" (a symlink to it on PATH).
const asDocker = "SIMDOCKER_TEST_AS_DOCKER"

func TestMain(m *testing.M) {
	if os.Getenv(asDocker) == "1" {
		os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// simHost is one simulated host: its state folder, a remote_base, and a
// shell environment whose docker is the stand-in.
type simHost struct {
	t       *testing.T
	env     []string
	state   string
	compose commands.Compose
}

const projectName = "shop"

func newSimHost(t *testing.T, name string) *simHost {
	t.Helper()
	root := t.TempDir()
	bin, state, base := filepath.Join(root, "bin"), filepath.Join(root, "state"), filepath.Join(root, "srv", projectName)
	for _, d := range []string{bin, state, base} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(self, filepath.Join(bin, "docker")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(state, "host"), []byte(name+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), asDocker+"=1", "SIMDOCKER_STATE="+state, "PATH="+bin+":"+os.Getenv("PATH"))
	return &simHost{t: t, env: env, state: state, compose: commands.Compose{Layout: commands.Layout{Base: base}, Project: projectName}}
}

// release writes a release folder, as hoist's upload would.
func (h *simHost) release(version string, files map[string]string) commands.Compose {
	h.t.Helper()
	c := h.compose
	c.Version = version
	dir, err := c.Layout.Release(version)
	if err != nil {
		h.t.Fatal(err)
	}
	for name, body := range files {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			h.t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			h.t.Fatal(err)
		}
	}
	return c
}

// sh runs the command line hoist would send, with its stdin.
func (h *simHost) sh(cmd remote.Command) (stdout, stderr string, code int) {
	h.t.Helper()
	c := exec.Command("bash", "-c", cmd.String())
	c.Env = h.env
	c.Stdin = bytes.NewReader(cmd.Stdin)
	var out, errOut bytes.Buffer
	c.Stdout, c.Stderr = &out, &errOut
	err := c.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		h.t.Fatalf("%s: %v", cmd, err)
	}
	return out.String(), errOut.String(), code
}

// ok runs cmd and fails the test unless it exits 0.
func (h *simHost) ok(cmd remote.Command) string {
	h.t.Helper()
	out, errOut, code := h.sh(cmd)
	if code != 0 {
		h.t.Fatalf("%s: exit %d\nstdout: %s\nstderr: %s", cmd, code, out, errOut)
	}
	return out
}

// containers is what WaitRunning reads: the release's IDs, then their
// state after the host's clock.
func (h *simHost) containers(c commands.Compose, services ...string) (ids []string, now string, cs []commands.Container) {
	h.t.Helper()
	ids = commands.ParseIDs(h.ok(c.ContainerIDs(services...)))
	if len(ids) == 0 {
		return nil, "", nil
	}
	out := h.ok(commands.InspectContainers(ids...))
	return ids, commands.ParseHostClock(out), commands.ParseContainers(out)
}

const webAndWorker = `services:
  web:
    image: registry.sim:5000/shop:${TAG:-v1}
    healthcheck:
      test: ["CMD", "/app", "-healthcheck"]
  worker:
    image: registry.sim:5000/worker:v1
`

// TestDeployAsHoistRunsIt walks one host through what a deploy, a status
// query, a failed-release rollback and a removal send, checking what
// hoist would conclude from each answer.
func TestDeployAsHoistRunsIt(t *testing.T) {
	h := newSimHost(t, "s1")
	v1 := h.release("v1", map[string]string{"compose.yaml": webAndWorker})

	if ids := commands.ParseIDs(h.ok(v1.ContainerIDs())); len(ids) != 0 {
		t.Fatalf("a fresh host lists containers: %v", ids)
	}
	login := commands.RegistryLogin(v1.Layout.DockerConfig(), "registry.sim:5000", "ci", []byte("s3cret"))
	h.ok(login)
	cfg, err := os.ReadFile(filepath.Join(v1.Layout.DockerConfig(), "config.json"))
	if err != nil || !strings.Contains(string(cfg), "registry.sim:5000") || strings.Contains(string(cfg), "s3cret") {
		t.Fatalf("login: config.json %q (%v): want the server recorded, never the password", cfg, err)
	}
	if fi, err := os.Stat(filepath.Join(v1.Layout.DockerConfig(), "config.json")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("login: config.json mode %v (%v), want 0600", fi.Mode(), err)
	}
	h.ok(v1.Pull())

	upAt := commands.ParseHostClock(h.ok(v1.Up()))
	if upAt == "" {
		t.Fatal("up: no host clock first")
	}
	ids, now, cs := h.containers(v1)
	if len(ids) != 2 || len(cs) != 2 || now == "" {
		t.Fatalf("after up: ids %v, clock %q, containers %+v", ids, now, cs)
	}
	if v, why := commands.Judge(cs); v != commands.Healthy {
		t.Fatalf("after up: verdict %v (%s), want healthy: %+v", v, why, cs)
	}
	web, worker := cs[0], cs[1]
	if web.Name != "shop-web-1" || web.Service != "web" || web.Health != "healthy" || worker.Name != "shop-worker-1" || worker.Health != "" {
		t.Fatalf("containers: %+v", cs)
	}
	for _, c := range cs {
		if c.Status != "running" || c.RestartCount != 0 || c.CreatedBefore(upAt) {
			t.Errorf("%s: %+v; want running, never restarted, created by this up (at %s)", c.Name, c, upAt)
		}
		if up, ok := c.UpFor(now); !ok || up < 0 {
			t.Errorf("%s: up for %v (%v) at %s", c.Name, up, ok, now)
		}
	}
	if got, _, _ := h.containers(v1, "web"); len(got) != 1 || got[0] != web.ID {
		t.Errorf("ps of service web: %v, want [%s]", got, web.ID)
	}
	if _, errOut, code := h.sh(v1.ContainerIDs("nosuch")); code == 0 || !strings.Contains(errOut, "no such service: nosuch") {
		t.Errorf("ps of an unknown service: exit %d, %q", code, errOut)
	}

	// hoist status: every container of the project, wherever it came from.
	short := commands.ParseIDs(h.ok(commands.ProjectContainers(projectName)))
	if len(short) != 2 {
		t.Fatalf("project containers: %v", short)
	}
	if st := commands.ParseContainers(h.ok(commands.InspectContainers(short...))); len(st) != 2 || st[0].ID != web.ID {
		t.Fatalf("inspect by short ID: %+v", st)
	}

	// The same release up again keeps its containers, as compose does.
	h.ok(v1.Up())
	if _, _, again := h.containers(v1); again[0].ID != web.ID || again[0].StartedAt != web.StartedAt || again[0].Created != web.Created {
		t.Fatalf("second up of v1 changed the container: %+v, was %+v", again[0], web)
	}
	if logs := h.ok(commands.ContainerLogs(web.ID, 5)); !strings.Contains(logs, "simdocker") {
		t.Errorf("logs: %q", logs)
	}

	// v2 changes web's image (through .env) and drops worker.
	v2 := h.release("v2", map[string]string{
		".env":         "TAG=v2\n",
		"compose.yaml": strings.Split(webAndWorker, "  worker:")[0],
	})
	upAt2 := commands.ParseHostClock(h.ok(v2.Up()))
	ids2, _, cs2 := h.containers(v2)
	if len(cs2) != 1 || cs2[0].Service != "web" || cs2[0].ID == web.ID || cs2[0].CreatedBefore(upAt2) {
		t.Fatalf("v2: %+v, want one new web container (v1's web was %s)", cs2, web.ID)
	}
	if _, errOut, code := h.sh(commands.InspectContainers(web.ID)); code != 1 || !strings.Contains(errOut, "No such container") {
		t.Errorf("inspect of v1's replaced container: exit %d, %q", code, errOut)
	}

	// A rollback: logs kept, v2 down, v1 up again with v1's IDs.
	h.ok(v2.SaveLogs("20261201T020000Z"))
	if saved, err := os.ReadFile(v2.SavedLogs("20261201T020000Z")); err != nil || !strings.Contains(string(saved), "web-1  | ") {
		t.Errorf("saved logs: %q (%v)", saved, err)
	}
	h.ok(v2.Down())
	if got, _, _ := h.containers(v2); len(got) != 0 {
		t.Fatalf("after down: %v", got)
	}
	h.ok(v1.Up())
	if got, _, _ := h.containers(v1); !slices.Equal(got, ids) {
		t.Fatalf("v1 up again: ids %v, want v1's %v", got, ids)
	}

	// A halted release: stopped, so hoist sees it exited.
	h.ok(v1.Stop())
	if _, _, cs := h.containers(v1); len(cs) != 2 || cs[0].Status != "exited" {
		t.Fatalf("after stop: %+v", cs)
	} else if v, _ := commands.Judge(cs); v != commands.Crashed {
		t.Fatalf("after stop: verdict %v", v)
	}
	h.ok(v1.Down())
	if short := commands.ParseIDs(h.ok(commands.ProjectContainers(projectName))); len(short) != 0 || len(ids2) != 1 {
		t.Fatalf("after down: project containers %v", short)
	}
}

// TestIDsPerHostAndRelease: the same for a host and release, whatever
// came before; different for another host or release.
func TestIDsPerHostAndRelease(t *testing.T) {
	id := func(host, dir string) string { return containerID(host, "p", dir, "web", 1) }
	if id("s1", "/srv/p/v1") != id("s1", "/srv/p/v1") || id("s1", "/srv/p/v1") == id("s2", "/srv/p/v1") || id("s1", "/srv/p/v1") == id("s1", "/srv/p/v2") {
		t.Error("containerID: want the same for a host and release, different for another host or release")
	}
	h := newSimHost(t, "s1")
	c := h.release("v1", map[string]string{"compose.yaml": webAndWorker})
	h.ok(c.Up())
	first, _, _ := h.containers(c)
	if err := os.Remove(filepath.Join(h.state, "containers.json")); err != nil {
		t.Fatal(err)
	}
	h.ok(c.Up())
	if again, _, _ := h.containers(c); !slices.Equal(again, first) {
		t.Errorf("up on an emptied host: ids %v, want %v", again, first)
	}
}

// TestGapsAreLoud: what the simulation does not implement fails with
// "simdocker: unsupported", never a silent success.
func TestGapsAreLoud(t *testing.T) {
	h := newSimHost(t, "s1")
	c := h.release("v1", map[string]string{"compose.yaml": webAndWorker})
	h.ok(c.Up())
	ids, _, _ := h.containers(c)
	dir, _ := c.Layout.Release("v1")
	for _, cmd := range []remote.Command{
		remote.Cmd("docker", "run", "busybox"),
		remote.Cmd("docker", "inspect", "--format", "{{.NetworkSettings.IPAddress}}", ids[0]),
		remote.Cmd("docker", "compose", "--project-name", projectName, "up").In(dir),
		remote.Cmd("docker", "compose", "--project-name", projectName, "ps").In(dir),
		remote.Cmd("docker", "compose", "--project-name", projectName, "config").In(dir),
		remote.Cmd("docker", "login", "-u", "ci", "-p", "pw", "r"),
		remote.Cmd("docker", "ps"),
	} {
		_, errOut, code := h.sh(cmd)
		if code != exitUnsupported || !strings.Contains(errOut, "simdocker: unsupported: ") {
			t.Errorf("%s: exit %d, stderr %q; want exit %d and simdocker: unsupported", cmd, code, errOut, exitUnsupported)
		}
	}
}

// TestOnlyInsideASimHost: without a host file the stand-in refuses.
func TestOnlyInsideASimHost(t *testing.T) {
	h := newSimHost(t, "s1")
	if err := os.Remove(filepath.Join(h.state, "host")); err != nil {
		t.Fatal(err)
	}
	c := h.release("v1", map[string]string{"compose.yaml": webAndWorker})
	if _, errOut, code := h.sh(c.Up()); code != exitFailed || !strings.Contains(errOut, "simfleet.sh up") {
		t.Errorf("up outside a sim host: exit %d, %q", code, errOut)
	}
}
