package sshexec

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
)

// conn is one SSH connection shared by every Run and Upload to its host.
type conn struct {
	t      *target
	client *ssh.Client
	log    *slog.Logger
	// slots holds one token per open session: OpenSSH refuses sessions
	// beyond its MaxSessions instead of queueing them.
	slots chan struct{}

	dead     chan struct{}
	deadOnce sync.Once
	deadErr  error
}

func newConn(t *target, client *ssh.Client, maxSessions int, keepAlive time.Duration, log *slog.Logger) *conn {
	cn := &conn{
		t:      t,
		client: client,
		log:    log,
		slots:  make(chan struct{}, maxSessions),
		dead:   make(chan struct{}),
	}
	go func() {
		err := client.Wait()
		if err == nil {
			err = errors.New("connection closed")
		}
		cn.markDead(err)
	}()
	if keepAlive > 0 {
		go cn.keepAlive(keepAlive)
	}
	return cn
}

func (cn *conn) alive() bool {
	select {
	case <-cn.dead:
		return false
	default:
		return true
	}
}

// markDead closes the connection; the next Run to the host dials anew.
func (cn *conn) markDead(err error) {
	cn.deadOnce.Do(func() {
		cn.deadErr = err
		close(cn.dead)
		cn.client.Close()
		cn.log.Info("sshexec: connection closed", "host", cn.t.spec, "addr", cn.t.key(), "reason", err)
	})
}

func (cn *conn) close() { cn.markDead(ErrClosed) }

// keepAlive detects a connection that died silently (host rebooted, cable
// cut): without it a Run would hang until TCP gives up, minutes later.
// OpenSSH answers the unknown request with a failure, which is an answer.
func (cn *conn) keepAlive(every time.Duration) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-cn.dead:
			return
		case <-tick.C:
		}
		answered := make(chan error, 1)
		go func() {
			_, _, err := cn.client.SendRequest("keepalive@openssh.com", true, nil)
			answered <- err
		}()
		timeout := time.NewTimer(every)
		select {
		case err := <-answered:
			timeout.Stop()
			if err != nil {
				cn.markDead(fmt.Errorf("keepalive: %w", err))
				return
			}
		case <-timeout.C:
			cn.markDead(fmt.Errorf("keepalive: no answer within %s", every))
			return
		case <-cn.dead:
			timeout.Stop()
			return
		}
	}
}

// errBroken marks a session that could not be opened because the
// connection is gone: nothing was sent, so the caller may retry on a new
// connection.
var errBroken = errors.New("connection broken")

// openSession opens a session within the connection's session limit. The
// returned release frees the slot; call it after the session is closed.
func (cn *conn) openSession(ctx context.Context) (*ssh.Session, func(), error) {
	select {
	case cn.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	case <-cn.dead:
		return nil, nil, fmt.Errorf("%w: %v", errBroken, cn.deadErr)
	}
	release := func() { <-cn.slots }
	for attempt := 0; ; attempt++ {
		s, err := cn.newSession(ctx)
		if err == nil {
			return s, release, nil
		}
		var refused *ssh.OpenChannelError
		if errors.As(err, &refused) && attempt < 4 {
			// sshd frees a session slot only after the close handshake;
			// a slot we just released may still be taken on its side.
			select {
			case <-time.After(time.Duration(50<<attempt) * time.Millisecond):
				continue
			case <-ctx.Done():
				err = ctx.Err()
			}
		}
		release()
		switch {
		case errors.As(err, &refused), ctx.Err() != nil:
			return nil, nil, err
		default:
			cn.markDead(err)
			return nil, nil, fmt.Errorf("%w: %v", errBroken, err)
		}
	}
}

// newSession is ssh.Client.NewSession bounded by ctx: on a connection
// that died silently the channel open would wait for TCP to give up.
func (cn *conn) newSession(ctx context.Context) (*ssh.Session, error) {
	type result struct {
		s   *ssh.Session
		err error
	}
	ch := make(chan result, 1)
	go func() {
		s, err := cn.client.NewSession()
		ch <- result{s, err}
	}()
	select {
	case r := <-ch:
		return r.s, r.err
	case <-ctx.Done():
		go func() {
			if r := <-ch; r.s != nil {
				r.s.Close()
			}
		}()
		return nil, ctx.Err()
	}
}
