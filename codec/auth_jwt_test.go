package codec

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

const (
	testIssuer   = "https://idp.example.com/"
	testAudience = "hoist-codec"
)

var b64 = base64.RawURLEncoding

// signer holds a key pair and signs JWTs with it.
type signer struct {
	kid, alg string
	rsa      *rsa.PrivateKey
	ec       *ecdsa.PrivateKey
}

func newRSASigner(t *testing.T, kid string) *signer {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return &signer{kid: kid, alg: "RS256", rsa: k}
}

func newECSigner(t *testing.T, kid string) *signer {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &signer{kid: kid, alg: "ES256", ec: k}
}

// jwk is the signer's public key as a JWKS entry.
func (s *signer) jwk() map[string]string {
	if s.rsa != nil {
		return map[string]string{"kty": "RSA", "kid": s.kid, "use": "sig", "alg": "RS256",
			"n": b64.EncodeToString(s.rsa.N.Bytes()), "e": b64.EncodeToString([]byte{1, 0, 1})}
	}
	pub, err := s.ec.PublicKey.Bytes()
	if err != nil {
		panic(err)
	}
	return map[string]string{"kty": "EC", "kid": s.kid, "crv": "P-256",
		"x": b64.EncodeToString(pub[1:33]), "y": b64.EncodeToString(pub[33:])}
}

func jwksDoc(t *testing.T, signers ...*signer) []byte {
	t.Helper()
	keys := []map[string]string{{"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"}} // skipped
	for _, s := range signers {
		keys = append(keys, s.jwk())
	}
	b, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func segment(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b64.EncodeToString(b)
}

// sign makes a JWT of claims with header fields hdr (alg and kid are the
// signer's unless hdr sets them).
func (s *signer) sign(t *testing.T, hdr, claims map[string]any) string {
	t.Helper()
	h := map[string]any{"alg": s.alg, "kid": s.kid, "typ": "JWT"}
	for k, v := range hdr {
		h[k] = v
	}
	input := segment(t, h) + "." + segment(t, claims)
	digest := sha256.Sum256([]byte(input))
	var sig []byte
	var err error
	if s.rsa != nil {
		sig, err = rsa.SignPKCS1v15(rand.Reader, s.rsa, crypto.SHA256, digest[:])
	} else {
		var r, ss interface{ FillBytes([]byte) []byte }
		rr, sss, e := ecdsa.Sign(rand.Reader, s.ec, digest[:])
		r, ss, err = rr, sss, e
		if err == nil {
			sig = make([]byte, 64)
			r.FillBytes(sig[:32])
			ss.FillBytes(sig[32:])
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + b64.EncodeToString(sig)
}

var testNow = time.Date(2026, 12, 10, 12, 0, 0, 0, time.UTC)

func claims(more map[string]any) map[string]any {
	c := map[string]any{"iss": testIssuer, "aud": testAudience, "sub": "user-42", "email": "ada@example.com",
		"iat": testNow.Add(-time.Minute).Unix(), "exp": testNow.Add(5 * time.Minute).Unix()}
	for k, v := range more {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

func testVerifier(t *testing.T, doc []byte) *JWTVerifier {
	t.Helper()
	keys, err := ParseJWKS(doc)
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewJWTVerifier(JWTConfig{Issuer: testIssuer, Audience: testAudience, Keys: keys, Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestJWTVerifier(t *testing.T) {
	rs, es := newRSASigner(t, "rsa-1"), newECSigner(t, "ec-1")
	v := testVerifier(t, jwksDoc(t, rs, es))

	for _, s := range []*signer{rs, es} {
		c, err := v.Authenticate(s.sign(t, nil, claims(nil)))
		if err != nil || c.Name != "user-42" || c.Method != "jwt" || c.Email != "ada@example.com" {
			t.Errorf("%s: %+v, %v", s.alg, c, err)
		}
	}
	ok := []struct {
		name string
		tok  string
	}{
		{"aud array", rs.sign(t, nil, claims(map[string]any{"aud": []string{"other", testAudience}}))},
		{"expired within the leeway", rs.sign(t, nil, claims(map[string]any{"exp": testNow.Add(-30 * time.Second).Unix()}))},
		{"nbf passed", es.sign(t, nil, claims(map[string]any{"nbf": testNow.Add(-time.Hour).Unix()}))},
		{"no kid, one ES256 key", es.sign(t, map[string]any{"kid": ""}, claims(nil))},
		{"typ at+jwt", rs.sign(t, map[string]any{"typ": "at+jwt"}, claims(nil))},
	}
	for _, c := range ok {
		if _, err := v.Authenticate(c.tok); err != nil {
			t.Errorf("%s: refused: %v", c.name, err)
		}
	}

	other := newRSASigner(t, "rsa-1") // same kid, another key
	unsigned := segment(t, map[string]any{"alg": "none", "typ": "JWT"}) + "." + segment(t, claims(nil)) + "."
	pubDER, _ := x509.MarshalPKIXPublicKey(&rs.rsa.PublicKey)
	hsInput := segment(t, map[string]any{"alg": "HS256", "kid": "rsa-1"}) + "." + segment(t, claims(nil))
	mac := hmac.New(sha256.New, pubDER)
	mac.Write([]byte(hsInput))
	hs256 := hsInput + "." + b64.EncodeToString(mac.Sum(nil))
	good := rs.sign(t, nil, claims(nil))
	parts := strings.Split(good, ".")
	tampered := parts[0] + "." + segment(t, claims(map[string]any{"sub": "admin"})) + "." + parts[2]
	ecGood := es.sign(t, nil, claims(nil))

	refused := []struct {
		name, tok, want string
	}{
		{"expired", rs.sign(t, nil, claims(map[string]any{"exp": testNow.Add(-2 * time.Minute).Unix()})), "expired"},
		{"no exp", rs.sign(t, nil, claims(map[string]any{"exp": nil})), "no exp"},
		{"not yet valid", rs.sign(t, nil, claims(map[string]any{"nbf": testNow.Add(10 * time.Minute).Unix()})), "not valid before"},
		{"wrong issuer", rs.sign(t, nil, claims(map[string]any{"iss": "https://evil.example.com/"})), "issuer"},
		{"issuer without its slash", rs.sign(t, nil, claims(map[string]any{"iss": strings.TrimSuffix(testIssuer, "/")})), "issuer"},
		{"wrong audience", rs.sign(t, nil, claims(map[string]any{"aud": "another-app"})), "audience"},
		{"audience array without ours", rs.sign(t, nil, claims(map[string]any{"aud": []string{"a", "b"}})), "audience"},
		{"no audience", rs.sign(t, nil, claims(map[string]any{"aud": nil})), "audience"},
		{"no subject", rs.sign(t, nil, claims(map[string]any{"sub": nil})), "no subject"},
		{"wrong key", other.sign(t, nil, claims(nil)), "bad signature"},
		{"unknown kid", newRSASigner(t, "rsa-2").sign(t, nil, claims(nil)), "not in the JWKS"},
		{"alg none", unsigned, `"none" not accepted`},
		{"alg none, no signature part", strings.TrimSuffix(unsigned, "."), "not a JWS"},
		{"HS256 with the public key", hs256, `"HS256" not accepted`},
		{"RS256 header on the EC key", es.sign(t, map[string]any{"alg": "RS256"}, claims(nil)), "not in the JWKS"},
		{"ES256 header on the RSA key", rs.sign(t, map[string]any{"alg": "ES256"}, claims(nil)), "not in the JWKS"},
		{"tampered claims", tampered, "bad signature"},
		{"ES256 signature truncated", ecGood[:len(ecGood)-4], "bad signature"},
		{"crit header", rs.sign(t, map[string]any{"crit": []string{"exp"}}, claims(nil)), "critical"},
		{"not a JWT", "abc.def", "not a JWS"},
		{"garbage segments", "!!.??.**", "not base64url"},
		{"huge", strings.Repeat("a", maxJWT+1), "too large"},
		{"empty", "", "no bearer token"},
	}
	for _, c := range refused {
		_, err := v.Authenticate(c.tok)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
		if err != nil && len(c.tok) > 20 && strings.Contains(err.Error(), c.tok[len(c.tok)-20:]) {
			t.Errorf("%s: error holds the token", c.name)
		}
	}
}

func TestNewJWTVerifierNeedsIssuerAudienceKeys(t *testing.T) {
	keys, err := ParseJWKS(jwksDoc(t, newECSigner(t, "k")))
	if err != nil {
		t.Fatal(err)
	}
	for _, cfg := range []JWTConfig{
		{Audience: testAudience, Keys: keys},
		{Issuer: testIssuer, Keys: keys},
		{Issuer: testIssuer, Audience: testAudience},
	} {
		if _, err := NewJWTVerifier(cfg); err == nil {
			t.Errorf("%+v accepted", cfg)
		}
	}
}

func TestParseJWKS(t *testing.T) {
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	es := newECSigner(t, "ec")
	bad := []struct{ name, doc, want string }{
		{"not JSON", `{`, "not a JWKS"},
		{"no keys", `{"keys":[]}`, "no RS256 or ES256"},
		{"only symmetric and encryption keys", `{"keys":[{"kty":"oct","k":"eA"},{"kty":"RSA","use":"enc","n":"AQAB","e":"AQAB"}]}`, "no RS256 or ES256"},
		{"short RSA key", fmt.Sprintf(`{"keys":[{"kty":"RSA","kid":"s","n":%q,"e":"AQAB"}]}`, b64.EncodeToString(small.N.Bytes())), "at least 2048 bits"},
		{"EC point off the curve", fmt.Sprintf(`{"keys":[{"kty":"EC","crv":"P-256","x":%q,"y":%q}]}`, es.jwk()["x"], es.jwk()["x"]), "key 0"},
	}
	for _, c := range bad {
		if _, err := ParseJWKS([]byte(c.doc)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}

// TestJWKSRefresh: a token naming a key the set lacks makes it fetch the
// set again, at most every 30 s; an hour-old set is fetched again.
func TestJWKSRefresh(t *testing.T) {
	old, next := newRSASigner(t, "2026-11"), newECSigner(t, "2026-12")
	var doc atomic.Value
	doc.Store(jwksDoc(t, old))
	var fetches atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Write(doc.Load().([]byte))
	}))
	defer srv.Close()
	keys, err := FetchJWKS(t.Context(), srv.URL, srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	clock := testNow
	keys.now = func() time.Time { return clock }
	keys.fetched = clock
	v, err := NewJWTVerifier(JWTConfig{Issuer: testIssuer, Audience: testAudience, Keys: keys, Now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Authenticate(old.sign(t, nil, claims(nil))); err != nil {
		t.Fatal(err)
	}
	// The issuer rotates.
	doc.Store(jwksDoc(t, next))
	if _, err := v.Authenticate(next.sign(t, nil, claims(nil))); err == nil {
		t.Error("a new key accepted without a fetch")
	}
	if n := fetches.Load(); n != 1 {
		t.Errorf("%d fetches within 30 s, want 1", n)
	}
	clock = clock.Add(31 * time.Second)
	if _, err := v.Authenticate(next.sign(t, nil, claims(nil))); err != nil {
		t.Errorf("after 30 s, the new key: %v", err)
	}
	if n := fetches.Load(); n != 2 {
		t.Errorf("%d fetches, want 2", n)
	}
	// Known keys fetch nothing until the set is an hour old, and a failed
	// fetch keeps the set.
	for range 5 {
		v.Authenticate(next.sign(t, nil, claims(nil)))
	}
	if n := fetches.Load(); n != 2 {
		t.Errorf("%d fetches for a known key, want 2", n)
	}
	doc.Store([]byte("{"))
	clock = clock.Add(61 * time.Minute)
	if _, err := v.Authenticate(next.sign(t, nil, claims(map[string]any{"exp": clock.Add(time.Minute).Unix()}))); err != nil {
		t.Errorf("after a failed refresh: %v", err)
	}
	if n := fetches.Load(); n != 3 {
		t.Errorf("%d fetches after an hour, want 3", n)
	}
}

// TestHandlerJWT: through the handler, a token file and a JWKS side by
// side; the log names the JWT's subject.
func TestHandlerJWT(t *testing.T) {
	es := newECSigner(t, "ec-1")
	logs := &syncBuffer{}
	keys := mustParse(t, keyLine(t, "k1"))
	srv := httptest.NewServer(Handler(keys, ServerOptions{
		Auth: AnyOf(testTokens(t), testVerifier(t, jwksDoc(t, es))),
		Log:  slog.New(slog.NewTextHandler(logs, nil)),
	}))
	defer srv.Close()
	tok := es.sign(t, nil, claims(nil))
	if resp, _ := post(t, srv, "/encode", "", "Bearer "+tok, samplePayloads(t)); resp.StatusCode != http.StatusOK {
		t.Fatalf("JWT: %s", resp.Status)
	}
	if resp, _ := post(t, srv, "/encode", "", "Bearer "+aliceToken, samplePayloads(t)); resp.StatusCode != http.StatusOK {
		t.Fatalf("token: %s", resp.Status)
	}
	expired := es.sign(t, nil, claims(map[string]any{"exp": testNow.Add(-time.Hour).Unix()}))
	if resp, _ := post(t, srv, "/encode", "", "Bearer "+expired, samplePayloads(t)); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("expired JWT: %s", resp.Status)
	}
	out := logs.String()
	for _, s := range []string{"who=user-42 auth=jwt email=ada@example.com", "who=alice auth=token", `reason="jwt: expired at`} {
		if !strings.Contains(out, s) {
			t.Errorf("log lacks %s:\n%s", s, out)
		}
	}
	if strings.Contains(out, tok[:40]) || strings.Contains(out, expired[len(expired)-30:]) {
		t.Errorf("log holds a JWT:\n%s", out)
	}
}
