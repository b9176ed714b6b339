//go:build integration

package sshexec

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/hoist-dev/hoist/internal/testbed"
	"github.com/hoist-dev/hoist/remote"
)

// knownKey returns the host key the test bed recorded for addr.
func knownKey(t *testing.T, env testbed.Env, addr string) ssh.PublicKey {
	t.Helper()
	f, err := os.Open(env.KnownHosts)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		_, hosts, key, _, _, err := ssh.ParseKnownHosts(sc.Bytes())
		if err == nil && len(hosts) == 1 && hosts[0] == addr {
			return key
		}
	}
	t.Fatalf("%s has no key for %s", env.KnownHosts, addr)
	return nil
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestIntegrationWrongKey(t *testing.T) {
	env := testbed.Load(t)
	t.Parallel()
	key := writeKey(t)
	c := tbClient(t, env, func(cfg *Config) { cfg.IdentityFiles = []string{key} })
	_, err := c.Run(ctxFor(t, 10*time.Second), env.Host(1), remote.Cmd("true"))
	var auth *AuthError
	if !errors.As(err, &auth) || auth.Host != env.Host(1) || Retryable(err) {
		t.Fatalf("err = %v, want a non-retryable *AuthError", err)
	}
	t.Logf("wrong key: %v", err)
}

func TestIntegrationUnknownHostKey(t *testing.T) {
	env := testbed.Load(t)
	t.Parallel()
	kh := writeFile(t, "known_hosts", "")
	c := tbClient(t, env, func(cfg *Config) { cfg.KnownHostsFile = kh })
	_, err := c.Run(ctxFor(t, 10*time.Second), env.Host(1), remote.Cmd("true"))
	var hk *HostKeyError
	if !errors.As(err, &hk) || hk.Problem != HostKeyUnknown || Retryable(err) {
		t.Fatalf("err = %v, want a non-retryable unknown-host *HostKeyError", err)
	}
	want := ssh.FingerprintSHA256(knownKey(t, env, env.Host(1)))
	if hk.Fingerprint != want || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), env.Host(1)) {
		t.Errorf("error does not name the host and its fingerprint %s: %v", want, err)
	}
	if b, _ := os.ReadFile(kh); len(b) != 0 {
		t.Errorf("strict policy wrote known_hosts: %q", b)
	}
	t.Logf("unknown host: %v", err)
}

func TestIntegrationChangedHostKey(t *testing.T) {
	env := testbed.Load(t)
	t.Parallel()
	other := newEd25519Key(t)
	kh := writeFile(t, "known_hosts", knownhosts.Line([]string{env.Host(1)}, other)+"\n")
	for _, policy := range []HostKeyPolicy{Strict, AcceptNew} {
		c := tbClient(t, env, func(cfg *Config) { cfg.KnownHostsFile = kh; cfg.HostKeyPolicy = policy })
		_, err := c.Run(ctxFor(t, 10*time.Second), env.Host(1), remote.Cmd("true"))
		var hk *HostKeyError
		if !errors.As(err, &hk) || hk.Problem != HostKeyChanged || Retryable(err) {
			t.Fatalf("%s: err = %v, want a non-retryable changed-key *HostKeyError", policy, err)
		}
		if !strings.Contains(err.Error(), ssh.FingerprintSHA256(other)) || !strings.Contains(err.Error(), hk.Fingerprint) {
			t.Errorf("%s: error lacks the fingerprints: %v", policy, err)
		}
		t.Logf("%s, changed key: %v", policy, err)
	}
}

func TestIntegrationAcceptNew(t *testing.T) {
	env := testbed.Load(t)
	t.Parallel()
	kh := writeFile(t, "known_hosts", "")
	c := tbClient(t, env, func(cfg *Config) { cfg.KnownHostsFile = kh; cfg.HostKeyPolicy = AcceptNew })
	mustRun(t, c, env.Host(2), remote.Cmd("true"))
	b, err := os.ReadFile(kh)
	if err != nil {
		t.Fatal(err)
	}
	want := knownhosts.Line([]string{env.Host(2)}, knownKey(t, env, env.Host(2))) + "\n"
	if string(b) != want {
		t.Fatalf("known_hosts after accept-new:\n%q\nwant\n%q", b, want)
	}
	strict := tbClient(t, env, func(cfg *Config) { cfg.KnownHostsFile = kh })
	mustRun(t, strict, env.Host(2), remote.Cmd("true"))
}

func TestIntegrationAgent(t *testing.T) {
	env := testbed.Load(t)
	t.Parallel()
	sock := filepath.Join(t.TempDir(), "agent.sock")
	agent := exec.Command("ssh-agent", "-D", "-a", sock)
	if err := agent.Start(); err != nil {
		t.Fatalf("ssh-agent: %v", err)
	}
	t.Cleanup(func() {
		agent.Process.Kill()
		agent.Wait()
	})
	waitFor(t, 5*time.Second, func() bool { _, err := os.Stat(sock); return err == nil })
	add := exec.Command("ssh-add", env.SSHKey)
	add.Env = append(os.Environ(), "SSH_AUTH_SOCK="+sock)
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("ssh-add: %v\n%s", err, out)
	}
	c := tbClient(t, env, func(cfg *Config) {
		cfg.IdentityFiles = nil
		cfg.AgentSocket = sock
	})
	if res := mustRun(t, c, env.Host(3), remote.Cmd("id", "-un")); res.Stdout != env.User+"\n" {
		t.Errorf("id -un: %q", res.Stdout)
	}

	// Without the agent there is nothing to offer: an AuthError before
	// any network traffic.
	none := tbClient(t, env, func(cfg *Config) { cfg.IdentityFiles = nil })
	_, err := none.Run(ctxFor(t, 10*time.Second), env.Host(3), remote.Cmd("true"))
	var auth *AuthError
	if !errors.As(err, &auth) {
		t.Errorf("no keys: err = %v, want *AuthError", err)
	}
}

func TestIntegrationProxyJump(t *testing.T) {
	env := testbed.Load(t)
	t.Parallel()
	cfgFile := writeFile(t, "config", `
Host jump
  HostName `+env.Host(1)+`
Host target
  HostName `+env.Host(2)+`
  ProxyJump jump
Host *
  User `+env.User+`
  IdentityFile `+env.SSHKey+`
  IdentitiesOnly yes
`)
	c := tbClient(t, env, func(cfg *Config) {
		cfg.SSHConfigFile = cfgFile
		cfg.User = ""
		cfg.IdentityFiles = nil
	})
	res := mustRun(t, c, "target", remote.Cmd("sh", "-c", `echo "$SSH_CONNECTION"`))
	// SSH_CONNECTION is "client-ip client-port server-ip server-port": on
	// h2 the client must be h1.
	f := strings.Fields(res.Stdout)
	if len(f) != 4 || f[0] != env.Host(1) || f[2] != env.Host(2) {
		t.Fatalf("SSH_CONNECTION on target = %q, want a connection from %s to %s", res.Stdout, env.Host(1), env.Host(2))
	}
	if s := c.Stats(); s.Dials != 2 || s.Open != 2 {
		t.Errorf("stats %+v, want the jump and the target connection", s)
	}
}

func TestIntegrationDialRefused(t *testing.T) {
	env := testbed.Load(t)
	t.Parallel()
	c := tbClient(t, env)
	_, err := c.Run(ctxFor(t, 10*time.Second), env.Host(1)+":2222", remote.Cmd("true"))
	var conn *ConnError
	if !errors.As(err, &conn) || conn.Op != "dial" || conn.Started || !Retryable(err) {
		t.Fatalf("err = %v, want a retryable dial *ConnError", err)
	}
	t.Logf("refused: %v", err)
}
