package sshexec

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/hoist-dev/hoist/remote"
)

func TestRetryable(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("activity: %w", err) }
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"conn", &ConnError{Host: "h1", Op: "dial", Err: io.EOF}, true},
		{"wrapped conn", wrap(&ConnError{Host: "h1", Op: "run x", Started: true, Err: io.EOF}), true},
		{"auth", &AuthError{Host: "h1", Err: errors.New("denied")}, false},
		{"host key", wrap(&HostKeyError{Host: "h1", Problem: HostKeyChanged}), false},
		// A jump host's auth failure reaches the caller wrapped.
		{"auth via jump", fmt.Errorf("ssh h2: via jump host h1: %w", &AuthError{Host: "h1"}), false},
		{"invalid command", fmt.Errorf("ssh h1: %w", remote.Command{}.Validate()), false},
		{"exit", &ExitError{Host: "h1", Command: "false", Code: 1}, false},
		{"conflict", &ConflictError{Host: "h1", Dir: "/srv/x"}, false},
		{"closed", ErrClosed, false},
		{"cancelled", fmt.Errorf("ssh h1: run x: %w", context.Canceled), false},
		{"plain", errors.New("something"), false},
		{"nil", nil, false},
	}
	for _, c := range cases {
		if got := Retryable(c.err); got != c.want {
			t.Errorf("%s: Retryable = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestErrorMessages(t *testing.T) {
	cases := []struct {
		err  error
		want []string
	}{
		{&ConnError{Host: "h1", Addr: "deploy@10.0.0.1:22", Op: "dial", Err: errors.New("connection refused")},
			[]string{"ssh h1 (deploy@10.0.0.1:22): dial: connection refused"}},
		{&ConnError{Host: "h1", Op: "run sleep 5", Started: true, Err: io.EOF},
			[]string{"run sleep 5", "it may have run"}},
		{&HostKeyError{Host: "h1", Addr: "10.0.0.1:22", Problem: HostKeyUnknown, KeyType: "ssh-ed25519", Fingerprint: "SHA256:abc", KnownHosts: "/kh"},
			[]string{"h1", "10.0.0.1:22", "SHA256:abc", "not in /kh"}},
		{&HostKeyError{Host: "h1", Addr: "10.0.0.1:22", Problem: HostKeyChanged, KeyType: "ssh-ed25519", Fingerprint: "SHA256:new", KnownHosts: "/kh", Known: []string{"/kh:3: ssh-ed25519 SHA256:old"}},
			[]string{"CHANGED", "SHA256:new", "/kh:3: ssh-ed25519 SHA256:old"}},
		{&ExitError{Host: "h1", Command: "sh -c 'exit 3'", Code: 3, StderrTail: "boom"},
			[]string{"ssh h1: run sh -c 'exit 3': exit status 3: boom"}},
		{&ExitError{Host: "h1", Command: "sleep 9", Code: 137, Signal: "KILL"},
			[]string{"killed by signal KILL"}},
		{&ConflictError{Host: "h1", Dir: "/srv/x", Want: "sha256:a"},
			[]string{"/srv/x already exists", "sha256:a", "no .hoist-digest"}},
	}
	for _, c := range cases {
		msg := c.err.Error()
		for _, w := range c.want {
			if !strings.Contains(msg, w) {
				t.Errorf("%q lacks %q", msg, w)
			}
		}
	}
}

func TestStderrTail(t *testing.T) {
	in := "1\n2\n3\n4\n5\n6\n7\n"
	if got := stderrTail(in); got != "3\n4\n5\n6\n7" {
		t.Errorf("got %q", got)
	}
	long := strings.Repeat("x", 5000)
	if got := stderrTail(long); len(got) != 2048 {
		t.Errorf("got %d bytes", len(got))
	}
}

func TestNewRequiresKnownHosts(t *testing.T) {
	if _, err := New(Config{User: "u"}); err == nil || !strings.Contains(err.Error(), "KnownHostsFile") {
		t.Fatalf("err = %v", err)
	}
	c, err := New(Config{KnownHostsFile: "/nonexistent/known_hosts"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.cfg.Port != 22 || c.cfg.MaxSessions != 10 || c.cfg.MaxOutput != 1<<20 {
		t.Errorf("defaults not applied: %+v", c.cfg)
	}
	// Invalid commands fail before anything is resolved or dialed.
	_, err = c.Run(context.Background(), "nobody-knows-this-host", remote.Command{})
	if !errors.Is(err, remote.ErrInvalidCommand) || Retryable(err) {
		t.Errorf("invalid command: err = %v", err)
	}
	c.Close()
	_, err = c.Run(context.Background(), "u@10.0.0.1", remote.Cmd("true"))
	if !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: err = %v", err)
	}
}
