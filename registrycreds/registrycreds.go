// Package registrycreds holds the registry credentials a worker logs hosts
// in with. They are configured where the worker runs, never in a deploy
// spec: a spec names a registry server, and the worker alone decides what
// credential, if any, goes to it. A server the worker holds no credential
// for is refused, so no spec can make the worker send a secret to a server
// of its choosing.
//
// The file, given to `hoist worker --registry-credentials`, maps each
// server (host[:port], as the spec names it) to one credential:
//
//	registry.example.com:5000:
//	  username: ci
//	  password_file: /etc/hoist/registry-password   # or password_env: NAME
//	123456789012.dkr.ecr.us-west-2.amazonaws.com:
//	  ecr: {region: us-west-2}
package registrycreds

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/hoist-dev/hoist/config"
)

// maxFileBytes caps the credentials file and each password file.
const maxFileBytes = 1 << 20

// Credential is what the worker logs in to one server with. Exactly one of
// PasswordFile, PasswordEnv and ECRRegion is set. It holds where the
// password is read from, never the password: it is read at each login, so
// a rotated password needs no restart.
type Credential struct {
	Server       string // as written in the file
	Username     string // basic only
	PasswordFile string // absolute
	PasswordEnv  string
	ECRRegion    string // ECR: the password is a fresh GetAuthorizationToken
}

// IsECR says whether the credential is fetched from AWS ECR.
func (c Credential) IsECR() bool { return c.ECRRegion != "" }

// Source says where the password comes from, for messages; never the
// password.
func (c Credential) Source() string {
	switch {
	case c.PasswordFile != "":
		return "password_file " + c.PasswordFile
	case c.PasswordEnv != "":
		return "password_env " + c.PasswordEnv
	default:
		return "ECR in " + c.ECRRegion
	}
}

// Password reads a basic credential's password from its file (one trailing
// newline dropped) or from the worker's environment through getenv.
func (c Credential) Password(getenv func(string) string) ([]byte, error) {
	var pw []byte
	switch {
	case c.PasswordFile != "":
		data, err := readCapped(c.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("cannot read the password for %s from %s: %w", c.Server, c.PasswordFile, err)
		}
		pw = bytes.TrimSuffix(bytes.TrimSuffix(data, []byte("\n")), []byte("\r"))
		if len(pw) == 0 {
			return nil, fmt.Errorf("the password file for %s, %s, is empty", c.Server, c.PasswordFile)
		}
	case c.PasswordEnv != "":
		if getenv != nil {
			pw = []byte(getenv(c.PasswordEnv))
		}
		if len(pw) == 0 {
			return nil, fmt.Errorf("the password for %s is read from the worker's environment variable %s, which is not set (set it where `hoist worker` runs)", c.Server, c.PasswordEnv)
		}
	default:
		return nil, fmt.Errorf("the credential for %s is an ECR one: it has no password to read", c.Server)
	}
	return pw, nil
}

// Store is the worker's credentials by server. The zero value and nil hold
// none.
type Store struct {
	file  string
	creds map[string]Credential // by Key(server)
}

// Key is the form servers are compared in: a host name is
// case-insensitive, the port is not optional (no default port is assumed:
// "r" and "r:443" are different servers to docker's credential store too).
func Key(server string) string { return strings.ToLower(server) }

// Lookup returns the credential for server, as a spec names it.
func (s *Store) Lookup(server string) (Credential, bool) {
	if s == nil {
		return Credential{}, false
	}
	c, ok := s.creds[Key(server)]
	return c, ok
}

// Len is how many servers the store holds credentials for.
func (s *Store) Len() int {
	if s == nil {
		return 0
	}
	return len(s.creds)
}

// File is the file the store was loaded from, or "".
func (s *Store) File() string {
	if s == nil {
		return ""
	}
	return s.file
}

// Servers lists the servers, sorted; for the worker's start-up log.
func (s *Store) Servers() []string {
	if s == nil {
		return nil
	}
	out := make([]string, 0, len(s.creds))
	for _, c := range s.creds {
		out = append(out, c.Server)
	}
	slices.Sort(out)
	return out
}

// Verify reads every password source once, so that a missing password file
// or unset variable stops the worker at start rather than a deploy later.
// ECR credentials are fetched per login and are not checked here.
func (s *Store) Verify(getenv func(string) string) error {
	var errs []error
	for _, server := range s.Servers() {
		c, _ := s.Lookup(server)
		if c.IsECR() {
			continue
		}
		if _, err := c.Password(getenv); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", s.file, err))
		}
	}
	return errors.Join(errs...)
}

// Warnings are what is allowed but unwise, such as a password file others
// can read.
func (s *Store) Warnings() []string {
	var out []string
	for _, server := range s.Servers() {
		c, _ := s.Lookup(server)
		if c.PasswordFile == "" {
			continue
		}
		if fi, err := os.Stat(c.PasswordFile); err == nil && fi.Mode().Perm()&0o077 != 0 {
			out = append(out, fmt.Sprintf("%s: the password file for %s, %s, can be read by other users (mode %04o); chmod 600 it", s.file, server, c.PasswordFile, fi.Mode().Perm()))
		}
	}
	return out
}

// Load reads the credentials file at path. Relative password files are
// relative to its folder.
func Load(path string) (*Store, error) {
	data, err := readCapped(path)
	if err != nil {
		return nil, fmt.Errorf("registry credentials file %s: %w", path, err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("registry credentials file %s: %w", path, err)
	}
	return Parse(data, path, filepath.Dir(abs))
}

func readCapped(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return nil, pe.Err
		}
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxFileBytes {
		return nil, fmt.Errorf("is larger than the %d-byte limit", maxFileBytes)
	}
	return data, nil
}

var (
	basicKeys = []string{"username", "password_file", "password_env"}
	entryKeys = append(slices.Clip(basicKeys), "ecr", "password")
	ecrKeys   = []string{"region"}
)

// Parse decodes a credentials file strictly: unknown keys, a server named
// twice and a credential with no or two password sources are errors, all
// reported together as FILE:LINE: SERVER: problem. file names it in
// messages; baseDir is what relative password files are relative to.
func Parse(data []byte, file, baseDir string) (store *Store, err error) {
	defer func() {
		if r := recover(); r != nil {
			store, err = nil, fmt.Errorf("%s: invalid YAML: %v", file, r)
		}
	}()
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: invalid YAML: %s", file, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	s := &Store{file: file, creds: map[string]Credential{}}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return s, nil // an empty file holds no credentials
	}
	root := doc.Content[0]
	var errs []error
	bad := func(n *yaml.Node, where, format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		if where != "" {
			msg = where + ": " + msg
		}
		errs = append(errs, fmt.Errorf("%s:%d: %s", file, n.Line, msg))
	}
	if root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null" {
		return s, nil
	}
	if root.Kind != yaml.MappingNode {
		bad(root, "", "must be a mapping of registry server (host[:port]) to credential")
		return nil, errors.Join(errs...)
	}
	lines := map[string]int{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			bad(k, "", "keys must be registry servers (host[:port])")
			continue
		}
		server := k.Value
		if msg := config.CheckRegistryServer(server); msg != "" {
			bad(k, fmt.Sprintf("server %q", server), "%s", msg)
			continue
		}
		if first, dup := lines[Key(server)]; dup {
			bad(k, server, "is listed twice (first on line %d)", first)
			continue
		}
		lines[Key(server)] = k.Line
		c, ok := entry(v, server, baseDir, func(n *yaml.Node, format string, args ...any) { bad(n, server, format, args...) })
		if ok {
			s.creds[Key(server)] = c
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return s, nil
}

// entry decodes one server's credential.
func entry(n *yaml.Node, server, baseDir string, bad func(*yaml.Node, string, ...any)) (Credential, bool) {
	c := Credential{Server: server}
	if n.Kind != yaml.MappingNode {
		bad(n, "must be a mapping: {username, password_file} or {username, password_env} or {ecr: {region}}")
		return c, false
	}
	ok := true
	seen := map[string]bool{}
	str := func(v *yaml.Node, key string) string {
		if v.Kind != yaml.ScalarNode || v.ShortTag() != "!!str" || v.Value == "" {
			bad(v, "%s must be a non-empty string", key)
			ok = false
			return ""
		}
		return v.Value
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		key := k.Value
		switch {
		case k.Kind != yaml.ScalarNode || !slices.Contains(entryKeys, key):
			bad(k, "unknown key %q (want username with password_file or password_env, or ecr: {region})", key)
			ok = false
			continue
		case seen[key]:
			bad(k, "%s is set twice", key)
			ok = false
			continue
		}
		seen[key] = true
		switch key {
		case "password":
			bad(k, "the password is not written here: name a file that holds it (password_file) or a variable of the worker's environment (password_env)")
			ok = false
		case "username":
			c.Username = str(v, key)
			if msg := config.CheckRegistryUser(c.Username); c.Username != "" && msg != "" {
				bad(v, "username %s", msg)
				ok = false
			}
		case "password_file":
			if p := str(v, key); p != "" {
				if !filepath.IsAbs(p) {
					p = filepath.Join(baseDir, p)
				}
				c.PasswordFile = filepath.Clean(p)
			}
		case "password_env":
			c.PasswordEnv = str(v, key)
			if msg := config.CheckEnvName(c.PasswordEnv); c.PasswordEnv != "" && msg != "" {
				bad(v, "password_env %s", msg)
				ok = false
			}
		case "ecr":
			if v.Kind != yaml.MappingNode {
				bad(v, "ecr must be a mapping: {region: REGION}")
				ok = false
				continue
			}
			for j := 0; j+1 < len(v.Content); j += 2 {
				ek, ev := v.Content[j], v.Content[j+1]
				if !slices.Contains(ecrKeys, ek.Value) || c.ECRRegion != "" {
					bad(ek, "ecr: unknown or repeated key %q (want region)", ek.Value)
					ok = false
					continue
				}
				c.ECRRegion = str(ev, "ecr.region")
				if msg := config.CheckRegion(c.ECRRegion); c.ECRRegion != "" && msg != "" {
					bad(ev, "ecr.region %s", msg)
					ok = false
				}
			}
			if c.ECRRegion == "" && ok {
				bad(v, "ecr.region is required")
				ok = false
			}
		}
	}
	if !ok {
		return c, false
	}
	sources := 0
	for _, set := range []bool{c.PasswordFile != "", c.PasswordEnv != "", c.ECRRegion != ""} {
		if set {
			sources++
		}
	}
	switch {
	case c.ECRRegion != "" && (c.Username != "" || sources > 1):
		bad(n, "an ecr credential takes no username or password: the token from GetAuthorizationToken is both")
	case c.ECRRegion == "" && c.Username == "":
		bad(n, "username is required (or ecr: {region} for AWS ECR)")
	case sources == 0:
		bad(n, "needs password_file or password_env")
	case sources > 1:
		bad(n, "takes one of password_file and password_env, not both")
	default:
		return c, true
	}
	return c, false
}
