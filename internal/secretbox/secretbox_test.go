package secretbox

import (
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"
)

func TestSealOpenRoundTripAndLegacyPlaintext(t *testing.T) {
	key, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	box, err := New(key)
	if err != nil {
		t.Fatal(err)
	}
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	a, _ := box.Seal(secret)
	b, _ := box.Seal(secret)
	if !strings.HasPrefix(a, "v1:") || strings.Contains(a, secret) || strings.Contains(a, "MfKQ9r8") {
		t.Fatalf("sealed = %q", a)
	}
	if a == b {
		t.Fatal("two seals of one secret are equal: nonces repeat")
	}
	for _, sealed := range []string{a, b} {
		if got, err := box.Open(sealed); err != nil || got != secret {
			t.Fatalf("Open = %q, %v", got, err)
		}
	}
	// Values written before encryption existed are read as they are.
	if got, err := box.Open(secret); err != nil || got != secret {
		t.Fatalf("legacy Open = %q, %v", got, err)
	}

	other, _ := New(strings.Repeat("ab", 32))
	if _, err := other.Open(a); err == nil || strings.Contains(err.Error(), secret) {
		t.Fatalf("wrong key: err = %v", err)
	}
	tampered := a[:len(a)-4] + "AAAA"
	if _, err := box.Open(tampered); err == nil {
		t.Fatal("a tampered value opened")
	}
	if _, err := box.Open("v1:not base64!"); err == nil {
		t.Fatal("a malformed value opened")
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
