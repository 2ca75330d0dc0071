// Package payloadcodec encrypts what TriggerFlow hands to Temporal —
// workflow and activity inputs and results, heartbeat details, signal
// arguments, rendered step parameters with their Authorization headers,
// event data — so histories and Temporal UI hold ciphertext, not personal
// data or credentials. It is a converter.PayloadCodec installed on every
// Temporal client the binary makes; workers built on those clients inherit it.
//
// Each payload is sealed whole (metadata and data) with AES-256-GCM under the
// newest key of TRIGGERFLOW_SECRET_KEY (internal/secretbox derives a key for
// payloads from it) and carried as
//
//	metadata: encoding=binary/encrypted, encryption-key-id=<id>, encryption-format=tf-aes256gcm-v1
//	data:     nonce | ciphertext | tag
//
// Payloads without that metadata pass through unchanged, so histories
// written before the codec existed still replay and show.
package payloadcodec

import (
	"fmt"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/proto"

	"github.com/triggerflow/triggerflow/internal/secretbox"
)

// Metadata keys and values of an encrypted payload.
const (
	MetadataEncoding  = converter.MetadataEncoding
	EncodingEncrypted = "binary/encrypted"
	MetadataKeyID     = "encryption-key-id"
	MetadataFormat    = "encryption-format"
	// FormatV1 names this codec's layout; a later layout gets a new name and
	// Decode keeps reading this one.
	FormatV1 = "tf-aes256gcm-v1"
)

// aad binds ciphertexts to their use: a sealed webhook secret cannot pass
// for a payload, nor the reverse.
var aad = []byte("triggerflow/temporal-payload/" + FormatV1)

// Codec encrypts and decrypts payloads with a key ring.
type Codec struct {
	Box *secretbox.Box
}

var _ converter.PayloadCodec = (*Codec)(nil)

// New returns a codec for a TRIGGERFLOW_SECRET_KEY setting.
func New(secretKey string) (*Codec, error) {
	box, err := secretbox.New(secretKey)
	if err != nil {
		return nil, err
	}
	return &Codec{Box: box}, nil
}

// DataConverter is Temporal's default converter with payloads encrypted: the
// one to set as client.Options.DataConverter.
func (c *Codec) DataConverter() converter.DataConverter {
	return converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), c)
}

// Encode implements converter.PayloadCodec.
func (c *Codec) Encode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		plain, err := proto.Marshal(p)
		if err != nil {
			return payloads, fmt.Errorf("encrypt payload: %w", err)
		}
		keyID, sealed, err := c.Box.SealPayload(plain, aad)
		if err != nil {
			return payloads, fmt.Errorf("encrypt payload: %w", err)
		}
		out[i] = &commonpb.Payload{
			Metadata: map[string][]byte{
				MetadataEncoding: []byte(EncodingEncrypted),
				MetadataKeyID:    []byte(keyID),
				MetadataFormat:   []byte(FormatV1),
			},
			Data: sealed,
		}
	}
	return out, nil
}

// Decode implements converter.PayloadCodec. Payloads this codec did not
// encrypt come back as they are.
func (c *Codec) Decode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		if string(p.GetMetadata()[MetadataEncoding]) != EncodingEncrypted {
			out[i] = p
			continue
		}
		if f := string(p.Metadata[MetadataFormat]); f != FormatV1 {
			return payloads, fmt.Errorf("decrypt payload: unknown encryption format %q", f)
		}
		plain, err := c.Box.OpenPayload(string(p.Metadata[MetadataKeyID]), p.Data, aad)
		if err != nil {
			return payloads, fmt.Errorf("decrypt payload: %w", err)
		}
		var decoded commonpb.Payload
		if err := proto.Unmarshal(plain, &decoded); err != nil {
			return payloads, fmt.Errorf("decrypt payload: %w", err)
		}
		out[i] = &decoded
	}
	return out, nil
}
