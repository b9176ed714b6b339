package sshexec

import (
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/kevinburke/ssh_config"
)

// target is a host spec resolved into everything needed to dial it.
type target struct {
	spec          string // as the caller gave it
	user          string
	host          string // HostName
	port          int
	identityFiles []string // from the ssh config; Config.IdentityFiles come first at auth time
	// identitiesOnly (IdentitiesOnly yes) keeps agent keys that match no
	// identity file from being offered, so a full agent cannot exhaust
	// the server's MaxAuthTries.
	identitiesOnly bool
	jump           *target
}

func (t *target) addr() string { return net.JoinHostPort(t.host, strconv.Itoa(t.port)) }

// String is user@host:port, the name errors and logs use.
func (t *target) String() string { return t.user + "@" + t.addr() }

// key identifies the connection in the pool: the same host reached through
// a different jump host is a different connection.
func (t *target) key() string {
	if t.jump == nil {
		return t.String()
	}
	return t.String() + " via " + t.jump.key()
}

// hostSpec is the parsed form of "[user@]host[:port]".
type hostSpec struct {
	user string
	host string
	port int // 0 when not given
}

// parseSpec parses "[user@]host[:port]". IPv6 addresses with a port are
// written "[::1]:22"; a bare IPv6 address has no port.
func parseSpec(s string) (hostSpec, error) {
	var sp hostSpec
	if s == "" {
		return sp, fmt.Errorf("empty host")
	}
	for _, r := range s {
		if r <= ' ' || r == 0x7f {
			return sp, fmt.Errorf("host %q: contains a space or control character", s)
		}
	}
	rest := s
	if i := strings.LastIndexByte(rest, '@'); i >= 0 {
		sp.user, rest = rest[:i], rest[i+1:]
		if sp.user == "" {
			return sp, fmt.Errorf("host %q: empty user", s)
		}
	}
	portStr := ""
	switch {
	case strings.HasPrefix(rest, "["):
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			return sp, fmt.Errorf("host %q: missing ']'", s)
		}
		sp.host, rest = rest[1:end], rest[end+1:]
		if rest != "" {
			if !strings.HasPrefix(rest, ":") {
				return sp, fmt.Errorf("host %q: unexpected %q after ']'", s, rest)
			}
			portStr = rest[1:]
			if portStr == "" {
				return sp, fmt.Errorf("host %q: empty port", s)
			}
		}
	case strings.Count(rest, ":") == 1:
		sp.host, portStr, _ = strings.Cut(rest, ":")
		if portStr == "" {
			return sp, fmt.Errorf("host %q: empty port", s)
		}
	default:
		sp.host = rest
	}
	if sp.host == "" {
		return sp, fmt.Errorf("host %q: empty host name", s)
	}
	if strings.HasPrefix(sp.host, "-") {
		return sp, fmt.Errorf("host %q: host name starts with '-'", s)
	}
	if portStr != "" {
		p, err := parsePort(portStr)
		if err != nil {
			return sp, fmt.Errorf("host %q: %w", s, err)
		}
		sp.port = p
	}
	return sp, nil
}

func parsePort(s string) (int, error) {
	p, err := strconv.Atoi(s)
	if err != nil || p < 1 || p > 65535 {
		return 0, fmt.Errorf("invalid port %q", s)
	}
	return p, nil
}

// resolveTarget applies the precedence spec > ssh config > Config defaults.
// Lookups use the name as written (the alias), as OpenSSH does: HostName
// does not re-match Host blocks.
func resolveTarget(sc *ssh_config.Config, cfg Config, s string, allowJump bool) (*target, error) {
	sp, err := parseSpec(s)
	if err != nil {
		return nil, err
	}
	t := &target{spec: s, user: sp.user, host: sp.host, port: sp.port}
	if sc != nil {
		if err := applySSHConfig(sc, cfg, t, sp.host, allowJump); err != nil {
			return nil, fmt.Errorf("host %q: ssh config: %w", s, err)
		}
	}
	if t.user == "" {
		t.user = cfg.User
	}
	if t.port == 0 {
		t.port = cfg.Port
	}
	if t.user == "" {
		return nil, fmt.Errorf("host %q: no user: write user@host, set User in the ssh config, or Config.User", s)
	}
	return t, nil
}

func applySSHConfig(sc *ssh_config.Config, cfg Config, t *target, alias string, allowJump bool) error {
	get := func(key string) (string, error) {
		v, err := sc.Get(alias, key)
		return strings.TrimSpace(v), err
	}
	hostName, err := get("HostName")
	if err != nil {
		return err
	}
	if hostName != "" {
		h, err := expandTokens(hostName, alias, "", "")
		if err != nil {
			return fmt.Errorf("HostName: %w", err)
		}
		t.host = h
	}
	if t.user == "" {
		v, err := get("User")
		if err != nil {
			return err
		}
		t.user = v
	}
	if t.port == 0 {
		v, err := get("Port")
		if err != nil {
			return err
		}
		if v != "" {
			p, err := parsePort(v)
			if err != nil {
				return fmt.Errorf("Port: %w", err)
			}
			t.port = p
		}
	}
	files, err := sc.GetAll(alias, "IdentityFile")
	if err != nil {
		return err
	}
	for _, f := range files {
		f = strings.TrimSpace(f)
		if f == "" || strings.EqualFold(f, "none") {
			continue
		}
		user := t.user
		if user == "" {
			user = cfg.User
		}
		p, err := expandPath(f, cfg.HomeDir, t.host, user)
		if err != nil {
			return fmt.Errorf("IdentityFile %q: %w", f, err)
		}
		t.identityFiles = append(t.identityFiles, p)
	}
	only, err := get("IdentitiesOnly")
	if err != nil {
		return err
	}
	t.identitiesOnly = strings.EqualFold(only, "yes")
	jump, err := get("ProxyJump")
	if err != nil {
		return err
	}
	if jump == "" || strings.EqualFold(jump, "none") {
		return nil
	}
	if !allowJump {
		return fmt.Errorf("ProxyJump %q on a jump host: chains of jump hosts are not supported", jump)
	}
	if strings.Contains(jump, ",") {
		return fmt.Errorf("ProxyJump %q: only one jump host is supported", jump)
	}
	if strings.Contains(jump, "://") {
		return fmt.Errorf("ProxyJump %q: ssh:// URIs are not supported, use [user@]host[:port]", jump)
	}
	j, err := resolveTarget(sc, cfg, jump, false)
	if err != nil {
		return fmt.Errorf("ProxyJump: %w", err)
	}
	t.jump = j
	return nil
}

// expandPath expands "~/" and the % tokens OpenSSH allows in IdentityFile.
func expandPath(p, home, host, user string) (string, error) {
	if p == "~" || strings.HasPrefix(p, "~/") {
		if home == "" {
			return "", fmt.Errorf("cannot expand ~: Config.HomeDir is not set")
		}
		p = filepath.Join(home, p[1:])
	}
	return expandTokens(p, host, user, home)
}

// expandTokens handles %h (host), %r (remote user), %d (home) and %%.
func expandTokens(s, host, user, home string) (string, error) {
	if !strings.Contains(s, "%") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 == len(s) {
			return "", fmt.Errorf("%q: trailing %%", s)
		}
		i++
		var v string
		switch s[i] {
		case '%':
			v = "%"
		case 'h':
			v = host
		case 'r':
			v = user
		case 'd':
			v = home
		default:
			return "", fmt.Errorf("%q: token %%%c is not supported", s, s[i])
		}
		if v == "" && s[i] != '%' {
			return "", fmt.Errorf("%q: no value for %%%c", s, s[i])
		}
		b.WriteString(v)
	}
	return b.String(), nil
}
