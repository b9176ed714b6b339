// Package codec encrypts Temporal payloads with AES-256-GCM, so release
// bundles, results and error messages are never stored in cleartext in
// workflow histories. The same keys serve the Web UI through Handler, a
// codec server.
//
// An encrypted payload carries metadata `encoding: binary/encrypted` and
// `encryption-key-id: <id>`; its data is a 12-byte random nonce followed
// by the GCM ciphertext of the original payload (protobuf bytes), with the
// key id bound as additional data. Payloads without that encoding decode
// unchanged, so histories written before encryption stay readable.
package codec

import (
	"crypto/rand"
	"fmt"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
)

// Metadata keys and values of an encrypted payload.
const (
	MetadataEncoding  = converter.MetadataEncoding // "encoding"
	MetadataKeyID     = "encryption-key-id"
	EncodingEncrypted = "binary/encrypted"
)

const nonceSize = 12

// Codec is a converter.PayloadCodec encrypting with a Keyring.
type Codec struct{ keys *Keyring }

var _ converter.PayloadCodec = (*Codec)(nil)

// New returns a codec encrypting with k's first key and decrypting with
// any of its keys.
func New(k *Keyring) *Codec { return &Codec{keys: k} }

// DataConverter is the SDK's default data converter with payloads
// encrypted by k.
func DataConverter(k *Keyring) converter.DataConverter {
	return converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), New(k))
}

// FailureConverter encodes failures through dc, error messages and stack
// traces included (by default the SDK leaves them in cleartext).
func FailureConverter(dc converter.DataConverter) converter.FailureConverter {
	return temporal.NewDefaultFailureConverter(temporal.DefaultFailureConverterOptions{
		DataConverter:          dc,
		EncodeCommonAttributes: true,
	})
}

// Encode encrypts each payload with the keyring's first key and a fresh
// random nonce.
func (c *Codec) Encode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	id := c.keys.EncryptionKeyID()
	aead := c.keys.aeads[id]
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		if p == nil {
			continue
		}
		plain, err := p.Marshal()
		if err != nil {
			return nil, fmt.Errorf("codec: marshalling payload: %w", err)
		}
		data := make([]byte, nonceSize, nonceSize+len(plain)+aead.Overhead())
		if _, err := rand.Read(data); err != nil {
			return nil, fmt.Errorf("codec: reading a nonce: %w", err)
		}
		out[i] = &commonpb.Payload{
			Metadata: map[string][]byte{
				MetadataEncoding: []byte(EncodingEncrypted),
				MetadataKeyID:    []byte(id),
			},
			Data: aead.Seal(data, data, plain, []byte(id)),
		}
	}
	return out, nil
}

// Decode decrypts the payloads Encode made and passes others through.
func (c *Codec) Decode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		if string(p.GetMetadata()[MetadataEncoding]) != EncodingEncrypted {
			out[i] = p
			continue
		}
		d, err := c.decode(p)
		if err != nil {
			return nil, err
		}
		out[i] = d
	}
	return out, nil
}

func (c *Codec) decode(p *commonpb.Payload) (*commonpb.Payload, error) {
	rawID, ok := p.Metadata[MetadataKeyID]
	if !ok {
		return nil, fmt.Errorf("codec: encrypted payload has no %s metadata", MetadataKeyID)
	}
	id := string(rawID)
	aead, ok := c.keys.aeads[id]
	if !ok {
		return nil, fmt.Errorf("codec: payload is encrypted with key %q, which is not in this keyring (%v)", id, c.keys)
	}
	data := p.GetData()
	if len(data) < nonceSize+aead.Overhead() {
		return nil, fmt.Errorf("codec: payload encrypted with key %q is truncated (%d bytes)", id, len(data))
	}
	plain, err := aead.Open(nil, data[:nonceSize], data[nonceSize:], rawID)
	if err != nil {
		return nil, fmt.Errorf("codec: payload encrypted with key %q does not decrypt: it was altered, or key %q is not the key it was encrypted with", id, id)
	}
	var d commonpb.Payload
	if err := d.Unmarshal(plain); err != nil {
		return nil, fmt.Errorf("codec: payload decrypted with key %q is not a payload: %w", id, err)
	}
	return &d, nil
}
