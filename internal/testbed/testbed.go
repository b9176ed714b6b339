// Package testbed gives integration tests the coordinates of the local test
// bed brought up by scripts/testbed/testbed.sh (make testbed-up): N SSH
// hosts (3 by default, HOIST_TESTBED_HOSTS=N for more) with their own Docker
// engines, two registries and a Temporal dev server. See
// scripts/testbed/README.md for the layout.
//
// Load never skips: a test that needs the test bed fails loudly, naming the
// component that is missing and how to start it.
package testbed

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// DefaultDir is the state directory used when HOIST_TB_DIR is not set.
const DefaultDir = "/var/lib/hoist-testbed"

const upHint = "start it with `make testbed-up` (scripts/testbed/testbed.sh up, as root)"

// Env is the content of $HOIST_TB_DIR/env.
type Env struct {
	Dir                string   // HOIST_TB_DIR
	Hosts              []string // HOIST_TB_HOSTS: addresses of h1..hN, the hosts `up` brought up (Hosts[0] is h1)
	User               string   // HOIST_TB_USER: SSH login user on every host
	SSHKey             string   // HOIST_TB_SSH_KEY: client private key
	KnownHosts         string   // HOIST_TB_KNOWN_HOSTS
	SSHConfig          string   // HOIST_TB_SSH_CONFIG: ssh -F file with Host h1..hN
	Registry           string   // HOIST_TB_REGISTRY: plain registry as the hosts see it
	RegistryPush       string   // HOIST_TB_REGISTRY_PUSH: same registry as the root engine pushes
	AuthRegistry       string   // HOIST_TB_AUTH_REGISTRY: htpasswd registry as the hosts see it
	AuthRegistryPush   string   // HOIST_TB_AUTH_REGISTRY_PUSH
	AuthUser           string   // HOIST_TB_AUTH_USER
	AuthPasswordFile   string   // HOIST_TB_AUTH_PASSWORD_FILE
	Temporal           string   // HOIST_TB_TEMPORAL: frontend host:port
	TemporalBin        string   // HOIST_TB_TEMPORAL_BIN: temporal CLI binary
	SSHDPidfilePattern string   // HOIST_TB_SSHD_PIDFILE_PATTERN: fmt pattern, %d = host number 1..N
	DockerSockPattern  string   // HOIST_TB_DOCKER_SOCK_PATTERN: fmt pattern, %d = host number 1..N
	Script             string   // HOIST_TB_SCRIPT: path of testbed.sh (for fault helpers)
	RootDockerSock     string   // the root engine the test images are built with
	Raw                map[string]string
}

// Dir returns the test bed state directory ($HOIST_TB_DIR or DefaultDir).
func Dir() string {
	if d := os.Getenv("HOIST_TB_DIR"); d != "" {
		return d
	}
	return DefaultDir
}

// Load reads $HOIST_TB_DIR/env and checks that every component answers.
// It calls t.Fatalf (never t.Skip) when something is missing.
func Load(t testing.TB) Env {
	t.Helper()
	env, err := Read(Dir())
	if err != nil {
		t.Fatalf("testbed: %v; %s", err, upHint)
	}
	if err := env.Check(); err != nil {
		t.Fatalf("testbed: %v; %s", err, upHint)
	}
	return env
}

// Read parses dir/env without probing anything.
func Read(dir string) (Env, error) {
	path := filepath.Join(dir, "env")
	f, err := os.Open(path)
	if err != nil {
		return Env{}, fmt.Errorf("test bed env file missing (%v)", err)
	}
	defer f.Close()
	raw := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return Env{}, fmt.Errorf("%s: bad line %q", path, line)
		}
		raw[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	if err := sc.Err(); err != nil {
		return Env{}, fmt.Errorf("reading %s: %v", path, err)
	}
	e := Env{
		Dir:                raw["HOIST_TB_DIR"],
		User:               raw["HOIST_TB_USER"],
		SSHKey:             raw["HOIST_TB_SSH_KEY"],
		KnownHosts:         raw["HOIST_TB_KNOWN_HOSTS"],
		SSHConfig:          raw["HOIST_TB_SSH_CONFIG"],
		Registry:           raw["HOIST_TB_REGISTRY"],
		RegistryPush:       raw["HOIST_TB_REGISTRY_PUSH"],
		AuthRegistry:       raw["HOIST_TB_AUTH_REGISTRY"],
		AuthRegistryPush:   raw["HOIST_TB_AUTH_REGISTRY_PUSH"],
		AuthUser:           raw["HOIST_TB_AUTH_USER"],
		AuthPasswordFile:   raw["HOIST_TB_AUTH_PASSWORD_FILE"],
		Temporal:           raw["HOIST_TB_TEMPORAL"],
		TemporalBin:        raw["HOIST_TB_TEMPORAL_BIN"],
		SSHDPidfilePattern: raw["HOIST_TB_SSHD_PIDFILE_PATTERN"],
		DockerSockPattern:  raw["HOIST_TB_DOCKER_SOCK_PATTERN"],
		Script:             raw["HOIST_TB_SCRIPT"],
		RootDockerSock:     "/var/run/docker.sock",
		Raw:                raw,
	}
	if h := raw["HOIST_TB_HOSTS"]; h != "" {
		e.Hosts = strings.Split(h, ",")
		for i, a := range e.Hosts {
			if net.ParseIP(a) == nil {
				return Env{}, fmt.Errorf("%s: HOIST_TB_HOSTS entry %d (h%d) %q is not an IP address", path, i+1, i+1, a)
			}
		}
	}
	for k, v := range map[string]string{
		"HOIST_TB_HOSTS": raw["HOIST_TB_HOSTS"], "HOIST_TB_USER": e.User, "HOIST_TB_SSH_KEY": e.SSHKey,
		"HOIST_TB_KNOWN_HOSTS": e.KnownHosts, "HOIST_TB_REGISTRY": e.Registry,
		"HOIST_TB_REGISTRY_PUSH": e.RegistryPush, "HOIST_TB_AUTH_REGISTRY": e.AuthRegistry,
		"HOIST_TB_AUTH_REGISTRY_PUSH": e.AuthRegistryPush, "HOIST_TB_TEMPORAL": e.Temporal,
		"HOIST_TB_SSHD_PIDFILE_PATTERN": e.SSHDPidfilePattern, "HOIST_TB_DOCKER_SOCK_PATTERN": e.DockerSockPattern,
	} {
		if v == "" {
			return Env{}, fmt.Errorf("%s: %s is missing (stale env file?)", path, k)
		}
	}
	return e, nil
}

// Check probes every component and returns an error naming the first one
// that does not answer (hosts in order, then the rest).
func (e Env) Check() error {
	const timeout = 2 * time.Second
	// Every host at once: with 24 hosts one after another, a few slow
	// answers would add up; the wall time stays that of the slowest host.
	errs := make([]error, len(e.Hosts))
	var wg sync.WaitGroup
	for i := range e.Hosts {
		wg.Go(func() { errs[i] = e.checkHost(i+1, timeout) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	if err := dockerPing(e.RootDockerSock, timeout); err != nil {
		return fmt.Errorf("root dockerd at %s does not answer (%v)", e.RootDockerSock, err)
	}
	for _, r := range []struct{ name, addr string }{
		{"registry", e.RegistryPush},
		{"auth registry", e.AuthRegistryPush},
	} {
		if err := dial("tcp", r.addr, timeout); err != nil {
			return fmt.Errorf("%s at %s does not answer (%v)", r.name, r.addr, err)
		}
	}
	if err := e.checkImages(timeout); err != nil {
		return err
	}
	if err := dial("tcp", e.Temporal, timeout); err != nil {
		return fmt.Errorf("temporal dev server at %s does not answer (%v)", e.Temporal, err)
	}
	return nil
}

// checkHost probes host n's sshd and dockerd.
func (e Env) checkHost(n int, timeout time.Duration) error {
	h := e.Host(n)
	if err := dial("tcp", net.JoinHostPort(h, "22"), timeout); err != nil {
		return fmt.Errorf("host h%d: sshd at %s:22 does not answer (%v)", n, h, err)
	}
	if err := dockerPing(e.HostDockerSock(n), timeout); err != nil {
		return fmt.Errorf("host h%d: dockerd at %s does not answer (%v)", n, e.HostDockerSock(n), err)
	}
	return nil
}

// checkImages verifies that scripts/testbed/images.sh pushed testapp:v1..v3 and big.
func (e Env) checkImages(timeout time.Duration) error {
	c := &http.Client{Timeout: timeout}
	resp, err := c.Get("http://" + e.RegistryPush + "/v2/testapp/tags/list")
	if err != nil {
		return fmt.Errorf("registry at %s: %v", e.RegistryPush, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	body := string(b)
	for _, tag := range []string{"v1", "v2", "v3", "big"} {
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"`+tag+`"`) {
			return fmt.Errorf("test image %s/testapp:%s is missing (scripts/testbed/images.sh)", e.RegistryPush, tag)
		}
	}
	return nil
}

func dial(network, addr string, timeout time.Duration) error {
	c, err := net.DialTimeout(network, addr, timeout)
	if err != nil {
		return err
	}
	return c.Close()
}

// dockerPing does GET /_ping on a Docker unix socket.
func dockerPing(sock string, timeout time.Duration) error {
	c := &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				d := net.Dialer{Timeout: timeout}
				return d.DialContext(ctx, "unix", sock)
			},
		},
	}
	resp, err := c.Get("http://docker/_ping")
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("_ping: %s", resp.Status)
	}
	return nil
}

// HostDockerSock is the Docker socket of host n (1-based: 1 is h1).
func (e Env) HostDockerSock(n int) string {
	return fmt.Sprintf(e.DockerSockPattern, n)
}

// HostDockerHost is HostDockerSock as a DOCKER_HOST value.
func (e Env) HostDockerHost(n int) string { return "unix://" + e.HostDockerSock(n) }

// SSHDPid is the pid of the sshd listening on host n (1-based).
func (e Env) SSHDPid(n int) (int, error) {
	path := fmt.Sprintf(e.SSHDPidfilePattern, n)
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, fmt.Errorf("%s: %v", path, err)
	}
	return pid, nil
}

// Host is the address of host n (1-based).
func (e Env) Host(n int) string { return e.Hosts[n-1] }

// AuthPassword reads the auth registry password.
func (e Env) AuthPassword() (string, error) {
	b, err := os.ReadFile(e.AuthPasswordFile)
	return strings.TrimSpace(string(b)), err
}

// Image is the plain-registry reference of the test image at tag (v1, v2, v3)
// as the hosts pull it, e.g. 10.77.0.1:5000/testapp:v1.
func (e Env) Image(tag string) string { return e.Registry + "/testapp:" + tag }

// AuthImage is the auth-registry reference (only v1 is pushed there).
func (e Env) AuthImage(tag string) string { return e.AuthRegistry + "/testapp:" + tag }

// Run runs testbed.sh with args (e.g. "host-stop", "2"); t.Fatalf on failure.
func (e Env) Run(t testing.TB, args ...string) {
	t.Helper()
	if e.Script == "" {
		t.Fatalf("testbed: HOIST_TB_SCRIPT missing from %s/env; %s", e.Dir, upHint)
	}
	cmd := exec.Command(e.Script, args...)
	cmd.Env = append(os.Environ(), "HOIST_TB_DIR="+e.Dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("testbed.sh %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// HostStop stops sshd and dockerd of host n (its address still answers, with RST).
func (e Env) HostStop(t testing.TB, n int) { t.Helper(); e.Run(t, "host-stop", strconv.Itoa(n)) }

// HostStart starts sshd and dockerd of host n again.
func (e Env) HostStart(t testing.TB, n int) { t.Helper(); e.Run(t, "host-start", strconv.Itoa(n)) }

// SSHDStop stops host n's sshd and drops its open connections; its
// containers run on.
func (e Env) SSHDStop(t testing.TB, n int) { t.Helper(); e.Run(t, "sshd-stop", strconv.Itoa(n)) }

// SSHDStart starts host n's sshd again and waits until it answers.
func (e Env) SSHDStart(t testing.TB, n int) { t.Helper(); e.Run(t, "sshd-start", strconv.Itoa(n)) }

// SSHDrop kills the sshd processes of host n's open connections: every
// client sees its connection cut mid-command; new ones get in.
func (e Env) SSHDrop(t testing.TB, n int) { t.Helper(); e.Run(t, "ssh-drop", strconv.Itoa(n)) }

// LinkSlow limits traffic towards host n to rate ("1mbit"): uploads and
// pulls take seconds, commands still answer.
func (e Env) LinkSlow(t testing.TB, n int, rate string) {
	t.Helper()
	e.Run(t, "link-slow", strconv.Itoa(n), rate)
}

// LinkFast removes LinkSlow's limit.
func (e Env) LinkFast(t testing.TB, n int) { t.Helper(); e.Run(t, "link-fast", strconv.Itoa(n)) }

// HostCut takes host n's link down (packets are dropped, nothing answers).
func (e Env) HostCut(t testing.TB, n int) { t.Helper(); e.Run(t, "host-cut", strconv.Itoa(n)) }

// HostUncut brings host n's link back up.
func (e Env) HostUncut(t testing.TB, n int) { t.Helper(); e.Run(t, "host-uncut", strconv.Itoa(n)) }

// TemporalStop stops the Temporal dev server (its database is kept).
func (e Env) TemporalStop(t testing.TB) { t.Helper(); e.Run(t, "temporal-stop") }

// TemporalStart starts the Temporal dev server on the same database and waits until it serves.
func (e Env) TemporalStart(t testing.TB) { t.Helper(); e.Run(t, "temporal-start") }
