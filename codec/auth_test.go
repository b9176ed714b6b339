package codec

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// Tokens of the test token file.
const (
	aliceToken = "alice-0123456789abcdef"
	ciToken    = "ci-fedcba9876543210fedcba"
)

func testTokens(t *testing.T) *Tokens {
	t.Helper()
	tok, err := ParseTokens("# who may decode\nalice " + aliceToken + "\n\nci\t" + ciToken + "\n")
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestParseTokens(t *testing.T) {
	tok, err := ParseTokens("# comment\n\n  alice   " + aliceToken + "  \nci@build\t" + ciToken + "\n")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(tok.Names(), ","); got != "alice,ci@build" {
		t.Errorf("names %q", got)
	}
	for token, want := range map[string]string{aliceToken: "alice", ciToken: "ci@build"} {
		c, err := tok.Authenticate(token)
		if err != nil || c.Name != want || c.Method != "token" {
			t.Errorf("token of %s: %+v, %v", want, c, err)
		}
	}
	if _, err := tok.Authenticate(""); !errors.Is(err, ErrNoToken) {
		t.Errorf("empty token: %v", err)
	}
	for _, bad := range []string{"alice", aliceToken + " ", strings.ToUpper(aliceToken), ciToken[1:]} {
		if c, err := tok.Authenticate(bad); err == nil {
			t.Errorf("%q accepted as %s", bad, c.Name)
		}
	}
	// Printing a Tokens shows names only.
	for _, s := range []string{fmt.Sprint(tok), fmt.Sprintf("%+v", tok), fmt.Sprintf("%#v", tok)} {
		if strings.Contains(s, aliceToken) || !strings.Contains(s, "alice") {
			t.Errorf("printed %q", s)
		}
	}
}

func TestParseTokensErrors(t *testing.T) {
	const tok = "s3cr3t-token-value-0123"
	cases := []struct{ text, want string }{
		{"", "no tokens"},
		{"# only a comment\n", "no tokens"},
		{tok + "\n", "line 1: want NAME TOKEN"},
		{"alice " + tok + " extra\n", "line 1: want NAME TOKEN"},
		{"al/ice " + tok + "\n", "line 1: invalid name"},
		{"alice short\n", "line 1: the token is shorter than 16"},
		{"alice " + tok + "\nalice " + tok + "x\n", "line 2: the name is already used on line 1"},
		{"alice " + tok + "\n\nbob " + tok + "\n", "line 3: the token is the one of line 1"},
	}
	for _, c := range cases {
		if _, err := ParseTokens(c.text); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want %q", c.text, err, c.want)
		}
	}
	// A line written the wrong way round: its name field is the token,
	// and the error must not repeat it.
	_, err := ParseTokens(tok + " alice\n")
	if err == nil || strings.Contains(err.Error(), tok) {
		t.Errorf("TOKEN NAME: error %v", err)
	}
	// No error repeats a token.
	for _, c := range append(cases, struct{ text, want string }{tok + " " + tok + "\n" + tok + " x\n", ""}) {
		if _, err := ParseTokens(c.text); err != nil && strings.Contains(err.Error(), tok) {
			t.Errorf("%q: error %q holds the token", c.text, err)
		}
	}
}

func TestLoadTokensRefusesOpenFile(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix permissions")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "tokens")
	if err := os.WriteFile(path, []byte("alice "+aliceToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadTokens(path); err != nil {
		t.Fatalf("mode 600: %v", err)
	}
	for _, mode := range []os.FileMode{0o640, 0o604, 0o644} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadTokens(path); err == nil || !strings.Contains(err.Error(), "too open") {
			t.Errorf("mode %04o: %v, want too open", mode, err)
		}
	}
	if _, err := LoadTokens(dir); err == nil {
		t.Error("a directory loaded")
	}
	if _, err := LoadTokens(filepath.Join(dir, "nope")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

func TestAnyOf(t *testing.T) {
	other, err := ParseTokens("bob bob-0123456789abcdef\n")
	if err != nil {
		t.Fatal(err)
	}
	a := AnyOf(testTokens(t), other)
	for token, want := range map[string]string{aliceToken: "alice", "bob-0123456789abcdef": "bob"} {
		if c, err := a.Authenticate(token); err != nil || c.Name != want {
			t.Errorf("%s: %+v, %v", want, c, err)
		}
	}
	if _, err := a.Authenticate(""); !errors.Is(err, ErrNoToken) {
		t.Errorf("no token: %v", err)
	}
	if _, err := a.Authenticate("nobody-0123456789abcdef"); err == nil || err.Error() != "unknown token" {
		t.Errorf("unknown: %v", err)
	}
	if _, err := AnyOf().Authenticate(aliceToken); err == nil {
		t.Error("AnyOf() accepted a token")
	}
}
