package sshexec

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/remote"
)

// OnConnectError hears of every failed connection attempt, once per
// attempt however many commands waited for it, and not of a client
// closed under a dial: that is the worker stopping, not a host failing.
func TestOnConnectError(t *testing.T) {
	var mu sync.Mutex
	var got []error
	c, err := New(Config{
		User:           "deploy",
		IdentityFiles:  []string{writeTestKey(t)},
		KnownHostsFile: filepath.Join(t.TempDir(), "known_hosts"),
		DialTimeout:    300 * time.Millisecond,
		OnConnectError: func(err error) { mu.Lock(); got = append(got, err); mu.Unlock() },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	calls := func() []error { mu.Lock(); defer mu.Unlock(); return append([]error(nil), got...) }

	// Refused: nothing listens on port 1.
	if _, err := c.Run(context.Background(), "127.0.0.1:1", remote.Cmd("true")); err == nil {
		t.Fatal("a run on a closed port succeeded")
	}
	var conn *ConnError
	if cs := calls(); len(cs) != 1 || !errors.As(cs[0], &conn) || conn.Op != "dial" {
		t.Fatalf("after a refused dial: %v, want one dial *ConnError", cs)
	}

	// Three commands wait on one handshake that times out: one attempt.
	addr := silentServer(t)
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() { defer wg.Done(); c.Run(context.Background(), addr, remote.Cmd("true")) }()
	}
	wg.Wait()
	if cs := calls(); len(cs) != 2 || !errors.As(cs[1], &conn) || conn.Op != "handshake" {
		t.Fatalf("after a handshake timeout shared by 3 runs: %v, want one more, a handshake *ConnError", cs)
	}

	// Closed while dialing: not a host's failure.
	slow, err := New(Config{User: "deploy", IdentityFiles: []string{writeTestKey(t)}, KnownHostsFile: filepath.Join(t.TempDir(), "known_hosts"),
		DialTimeout: 5 * time.Second, OnConnectError: func(err error) { mu.Lock(); got = append(got, err); mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); slow.Run(context.Background(), addr, remote.Cmd("true")) }()
	time.Sleep(100 * time.Millisecond)
	slow.Close()
	<-done
	time.Sleep(50 * time.Millisecond) // the dial's own goroutine reports after the run returned
	if cs := calls(); len(cs) != 2 {
		t.Fatalf("a client closed under a dial reported %v", cs[2:])
	}
}
