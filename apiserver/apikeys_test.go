//go:build !fuzzsmoke

package apiserver_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/triggerflow/triggerflow/internal/teststack"
)

func TestAPIKeysLifecycle(t *testing.T) {
	s := teststack.Start(t, teststack.Options{NoWorker: true})

	r := s.MustDo(http.StatusCreated, "POST", "/v1/api-keys", map[string]any{"name": "reporting", "scopes": []string{"read", "read"}})
	created := r.Map(t)
	key, _ := created["key"].(string)
	id, _ := created["id"].(string)
	if !strings.HasPrefix(key, "tfk_") || len(key) < 40 || !strings.HasPrefix(id, "key_") {
		t.Fatalf("created = %v", created)
	}
	if created["prefix"] != key[:12] || len(created["scopes"].([]any)) != 1 || created["revoked_at"] != nil {
		t.Fatalf("created = %v", created)
	}

	// The key works, within its scope only.
	if r := s.DoAs(key, "GET", "/v1/webhooks", nil); r.Status != 200 {
		t.Fatalf("read with key: %d %s", r.Status, r.Body)
	}
	if r := s.DoAs(key, "POST", "/v1/webhooks", map[string]any{}); r.Status != http.StatusForbidden {
		t.Fatalf("write with read key: %d", r.Status)
	}
	// Only admin manages keys.
	for _, c := range []struct{ method, path string }{{"GET", "/v1/api-keys"}, {"GET", "/v1/api-keys/" + id}, {"DELETE", "/v1/api-keys/" + id}} {
		if r := s.DoAs(key, c.method, c.path, nil); r.Status != http.StatusForbidden {
			t.Fatalf("%s %s with read key: %d", c.method, c.path, r.Status)
		}
	}
	if r := s.DoAs(key, "POST", "/v1/api-keys", map[string]any{"name": "x", "scopes": []string{"admin"}}); r.Status != http.StatusForbidden {
		t.Fatalf("read key created a key: %d", r.Status)
	}

	// Reads never show the key; last use is recorded in the background.
	s.MustDo(http.StatusCreated, "POST", "/v1/api-keys", map[string]any{"name": "newer", "scopes": []string{"publish"}})
	var list struct {
		Items []map[string]any `json:"items"`
		Total int              `json:"total"`
	}
	waitFor(t, func() bool {
		s.MustDo(200, "GET", "/v1/api-keys", nil).JSON(t, &list)
		return list.Total == 2 && list.Items[1]["last_used_at"] != nil
	})
	if list.Items[0]["name"] != "newer" || list.Items[1]["id"] != id {
		t.Fatalf("list not newest first: %v", list.Items)
	}
	for _, body := range [][]byte{s.MustDo(200, "GET", "/v1/api-keys", nil).Body, s.MustDo(200, "GET", "/v1/api-keys/"+id, nil).Body} {
		if strings.Contains(string(body), key[12:]) || strings.Contains(string(body), `"key"`) {
			t.Fatalf("a read shows the key: %s", body)
		}
	}

	// Revoking takes effect at once.
	s.MustDo(http.StatusNoContent, "DELETE", "/v1/api-keys/"+id, nil)
	if r := s.DoAs(key, "GET", "/v1/webhooks", nil); r.Status != http.StatusUnauthorized {
		t.Fatalf("revoked key: %d", r.Status)
	}
	if got := s.MustDo(200, "GET", "/v1/api-keys/"+id, nil).Map(t); got["revoked_at"] == nil {
		t.Fatalf("revoked_at not shown: %v", got)
	}
	s.MustDo(http.StatusNoContent, "DELETE", "/v1/api-keys/"+id, nil)
	s.MustDo(http.StatusNotFound, "DELETE", "/v1/api-keys/key_nope", nil)
	s.MustDo(http.StatusNotFound, "GET", "/v1/api-keys/key_nope", nil)

	// An expired key is refused.
	exp := s.MustDo(http.StatusCreated, "POST", "/v1/api-keys", map[string]any{
		"name": "short", "scopes": []string{"read"}, "expires_at": time.Now().Add(1500 * time.Millisecond).UTC().Format(time.RFC3339Nano),
	}).Map(t)
	short := exp["key"].(string)
	if r := s.DoAs(short, "GET", "/v1/catalog", nil); r.Status != 200 {
		t.Fatalf("fresh key: %d", r.Status)
	}
	waitFor(t, func() bool { return s.DoAs(short, "GET", "/v1/catalog", nil).Status == http.StatusUnauthorized })
}

func TestAPIKeyCreateValidation(t *testing.T) {
	s := teststack.Start(t, teststack.Options{NoWorker: true})
	for name, c := range map[string]struct {
		body  any
		field string
	}{
		"no name":       {map[string]any{"scopes": []string{"read"}}, "name"},
		"no scopes":     {map[string]any{"name": "x"}, "scopes"},
		"unknown scope": {map[string]any{"name": "x", "scopes": []string{"read", "root"}}, "scopes[1]"},
		"past expiry":   {map[string]any{"name": "x", "scopes": []string{"read"}, "expires_at": "2020-01-01T00:00:00Z"}, "expires_at"},
		"bad expiry":    {map[string]any{"name": "x", "scopes": []string{"read"}, "expires_at": "tomorrow"}, "expires_at"},
		"unknown field": {map[string]any{"name": "x", "scopes": []string{"read"}, "key": "tfk_mine"}, "key"},
	} {
		r := s.Do("POST", "/v1/api-keys", c.body)
		var e struct {
			Error struct {
				Fields map[string]string `json:"fields"`
			} `json:"error"`
		}
		r.JSON(t, &e)
		if r.Status != http.StatusBadRequest || e.Error.Fields[c.field] == "" {
			t.Errorf("%s: %d %s, want 400 naming %s", name, r.Status, r.Body, c.field)
		}
	}
}

func TestPublishRateLimitPerKey(t *testing.T) {
	s := teststack.Start(t, teststack.Options{NoWorker: true, PublishRate: 2, PublishBurst: 3})
	batch := func(n int) map[string]any {
		evs := make([]map[string]any, n)
		for i := range evs {
			evs[i] = map[string]any{"type": "case.created", "data": map[string]any{}}
		}
		return map[string]any{"events": evs}
	}
	s.MustDo(http.StatusAccepted, "POST", "/v1/events", batch(3))
	r := s.Do("POST", "/v1/events", batch(2))
	if r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") != "1" {
		t.Fatalf("over the limit: %d Retry-After=%q %s", r.Status, r.Header.Get("Retry-After"), r.Body)
	}
	// A bigger batch waits longer; the refused request spent nothing.
	if r := s.Do("POST", "/v1/events", batch(3)); r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") != "2" {
		t.Fatalf("batch of 3: %d Retry-After=%q", r.Status, r.Header.Get("Retry-After"))
	}
	// Another key has its own bucket.
	other := s.MustDo(http.StatusCreated, "POST", "/v1/api-keys", map[string]any{"name": "pub", "scopes": []string{"publish"}}).Map(t)["key"].(string)
	if r := s.DoAs(other, "POST", "/v1/events", batch(3)); r.Status != http.StatusAccepted {
		t.Fatalf("second key: %d %s", r.Status, r.Body)
	}
	time.Sleep(1100 * time.Millisecond)
	s.MustDo(http.StatusAccepted, "POST", "/v1/events", batch(2))
}
