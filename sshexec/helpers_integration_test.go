//go:build integration

package sshexec

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/internal/testbed"
	"github.com/hoist-dev/hoist/remote"
)

// The integration tests run against the real test bed: three hosts, each
// with its own sshd (scripts/testbed/testbed.sh up).

// tbClient is a Client for the test bed: its key, its known_hosts, no ssh
// config (the hosts are addressed by IP) unless a mod sets one.
func tbClient(t testing.TB, env testbed.Env, mods ...func(*Config)) *Client {
	t.Helper()
	cfg := Config{
		User:              env.User,
		IdentityFiles:     []string{env.SSHKey},
		KnownHostsFile:    env.KnownHosts,
		DialTimeout:       5 * time.Second,
		KeepAliveInterval: 5 * time.Second,
	}
	for _, m := range mods {
		m(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func ctxFor(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// mustRun runs cmd and fails the test on any error.
func mustRun(t testing.TB, c *Client, host string, cmd remote.Command, opts ...RunOption) Result {
	t.Helper()
	res, err := c.Run(ctxFor(t, 30*time.Second), host, cmd, opts...)
	if err != nil {
		t.Fatalf("run %s on %s: %v\nstdout: %s\nstderr: %s", cmd, host, err, res.Stdout, res.Stderr)
	}
	return res
}

// uniqueName is unique across test runs, so leftovers of an earlier run
// never match.
func uniqueName(prefix string) string {
	return fmt.Sprintf("%s-%d-%08x", prefix, os.Getpid(), rand.Uint32())
}

// scratchDir makes a directory under /srv on host (owned by the deploy
// user) and removes it when the test ends.
func scratchDir(t *testing.T, c *Client, host string) string {
	t.Helper()
	dir := "/srv/" + uniqueName("sshexec-test")
	mustRun(t, c, host, remote.Cmd("mkdir", "-p", dir))
	t.Cleanup(func() {
		// Upload may leave read-only directories; make them removable.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c.Run(ctx, host, remote.Cmd("chmod", "-R", "u+rwx", dir).And("rm", "-rf", dir))
	})
	return dir
}

// writeKey writes a fresh ed25519 key the hosts do not know.
func writeKey(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "id_ed25519")
	out, err := execOutput("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", p)
	if err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	return p
}

// parentPid reads the parent of pid from /proc: the test bed's hosts
// share the machine's pid namespace.
func parentPid(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "PPid:"); ok {
			ppid, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				t.Fatal(err)
			}
			return ppid
		}
	}
	t.Fatalf("no PPid in /proc/%d/status", pid)
	return 0
}

func execOutput(name string, args ...string) ([]byte, error) {
	return exec.Command(name, args...).CombinedOutput()
}
