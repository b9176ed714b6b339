package sshexec

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"slices"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// signersFor collects the keys offered to t: identity files first
// (Config.IdentityFiles, then the ssh config's), then the agent's keys. The
// returned func closes the agent connection, which must stay open until
// the handshake has signed with its keys.
func (c *Client) signersFor(t *target) ([]ssh.Signer, func(), error) {
	var agentSigners []ssh.Signer
	done := func() {}
	var agentErr error
	if c.cfg.AgentSocket != "" {
		conn, err := net.DialTimeout("unix", c.cfg.AgentSocket, c.cfg.DialTimeout)
		if err != nil {
			agentErr = fmt.Errorf("ssh-agent %s: %w", c.cfg.AgentSocket, err)
		} else {
			done = func() { conn.Close() }
			_ = conn.SetDeadline(time.Now().Add(c.cfg.DialTimeout))
			agentSigners, err = agent.NewClient(conn).Signers()
			_ = conn.SetDeadline(time.Time{})
			if err != nil {
				agentErr = fmt.Errorf("ssh-agent %s: list keys: %w", c.cfg.AgentSocket, err)
			}
		}
	}

	var signers []ssh.Signer
	add := func(s ssh.Signer) {
		pub := s.PublicKey().Marshal()
		for _, have := range signers {
			if bytes.Equal(have.PublicKey().Marshal(), pub) {
				return
			}
		}
		signers = append(signers, s)
	}
	type file struct {
		path     string
		explicit bool // from Config: a missing file is an error, not a skip
	}
	var files []file
	for _, p := range c.cfg.IdentityFiles {
		files = append(files, file{p, true})
	}
	for _, p := range t.identityFiles {
		files = append(files, file{p, false})
	}
	for _, f := range files {
		s, err := loadIdentity(f.path, agentSigners)
		switch {
		case err == nil:
			add(s)
		case !f.explicit && errors.Is(err, fs.ErrNotExist):
			// OpenSSH skips missing IdentityFiles of the config too, so a
			// "Host *" default that does not exist here is harmless.
			c.cfg.Logger.Debug("sshexec: identity file missing, skipped", "host", t.spec, "file", f.path)
		default:
			done()
			return nil, nil, &AuthError{Host: t.spec, Addr: t.String(), Err: err}
		}
	}
	if !t.identitiesOnly {
		for _, s := range agentSigners {
			add(s)
		}
	}
	if len(signers) == 0 {
		done()
		err := errors.New("no keys to offer: no identity file and no ssh-agent key")
		if agentErr != nil {
			err = fmt.Errorf("no keys to offer: %w", agentErr)
		}
		return nil, nil, &AuthError{Host: t.spec, Addr: t.String(), Err: err}
	}
	if agentErr != nil {
		c.cfg.Logger.Warn("sshexec: agent unavailable", "host", t.spec, "err", agentErr)
	}
	return signers, done, nil
}

// loadIdentity reads an unencrypted private key. For a passphrase-protected
// one it uses the agent's copy of the same key, as OpenSSH does.
func loadIdentity(path string, agentSigners []ssh.Signer) (ssh.Signer, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("identity file: %w", err)
	}
	s, err := ssh.ParsePrivateKey(pem)
	if err == nil {
		return s, nil
	}
	var missing *ssh.PassphraseMissingError
	if !errors.As(err, &missing) {
		return nil, fmt.Errorf("identity file %s: %w", path, err)
	}
	pub := missing.PublicKey
	if pub == nil {
		if b, err := os.ReadFile(path + ".pub"); err == nil {
			pub, _, _, _, _ = ssh.ParseAuthorizedKey(b)
		}
	}
	if pub != nil {
		i := slices.IndexFunc(agentSigners, func(a ssh.Signer) bool {
			return bytes.Equal(a.PublicKey().Marshal(), pub.Marshal())
		})
		if i >= 0 {
			return agentSigners[i], nil
		}
	}
	return nil, fmt.Errorf("identity file %s is passphrase-protected and not in the ssh-agent: add it with ssh-add", path)
}
