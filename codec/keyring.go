package codec

import (
	"bufio"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// KeySize is the length of every key: AES-256.
const KeySize = 32

// maxKeyFile bounds what LoadKeys reads: a key line is under 120 bytes.
const maxKeyFile = 1 << 20

var keyIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// Keyring holds the keys payloads are encrypted and decrypted with. The
// first key encrypts; every key decrypts. Rotating a key means putting
// the new one first and keeping the old ones as long as histories that
// use them are retained.
//
// A Keyring never prints its keys: String names only the key ids.
type Keyring struct {
	ids   []string // in file order; ids[0] encrypts
	aeads map[string]cipher.AEAD
}

// EncryptionKeyID is the id of the key new payloads are encrypted with.
func (k *Keyring) EncryptionKeyID() string { return k.ids[0] }

// IDs lists the key ids, the encrypting one first.
func (k *Keyring) IDs() []string { return append([]string(nil), k.ids...) }

// String names the key ids, never the keys.
func (k *Keyring) String() string {
	return "keyring(" + strings.Join(k.ids, ", ") + ")"
}

// GoString keeps %#v from printing the expanded keys.
func (k *Keyring) GoString() string { return k.String() }

// LoadKeys reads a key file: one `ID:BASE64KEY` a line, `#` comments and
// blank lines allowed. Like ssh with a private key, it refuses a file that
// its group or others can read.
func LoadKeys(path string) (*Keyring, error) {
	b, err := readPrivateFile(path, "a key file", maxKeyFile)
	if err != nil {
		return nil, err
	}
	k, err := ParseKeys(string(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// ParseKeys parses the text of a key file (see LoadKeys), for keys passed
// in an environment variable. Errors name the line, never the key.
func ParseKeys(text string) (*Keyring, error) {
	k := &Keyring{aeads: map[string]cipher.AEAD{}}
	seen := map[string]int{}
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 0, 4096), maxKeyFile)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		id, b64, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("line %d: want ID:BASE64KEY", n)
		}
		id, b64 = strings.TrimSpace(id), strings.TrimSpace(b64)
		if !keyIDPattern.MatchString(id) {
			// The id is not quoted: a line written the wrong way round
			// would put key material there.
			return nil, fmt.Errorf("line %d: invalid key id: want 1 to 64 characters from A-Z a-z 0-9 . _ -", n)
		}
		if prev, dup := seen[id]; dup {
			return nil, fmt.Errorf("line %d: key id %q is already defined on line %d", n, id, prev)
		}
		raw, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return nil, fmt.Errorf("line %d: key %q: not valid base64", n, id)
		}
		if len(raw) != KeySize {
			return nil, fmt.Errorf("line %d: key %q is %d bytes; want %d (AES-256)", n, id, len(raw), KeySize)
		}
		aead, err := newAEAD(raw)
		if err != nil {
			return nil, fmt.Errorf("line %d: key %q: %v", n, id, err)
		}
		seen[id] = n
		k.ids = append(k.ids, id)
		k.aeads[id] = aead
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(k.ids) == 0 {
		return nil, errors.New("no keys: want lines of ID:BASE64KEY (hoist codec-key makes one)")
	}
	return k, nil
}

// GenerateKey returns a key line `id:BASE64KEY` holding a fresh random
// 32-byte key.
func GenerateKey(id string) (line string, err error) {
	if !keyIDPattern.MatchString(id) {
		return "", fmt.Errorf("invalid key id %q: want 1 to 64 characters from A-Z a-z 0-9 . _ -", id)
	}
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return "", err
	}
	return id + ":" + base64.StdEncoding.EncodeToString(key), nil
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}
