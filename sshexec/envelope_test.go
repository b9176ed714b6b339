package sshexec

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/remote"
)

func TestEnvelopeRendering(t *testing.T) {
	cmd := remote.Cmd("docker", "compose", "up", "-d").In("/srv/my app")
	want := "trap 'trap - TERM; kill -TERM 0' TERM; exec 3<&0; { cd '/srv/my app' && docker compose up -d\n} <&3 3<&- & exec 3<&-; wait $!"
	if got := envelope(cmd.String()); got != want {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
}

// The envelope is checked with the shells hosts use as login shells, run
// the way sshd runs them: a new session (setsid), `shell -c STRING`.
var envelopeShells = []string{"bash", "dash"}

func shellPath(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is needed to check the envelope: %v", name, err)
	}
	return p
}

func TestEnvelopeKeepsExitStatusAndStdin(t *testing.T) {
	for _, sh := range envelopeShells {
		t.Run(sh, func(t *testing.T) {
			path := shellPath(t, sh)
			for _, code := range []int{0, 1, 3, 127, 200} {
				c := remote.Cmd("sh", "-c", fmt.Sprintf("echo out; echo err >&2; exit %d", code))
				cmd := exec.Command(path, "-c", envelope(c.String()))
				var stdout, stderr bytes.Buffer
				cmd.Stdout, cmd.Stderr = &stdout, &stderr
				err := cmd.Run()
				got := 0
				var exit *exec.ExitError
				if errors.As(err, &exit) {
					got = exit.ExitCode()
				} else if err != nil {
					t.Fatal(err)
				}
				if got != code || stdout.String() != "out\n" || stderr.String() != "err\n" {
					t.Errorf("exit %d: got code %d, stdout %q, stderr %q", code, got, stdout.String(), stderr.String())
				}
			}
			// A background job reads /dev/null unless the envelope hands it
			// the shell's stdin.
			cmd := exec.Command(path, "-c", envelope(remote.Cmd("cat").And("echo", "done").String()))
			cmd.Stdin = strings.NewReader("fed on stdin\n")
			out, err := cmd.Output()
			if err != nil || string(out) != "fed on stdin\ndone\n" {
				t.Errorf("stdin: got %q, %v", out, err)
			}
		})
	}
}

func TestEnvelopeTermEndsWholeCommand(t *testing.T) {
	for _, sh := range envelopeShells {
		t.Run(sh, func(t *testing.T) {
			path := shellPath(t, sh)
			// A unique argument finds our processes in /proc.
			marker := fmt.Sprintf("300.%d", rand.Uint32())
			c := remote.Cmd("sleep", marker).And("echo", "never")
			cmd := exec.Command(path, "-c", envelope(c.String()))
			cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
			var out bytes.Buffer
			cmd.Stdout = &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Process.Kill()
			waitFor(t, 5*time.Second, func() bool { return len(procsWithArg(marker)) == 1 })

			start := time.Now()
			if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("shell did not exit after SIGTERM")
			}
			t.Logf("%s exited %v after SIGTERM (%s)", sh, cmd.ProcessState, time.Since(start))
			waitFor(t, 2*time.Second, func() bool { return len(procsWithArg(marker)) == 0 })
			if out.Len() != 0 {
				t.Errorf("the rest of the command ran: %q", out.String())
			}
		})
	}
}

// TestBareCommandSurvivesTerm is the control: without the envelope the
// shell alone gets the signal and the command keeps running, so the test
// above would notice a broken envelope.
func TestBareCommandSurvivesTerm(t *testing.T) {
	marker := fmt.Sprintf("300.%d", rand.Uint32())
	c := remote.Cmd("sleep", marker).And("echo", "never")
	cmd := exec.Command(shellPath(t, "bash"), "-c", c.String())
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	waitFor(t, 5*time.Second, func() bool { return len(procsWithArg(marker)) == 1 })
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	time.Sleep(100 * time.Millisecond)
	if len(procsWithArg(marker)) != 1 {
		t.Fatal("the bare command died with its shell; the envelope test proves nothing")
	}
}

func waitFor(t *testing.T, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s", d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// procsWithArg lists the pids of live processes with arg in their argv.
func procsWithArg(arg string) []string {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	var pids []string
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "cmdline"))
		if err != nil {
			continue
		}
		for _, a := range bytes.Split(b, []byte{0}) {
			if string(a) == arg {
				pids = append(pids, filepath.Base(d))
				break
			}
		}
	}
	return pids
}
