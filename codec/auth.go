package codec

import (
	"bufio"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"runtime"
	"strings"
)

// An Authenticator decides who presented a bearer token. Handler calls it
// before it encodes or decodes anything; an error is answered 401.
type Authenticator interface {
	// Authenticate returns the caller the token belongs to. token is ""
	// when the request carried none. The error says why it is refused
	// (for the log) and never holds the token.
	Authenticate(token string) (Caller, error)
}

// Caller is who a request was served for, as the log names it.
type Caller struct {
	Name   string // the token's name in the token file, or the JWT's subject
	Method string // "token", "jwt" or "none"
	Email  string // the JWT's email claim, when it has one
}

// ErrNoToken is the refusal of a request without a bearer token.
var ErrNoToken = errors.New("no bearer token")

// errUnknownToken is the refusal of a token that is in no token file; it
// says nothing of how close the token came.
var errUnknownToken = errors.New("unknown token")

// NoAuth serves everyone, as "anonymous". It is for a codec server on
// loopback on a developer's machine; the CLI refuses it on any other
// address.
func NoAuth() Authenticator { return noAuth{} }

type noAuth struct{}

func (noAuth) Authenticate(string) (Caller, error) {
	return Caller{Name: "anonymous", Method: "none"}, nil
}

// AnyOf accepts a token any of as accepts, trying them in order. It
// refuses with the first one's error: a token file before a JWKS gives
// "unknown token" for a mistyped static token, the JWKS's reason for a
// JWT.
func AnyOf(as ...Authenticator) Authenticator { return anyOf(as) }

type anyOf []Authenticator

func (as anyOf) Authenticate(token string) (Caller, error) {
	if token == "" {
		return Caller{}, ErrNoToken
	}
	var first error
	for _, a := range as {
		c, err := a.Authenticate(token)
		if err == nil {
			return c, nil
		}
		if first == nil || (errors.Is(first, errUnknownToken) && looksLikeJWT(token)) {
			first = err
		}
	}
	if first == nil {
		first = errUnknownToken
	}
	return Caller{}, first
}

func looksLikeJWT(token string) bool { return strings.Count(token, ".") == 2 }

// MinTokenLength is the shortest token a token file may hold: 16
// characters of `openssl rand -base64 32` are 96 random bits.
const MinTokenLength = 16

// maxTokenFile bounds what LoadTokens reads.
const maxTokenFile = 1 << 20

var tokenNamePattern = regexp.MustCompile(`^[A-Za-z0-9._@-]{1,64}$`)

// Tokens are the bearer tokens of a token file, each with a name. Only
// their SHA-256 hashes are kept, so a Tokens cannot print a token.
type Tokens struct {
	names  []string
	hashes [][sha256.Size]byte
}

// Names lists the tokens' names in file order.
func (t *Tokens) Names() []string { return append([]string(nil), t.names...) }

// String names the tokens, never their values.
func (t *Tokens) String() string { return "tokens(" + strings.Join(t.names, ", ") + ")" }

// GoString keeps %#v to the names.
func (t *Tokens) GoString() string { return t.String() }

// Authenticate compares token with every token of the file in constant
// time (of the token's hash: the time depends neither on the token nor on
// which entry matches).
func (t *Tokens) Authenticate(token string) (Caller, error) {
	if token == "" {
		return Caller{}, ErrNoToken
	}
	h := sha256.Sum256([]byte(token))
	match := -1
	for i := range t.hashes {
		eq := subtle.ConstantTimeCompare(h[:], t.hashes[i][:])
		match = subtle.ConstantTimeSelect(eq, i, match)
	}
	if match < 0 {
		return Caller{}, errUnknownToken
	}
	return Caller{Name: t.names[match], Method: "token"}, nil
}

// LoadTokens reads a token file: one `NAME TOKEN` a line (separated by
// spaces or tabs), `#` comments and blank lines allowed. Like ssh with a
// private key, and like LoadKeys, it refuses a file that its group or
// others can read: each token decrypts every payload.
func LoadTokens(path string) (*Tokens, error) {
	b, err := readPrivateFile(path, "a token file", maxTokenFile)
	if err != nil {
		return nil, err
	}
	t, err := ParseTokens(string(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// ParseTokens parses the text of a token file (see LoadTokens). Errors
// name the line, never a token, nor a name (a line written the wrong way
// round would put the token there).
func ParseTokens(text string) (*Tokens, error) {
	t := &Tokens{}
	names := map[string]int{}
	hashes := map[[sha256.Size]byte]int{}
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 0, 4096), maxTokenFile)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 2 {
			return nil, fmt.Errorf("line %d: want NAME TOKEN (%d fields)", n, len(f))
		}
		name, token := f[0], f[1]
		if !tokenNamePattern.MatchString(name) {
			return nil, fmt.Errorf("line %d: invalid name: want 1 to 64 characters from A-Z a-z 0-9 . _ @ -", n)
		}
		if prev, dup := names[name]; dup {
			return nil, fmt.Errorf("line %d: the name is already used on line %d", n, prev)
		}
		if len(token) < MinTokenLength {
			return nil, fmt.Errorf("line %d: the token is shorter than %d characters (openssl rand -base64 32 makes one)", n, MinTokenLength)
		}
		h := sha256.Sum256([]byte(token))
		if prev, dup := hashes[h]; dup {
			return nil, fmt.Errorf("line %d: the token is the one of line %d: every caller needs its own", n, prev)
		}
		names[name], hashes[h] = n, n
		t.names = append(t.names, name)
		t.hashes = append(t.hashes, h)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(t.names) == 0 {
		return nil, errors.New("no tokens: want lines of NAME TOKEN")
	}
	return t, nil
}

// readPrivateFile reads a regular file of at most max bytes that its group
// and others cannot access.
func readPrivateFile(path, what string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 && runtime.GOOS != "windows" {
		return nil, fmt.Errorf("%s: permissions %04o are too open: %s must not be accessible by group or others (chmod 600 %s)", path, perm, what, path)
	}
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s: larger than %d bytes; not %s", path, max, what)
	}
	return b, nil
}
