package workflows

import (
	"testing"
	"time"

	"github.com/triggerflow/triggerflow/domain"
)

// TestFaultReceiverDownFor48Hours: with the receiver down for the whole
// window, the default preset (every 10 minutes for 48 hours) makes exactly
// the tries that fit: the first at 00:00 (in the batch), then 288 retries
// from 00:10 to 48:00 inclusive — 289 tries, none after 48 hours. Then the
// delivery is marked FAILED. Time skipping runs the 48 hours in milliseconds.
func TestFaultReceiverDownFor48Hours(t *testing.T) {
	h := newRetryHarness(t, domain.RetryPolicy{Preset: domain.RetryEvery10m48h}, 0)
	h.env.ExecuteWorkflow(DeliveryWorkflow, DeliveryInput{DeliveryID: "msg_1", FirstDelay: 10 * time.Minute})
	var res DeliveryResult
	if err := h.env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if res.Status != domain.DeliveryFailed || h.finished != domain.DeliveryFailed {
		t.Fatalf("result %+v, finished %q; want failed", res, h.finished)
	}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if n := len(h.attempts); n != 288 {
		t.Fatalf("%d retries, want exactly 288 (00:10 … 48:00)", n)
	}
	if first, last := h.attempts[0].Sub(start), h.attempts[len(h.attempts)-1].Sub(start); first != 10*time.Minute || last != 48*time.Hour {
		t.Fatalf("retries from %s to %s, want 10m to 48h", first, last)
	}
}
