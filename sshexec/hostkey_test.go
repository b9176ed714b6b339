package sshexec

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

func newEd25519Key(t *testing.T) ssh.PublicKey {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func checkKey(t *testing.T, h *hostKeys, tg *target, key ssh.PublicKey) error {
	t.Helper()
	cb, _, err := h.forHost(tg)
	if err != nil {
		t.Fatal(err)
	}
	return cb(tg.addr(), &net.TCPAddr{IP: net.ParseIP(tg.host), Port: tg.port}, key)
}

func TestHostKeyStrict(t *testing.T) {
	file := filepath.Join(t.TempDir(), "known_hosts") // does not exist yet
	h := &hostKeys{file: file, policy: Strict}
	tg := &target{spec: "h1", user: "deploy", host: "10.0.0.1", port: 22}
	key := newEd25519Key(t)

	err := checkKey(t, h, tg, key)
	var hk *HostKeyError
	if !errors.As(err, &hk) || hk.Problem != HostKeyUnknown {
		t.Fatalf("unknown host: err = %v", err)
	}
	if hk.Fingerprint != ssh.FingerprintSHA256(key) || !strings.Contains(err.Error(), "10.0.0.1:22") || !strings.Contains(err.Error(), hk.Fingerprint) {
		t.Errorf("error does not name host and fingerprint: %v", err)
	}
	if _, err := os.Stat(file); !errors.Is(err, os.ErrNotExist) {
		t.Error("strict policy wrote known_hosts")
	}

	line := knownhosts.Line([]string{"10.0.0.1"}, key)
	if err := os.WriteFile(file, []byte(line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := checkKey(t, h, tg, key); err != nil {
		t.Fatalf("known key refused: %v", err)
	}
	other := newEd25519Key(t)
	err = checkKey(t, h, tg, other)
	if !errors.As(err, &hk) || hk.Problem != HostKeyChanged || len(hk.Known) != 1 || !strings.Contains(hk.Known[0], ssh.FingerprintSHA256(key)) {
		t.Fatalf("changed key: err = %v", err)
	}
	// Another port is another host.
	tg2 := &target{spec: "h1:2222", user: "deploy", host: "10.0.0.1", port: 2222}
	if err := checkKey(t, h, tg2, key); !errors.As(err, &hk) || hk.Problem != HostKeyUnknown {
		t.Fatalf("other port: err = %v", err)
	}
}

func TestHostKeyAcceptNew(t *testing.T) {
	file := filepath.Join(t.TempDir(), "ssh", "known_hosts")
	h := &hostKeys{file: file, policy: AcceptNew}
	tg := &target{spec: "h1", user: "deploy", host: "10.0.0.1", port: 2222}
	key := newEd25519Key(t)
	if err := checkKey(t, h, tg, key); err != nil {
		t.Fatalf("accept-new refused a new host: %v", err)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if want := knownhosts.Line([]string{"[10.0.0.1]:2222"}, key) + "\n"; string(b) != want {
		t.Fatalf("known_hosts = %q, want %q", b, want)
	}
	// A changed key is still refused, and nothing is appended.
	var hk *HostKeyError
	if err := checkKey(t, h, tg, newEd25519Key(t)); !errors.As(err, &hk) || hk.Problem != HostKeyChanged {
		t.Fatalf("changed key under accept-new: err = %v", err)
	}
	if b2, _ := os.ReadFile(file); string(b2) != string(b) {
		t.Fatal("known_hosts changed after a refused key")
	}
	// A file without a final newline gets one before the new line.
	if err := os.WriteFile(file, []byte(strings.TrimSuffix(string(b), "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	tg3 := &target{spec: "h3", user: "deploy", host: "10.0.0.3", port: 22}
	if err := checkKey(t, h, tg3, key); err != nil {
		t.Fatal(err)
	}
	if b3, _ := os.ReadFile(file); strings.Count(string(b3), "\n") != 2 {
		t.Fatalf("known_hosts = %q", b3)
	}
}

func TestKnownAlgorithms(t *testing.T) {
	file := filepath.Join(t.TempDir(), "known_hosts")
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ssh.NewPublicKey(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	lines := knownhosts.Line([]string{"10.0.0.1"}, ecKey) + "\n" + knownhosts.Line([]string{"10.0.0.1"}, newEd25519Key(t)) + "\n"
	if err := os.WriteFile(file, []byte(lines), 0o600); err != nil {
		t.Fatal(err)
	}
	h := &hostKeys{file: file}
	_, algos, err := h.forHost(&target{host: "10.0.0.1", port: 22})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{ssh.KeyAlgoECDSA256, ssh.KeyAlgoED25519}; !reflect.DeepEqual(algos, want) {
		t.Errorf("known host: algorithms %v, want %v", algos, want)
	}
	_, algos, _ = h.forHost(&target{host: "10.0.0.2", port: 22})
	if len(algos) == 0 || algos[0] != ssh.KeyAlgoED25519 {
		t.Errorf("unknown host: algorithms %v, want ed25519 first", algos)
	}
}
