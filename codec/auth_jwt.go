package codec

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"
)

// JWTConfig is what a JWT must satisfy to be accepted: the OIDC access
// token the Temporal Web UI forwards with "pass access token".
type JWTConfig struct {
	Issuer   string        // the iss claim, exactly (required)
	Audience string        // one of the aud claim's values (required)
	Keys     *JWKS         // the issuer's signing keys (required)
	Leeway   time.Duration // clock skew allowed on exp and nbf; 0 is one minute
	Now      func() time.Time
}

// JWTVerifier accepts JWTs signed RS256 or ES256 by a key of a JWKS, from
// one issuer for one audience, not expired, with a subject.
type JWTVerifier struct{ cfg JWTConfig }

// NewJWTVerifier checks cfg is complete.
func NewJWTVerifier(cfg JWTConfig) (*JWTVerifier, error) {
	switch {
	case cfg.Issuer == "":
		return nil, errors.New("a JWT verifier needs the issuer")
	case cfg.Audience == "":
		return nil, errors.New("a JWT verifier needs the audience: without it, any token the issuer signs for any application is accepted")
	case cfg.Keys == nil:
		return nil, errors.New("a JWT verifier needs the issuer's keys (a JWKS)")
	}
	if cfg.Leeway == 0 {
		cfg.Leeway = time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &JWTVerifier{cfg: cfg}, nil
}

// maxJWT bounds the token Authenticate parses.
const maxJWT = 16 << 10

type jwtHeader struct {
	Alg  string          `json:"alg"`
	Kid  string          `json:"kid"`
	Crit json.RawMessage `json:"crit"`
}

type jwtClaims struct {
	Iss   string          `json:"iss"`
	Sub   string          `json:"sub"`
	Aud   json.RawMessage `json:"aud"`
	Exp   *json.Number    `json:"exp"`
	Nbf   *json.Number    `json:"nbf"`
	Email string          `json:"email"`
}

// Authenticate verifies token's signature, then its claims.
func (v *JWTVerifier) Authenticate(token string) (Caller, error) {
	if token == "" {
		return Caller{}, ErrNoToken
	}
	if len(token) > maxJWT {
		return Caller{}, errors.New("jwt: too large")
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return Caller{}, errors.New("jwt: not a JWS compact serialization")
	}
	var hdr jwtHeader
	if err := decodeSegment(parts[0], &hdr); err != nil {
		return Caller{}, fmt.Errorf("jwt header: %w", err)
	}
	if len(hdr.Crit) > 0 {
		return Caller{}, errors.New("jwt: critical header extensions are not supported")
	}
	if hdr.Alg != "RS256" && hdr.Alg != "ES256" {
		// "none", HS256 (a public key used as an HMAC secret) and
		// everything else.
		return Caller{}, fmt.Errorf("jwt: algorithm %q not accepted (RS256, ES256)", hdr.Alg)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return Caller{}, errors.New("jwt: signature is not base64url")
	}
	key, err := v.cfg.Keys.key(hdr.Kid, hdr.Alg)
	if err != nil {
		return Caller{}, err
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if !key.verify(digest[:], sig) {
		return Caller{}, errors.New("jwt: bad signature")
	}

	var cl jwtClaims
	if err := decodeSegment(parts[1], &cl); err != nil {
		return Caller{}, fmt.Errorf("jwt claims: %w", err)
	}
	now := v.cfg.Now()
	if cl.Iss != v.cfg.Issuer {
		return Caller{}, fmt.Errorf("jwt: issuer %q, want %q", cl.Iss, v.cfg.Issuer)
	}
	if !audienceHas(cl.Aud, v.cfg.Audience) {
		return Caller{}, fmt.Errorf("jwt: audience is not %q", v.cfg.Audience)
	}
	if cl.Exp == nil {
		return Caller{}, errors.New("jwt: no exp")
	}
	exp, err := numericDate(*cl.Exp)
	if err != nil {
		return Caller{}, fmt.Errorf("jwt exp: %w", err)
	}
	if !now.Before(exp.Add(v.cfg.Leeway)) {
		return Caller{}, fmt.Errorf("jwt: expired at %s", exp.UTC().Format(time.RFC3339))
	}
	if cl.Nbf != nil {
		nbf, err := numericDate(*cl.Nbf)
		if err != nil {
			return Caller{}, fmt.Errorf("jwt nbf: %w", err)
		}
		if now.Add(v.cfg.Leeway).Before(nbf) {
			return Caller{}, fmt.Errorf("jwt: not valid before %s", nbf.UTC().Format(time.RFC3339))
		}
	}
	if cl.Sub == "" {
		return Caller{}, errors.New("jwt: no subject")
	}
	return Caller{Name: cl.Sub, Method: "jwt", Email: cl.Email}, nil
}

func decodeSegment(seg string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return errors.New("not base64url")
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(v); err != nil {
		return errors.New("not a JSON object")
	}
	return nil
}

// audienceHas says whether aud, a string or an array of strings, holds want.
func audienceHas(aud json.RawMessage, want string) bool {
	var one string
	if json.Unmarshal(aud, &one) == nil {
		return one == want
	}
	var many []string
	if json.Unmarshal(aud, &many) != nil {
		return false
	}
	for _, a := range many {
		if a == want {
			return true
		}
	}
	return false
}

func numericDate(n json.Number) (time.Time, error) {
	f, err := n.Float64()
	if err != nil || f < 0 || f > 1e11 {
		return time.Time{}, errors.New("not a NumericDate")
	}
	sec := int64(f)
	return time.Unix(sec, int64((f-float64(sec))*1e9)), nil
}

// JWKS is a JSON Web Key Set: the public keys an issuer signs tokens with.
// Loaded from a URL, it is fetched again once it is an hour old, and when
// a token names a key it does not hold (at most every 30 s), so the
// issuer's key rotation needs no restart. A failed refresh keeps the keys
// it had.
type JWKS struct {
	url    string
	client *http.Client

	mu      sync.Mutex
	keys    []jwk
	fetched time.Time
	now     func() time.Time
}

const (
	jwksMaxAge       = time.Hour
	jwksMinRefetch   = 30 * time.Second
	maxJWKSDocument  = 1 << 20
	minRSAKeyBits    = 2048
	jwksFetchTimeout = 10 * time.Second
)

type jwk struct {
	kid, alg string
	rsa      *rsa.PublicKey
	ec       *ecdsa.PublicKey
}

func (k jwk) verify(digest, sig []byte) bool {
	switch {
	case k.rsa != nil:
		return rsa.VerifyPKCS1v15(k.rsa, crypto.SHA256, digest, sig) == nil
	case k.ec != nil:
		if len(sig) != 64 { // R || S, 32 bytes each (RFC 7518 3.4)
			return false
		}
		r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
		return ecdsa.Verify(k.ec, digest, r, s)
	}
	return false
}

// ParseJWKS parses a JWKS document. Keys of other types (symmetric keys,
// curves other than P-256, encryption keys) are skipped; a set with no
// usable key is an error.
func ParseJWKS(doc []byte) (*JWKS, error) {
	keys, err := parseJWKS(doc)
	if err != nil {
		return nil, err
	}
	return &JWKS{keys: keys, now: time.Now}, nil
}

// LoadJWKSFile reads a JWKS from a file (public keys: any mode).
func LoadJWKSFile(path string) (*JWKS, error) {
	b, err := readAtMost(path, maxJWKSDocument)
	if err != nil {
		return nil, err
	}
	s, err := ParseJWKS(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// FetchJWKS fetches the JWKS at url with client (nil: a client with a 10 s
// timeout), and keeps it fresh as JWKS says.
func FetchJWKS(ctx context.Context, url string, client *http.Client) (*JWKS, error) {
	if client == nil {
		client = &http.Client{Timeout: jwksFetchTimeout}
	}
	s := &JWKS{url: url, client: client, now: time.Now}
	keys, err := s.fetch(ctx)
	if err != nil {
		return nil, err
	}
	s.keys, s.fetched = keys, s.now()
	return s, nil
}

func (s *JWKS) fetch(ctx context.Context) ([]jwk, error) {
	ctx, cancel := context.WithTimeout(ctx, jwksFetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("jwks: GET %s: %s", s.url, resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSDocument+1))
	if err != nil {
		return nil, fmt.Errorf("jwks: GET %s: %w", s.url, err)
	}
	if len(b) > maxJWKSDocument {
		return nil, fmt.Errorf("jwks: GET %s: larger than %d bytes", s.url, maxJWKSDocument)
	}
	keys, err := parseJWKS(b)
	if err != nil {
		return nil, fmt.Errorf("jwks: GET %s: %w", s.url, err)
	}
	return keys, nil
}

// key finds the key kid names (any key of alg's type when kid is empty and
// the set has just one), refreshing the set first when it is stale or
// lacks kid.
func (s *JWKS) key(kid, alg string) (jwk, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.url != "" {
		age := s.now().Sub(s.fetched)
		_, found := find(s.keys, kid, alg)
		if age > jwksMaxAge || (!found && age > jwksMinRefetch) {
			if keys, err := s.fetch(context.Background()); err == nil {
				s.keys = keys
			}
			// A failed refresh waits as long as a successful one.
			s.fetched = s.now()
		}
	}
	k, found := find(s.keys, kid, alg)
	if !found {
		if kid == "" {
			return jwk{}, fmt.Errorf("jwt: no kid, and not exactly one %s key in the JWKS", alg)
		}
		return jwk{}, fmt.Errorf("jwt: key %q (%s) is not in the JWKS", kid, alg)
	}
	return k, nil
}

func find(keys []jwk, kid, alg string) (jwk, bool) {
	var match []jwk
	for _, k := range keys {
		if (k.alg == "" || k.alg == alg) && (kid == "" || k.kid == kid) && k.fits(alg) {
			match = append(match, k)
		}
	}
	if len(match) != 1 {
		return jwk{}, false
	}
	return match[0], true
}

// fits says whether k can verify alg: an RSA key never checks an ES256
// signature, nor an EC key an RS256 one.
func (k jwk) fits(alg string) bool {
	return (alg == "RS256" && k.rsa != nil) || (alg == "ES256" && k.ec != nil)
}

type jwkJSON struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	N   string `json:"n"`
	E   string `json:"e"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
}

func parseJWKS(doc []byte) ([]jwk, error) {
	var set struct {
		Keys []jwkJSON `json:"keys"`
	}
	if err := json.Unmarshal(doc, &set); err != nil {
		return nil, fmt.Errorf("not a JWKS: %v", err)
	}
	var keys []jwk
	for i, j := range set.Keys {
		if j.Use != "" && j.Use != "sig" {
			continue
		}
		k := jwk{kid: j.Kid, alg: j.Alg}
		switch {
		case j.Kty == "RSA" && (j.Alg == "" || j.Alg == "RS256"):
			n, errN := base64.RawURLEncoding.DecodeString(j.N)
			e, errE := base64.RawURLEncoding.DecodeString(j.E)
			if errN != nil || errE != nil || len(e) == 0 || len(e) > 4 {
				return nil, fmt.Errorf("key %d (%q): bad RSA n or e", i, j.Kid)
			}
			pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
			if pub.N.BitLen() < minRSAKeyBits || pub.E < 3 || pub.E%2 == 0 {
				return nil, fmt.Errorf("key %d (%q): RSA key of %d bits, exponent %d: want at least %d bits and an odd exponent", i, j.Kid, pub.N.BitLen(), pub.E, minRSAKeyBits)
			}
			k.rsa = pub
		case j.Kty == "EC" && j.Crv == "P-256" && (j.Alg == "" || j.Alg == "ES256"):
			x, errX := base64.RawURLEncoding.DecodeString(j.X)
			y, errY := base64.RawURLEncoding.DecodeString(j.Y)
			if errX != nil || errY != nil || len(x) != 32 || len(y) != 32 {
				return nil, fmt.Errorf("key %d (%q): bad P-256 x or y", i, j.Kid)
			}
			pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
			if err != nil {
				return nil, fmt.Errorf("key %d (%q): %v", i, j.Kid, err)
			}
			k.ec = pub
		default:
			continue
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, errors.New("no RS256 or ES256 signing key in the JWKS")
	}
	return keys, nil
}

func readAtMost(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, max)
	}
	return b, nil
}
