package remote

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

func TestQuote(t *testing.T) {
	cases := []struct{ in, want string }{
		{"", "''"},
		{"plain", "plain"},
		{"/srv/app/2025-11-21", "/srv/app/2025-11-21"},
		{"a b", "'a b'"},
		{"it's", `'it'\''s'`},
		{"$(id)", "'$(id)'"},
		{"`id`", "'`id`'"},
		{"a;b", "'a;b'"},
		{"*", "'*'"},
		{"~", "'~'"},
		{"A=b", "'A=b'"},
		{"line\nbreak", "'line\nbreak'"},
		{"'", `''\'''`},
	}
	for _, c := range cases {
		if got := Quote(c.in); got != c.want {
			t.Errorf("Quote(%q) = %s, want %s", c.in, got, c.want)
		}
	}
}

func TestCommandString(t *testing.T) {
	c := Cmd("ln", "-s", "2025 11", ".current.tmp").And("mv", "-T", ".current.tmp", "current").In("/srv/my app")
	want := `cd '/srv/my app' && ln -s '2025 11' .current.tmp && mv -T .current.tmp current`
	if got := c.String(); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	c = Cmd("docker", "login", "--password-stdin").WithStdin([]byte("s3cret"))
	if strings.Contains(c.String(), "s3cret") {
		t.Fatalf("stdin leaked into the command line: %s", c.String())
	}
}

func TestValidate(t *testing.T) {
	if err := (Command{}).Validate(); err == nil {
		t.Error("empty command accepted")
	}
	if err := Cmd("echo", "a\x00b").Validate(); err == nil {
		t.Error("NUL byte accepted")
	}
	if err := Cmd("true").In("/a\x00").Validate(); err == nil {
		t.Error("NUL byte in dir accepted")
	}
	if err := (Command{Steps: [][]string{{"true"}, {}}}).Validate(); err == nil {
		t.Error("empty step accepted")
	}
	if err := Cmd("true").Validate(); err != nil {
		t.Errorf("valid command rejected: %v", err)
	}
}

// roundTrip runs printf through a real shell with the quoted words and
// returns what the shell passed on, NUL-separated.
func roundTrip(t testing.TB, shell string, words []string) [][]byte {
	t.Helper()
	script := "printf '%s\\0' " + Join(words)
	out, err := exec.Command(shell, "-c", script).Output()
	if err != nil {
		t.Fatalf("%s -c %q: %v", shell, script, err)
	}
	parts := bytes.Split(out, []byte{0})
	return parts[:len(parts)-1]
}

// FuzzQuote checks with a real shell that a quoted word comes back byte
// for byte: nothing in it expands, splits, globs or ends the command.
func FuzzQuote(f *testing.F) {
	for _, s := range []string{"", "a", "$(id)", "`id`", "'", `"`, "a b", "a\nb", ";rm -rf /", "*", "?", "[a]", "~root", "A=b", "\\", "$HOME", "!!", "#x", "{a,b}", "\t", "-n", "\xff\xfe", "'\"'\"'"} {
		f.Add(s)
	}
	shells := []string{"/bin/sh"}
	if _, err := exec.LookPath("bash"); err == nil {
		shells = append(shells, "bash")
	}
	f.Fuzz(func(t *testing.T, s string) {
		if strings.IndexByte(s, 0) >= 0 {
			if err := Cmd("echo", s).Validate(); err == nil {
				t.Fatalf("NUL byte not rejected: %q", s)
			}
			return
		}
		for _, sh := range shells {
			got := roundTrip(t, sh, []string{s, "end"})
			if len(got) != 2 || string(got[0]) != s || string(got[1]) != "end" {
				t.Fatalf("%s: %q came back as %q", sh, s, got)
			}
		}
	})
}
