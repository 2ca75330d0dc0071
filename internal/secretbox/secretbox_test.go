package secretbox

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

func TestSealOpenRoundTripAndLegacyPlaintext(t *testing.T) {
	key, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	box, err := New(key)
	if err != nil {
		t.Fatal(err)
	}
	const binding = "webhooks/wh_1/secret"
	a, _ := box.Seal(secret, binding)
	b, _ := box.Seal(secret, binding)
	if !strings.HasPrefix(a, "v2:"+box.Current().ID+":") || strings.Contains(a, secret) || strings.Contains(a, "MfKQ9r8") {
		t.Fatalf("sealed = %q", a)
	}
	if a == b {
		t.Fatal("two seals of one secret are equal: nonces repeat")
	}
	for _, sealed := range []string{a, b} {
		if got, err := box.Open(sealed, binding); err != nil || got != secret {
			t.Fatalf("Open = %q, %v", got, err)
		}
	}
	// Values written before encryption existed are read as they are.
	if got, err := box.Open(secret, binding); err != nil || got != secret {
		t.Fatalf("legacy Open = %q, %v", got, err)
	}

	other, _ := New(strings.Repeat("ab", 32))
	if _, err := other.Open(a, binding); err == nil || strings.Contains(err.Error(), secret) {
		t.Fatalf("wrong key: err = %v", err)
	}
	tampered := a[:len(a)-4] + "AAAA"
	if _, err := box.Open(tampered, binding); err == nil {
		t.Fatal("a tampered value opened")
	}
	if _, err := box.Open("v1:not base64!", binding); err == nil {
		t.Fatal("a malformed value opened")
	}
}

// TestSealedValuesAreBoundToTheirRow: a sealed secret copied to another
// webhook's row (or the other column) does not open there.
func TestSealedValuesAreBoundToTheirRow(t *testing.T) {
	box, _ := New(strings.Repeat("01", 32))
	sealed, err := box.Seal(secret, "webhooks/wh_1/secret")
	if err != nil {
		t.Fatal(err)
	}
	for _, elsewhere := range []string{"webhooks/wh_2/secret", "webhooks/wh_1/previous_secret", ""} {
		if got, err := box.Open(sealed, elsewhere); err == nil {
			t.Errorf("opened as %q under binding %q", got, elsewhere)
		}
	}
}

// TestKeyRotation: the first key seals, every key opens; a value sealed under
// a key the ring dropped names that key; v1 values (the format before key ids
// and bindings) open with whichever key sealed them.
func TestKeyRotation(t *testing.T) {
	oldKey, newKey := strings.Repeat("0a", 32), base64.StdEncoding.EncodeToString([]byte(strings.Repeat("k", 32)))
	old, err := New(oldKey)
	if err != nil {
		t.Fatal(err)
	}
	sealedOld, _ := old.Seal(secret, "b")
	ring, err := New("new:" + newKey + ", " + oldKey)
	if err != nil {
		t.Fatal(err)
	}
	if ids := ring.KeyIDs(); len(ids) != 2 || ids[0] != "new" || ids[1] != old.Current().ID {
		t.Fatalf("ids = %v", ids)
	}
	if got, err := ring.Open(sealedOld, "b"); err != nil || got != secret {
		t.Fatalf("old value through the ring: %q, %v", got, err)
	}
	sealedNew, _ := ring.Seal(secret, "b")
	if !strings.HasPrefix(sealedNew, "v2:new:") || ring.NeedsReseal(sealedNew) || !ring.NeedsReseal(sealedOld) || !ring.NeedsReseal(secret) {
		t.Fatalf("newest key does not seal: %q", sealedNew)
	}
	if _, err := old.Open(sealedNew, "b"); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("a ring without the key: %v", err)
	}

	// v1: AES-256-GCM under the raw key, no associated data.
	raw, _ := hex.DecodeString(oldKey)
	block, _ := aes.NewCipher(raw)
	aead, _ := cipher.NewGCM(block)
	nonce := make([]byte, aead.NonceSize())
	rand.Read(nonce)
	v1 := "v1:" + base64.StdEncoding.EncodeToString(aead.Seal(nonce, nonce, []byte(secret), nil))
	if got, err := ring.Open(v1, "webhooks/any/secret"); err != nil || got != secret {
		t.Fatalf("v1 value: %q, %v", got, err)
	}
	if !ring.NeedsReseal(v1) {
		t.Fatal("a v1 value does not need resealing")
	}

	for _, bad := range []string{"", "k1:" + oldKey + ",k1:" + newKey, "bad id!:" + oldKey, oldKey + ",", "short"} {
		if _, err := New(bad); err == nil {
			t.Errorf("setting %q accepted", bad)
		}
	}
}

func TestPayloadSealing(t *testing.T) {
	ring, _ := New("p2:" + strings.Repeat("0b", 32) + "," + "p1:" + strings.Repeat("0c", 32))
	id, sealed, err := ring.SealPayload([]byte(`{"Authorization":"Bearer x"}`), []byte("aad"))
	if err != nil || id != "p2" || strings.Contains(string(sealed), "Bearer") {
		t.Fatalf("SealPayload = %q %q %v", id, sealed, err)
	}
	if plain, err := ring.OpenPayload(id, sealed, []byte("aad")); err != nil || string(plain) != `{"Authorization":"Bearer x"}` {
		t.Fatalf("OpenPayload = %q, %v", plain, err)
	}
	if _, err := ring.OpenPayload(id, sealed, []byte("other")); err == nil {
		t.Fatal("opened with other associated data")
	}
	if _, err := ring.OpenPayload("p9", sealed, []byte("aad")); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("unknown key: %v", err)
	}
}
func TestParseKeyAcceptsHexAndBase64Of32Bytes(t *testing.T) {
	raw := make([]byte, KeySize)
	for i := range raw {
		raw[i] = byte(i * 7)
	}
	for name, s := range map[string]string{
		"hex":        hex.EncodeToString(raw),
		"base64":     base64.StdEncoding.EncodeToString(raw),
		"base64 raw": base64.RawStdEncoding.EncodeToString(raw),
		"base64 url": base64.URLEncoding.EncodeToString(raw),
		"spaces":     " " + hex.EncodeToString(raw) + "\n",
	} {
		got, err := ParseKey(s)
		if err != nil || string(got) != string(raw) {
			t.Errorf("%s: ParseKey(%q) = %x, %v", name, s, got, err)
		}
	}
	for name, s := range map[string]string{
		"empty":       "",
		"short":       base64.StdEncoding.EncodeToString(raw[:16]),
		"not encoded": "correct horse battery staple",
		"long hex":    hex.EncodeToString(append(raw, 1)),
	} {
		if _, err := ParseKey(s); err == nil {
			t.Errorf("%s: ParseKey(%q) accepted", name, s)
		}
	}
}
