package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/rollout"
)

// fixture makes a folder to resolve `files` against:
//
//	dist/compose.yaml    a good files folder
//	notdir               a file
//	empty/               no compose file
//	two/                 compose.yaml and docker-compose.yml
//	dirchild/            compose.yaml is a folder
func fixture(t testing.TB) string {
	t.Helper()
	base := t.TempDir()
	mk := func(name, content string) {
		p := filepath.Join(base, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mk("dist/compose.yaml", "services: {web: {image: nginx}}\n")
	mk("dist/.env", "A=1\n")
	mk("notdir", "x")
	mk("two/compose.yaml", "services: {}\n")
	mk("two/docker-compose.yml", "services: {}\n")
	if err := os.MkdirAll(filepath.Join(base, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(base, "dirchild", "compose.yaml"), 0o755); err != nil {
		t.Fatal(err)
	}
	return base
}

const fullConfig = `service: hono-demo
remote_base: /srv/studio/js-apps/hono-demo
files: ./dist
services: [web, worker]
hosts:
  - deploy@10.0.0.5
  - web2
  - "[2001:DB8::1]:2222"
  - ops@::1
  - {address: app.example.com, port: 2200, user: ops, name: app-1}
ssh: { user: deploy, port: 22 }
registry:
  server: 912951144733.dkr.ecr.us-west-2.amazonaws.com
wait: { retries: 10, delay: 2s }
health: { unhealthy: rollback }
keep_releases: 5
`

func TestParseFull(t *testing.T) {
	base := fixture(t)
	got, err := Parse([]byte(fullConfig), "hoist.yml", base)
	if err != nil {
		t.Fatal(err)
	}
	want := &Spec{
		Service:     "hono-demo",
		Environment: "production",
		RemoteBase:  "/srv/studio/js-apps/hono-demo",
		FilesDir:    filepath.Join(base, "dist"),
		ComposeFile: "compose.yaml",
		Services:    []string{"web", "worker"},
		Hosts: []Host{
			{Address: "10.0.0.5", User: "deploy", Port: 22},
			{Address: "web2", User: "deploy", Port: 22},
			{Address: "2001:db8::1", User: "deploy", Port: 2222},
			{Address: "::1", User: "ops", Port: 22},
			{Name: "app-1", Address: "app.example.com", User: "ops", Port: 2200},
		},
		Registry:     Registry{Type: RegistryLogin, Server: "912951144733.dkr.ecr.us-west-2.amazonaws.com"},
		Wait:         Wait{Retries: 10, Delay: 2 * time.Second, Stable: time.Second},
		Health:       Health{Unhealthy: HealthRollback, Check: CheckDocker, HealthyRuns: 2},
		KeepReleases: 5, Strategy: StrategyRecreate,
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
	targets := []string{"deploy@10.0.0.5:22", "deploy@web2:22", "deploy@[2001:db8::1]:2222", "ops@[::1]:22", "ops@app.example.com:2200"}
	for i, h := range got.Hosts {
		if h.Target() != targets[i] {
			t.Errorf("hosts[%d].Target() = %q, want %q", i, h.Target(), targets[i])
		}
	}
	if s := got.Hosts[4].String(); s != "app-1" {
		t.Errorf("String() = %q, want the name", s)
	}

	// The spec crosses the workflow boundary as JSON and comes back valid.
	data, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"remote_base"`, `"compose_file"`, `"keep_releases"`, `"unhealthy"`} {
		if !strings.Contains(string(data), key) {
			t.Errorf("JSON %s lacks %s", data, key)
		}
	}
	var back Spec
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	want.FilesDir = ""
	if !reflect.DeepEqual(&back, want) {
		t.Fatalf("JSON round trip:\ngot  %+v\nwant %+v", back, *want)
	}
	if err := back.Validate(); err != nil {
		t.Fatalf("Validate after JSON: %v", err)
	}
}

func TestParseDefaults(t *testing.T) {
	base := fixture(t)
	cfg := "service: app\nremote_base: /srv/my apps/app\nfiles: dist\nhosts: [web1]\n"
	got, err := Parse([]byte(cfg), "hoist.yml", base)
	if err != nil {
		t.Fatal(err)
	}
	want := &Spec{
		Service:      "app",
		Environment:  "production",
		RemoteBase:   "/srv/my apps/app",
		FilesDir:     filepath.Join(base, "dist"),
		ComposeFile:  "compose.yaml",
		Hosts:        []Host{{Address: "web1"}},
		Registry:     Registry{Type: RegistryNone},
		Wait:         Wait{Retries: 6, Delay: 5 * time.Second, Stable: time.Second},
		Health:       Health{Unhealthy: HealthWarn, Check: CheckDocker, HealthyRuns: 2},
		KeepReleases: 3, Strategy: StrategyRecreate,
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
	// A bare alias stays bare so that ~/.ssh/config applies.
	if tg := got.Hosts[0].Target(); tg != "web1" {
		t.Errorf("Target() = %q, want web1", tg)
	}
}

func TestParseOtherForms(t *testing.T) {
	base := fixture(t)
	head := "service: app\nremote_base: /srv/app\nfiles: dist\n"
	cases := []struct {
		name, yaml string
		check      func(*Spec) bool
	}{
		{"registry server", head + "hosts: [h]\nregistry: {server: 'registry.example.com:5000'}\n",
			func(s *Spec) bool {
				return s.Registry == Registry{Type: RegistryLogin, Server: "registry.example.com:5000"}
			}},
		{"ssh defaults only fill gaps", head + "ssh: {user: deploy, port: 2222}\nhosts: [root@a, 'b:22', {address: c, user: x, port: 23}]\n",
			func(s *Spec) bool {
				return reflect.DeepEqual(s.Hosts, []Host{{Address: "a", User: "root", Port: 2222}, {Address: "b", User: "deploy", Port: 22}, {Address: "c", User: "x", Port: 23}})
			}},
		{"bracketed address in mapping", head + "hosts: [{address: '[fe80::1]', port: 22}]\n",
			func(s *Spec) bool { return s.Hosts[0].Target() == "[fe80::1]:22" }},
		{"bare ipv6 without port", head + "hosts: ['2001:db8::5']\n",
			func(s *Spec) bool { return s.Hosts[0].Target() == "2001:db8::5" }},
		{"same host on two ports", head + "hosts: ['h:22', 'h:2222']\n",
			func(s *Spec) bool { return len(s.Hosts) == 2 }},
		{"nulls are absent", head + "hosts: [h]\nwait:\nhealth: ~\nregistry:\n",
			func(s *Spec) bool {
				return s.Wait.Retries == 6 && s.Health.Unhealthy == HealthWarn && s.Registry.Type == RegistryNone
			}},
		{"absolute files", "service: app\nremote_base: /srv/app\nfiles: " + filepath.Join(base, "dist") + "\nhosts: [h]\n",
			func(s *Spec) bool { return s.FilesDir == filepath.Join(base, "dist") }},
		{"comments and anchors without aliases", "# hoist\n" + head + "hosts: &h [h] # the hosts\n",
			func(s *Spec) bool { return len(s.Hosts) == 1 }},
		{"limits", head + "hosts: [h]\nwait: {retries: 1000, delay: 10m}\nkeep_releases: 100\n",
			func(s *Spec) bool { return s.Wait.Delay == 10*time.Minute && s.KeepReleases == 100 }},
		{"docker-compose.yml", "service: app\nremote_base: /srv/app\nfiles: dc\nhosts: [h]\n",
			func(s *Spec) bool { return s.ComposeFile == "docker-compose.yml" }},
	}
	if err := os.MkdirAll(filepath.Join(base, "dc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(base, "dc", "docker-compose.yml"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := Parse([]byte(c.yaml), "hoist.yml", base)
			if err != nil {
				t.Fatal(err)
			}
			if !c.check(s) {
				t.Fatalf("unexpected spec %+v", s)
			}
		})
	}
}

// base is a valid config of five lines; the malformed cases change one
// line or add lines from line 6 on.
const base = "service: app\nremote_base: /srv/app\nfiles: ./dist\nhosts:\n  - deploy@10.0.0.5\n"

// set replaces the value of a top-level key of base, keeping every line
// where it is.
func set(key, value string) string {
	lines := strings.Split(base, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, key+":") {
			lines[i] = key + ": " + value
			if key == "hosts" {
				lines[i+1] = ""
			}
			return strings.Join(lines, "\n")
		}
	}
	panic("no key " + key)
}

// drop removes a top-level key (and, for hosts, its list) from base.
func drop(key string) string {
	var out []string
	skip := false
	for _, l := range strings.Split(base, "\n") {
		if strings.HasPrefix(l, key+":") {
			skip = true
			continue
		}
		if skip && strings.HasPrefix(l, " ") {
			continue
		}
		skip = false
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}

func host(h string) string { return set("hosts", "["+h+"]") }

type badCase struct {
	name string
	yaml string
	want string // must appear in one problem: the field, or for unknown keys the key
	line int    // the line that problem cites; 0: no line expected
}

var malformed = []badCase{
	// YAML itself
	{"bad yaml", "service: app\nremote_base: [/srv\n", "invalid YAML", 0},
	{"bad indentation", "service: app\n  remote_base: /srv/app\n", "invalid YAML", 2},
	{"tab indentation", "service: app\nhosts:\n\t- a\n", "invalid YAML", 3},
	{"top level list", "- service\n- app\n", "must be a mapping", 1},
	{"top level scalar", "hello\n", "must be a mapping", 1},
	{"empty file", "", "is empty", 0},
	{"only comments", "# nothing\n", "is empty", 0},
	{"two documents", base + "---\nservice: other\n", "more than one YAML document", 6},
	{"alias", base + "x: &a 1\nkeep_releases: *a\n", "aliases", 7},
	{"merge key", base + "wait:\n  <<: {retries: 3}\n", `unknown key "<<"`, 7},

	// unknown and repeated keys, at every level
	{"unknown top key", base + "servces: [web]\n", `unknown key "servces" (did you mean "services"?)`, 6},
	{"unknown wait key", base + "wait: {retry: 3}\n", `wait: unknown key "retry"`, 6},
	{"unknown ssh key", base + "ssh:\n  username: deploy\n", `ssh: unknown key "username"`, 7},
	{"unknown registry key", base + "registry:\n  server: r.example.com\n  passwd: x\n", `registry: unknown key "passwd"`, 8},
	{"unknown health key", base + "health: {unhealty: warn}\n", `health: unknown key "unhealty"`, 6},
	{"unknown host key", host("{address: h, prot: 22}"), `hosts[0]: unknown key "prot"`, 4},
	{"repeated key", base + "service: other\n", "service: is set twice (first on line 1)", 6},
	{"non-scalar key", base + "? [a]\n: b\n", "keys must be plain names", 6},

	// wrong types
	{"hosts is a number", set("hosts", "5"), "hosts: must be a list", 4},
	{"hosts is a mapping", set("hosts", "{a: b}"), "hosts: must be a list", 4},
	{"host is a list", host("[a, b]"), "hosts[0]", 4},
	{"services is a string", base + "services: web\n", "services: must be a list", 6},
	{"service is a list", set("service", "[a]"), "service: must be a string", 1},
	{"remote_base is a mapping", set("remote_base", "{a: b}"), "remote_base: must be a string", 2},
	{"wait is a number", base + "wait: 5\n", "wait: must be a mapping", 6},
	{"retries quoted", base + "wait: {retries: \"6\"}\n", "wait.retries: must be a whole number", 6},
	{"keep_releases float", base + "keep_releases: 2.5\n", "keep_releases: must be a whole number", 6},
	{"keep_releases huge", base + "keep_releases: 99999999999999999999999\n", "keep_releases", 6},
	{"ssh is a list", base + "ssh: [deploy]\n", "ssh: must be a mapping", 6},
	{"registry is a string", base + "registry: ecr\n", "registry: must be a mapping", 6},
	{"port quoted", host(`{address: h, port: "22"}`), "hosts[0].port: must be a whole number", 4},
	{"binary tag", set("service", "!!binary YXBw"), "service: must be a string", 1},

	// remote_base
	{"remote_base relative", set("remote_base", "srv/app"), `remote_base: must be an absolute path, got "srv/app"`, 2},
	{"remote_base dotdot", set("remote_base", "/srv/../etc"), "remote_base", 2},
	{"remote_base root", set("remote_base", "/"), "remote_base", 2},
	{"remote_base trailing slash", set("remote_base", "/srv/app/"), "remote_base: must be a clean path", 2},
	{"remote_base double slash", set("remote_base", "/srv//app"), "remote_base: must be a clean path", 2},
	{"remote_base dot", set("remote_base", "/srv/./app"), "remote_base: must be a clean path", 2},
	{"remote_base newline", set("remote_base", `"/srv/a\nb"`), "remote_base", 2},
	{"remote_base NUL", set("remote_base", `"/srv/a\0b"`), "remote_base", 2},
	{"remote_base bidi", set("remote_base", `"/srv/a\u202eb"`), "remote_base", 2},
	{"remote_base too long", set("remote_base", "/"+strings.Repeat("a", 4096)), "remote_base", 2},
	{"remote_base empty", set("remote_base", `""`), "remote_base: must not be empty", 2},
	{"remote_base missing", drop("remote_base"), "remote_base: is required", 0},

	// service
	{"service uppercase", set("service", "App"), "service", 1},
	{"service space", set("service", "my app"), "service", 1},
	{"service subshell", set("service", "$(id)"), "service", 1},
	{"service leading dash", set("service", "-app"), "service", 1},
	{"service too long", set("service", strings.Repeat("a", 64)), "service", 1},
	{"service missing", drop("service"), "service: is required", 0},
	{"service null", set("service", "~"), "service: is required", 1},

	// hosts
	{"hosts empty", set("hosts", "[]"), "hosts: must list at least one host", 4},
	{"hosts missing", drop("hosts"), "hosts: must list at least one host", 0},
	{"host semicolon", host("'deploy@h;reboot'"), "hosts[0].address", 4},
	{"host backtick", host("'deploy@`id`'"), "hosts[0].address", 4},
	{"host space", host("'deploy@my host'"), "hosts[0].address", 4},
	{"host subshell", host("'$(id)'"), "hosts[0].address", 4},
	{"host newline", host(`"h\nx"`), "hosts[0].address", 4},
	{"host option", host("'-oProxyCommand=sh'"), "hosts[0].address", 4},
	{"host port 0", host("'h:0'"), "hosts[0].port", 4},
	{"host port 70000", host("'h:70000'"), "hosts[0].port", 4},
	{"host port x", host("'h:x'"), "hosts[0].port", 4},
	{"host port empty", host("'h:'"), "hosts[0].port", 4},
	{"mapping port 0", host("{address: h, port: 0}"), "hosts[0].port", 4},
	{"mapping port 70000", host("{address: h, port: 70000}"), "hosts[0].port", 4},
	{"host user uppercase", host("Deploy@h"), "hosts[0].user", 4},
	{"host user option", host("'-oX@h'"), "hosts[0].user", 4},
	{"host user empty", host("'@h'"), "hosts[0].user", 4},
	{"host user too long", host(strings.Repeat("u", 33) + "@h"), "hosts[0].user", 4},
	{"mapping user with dollar", host("{address: h, user: $USER}"), "hosts[0].user", 4},
	{"host bad ipv4", host("300.1.1.1"), "hosts[0].address", 4},
	{"host numeric", host("'12345'"), "hosts[0].address", 4},
	{"host ipv4 in brackets", host("'[10.0.0.1]:22'"), "hosts[0].address", 4},
	{"host bracket garbage", host("'[::1]x'"), "hosts[0].address", 4},
	{"host ipv6 zone", host("'fe80::1%eth0'"), "hosts[0].address", 4},
	{"host empty label", host("'a..b'"), "hosts[0].address", 4},
	{"host underscore", host("my_host"), "hosts[0].address", 4},
	{"mapping without address", host("{user: deploy}"), "hosts[0].address: is required", 4},
	{"mapping bad name", host("{address: h, name: 'a b'}"), "hosts[0].name", 4},
	{"duplicate hosts", set("hosts", "[deploy@h, deploy@h]"), "hosts[1]", 4},
	{"duplicate hosts after defaults", set("hosts", "[h, deploy@H]") + "ssh: {user: deploy}\n", "hosts[1]", 4},
	{"duplicate ipv6 hosts", set("hosts", "['[::1]:22', '[0::1]:22']"), "hosts[1]", 4},
	{"duplicate host names", set("hosts", "[{address: a, name: x}, {address: b, name: x}]"), "hosts[1].name", 4},
	{"second host bad", "service: app\nremote_base: /srv/app\nfiles: ./dist\nhosts:\n  - ok\n  - 'bad host'\n", "hosts[1].address", 6},
	{"ssh port 70000", base + "ssh: {port: 70000}\n", "ssh.port", 6},
	{"ssh user uppercase", base + "ssh: {user: Root}\n", "ssh.user", 6},

	// services
	{"services space", base + "services: ['web app']\n", "services[0]", 6},
	{"services dash", base + "services: ['-web']\n", "services[0]", 6},
	{"services duplicate", base + "services:\n  - web\n  - web\n", "services[1]", 8},
	{"services empty", base + "services: []\n", "services", 6},
	{"services nested list", base + "services: [[web]]\n", "services[0]", 6},

	// wait
	{"delay without unit", base + "wait: {delay: \"5\"}\n", "wait.delay", 6},
	{"delay number", base + "wait:\n  delay: 5\n", "wait.delay", 7},
	{"delay negative", base + "wait: {delay: -1s}\n", "wait.delay", 6},
	{"delay zero", base + "wait: {delay: 0s}\n", "wait.delay", 6},
	{"delay an hour", base + "wait: {delay: 1h}\n", "wait.delay", 6},
	{"stable negative", base + "wait: {stable: -1s}\n", "wait.stable", 6},
	{"stable as long as the window", base + "wait: {retries: 2, delay: 1s, stable: 2s}\n", "wait.stable", 6},
	{"retries 0", base + "wait: {retries: 0}\n", "wait.retries", 6},
	{"retries 1001", base + "wait: {retries: 1001}\n", "wait.retries", 6},

	// health
	{"unhealthy maybe", base + "health: {unhealthy: maybe}\n", "health.unhealthy", 6},

	// registry
	{"registry type", base + "registry: {type: basic, server: r.example.com}\n", "registry.type: is no longer part of the deploy spec", 6},
	{"registry password_env", base + "registry:\n  server: r.example.com\n  password_env: HOIST_CODEC_KEYS\n", "registry.password_env: is no longer part of the deploy spec", 8},
	{"registry username", base + "registry: {server: r.example.com, username: ci}\n", "registry.username: is no longer part", 6},
	{"registry region", base + "registry:\n  region: us-west-2\n", "registry.region: is no longer part", 7},
	{"registry without server", base + "registry: {}\n", "registry.server: is required", 6},
	{"server with scheme", base + "registry: {server: 'https://r.example.com'}\n", "registry.server", 6},
	{"server bad port", base + "registry: {server: 'r.example.com:0'}\n", "registry.server", 6},
	{"server is a list", base + "registry: {server: [a]}\n", "registry.server: must be a string", 6},

	// keep_releases
	{"keep_releases 0", base + "keep_releases: 0\n", "keep_releases", 6},
	{"keep_releases 101", base + "keep_releases: 101\n", "keep_releases", 6},

	// rollout
	{"rollout is a list", base + "rollout: [1]\n", "rollout: must be a mapping", 6},
	{"rollout unknown key", base + "rollout:\n  batch: [1]\n", `rollout: unknown key "batch" (did you mean "batches"?)`, 7},
	{"rollout serial", base + "rollout: {serial: [1]}\n", `rollout: unknown key "serial"`, 6},
	{"rollout repeated key", base + "rollout:\n  pause: 1s\n  pause: 2s\n", "rollout.pause: is set twice (first on line 7)", 8},
	{"batches a scalar", base + "rollout: {batches: 1}\n", "rollout.batches: must be a list of batch sizes", 6},
	{"batches empty", base + "rollout: {batches: []}\n", "rollout.batches: must list at least one batch size", 6},
	{"batch quoted count", base + "rollout:\n  batches: [1, \"2\"]\n", `rollout.batches[1]: want a count (1, 2, ...) or a whole percentage of all hosts ("25%"), got "2"`, 7},
	{"batch zero", base + "rollout:\n  batches:\n    - 1\n    - 0\n", "rollout.batches[1]: must be a count of hosts from 1", 9},
	{"batch negative", base + "rollout: {batches: [-1]}\n", "rollout.batches[0]: must be a count of hosts from 1", 6},
	{"batch 0%", base + "rollout: {batches: ['0%']}\n", "rollout.batches[0]: must be a percentage from 1% to 100%", 6},
	{"batch 101%", base + "rollout: {batches: ['101%']}\n", "rollout.batches[0]: want a percentage of at most 100%", 6},
	{"batch fraction of a percent", base + "rollout: {batches: ['12.5%']}\n", "rollout.batches[0]: want a count", 6},
	{"batch float", base + "rollout: {batches: [0.5]}\n", "rollout.batches[0]: must be a count of hosts or a percentage", 6},
	{"batch a list", base + "rollout: {batches: [[1]]}\n", "rollout.batches[0]: must be a count of hosts or a percentage", 6},
	{"batch huge", base + "rollout: {batches: [99999999999999999999999]}\n", "rollout.batches[0]: must be a count of hosts or a percentage", 6},
	{"batch percent with space", base + "rollout: {batches: ['25 %']}\n", "rollout.batches[0]", 6},
	{"max_parallel 0", base + "rollout: {max_parallel: 0}\n", "rollout.max_parallel: must be at least 1, got 0 (leave it out for the batch size)", 6},
	{"max_parallel quoted", base + "rollout: {max_parallel: '10'}\n", "rollout.max_parallel: must be a whole number", 6},
	{"max_parallel a percentage", base + "rollout: {max_parallel: '50%'}\n", "rollout.max_parallel: must be a whole number", 6},
	{"preflight yes", base + "rollout: {preflight: yes}\n", `rollout.preflight: must be true or false, got the string "yes"`, 6},
	{"preflight quoted", base + "rollout: {preflight: 'true'}\n", "rollout.preflight: must be true or false", 6},
	{"preflight a number", base + "rollout: {preflight: 1}\n", "rollout.preflight: must be true or false, got the number 1", 6},
	{"pause without unit", base + "rollout: {pause: 30}\n", "rollout.pause: must be a duration", 6},
	{"pause negative", base + "rollout: {pause: -1s}\n", "rollout.pause: must be from 0 to 24h", 6},
	{"pause two days", base + "rollout: {pause: 48h}\n", "rollout.pause: must be from 0 to 24h", 6},
	{"approve_after a number", base + "rollout: {approve_after: 1}\n", "rollout.approve_after: must be a list of batch numbers", 6},
	{"approve_after 0", base + "rollout: {approve_after: [0]}\n", "rollout.approve_after[0]: must be a batch number from 1, got 0", 6},
	{"approve_after a string", base + "rollout: {approve_after: [first]}\n", "rollout.approve_after[0]: must be a whole number", 6},
	{"approve_after twice", base + "rollout:\n  batches: ['50%']\n  approve_after:\n    - 1\n    - 1\n", "rollout.approve_after[1]: batch 1 is listed twice (also approve_after[0])", 10},
	// base has one host: one batch, whatever the sizes.
	{"approve_after a batch that does not exist", base + "rollout:\n  batches: [1, '100%']\n  approve_after: [1, 2]\n", `rollout.approve_after[1]: batch 2 does not exist: 1 host(s) in batches [1, "100%"] make 1 batch(es)`, 8},
	{"approve_after past three hosts", set("hosts", "[a, b, c]") + "rollout:\n  batches: [1, '100%']\n  approve_after:\n    - 3\n", `rollout.approve_after[0]: batch 3 does not exist: 3 host(s) in batches [1, "100%"] make 2 batch(es)`, 9},
	{"approve_after past the default batches", set("hosts", "[a, b]") + "rollout: {approve_after: [3]}\n", `batch 3 does not exist: 2 host(s) in batches [1] make 2 batch(es)`, 6},
	{"approval_timeout 0", base + "rollout: {approval_timeout: 0s}\n", "rollout.approval_timeout: must be more than 0 and at most 168h", 6},
	{"approval_timeout a month", base + "rollout: {approval_timeout: 720h}\n", "rollout.approval_timeout: must be more than 0 and at most 168h", 6},
	{"approval_timeout a number", base + "rollout: {approval_timeout: 3600}\n", "rollout.approval_timeout: must be a duration", 6},
	{"max_failed negative", base + "rollout: {max_failed: -1}\n", "rollout.max_failed: must be a count of hosts from 0 or a percentage from 0% to 100%, got -1", 6},
	{"max_failed 150%", base + "rollout: {max_failed: '150%'}\n", "rollout.max_failed: want a percentage of at most 100%", 6},
	{"max_failed quoted", base + "rollout: {max_failed: '1'}\n", "rollout.max_failed: want a count", 6},
	{"max_failed a float", base + "rollout: {max_failed: 0.1}\n", "rollout.max_failed: must be a count of hosts or a percentage", 6},
	{"on_failure revert", base + "rollout: {on_failure: revert}\n", `rollout.on_failure: must be rollback or halt, got "revert"`, 6},
	{"on_failure a list", base + "rollout: {on_failure: [halt]}\n", "rollout.on_failure: must be a string", 6},
	{"on_failure empty", base + "rollout: {on_failure: ''}\n", "rollout.on_failure: must not be empty", 6},

	// files
	{"files missing folder", set("files", "./nope"), "files: folder", 3},
	{"files not a folder", set("files", "notdir"), "is not a folder", 3},
	{"files without compose file", set("files", "empty"), "holds no compose file", 3},
	{"files with two compose files", set("files", "two"), "more than one compose file", 3},
	{"compose file is a folder", set("files", "dirchild"), "must be a regular file", 3},
	{"files key missing", drop("files"), "files: is required", 0},
	{"files empty", set("files", `""`), "files: must not be empty", 3},
}

func TestParseMalformed(t *testing.T) {
	dir := fixture(t)
	if len(malformed) < 40 {
		t.Fatalf("only %d malformed cases", len(malformed))
	}
	seen := map[string]bool{}
	for _, c := range malformed {
		if seen[c.name] {
			t.Fatalf("two cases named %q", c.name)
		}
		seen[c.name] = true
		t.Run(c.name, func(t *testing.T) {
			spec, err := Parse([]byte(c.yaml), "hoist.yml", dir)
			if err == nil {
				t.Fatalf("accepted:\n%s\n→ %+v", c.yaml, spec)
			}
			if spec != nil {
				t.Errorf("returned a spec with the error")
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("%T is not a *config.Error: %v", err, err)
			}
			t.Log(err)
			problems := Problems(err)
			for _, p := range problems {
				if p.File != "hoist.yml" || !strings.HasPrefix(p.Error(), "hoist.yml") {
					t.Errorf("problem does not name the file: %q", p.Error())
				}
			}
			for _, p := range problems {
				if strings.Contains(p.Error(), c.want) && (c.line == 0 || p.Line == c.line) {
					if c.line > 0 && !strings.HasPrefix(p.Error(), fmt.Sprintf("hoist.yml:%d: ", c.line)) {
						t.Errorf("%q does not start with the line", p.Error())
					}
					return
				}
			}
			t.Fatalf("no problem mentions %q on line %d; got:\n%v", c.want, c.line, err)
		})
	}
}

// All problems are reported together, in line order.
func TestParseCollectsAll(t *testing.T) {
	cfg := "service: App\nremote_base: srv\nfiles: ./nope\nhosts: ['a;b', 'h:0']\nwait: {retries: 0, delay: 1h}\nhealth: {unhealthy: maybe}\nkeep_releases: 0\nregistry: {server: 'a b'}\nbogus: 1\n"
	_, err := Parse([]byte(cfg), "hoist.yml", fixture(t))
	problems := Problems(err)
	var fields []string
	lastLine := 0
	for _, p := range problems {
		fields = append(fields, p.Field)
		if p.Line < lastLine {
			t.Errorf("problems out of line order: %v", err)
		}
		lastLine = p.Line
	}
	want := []string{"service", "remote_base", "files", "hosts[1].port", "hosts[0].address", "wait.retries", "wait.delay", "health.unhealthy", "keep_releases", "registry.server", ""}
	if !reflect.DeepEqual(fields, want) {
		t.Fatalf("fields %q\nwant   %q\n%v", fields, want, err)
	}
}

func TestLoad(t *testing.T) {
	dir := fixture(t)
	path := filepath.Join(dir, "hoist.yml")
	if err := os.WriteFile(path, []byte(base), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if s.FilesDir != filepath.Join(dir, "dist") {
		t.Errorf("FilesDir = %q: not resolved against the config's folder", s.FilesDir)
	}

	_, err = Load(filepath.Join(dir, "missing.yml"))
	var ce *Error
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "missing.yml: cannot read") {
		t.Errorf("missing file: %v", err)
	}

	big := filepath.Join(dir, "big.yml")
	if err := os.WriteFile(big, []byte(base+"#"+strings.Repeat("x", maxConfigBytes)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(big); !errors.As(err, &ce) {
		t.Errorf("oversized file: %v", err)
	}
}

func TestErrorFormat(t *testing.T) {
	cases := []struct {
		err  Error
		want string
	}{
		{Error{File: "hoist.yml", Line: 3, Field: "remote_base", Msg: "bad"}, "hoist.yml:3: remote_base: bad"},
		{Error{File: "hoist.yml", Field: "hosts", Msg: "bad"}, "hoist.yml: hosts: bad"},
		{Error{File: "hoist.yml", Line: 7, Msg: `unknown key "x"`}, `hoist.yml:7: unknown key "x"`},
		{Error{Field: "--version", Msg: "bad"}, "--version: bad"},
	}
	for _, c := range cases {
		if got := c.err.Error(); got != c.want {
			t.Errorf("got %q, want %q", got, c.want)
		}
	}
	joined := errors.Join(&Error{Field: "a", Msg: "x"}, &Error{Field: "b", Msg: "y"})
	if got := Problems(fmt.Errorf("wrapped: %w", joined)); len(got) != 2 {
		t.Errorf("Problems found %d, want 2", len(got))
	}
	if Problems(errors.New("plain")) != nil || Problems(nil) != nil {
		t.Errorf("Problems of a non-config error is not nil")
	}
}

func TestHostTarget(t *testing.T) {
	cases := []struct {
		h            Host
		target, show string
	}{
		{Host{Address: "web1"}, "web1", "web1"},
		{Host{Address: "h", User: "deploy"}, "deploy@h", "deploy@h"},
		{Host{Address: "h", Port: 2222}, "h:2222", "h:2222"},
		{Host{Address: "::1", Port: 22}, "[::1]:22", "[::1]:22"},
		{Host{Address: "::1", User: "u"}, "u@::1", "u@::1"},
		{Host{Name: "db", Address: "10.0.0.9", User: "u", Port: 22}, "u@10.0.0.9:22", "db"},
	}
	for _, c := range cases {
		if got := c.h.Target(); got != c.target {
			t.Errorf("%+v.Target() = %q, want %q", c.h, got, c.target)
		}
		if got := c.h.String(); got != c.show {
			t.Errorf("%+v.String() = %q, want %q", c.h, got, c.show)
		}
	}
}

// Validate guards specs that arrive from elsewhere, such as a workflow input.
func TestValidate(t *testing.T) {
	good := Spec{
		Service: "app", RemoteBase: "/srv/app", ComposeFile: "compose.yaml",
		Hosts:    []Host{{Address: "h"}},
		Registry: Registry{Type: RegistryNone},
		Wait:     Wait{Retries: 6, Delay: 5 * time.Second}, Health: Health{Unhealthy: HealthWarn}, KeepReleases: 3,
	}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	bad := good
	bad.RemoteBase = "/srv/../etc"
	bad.Hosts = []Host{{Address: "h;id"}}
	bad.ComposeFile = "../compose.yaml"
	err := bad.Validate()
	for _, field := range []string{"remote_base", "hosts[0].address", "compose_file"} {
		if !strings.Contains(fmt.Sprint(err), field) {
			t.Errorf("Validate does not report %s: %v", field, err)
		}
	}
}

// The issue's rollout block, comments and all.
const issueRollout = `rollout:
  batches: [1, "25%", "100%"]  # sizes of successive batches
  max_parallel: 10             # hosts changed at once inside a batch (default: the batch size)
  preflight: true              # default true
  pause: 30s                   # default 0
  approve_after: [1]           # wait for approval after these batches (default: none)
  approval_timeout: 4h         # no answer by then: roll back (default 4h)
  max_failed: 0                # hosts (count or "%")
  on_failure: rollback         # rollback | halt
`

func TestParseRollout(t *testing.T) {
	dir := fixture(t)
	head := "service: app\nremote_base: /srv/app\nfiles: dist\nhosts: [a, b, c, d]\n"
	cases := []struct {
		name, yaml string
		want       *Rollout
	}{
		{"the issue's block", head + issueRollout, &Rollout{
			Batches: []rollout.Size{rollout.Count(1), rollout.Percent(25), rollout.Percent(100)}, MaxParallel: 10,
			Preflight: true, Pause: 30 * time.Second, ApproveAfter: []int{1}, ApprovalTimeout: 4 * time.Hour,
			MaxFailed: rollout.Count(0), OnFailure: OnFailureRollback}},
		{"no block: today's behaviour", head, nil},
		{"a null block is no block", head + "rollout:\n", nil},
		{"an empty block: every default", head + "rollout: {}\n", &Rollout{
			Batches: []rollout.Size{rollout.Count(1)}, Preflight: true, ApprovalTimeout: DefaultApprovalTimeout, OnFailure: OnFailureRollback}},
		{"nulls inside take the defaults", head + "rollout: {batches: ~, preflight: ~, on_failure: ~}\n", &Rollout{
			Batches: []rollout.Size{rollout.Count(1)}, Preflight: true, ApprovalTimeout: DefaultApprovalTimeout, OnFailure: OnFailureRollback}},
		{"halt, no preflight, a percentage budget, plain 100%", head + "rollout:\n  batches: [2, 100%]\n  preflight: false\n  max_failed: '50%'\n  on_failure: halt\n  approve_after: [2, 1]\n  approval_timeout: 168h\n  pause: 24h\n", &Rollout{
			Batches: []rollout.Size{rollout.Count(2), rollout.Percent(100)}, Preflight: false, Pause: 24 * time.Hour, ApproveAfter: []int{2, 1},
			ApprovalTimeout: 168 * time.Hour, MaxFailed: rollout.Percent(50), OnFailure: OnFailureHalt}},
		{"an empty approve_after is none", head + "rollout: {approve_after: []}\n", &Rollout{
			Batches: []rollout.Size{rollout.Count(1)}, Preflight: true, ApprovalTimeout: DefaultApprovalTimeout, OnFailure: OnFailureRollback}},
		{"sizes larger than the fleet", head + "rollout: {batches: [10, 500], approve_after: [1], max_failed: 99}\n", &Rollout{
			Batches: []rollout.Size{rollout.Count(10), rollout.Count(500)}, Preflight: true, ApproveAfter: []int{1},
			ApprovalTimeout: DefaultApprovalTimeout, MaxFailed: rollout.Count(99), OnFailure: OnFailureRollback}},
		{"approval after the last batch", head + "rollout: {batches: ['100%'], approve_after: [1]}\n", &Rollout{
			Batches: []rollout.Size{rollout.Percent(100)}, Preflight: true, ApproveAfter: []int{1},
			ApprovalTimeout: DefaultApprovalTimeout, OnFailure: OnFailureRollback}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := Parse([]byte(c.yaml), "hoist.yml", dir)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(s.Rollout, c.want) {
				t.Fatalf("rollout\n got %+v\nwant %+v", s.Rollout, c.want)
			}
			// The spec crosses the workflow boundary as JSON: the block
			// comes back the same, and valid.
			data, err := json.Marshal(s)
			if err != nil {
				t.Fatal(err)
			}
			if c.want == nil && strings.Contains(string(data), "rollout") {
				t.Fatalf("a spec without a rollout block names one in JSON: %s", data)
			}
			var back Spec
			if err := json.Unmarshal(data, &back); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(back.Rollout, c.want) {
				t.Fatalf("JSON round trip: %+v from %s", back.Rollout, data)
			}
			if err := back.Validate(); err != nil {
				t.Fatalf("Validate after JSON: %v", err)
			}
		})
	}
}

// A rollout block that arrives from elsewhere (a workflow input) is held
// to the same rules, the batch numbers against its own hosts.
func TestValidateRollout(t *testing.T) {
	good := Spec{
		Service: "app", RemoteBase: "/srv/app", ComposeFile: "compose.yaml",
		Hosts:    []Host{{Address: "a"}, {Address: "b"}, {Address: "c"}},
		Registry: Registry{Type: RegistryNone},
		Wait:     Wait{Retries: 6, Delay: 5 * time.Second}, Health: Health{Unhealthy: HealthWarn}, KeepReleases: 3,
		Rollout: &Rollout{Batches: []rollout.Size{rollout.Count(1), rollout.Percent(100)}, ApproveAfter: []int{1, 2},
			ApprovalTimeout: time.Hour, OnFailure: OnFailureHalt},
	}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	bad := good
	bad.Rollout = &Rollout{Batches: []rollout.Size{rollout.Count(0)}, MaxParallel: -1, Pause: -time.Second,
		ApproveAfter: []int{7}, MaxFailed: rollout.Percent(101), OnFailure: "retry"}
	err := bad.Validate()
	for _, field := range []string{"rollout.batches[0]", "rollout.max_parallel", "rollout.pause", "rollout.approval_timeout", "rollout.max_failed", "rollout.on_failure"} {
		if !strings.Contains(fmt.Sprint(err), field+": ") {
			t.Errorf("Validate does not report %s: %v", field, err)
		}
	}
	// With the batches wrong, batch 7 is not judged against them.
	if strings.Contains(fmt.Sprint(err), "approve_after") {
		t.Errorf("approve_after judged against bad batches: %v", err)
	}
	bad.Rollout = &Rollout{Batches: []rollout.Size{rollout.Percent(50)}, ApproveAfter: []int{3}, ApprovalTimeout: time.Hour, OnFailure: OnFailureRollback}
	if err := bad.Validate(); !strings.Contains(fmt.Sprint(err), `rollout.approve_after[0]: batch 3 does not exist: 3 host(s) in batches ["50%"] make 2 batch(es)`) {
		t.Errorf("approve_after past the batches: %v", err)
	}
}
