package codec

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
)

const secret = "DB_PASSWORD=hunter2-do-not-leak"

func samplePayloads(t *testing.T) []*commonpb.Payload {
	t.Helper()
	dc := converter.GetDefaultDataConverter()
	ps, err := dc.ToPayloads(secret, map[string]string{"compose.yaml": "services: {}"}, []byte{0, 1, 2}, nil, 42)
	if err != nil {
		t.Fatal(err)
	}
	// An empty payload and one with extra metadata survive too.
	return append(ps.Payloads, &commonpb.Payload{}, &commonpb.Payload{Metadata: map[string][]byte{"encoding": []byte("json/plain"), "x": []byte("y")}, Data: []byte(`"v"`)})
}

// samePayload compares metadata and data; nil and empty are the same, as
// they are on the wire.
func samePayload(a, b *commonpb.Payload) bool {
	if len(a.Metadata) != len(b.Metadata) || !bytes.Equal(a.Data, b.Data) {
		return false
	}
	for k, v := range a.Metadata {
		if w, ok := b.Metadata[k]; !ok || !bytes.Equal(v, w) {
			return false
		}
	}
	return true
}

func TestRoundTrip(t *testing.T) {
	c := New(mustParse(t, keyLine(t, "k1")))
	in := samplePayloads(t)
	enc, err := c.Encode(in)
	if err != nil {
		t.Fatal(err)
	}
	if len(enc) != len(in) {
		t.Fatalf("Encode returned %d payloads for %d", len(enc), len(in))
	}
	for i, p := range enc {
		if got := string(p.Metadata[MetadataEncoding]); got != EncodingEncrypted {
			t.Errorf("payload %d: encoding %q", i, got)
		}
		if got := string(p.Metadata[MetadataKeyID]); got != "k1" {
			t.Errorf("payload %d: key id %q", i, got)
		}
		if len(p.Metadata) != 2 {
			t.Errorf("payload %d: metadata %v leaks the original", i, p.Metadata)
		}
		if bytes.Contains(p.Data, []byte("hunter2")) {
			t.Errorf("payload %d: cleartext in data", i)
		}
	}
	dec, err := c.Decode(enc)
	if err != nil {
		t.Fatal(err)
	}
	for i := range in {
		if !samePayload(in[i], dec[i]) {
			t.Errorf("payload %d: decoded %v, want %v", i, dec[i], in[i])
		}
	}
}

func TestDataConverterRoundTrip(t *testing.T) {
	dc := DataConverter(mustParse(t, keyLine(t, "k1")))
	p, err := dc.ToPayload(secret)
	if err != nil {
		t.Fatal(err)
	}
	if string(p.Metadata[MetadataEncoding]) != EncodingEncrypted || bytes.Contains(p.Data, []byte("hunter2")) {
		t.Fatalf("payload not encrypted: %v", p)
	}
	var got string
	if err := dc.FromPayload(p, &got); err != nil || got != secret {
		t.Fatalf("FromPayload = %q, %v", got, err)
	}
}

func TestFailureConverterEncryptsMessage(t *testing.T) {
	dc := DataConverter(mustParse(t, keyLine(t, "k1")))
	fc := FailureConverter(dc)
	f := fc.ErrorToFailure(temporal.NewApplicationError("cannot log in with "+secret, "LoginFailed"))
	if strings.Contains(f.String(), "hunter2") {
		t.Fatalf("failure holds the cleartext message: %v", f)
	}
	if f.EncodedAttributes == nil || string(f.EncodedAttributes.Metadata[MetadataEncoding]) != EncodingEncrypted {
		t.Fatalf("encoded attributes not encrypted: %v", f.EncodedAttributes)
	}
	err := fc.FailureToError(f)
	var app *temporal.ApplicationError
	if !errors.As(err, &app) || !strings.Contains(app.Error(), secret) || app.Type() != "LoginFailed" {
		t.Fatalf("FailureToError = %v", err)
	}
}

func TestEncodeUsesFreshNonce(t *testing.T) {
	c := New(mustParse(t, keyLine(t, "k1")))
	in := []*commonpb.Payload{{Data: []byte("same")}}
	seen := map[string]bool{}
	for range 20 {
		enc, err := c.Encode(in)
		if err != nil {
			t.Fatal(err)
		}
		d := string(enc[0].Data)
		if seen[d] {
			t.Fatal("two encodings of one payload are equal")
		}
		seen[d] = true
	}
}

func TestDecodePassesUnencryptedThrough(t *testing.T) {
	c := New(mustParse(t, keyLine(t, "k1")))
	in := samplePayloads(t)
	in = append(in, nil)
	out, err := c.Decode(in)
	if err != nil {
		t.Fatal(err)
	}
	for i := range in {
		if out[i] != in[i] {
			t.Errorf("payload %d changed", i)
		}
	}
}

func TestRotation(t *testing.T) {
	oldLine, newLine := keyLine(t, "old"), keyLine(t, "new")
	before := New(mustParse(t, oldLine))
	encOld, err := before.Encode(samplePayloads(t))
	if err != nil {
		t.Fatal(err)
	}
	after := New(mustParse(t, newLine, oldLine))
	if _, err := after.Decode(encOld); err != nil {
		t.Fatalf("rotated keyring cannot read old payloads: %v", err)
	}
	encNew, err := after.Encode(samplePayloads(t))
	if err != nil {
		t.Fatal(err)
	}
	if got := string(encNew[0].Metadata[MetadataKeyID]); got != "new" {
		t.Fatalf("new payloads use key %q", got)
	}
	// A worker still on the old keyring cannot read them, and says why.
	_, err = before.Decode(encNew)
	if err == nil || !strings.Contains(err.Error(), `key "new"`) || !strings.Contains(err.Error(), "not in this keyring") {
		t.Fatalf("err = %v", err)
	}
}

func TestDecodeErrors(t *testing.T) {
	line := keyLine(t, "k1")
	_, key, _ := strings.Cut(line, ":")
	c := New(mustParse(t, line))
	wrongKey := New(mustParse(t, keyLine(t, "k1")))
	enc, err := c.Encode([]*commonpb.Payload{{Data: []byte(secret)}})
	if err != nil {
		t.Fatal(err)
	}
	mutate := func(f func(p *commonpb.Payload)) []*commonpb.Payload {
		p := &commonpb.Payload{Metadata: map[string][]byte{}, Data: bytes.Clone(enc[0].Data)}
		for k, v := range enc[0].Metadata {
			p.Metadata[k] = bytes.Clone(v)
		}
		f(p)
		return []*commonpb.Payload{p}
	}
	cases := []struct {
		name  string
		codec *Codec
		in    []*commonpb.Payload
		want  string
	}{
		{"wrong key", wrongKey, enc, `key "k1" does not decrypt`},
		{"tampered ciphertext", c, mutate(func(p *commonpb.Payload) { p.Data[len(p.Data)-1] ^= 1 }), `key "k1" does not decrypt`},
		{"tampered nonce", c, mutate(func(p *commonpb.Payload) { p.Data[0] ^= 1 }), `key "k1" does not decrypt`},
		{"key id swapped", New(mustParse(t, line, "k2:"+key)), mutate(func(p *commonpb.Payload) { p.Metadata[MetadataKeyID] = []byte("k2") }), `key "k2" does not decrypt`},
		{"unknown key id", c, mutate(func(p *commonpb.Payload) { p.Metadata[MetadataKeyID] = []byte("gone") }), `key "gone", which is not in this keyring`},
		{"no key id", c, mutate(func(p *commonpb.Payload) { delete(p.Metadata, MetadataKeyID) }), "no encryption-key-id"},
		{"truncated", c, mutate(func(p *commonpb.Payload) { p.Data = p.Data[:20] }), "truncated"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.codec.Decode(tc.in)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
			if strings.Contains(err.Error(), key) {
				t.Fatalf("error reveals the key: %v", err)
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	line := "k1:" + strings.Repeat("A", 43) + "="
	k, err := ParseKeys(line)
	if err != nil {
		f.Fatal(err)
	}
	c := New(k)
	enc, err := c.Encode([]*commonpb.Payload{{Metadata: map[string][]byte{"encoding": []byte("json/plain")}, Data: []byte(`"x"`)}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(EncodingEncrypted, "k1", enc[0].Data)
	f.Add(EncodingEncrypted, "k1", []byte{})
	f.Add(EncodingEncrypted, "", []byte("short"))
	f.Add("json/plain", "k1", []byte(`"x"`))
	f.Fuzz(func(t *testing.T, encoding, keyID string, data []byte) {
		p := &commonpb.Payload{Metadata: map[string][]byte{MetadataEncoding: []byte(encoding), MetadataKeyID: []byte(keyID)}, Data: data}
		out, err := c.Decode([]*commonpb.Payload{p})
		if err == nil && len(out) != 1 {
			t.Fatalf("Decode returned %d payloads", len(out))
		}
		// The key must never show in an error, unless the input itself
		// carried its text (a key id may be anything, and is quoted back).
		secret := strings.Repeat("A", 43)
		if err != nil && strings.Contains(err.Error(), secret) && !strings.Contains(encoding+keyID+string(data), secret) {
			t.Fatalf("error reveals the key: %v", err)
		}
	})
}
