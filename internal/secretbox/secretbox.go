// Package secretbox seals short secrets (webhook signing secrets) with
// AES-256-GCM under the key of TRIGGERFLOW_SECRET_KEY, so a copy of the
// database alone does not reveal them. It lives outside domain so the domain
// package stays free of key handling; store only sees store.SecretCipher.
package secretbox

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/triggerflow/triggerflow/store"
)

// KeySize is the length of a key in bytes (AES-256).
const KeySize = 32

// sealedPrefix starts every sealed value and names the format: a random
// 12-byte GCM nonce followed by the ciphertext and tag, base64 (std) encoded.
// A later format gets a new prefix, so old values stay readable.
const sealedPrefix = "v1:"

// ErrNoKey is returned by ParseKey for an empty setting.
var ErrNoKey = errors.New("TRIGGERFLOW_SECRET_KEY is not set: it must be 32 random bytes, base64 or hex encoded (e.g. `openssl rand -base64 32`)")

// Box seals and opens secrets with one AES-256-GCM key.
type Box struct {
	aead cipher.AEAD
}

var _ store.SecretCipher = (*Box)(nil)

// ParseKey decodes a 32-byte key written as hex (64 characters) or base64
// (standard or URL alphabet, padded or not).
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, ErrNoKey
	}
	if len(s) == 2*KeySize {
		if b, err := hex.DecodeString(s); err == nil {
			return b, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != KeySize {
				return nil, fmt.Errorf("TRIGGERFLOW_SECRET_KEY decodes to %d bytes; it must be %d", len(b), KeySize)
			}
			return b, nil
		}
	}
	return nil, fmt.Errorf("TRIGGERFLOW_SECRET_KEY must be %d bytes written as 64 hex characters or base64", KeySize)
}

// New returns a Box for a key as ParseKey accepts it.
func New(key string) (*Box, error) {
	raw, err := ParseKey(key)
	if err != nil {
		return nil, err
	}
	return NewFromBytes(raw)
}

// NewFromBytes returns a Box for a raw 32-byte key.
func NewFromBytes(key []byte) (*Box, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("secret key is %d bytes; it must be %d", len(key), KeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Box{aead: aead}, nil
}

// GenerateKey returns a new random key, base64 encoded.
func GenerateKey() (string, error) {
	var b [KeySize]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(b[:]), nil
}

// Seal encrypts plain with a fresh random nonce.
func (b *Box) Seal(plain string) (string, error) {
	nonce := make([]byte, b.aead.NonceSize(), b.aead.NonceSize()+len(plain)+b.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("seal secret: %w", err)
	}
	out := b.aead.Seal(nonce, nonce, []byte(plain), nil)
	return sealedPrefix + base64.StdEncoding.EncodeToString(out), nil
}

// Open decrypts a value Seal made. Values without the v1: prefix are legacy
// plaintext and come back unchanged (they are sealed on the next write).
func (b *Box) Open(sealed string) (string, error) {
	if !IsSealed(sealed) {
		return sealed, nil
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(sealed, sealedPrefix))
	if err != nil || len(raw) < b.aead.NonceSize()+b.aead.Overhead() {
		return "", errors.New("open secret: the stored value is malformed")
	}
	n := b.aead.NonceSize()
	plain, err := b.aead.Open(nil, raw[:n], raw[n:], nil)
	if err != nil {
		// Wrong key or tampered value; never include the value itself.
		return "", errors.New("open secret: it does not decrypt with TRIGGERFLOW_SECRET_KEY (wrong key?)")
	}
	return string(plain), nil
}

// IsSealed reports whether s is in a sealed format.
func IsSealed(s string) bool { return strings.HasPrefix(s, sealedPrefix) }
