package sshexec

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// hostKeys checks host keys against one known_hosts file. The file is read
// at every dial, so keys recorded by another process are seen; dials are
// rare because connections are reused.
type hostKeys struct {
	file   string
	policy HostKeyPolicy
	// mu serialises the re-check and append of AcceptNew within the
	// process, so two dials to new hosts do not interleave their lines.
	mu sync.Mutex
}

func (h *hostKeys) load() (ssh.HostKeyCallback, error) {
	cb, err := knownhosts.New(h.file)
	if errors.Is(err, fs.ErrNotExist) {
		// A missing file is an empty one: every host is unknown.
		return knownhosts.New()
	}
	if err != nil {
		return nil, fmt.Errorf("known_hosts: %w", err)
	}
	return cb, nil
}

// forHost prepares the checks for one dial of t: the HostKeyCallback and
// the host key algorithms to negotiate. The algorithms matter: x/crypto
// prefers RSA, so a host known by its ed25519 key would otherwise present
// its RSA key and look changed. OpenSSH orders algorithms the same way.
func (h *hostKeys) forHost(t *target) (ssh.HostKeyCallback, []string, error) {
	check, err := h.load()
	if err != nil {
		return nil, nil, err
	}
	algos := knownAlgorithms(check, t.addr())
	cb := func(hostname string, remote net.Addr, key ssh.PublicKey) error {
		err := check(hostname, remote, key)
		if err == nil {
			return nil
		}
		hkErr := &HostKeyError{
			Host:        t.spec,
			Addr:        hostname,
			KeyType:     key.Type(),
			Fingerprint: ssh.FingerprintSHA256(key),
			KnownHosts:  h.file,
		}
		var keyErr *knownhosts.KeyError
		var revoked *knownhosts.RevokedError
		switch {
		case errors.As(err, &revoked):
			hkErr.Problem = HostKeyRevoked
		case errors.As(err, &keyErr) && len(keyErr.Want) > 0:
			hkErr.Problem = HostKeyChanged
			hkErr.Known = describeKnown(keyErr.Want)
		case errors.As(err, &keyErr):
			hkErr.Problem = HostKeyUnknown
			if h.policy == AcceptNew {
				return h.acceptNew(hostname, key, hkErr)
			}
		default:
			hkErr.Err = err
		}
		return hkErr
	}
	return cb, algos, nil
}

// acceptNew records an unknown key. It re-reads the file first: another
// dial may have recorded a key for the host meanwhile, and a key that
// differs from that one must still be refused.
func (h *hostKeys) acceptNew(hostname string, key ssh.PublicKey, hkErr *HostKeyError) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	check, err := h.load()
	if err != nil {
		hkErr.Err = err
		return hkErr
	}
	err = check(hostname, &net.TCPAddr{IP: net.IPv4zero}, key)
	var keyErr *knownhosts.KeyError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &keyErr) && len(keyErr.Want) == 0:
	case errors.As(err, &keyErr):
		hkErr.Problem = HostKeyChanged
		hkErr.Known = describeKnown(keyErr.Want)
		return hkErr
	default:
		hkErr.Err = err
		return hkErr
	}
	if err := appendKnownHost(h.file, hostname, key); err != nil {
		hkErr.Err = fmt.Errorf("accept-new: %w", err)
		return hkErr
	}
	return nil
}

func appendKnownHost(file, hostname string, key ssh.PublicKey) error {
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(file, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	line := knownhosts.Line([]string{knownhosts.Normalize(hostname)}, key) + "\n"
	// A file whose last line lacks its newline would glue our entry to it.
	if st, err := f.Stat(); err == nil && st.Size() > 0 {
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, st.Size()-1); err != nil && err != io.EOF {
			f.Close()
			return err
		}
		if last[0] != '\n' {
			line = "\n" + line
		}
	}
	if _, err := f.WriteString(line); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// knownAlgorithms lists the host key algorithms of the keys known for addr,
// found by checking a throwaway key: the mismatch error lists them. For an
// unknown host it prefers ed25519 and ECDSA, as OpenSSH does, and never a
// certificate, which known_hosts could not record.
func knownAlgorithms(check ssh.HostKeyCallback, addr string) []string {
	_, priv, err := ed25519.GenerateKey(nil)
	if err == nil {
		var probe ssh.Signer
		if probe, err = ssh.NewSignerFromKey(priv); err == nil {
			err = check(addr, &net.TCPAddr{IP: net.IPv4zero}, probe.PublicKey())
		}
	}
	var keyErr *knownhosts.KeyError
	var algos []string
	if errors.As(err, &keyErr) {
		for _, k := range keyErr.Want {
			for _, a := range algorithmsForKeyType(k.Key.Type()) {
				if !slices.Contains(algos, a) {
					algos = append(algos, a)
				}
			}
		}
	}
	if len(algos) == 0 {
		return []string{
			ssh.KeyAlgoED25519,
			ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA521,
			ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256,
		}
	}
	return algos
}

func algorithmsForKeyType(t string) []string {
	if t == ssh.KeyAlgoRSA {
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256}
	}
	return []string{t}
}

func describeKnown(keys []knownhosts.KnownKey) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = fmt.Sprintf("%s:%d: %s %s", k.Filename, k.Line, k.Key.Type(), ssh.FingerprintSHA256(k.Key))
	}
	return out
}
