package sshexec

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseSpec(t *testing.T) {
	cases := []struct {
		in   string
		want hostSpec
	}{
		{"h1", hostSpec{host: "h1"}},
		{"deploy@h1", hostSpec{user: "deploy", host: "h1"}},
		{"h1:2222", hostSpec{host: "h1", port: 2222}},
		{"deploy@10.0.0.1:22", hostSpec{user: "deploy", host: "10.0.0.1", port: 22}},
		{"[::1]:2222", hostSpec{host: "::1", port: 2222}},
		{"root@[fe80::1]", hostSpec{user: "root", host: "fe80::1"}},
		{"::1", hostSpec{host: "::1"}},
		{"a@b@host", hostSpec{user: "a@b", host: "host"}},
	}
	for _, c := range cases {
		got, err := parseSpec(c.in)
		if err != nil {
			t.Errorf("parseSpec(%q): %v", c.in, err)
			continue
		}
		if got != c.want {
			t.Errorf("parseSpec(%q) = %+v, want %+v", c.in, got, c.want)
		}
	}
	for _, bad := range []string{"", "@h1", "deploy@", "h1:", "h1:0", "h1:65536", "h1:ssh", "[::1", "[::1]x", "[::1]:", "a b", "h1\n", "-oProxyCommand=x"} {
		if sp, err := parseSpec(bad); err == nil {
			t.Errorf("parseSpec(%q) = %+v, want an error", bad, sp)
		}
	}
}

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const testSSHConfig = `
Host web
  HostName 10.1.0.5
  User alice
  Port 2200
  IdentityFile ~/.ssh/web_key
  IdentityFile /keys/%h-%r

Host behind
  HostName 10.2.0.9
  ProxyJump bastion

Host bastion
  HostName bastion.example.com
  User jumper

Host loop
  ProxyJump behind

Host two-hops
  ProxyJump bastion,web

Host portless
  HostName %h.internal

Host *
  User fallback
  IdentitiesOnly yes
`

func TestResolveTarget(t *testing.T) {
	sc, err := loadSSHConfig(writeConfig(t, testSSHConfig))
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{User: "default-user", Port: 22, HomeDir: "/home/me"}
	cases := []struct {
		spec string
		want target
	}{
		{"web", target{user: "alice", host: "10.1.0.5", port: 2200,
			identityFiles: []string{"/home/me/.ssh/web_key", "/keys/10.1.0.5-alice"}}},
		// The spec's user and port win over the config.
		{"bob@web:2022", target{user: "bob", host: "10.1.0.5", port: 2022,
			identityFiles: []string{"/home/me/.ssh/web_key", "/keys/10.1.0.5-bob"}}},
		{"portless", target{user: "fallback", host: "portless.internal", port: 22}},
		{"10.9.9.9", target{user: "fallback", host: "10.9.9.9", port: 22}},
		{"behind", target{user: "fallback", host: "10.2.0.9", port: 22,
			jump: &target{spec: "bastion", user: "jumper", host: "bastion.example.com", port: 22, identitiesOnly: true}}},
	}
	for _, c := range cases {
		got, err := resolveTarget(sc, cfg, c.spec, true)
		if err != nil {
			t.Errorf("resolve %q: %v", c.spec, err)
			continue
		}
		c.want.spec = c.spec
		c.want.identitiesOnly = true
		if !reflect.DeepEqual(*got, c.want) {
			t.Errorf("resolve %q:\n got  %+v (jump %+v)\n want %+v (jump %+v)", c.spec, *got, got.jump, c.want, c.want.jump)
		}
	}

	got, _ := resolveTarget(sc, cfg, "behind", true)
	if k := got.key(); k != "fallback@10.2.0.9:22 via jumper@bastion.example.com:22" {
		t.Errorf("key = %q", k)
	}

	for spec, wantErr := range map[string]string{
		"loop":     "chains of jump hosts are not supported",
		"two-hops": "only one jump host is supported",
	} {
		if _, err := resolveTarget(sc, cfg, spec, true); err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("resolve %q: err = %v, want %q", spec, err, wantErr)
		}
	}
}

func TestResolveWithoutSSHConfig(t *testing.T) {
	cfg := Config{User: "deploy", Port: 22}
	got, err := resolveTarget(nil, cfg, "10.0.0.1", true)
	if err != nil {
		t.Fatal(err)
	}
	if got.String() != "deploy@10.0.0.1:22" {
		t.Errorf("got %s", got)
	}
	got, err = resolveTarget(nil, Config{Port: 22}, "root@[::1]:2222", true)
	if err != nil {
		t.Fatal(err)
	}
	if got.String() != "root@[::1]:2222" {
		t.Errorf("got %s", got)
	}
	if _, err := resolveTarget(nil, Config{Port: 22}, "10.0.0.1", true); err == nil || !strings.Contains(err.Error(), "no user") {
		t.Errorf("missing user: err = %v", err)
	}
}

func TestExpandPathNeedsHome(t *testing.T) {
	if _, err := expandPath("~/.ssh/id", "", "h", "u"); err == nil {
		t.Error("~ expanded without a home directory")
	}
	if _, err := expandPath("/k/%C", "/h", "h", "u"); err == nil {
		t.Error("unsupported token accepted")
	}
	if got, err := expandPath("%d/100%%", "/h", "h", "u"); err != nil || got != "/h/100%" {
		t.Errorf("got %q, %v", got, err)
	}
}
