package testbed

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// This only tests parsing; it needs no running test bed.
func TestRead(t *testing.T) {
	dir := t.TempDir()
	env := `HOIST_TB_DIR=/var/lib/hoist-testbed
HOIST_TB_HOSTS=10.77.0.11,10.77.0.12,10.77.0.13
HOIST_TB_USER=deploy
HOIST_TB_SSH_KEY=/var/lib/hoist-testbed/ssh/id_ed25519
HOIST_TB_KNOWN_HOSTS=/var/lib/hoist-testbed/ssh/known_hosts
HOIST_TB_SSH_CONFIG=/var/lib/hoist-testbed/ssh/config
HOIST_TB_REGISTRY=10.77.0.1:5000
HOIST_TB_REGISTRY_PUSH=127.0.0.1:5000
HOIST_TB_AUTH_REGISTRY=10.77.0.1:5001
HOIST_TB_AUTH_REGISTRY_PUSH=127.0.0.1:5001
HOIST_TB_AUTH_USER=hoist
HOIST_TB_AUTH_PASSWORD_FILE=` + dir + `/password
HOIST_TB_TEMPORAL=127.0.0.1:7233
HOIST_TB_TEMPORAL_BIN=/root/.cache/hoist/tools/temporal-1.5.1/temporal
HOIST_TB_SSHD_PIDFILE_PATTERN=` + dir + `/h%d/sshd.pid
HOIST_TB_DOCKER_SOCK_PATTERN=/run/hoist-tb/h%d/docker.sock
`
	if err := os.WriteFile(filepath.Join(dir, "env"), []byte(env), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "password"), []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "h2"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "h2", "sshd.pid"), []byte("4242\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	e, err := Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Hosts) != 3 || e.Host(1) != "10.77.0.11" || e.Host(3) != "10.77.0.13" {
		t.Errorf("hosts = %v", e.Hosts)
	}
	if got := e.HostDockerSock(2); got != "/run/hoist-tb/h2/docker.sock" {
		t.Errorf("HostDockerSock(2) = %q", got)
	}
	if pid, err := e.SSHDPid(2); err != nil || pid != 4242 {
		t.Errorf("SSHDPid(2) = %d, %v", pid, err)
	}
	if _, err := e.SSHDPid(1); err == nil {
		t.Error("SSHDPid(1) without pidfile: want error")
	}
	if pw, err := e.AuthPassword(); err != nil || pw != "s3cret" {
		t.Errorf("AuthPassword = %q, %v", pw, err)
	}
	if got := e.Image("v2"); got != "10.77.0.1:5000/testapp:v2" {
		t.Errorf("Image = %q", got)
	}
	if e.User != "deploy" || e.Temporal != "127.0.0.1:7233" || e.AuthUser != "hoist" {
		t.Errorf("env = %+v", e)
	}
}

// A test bed brought up with HOIST_TESTBED_HOSTS=24 lists h1..h24 in order.
func TestReadManyHosts(t *testing.T) {
	dir := t.TempDir()
	var addrs []string
	for n := 1; n <= 24; n++ {
		addrs = append(addrs, fmt.Sprintf("10.77.0.%d", 10+n))
	}
	if err := os.WriteFile(filepath.Join(dir, "env"), []byte(minimalEnv(strings.Join(addrs, ","))), 0o644); err != nil {
		t.Fatal(err)
	}
	e, err := Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Hosts) != 24 || e.Host(1) != "10.77.0.11" || e.Host(24) != "10.77.0.34" {
		t.Errorf("hosts = %v", e.Hosts)
	}
	if got := e.HostDockerSock(24); got != "/run/hoist-tb/h24/docker.sock" {
		t.Errorf("HostDockerSock(24) = %q", got)
	}
}

func TestReadBadHost(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "env"), []byte(minimalEnv("10.77.0.11,,10.77.0.13")), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Read(dir)
	if err == nil || !strings.Contains(err.Error(), `HOIST_TB_HOSTS entry 2 (h2) "" is not an IP address`) {
		t.Fatalf("err = %v", err)
	}
}

// minimalEnv is an env file with every required key and hosts as HOIST_TB_HOSTS.
func minimalEnv(hosts string) string {
	return `HOIST_TB_HOSTS=` + hosts + `
HOIST_TB_USER=deploy
HOIST_TB_SSH_KEY=/k
HOIST_TB_KNOWN_HOSTS=/kh
HOIST_TB_REGISTRY=10.77.0.1:5000
HOIST_TB_REGISTRY_PUSH=127.0.0.1:5000
HOIST_TB_AUTH_REGISTRY=10.77.0.1:5001
HOIST_TB_AUTH_REGISTRY_PUSH=127.0.0.1:5001
HOIST_TB_TEMPORAL=127.0.0.1:7233
HOIST_TB_SSHD_PIDFILE_PATTERN=/tb/hosts/h%d/sshd.pid
HOIST_TB_DOCKER_SOCK_PATTERN=/run/hoist-tb/h%d/docker.sock
`
}

func TestReadMissing(t *testing.T) {
	_, err := Read(t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "env file missing") {
		t.Fatalf("err = %v", err)
	}
}
