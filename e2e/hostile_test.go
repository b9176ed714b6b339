//go:build integration

package e2e

import (
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// portHostile is the published port of the hostile-input test's service;
// ports 18200-18219 are this file's.
const portHostile = 18200

// hostile is one malformed config or command line.
type hostile struct {
	name string
	// yml is the case's hoist.yml; "" keeps the valid one.
	yml string
	// files changes the case's files folder (which holds a valid
	// compose.yaml) before hoist runs.
	files func(t *testing.T, dir string)
	// args is the whole command line after the global flags; nil runs
	// `deploy --config CFG --version v1`.
	args []string
	// also runs these commands too with the same config (rollback, status).
	also []string
	// want must all be in stderr; not must not. In both, and in args,
	// %CFG% is the case's config path and %FILES% its files folder.
	want []string
	not  []string
}

// TestHostileInputTouchesNothing runs bin/hoist with malformed configs and
// arguments of every kind: each is a usage error (exit 2) that names the
// offending field, printed before anything starts; afterwards no host
// holds remote_base and no workflow of the service exists.
func TestHostileInputTouchesNothing(t *testing.T) {
	t.Parallel()
	s := newService(t, "hostile", portHostile, 1, 2)
	s.compose("v1", image("v1"))
	validYML, err := os.ReadFile(s.hoistYML())
	if err != nil {
		t.Fatal(err)
	}
	compose, err := os.ReadFile(filepath.Join(s.dir, "files", "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}

	// The valid config, line by line:
	//	1 service: NAME
	//	2 remote_base: BASE
	//	3 files: files
	//	4 hosts:
	//	5   - {address: H1, user: USER, name: h1}
	//	6   - {address: H2, user: USER, name: h2}
	//	7 wait: {retries: 5, delay: 1s}
	valid := strings.Split(strings.TrimSuffix(string(validYML), "\n"), "\n")
	if len(valid) != 7 {
		t.Fatalf("the valid hoist.yml has %d lines, the cases expect 7:\n%s", len(valid), validYML)
	}
	// edit replaces lines (1-based), keeping every other line where it is.
	edit := func(lines map[int]string) string {
		out := append([]string(nil), valid...)
		for n, text := range lines {
			out[n-1] = text
		}
		return strings.Join(out, "\n") + "\n"
	}
	line := func(n int, text string) string { return edit(map[int]string{n: text}) }
	// plus adds lines from line 8 on.
	plus := func(text string) string { return string(validYML) + text }
	// host0 replaces the first host (line 5); its values go in as YAML.
	h1, h2, user := suite.env.Host(1), suite.env.Host(2), suite.env.User
	host0 := func(address, user, name string) string {
		return line(5, fmt.Sprintf("  - {address: %s, user: %s, name: %s}", address, user, name))
	}
	q := strconv.Quote // Go's quoting is valid YAML double-quoted style
	base, name := s.base, s.name
	long := strings.Repeat("v", 65)

	cases := []hostile{
		// YAML itself.
		{name: "yaml tab indentation", yml: line(5, "\t- {address: "+h1+"}"), also: []string{"rollback", "status"},
			want: []string{"%CFG%:5: invalid YAML"}},
		{name: "yaml unclosed flow mapping", yml: line(7, "wait: {retries: 5, delay: 1s"),
			want: []string{"%CFG%:", "invalid YAML"}},
		{name: "yaml unclosed flow list", yml: edit(map[int]string{4: "hosts: [" + h1 + ", " + h2, 5: "#", 6: "#"}), also: []string{"status"},
			want: []string{"%CFG%:", "invalid YAML"}},
		{name: "yaml unclosed quote", yml: line(2, `remote_base: "`+base),
			want: []string{"%CFG%:", "invalid YAML"}},
		{name: "yaml duplicate top-level key", yml: plus("service: other\n"), also: []string{"rollback", "status"},
			want: []string{"%CFG%:8: service: is set twice (first on line 1)"}},
		{name: "yaml duplicate key in a host", yml: line(5, fmt.Sprintf("  - {address: %s, user: %s, name: h1, address: %s}", h1, user, h2)),
			want: []string{"%CFG%:5: hosts[0].address: is set twice"}},
		{name: "yaml two documents", yml: plus("---\nservice: other\n"),
			want: []string{"%CFG%:8: holds more than one YAML document"}},
		{name: "yaml alias", yml: line(7, "wait: &w {retries: 5, delay: 1s}") + "health: *w\n",
			want: []string{"%CFG%:8: YAML aliases (*name) are not supported"}},
		{name: "yaml binary garbage", yml: "\x00\xff\xfe\x01",
			want: []string{"%CFG%", "invalid YAML"}},
		{name: "yaml top level is a list", yml: "- service: " + name + "\n",
			want: []string{"%CFG%:1: must be a mapping of settings"}},
		{name: "empty config", yml: "\n", also: []string{"status"},
			want: []string{"%CFG%: is empty"}},
		{name: "config over 1 MiB", yml: plus("# " + strings.Repeat("x", 1<<20) + "\n"),
			want: []string{"%CFG%: is larger than the 1048576-byte limit"}},

		// Unknown keys, at every level.
		{name: "unknown top-level key", yml: plus("pre_deploy: 'rm -rf /'\n"), also: []string{"rollback", "status"},
			want: []string{`%CFG%:8: unknown key "pre_deploy"`}},
		{name: "hook as a shell command", yml: plus("hooks: {pre: 'rm -rf /'}\n"),
			want: []string{`%CFG%:8: hooks: unknown key "pre"`}},
		{name: "hook service with shell syntax", yml: plus("hooks:\n  before_up: [{service: 'x; rm -rf /'}]\n"),
			want: []string{`%CFG%:9: hooks.before_up[0].service:`}},
		{name: "unknown host key", yml: line(5, fmt.Sprintf("  - {address: %s, user: %s, name: h1, proxy_command: 'sh -c id'}", h1, user)),
			want: []string{`%CFG%:5: hosts[0]: unknown key "proxy_command"`}},
		{name: "unknown wait key", yml: line(7, "wait: {retries: 5, delay: 1s, command: id}"),
			want: []string{`%CFG%:7: wait: unknown key "command"`}},
		{name: "registry password inline", yml: plus(fmt.Sprintf("registry:\n  server: %s\n  username: hoist\n  password: hunter2-hostile\n", suite.env.AuthRegistry)),
			want: []string{"%CFG%:10: registry.username: " + workerCredentialsMsg, "%CFG%:11: registry.password: " + workerCredentialsMsg},
			not:  []string{"hunter2-hostile"}},

		// Wrong types.
		{name: "retries a string", yml: line(7, "wait: {retries: six, delay: 1s}"),
			want: []string{`%CFG%:7: wait.retries: must be a whole number, got the string "six"`}},
		{name: "retries a quoted number", yml: line(7, `wait: {retries: "5", delay: 1s}`),
			want: []string{`%CFG%:7: wait.retries: must be a whole number, got the string "5"`}},
		{name: "service a list", yml: line(1, "service: ["+name+"]"), also: []string{"rollback", "status"},
			want: []string{"%CFG%:1: service: must be a string, got a list"}},
		{name: "hosts a mapping", yml: edit(map[int]string{4: fmt.Sprintf("hosts: {address: %s, user: %s}", h1, user), 5: "#", 6: "#"}), also: []string{"status"},
			want: []string{"%CFG%:4: hosts: must be a list of hosts, got a mapping"}},
		{name: "hosts a string", yml: edit(map[int]string{4: "hosts: " + h1, 5: "#", 6: "#"}),
			want: []string{`%CFG%:4: hosts: must be a list of hosts, got the string "` + h1 + `"`}},
		{name: "services a string", yml: plus("services: web\n"),
			want: []string{"%CFG%:8: services: must be a list of compose service names"}},
		{name: "port a string", yml: line(5, fmt.Sprintf("  - {address: %s, user: %s, name: h1, port: ssh}", h1, user)),
			want: []string{`%CFG%:5: hosts[0].port: must be a whole number, got the string "ssh"`}},
		{name: "keep_releases a string", yml: plus("keep_releases: three\n"),
			want: []string{"%CFG%:8: keep_releases: must be a whole number"}},
		{name: "wait a list", yml: line(7, "wait: [5, 1s]"),
			want: []string{"%CFG%:7: wait: must be a mapping, got a list"}},

		// remote_base: it is removed and recreated under on the hosts.
		{name: "remote_base relative", yml: line(2, "remote_base: "+strings.TrimPrefix(base, "/")), also: []string{"rollback", "status"},
			want: []string{"%CFG%:2: remote_base: must be an absolute path"}},
		{name: "remote_base with ..", yml: line(2, "remote_base: "+base+"/../../../etc"), also: []string{"rollback", "status"},
			want: []string{`%CFG%:2: remote_base: must not contain a ".." segment`}},
		{name: "remote_base /", yml: line(2, "remote_base: /"), also: []string{"rollback", "status"},
			want: []string{`%CFG%:2: remote_base: must not be "/"`}},
		{name: "remote_base trailing slash", yml: line(2, "remote_base: "+base+"/"),
			want: []string{fmt.Sprintf("%%CFG%%:2: remote_base: must be a clean path, got %q (did you mean %q?)", base+"/", base)}},
		{name: "remote_base double slash", yml: line(2, "remote_base: /srv//e2e/"+name),
			want: []string{"%CFG%:2: remote_base: must be a clean path"}},
		{name: "remote_base with .", yml: line(2, "remote_base: /srv/./e2e/"+name),
			want: []string{"%CFG%:2: remote_base: must be a clean path"}},
		{name: "remote_base newline", yml: line(2, "remote_base: "+q(base+"\nrm -rf /")), also: []string{"status"},
			want: []string{"%CFG%:2: remote_base: must not contain control or invisible characters"}},
		{name: "remote_base control char", yml: line(2, "remote_base: "+q(base+"\x1b[2J")),
			want: []string{"%CFG%:2: remote_base: must not contain control or invisible characters"}},
		{name: "remote_base bidi override", yml: line(2, "remote_base: "+q(base+"\u202e")),
			want: []string{"%CFG%:2: remote_base: must not contain control or invisible characters"}},
		{name: "remote_base empty", yml: line(2, `remote_base: ""`),
			want: []string{"%CFG%:2: remote_base: must not be empty"}},

		// service: it names the compose project and the workflow.
		{name: "service uppercase", yml: line(1, "service: "+strings.ToUpper(name)), also: []string{"rollback", "status"},
			want: []string{"%CFG%:1: service: must be lowercase letters"}},
		{name: "service with space", yml: line(1, "service: "+name+" x"),
			want: []string{"%CFG%:1: service: must be lowercase letters"}},
		{name: "service with ;", yml: line(1, "service: '"+name+";reboot'"),
			want: []string{"%CFG%:1: service: must be lowercase letters"}},
		{name: "service with $(", yml: line(1, "service: '$(id)'"),
			want: []string{"%CFG%:1: service: must be lowercase letters"}},
		{name: "service too long", yml: line(1, "service: "+strings.Repeat("a", 64)),
			want: []string{"%CFG%:1: service: must be at most 63 characters, got 64"}},
		{name: "service missing", yml: line(1, "# no service"), also: []string{"rollback", "status"},
			want: []string{"%CFG%: service: is required"}},

		// hosts: address, user and name end up in ssh command lines and output.
		{name: "address with ;", yml: host0(q(h1+";reboot"), user, "h1"), also: []string{"rollback", "status"},
			want: []string{"%CFG%:5: hosts[0].address: must be a hostname, IPv4 or IPv6 address"}},
		{name: "address with $(", yml: host0(q("$(id)"), user, "h1"),
			want: []string{"%CFG%:5: hosts[0].address: must be a hostname"}},
		{name: "address with backtick", yml: host0(q("`id`"), user, "h1"),
			want: []string{"%CFG%:5: hosts[0].address: must be a hostname"}},
		{name: "address with space", yml: host0(q(h1+" -oProxyCommand=id"), user, "h1"),
			want: []string{"%CFG%:5: hosts[0].address: must be a hostname"}},
		{name: "address with newline", yml: host0(q(h1+"\nid"), user, "h1"),
			want: []string{"%CFG%:5: hosts[0].address: must be a hostname"}},
		{name: "address an ssh option", yml: host0(q("-oProxyCommand=id"), user, "h1"),
			want: []string{"%CFG%:5: hosts[0].address: must be a hostname"}},
		{name: "user with ;", yml: host0(h1, q(user+";id"), "h1"), also: []string{"status"},
			want: []string{"%CFG%:5: hosts[0].user: must be a Unix user name"}},
		{name: "user with $(", yml: host0(h1, q("$(id)"), "h1"),
			want: []string{"%CFG%:5: hosts[0].user: must be a Unix user name"}},
		{name: "user with backtick", yml: host0(h1, q("`id`"), "h1"),
			want: []string{"%CFG%:5: hosts[0].user: must be a Unix user name"}},
		{name: "user with space", yml: host0(h1, q(user+" x"), "h1"),
			want: []string{"%CFG%:5: hosts[0].user: must be a Unix user name"}},
		{name: "user with newline", yml: host0(h1, q(user+"\nx"), "h1"),
			want: []string{"%CFG%:5: hosts[0].user: must be a Unix user name"}},
		{name: "user in a host string with ;", yml: line(5, "  - "+q(user+";id@"+h1)),
			want: []string{"%CFG%:5: hosts[0].user: must be a Unix user name"}},
		{name: "name with ;", yml: host0(h1, user, q("h1;id")), also: []string{"status"},
			want: []string{"%CFG%:5: hosts[0].name: must be letters, digits"}},
		{name: "name with $(", yml: host0(h1, user, q("$(id)")),
			want: []string{"%CFG%:5: hosts[0].name: must be letters, digits"}},
		{name: "name with backtick", yml: host0(h1, user, q("`id`")),
			want: []string{"%CFG%:5: hosts[0].name: must be letters, digits"}},
		{name: "name with space", yml: host0(h1, user, q("h 1")),
			want: []string{"%CFG%:5: hosts[0].name: must be letters, digits"}},
		{name: "name with newline", yml: host0(h1, user, q("h1\nh2")),
			want: []string{"%CFG%:5: hosts[0].name: must be letters, digits"}},
		{name: "port 0", yml: line(5, fmt.Sprintf("  - {address: %s, user: %s, name: h1, port: 0}", h1, user)), also: []string{"status"},
			want: []string{"%CFG%:5: hosts[0].port: must be from 1 to 65535, got 0"}},
		{name: "port 65536", yml: line(5, fmt.Sprintf("  - {address: %s, user: %s, name: h1, port: 65536}", h1, user)),
			want: []string{"%CFG%:5: hosts[0].port: must be from 1 to 65535, got 65536"}},
		{name: "port negative", yml: line(5, fmt.Sprintf("  - {address: %s, user: %s, name: h1, port: -22}", h1, user)),
			want: []string{"%CFG%:5: hosts[0].port: must be from 1 to 65535, got -22"}},
		{name: "port out of range in a host string", yml: line(5, fmt.Sprintf("  - %s@%s:99999", user, h1)),
			want: []string{"%CFG%:5: hosts[0].port: must be from 1 to 65535, got 99999"}},
		{name: "ssh default port out of range", yml: plus("ssh: {port: 70000}\n"),
			want: []string{"%CFG%:8: ssh.port: must be from 1 to 65535, got 70000"}},
		{name: "duplicate host names", yml: line(6, fmt.Sprintf("  - {address: %s, user: %s, name: h1}", h2, user)), also: []string{"rollback", "status"},
			want: []string{`%CFG%:6: hosts[1].name: "h1" is used twice (also hosts[0])`}},
		{name: "duplicate hosts", yml: line(6, fmt.Sprintf("  - {address: %s, user: %s, name: h2}", h1, user)),
			want: []string{fmt.Sprintf("%%CFG%%:6: hosts[1]: %s@%s is listed twice (also hosts[0])", user, h1)}},
		{name: "empty host list", yml: edit(map[int]string{4: "hosts: []", 5: "#", 6: "#"}), also: []string{"rollback", "status"},
			want: []string{"%CFG%:4: hosts: must list at least one host"}},
		{name: "hosts missing", yml: edit(map[int]string{4: "#", 5: "#", 6: "#"}),
			want: []string{"%CFG%: hosts: must list at least one host"}},
		{name: "host without address", yml: line(5, fmt.Sprintf("  - {user: %s, name: h1}", user)),
			want: []string{"%CFG%:5: hosts[0].address: is required"}},

		// services: the compose services checked after the deploy.
		{name: "services entry with ;", yml: plus("services: ['web;id']\n"),
			want: []string{"%CFG%:8: services[0]: must be letters, digits"}},

		// files: the folder shipped to every host.
		{name: "files folder missing", yml: line(3, "files: nope"), also: []string{"rollback", "status"},
			want: []string{`%CFG%:3: files: folder "nope" (`, ") does not exist"}},
		{name: "files a file", yml: line(3, "files: hoist.yml"),
			want: []string{`%CFG%:3: files: "hoist.yml" (`, ") is not a folder"}},
		{name: "files without a compose file", files: func(t *testing.T, dir string) { mustRemove(t, filepath.Join(dir, "compose.yaml")) },
			want: []string{`%CFG%:3: files: folder "files" (%FILES%) holds no compose file`}},
		{name: "compose file a symlink out of files", also: []string{"status"},
			files: func(t *testing.T, dir string) {
				mustWrite(t, filepath.Join(dir, "..", "elsewhere.yaml"), compose)
				mustRemove(t, filepath.Join(dir, "compose.yaml"))
				mustSymlink(t, "../elsewhere.yaml", filepath.Join(dir, "compose.yaml"))
			},
			want: []string{`%CFG%:3: files: compose.yaml in folder "files" (%FILES%) must be a regular file`}},
		{name: "bundle over 1 MiB",
			files: func(t *testing.T, dir string) {
				b := make([]byte, 1<<20+1<<18) // random: gzip cannot shrink it
				rand.Read(b)
				mustWrite(t, filepath.Join(dir, "blob.bin"), b)
			},
			want: []string{`files: the release bundle of "%FILES%" is `, "over the 1048576-byte (1 MiB) cap"}},
		{name: "symlink in files to outside",
			files: func(t *testing.T, dir string) {
				mustWrite(t, filepath.Join(dir, "..", "secret.env"), []byte("TOKEN=x\n"))
				mustSymlink(t, "../secret.env", filepath.Join(dir, "app.env"))
			},
			want: []string{`files: %FILES%/app.env: is a symlink (to "../secret.env")`}},
		{name: "absolute symlink in files",
			files: func(t *testing.T, dir string) { mustSymlink(t, "/etc/passwd", filepath.Join(dir, "passwd")) },
			want:  []string{`files: %FILES%/passwd: is a symlink (to "/etc/passwd")`}},
		{name: "symlinked folder in files",
			files: func(t *testing.T, dir string) { mustSymlink(t, "/", filepath.Join(dir, "root")) },
			want:  []string{`files: %FILES%/root: is a symlink (to "/")`}},
		{name: "named pipe in files",
			files: func(t *testing.T, dir string) {
				if err := syscall.Mkfifo(filepath.Join(dir, "pipe"), 0o644); err != nil {
					t.Fatal(err)
				}
			},
			want: []string{"files: %FILES%/pipe: is a named pipe"}},
		{name: "newline in a file name in files",
			files: func(t *testing.T, dir string) { mustWrite(t, filepath.Join(dir, "a\nb.env"), []byte("A=1\n")) },
			want:  []string{`files: "%FILES%/a\nb.env": name "a\nb.env" holds a control character`}},
		{name: "escape sequence in a file name in files",
			files: func(t *testing.T, dir string) { mustWrite(t, filepath.Join(dir, "\x1b]0;pwned\a.env"), nil) },
			want:  []string{`files: "%FILES%/\x1b]0;pwned\a.env": name`},
			not:   []string{"\x1b"}},

		// keep_releases.
		{name: "keep_releases 0", yml: plus("keep_releases: 0\n"), also: []string{"rollback", "status"},
			want: []string{"%CFG%:8: keep_releases: must be from 1 to 100, got 0"}},
		{name: "keep_releases negative", yml: plus("keep_releases: -1\n"),
			want: []string{"%CFG%:8: keep_releases: must be from 1 to 100, got -1"}},
		{name: "keep_releases huge", yml: plus("keep_releases: 1000000\n"),
			want: []string{"%CFG%:8: keep_releases: must be from 1 to 100, got 1000000"}},
		{name: "keep_releases over int64", yml: plus("keep_releases: 99999999999999999999999\n"),
			want: []string{"%CFG%:8: keep_releases: must be a whole number"}},

		// wait and health.
		{name: "retries 0", yml: line(7, "wait: {retries: 0, delay: 1s}"), also: []string{"status"},
			want: []string{"%CFG%:7: wait.retries: must be from 1 to 1000, got 0"}},
		{name: "retries negative", yml: line(7, "wait: {retries: -5, delay: 1s}"),
			want: []string{"%CFG%:7: wait.retries: must be from 1 to 1000, got -5"}},
		{name: "retries huge", yml: line(7, "wait: {retries: 1000000, delay: 1s}"),
			want: []string{"%CFG%:7: wait.retries: must be from 1 to 1000, got 1000000"}},
		{name: "delay without unit", yml: line(7, "wait: {retries: 5, delay: 5}"),
			want: []string{`%CFG%:7: wait.delay: must be a duration with a unit like "5s" or "1m30s", got "5"`}},
		{name: "delay 0s", yml: line(7, "wait: {retries: 5, delay: 0s}"),
			want: []string{"%CFG%:7: wait.delay: must be more than 0 and at most 10m, got 0s"}},
		{name: "delay negative", yml: line(7, "wait: {retries: 5, delay: -1s}"),
			want: []string{"%CFG%:7: wait.delay: must be more than 0"}},
		{name: "delay an hour", yml: line(7, "wait: {retries: 5, delay: 1h}"),
			want: []string{"%CFG%:7: wait.delay: must be more than 0 and at most 10m, got 1h"}},
		{name: "stable longer than the window", yml: line(7, "wait: {retries: 5, delay: 1s, stable: 10s}"),
			want: []string{"%CFG%:7: wait.stable: must be at least 0 and shorter than the window retries × delay (5s), got 10s"}},
		{name: "unhealthy unknown", yml: plus("health: {unhealthy: ignore}\n"),
			want: []string{`%CFG%:8: health.unhealthy: must be warn or rollback, got "ignore"`}},

		// registry: hoist.yml names the server, never a credential: those
		// live on the worker (issue 8 §2).
		{name: "registry password_env names a worker secret", yml: plus("registry: {server: 'evil.example:5000', username: x, password_env: HOIST_CODEC_KEYS}\n"), also: []string{"status"},
			want: []string{"%CFG%:8: registry.password_env: " + workerCredentialsMsg, "%CFG%:8: registry.username: "}},
		{name: "registry type", yml: plus("registry: {type: basic, server: " + suite.env.AuthRegistry + "}\n"),
			want: []string{"%CFG%:8: registry.type: " + workerCredentialsMsg}},
		{name: "registry ecr region", yml: plus("registry:\n  server: 123.dkr.ecr.us-west-2.amazonaws.com\n  region: us-west-2\n"),
			want: []string{"%CFG%:10: registry.region: " + workerCredentialsMsg}},
		{name: "registry without server", yml: plus("registry: {}\n"),
			want: []string{"%CFG%:8: registry.server: is required"}},
		{name: "registry server with scheme", yml: plus(fmt.Sprintf("registry: {server: 'https://%s'}\n", suite.env.AuthRegistry)),
			want: []string{"%CFG%:8: registry.server: must be a registry host[:port] without a scheme or path"}},
		{name: "registry server with $(", yml: plus("registry: {server: '$(id)'}\n"),
			want: []string{"%CFG%:8: registry.server: must be a registry host[:port]"}},
		{name: "registry server with newline", yml: plus("registry: {server: " + q(suite.env.AuthRegistry+"\nx") + "}\n"),
			want: []string{"%CFG%:8: registry.server: must be a registry host[:port]"}},

		// Everything wrong at once: every problem is named, in line order.
		{name: "every field wrong", also: []string{"rollback", "status"},
			yml: "service: 'A;B'\nremote_base: srv/../x\nfiles: nope\nhosts: ['$(id)', 'h:0']\nwait: {retries: 0, delay: 1h}\nkeep_releases: 0\nregistry: {type: gcr}\n",
			want: []string{"%CFG%:1: service:", "%CFG%:2: remote_base:", "%CFG%:3: files:", "%CFG%:4: hosts[0].address:", "%CFG%:4: hosts[1].port:",
				"%CFG%:5: wait.retries:", "%CFG%:5: wait.delay:", "%CFG%:6: keep_releases:", "%CFG%:7: registry.type:"}},

		// --version: it names a folder on every host.
		{name: "version absolute path", args: []string{"deploy", "--config", "%CFG%", "--version", "/etc"},
			want: []string{`hoist: --version: must be letters, digits, '.', '_' and '-', got "/etc"`}},
		{name: "version ../", args: []string{"deploy", "--config", "%CFG%", "--version", "../../v0"},
			want: []string{`--version: must be letters, digits, '.', '_' and '-', got "../../v0"`}},
		{name: "version .", args: []string{"deploy", "--config", "%CFG%", "--version", "."},
			want: []string{`--version: must not be "."`}},
		{name: "version with space", args: []string{"deploy", "--config", "%CFG%", "--version", "v1 v2"},
			want: []string{`--version: must be letters, digits, '.', '_' and '-', got "v1 v2"`}},
		{name: "version with $(", args: []string{"deploy", "--config", "%CFG%", "--version", "$(reboot)"},
			want: []string{`--version: must be letters, digits, '.', '_' and '-', got "$(reboot)"`}},
		{name: "version with backticks", args: []string{"deploy", "--config", "%CFG%", "--version", "`reboot`"},
			want: []string{"--version: must be letters, digits, '.', '_' and '-', got \"`reboot`\""}},
		{name: "version with newline", args: []string{"deploy", "--config", "%CFG%", "--version", "v1\nv2"},
			want: []string{`--version: must be letters, digits, '.', '_' and '-', got "v1\nv2"`}},
		{name: "version with ;", args: []string{"deploy", "--config", "%CFG%", "--version", "v1;reboot"},
			want: []string{`--version: must be letters, digits, '.', '_' and '-', got "v1;reboot"`}},
		{name: "version not ASCII", args: []string{"deploy", "--config", "%CFG%", "--version", "v1ü"},
			want: []string{`--version: must be letters, digits, '.', '_' and '-', got "v1ü"`}},
		{name: "version like an option", args: []string{"deploy", "--config", "%CFG%", "--version", "-rf"},
			want: []string{`--version: must not start with '-', got "-rf"`}},
		{name: "version 65 characters", args: []string{"deploy", "--config", "%CFG%", "--version", long},
			want: []string{"--version: must be at most 64 characters, got 65"}},
		{name: "version empty", args: []string{"deploy", "--config", "%CFG%", "--version", ""},
			want: []string{"--version: must not be empty"}},
		{name: "version hidden", args: []string{"deploy", "--config", "%CFG%", "--version", ".releases"},
			want: []string{`--version: ".releases" is reserved for hoist's own entries`}},

		// rollback --to: the same rule.
		{name: "rollback to ../", args: []string{"rollback", "--config", "%CFG%", "--to", "../v0"},
			want: []string{`--to: must be letters, digits, '.', '_' and '-', got "../v0"`}},
		{name: "rollback to $(", args: []string{"rollback", "--config", "%CFG%", "--to", "$(reboot)"},
			want: []string{`--to: must be letters, digits, '.', '_' and '-', got "$(reboot)"`}},
		{name: "rollback to empty", args: []string{"rollback", "--config", "%CFG%", "--to", ""},
			want: []string{"--to: must not be empty"}},
		{name: "rollback to 65 characters", args: []string{"rollback", "--config", "%CFG%", "--to", long},
			want: []string{"--to: must be at most 64 characters, got 65"}},
		{name: "rollback to an option", args: []string{"rollback", "--config", "%CFG%", "--to", "-v1"},
			want: []string{`--to: must not start with '-', got "-v1"`}},

		// Flags and arguments.
		{name: "deploy unknown flag", args: []string{"deploy", "--config", "%CFG%", "--version", "v1", "--force"},
			want: []string{"flag provided but not defined: -force"}},
		{name: "rollback with deploy's --version", args: []string{"rollback", "--config", "%CFG%", "--version", "v1"},
			want: []string{"flag provided but not defined: -version"}},
		{name: "status with rollback's --to", args: []string{"status", "--config", "%CFG%", "--to", "v1"},
			want: []string{"flag provided but not defined: -to"}},
		{name: "deploy version as an argument", args: []string{"deploy", "--config", "%CFG%", "v1"},
			want: []string{`deploy takes no arguments, got ["v1"]`}},
		{name: "deploy argument before flags", args: []string{"deploy", name, "--config", "%CFG%", "--version", "v1"},
			want: []string{fmt.Sprintf("deploy takes no arguments, got [%q]", name)}},
		{name: "rollback version as an argument", args: []string{"rollback", "--config", "%CFG%", "v1"},
			want: []string{`rollback takes no arguments, got ["v1"]`}},
		{name: "status extra argument", args: []string{"status", "--config", "%CFG%", "h1"},
			want: []string{`status takes no arguments, got ["h1"]`}},
		{name: "cancel service as an argument", args: []string{"cancel", "--config", "%CFG%", name},
			want: []string{fmt.Sprintf("cancel takes no arguments, got [%q]", name)}},
		{name: "config without a value", args: []string{"deploy", "--version", "v1", "--config"},
			want: []string{"flag needs an argument: -config"}},
		{name: "config empty", args: []string{"deploy", "--config", "", "--version", "v1"},
			want: []string{"--config: must not be empty"}},
		{name: "config missing", args: []string{"status", "--config", "nope.yml"},
			want: []string{"nope.yml: cannot read: no such file or directory"}},
		{name: "config a folder", args: []string{"deploy", "--config", "%FILES%", "--version", "v1"},
			want: []string{"%FILES%: cannot read: is a directory"}},
		{name: "detach not a boolean", args: []string{"deploy", "--config", "%CFG%", "--version", "v1", "--detach=maybe"},
			want: []string{`invalid boolean value "maybe" for -detach`}},
		{name: "misspelt command", args: []string{"deploi", "--config", "%CFG%", "--version", "v1"},
			want: []string{`unknown command "deploi"`}},
	}

	defaults := map[string][]string{
		"deploy":   {"deploy", "--config", "%CFG%", "--version", "v1"},
		"rollback": {"rollback", "--config", "%CFG%", "--to", "v1"},
		"status":   {"status", "--config", "%CFG%"},
	}
	seen := map[string]bool{}
	inputs, runs := 0, 0
	for i, c := range cases {
		if seen[c.name] {
			t.Fatalf("two cases named %q", c.name)
		}
		seen[c.name] = true
		t.Run(c.name, func(t *testing.T) {
			// Each case has a folder of its own: hoist.yml and files/.
			dir := filepath.Join(s.dir, fmt.Sprintf("case%03d", i))
			files := filepath.Join(dir, "files")
			if err := os.MkdirAll(files, 0o755); err != nil {
				t.Fatal(err)
			}
			mustWrite(t, filepath.Join(files, "compose.yaml"), compose)
			yml := c.yml
			if yml == "" {
				yml = string(validYML)
			}
			cfg := filepath.Join(dir, "hoist.yml")
			mustWrite(t, cfg, []byte(yml))
			if c.files != nil {
				c.files(t, files)
			}
			expand := func(s string) string {
				return strings.NewReplacer("%CFG%", cfg, "%FILES%", files).Replace(s)
			}

			var lines [][]string
			if c.args != nil {
				lines = append(lines, c.args)
			} else {
				for _, cmd := range append([]string{"deploy"}, c.also...) {
					lines = append(lines, defaults[cmd])
				}
			}
			inputs++
			for _, l := range lines {
				args := make([]string, len(l))
				for j, a := range l {
					args[j] = expand(a)
				}
				runs++
				r := runHoist(t, dir, s.queue, args...)
				if r.code != 2 {
					t.Errorf("exit %d, want 2 (usage error)\n%s", r.code, r)
					continue
				}
				if r.stdout != "" {
					t.Errorf("stdout is not empty: nothing should have started\n%s", r)
				}
				if !strings.HasPrefix(r.stderr, "hoist: ") || strings.Contains(r.stderr, "goroutine ") {
					t.Errorf("stderr is not hoist's own error message\n%s", r)
				}
				for _, w := range c.want {
					if w = expand(w); !strings.Contains(r.stderr, w) {
						t.Errorf("stderr does not name the problem: no %q\n%s", w, r)
					}
				}
				for _, n := range c.not {
					if strings.Contains(r.stderr, n) {
						t.Errorf("stderr shows %q\n%s", n, r)
					}
				}
			}
		})
	}

	// Nothing reached a host or Temporal: remote_base exists nowhere, and
	// no deploy, rollback or status workflow of the service was started.
	s.wantNoBase()
	out, err := temporal(t, "workflow", "describe", "--workflow-id", "deploy/"+s.name)
	if err == nil || !strings.Contains(err.Error(), "workflow not found") {
		t.Fatalf("want no deploy workflow of %s; temporal workflow describe: %v\n%s", s.name, err, out)
	}
	out, err = temporal(t, "workflow", "list", "--query", fmt.Sprintf("WorkflowId STARTS_WITH 'status/%s'", s.name))
	if err != nil || strings.TrimSpace(string(out)) != "" {
		t.Fatalf("want no status workflow of %s; temporal workflow list: %v\n%s", s.name, err, out)
	}
	if inputs < 45 {
		t.Fatalf("only %d hostile inputs; the table promises at least 45", inputs)
	}
	t.Logf("%d hostile inputs tried", inputs)
	t.Logf("(%d runs of bin/hoist: deploy for every config, rollback and status for some)", runs)
}

func mustWrite(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func mustRemove(t *testing.T, path string) {
	t.Helper()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
}

func mustSymlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}
