package config

import (
	"encoding/json"
	"strings"
	"testing"
)

// A staging and a production config of one service differ by
// `environment:`; leaving it out is production.
func TestParseEnvironment(t *testing.T) {
	base := fixture(t)
	head := "service: app\nremote_base: /srv/app\nfiles: dist\nhosts: [web1]\n"
	for _, c := range []struct{ yaml, want string }{
		{"", "production"},
		{"environment: staging\n", "staging"},
		{"environment: eu-2\n", "eu-2"},
	} {
		s, err := Parse([]byte(head+c.yaml), "hoist.yml", base)
		if err != nil {
			t.Fatalf("%q: %v", c.yaml, err)
		}
		if s.Environment != c.want || s.EnvironmentName() != c.want {
			t.Errorf("%q: environment %q (name %q), want %q", c.yaml, s.Environment, s.EnvironmentName(), c.want)
		}
	}
	for _, c := range []struct{ yaml, want string }{
		{"environment: Staging\n", `hoist.yml:5: environment: must be lowercase letters, digits, '_' and '-', starting with a letter or digit, got "Staging"`},
		{"environment: prod/eu\n", `hoist.yml:5: environment: must be lowercase letters`},
		{"environment: \"\"\n", "hoist.yml:5: environment: must not be empty"},
		{"environment: [a]\n", "hoist.yml:5: environment: must be a string, got a list"},
		{"environment: " + strings.Repeat("e", 64) + "\n", "hoist.yml:5: environment: must be at most 63 characters, got 64"},
		{"enviroment: staging\n", `unknown key "enviroment" (did you mean "environment"?)`},
	} {
		_, err := Parse([]byte(head+c.yaml), "hoist.yml", base)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want %q", c.yaml, err, c.want)
		}
	}
}

// A spec sent by a CLI from before environments has none: it is the
// production deploy it always was, and still valid.
func TestEnvironmentOfOlderSpec(t *testing.T) {
	var s Spec
	if err := json.Unmarshal([]byte(`{"service":"app","remote_base":"/srv/app","compose_file":"compose.yaml","hosts":[{"address":"h"}],"registry":{"type":"none"},"wait":{"retries":6,"delay":5000000000},"health":{"unhealthy":"warn"},"keep_releases":3}`), &s); err != nil {
		t.Fatal(err)
	}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	if s.EnvironmentName() != DefaultEnvironment {
		t.Fatalf("EnvironmentName() = %q, want %q", s.EnvironmentName(), DefaultEnvironment)
	}
	s.Environment = "../x"
	if err := s.Validate(); err == nil || !strings.Contains(err.Error(), "environment: must be lowercase") {
		t.Fatalf("Validate of environment ../x: %v", err)
	}
}
