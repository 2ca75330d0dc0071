package teststack

import (
	"net/http"
	"testing"

	"go.temporal.io/sdk/client"

	"github.com/triggerflow/triggerflow/activities"
	"github.com/triggerflow/triggerflow/internal/secretbox"
	"github.com/triggerflow/triggerflow/internal/testkit"
	"github.com/triggerflow/triggerflow/worker"
)

// What tests of several packages do through the stack's API, and the
// worker a test starts by itself.

// CreateWebhook creates a webhook (POST /v1/webhooks) and returns it.
func (s *Stack) CreateWebhook(t testing.TB, body map[string]any) map[string]any {
	t.Helper()
	return s.MustDo(http.StatusCreated, "POST", "/v1/webhooks", body).Map(t)
}

// Publish publishes one event (POST /v1/events).
func (s *Stack) Publish(t testing.TB, id, typ string, data map[string]any) {
	t.Helper()
	s.MustDo(http.StatusAccepted, "POST", "/v1/events", map[string]any{"id": id, "type": typ, "data": data})
}

// DeliveriesOf lists every delivery of a webhook (up to 500) with its
// status.
func (s *Stack) DeliveriesOf(t testing.TB, code string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, d := range s.MustDo(http.StatusOK, "GET", "/v1/webhooks/"+code+"/deliveries?per_page=500", nil).Map(t)["items"].([]any) {
		out = append(out, d.(map[string]any))
	}
	return out
}

// Cipher opens the secrets the stack sealed (its SecretKey).
func Cipher(t testing.TB) *secretbox.Box {
	t.Helper()
	box, err := secretbox.New(SecretKey)
	if err != nil {
		t.Fatal(err)
	}
	return box
}

// StartWorker starts another worker on the stack's database against
// Temporal client tc (a fresh cluster, say), stopped when the test ends.
func (s *Stack) StartWorker(t testing.TB, tc client.Client) {
	t.Helper()
	policy, err := activities.NewEgressPolicy([]string{"127.0.0.0/8"})
	if err != nil {
		t.Fatal(err)
	}
	w := worker.New(worker.Options{DB: s.DB, Temporal: tc, Logger: testkit.Logger(), HTTP: activities.NewHTTPClient(policy),
		Cipher: Cipher(t)})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
}
