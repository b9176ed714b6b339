package registrycreds

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "pw"), []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	yml := `
Registry.Example.com:5000:
  username: ci
  password_file: pw
other.example:5001:
  username: bot
  password_env: OTHER_PW
123456789012.dkr.ecr.us-west-2.amazonaws.com:
  ecr: {region: us-west-2}
`
	s, err := Parse([]byte(yml), "creds.yml", dir)
	if err != nil {
		t.Fatal(err)
	}
	if s.Len() != 3 {
		t.Fatalf("servers %v", s.Servers())
	}
	c, ok := s.Lookup("registry.example.com:5000") // host names are case-insensitive
	if !ok || c.Username != "ci" || c.PasswordFile != filepath.Join(dir, "pw") {
		t.Fatalf("basic: %+v %v", c, ok)
	}
	pw, err := c.Password(nil)
	if err != nil || string(pw) != "s3cret" {
		t.Fatalf("password %q %v", pw, err)
	}
	if _, ok := s.Lookup("registry.example.com"); ok {
		t.Fatal("a server without its port matched one with")
	}
	c, _ = s.Lookup("other.example:5001")
	if _, err := c.Password(func(string) string { return "" }); err == nil || !strings.Contains(err.Error(), "OTHER_PW") {
		t.Fatalf("unset variable: %v", err)
	}
	if pw, _ := c.Password(func(k string) string { return map[string]string{"OTHER_PW": "x"}[k] }); string(pw) != "x" {
		t.Fatalf("env password %q", pw)
	}
	c, _ = s.Lookup("123456789012.dkr.ecr.us-west-2.amazonaws.com")
	if !c.IsECR() || c.ECRRegion != "us-west-2" {
		t.Fatalf("ecr: %+v", c)
	}
	if err := s.Verify(func(string) string { return "" }); err == nil || !strings.Contains(err.Error(), "OTHER_PW") || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("verify: %v", err)
	}
	var none *Store
	if _, ok := none.Lookup("r:5000"); ok || none.Len() != 0 {
		t.Fatal("nil store holds a credential")
	}
}

func TestParseRefuses(t *testing.T) {
	cases := map[string]string{
		"r.example:5000: {username: ci}\n":                                                              "needs password_file or password_env",
		"r.example:5000: {username: ci, password: hunter2}\n":                                           "the password is not written here",
		"r.example:5000: {password_env: P}\n":                                                           "username is required",
		"r.example:5000: {username: ci, password_env: P, password_file: /x}\n":                          "not both",
		"r.example:5000: {username: ci, password_env: 'A-B'}\n":                                         "password_env must be the name of an environment variable",
		"r.example:5000: {ecr: {region: us-west}}\n":                                                    "ecr.region must be an AWS region",
		"r.example:5000: {ecr: {region: us-west-2}, username: AWS}\n":                                   "takes no username",
		"r.example:5000: {username: ci, password_env: P, server: x}\n":                                  `unknown key "server"`,
		"'https://r.example': {username: ci, password_env: P}\n":                                        "without a scheme",
		"r.example:5000: {username: ci, password_env: P}\nR.example:5000: {ecr: {region: us-west-2}}\n": "is listed twice (first on line 1)",
		"- r.example\n":    "must be a mapping",
		"r.example: [a]\n": "must be a mapping",
	}
	for yml, want := range cases {
		_, err := Parse([]byte(yml), "creds.yml", "/etc/hoist")
		if err == nil || !strings.Contains(err.Error(), want) || !strings.HasPrefix(err.Error(), "creds.yml:") {
			t.Errorf("%q: want %q, got %v", yml, want, err)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%q: the error shows the password: %v", yml, err)
		}
	}
	if s, err := Parse([]byte("# none yet\n"), "creds.yml", "/"); err != nil || s.Len() != 0 {
		t.Fatalf("empty file: %v", err)
	}
}

func TestPasswordFileChecks(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	if err := os.WriteFile(pw, []byte("\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := Parse([]byte("r.example:5000: {username: ci, password_file: "+pw+"}\n"), "creds.yml", dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Verify(nil); err == nil || !strings.Contains(err.Error(), "is empty") {
		t.Fatalf("empty password file: %v", err)
	}
	if w := s.Warnings(); len(w) != 1 || !strings.Contains(w[0], "chmod 600") {
		t.Fatalf("warnings %v", w)
	}
	os.Remove(pw)
	if err := s.Verify(nil); err == nil || !strings.Contains(err.Error(), pw) {
		t.Fatalf("missing password file: %v", err)
	}
}
