package sshexec

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/kevinburke/ssh_config"
)

// HostKeyPolicy decides what happens to a host key known_hosts does not
// have. A key that differs from the recorded one is refused under every
// policy.
type HostKeyPolicy int

const (
	// Strict refuses hosts that are not in known_hosts
	// (StrictHostKeyChecking=yes).
	Strict HostKeyPolicy = iota
	// AcceptNew records the key of a host seen for the first time in the
	// known_hosts file and connects (StrictHostKeyChecking=accept-new).
	AcceptNew
)

func (p HostKeyPolicy) String() string {
	switch p {
	case Strict:
		return "strict"
	case AcceptNew:
		return "accept-new"
	}
	return fmt.Sprintf("HostKeyPolicy(%d)", int(p))
}

// Defaults applied by New to zero fields of Config.
const (
	DefaultPort              = 22
	DefaultDialTimeout       = 10 * time.Second
	DefaultKeepAliveInterval = 15 * time.Second
	DefaultMaxSessions       = 10
	DefaultMaxOutput         = 1 << 20
	DefaultTermGrace         = 2 * time.Second
	// DefaultMaxDialing is 30 because that is where Kamal caps its SSH
	// connection starts, after its users' fan-out broke past ~15 hosts
	// (connection resets; at 90+ hosts failed DNS lookups and file
	// descriptor limits: basecamp/kamal#326, #399). OpenSSH's own
	// MaxStartups 10:30:100 is per server, so it does not bound a client
	// starting connections to many servers.
	DefaultMaxDialing = 30
)

// Config is everything a Client needs. The package reads no environment
// variables and no files other than those named here.
type Config struct {
	// User is the login user when neither the host spec nor the ssh config
	// names one. Callers usually pass the local user's name.
	User string
	// Port is used when neither the host spec nor the ssh config names
	// one. Default 22.
	Port int
	// IdentityFiles are private keys offered to every host, before any
	// IdentityFile of the ssh config. Keys must not have a passphrase;
	// put those in the agent.
	IdentityFiles []string
	// KnownHostsFile is the known_hosts file host keys are checked against
	// (and appended to under AcceptNew). Required.
	KnownHostsFile string
	HostKeyPolicy  HostKeyPolicy
	// SSHConfigFile, when set, is an OpenSSH client config whose Host
	// aliases, HostName, User, Port, IdentityFile and ProxyJump apply.
	SSHConfigFile string
	// HomeDir expands "~/" in identity file paths from the ssh config.
	HomeDir string
	// AgentSocket is the ssh-agent socket (SSH_AUTH_SOCK) whose keys are
	// offered after the identity files. Empty: no agent.
	AgentSocket string
	// DialTimeout bounds TCP connect plus SSH handshake, counted from
	// when the dial gets its MaxDialing slot. Default 10s.
	DialTimeout time.Duration
	// KeepAliveInterval is the period of keepalive@openssh.com requests;
	// a connection whose keepalive is not answered within one interval is
	// dropped. Default 15s; negative disables keepalives.
	KeepAliveInterval time.Duration
	// MaxSessions caps concurrent sessions on one connection; keep it at
	// or below the server's MaxSessions (OpenSSH default 10). Default 10.
	MaxSessions int
	// MaxDialing caps the connections being started at once across the
	// client: TCP dial plus SSH handshake, jump hosts included. Further
	// dials wait for a slot; DialTimeout starts once a dial has one, so
	// waiting is not counted against a host. Default 30.
	MaxDialing int
	// MaxOutput caps the bytes of stdout and of stderr kept per command
	// (the tail is kept). Default 1 MiB.
	MaxOutput int
	// TermGrace is how long a cancelled command gets between SIGTERM and
	// the session being torn down. Default 2s.
	TermGrace time.Duration
	// Logger receives connection events and the commands run (never their
	// stdin). Default: discard.
	Logger *slog.Logger
	// OnConnectError, when set, is called with the error of every failed
	// attempt to connect to a host (keys, dial, handshake, auth, host
	// key; not a closed client), once per attempt however many callers
	// waited for it. It must not block: the worker counts them.
	OnConnectError func(error)
}

func (c Config) withDefaults() (Config, error) {
	if c.KnownHostsFile == "" {
		return c, errors.New("sshexec: Config.KnownHostsFile is required: host keys are always verified")
	}
	if c.HostKeyPolicy != Strict && c.HostKeyPolicy != AcceptNew {
		return c, fmt.Errorf("sshexec: unknown host key policy %v", c.HostKeyPolicy)
	}
	if c.Port == 0 {
		c.Port = DefaultPort
	}
	if c.Port < 0 || c.Port > 65535 {
		return c, fmt.Errorf("sshexec: invalid default port %d", c.Port)
	}
	if c.DialTimeout <= 0 {
		c.DialTimeout = DefaultDialTimeout
	}
	if c.KeepAliveInterval == 0 {
		c.KeepAliveInterval = DefaultKeepAliveInterval
	}
	if c.MaxSessions <= 0 {
		c.MaxSessions = DefaultMaxSessions
	}
	if c.MaxDialing <= 0 {
		c.MaxDialing = DefaultMaxDialing
	}
	if c.MaxOutput <= 0 {
		c.MaxOutput = DefaultMaxOutput
	}
	if c.TermGrace <= 0 {
		c.TermGrace = DefaultTermGrace
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

func loadSSHConfig(path string) (*ssh_config.Config, error) {
	if path == "" {
		return nil, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("sshexec: ssh config: %w", err)
	}
	defer f.Close()
	cfg, err := ssh_config.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("sshexec: ssh config %s: %w", path, err)
	}
	return cfg, nil
}
