package sshexec

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/kevinburke/ssh_config"
	"golang.org/x/crypto/ssh"
)

// Client runs commands on hosts over SSH, reusing one connection per
// resolved user@host:port for the life of the process. It is safe for
// concurrent use.
type Client struct {
	cfg    Config
	sshcfg *ssh_config.Config
	keys   *hostKeys
	// ctx bounds every dial; Close cancels it. Dials are shared by all
	// callers waiting for a host, so no single caller's ctx may abort one.
	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	closed  bool
	conns   map[string]*conn
	dialing map[string]*dialCall

	// dialSlots holds one token per connection being started (TCP dial
	// plus handshake): at most MaxDialing.
	dialSlots chan struct{}

	dials atomic.Int64
}

type dialCall struct {
	done chan struct{}
	conn *conn
	err  error
}

// New checks cfg, fills in defaults and reads the ssh config file. It does
// not connect: connections are made by the first Run to each host.
func New(cfg Config) (*Client, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	sc, err := loadSSHConfig(cfg.SSHConfigFile)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Client{
		cfg:       cfg,
		sshcfg:    sc,
		keys:      &hostKeys{file: cfg.KnownHostsFile, policy: cfg.HostKeyPolicy},
		ctx:       ctx,
		cancel:    cancel,
		conns:     map[string]*conn{},
		dialing:   map[string]*dialCall{},
		dialSlots: make(chan struct{}, cfg.MaxDialing),
	}, nil
}

// Close closes every connection; running commands fail with a ConnError.
func (c *Client) Close() error {
	c.mu.Lock()
	c.closed = true
	conns := c.conns
	c.conns = map[string]*conn{}
	c.mu.Unlock()
	c.cancel()
	for _, cn := range conns {
		cn.close()
	}
	return nil
}

// Stats is a snapshot of the client's connections.
type Stats struct {
	Dials int64 // connection attempts since New, jump hosts included
	Open  int   // live connections
}

// Stats reports how many connections were dialed and are open.
func (c *Client) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	open := 0
	for _, cn := range c.conns {
		if cn.alive() {
			open++
		}
	}
	return Stats{Dials: c.dials.Load(), Open: open}
}

func (c *Client) resolve(host string) (*target, error) {
	t, err := resolveTarget(c.sshcfg, c.cfg, host, true)
	if err != nil {
		return nil, fmt.Errorf("sshexec: %w", err)
	}
	return t, nil
}

// connect returns a live connection to t, dialing one when there is none
// or the last one died. Concurrent callers for one host share one dial.
func (c *Client) connect(ctx context.Context, t *target) (*conn, error) {
	key := t.key()
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, ErrClosed
	}
	if cn := c.conns[key]; cn != nil && cn.alive() {
		c.mu.Unlock()
		return cn, nil
	}
	call := c.dialing[key]
	if call == nil {
		call = &dialCall{done: make(chan struct{})}
		c.dialing[key] = call
		go c.dialShared(key, t, call)
	}
	c.mu.Unlock()
	select {
	case <-call.done:
		return call.conn, call.err
	case <-ctx.Done():
		return nil, fmt.Errorf("ssh %s: connect: %w", t.spec, ctx.Err())
	}
}

func (c *Client) dialShared(key string, t *target, call *dialCall) {
	cn, err := c.dial(t)
	if err != nil && !errors.Is(err, ErrClosed) && c.cfg.OnConnectError != nil {
		c.cfg.OnConnectError(err)
	}
	c.mu.Lock()
	delete(c.dialing, key)
	if err == nil {
		if c.closed {
			cn.close()
			cn, err = nil, ErrClosed
		} else {
			c.conns[key] = cn
		}
	}
	c.mu.Unlock()
	call.conn, call.err = cn, err
	close(call.done)
}

func (c *Client) dial(t *target) (*conn, error) {
	c.dials.Add(1)

	// Keys and known_hosts first: a missing key fails without touching
	// the network or waiting for a slot.
	signers, doneAgent, err := c.signersFor(t)
	if err != nil {
		return nil, err
	}
	defer doneAgent()
	checkHostKey, algos, err := c.keys.forHost(t)
	if err != nil {
		return nil, fmt.Errorf("ssh %s: %w", t.spec, err)
	}

	// The jump host's connection comes before our slot: its own dial
	// needs one, and dials holding every slot while they wait for their
	// jump hosts would wait forever.
	var jc *conn
	if t.jump != nil {
		jc, err = c.connect(c.ctx, t.jump)
		if err != nil {
			if c.ctx.Err() != nil {
				return nil, ErrClosed
			}
			return nil, fmt.Errorf("ssh %s: via jump host %s: %w", t.spec, t.jump.spec, err)
		}
	}

	release, err := c.dialSlot(t)
	if err != nil {
		return nil, err
	}
	// Held until the handshake has ended either way; what follows it
	// here takes no time.
	defer release()
	// The timeout starts once the slot is ours: a host must not fail
	// for the time it waited behind others.
	ctx, cancel := context.WithTimeout(c.ctx, c.cfg.DialTimeout)
	defer cancel()

	raw, err := c.dialTCP(ctx, t, jc)
	if err != nil {
		return nil, err
	}
	// ssh.NewClientConn takes no context: closing the socket is the only
	// way to bound the handshake. Deadlines would not do: a channel
	// through a jump host does not support them.
	stop := context.AfterFunc(ctx, func() { raw.Close() })
	sc := &ssh.ClientConfig{
		User:              t.user,
		Auth:              []ssh.AuthMethod{ssh.PublicKeys(signers...)},
		HostKeyCallback:   checkHostKey,
		HostKeyAlgorithms: algos,
	}
	sshConn, chans, reqs, err := ssh.NewClientConn(raw, t.addr(), sc)
	aborted := !stop()
	if err != nil {
		raw.Close()
		var hk *HostKeyError
		switch {
		case errors.As(err, &hk):
			return nil, hk
		case aborted && c.ctx.Err() != nil:
			return nil, ErrClosed
		case aborted:
			return nil, &ConnError{Host: t.spec, Addr: t.String(), Op: "handshake", Err: fmt.Errorf("timed out after %s", c.cfg.DialTimeout)}
		case strings.Contains(err.Error(), "unable to authenticate"):
			// x/crypto has no typed error for this.
			return nil, &AuthError{Host: t.spec, Addr: t.String(), Err: err}
		}
		return nil, &ConnError{Host: t.spec, Addr: t.String(), Op: "handshake", Err: err}
	}
	if aborted {
		sshConn.Close()
		return nil, &ConnError{Host: t.spec, Addr: t.String(), Op: "handshake", Err: fmt.Errorf("timed out after %s", c.cfg.DialTimeout)}
	}
	client := ssh.NewClient(sshConn, chans, reqs)
	c.cfg.Logger.Info("sshexec: connected", "host", t.spec, "addr", t.key())
	return newConn(t, client, c.cfg.MaxSessions, c.cfg.KeepAliveInterval, c.cfg.Logger), nil
}

// dialSlot waits for one of the MaxDialing slots of connection starts;
// the func returned frees it. Only Close ends the wait: a dial is shared
// by every caller waiting for the host, and each caller's own ctx already
// ends its wait in connect.
func (c *Client) dialSlot(t *target) (func(), error) {
	release := func() { <-c.dialSlots }
	select {
	case c.dialSlots <- struct{}{}:
		return release, nil
	default:
	}
	c.cfg.Logger.Debug("sshexec: waiting for a dial slot", "host", t.spec, "max_dialing", c.cfg.MaxDialing)
	select {
	case c.dialSlots <- struct{}{}:
		return release, nil
	case <-c.ctx.Done():
		return nil, ErrClosed
	}
}

// dialTCP opens the byte stream the SSH handshake runs over: a TCP
// connection, or a direct-tcpip channel through jc, the jump host's pooled
// connection, when t has a jump host.
func (c *Client) dialTCP(ctx context.Context, t *target, jc *conn) (net.Conn, error) {
	if jc == nil {
		var d net.Dialer
		raw, err := d.DialContext(ctx, "tcp", t.addr())
		if err != nil {
			if c.ctx.Err() != nil {
				return nil, ErrClosed
			}
			return nil, &ConnError{Host: t.spec, Addr: t.String(), Op: "dial", Err: err}
		}
		return raw, nil
	}
	raw, err := jc.client.DialContext(ctx, "tcp", t.addr())
	if err != nil {
		if c.ctx.Err() != nil {
			return nil, ErrClosed
		}
		return nil, &ConnError{Host: t.spec, Addr: t.String(), Op: "dial via " + t.jump.String(), Err: err}
	}
	return raw, nil
}
