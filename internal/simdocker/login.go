package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// defaultServer is where docker login goes without a server.
const defaultServer = "https://index.docker.io/v1/"

// login answers `docker [--config DIR] login --username U --password-stdin
// [SERVER]`: the password is read from stdin, and the login recorded in
// DIR/config.json (dir 0700, file 0600, as docker creates them) with the
// user name only. The password is never stored, and never checked: every
// login succeeds, as against a registry that accepts the worker's one.
func (s *sim) login(args []string) error {
	var user, server string
	stdin := false
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case (a == "--username" || a == "-u") && i+1 < len(args):
			user = args[i+1]
			i++
		case strings.HasPrefix(a, "--username="):
			user = strings.TrimPrefix(a, "--username=")
		case a == "--password-stdin":
			stdin = true
		case a == "--password" || a == "-p" || strings.HasPrefix(a, "--password="):
			return unsupported("login with the password in argv (hoist passes it on stdin: --password-stdin)")
		case strings.HasPrefix(a, "-"):
			return unsupported("login option %s", a)
		case server != "":
			return failf(`"docker login" requires at most 1 argument.`)
		default:
			server = a
		}
	}
	if !stdin {
		return unsupported("login without --password-stdin (it would prompt)")
	}
	if user == "" {
		return failf("Must provide --username with --password-stdin")
	}
	pw, err := io.ReadAll(io.LimitReader(s.stdin, 1<<20))
	if err != nil {
		return failf("Error: reading the password from stdin: %v", err)
	}
	if len(bytes.TrimRight(pw, "\r\n")) == 0 {
		return failf("Error: Password Required")
	}
	if server == "" {
		server = defaultServer
	}
	dir := s.configDir
	if dir == "" {
		dir = s.getenv("DOCKER_CONFIG")
	}
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return err
		}
		dir = filepath.Join(home, ".docker")
	}
	if err := recordLogin(dir, server, user); err != nil {
		return failf("Error saving credentials: %v", err)
	}
	fmt.Fprintln(s.stdout, "Login Succeeded")
	return nil
}

// recordLogin merges the login into dir/config.json, keeping what else
// is there; written aside and renamed.
func recordLogin(dir, server, user string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	file := filepath.Join(dir, "config.json")
	cfg := map[string]any{}
	b, err := os.ReadFile(file)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return err
	default:
		if err := json.Unmarshal(b, &cfg); err != nil {
			return err
		}
	}
	auths, _ := cfg["auths"].(map[string]any)
	if auths == nil {
		auths = map[string]any{}
	}
	auths[server] = map[string]any{"simdocker": "logged in as " + user + " (simulated: no password stored)"}
	cfg["auths"] = auths
	out, err := json.MarshalIndent(cfg, "", "\t")
	if err != nil {
		return err
	}
	tmp := file + ".tmp"
	if err := os.WriteFile(tmp, append(out, '\n'), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, file)
}
