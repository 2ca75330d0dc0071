package store_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/triggerflow/triggerflow/domain"
	"github.com/triggerflow/triggerflow/internal/secretbox"
	"github.com/triggerflow/triggerflow/internal/testkit"
	"github.com/triggerflow/triggerflow/store"
)

func TestWebhookSecretsAreSealedAtRest(t *testing.T) {
	db := testkit.DB(t)
	ctx := context.Background()
	box, err := secretbox.New(strings.Repeat("42", 32))
	if err != nil {
		t.Fatal(err)
	}
	repo := &store.Webhooks{DB: db, Cipher: box}
	raw := func(id string) (secret, previous string) {
		t.Helper()
		var prev *string
		if err := db.QueryRowContext(ctx, `SELECT secret, previous_secret FROM webhooks WHERE id = $1`, id).Scan(&secret, &prev); err != nil {
			t.Fatal(err)
		}
		if prev != nil {
			previous = *prev
		}
		return secret, previous
	}

	const secret = "whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0"
	w := testkit.Webhook("sealed", []string{"case.created"}, nil)
	w.Secret = secret
	if err := repo.Create(ctx, w); err != nil {
		t.Fatal(err)
	}
	col, _ := raw(w.ID)
	if !strings.HasPrefix(col, "v2:") || strings.Contains(col, "c2VjcmV0") {
		t.Fatalf("stored secret = %q, want it sealed", col)
	}
	got, err := repo.Get(ctx, "sealed")
	if err != nil || got.Secret != secret {
		t.Fatalf("Get secret = %q, %v", got.Secret, err)
	}

	// Rotation keeps both secrets sealed.
	const next = "whsec_bmV4dC1uZXh0LW5leHQtbmV4dC1uZXh0LW5l"
	until := time.Now().Add(time.Hour)
	got.PreviousSecret, got.PreviousSecretUntil, got.Secret = got.Secret, &until, next
	if err := repo.Update(ctx, got); err != nil {
		t.Fatal(err)
	}
	col, prev := raw(w.ID)
	if !strings.HasPrefix(col, "v2:") || !strings.HasPrefix(prev, "v2:") || strings.Contains(col+prev, "whsec_") {
		t.Fatalf("stored after rotation = %q, %q", col, prev)
	}
	list, err := repo.List(ctx, store.WebhookFilter{}, domain.Page{Number: 1, PerPage: 10})
	if err != nil || len(list.Items) != 1 || list.Items[0].Secret != next || list.Items[0].PreviousSecret != secret {
		t.Fatalf("List = %+v, %v", list.Items, err)
	}

	// The matching index needs no secrets and must not fail on sealed ones.
	enabled, err := (&store.Webhooks{DB: db}).Enabled(ctx)
	if err != nil || len(enabled) != 1 || enabled[0].Secret != "" {
		t.Fatalf("Enabled = %+v, %v", enabled, err)
	}

	// A secret written before encryption (plaintext) still reads, and the
	// next write seals it.
	if _, err := db.ExecContext(ctx, `UPDATE webhooks SET secret = $2, previous_secret = NULL WHERE id = $1`, w.ID, secret); err != nil {
		t.Fatal(err)
	}
	got, err = repo.Get(ctx, w.ID)
	if err != nil || got.Secret != secret {
		t.Fatalf("legacy Get = %q, %v", got.Secret, err)
	}
	got.PreviousSecret, got.PreviousSecretUntil = "", nil
	if err := repo.Update(ctx, got); err != nil {
		t.Fatal(err)
	}
	if col, _ := raw(w.ID); !strings.HasPrefix(col, "v2:") {
		t.Fatalf("legacy secret not sealed on write: %q", col)
	}

	// A different key cannot read it, and says so without the value.
	wrong, _ := secretbox.New(strings.Repeat("17", 32))
	if _, err := (&store.Webhooks{DB: db, Cipher: wrong}).Get(ctx, w.ID); err == nil || strings.Contains(err.Error(), "whsec_") {
		t.Fatalf("wrong key: err = %v", err)
	}
}

// TestResealMovesSecretsToTheNewestKeyAndBindsThemToTheirRow: after a key is
// added in front of the ring, reseal rewrites plaintext, v1 and old-key values
// under the new key; the old key can then leave. A sealed value copied to
// another row does not open there.
func TestResealMovesSecretsToTheNewestKeyAndBindsThemToTheirRow(t *testing.T) {
	db := testkit.DB(t)
	ctx := context.Background()
	oldKey, newKey := strings.Repeat("42", 32), strings.Repeat("43", 32)
	oldBox, _ := secretbox.New(oldKey)
	old := &store.Webhooks{DB: db, Cipher: oldBox}
	var ids []string
	for i, code := range []string{"one", "two", "three"} {
		w := testkit.Webhook(code, []string{"case.created"}, nil)
		w.Secret = "whsec_" + strings.Repeat(string(rune('a'+i)), 32)
		if err := old.Create(ctx, w); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, w.ID)
	}
	// "three" was written before encryption existed.
	if _, err := db.ExecContext(ctx, `UPDATE webhooks SET secret = 'whsec_plain' WHERE id = $1`, ids[2]); err != nil {
		t.Fatal(err)
	}

	ringBox, err := secretbox.New("k2:" + newKey + "," + oldKey)
	if err != nil {
		t.Fatal(err)
	}
	ring := &store.Webhooks{DB: db, Cipher: ringBox}
	n, err := ring.ResealSecrets(ctx, 2)
	if err != nil || n != 3 {
		t.Fatalf("resealed %d, %v; want 3", n, err)
	}
	if n, err := ring.ResealSecrets(ctx, 2); err != nil || n != 0 {
		t.Fatalf("second reseal: %d, %v; want 0", n, err)
	}
	newOnly, _ := secretbox.New("k2:" + newKey)
	only := &store.Webhooks{DB: db, Cipher: newOnly}
	for i, id := range ids {
		var col string
		if err := db.QueryRowContext(ctx, `SELECT secret FROM webhooks WHERE id = $1`, id).Scan(&col); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(col, "v2:k2:") {
			t.Fatalf("%s stored as %q", id, col)
		}
		w, err := only.Get(ctx, id)
		want := "whsec_" + strings.Repeat(string(rune('a'+i)), 32)
		if i == 2 {
			want = "whsec_plain"
		}
		if err != nil || w.Secret != want {
			t.Fatalf("%s with the new key alone: %q, %v", id, w.Secret, err)
		}
	}

	// Copy one row's sealed secret into another row: it must not open there.
	if _, err := db.ExecContext(ctx, `UPDATE webhooks SET secret = (SELECT secret FROM webhooks WHERE id = $1) WHERE id = $2`, ids[0], ids[1]); err != nil {
		t.Fatal(err)
	}
	if w, err := only.Get(ctx, ids[1]); err == nil {
		t.Fatalf("a secret moved from %s opened in %s as %q", ids[0], ids[1], w.Secret)
	}
}
