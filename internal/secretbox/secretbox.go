// Package secretbox seals short secrets (webhook signing secrets) with
// AES-256-GCM under the keys of TRIGGERFLOW_SECRET_KEY, so a copy of the
// database alone does not reveal them, and holds the key ring that the
// Temporal payload codec (internal/payloadcodec) encrypts with. It lives
// outside domain so the domain package stays free of key handling; store only
// sees store.SecretCipher.
//
// TRIGGERFLOW_SECRET_KEY holds one key or several, comma-separated, newest
// first: the first seals, every one opens, so keys rotate without downtime
// (add the new key in front, run `triggerflow secrets reseal`, then drop the
// old one). A key is 32 random bytes, base64 or hex, optionally named
// "id:key"; an unnamed key's id is derived from its bytes.
package secretbox

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/triggerflow/triggerflow/store"
)

// KeySize is the length of a key in bytes (AES-256).
const KeySize = 32

// Sealed formats. A later format gets a new prefix, so old values stay
// readable:
//
//	v1:<base64(nonce|ciphertext|tag)>          the raw key, no associated data
//	v2:<key id>:<base64(nonce|ciphertext|tag)>  a key derived for secrets, the
//	                                            value's binding as associated data
const (
	sealedPrefixV1 = "v1:"
	sealedPrefixV2 = "v2:"
)

// ErrNoKey is returned by ParseKey for an empty setting.
var ErrNoKey = errors.New("TRIGGERFLOW_SECRET_KEY is not set: it must be 32 random bytes, base64 or hex encoded (e.g. `openssl rand -base64 32`)")

// ErrUnknownKey means a value was sealed under a key the ring does not hold.
var ErrUnknownKey = errors.New("sealed under a key TRIGGERFLOW_SECRET_KEY no longer holds")

var keyIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)

// Key is one key of the ring.
type Key struct {
	// ID names the key in sealed values and payload metadata.
	ID string
	// legacy opens v1 values (the raw key); secrets and payloads use keys
	// derived from the raw key for their purpose.
	legacy  cipher.AEAD
	secrets cipher.AEAD
	payload cipher.AEAD
}

// Box seals and opens secrets with a ring of AES-256-GCM keys: the first
// seals, all open.
type Box struct {
	keys []*Key
	byID map[string]*Key
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

// ParseKeyRing checks a TRIGGERFLOW_SECRET_KEY setting: one or more keys,
// comma-separated, each "key" or "id:key", ids unique.
func ParseKeyRing(s string) error {
	_, err := New(s)
	return err
}

// New returns a Box for a setting as ParseKeyRing accepts it.
func New(setting string) (*Box, error) {
	if strings.TrimSpace(setting) == "" {
		return nil, ErrNoKey
	}
	b := &Box{byID: map[string]*Key{}}
	for i, entry := range strings.Split(setting, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			return nil, fmt.Errorf("TRIGGERFLOW_SECRET_KEY: key %d is empty", i+1)
		}
		id, keyText, named := strings.Cut(entry, ":")
		if !named {
			keyText, id = entry, ""
		} else if !keyIDPattern.MatchString(id) {
			return nil, fmt.Errorf("TRIGGERFLOW_SECRET_KEY: key id %q must be 1-32 letters, digits, - or _", id)
		}
		raw, err := ParseKey(keyText)
		if err != nil {
			return nil, fmt.Errorf("TRIGGERFLOW_SECRET_KEY: key %d: %w", i+1, err)
		}
		k, err := newKey(id, raw)
		if err != nil {
			return nil, err
		}
		if _, dup := b.byID[k.ID]; dup {
			return nil, fmt.Errorf("TRIGGERFLOW_SECRET_KEY: key id %q is used twice", k.ID)
		}
		b.keys = append(b.keys, k)
		b.byID[k.ID] = k
	}
	return b, nil
}

// NewFromBytes returns a Box for one raw 32-byte key.
func NewFromBytes(key []byte) (*Box, error) {
	k, err := newKey("", key)
	if err != nil {
		return nil, err
	}
	return &Box{keys: []*Key{k}, byID: map[string]*Key{k.ID: k}}, nil
}

// newKey derives the key's purpose keys; an empty id becomes the first 8 hex
// characters of the key's SHA-256, so an unnamed key keeps its id.
func newKey(id string, raw []byte) (*Key, error) {
	if len(raw) != KeySize {
		return nil, fmt.Errorf("secret key is %d bytes; it must be %d", len(raw), KeySize)
	}
	if id == "" {
		sum := sha256.Sum256(raw)
		id = hex.EncodeToString(sum[:4])
	}
	k := &Key{ID: id}
	var err error
	if k.legacy, err = gcm(raw); err != nil {
		return nil, err
	}
	for _, p := range []struct {
		dst  *cipher.AEAD
		info string
	}{{&k.secrets, "triggerflow secrets v2"}, {&k.payload, "triggerflow temporal payloads v1"}} {
		sub, err := hkdf.Key(sha256.New, raw, nil, p.info, KeySize)
		if err != nil {
			return nil, err
		}
		if *p.dst, err = gcm(sub); err != nil {
			return nil, err
		}
	}
	return k, nil
}

func gcm(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// GenerateKey returns a new random key, base64 encoded.
func GenerateKey() (string, error) {
	var b [KeySize]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(b[:]), nil
}

// Current is the key that seals: the first of the ring.
func (b *Box) Current() *Key { return b.keys[0] }

// KeyIDs lists the ring's key ids, newest first.
func (b *Box) KeyIDs() []string {
	ids := make([]string, len(b.keys))
	for i, k := range b.keys {
		ids[i] = k.ID
	}
	return ids
}

// Seal encrypts plain under the newest key with a fresh random nonce. binding
// names where the value lives (e.g. "webhooks/wh_1/secret"): it is
// authenticated with the value, so a sealed value copied to another row or
// column does not open there.
func (b *Box) Seal(plain, binding string) (string, error) {
	k := b.Current()
	out, err := sealWith(k.secrets, []byte(plain), []byte(binding))
	if err != nil {
		return "", fmt.Errorf("seal secret: %w", err)
	}
	return sealedPrefixV2 + k.ID + ":" + base64.StdEncoding.EncodeToString(out), nil
}

// Open decrypts a value Seal made (v2, checked against binding) or the
// earlier v1 format (any key of the ring, no binding). Values without a
// prefix are legacy plaintext and come back unchanged (they are sealed on
// the next write).
func (b *Box) Open(sealed, binding string) (string, error) {
	switch {
	case strings.HasPrefix(sealed, sealedPrefixV2):
		id, body, ok := strings.Cut(strings.TrimPrefix(sealed, sealedPrefixV2), ":")
		if !ok {
			return "", errors.New("open secret: the stored value is malformed")
		}
		k := b.byID[id]
		if k == nil {
			return "", fmt.Errorf("open secret: key %q: %w", id, ErrUnknownKey)
		}
		raw, err := base64.StdEncoding.DecodeString(body)
		if err != nil {
			return "", errors.New("open secret: the stored value is malformed")
		}
		plain, err := openWith(k.secrets, raw, []byte(binding))
		if err != nil {
			// Tampered, or moved from another row; never include the value.
			return "", fmt.Errorf("open secret: it does not decrypt with key %q for %s", id, binding)
		}
		return string(plain), nil
	case strings.HasPrefix(sealed, sealedPrefixV1):
		raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(sealed, sealedPrefixV1))
		if err != nil {
			return "", errors.New("open secret: the stored value is malformed")
		}
		for _, k := range b.keys {
			if plain, err := openWith(k.legacy, raw, nil); err == nil {
				return string(plain), nil
			}
		}
		return "", errors.New("open secret: it does not decrypt with any key of TRIGGERFLOW_SECRET_KEY (wrong key?)")
	default:
		return sealed, nil
	}
}

// NeedsReseal reports whether a stored value is not sealed under the newest
// key in the newest format: plaintext, v1, or v2 under an older key.
func (b *Box) NeedsReseal(sealed string) bool {
	return !strings.HasPrefix(sealed, sealedPrefixV2+b.Current().ID+":")
}

// SealPayload encrypts a Temporal payload under the newest key; it returns
// the key id to record beside it. aad binds the ciphertext to its use.
func (b *Box) SealPayload(plain, aad []byte) (keyID string, sealed []byte, err error) {
	k := b.Current()
	out, err := sealWith(k.payload, plain, aad)
	return k.ID, out, err
}

// OpenPayload decrypts what SealPayload made under key keyID.
func (b *Box) OpenPayload(keyID string, sealed, aad []byte) ([]byte, error) {
	k := b.byID[keyID]
	if k == nil {
		return nil, fmt.Errorf("payload key %q: %w", keyID, ErrUnknownKey)
	}
	plain, err := openWith(k.payload, sealed, aad)
	if err != nil {
		return nil, fmt.Errorf("payload does not decrypt with key %q", keyID)
	}
	return plain, nil
}

func sealWith(aead cipher.AEAD, plain, aad []byte) ([]byte, error) {
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return aead.Seal(nonce, nonce, plain, aad), nil
}

func openWith(aead cipher.AEAD, raw, aad []byte) ([]byte, error) {
	n := aead.NonceSize()
	if len(raw) < n+aead.Overhead() {
		return nil, errors.New("too short")
	}
	return aead.Open(nil, raw[:n], raw[n:], aad)
}

// IsSealed reports whether s is in a sealed format.
func IsSealed(s string) bool {
	return strings.HasPrefix(s, sealedPrefixV1) || strings.HasPrefix(s, sealedPrefixV2)
}
