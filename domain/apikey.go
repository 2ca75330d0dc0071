package domain

import "time"

// APIKey is a stored API key. The key itself is never kept: only its SHA-256
// hash (in the store) and its first characters (Prefix), which let people
// recognise a key in a list.
type APIKey struct {
	ID         string
	Name       string
	Prefix     string
	Scopes     []string
	CreatedAt  time.Time
	LastUsedAt *time.Time
	RevokedAt  *time.Time
	ExpiresAt  *time.Time
}

// Usable reports whether the key may authenticate at now: not revoked and
// not expired.
func (k *APIKey) Usable(now time.Time) bool {
	return k.RevokedAt == nil && (k.ExpiresAt == nil || now.Before(*k.ExpiresAt))
}
