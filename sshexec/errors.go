package sshexec

import (
	"errors"
	"fmt"
	"strings"

	"github.com/hoist-dev/hoist/remote"
)

// ErrClosed is returned by a Client after Close.
var ErrClosed = errors.New("sshexec: client closed")

// ConnError is a transport failure: the host could not be reached, the
// connection dropped, or a session could not be opened. Retrying later may
// succeed.
type ConnError struct {
	Host string // the host spec as the caller gave it
	Addr string // resolved user@host:port
	Op   string // "dial", "handshake", "session", "run ...", "upload ..."
	// Started is true when the command had been sent before the
	// connection broke: it may have run, partly or fully.
	Started bool
	Err     error
}

func (e *ConnError) Error() string {
	msg := fmt.Sprintf("ssh %s: %s: %v", hostLabel(e.Host, e.Addr), e.Op, e.Err)
	if e.Started {
		msg += " (the command had started; it may have run)"
	}
	return msg
}

func (e *ConnError) Unwrap() error { return e.Err }

// AuthError means the host refused every key offered. Retrying with the
// same credentials cannot succeed.
type AuthError struct {
	Host string
	Addr string
	Err  error
}

func (e *AuthError) Error() string {
	return fmt.Sprintf("ssh %s: auth: %v", hostLabel(e.Host, e.Addr), e.Err)
}

func (e *AuthError) Unwrap() error { return e.Err }

// HostKeyProblem tells why a host key was refused.
type HostKeyProblem string

const (
	// HostKeyUnknown: known_hosts has no key for the host.
	HostKeyUnknown HostKeyProblem = "unknown"
	// HostKeyChanged: known_hosts has other keys for the host; this may be
	// a man-in-the-middle or a reinstalled host.
	HostKeyChanged HostKeyProblem = "changed"
	// HostKeyRevoked: the key is marked @revoked in known_hosts.
	HostKeyRevoked HostKeyProblem = "revoked"
)

// HostKeyError means the host's key could not be verified. It needs a
// person to look at it: retrying cannot succeed.
type HostKeyError struct {
	Host        string
	Addr        string // the name checked against known_hosts, host:port
	Problem     HostKeyProblem
	KeyType     string // e.g. "ssh-ed25519"
	Fingerprint string // SHA256:..., as ssh-keygen -l prints it
	KnownHosts  string // the known_hosts file consulted
	// Known lists the keys known_hosts has for the host, as
	// "file:line: type SHA256:...", when Problem is HostKeyChanged.
	Known []string
	Err   error // the underlying error, e.g. writing known_hosts failed
}

func (e *HostKeyError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "ssh %s: host key verification failed: ", hostLabel(e.Host, e.Addr))
	switch e.Problem {
	case HostKeyUnknown:
		fmt.Fprintf(&b, "%s key %s of %s is not in %s", e.KeyType, e.Fingerprint, e.Addr, e.KnownHosts)
	case HostKeyChanged:
		fmt.Fprintf(&b, "key of %s CHANGED: host offered %s %s, known_hosts has %s",
			e.Addr, e.KeyType, e.Fingerprint, strings.Join(e.Known, "; "))
	case HostKeyRevoked:
		fmt.Fprintf(&b, "%s key %s of %s is revoked in %s", e.KeyType, e.Fingerprint, e.Addr, e.KnownHosts)
	default:
		fmt.Fprintf(&b, "%s key %s of %s", e.KeyType, e.Fingerprint, e.Addr)
	}
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	return b.String()
}

func (e *HostKeyError) Unwrap() error { return e.Err }

// ExitError is a command that ran and exited non-zero (or was killed by a
// signal). The Result returned alongside it holds the full output tails.
type ExitError struct {
	Host    string
	Command string // as rendered by remote.Command.String, without stdin
	Code    int    // -1 when killed by a signal
	Signal  string // e.g. "KILL", when killed by a signal
	// StderrTail is the last few lines of stderr, for the error message.
	StderrTail string
}

func (e *ExitError) Error() string {
	status := fmt.Sprintf("exit status %d", e.Code)
	if e.Signal != "" {
		status = "killed by signal " + e.Signal
	}
	msg := fmt.Sprintf("ssh %s: run %s: %s", e.Host, e.Command, status)
	if e.StderrTail != "" {
		msg += ": " + e.StderrTail
	}
	return msg
}

// ConflictError means Upload found remoteDir already there with other
// content. Upload never overwrites; the caller decides.
type ConflictError struct {
	Host string
	Dir  string
	Want string // digest of the local tree
	Got  string // digest recorded in the remote tree, "" when none
}

func (e *ConflictError) Error() string {
	got := e.Got
	if got == "" {
		got = "no " + digestFile
	}
	return fmt.Sprintf("ssh %s: upload: %s already exists with different content (want %s, found %s)", e.Host, e.Dir, e.Want, got)
}

// Retryable reports whether err is a transport failure worth retrying as
// is. Auth, host key, invalid command, conflict, configuration and closed
// client errors are permanent. Exit errors are reported as not retryable:
// only the caller, who built the command, knows whether its failure is
// transient. Context errors are the caller's own decision.
func Retryable(err error) bool {
	if err == nil {
		return false
	}
	var (
		conn *ConnError
		auth *AuthError
		hk   *HostKeyError
	)
	switch {
	case errors.As(err, &auth), errors.As(err, &hk),
		errors.Is(err, remote.ErrInvalidCommand), errors.Is(err, ErrClosed):
		return false
	case errors.As(err, &conn):
		return true
	}
	return false
}

func hostLabel(host, addr string) string {
	if addr == "" || addr == host {
		return host
	}
	return host + " (" + addr + ")"
}

// stderrTail keeps the last lines of stderr short enough for an error
// message; the Result has the rest.
func stderrTail(stderr string) string {
	const maxLines, maxBytes = 5, 2048
	s := strings.TrimRight(stderr, "\n")
	if len(s) > maxBytes {
		s = s[len(s)-maxBytes:]
	}
	lines := strings.Split(s, "\n")
	if len(lines) > maxLines {
		lines = lines[len(lines)-maxLines:]
	}
	return strings.Join(lines, "\n")
}
