//go:build !fuzzsmoke

package apiserver_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/triggerflow/triggerflow/apiserver"
	"github.com/triggerflow/triggerflow/internal/openapicheck"
	"github.com/triggerflow/triggerflow/internal/payloadcodec"
	"github.com/triggerflow/triggerflow/internal/testkit"
	"github.com/triggerflow/triggerflow/internal/teststack"
)

// echoSecretWorkflow hands its input to an activity and returns what the
// activity returns: an Authorization header travels through the history as
// workflow input, activity input, activity result and workflow result.
func echoSecretWorkflow(ctx workflow.Context, header string) (string, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 10 * time.Second})
	var out string
	err := workflow.ExecuteActivity(ctx, echoSecretActivity, header).Get(ctx, &out)
	return out, err
}

func echoSecretActivity(_ context.Context, header string) (string, error) {
	return "seen " + header, nil
}

// TestTemporalPayloadsAreEncryptedAndTheCodecEndpointShowsThem runs a
// workflow through a client with the payload codec (as every client of the
// binary has): the history the server keeps holds no trace of the secret,
// while the workflow works as before. The codec endpoint decodes those
// payloads for an admin key — through the Temporal SDK's own remote codec
// client, so the protocol is Temporal UI's — refuses other keys, and answers
// CORS preflights for the configured Temporal UI origin only.
func TestTemporalPayloadsAreEncryptedAndTheCodecEndpointShowsThem(t *testing.T) {
	codec, err := payloadcodec.New(teststack.SecretKey)
	if err != nil {
		t.Fatal(err)
	}
	plain := testkit.Temporal(t)
	encrypted, err := client.NewClientFromExisting(plain, client.Options{
		Namespace: testkit.TemporalNamespace(t), DataConverter: codec.DataConverter(),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer encrypted.Close()
	queue := "codec-test-" + uuid.NewString()
	w := sdkworker.New(encrypted, queue, sdkworker.Options{})
	w.RegisterWorkflow(echoSecretWorkflow)
	w.RegisterActivity(echoSecretActivity)
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	const secret = "Bearer s3cret-token-4f9a"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	run, err := encrypted.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: queue, TaskQueue: queue}, echoSecretWorkflow, secret)
	if err != nil {
		t.Fatal(err)
	}
	var result string
	if err := run.Get(ctx, &result); err != nil || result != "seen "+secret {
		t.Fatalf("result = %q, %v", result, err)
	}

	// What the server stores, read without the codec.
	var payloads []*commonpb.Payload
	it := plain.GetWorkflowHistory(ctx, run.GetID(), run.GetRunID(), false, 0)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := protojson.Marshal(ev)
		if strings.Contains(string(raw), "s3cret") {
			t.Fatalf("history event %s holds the secret in clear: %s", ev.GetEventType(), raw)
		}
		if in := ev.GetWorkflowExecutionStartedEventAttributes().GetInput(); in != nil {
			payloads = append(payloads, in.GetPayloads()...)
		}
	}
	if len(payloads) != 1 || string(payloads[0].GetMetadata()["encoding"]) != payloadcodec.EncodingEncrypted {
		t.Fatalf("workflow input payloads = %v", payloads)
	}

	// The codec endpoint, as Temporal UI calls it.
	const uiOrigin = "http://127.0.0.1:8233"
	srv := apiserver.New(apiserver.Options{DB: testkit.DB(t), AdminToken: teststack.Token, Logger: testkit.Logger(),
		PayloadCodec: codec, CodecCORSOrigins: []string{uiOrigin}})
	hs := httptest.NewServer(openapicheck.Handler(t, srv.Handler()))
	defer hs.Close()
	remote := func(token string) converter.PayloadCodec {
		return converter.NewRemotePayloadCodec(converter.RemotePayloadCodecOptions{
			Endpoint: hs.URL + "/codec",
			ModifyRequest: func(r *http.Request) error {
				r.Header.Set("Authorization", "Bearer "+token)
				r.Header.Set("X-Namespace", testkit.TemporalNamespace(t))
				return nil
			},
		})
	}
	decoded, err := remote(teststack.Token).Decode(payloads)
	if err != nil {
		t.Fatal(err)
	}
	var got string
	if err := converter.GetDefaultDataConverter().FromPayload(decoded[0], &got); err != nil || got != secret {
		t.Fatalf("decoded = %q, %v", got, err)
	}
	// Encoding through the endpoint gives payloads the workers can read.
	plainPayload, _ := converter.GetDefaultDataConverter().ToPayload("from the UI")
	encoded, err := remote(teststack.Token).Encode([]*commonpb.Payload{plainPayload})
	if err != nil || string(encoded[0].GetMetadata()["encoding"]) != payloadcodec.EncodingEncrypted {
		t.Fatalf("encode = %v, %v", encoded, err)
	}
	back, err := codec.Decode(encoded)
	if err != nil || string(back[0].GetData()) != `"from the UI"` {
		t.Fatalf("round trip = %v, %v", back, err)
	}
	if _, err := remote("not-a-key").Decode(payloads); err == nil {
		t.Fatal("a bad key decoded payloads")
	}

	preflight := func(origin string) http.Header {
		req, _ := http.NewRequest(http.MethodOptions, hs.URL+"/codec/decode", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "authorization,content-type,x-namespace")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("preflight from %s: %d", origin, resp.StatusCode)
		}
		return resp.Header
	}
	if h := preflight(uiOrigin); h.Get("Access-Control-Allow-Origin") != uiOrigin ||
		!strings.Contains(h.Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Fatalf("preflight from Temporal UI: %v", h)
	}
	if h := preflight("https://evil.example"); h.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("preflight from another origin allowed: %v", h)
	}
}
