package temporalmetrics

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TestSDKMetricsReachTheRegistry: counters, gauges and timers the SDK emits
// appear in the registry's gather, one family per name even when the SDK
// tags the same metric with different label sets.
func TestSDKMetricsReachTheRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := New(reg)
	h.WithTags(map[string]string{"namespace": "default"}).Counter("temporal_request").Inc(2)
	h.WithTags(map[string]string{"namespace": "default", "task_queue": "triggerflow"}).Counter("temporal_request").Inc(3)
	h.WithTags(map[string]string{"worker_type": "ActivityWorker"}).Gauge("temporal_worker_task_slots_available").Update(7)
	timer := h.WithTags(map[string]string{"activity_type": "DeliverBatch"}).Timer("temporal_activity_execution_latency")
	timer.Record(3 * time.Millisecond)
	timer.Record(2 * time.Second)

	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, f := range families {
		got[f.GetName()] = len(f.GetMetric())
		switch f.GetName() {
		case "temporal_request":
			var sum float64
			for _, m := range f.GetMetric() {
				sum += m.GetCounter().GetValue()
				if len(m.GetLabel()) != 2 {
					t.Errorf("temporal_request labels = %v, want namespace and task_queue on every sample", m.GetLabel())
				}
			}
			if sum != 5 {
				t.Errorf("temporal_request = %v, want 5", sum)
			}
		case "temporal_worker_task_slots_available":
			if v := f.GetMetric()[0].GetGauge().GetValue(); v != 7 {
				t.Errorf("gauge = %v", v)
			}
		case "temporal_activity_execution_latency_seconds":
			hist := f.GetMetric()[0].GetHistogram()
			if hist.GetSampleCount() != 2 || hist.GetSampleSum() < 2 || hist.GetBucket()[2].GetCumulativeCount() != 1 {
				t.Errorf("histogram = %v", hist)
			}
		}
	}
	for _, name := range []string{"temporal_request", "temporal_worker_task_slots_available", "temporal_activity_execution_latency_seconds"} {
		if got[name] == 0 {
			t.Errorf("%s not gathered (have %v)", name, got)
		}
	}
}
