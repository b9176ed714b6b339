package sshexec

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/remote"
)

// stallHosts are loopback listeners that accept TCP connections and never
// answer the SSH handshake, like hosts whose sshd hangs. They count the
// connections open at once across all of them: handshakes the client has
// started and not given up on.
type stallHosts struct {
	addrs []string

	mu       sync.Mutex
	conns    []net.Conn
	open     int
	peak     int
	accepted int
}

// stallSettle is how long after its accept a connection samples the count
// of open ones. Counting at the accept itself would race: the client
// closes a timed-out connection and at once starts the next, and this side
// may see the new connection before the old one's EOF.
const stallSettle = 50 * time.Millisecond

func newStallHosts(t *testing.T, n int) *stallHosts {
	t.Helper()
	s := &stallHosts{}
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		s.addrs = append(s.addrs, ln.Addr().String())
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go s.hold(c)
			}
		}()
		t.Cleanup(func() { ln.Close() })
	}
	t.Cleanup(func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, c := range s.conns {
			c.Close()
		}
	})
	return s
}

func (s *stallHosts) hold(c net.Conn) {
	s.mu.Lock()
	s.conns = append(s.conns, c)
	s.open++
	s.accepted++
	s.mu.Unlock()
	sample := time.AfterFunc(stallSettle, func() {
		s.mu.Lock()
		s.peak = max(s.peak, s.open)
		s.mu.Unlock()
	})
	io.Copy(io.Discard, c) // the client's banner, then nothing until it gives up
	sample.Stop()
	s.mu.Lock()
	s.open--
	s.mu.Unlock()
}

func (s *stallHosts) counts() (accepted, peak int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accepted, s.peak
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("still waiting after 5s for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// loopbackClient is a Client for loopback test servers: a fresh key, and a
// fresh known_hosts that records their keys.
func loopbackClient(t *testing.T, mods ...func(*Config)) *Client {
	t.Helper()
	cfg := Config{
		User:           "deploy",
		IdentityFiles:  []string{writeTestKey(t)},
		KnownHostsFile: filepath.Join(t.TempDir(), "known_hosts"),
		HostKeyPolicy:  AcceptNew,
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

func runWithin(c *Client, d time.Duration, host string) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	_, err := c.Run(ctx, host, remote.Cmd("true"))
	return err
}

// runAll runs `true` on every host at once and returns their errors in
// the hosts' order.
func runAll(c *Client, d time.Duration, hosts []string) []error {
	errs := make([]error, len(hosts))
	var wg sync.WaitGroup
	for i, h := range hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = runWithin(c, d, h)
		}()
	}
	wg.Wait()
	return errs
}

func wantHandshakeTimeout(t *testing.T, host string, err error, timeout time.Duration) {
	t.Helper()
	var conn *ConnError
	if !errors.As(err, &conn) || conn.Op != "handshake" || conn.Host != host ||
		!strings.Contains(err.Error(), host) || !strings.Contains(err.Error(), fmt.Sprintf("timed out after %s", timeout)) {
		t.Errorf("%s: err = %v, want a handshake *ConnError naming the host, timed out after %s", host, err, timeout)
	}
}

func TestMaxDialingCapsConnectionStarts(t *testing.T) {
	const timeout = 300 * time.Millisecond
	hosts := newStallHosts(t, 10)
	c := loopbackClient(t, func(cfg *Config) {
		cfg.MaxDialing = 3
		cfg.DialTimeout = timeout
	})
	start := time.Now()
	errs := runAll(c, 20*time.Second, hosts.addrs)
	for i, err := range errs {
		wantHandshakeTimeout(t, hosts.addrs[i], err, timeout)
	}
	accepted, peak := hosts.counts()
	// Every host was dialed: the time waiting for a slot was not taken
	// from any host's DialTimeout.
	if accepted != len(hosts.addrs) {
		t.Errorf("%d of %d hosts were dialed", accepted, len(hosts.addrs))
	}
	if peak != 3 {
		t.Errorf("at most %d handshakes were open at once, want 3 (MaxDialing)", peak)
	}
	t.Logf("10 hung hosts, at most %d at once, all done after %s", peak, time.Since(start))
}

func TestHungHostDoesNotStallOthers(t *testing.T) {
	const timeout = 1500 * time.Millisecond
	hung := newStallHosts(t, 1)
	var healthy []string
	for range 6 {
		healthy = append(healthy, newFakeSSHD(t).addr)
	}
	c := loopbackClient(t, func(cfg *Config) {
		cfg.MaxDialing = 2
		cfg.DialTimeout = timeout
	})
	hungDone := make(chan error, 1)
	go func() { hungDone <- runWithin(c, 20*time.Second, hung.addrs[0]) }()
	waitUntil(t, "the hung host's connection", func() bool { a, _ := hung.counts(); return a == 1 })

	// The hung dial holds one slot until its DialTimeout; the healthy
	// hosts go through the other.
	start := time.Now()
	for i, err := range runAll(c, 20*time.Second, healthy) {
		if err != nil {
			t.Errorf("%s: %v", healthy[i], err)
		}
	}
	select {
	case err := <-hungDone:
		t.Fatalf("the healthy hosts finished only after the hung host's dial ended (%v): they waited for its slot", err)
	default:
	}
	t.Logf("6 healthy hosts connected in %s beside a hung one", time.Since(start))
	wantHandshakeTimeout(t, hung.addrs[0], <-hungDone, timeout)
	if s := c.Stats(); s.Dials != 7 || s.Open != 6 {
		t.Errorf("stats %+v, want 7 dials and the 6 healthy connections open", s)
	}
}

// A dial waits for its jump host's connection before taking a slot:
// holding it meanwhile, a single slot would deadlock.
func TestJumpHostDialsWithOneSlot(t *testing.T) {
	jump := newFakeSSHD(t)
	sshConfig := fmt.Sprintf("Host jump\n  HostName 127.0.0.1\n  Port %s\n", port(t, jump.addr))
	var targets []string
	for i := range 3 {
		name := fmt.Sprintf("target%d", i+1)
		targets = append(targets, name)
		sshConfig += fmt.Sprintf("Host %s\n  HostName 127.0.0.1\n  Port %s\n  ProxyJump jump\n", name, port(t, newFakeSSHD(t).addr))
	}
	cfgFile := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(cfgFile, []byte(sshConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	c := loopbackClient(t, func(cfg *Config) {
		cfg.MaxDialing = 1
		cfg.SSHConfigFile = cfgFile
	})
	for i, err := range runAll(c, 5*time.Second, targets) {
		if err != nil {
			t.Errorf("%s: %v", targets[i], err)
		}
	}
	if n := jump.forwards(); n != 3 {
		t.Errorf("%d connections went through the jump host, want 3", n)
	}
	if s := c.Stats(); s.Dials != 4 || s.Open != 4 {
		t.Errorf("stats %+v, want the jump host and 3 targets dialed once and open", s)
	}
}

// Waiting for a slot is bounded by the caller's ctx and by Close, not by
// the DialTimeout of a dial that has not started.
func TestDialSlotWait(t *testing.T) {
	hosts := newStallHosts(t, 2)
	c := loopbackClient(t, func(cfg *Config) {
		cfg.MaxDialing = 1
		cfg.DialTimeout = 10 * time.Second
	})
	first := make(chan error, 1)
	go func() { first <- runWithin(c, 20*time.Second, hosts.addrs[0]) }()
	waitUntil(t, "the first host's connection", func() bool { a, _ := hosts.counts(); return a == 1 })

	start := time.Now()
	err := runWithin(c, 200*time.Millisecond, hosts.addrs[1])
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 2*time.Second {
		t.Fatalf("queued behind a hung dial: err = %v after %s, want the caller's deadline", err, time.Since(start))
	}
	if a, _ := hosts.counts(); a != 1 {
		t.Fatalf("%d hosts dialed while the only slot was held", a)
	}

	start = time.Now()
	c.Close()
	if err := <-first; !errors.Is(err, ErrClosed) || time.Since(start) > 2*time.Second {
		t.Fatalf("dial in progress at Close: err = %v after %s, want ErrClosed at once", err, time.Since(start))
	}
	// The queued dial, its caller gone, ends too.
	waitUntil(t, "the queued dial to end", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return len(c.dialing) == 0
	})
}

func port(t *testing.T, addr string) string {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
