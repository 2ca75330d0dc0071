package store

import (
	"context"
	"fmt"
)

// SecretCipher seals secrets before they are written and opens them after
// they are read, so the database holds no signing secret in the clear. The
// implementation (AES-256-GCM under TRIGGERFLOW_SECRET_KEY's keys) is
// internal/secretbox. binding names the value's place (webhookSecretBinding):
// a sealed value opens only where it was sealed. Open must return values it
// did not seal (legacy plaintext) unchanged, so they keep working until
// their next write.
type SecretCipher interface {
	Seal(plain, binding string) (string, error)
	Open(sealed, binding string) (string, error)
	// NeedsReseal reports a stored value not sealed under the newest key in
	// the newest format.
	NeedsReseal(sealed string) bool
}

// webhookSecretBinding is the associated data of a webhook's sealed secret:
// the table, the row and the column.
func webhookSecretBinding(id, column string) string {
	return "webhooks/" + id + "/" + column
}

// sealSecrets encrypts the row's secrets in place. A nil cipher leaves them
// as they are (tests only: the commands refuse to start without a key).
func sealSecrets(c SecretCipher, r *webhookRow) error {
	if c == nil {
		return nil
	}
	var err error
	if r.Secret, err = c.Seal(r.Secret, webhookSecretBinding(r.ID, "secret")); err != nil {
		return fmt.Errorf("webhook %s: %w", r.ID, err)
	}
	if r.PreviousSecret.Valid {
		if r.PreviousSecret.String, err = c.Seal(r.PreviousSecret.String, webhookSecretBinding(r.ID, "previous_secret")); err != nil {
			return fmt.Errorf("webhook %s: %w", r.ID, err)
		}
	}
	return nil
}

// openSecrets decrypts the row's secrets in place.
func openSecrets(c SecretCipher, r *webhookRow) error {
	if c == nil {
		return nil
	}
	var err error
	if r.Secret, err = c.Open(r.Secret, webhookSecretBinding(r.ID, "secret")); err != nil {
		return fmt.Errorf("webhook %s: %w", r.ID, err)
	}
	if r.PreviousSecret.Valid {
		if r.PreviousSecret.String, err = c.Open(r.PreviousSecret.String, webhookSecretBinding(r.ID, "previous_secret")); err != nil {
			return fmt.Errorf("webhook %s: %w", r.ID, err)
		}
	}
	return nil
}

// ResealSecrets seals every webhook secret not yet sealed under the newest
// key in the newest format (plaintext, v1 values, older keys), a batch of
// rows at a time. A row changed meanwhile (a rotation) is left as the change
// wrote it: the update only applies when the stored values are still the ones
// read. It answers how many rows it resealed; after it, older keys can leave
// TRIGGERFLOW_SECRET_KEY.
func (s *Webhooks) ResealSecrets(ctx context.Context, batch int) (int, error) {
	if s.Cipher == nil {
		return 0, fmt.Errorf("reseal: no cipher configured")
	}
	if batch <= 0 {
		batch = 200
	}
	const page = `SELECT id, secret, previous_secret FROM webhooks WHERE id > $1 ORDER BY id LIMIT $2`
	const update = `UPDATE webhooks SET secret = $2, previous_secret = $3
		WHERE id = $1 AND secret = $4 AND previous_secret IS NOT DISTINCT FROM $5`
	resealed, after := 0, ""
	for {
		var rows []webhookRow
		if err := s.DB.SelectContext(ctx, &rows, page, after, batch); err != nil {
			return resealed, fmt.Errorf("reseal: %w", err)
		}
		if len(rows) == 0 {
			return resealed, nil
		}
		for _, r := range rows {
			after = r.ID
			if !s.Cipher.NeedsReseal(r.Secret) && (!r.PreviousSecret.Valid || !s.Cipher.NeedsReseal(r.PreviousSecret.String)) {
				continue
			}
			stored := r
			if err := openSecrets(s.Cipher, &r); err != nil {
				return resealed, fmt.Errorf("reseal: %w", err)
			}
			if err := sealSecrets(s.Cipher, &r); err != nil {
				return resealed, fmt.Errorf("reseal: %w", err)
			}
			res, err := s.DB.ExecContext(ctx, update, r.ID, r.Secret, r.PreviousSecret, stored.Secret, stored.PreviousSecret)
			if err != nil {
				return resealed, fmt.Errorf("reseal webhook %s: %w", r.ID, err)
			}
			if n, _ := res.RowsAffected(); n == 1 {
				resealed++
			}
		}
	}
}
