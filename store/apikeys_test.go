package store_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"github.com/triggerflow/triggerflow/domain"
	"github.com/triggerflow/triggerflow/internal/testkit"
	"github.com/triggerflow/triggerflow/store"
)

func TestAPIKeysCreateFindListRevokeTouch(t *testing.T) {
	db := testkit.DB(t)
	ctx := context.Background()
	keys := &store.APIKeys{DB: db}

	expires := time.Now().Add(time.Hour).UTC().Truncate(time.Microsecond)
	first := &domain.APIKey{Name: "first", Prefix: "tfk_aaaa", Scopes: []string{"read"}}
	second := &domain.APIKey{Name: "second", Prefix: "tfk_bbbb", Scopes: []string{"publish", "read"}, ExpiresAt: &expires}
	h1, h2 := sha256.Sum256([]byte("tfk_one")), sha256.Sum256([]byte("tfk_two"))
	if err := keys.Create(ctx, first, h1[:]); err != nil {
		t.Fatal(err)
	}
	if err := keys.Create(ctx, second, h2[:]); err != nil {
		t.Fatal(err)
	}
	if err := keys.Create(ctx, &domain.APIKey{Name: "dup", Prefix: "tfk_c", Scopes: []string{"read"}}, h1[:]); !errors.Is(err, domain.ErrConflict) {
		t.Fatalf("same hash twice: err = %v, want ErrConflict", err)
	}

	got, err := keys.ByHash(ctx, h2[:])
	if err != nil || got.ID != second.ID || got.Name != "second" || len(got.Scopes) != 2 || got.ExpiresAt == nil || !got.ExpiresAt.Equal(expires) {
		t.Fatalf("ByHash = %+v, %v", got, err)
	}
	unknown := sha256.Sum256([]byte("tfk_nope"))
	if _, err := keys.ByHash(ctx, unknown[:]); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("unknown hash: err = %v", err)
	}

	list, err := keys.List(ctx, domain.Page{Number: 1, PerPage: 10})
	if err != nil || list.Total != 2 || list.Items[0].ID != second.ID || list.Items[1].ID != first.ID {
		t.Fatalf("List = %+v, %v (want newest first)", list, err)
	}
	if list, _ := keys.List(ctx, domain.Page{Number: 2, PerPage: 1}); len(list.Items) != 1 || list.Items[0].ID != first.ID {
		t.Fatalf("page 2 = %+v", list.Items)
	}

	now := time.Now()
	if err := keys.Touch(ctx, first.ID, now); err != nil {
		t.Fatal(err)
	}
	// An older use never moves last_used_at back.
	if err := keys.Touch(ctx, first.ID, now.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	got, _ = keys.Get(ctx, first.ID)
	if got.LastUsedAt == nil || got.LastUsedAt.Sub(now).Abs() > time.Millisecond {
		t.Fatalf("last_used_at = %v, want %v", got.LastUsedAt, now)
	}

	at, err := keys.Revoke(ctx, first.ID, now)
	if err != nil {
		t.Fatal(err)
	}
	again, err := keys.Revoke(ctx, first.ID, now.Add(time.Minute))
	if err != nil || !again.Equal(at) {
		t.Fatalf("second revoke = %v, %v; want the first time %v kept", again, err, at)
	}
	got, _ = keys.ByHash(ctx, h1[:])
	if got.RevokedAt == nil || got.Usable(time.Now()) {
		t.Fatalf("revoked key = %+v", got)
	}
	if _, err := keys.Revoke(ctx, "key_missing", now); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("revoke unknown: err = %v", err)
	}
	if _, err := keys.Get(ctx, "key_missing"); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("get unknown: err = %v", err)
	}
}
