package sshexec

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A host written as an ~/.ssh/config alias resolves without an explicit
// ssh config file, as it does for ssh.
func TestSSHConfigFileDefaultsToUserConfig(t *testing.T) {
	home := t.TempDir()
	if err := os.MkdirAll(filepath.Join(home, ".ssh"), 0o700); err != nil {
		t.Fatal(err)
	}
	userCfg := filepath.Join(home, ".ssh", "config")
	if err := os.WriteFile(userCfg, []byte("Host app1\n  HostName 10.77.0.11\n  User deploy\n  Port 2222\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path, err := SSHConfigFile("", home)
	if err != nil || path != userCfg {
		t.Fatalf("default: %q %v, want %s", path, err, userCfg)
	}
	sc, err := loadSSHConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	got, err := resolveTarget(sc, Config{User: "me", Port: 22, HomeDir: home}, "app1", true)
	if err != nil || got.host != "10.77.0.11" || got.user != "deploy" || got.port != 2222 {
		t.Fatalf("alias app1 resolved to %+v (%v)", got, err)
	}

	if path, err := SSHConfigFile(NoSSHConfig, home); err != nil || path != "" {
		t.Errorf("none: %q %v", path, err)
	}
	other := filepath.Join(home, "other")
	if err := os.WriteFile(other, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if path, err := SSHConfigFile(other, home); err != nil || path != other {
		t.Errorf("given: %q %v", path, err)
	}
	if _, err := SSHConfigFile(filepath.Join(home, "missing"), home); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("a given file that is missing: %v", err)
	}
	if path, err := SSHConfigFile("", t.TempDir()); err != nil || path != "" {
		t.Errorf("no ~/.ssh/config: %q %v", path, err)
	}
}
