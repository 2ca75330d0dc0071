package apiserver

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/triggerflow/triggerflow/domain"
	"github.com/triggerflow/triggerflow/store"
)

// KeyPrefix starts every API key the server makes, so a key found in a
// config file or a leak scanner's report says what it is.
const KeyPrefix = "tfk_"

// keyShownChars is how much of a key lists show (KeyPrefix and 8 more).
const keyShownChars = len(KeyPrefix) + 8

// allScopes are the scopes a key may be given.
var allScopes = []string{ScopeAdmin, ScopeRead, ScopePublish, ScopeWebhooksWrite, ScopeTriggersWrite}

// Key cache settings: a key is looked up at most once per keyCacheTTL per
// process (so revoking it elsewhere takes up to that long here; in this
// process it is immediate), and last_used_at is written at most once per
// keyTouchEvery.
const (
	keyCacheTTL     = 30 * time.Second
	keyTouchEvery   = time.Minute
	keyCacheMaxSize = 10000
)

// newAPIKey returns a fresh key: KeyPrefix and 32 random bytes in hex.
func newAPIKey() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return KeyPrefix + hex.EncodeToString(b[:]), nil
}

func hashAPIKey(key string) [sha256.Size]byte { return sha256.Sum256([]byte(key)) }

// keyAuthenticator finds API keys by hash with a small in-process cache, so
// authentication is not a query per request, and records use without
// blocking requests.
type keyAuthenticator struct {
	keys *store.APIKeys
	log  *slog.Logger
	now  func() time.Time

	mu      sync.Mutex
	cache   map[[sha256.Size]byte]cachedKey
	touched map[string]time.Time // key id → last recorded use
}

type cachedKey struct {
	key     *domain.APIKey
	expires time.Time
}

func newKeyAuthenticator(keys *store.APIKeys, log *slog.Logger) *keyAuthenticator {
	return &keyAuthenticator{keys: keys, log: log, now: time.Now,
		cache: map[[sha256.Size]byte]cachedKey{}, touched: map[string]time.Time{}}
}

// authenticate returns the principal of a store key, errUnauthorized for an
// unknown, revoked or expired one, or a store error (e.g. unavailable).
func (a *keyAuthenticator) authenticate(ctx context.Context, key string) (Principal, error) {
	if !strings.HasPrefix(key, KeyPrefix) {
		return Principal{}, errUnauthorized
	}
	hash := hashAPIKey(key)
	now := a.now()
	a.mu.Lock()
	entry, ok := a.cache[hash]
	a.mu.Unlock()
	if !ok || now.After(entry.expires) {
		k, err := a.keys.ByHash(ctx, hash[:])
		if errors.Is(err, domain.ErrNotFound) {
			return Principal{}, errUnauthorized
		}
		if err != nil {
			return Principal{}, err
		}
		entry = cachedKey{key: k, expires: now.Add(keyCacheTTL)}
		a.mu.Lock()
		if len(a.cache) >= keyCacheMaxSize {
			clear(a.cache)
		}
		a.cache[hash] = entry
		if k.LastUsedAt != nil && k.LastUsedAt.After(a.touched[k.ID]) {
			a.touched[k.ID] = *k.LastUsedAt
		}
		a.mu.Unlock()
	}
	if !entry.key.Usable(now) {
		return Principal{}, errUnauthorized
	}
	a.recordUse(entry.key.ID, now)
	return Principal{KeyID: entry.key.ID, Name: entry.key.Name, Scopes: entry.key.Scopes}, nil
}

// recordUse writes last_used_at in the background, at most once per
// keyTouchEvery per key; a failed write is only logged.
func (a *keyAuthenticator) recordUse(id string, now time.Time) {
	a.mu.Lock()
	if now.Sub(a.touched[id]) < keyTouchEvery {
		a.mu.Unlock()
		return
	}
	a.touched[id] = now
	a.mu.Unlock()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := a.keys.Touch(ctx, id, now); err != nil {
			a.log.Debug("could not record api key use", "key_id", id, "error", err)
		}
	}()
}

// forget drops a key from the cache so its revocation takes effect at once.
func (a *keyAuthenticator) forget(id string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for h, e := range a.cache {
		if e.key.ID == id {
			delete(a.cache, h)
		}
	}
}

// apiKeyRequest is the body of POST /v1/api-keys.
type apiKeyRequest struct {
	Name      string       `json:"name"`
	Scopes    []string     `json:"scopes"`
	ExpiresAt *rfc3339Time `json:"expires_at"`
}

// apiKeyResponse is a key as the API shows it; Key is present only in the
// answer to create.
type apiKeyResponse struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Prefix     string     `json:"prefix"`
	Scopes     []string   `json:"scopes"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
	ExpiresAt  *time.Time `json:"expires_at"`
	Key        string     `json:"key,omitempty"`
}

func toAPIKeyResponse(k *domain.APIKey) apiKeyResponse {
	return apiKeyResponse{ID: k.ID, Name: k.Name, Prefix: k.Prefix, Scopes: k.Scopes, CreatedAt: k.CreatedAt,
		LastUsedAt: k.LastUsedAt, RevokedAt: k.RevokedAt, ExpiresAt: k.ExpiresAt}
}

// validateAPIKeyRequest checks the body and returns the scopes deduplicated
// in their canonical order.
func validateAPIKeyRequest(req apiKeyRequest, now time.Time) ([]string, error) {
	f := domain.FieldErrors{}
	name := strings.TrimSpace(req.Name)
	switch {
	case name == "":
		f.Add("name", "is required")
	case utf8.RuneCountInString(name) > 200:
		f.Add("name", "must be at most 200 characters")
	}
	var scopes []string
	if len(req.Scopes) == 0 {
		f.Add("scopes", fmt.Sprintf("must list at least one of %s", strings.Join(allScopes, ", ")))
	}
	want := map[string]bool{}
	for i, sc := range req.Scopes {
		known := false
		for _, a := range allScopes {
			if sc == a {
				known = true
			}
		}
		if !known {
			f.Add(fmt.Sprintf("scopes[%d]", i), fmt.Sprintf("%q is not a scope; scopes: %s", sc, strings.Join(allScopes, ", ")))
		}
		want[sc] = true
	}
	for _, a := range allScopes {
		if want[a] {
			scopes = append(scopes, a)
		}
	}
	if req.ExpiresAt != nil && !req.ExpiresAt.After(now) {
		f.Add("expires_at", "must be in the future")
	}
	return scopes, f.Err()
}

func (s *Server) createAPIKey(c *gin.Context) {
	var req apiKeyRequest
	if err := bindJSON(c, &req); err != nil {
		abortWithError(c, err)
		return
	}
	scopes, err := validateAPIKeyRequest(req, time.Now())
	if err != nil {
		abortWithError(c, err)
		return
	}
	key, err := newAPIKey()
	if err != nil {
		abortWithError(c, err)
		return
	}
	k := &domain.APIKey{Name: strings.TrimSpace(req.Name), Prefix: key[:keyShownChars], Scopes: scopes}
	if req.ExpiresAt != nil {
		t := req.ExpiresAt.UTC()
		k.ExpiresAt = &t
	}
	hash := hashAPIKey(key)
	if err := s.apiKeys.Create(c.Request.Context(), k, hash[:]); err != nil {
		abortWithError(c, err)
		return
	}
	loggerFrom(c).Info("api key created", "key_id", k.ID, "prefix", k.Prefix, "scopes", k.Scopes,
		"by", principalFrom(c).KeyID)
	resp := toAPIKeyResponse(k)
	resp.Key = key
	c.JSON(http.StatusCreated, resp)
}

func (s *Server) listAPIKeys(c *gin.Context) {
	p, err := pageFrom(c)
	if err != nil {
		abortWithError(c, err)
		return
	}
	list, err := s.apiKeys.List(c.Request.Context(), p)
	if err != nil {
		abortWithError(c, err)
		return
	}
	respondList(c, p, list, toAPIKeyResponse)
}

func (s *Server) getAPIKey(c *gin.Context) {
	k, err := s.apiKeys.Get(c.Request.Context(), c.Param("id"))
	if err != nil {
		abortWithError(c, err)
		return
	}
	c.JSON(http.StatusOK, toAPIKeyResponse(k))
}

func (s *Server) revokeAPIKey(c *gin.Context) {
	id := c.Param("id")
	if _, err := s.apiKeys.Revoke(c.Request.Context(), id, time.Now()); err != nil {
		abortWithError(c, err)
		return
	}
	s.keys.forget(id)
	loggerFrom(c).Info("api key revoked", "key_id", id, "by", principalFrom(c).KeyID)
	c.Status(http.StatusNoContent)
}
