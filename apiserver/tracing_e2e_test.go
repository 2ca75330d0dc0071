//go:build !fuzzsmoke

package apiserver_test

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/triggerflow/triggerflow/internal/testkit"
	"github.com/triggerflow/triggerflow/internal/teststack"
	"github.com/triggerflow/triggerflow/internal/tracing"
)

// A publish request's trace goes on to the HTTP attempt it leads to: the
// API's server span, the group's hand-over, Temporal's workflow and activity
// spans, and the attempt's client span share one trace id, and the receiver
// gets the trace in traceparent.
func TestATraceRunsFromThePublishToTheAttempt(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	tracing.Install(tp)
	t.Cleanup(func() { tracing.Install(noop.NewTracerProvider()) })

	s := teststack.Start(t, teststack.Options{Traced: true})
	rc := testkit.NewReceiver(t)
	createWebhook(t, s, map[string]any{"name": "Traced", "url": rc.URL, "event_types": []string{"case.created"}})

	// The caller's own trace: the publish joins it.
	callerTrace := trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36}
	req, _ := http.NewRequest("POST", s.URL+"/v1/events", bytes.NewBufferString(`{"id": "traced-1", "type": "case.created", "data": {}}`))
	req.Header.Set("Authorization", "Bearer "+teststack.Token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("traceparent", fmt.Sprintf("00-%s-00f067aa0ba902b7-01", callerTrace))
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 202 {
		t.Fatalf("publish: %v %v", resp, err)
	}
	resp.Body.Close()
	got := rc.WaitFor(t, 1, 30*time.Second)
	if tp := got[0].Header.Get("Traceparent"); !strings.Contains(tp, callerTrace.String()) {
		t.Fatalf("the receiver got traceparent %q, want the publisher's trace %s", tp, callerTrace)
	}
	s.DeliveryOf(t, "traced-1", "succeeded")
	want := []string{"POST /v1/events", "dispatch group", "StartWorkflow:DeliverBatchWorkflow",
		"RunWorkflow:DeliverBatchWorkflow", "RunActivity:DeliverBatch", "HTTP POST"}
	names := map[string]bool{}
	// A span is exported once it ends: the workflow's when it completes,
	// a moment after the delivery is recorded.
	testkit.Eventually(t, 20*time.Second, "every span of the publish's trace", func() bool {
		if err := tp.ForceFlush(t.Context()); err != nil {
			t.Fatal(err)
		}
		for _, sp := range exp.GetSpans() {
			if sp.SpanContext.TraceID() == callerTrace {
				names[sp.Name] = true
			}
		}
		for _, n := range want {
			if !names[n] {
				return false
			}
		}
		return true
	})
}
