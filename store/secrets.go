package store

import "fmt"

// SecretCipher seals secrets before they are written and opens them after
// they are read, so the database holds no signing secret in the clear. The
// implementation (AES-256-GCM under TRIGGERFLOW_SECRET_KEY) is
// internal/secretbox. Open must return values it did not seal (legacy
// plaintext) unchanged, so they keep working until their next write.
type SecretCipher interface {
	Seal(plain string) (string, error)
	Open(sealed string) (string, error)
}

// sealSecrets encrypts the row's secrets in place. A nil cipher leaves them
// as they are (tests only: the commands refuse to start without a key).
func sealSecrets(c SecretCipher, r *webhookRow) error {
	if c == nil {
		return nil
	}
	var err error
	if r.Secret, err = c.Seal(r.Secret); err != nil {
		return fmt.Errorf("webhook %s: %w", r.ID, err)
	}
	if r.PreviousSecret.Valid {
		if r.PreviousSecret.String, err = c.Seal(r.PreviousSecret.String); err != nil {
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
	if r.Secret, err = c.Open(r.Secret); err != nil {
		return fmt.Errorf("webhook %s: %w", r.ID, err)
	}
	if r.PreviousSecret.Valid {
		if r.PreviousSecret.String, err = c.Open(r.PreviousSecret.String); err != nil {
			return fmt.Errorf("webhook %s: %w", r.ID, err)
		}
	}
	return nil
}
