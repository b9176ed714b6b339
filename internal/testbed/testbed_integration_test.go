//go:build integration

package testbed

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// The env file, the ssh config and known_hosts written by `up` name the
// same hosts, and each is its own machine: `ssh hN hostname` says hN. Holds
// for whatever HOIST_TESTBED_HOSTS the test bed was brought up with.
func TestEveryListedHostAnswersAsItself(t *testing.T) {
	env := Load(t)
	cfg, err := os.ReadFile(env.SSHConfig)
	if err != nil {
		t.Fatal(err)
	}
	kh, err := os.ReadFile(env.KnownHosts)
	if err != nil {
		t.Fatal(err)
	}
	n := len(env.Hosts)
	for i := 1; i <= n; i++ {
		if want := fmt.Sprintf("10.77.0.%d", 10+i); env.Host(i) != want {
			t.Errorf("env: h%d is %s, want %s", i, env.Host(i), want)
		}
		if want := fmt.Sprintf("Host h%d\n  HostName %s\n", i, env.Host(i)); !strings.Contains(string(cfg), want) {
			t.Errorf("%s lacks %q", env.SSHConfig, want)
		}
		if !strings.Contains("\n"+string(kh), "\n"+env.Host(i)+" ssh-ed25519 ") {
			t.Errorf("%s has no key for h%d (%s)", env.KnownHosts, i, env.Host(i))
		}
	}
	if extra := fmt.Sprintf("Host h%d\n", n+1); strings.Contains(string(cfg), extra) {
		t.Errorf("%s lists h%d, env lists %d hosts", env.SSHConfig, n+1, n)
	}
	if lines := strings.Count(strings.TrimSpace(string(kh)), "\n") + 1; lines != n {
		t.Errorf("%s has %d lines, env lists %d hosts", env.KnownHosts, lines, n)
	}

	got := make([]string, n)
	var wg sync.WaitGroup
	for i := 1; i <= n; i++ {
		wg.Go(func() {
			out, err := exec.Command("ssh", "-F", env.SSHConfig, "h"+strconv.Itoa(i), "hostname").CombinedOutput()
			got[i-1] = strings.TrimSpace(string(out))
			if err != nil {
				got[i-1] += " (" + err.Error() + ")"
			}
		})
	}
	wg.Wait()
	for i, h := range got {
		if want := "h" + strconv.Itoa(i+1); h != want {
			t.Errorf("ssh h%d hostname = %q, want %q", i+1, h, want)
		}
	}
}

// A bad HOIST_TESTBED_HOSTS is refused before anything is done, and a fault
// command names no host beyond those `up` brought up.
func TestHostCountChecked(t *testing.T) {
	env := Load(t)
	run := func(count string, args ...string) (string, error) {
		cmd := exec.Command(env.Script, args...)
		cmd.Env = append(os.Environ(), "HOIST_TB_DIR="+env.Dir, "HOIST_TESTBED_HOSTS="+count)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		return out.String(), err
	}
	for _, bad := range []string{"0", "201", "010", "3x", "-1"} {
		out, err := run(bad, "status")
		if want := "HOIST_TESTBED_HOSTS must be a host count 1..200, got '" + bad + "'"; err == nil || !strings.Contains(out, want) {
			t.Errorf("HOIST_TESTBED_HOSTS=%s status: err=%v, output %q, want %q", bad, err, out, want)
		}
	}
	n := len(env.Hosts)
	beyond := strconv.Itoa(n + 1)
	out, err := run(beyond, "link-fast", beyond)
	if want := "h" + beyond + " is not up: the test bed runs h1..h" + strconv.Itoa(n); err == nil || !strings.Contains(out, want) {
		t.Errorf("link-fast %s: err=%v, output %q, want %q", beyond, err, out, want)
	}
	// status for more hosts than are up: the missing one and the count are DOWN.
	out, err = run(beyond, "status")
	for _, want := range []string{
		fmt.Sprintf("%-16s DOWN  h1..h%d (env file: %d)\n", "env-hosts", n+1, n),
		fmt.Sprintf("%-16s DOWN  10.77.0.%d:22\n", "h"+beyond+"-sshd", 10+n+1),
	} {
		if err == nil || !strings.Contains(out, want) {
			t.Errorf("HOIST_TESTBED_HOSTS=%s status: err=%v, want a line %q in\n%s", beyond, err, want, out)
		}
	}
}
