package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/triggerflow/triggerflow/domain"
)

// APIKeys is the repository of API keys. Keys are found by the SHA-256 hash
// of the whole key; the key itself is never stored.
type APIKeys struct {
	DB *sqlx.DB
}

type apiKeyRow struct {
	ID         string         `db:"id"`
	Name       string         `db:"name"`
	Prefix     string         `db:"prefix"`
	Hash       []byte         `db:"hash"`
	Scopes     pq.StringArray `db:"scopes"`
	CreatedAt  time.Time      `db:"created_at"`
	LastUsedAt sql.NullTime   `db:"last_used_at"`
	RevokedAt  sql.NullTime   `db:"revoked_at"`
	ExpiresAt  sql.NullTime   `db:"expires_at"`
}

const apiKeyColumns = `id, name, prefix, hash, scopes, created_at, last_used_at, revoked_at, expires_at`

const (
	insertAPIKey = `INSERT INTO api_keys (` + apiKeyColumns + `) VALUES (:id, :name, :prefix, :hash, :scopes,
		:created_at, :last_used_at, :revoked_at, :expires_at)`
	selectAPIKeyByID   = `SELECT ` + apiKeyColumns + ` FROM api_keys WHERE id = $1`
	selectAPIKeyByHash = `SELECT ` + apiKeyColumns + ` FROM api_keys WHERE hash = $1`
	countAPIKeys       = `SELECT count(*) FROM api_keys`
	selectAPIKeyPage   = `SELECT ` + apiKeyColumns + ` FROM api_keys ORDER BY created_at DESC, id DESC LIMIT $1 OFFSET $2`
	// Revoking twice keeps the first time.
	revokeAPIKey = `UPDATE api_keys SET revoked_at = coalesce(revoked_at, $2) WHERE id = $1 RETURNING revoked_at`
	// Only ever moves last_used_at forward, so late writes cannot go back.
	touchAPIKey = `UPDATE api_keys SET last_used_at = $2 WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $2)`
)

func nullTime(t *time.Time) sql.NullTime {
	if t == nil {
		return sql.NullTime{}
	}
	return sql.NullTime{Time: t.UTC(), Valid: true}
}

func timePtr(t sql.NullTime) *time.Time {
	if !t.Valid {
		return nil
	}
	v := t.Time.UTC()
	return &v
}

func (r apiKeyRow) toDomain() *domain.APIKey {
	return &domain.APIKey{
		ID: r.ID, Name: r.Name, Prefix: r.Prefix, Scopes: []string(r.Scopes), CreatedAt: r.CreatedAt.UTC(),
		LastUsedAt: timePtr(r.LastUsedAt), RevokedAt: timePtr(r.RevokedAt), ExpiresAt: timePtr(r.ExpiresAt),
	}
}

// Create stores k with the hash of its key; it fills ID and CreatedAt.
func (s *APIKeys) Create(ctx context.Context, k *domain.APIKey, hash []byte) error {
	if k.ID == "" {
		k.ID = NewID(PrefixAPIKey)
	}
	k.CreatedAt = time.Now().UTC().Truncate(time.Microsecond)
	row := apiKeyRow{
		ID: k.ID, Name: k.Name, Prefix: k.Prefix, Hash: hash, Scopes: k.Scopes, CreatedAt: k.CreatedAt,
		LastUsedAt: nullTime(k.LastUsedAt), RevokedAt: nullTime(k.RevokedAt), ExpiresAt: nullTime(k.ExpiresAt),
	}
	_, err := s.DB.NamedExecContext(ctx, insertAPIKey, row)
	return translate(err, "api key")
}

// Get finds a key by id.
func (s *APIKeys) Get(ctx context.Context, id string) (*domain.APIKey, error) {
	var r apiKeyRow
	if err := s.DB.GetContext(ctx, &r, selectAPIKeyByID, id); err != nil {
		return nil, translate(err, "api key "+id)
	}
	return r.toDomain(), nil
}

// ByHash finds a key by the SHA-256 hash of the whole key, revoked or not;
// the caller decides whether it is usable.
func (s *APIKeys) ByHash(ctx context.Context, hash []byte) (*domain.APIKey, error) {
	var r apiKeyRow
	if err := s.DB.GetContext(ctx, &r, selectAPIKeyByHash, hash); err != nil {
		return nil, translate(err, "api key")
	}
	return r.toDomain(), nil
}

// List returns one page of keys, newest first.
func (s *APIKeys) List(ctx context.Context, p domain.Page) (domain.List[*domain.APIKey], error) {
	var out domain.List[*domain.APIKey]
	if err := s.DB.GetContext(ctx, &out.Total, countAPIKeys); err != nil {
		return out, translate(err, "count api keys")
	}
	var rows []apiKeyRow
	if err := s.DB.SelectContext(ctx, &rows, selectAPIKeyPage, p.PerPage, p.Offset()); err != nil {
		return out, translate(err, "list api keys")
	}
	for _, r := range rows {
		out.Items = append(out.Items, r.toDomain())
	}
	return out, nil
}

// Revoke marks a key revoked at now (idempotent) and returns when it was
// revoked. An unknown id is ErrNotFound.
func (s *APIKeys) Revoke(ctx context.Context, id string, now time.Time) (time.Time, error) {
	var at time.Time
	if err := s.DB.GetContext(ctx, &at, revokeAPIKey, id, now.UTC()); err != nil {
		return at, translate(err, "api key "+id)
	}
	return at.UTC(), nil
}

// Touch records that a key was used at.
func (s *APIKeys) Touch(ctx context.Context, id string, at time.Time) error {
	_, err := s.DB.ExecContext(ctx, touchAPIKey, id, at.UTC())
	if err != nil {
		return translate(err, fmt.Sprintf("api key %s", id))
	}
	return nil
}
