package codec

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func keyLine(t *testing.T, id string) string {
	t.Helper()
	line, err := GenerateKey(id)
	if err != nil {
		t.Fatal(err)
	}
	return line
}

func mustParse(t *testing.T, lines ...string) *Keyring {
	t.Helper()
	k, err := ParseKeys(strings.Join(lines, "\n"))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestParseKeys(t *testing.T) {
	a, b := keyLine(t, "a-2025.1"), keyLine(t, "B_2")
	k := mustParse(t, "# hoist payload keys", "", "  "+a+"  ", "\t# old", b+"\r", "")
	if got := k.IDs(); len(got) != 2 || got[0] != "a-2025.1" || got[1] != "B_2" {
		t.Fatalf("IDs = %v", got)
	}
	if k.EncryptionKeyID() != "a-2025.1" {
		t.Fatalf("EncryptionKeyID = %q", k.EncryptionKeyID())
	}
	// Spaces around the colon are tolerated.
	id, key, _ := strings.Cut(a, ":")
	if _, err := ParseKeys(id + " : " + key); err != nil {
		t.Fatal(err)
	}
}

func TestParseKeysErrors(t *testing.T) {
	good := keyLine(t, "good")
	_, goodKey, _ := strings.Cut(good, ":")
	short := base64.StdEncoding.EncodeToString(make([]byte, 16))
	cases := []struct {
		name, text, want string
	}{
		{"empty", "", "no keys"},
		{"only comments", "# nothing\n\n", "no keys"},
		{"no colon", "# c\n" + goodKey, "line 2: want ID:BASE64KEY"},
		{"bad base64", "k1:not*base64!", `line 1: key "k1": not valid base64`},
		{"16-byte key", "# c\nk1:" + short, `line 2: key "k1" is 16 bytes; want 32`},
		{"bad id chars", "bad/id:" + goodKey, "line 1: invalid key id"},
		{"empty id", ":" + goodKey, "line 1: invalid key id"},
		{"long id", strings.Repeat("x", 65) + ":" + goodKey, "line 1: invalid key id"},
		{"duplicate id", "k1:" + goodKey + "\n\nk1:" + goodKey, `line 3: key id "k1" is already defined on line 1`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseKeys(c.text)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want it to contain %q", err, c.want)
			}
			if strings.Contains(err.Error(), goodKey) {
				t.Fatalf("error reveals the key: %v", err)
			}
		})
	}
}

func TestLoadKeys(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "keys")
	if err := os.WriteFile(path, []byte(keyLine(t, "k1")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	k, err := LoadKeys(path)
	if err != nil {
		t.Fatal(err)
	}
	if k.EncryptionKeyID() != "k1" {
		t.Fatalf("EncryptionKeyID = %q", k.EncryptionKeyID())
	}
	if _, err := LoadKeys(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("missing file: no error")
	}
	if _, err := LoadKeys(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("directory: err = %v", err)
	}
}

func TestLoadKeysPermissions(t *testing.T) {
	for _, mode := range []os.FileMode{0o640, 0o604, 0o644, 0o660, 0o610} {
		t.Run(fmt.Sprintf("%04o", mode), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "keys")
			if err := os.WriteFile(path, []byte(keyLine(t, "k1")+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, mode); err != nil {
				t.Fatal(err)
			}
			_, err := LoadKeys(path)
			if err == nil || !strings.Contains(err.Error(), "too open") || !strings.Contains(err.Error(), "chmod 600") {
				t.Fatalf("mode %04o: err = %v", mode, err)
			}
		})
	}
	path := filepath.Join(t.TempDir(), "keys")
	if err := os.WriteFile(path, []byte(keyLine(t, "k1")+"\n"), 0o400); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadKeys(path); err != nil {
		t.Fatalf("mode 0400: %v", err)
	}
}

func TestLoadKeysNamesFileAndLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys")
	if err := os.WriteFile(path, []byte(keyLine(t, "k1")+"\nk2:AAAA\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := LoadKeys(path)
	if err == nil || !strings.Contains(err.Error(), path+": line 2:") {
		t.Fatalf("err = %v", err)
	}
}

func TestGenerateKey(t *testing.T) {
	a, b := keyLine(t, "hoist-20250101"), keyLine(t, "hoist-20250101")
	if a == b {
		t.Fatal("two generated keys are equal")
	}
	if !strings.HasPrefix(a, "hoist-20250101:") {
		t.Fatalf("line %q", a)
	}
	mustParse(t, a)
	if _, err := GenerateKey("no spaces"); err == nil {
		t.Fatal("bad id accepted")
	}
}

func TestKeyringNeverPrintsKeys(t *testing.T) {
	line := keyLine(t, "k1")
	_, key, _ := strings.Cut(line, ":")
	k := mustParse(t, line)
	raw, _ := base64.StdEncoding.DecodeString(key)
	for _, s := range []string{fmt.Sprint(k), fmt.Sprintf("%v %+v %#v %s", k, k, k, k)} {
		if strings.Contains(s, key) || strings.Contains(s, string(raw)) || strings.Contains(s, fmt.Sprint(raw)) {
			t.Fatalf("formatted keyring reveals the key: %s", s)
		}
		if !strings.Contains(s, "k1") {
			t.Fatalf("formatted keyring does not name its key: %s", s)
		}
	}
}
