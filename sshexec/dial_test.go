package sshexec

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
)

// An HTTP request through Dial reaches a server only the SSH host can
// reach (here: loopback), over the one pooled connection, and a second
// dial reuses it.
func TestDialForwardsThroughThePooledConnection(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTeapot)
		fmt.Fprint(w, "from "+r.URL.Path)
	}))
	defer srv.Close()
	sshd := newFakeSSHD(t)
	c := loopbackClient(t)
	addr := strings.TrimPrefix(srv.URL, "http://")
	for i := range 2 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		conn, err := c.Dial(ctx, sshd.addr, addr)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "GET /up HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", addr)
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		conn.Close()
		if resp.StatusCode != http.StatusTeapot || string(body) != "from /up" {
			t.Fatalf("dial %d: %d %q", i+1, resp.StatusCode, body)
		}
	}
	if n := sshd.forwards(); n != 2 {
		t.Errorf("%d channels forwarded, want 2", n)
	}
	if s := c.Stats(); s.Dials != 1 || s.Open != 1 {
		t.Errorf("stats %+v: want both dials on one connection", s)
	}
}

// The host cannot reach the address: an error naming host and address,
// and the connection stays usable.
func TestDialRefusedByTheTarget(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	sshd := newFakeSSHD(t)
	c := loopbackClient(t)
	_, err = c.Dial(context.Background(), sshd.addr, closed)
	if err == nil || !strings.Contains(err.Error(), "forward to "+closed) || !strings.Contains(err.Error(), "connect failed") {
		t.Fatalf("err = %v, want the forward to %s refused", err, closed)
	}
	var conn *ConnError
	if errors.As(err, &conn) {
		t.Fatalf("a refused target is not a broken connection: %v", err)
	}
	if err := runWithin(c, 5*time.Second, sshd.addr); err != nil {
		t.Fatalf("the connection after a refused forward: %v", err)
	}
}

// A bare channel refuses deadlines; Dial's connection honours them, so a
// server that never answers cannot hang a probe.
func TestDialDeadline(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // accepts, never answers
		}
	}()
	sshd := newFakeSSHD(t)
	c := loopbackClient(t)
	conn, err := c.Dial(context.Background(), sshd.addr, ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(200 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = conn.Read(make([]byte, 1))
	var ne net.Error
	if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("read past the deadline: %v, want os.ErrDeadlineExceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("the read ended %s after a 200ms deadline", d)
	}

	// A deadline cleared before it passes does not end the connection.
	conn2, err := c.Dial(context.Background(), sshd.addr, ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn2.Close()
	conn2.SetDeadline(time.Now().Add(100 * time.Millisecond))
	conn2.SetDeadline(time.Time{})
	time.Sleep(300 * time.Millisecond)
	if _, err := conn2.Write([]byte("x")); err != nil {
		t.Fatalf("write after the deadline was cleared: %v", err)
	}
}
