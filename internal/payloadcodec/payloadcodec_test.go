package payloadcodec

import (
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
)

// TestCodecEncryptsDecryptsAndPassesOldPayloadsThrough: payloads come back
// equal; none of their text shows in the encrypted form; payloads without
// the codec's metadata (histories from before it) pass through; after a key
// rotation the old key's payloads still decode.
func TestCodecEncryptsDecryptsAndPassesOldPayloadsThrough(t *testing.T) {
	oldKey, newKey := strings.Repeat("0d", 32), strings.Repeat("0e", 32)
	old, err := New(oldKey)
	if err != nil {
		t.Fatal(err)
	}
	dc := converter.GetDefaultDataConverter()
	p, _ := dc.ToPayload(map[string]string{"Authorization": "Bearer s3cret"})
	enc, err := old.Encode([]*commonpb.Payload{p})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(enc[0].String(), "s3cret") || strings.Contains(enc[0].String(), "json/plain") ||
		string(enc[0].Metadata[MetadataEncoding]) != EncodingEncrypted || string(enc[0].Metadata[MetadataFormat]) != FormatV1 {
		t.Fatalf("encoded = %v", enc[0])
	}
	rotated, err := New("new:" + newKey + "," + oldKey)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := rotated.Decode([]*commonpb.Payload{enc[0], p})
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]string
	if err := dc.FromPayload(dec[0], &got); err != nil || got["Authorization"] != "Bearer s3cret" {
		t.Fatalf("decoded = %v, %v", got, err)
	}
	if dec[1] != p {
		t.Fatal("a plain payload was changed")
	}
	again, _ := rotated.Encode([]*commonpb.Payload{p})
	if string(again[0].Metadata[MetadataKeyID]) != "new" {
		t.Fatalf("the newest key does not encrypt: %v", again[0].Metadata)
	}
	if _, err := old.Decode(again); err == nil {
		t.Fatal("a ring without the new key decoded its payload")
	}
	tampered := &commonpb.Payload{Metadata: enc[0].Metadata, Data: append([]byte{}, enc[0].Data...)}
	tampered.Data[len(tampered.Data)-1] ^= 1
	if _, err := old.Decode([]*commonpb.Payload{tampered}); err == nil {
		t.Fatal("a tampered payload decoded")
	}
	unknown := &commonpb.Payload{Metadata: map[string][]byte{MetadataEncoding: []byte(EncodingEncrypted), MetadataFormat: []byte("v9")}}
	if _, err := old.Decode([]*commonpb.Payload{unknown}); err == nil {
		t.Fatal("an unknown format decoded")
	}
}

// BenchmarkEncodeDecode encrypts and decrypts a 2 KB payload (a batch
// activity's input is a few of these).
func BenchmarkEncodeDecode(b *testing.B) {
	c, err := New(strings.Repeat("0f", 32))
	if err != nil {
		b.Fatal(err)
	}
	p, _ := converter.GetDefaultDataConverter().ToPayload(map[string]string{"data": strings.Repeat("x", 2048)})
	in := []*commonpb.Payload{p}
	b.ReportAllocs()
	b.SetBytes(int64(len(p.Data)))
	for b.Loop() {
		enc, err := c.Encode(in)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.Decode(enc); err != nil {
			b.Fatal(err)
		}
	}
}
