package deliverymetrics

import (
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestLabelValuesAreBounded: unknown results become "other", and webhook
// codes past MaxWebhooks share "other", so series stay bounded.
func TestLabelValuesAreBounded(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg)
	for i := 0; i < MaxWebhooks+50; i++ {
		m.Attempted(fmt.Sprintf("hook_%d", i), AttemptSuccess, 10*time.Millisecond)
	}
	m.Attempted("hook_0", "teapot", time.Millisecond)
	m.Delivered("hook_0", DeliverySucceeded)
	m.Delivered("hook_0", "exploded")
	m.FirstAttempt("hook_1", 150*time.Millisecond)

	if n := testutil.CollectAndCount(m.attempts); n != MaxWebhooks+2 {
		t.Fatalf("attempt series = %d, want %d (MaxWebhooks codes, other, hook_0's other result)", n, MaxWebhooks+2)
	}
	if v := testutil.ToFloat64(m.attempts.WithLabelValues(Other, AttemptSuccess)); v != 50 {
		t.Fatalf("other = %v, want 50", v)
	}
	if v := testutil.ToFloat64(m.deliveries.WithLabelValues("hook_0", Other)); v != 1 {
		t.Fatalf("unknown delivery result = %v", v)
	}
	for _, name := range []string{"triggerflow_deliveries_total", "triggerflow_delivery_attempts_total",
		"triggerflow_delivery_attempt_duration_seconds", "triggerflow_delivery_first_attempt_latency_seconds"} {
		if n, err := testutil.GatherAndCount(reg, name); err != nil || n == 0 {
			t.Errorf("%s: %d series, %v", name, n, err)
		}
	}
}
