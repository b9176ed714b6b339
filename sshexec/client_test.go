package sshexec

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/hoist-dev/hoist/remote"
)

// silentServer accepts TCP connections on loopback and never says a word,
// like a host whose sshd hangs.
func silentServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var held []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			c.Close()
		}
	})
	return ln.Addr().String()
}

func writeTestKey(t *testing.T) string {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "id_ed25519")
	if err := os.WriteFile(p, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestHandshakeTimeout(t *testing.T) {
	addr := silentServer(t)
	c, err := New(Config{
		User:           "deploy",
		IdentityFiles:  []string{writeTestKey(t)},
		KnownHostsFile: filepath.Join(t.TempDir(), "known_hosts"),
		DialTimeout:    300 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	_, err = c.Run(context.Background(), addr, remote.Cmd("true"))
	var conn *ConnError
	if !errors.As(err, &conn) || conn.Op != "handshake" || !Retryable(err) {
		t.Fatalf("err = %v, want a retryable handshake *ConnError", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("dial timeout of 300ms took %s", took)
	}

	// A caller's deadline shorter than the dial timeout ends its wait.
	c2, err := New(Config{
		User:           "deploy",
		IdentityFiles:  []string{writeTestKey(t)},
		KnownHostsFile: filepath.Join(t.TempDir(), "known_hosts"),
		DialTimeout:    5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start = time.Now()
	_, err = c2.Run(ctx, addr, remote.Cmd("true"))
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 2*time.Second {
		t.Fatalf("err = %v after %s, want the caller's deadline", err, time.Since(start))
	}
	c2.Close()
	if _, err := c2.Run(context.Background(), addr, remote.Cmd("true")); !errors.Is(err, ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
}

func TestAuthErrorWithoutKeys(t *testing.T) {
	c, err := New(Config{User: "deploy", KnownHostsFile: filepath.Join(t.TempDir(), "known_hosts")})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// No keys, no agent: refused before dialing; nothing listens on the
	// address, and it is never contacted.
	_, err = c.Run(context.Background(), "127.0.0.1:1", remote.Cmd("true"))
	var auth *AuthError
	if !errors.As(err, &auth) || Retryable(err) {
		t.Fatalf("err = %v, want *AuthError", err)
	}
	if c.Stats().Open != 0 {
		t.Error("a connection was opened")
	}

	c, err = New(Config{User: "deploy", KnownHostsFile: filepath.Join(t.TempDir(), "known_hosts"),
		IdentityFiles: []string{filepath.Join(t.TempDir(), "missing")}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err = c.Run(context.Background(), "127.0.0.1:1", remote.Cmd("true")); !errors.As(err, &auth) {
		t.Fatalf("missing identity file: err = %v, want *AuthError", err)
	}
}
