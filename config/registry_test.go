package config

import (
	"fmt"
	"strings"
	"testing"
)

// Issue 8 §2: hoist.yml names the registry server and nothing else. Every
// key that once chose a credential is refused, naming the key and where
// credentials live now.
func TestRegistryCredentialKeysRefused(t *testing.T) {
	dir := fixture(t)
	for _, key := range []string{"type", "username", "password_env", "region", "password"} {
		t.Run(key, func(t *testing.T) {
			yml := base + fmt.Sprintf("registry:\n  server: registry.example.com:5000\n  %s: HOIST_CODEC_KEYS\n", key)
			spec, err := Parse([]byte(yml), "hoist.yml", dir)
			if err == nil {
				t.Fatalf("accepted registry.%s: %+v", key, spec.Registry)
			}
			want := fmt.Sprintf("hoist.yml:8: registry.%s: ", key)
			for _, p := range Problems(err) {
				if strings.HasPrefix(p.Error(), want) && strings.Contains(p.Msg, "credentials now live on the worker") &&
					strings.Contains(p.Msg, "--registry-credentials") {
					return
				}
			}
			t.Fatalf("no problem starts %q and says credentials live on the worker:\n%v", want, err)
		})
	}
}

func TestRegistryServerOnly(t *testing.T) {
	dir := fixture(t)
	s, err := Parse([]byte(base+"registry: {server: 'Registry.Example.com:5000'}\n"), "hoist.yml", dir)
	if err != nil {
		t.Fatal(err)
	}
	if s.Registry != (Registry{Type: RegistryLogin, Server: "Registry.Example.com:5000"}) || !s.Registry.LogsIn() {
		t.Fatalf("registry %+v", s.Registry)
	}
	s, err = Parse([]byte(base), "hoist.yml", dir)
	if err != nil {
		t.Fatal(err)
	}
	if s.Registry != (Registry{Type: RegistryNone}) || s.Registry.LogsIn() {
		t.Fatalf("no registry block: %+v", s.Registry)
	}
	for yml, want := range map[string]string{
		"registry: {}\n": "registry.server: is required",
		"registry: {server: 'https://r.example.com'}\n": "registry.server: must be a registry host[:port] without a scheme",
		"registry: {server: '$(id)'}\n":                 "registry.server: must be a registry host[:port]",
		"registry: {server: 'r.example.com:0'}\n":       "registry.server: must be a registry host[:port]",
	} {
		_, err := Parse([]byte(base+yml), "hoist.yml", dir)
		if !strings.Contains(fmt.Sprint(err), want) {
			t.Errorf("%q: want %q, got %v", yml, want, err)
		}
	}
}

// A spec that arrives past the CLI (another Temporal client) is checked by
// Validate: it must not smuggle a credential choice in either.
func TestValidateRefusesRegistryCredentials(t *testing.T) {
	good := Spec{
		Service: "app", RemoteBase: "/srv/app", ComposeFile: "compose.yaml",
		Hosts:    []Host{{Address: "h"}},
		Registry: Registry{Type: RegistryLogin, Server: "r.example.com:5000"},
		Wait:     Wait{Retries: 6, Delay: 5e9}, Health: Health{Unhealthy: HealthWarn}, KeepReleases: 3,
	}
	if err := good.Validate(); err != nil && strings.Contains(err.Error(), "registry") {
		t.Fatal(err)
	}
	cases := map[string]Registry{
		"registry.password_env": {Type: RegistryLogin, Server: "evil.example:5000", PasswordEnv: "HOIST_CODEC_KEYS"},
		"registry.username":     {Type: RegistryLogin, Server: "evil.example:5000", Username: "x"},
		"registry.region":       {Type: RegistryLogin, Server: "evil.example:5000", Region: "us-west-2"},
		"registry.type":         {Type: "basic", Server: "evil.example:5000"},
		"registry.server":       {Type: RegistryLogin},
	}
	for field, r := range cases {
		s := good
		s.Registry = r
		if err := s.Validate(); !strings.Contains(fmt.Sprint(err), field) {
			t.Errorf("%+v: want a problem with %s, got %v", r, field, err)
		}
	}
}
