//go:build !fuzzsmoke

package apiserver_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/triggerflow/triggerflow/apiclient"
	"github.com/triggerflow/triggerflow/internal/teststack"
)

// TestGeneratedClientDrivesTheAPI uses the client generated from
// schemas/openapi.json, and nothing else, to create a webhook, publish an
// event, follow its delivery to the receiver and read the attempt back: the
// document is complete enough to drive a real client, typed errors included.
func TestGeneratedClientDrivesTheAPI(t *testing.T) {
	s := teststack.Start(t, teststack.Options{})
	rc := testkitReceiver(t)
	ctx := context.Background()
	c, err := apiclient.NewClientWithResponses(s.URL, apiclient.WithRequestEditorFn(
		func(_ context.Context, req *http.Request) error {
			req.Header.Set("Authorization", "Bearer "+teststack.Token)
			return nil
		}))
	if err != nil {
		t.Fatal(err)
	}

	headers := map[string]string{"X-Case": "{{ case.number }}"}
	created, err := c.CreateWebhookWithResponse(ctx, apiclient.CreateWebhookJSONRequestBody{
		Name: "Client cases", Url: rc.URL + "/hook", EventTypes: []string{"case.created"}, Headers: &headers,
	})
	if err != nil {
		t.Fatal(err)
	}
	if created.JSON201 == nil {
		t.Fatalf("create webhook: %d %s", created.StatusCode(), created.Body)
	}
	if created.JSON201.Code != "client_cases" || created.JSON201.Method != apiclient.WebhookMethodPOST {
		t.Fatalf("webhook = %+v", created.JSON201)
	}

	var pub apiclient.PublishEventsJSONRequestBody
	data := map[string]any{"case": map[string]any{"number": "C-7"}}
	id := "client-evt-1"
	if err := pub.FromEventInput(apiclient.EventInput{Id: &id, Type: "case.created", Data: &data}); err != nil {
		t.Fatal(err)
	}
	published, err := c.PublishEventsWithResponse(ctx, pub)
	if err != nil {
		t.Fatal(err)
	}
	if published.JSON202 == nil || len(published.JSON202.Ids) != 1 || published.JSON202.Ids[0] != id {
		t.Fatalf("publish: %d %s", published.StatusCode(), published.Body)
	}
	got := rc.WaitFor(t, 1, 20*time.Second)[0]
	if got.Header.Get("X-Case") != "C-7" {
		t.Fatalf("receiver got headers %v", got.Header)
	}

	status := "succeeded"
	var deliveries *apiclient.ListWebhookDeliveriesResponse
	waitFor(t, func() bool {
		deliveries, err = c.ListWebhookDeliveriesWithResponse(ctx, "client_cases", &apiclient.ListWebhookDeliveriesParams{Status: &status})
		return err == nil && deliveries.JSON200 != nil && deliveries.JSON200.Total == 1
	})
	d := deliveries.JSON200.Items[0]
	if d.Id != got.Header.Get("webhook-id") || d.EventId != id {
		t.Fatalf("delivery %+v, receiver's webhook-id %q", d, got.Header.Get("webhook-id"))
	}
	one, err := c.GetDeliveryWithResponse(ctx, d.Id)
	if err != nil {
		t.Fatal(err)
	}
	if one.JSON200 == nil || one.JSON200.Attempts == nil || len(*one.JSON200.Attempts) != 1 {
		t.Fatalf("get delivery: %d %s", one.StatusCode(), one.Body)
	}
	a := (*one.JSON200.Attempts)[0]
	if a.Result != apiclient.SUCCESS || a.ResponseStatus == nil || *a.ResponseStatus != 200 {
		t.Fatalf("attempt = %+v", a)
	}

	missing, err := c.GetWebhookWithResponse(ctx, "no_such_webhook")
	if err != nil {
		t.Fatal(err)
	}
	if missing.JSON404 == nil || missing.JSON404.Error.Code != apiclient.ErrorErrorCodeNotFound {
		t.Fatalf("unknown webhook: %d %s", missing.StatusCode(), missing.Body)
	}
}
