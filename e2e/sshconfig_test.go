//go:build integration

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

const portSSHAlias = 18243

// Issue 8 §8: a host written as an ~/.ssh/config alias works as it does
// for ssh, with no --ssh-config: the worker reads the user's ~/.ssh/config
// by default. This worker's HOME holds the alias; hoist.yml names only it.
func TestSSHConfigAliasWithoutFlag(t *testing.T) {
	t.Parallel()
	const host = 1
	home := t.TempDir()
	alias := "e2e-alias-h1"
	cfg := fmt.Sprintf("Host %s\n  HostName %s\n  User %s\n", alias, suite.env.Host(host), suite.env.User)
	if err := os.MkdirAll(filepath.Join(home, ".ssh"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, ".ssh", "config"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	queue, _ := startTestWorker(t, "sshalias", []string{"HOME=" + home})

	s := newService(t, "sshalias", portSSHAlias, host)
	s.queue = queue
	s.compose("v1", image("v1"))
	yml := fmt.Sprintf("service: %s\nremote_base: %s\nfiles: files\nhosts: [%s]\nwait: %s\n", s.name, s.base, alias, s.wait)
	path := filepath.Join(s.dir, "hoist.yml")
	if err := os.WriteFile(path, []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	s.hoist("deploy", "--config", path, "--version", "v1").want(t, 0, s.deployedLine("v1"))
	s.wantState("v1", suite.env.Image("v1"), "v1")
	s.wantServes("v1")
}
