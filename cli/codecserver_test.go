package cli

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/hoist-dev/hoist/codec"
)

const (
	opsToken = "ops-token-0123456789abcdef"
	ciToken  = "ci-token-fedcba9876543210"
)

func writeTokenFile(t *testing.T, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(path, []byte("# codec server callers\nops "+opsToken+"\nci "+ciToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	return path
}

// lockedBuffer is the stderr of a codec server running in a goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// startCodecServer runs hoist with args (a codec-server command) until
// the test ends, and returns its URL, as the start line names it, and its
// stderr.
func startCodecServer(t *testing.T, args ...string) (string, *lockedBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stderr := &lockedBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- Run(ctx, append([]string{"hoist"}, args...), Streams{In: strings.NewReader(""), Out: io.Discard, Err: stderr})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			if code != ExitOK {
				t.Errorf("exit %d after interrupt; stderr:\n%s", code, stderr)
			}
		case <-time.After(10 * time.Second):
			t.Error("codec-server did not stop")
		}
	})
	start := regexp.MustCompile(`codec server on (https?://\S+) `)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if m := start.FindStringSubmatch(stderr.String()); m != nil {
			return m[1], stderr
		}
		select {
		case code := <-done:
			done <- code
			t.Fatalf("codec-server exited %d:\n%s", code, stderr)
		default:
		}
	}
	t.Fatalf("no start line:\n%s", stderr)
	return "", nil
}

// encrypted is a payload holding secret, encrypted with keyFile's keys,
// as a /decode request body.
func encrypted(t *testing.T, keyFile, secret string) []byte {
	t.Helper()
	keys, err := codec.LoadKeys(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	ps, err := codec.DataConverter(keys).ToPayloads(secret)
	if err != nil {
		t.Fatal(err)
	}
	b, err := protojson.Marshal(ps)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func codecPost(t *testing.T, client *http.Client, url, auth string, body []byte) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Namespace", "payments")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// decoded is the first payload of a /decode response, as the SDK's default
// converter reads it.
func decoded(t *testing.T, body string) string {
	t.Helper()
	var ps commonpb.Payloads
	if err := protojson.Unmarshal([]byte(body), &ps); err != nil || len(ps.Payloads) == 0 {
		t.Fatalf("response %q: %v", body, err)
	}
	var s string
	if err := converter.GetDefaultDataConverter().FromPayload(ps.Payloads[0], &s); err != nil {
		t.Fatalf("decoded payload: %v", err)
	}
	return s
}

// TestCodecServerRefusesToStartWithoutAuth: the codec server needs a way
// to authenticate; --no-auth only on loopback; bad auth settings are
// usage errors.
func TestCodecServerRefusesToStartWithoutAuth(t *testing.T) {
	keys := writeKeyFile(t, 0o600, "k1")
	tokens := writeTokenFile(t, 0o600)
	jwks := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(jwks, []byte(`{"keys":[]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"no auth, loopback", []string{"--listen", "127.0.0.1:0"}, []string{"needs authentication", "--auth-token-file", "--no-auth"}},
		{"no auth, all interfaces", []string{"--listen", "0.0.0.0:0"}, []string{"needs authentication", "--auth-token-file"}},
		{"no auth, default listen", nil, []string{"--auth-token-file"}},
		{"--no-auth on all interfaces", []string{"--listen", "0.0.0.0:0", "--no-auth"}, []string{"--no-auth works on a loopback address only", "--auth-token-file"}},
		{"--no-auth and a token file", []string{"--listen", "127.0.0.1:0", "--no-auth", "--auth-token-file", tokens}, []string{"--no-auth and --auth-token-file: use one"}},
		{"token file too open", []string{"--auth-token-file", writeTokenFile(t, 0o644)}, []string{"--auth-token-file", "too open"}},
		{"missing token file", []string{"--auth-token-file", tokens + ".nope"}, []string{"--auth-token-file", "no such file"}},
		{"JWKS without issuer", []string{"--auth-jwks-file", jwks, "--auth-audience", "codec"}, []string{"--auth-issuer and --auth-audience"}},
		{"JWKS without audience", []string{"--auth-jwks-file", jwks, "--auth-issuer", "https://idp"}, []string{"--auth-issuer and --auth-audience"}},
		{"issuer without JWKS", []string{"--auth-token-file", tokens, "--auth-issuer", "https://idp"}, []string{"set --auth-jwks-url"}},
		{"JWKS without keys", []string{"--auth-jwks-file", jwks, "--auth-issuer", "https://idp", "--auth-audience", "codec"}, []string{"--auth-jwks-file", "no RS256 or ES256"}},
		{"JWKS URL over http", []string{"--auth-jwks-url", "http://idp.example.com/jwks", "--auth-issuer", "https://idp", "--auth-audience", "codec"}, []string{"want https"}},
		{"both JWKS", []string{"--auth-jwks-url", "https://idp.example.com/jwks", "--auth-jwks-file", jwks, "--auth-issuer", "https://idp", "--auth-audience", "codec"}, []string{"use one"}},
		{"TLS cert without key", []string{"--auth-token-file", tokens, "--tls-cert-file", jwks}, []string{"--tls-cert-file and --tls-key-file go together"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, _, errOut := run(t, append([]string{"--codec-key-file", keys, "codec-server"}, c.args...)...)
			if code != ExitUsage {
				t.Fatalf("exit %d, want %d; stderr %q", code, ExitUsage, errOut)
			}
			for _, w := range c.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr %q lacks %q", errOut, w)
				}
			}
			if strings.Contains(errOut, "codec server on") {
				t.Errorf("it started: %q", errOut)
			}
		})
	}
}

// TestCodecServerTokens: with a token file, /decode and /encode answer 401
// without a valid token and serve with one; the log names the caller and
// the namespace, never the token or the cleartext.
func TestCodecServerTokens(t *testing.T) {
	keyFile := writeKeyFile(t, 0o600, "k1")
	base, stderr := startCodecServer(t, "--codec-key-file", keyFile, "codec-server", "--listen", "127.0.0.1:0", "--auth-token-file", writeTokenFile(t, 0o600))
	if !strings.Contains(stderr.String(), "auth tokens ops, ci") {
		t.Errorf("start line does not name the tokens:\n%s", stderr)
	}
	const secret = "DB_PASSWORD=cli-test-secret"
	body := encrypted(t, keyFile, secret)
	for _, auth := range []string{"", "Bearer wrong-token-0123456789", "Bearer " + opsToken[:len(opsToken)-1], "Basic b3BzOm9wcw=="} {
		for _, path := range []string{"/decode", "/encode"} {
			code, got := codecPost(t, http.DefaultClient, base+path, auth, body)
			if code != http.StatusUnauthorized || strings.Contains(got, "payloads") {
				t.Errorf("%s with Authorization %q: %d %q, want 401", path, auth, code, got)
			}
		}
	}
	code, got := codecPost(t, http.DefaultClient, base+"/decode", "Bearer "+ciToken, body)
	if code != http.StatusOK || decoded(t, got) != secret {
		t.Fatalf("/decode with ci's token: %d %q", code, got)
	}
	plain, _ := protojson.Marshal(mustPayloads(t, "x"))
	if code, got := codecPost(t, http.DefaultClient, base+"/encode", "Bearer "+opsToken, plain); code != http.StatusOK || !strings.Contains(got, "YmluYXJ5L2VuY3J5cHRlZA==") { // binary/encrypted
		t.Fatalf("/encode with ops's token: %d %q", code, got)
	}
	// Preflight needs no token and allows the Authorization header.
	req, _ := http.NewRequest(http.MethodOptions, base+"/decode", nil)
	req.Header.Set("Origin", "http://localhost:8233")
	req.Header.Set("Access-Control-Request-Headers", "authorization,content-type,x-namespace")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Errorf("preflight: %s, Allow-Headers %q", resp.Status, resp.Header.Get("Access-Control-Allow-Headers"))
	}

	logs := stderr.String()
	var served bool
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, "endpoint=decode") && strings.Contains(l, "status=200") {
			served = true
			for _, w := range []string{"who=ci", "namespace=payments", "payloads=1"} {
				if !strings.Contains(l, w) {
					t.Errorf("log line %q lacks %s", l, w)
				}
			}
		}
	}
	if !served {
		t.Errorf("no log line of the served /decode:\n%s", logs)
	}
	if n := strings.Count(logs, "status=401"); n != 8 {
		t.Errorf("%d refusals logged, want 8:\n%s", n, logs)
	}
	for _, s := range []string{opsToken, ciToken, "wrong-token", secret} {
		if strings.Contains(logs, s) {
			t.Errorf("stderr holds %q:\n%s", s, logs)
		}
	}
}

// TestCodecServerTLS: with a certificate the server speaks https (the Web
// UI passes its access token to https endpoints only).
func TestCodecServerTLS(t *testing.T) {
	keyFile := writeKeyFile(t, 0o600, "k1")
	certFile, keyPEM, pool := selfSigned(t)
	base, _ := startCodecServer(t, "--codec-key-file", keyFile, "codec-server", "--listen", "127.0.0.1:0",
		"--auth-token-file", writeTokenFile(t, 0o600), "--tls-cert-file", certFile, "--tls-key-file", keyPEM)
	if !strings.HasPrefix(base, "https://") {
		t.Fatalf("start line URL %q", base)
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	const secret = "TLS_SECRET=1"
	if code, got := codecPost(t, client, base+"/decode", "Bearer "+opsToken, encrypted(t, keyFile, secret)); code != http.StatusOK || decoded(t, got) != secret {
		t.Fatalf("/decode over https: %d %q", code, got)
	}
	if code, _ := codecPost(t, client, base+"/decode", "", encrypted(t, keyFile, secret)); code != http.StatusUnauthorized {
		t.Fatalf("/decode over https without a token: %d", code)
	}
}

// TestCodecServerWarnsOfPlainHTTPBeyondLoopback: tokens over plain http
// on a network are said to be in cleartext.
func TestCodecServerWarnsOfPlainHTTPBeyondLoopback(t *testing.T) {
	if ln, err := net.Listen("tcp", "0.0.0.0:0"); err != nil {
		t.Skipf("cannot listen on all interfaces: %v", err)
	} else {
		ln.Close()
	}
	_, stderr := startCodecServer(t, "--codec-key-file", writeKeyFile(t, 0o600, "k1"), "codec-server", "--listen", "0.0.0.0:0", "--auth-token-file", writeTokenFile(t, 0o600))
	if !strings.Contains(stderr.String(), "plain http: tokens and decrypted payloads cross the network in cleartext") {
		t.Errorf("no warning:\n%s", stderr)
	}
}

func mustPayloads(t *testing.T, v any) *commonpb.Payloads {
	t.Helper()
	ps, err := converter.GetDefaultDataConverter().ToPayloads(v)
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

// selfSigned writes a certificate for 127.0.0.1 and its key, and returns
// a pool trusting it.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "hoist codec test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}), 0o600); err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestCodecServerJWKS: with --auth-jwks-url, the issuer's ES256 access
// tokens for the audience decrypt, others do not; the token file works
// beside it; the log names the JWT's subject.
func TestCodecServerJWKS(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := key.PublicKey.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.RawURLEncoding
	jwks := fmt.Sprintf(`{"keys":[{"kty":"EC","crv":"P-256","kid":"k1","use":"sig","x":%q,"y":%q}]}`, b64.EncodeToString(pub[1:33]), b64.EncodeToString(pub[33:]))
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, jwks) }))
	defer idp.Close()
	sign := func(claims string) string {
		input := b64.EncodeToString([]byte(`{"alg":"ES256","kid":"k1","typ":"JWT"}`)) + "." + b64.EncodeToString([]byte(claims))
		d := sha256.Sum256([]byte(input))
		r, s, err := ecdsa.Sign(rand.Reader, key, d[:])
		if err != nil {
			t.Fatal(err)
		}
		sig := make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
		return input + "." + b64.EncodeToString(sig)
	}
	exp := time.Now().Add(time.Hour).Unix()
	good := sign(fmt.Sprintf(`{"iss":"https://idp.test/","aud":["hoist-codec"],"sub":"user-7","exp":%d}`, exp))
	otherAudience := sign(fmt.Sprintf(`{"iss":"https://idp.test/","aud":"grafana","sub":"user-7","exp":%d}`, exp))

	keyFile := writeKeyFile(t, 0o600, "k1")
	base, stderr := startCodecServer(t, "--codec-key-file", keyFile, "codec-server", "--listen", "127.0.0.1:0", "--auth-token-file", writeTokenFile(t, 0o600),
		"--auth-jwks-url", idp.URL, "--auth-issuer", "https://idp.test/", "--auth-audience", "hoist-codec")
	const secret = "JWT_SECRET=9"
	body := encrypted(t, keyFile, secret)
	if code, got := codecPost(t, http.DefaultClient, base+"/decode", "Bearer "+good, body); code != http.StatusOK || decoded(t, got) != secret {
		t.Fatalf("/decode with the JWT: %d %q", code, got)
	}
	if code, _ := codecPost(t, http.DefaultClient, base+"/decode", "Bearer "+otherAudience, body); code != http.StatusUnauthorized {
		t.Errorf("/decode with a JWT for another audience: %d, want 401", code)
	}
	if code, _ := codecPost(t, http.DefaultClient, base+"/decode", "Bearer "+opsToken, body); code != http.StatusOK {
		t.Errorf("/decode with the token file's token: %d", code)
	}
	logs := stderr.String()
	for _, w := range []string{"JWTs of https://idp.test/ for hoist-codec", "who=user-7 auth=jwt", `reason="jwt: audience is not \"hoist-codec\""`, "who=ops auth=token"} {
		if !strings.Contains(logs, w) {
			t.Errorf("stderr lacks %s:\n%s", w, logs)
		}
	}
	if strings.Contains(logs, good[len(good)-20:]) {
		t.Errorf("stderr holds the JWT:\n%s", logs)
	}
}
