package sshexec

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"
)

// Dial opens a TCP connection from host to addr ("ip:port") through the
// host's pooled SSH connection: a direct-tcpip channel, as ssh -L opens,
// so nothing need listen outside the host and no tool need be on it. The
// host's sshd must allow it (AllowTcpForwarding, OpenSSH's default yes).
// ctx bounds the dial, as with net.Dialer, not the connection. Unlike a
// bare channel, the connection honours deadlines: one that passes closes
// it, and what was waiting fails with os.ErrDeadlineExceeded.
//
// Channels are not sessions: they take none of MaxSessions' slots.
func (c *Client) Dial(ctx context.Context, host, addr string) (net.Conn, error) {
	t, err := c.resolve(host)
	if err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		cn, err := c.connect(ctx, t)
		if err != nil {
			return nil, err
		}
		raw, err := cn.client.DialContext(ctx, "tcp", addr)
		if err == nil {
			return &deadlineConn{Conn: raw}, nil
		}
		var refused *ssh.OpenChannelError
		switch {
		case ctx.Err() != nil:
			return nil, fmt.Errorf("ssh %s: forward to %s: %w", t.spec, addr, ctx.Err())
		case errors.As(err, &refused) && refused.Reason == ssh.Prohibited:
			return nil, fmt.Errorf("ssh %s: forward to %s: %w (the host's sshd must allow TCP forwarding for the deploy user: AllowTcpForwarding yes)", t.spec, addr, err)
		case errors.As(err, &refused):
			// The host could not reach addr: the connection is fine.
			return nil, fmt.Errorf("ssh %s: forward to %s: %w", t.spec, addr, err)
		}
		// Anything else is the connection: mark it dead, and try once
		// more on a new one, as Run does (nothing was sent).
		cn.markDead(err)
		if attempt == 0 {
			c.cfg.Logger.Info("sshexec: connection was dead, reconnecting", "host", t.spec, "err", err)
			continue
		}
		return nil, &ConnError{Host: t.spec, Addr: t.String(), Op: "forward to " + addr, Err: err}
	}
}

// deadlineConn gives a forwarded channel the deadlines a channel lacks
// (x/crypto's refuse them): a passed deadline closes the channel, since
// a read cut short cannot be resumed on it anyway.
type deadlineConn struct {
	net.Conn
	mu      sync.Mutex
	timer   *time.Timer
	expired atomic.Bool
}

func (c *deadlineConn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
	if t.IsZero() || c.expired.Load() {
		return nil
	}
	c.timer = time.AfterFunc(time.Until(t), func() {
		c.expired.Store(true)
		c.Conn.Close()
	})
	return nil
}

// SetReadDeadline and SetWriteDeadline set the one deadline: either
// passing ends the connection.
func (c *deadlineConn) SetReadDeadline(t time.Time) error  { return c.SetDeadline(t) }
func (c *deadlineConn) SetWriteDeadline(t time.Time) error { return c.SetDeadline(t) }

func (c *deadlineConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	return n, c.why(err)
}

func (c *deadlineConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	return n, c.why(err)
}

func (c *deadlineConn) Close() error {
	c.mu.Lock()
	if c.timer != nil {
		c.timer.Stop()
	}
	c.mu.Unlock()
	return c.Conn.Close()
}

// why names a failure the deadline caused as net.Conn does.
func (c *deadlineConn) why(err error) error {
	if err != nil && c.expired.Load() {
		return os.ErrDeadlineExceeded
	}
	return err
}
