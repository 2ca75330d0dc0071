// Package deliverymetrics defines the metrics of the delivery path: how
// deliveries end and attempts go, by webhook and result, how long attempts
// take, and how long an event waits from its publish to its first attempt.
// The delivery activities record them; dashboards and alerts in deploy/ read
// them by these names.
//
// Label values are bounded: results come from a fixed list (anything else is
// "other"), and at most MaxWebhooks webhook codes get their own series —
// later ones share "other" — so neither a receiver nor a flood of webhook
// definitions can grow the series without limit.
package deliverymetrics

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// MaxWebhooks is how many webhook codes get series of their own.
const MaxWebhooks = 500

// Delivery results (how a delivery ended) and attempt results (how one HTTP
// try went).
const (
	DeliverySucceeded = "succeeded"
	DeliveryFailed    = "failed"
	DeliveryCanceled  = "canceled"

	AttemptSuccess = "success"       // an answer in the success range
	AttemptFailure = "failure"       // another answer
	AttemptError   = "error"         // no answer: timeout, refused, connection
	AttemptDenied  = "egress_denied" // the destination is not allowed
)

// Other stands for a label value outside the bounds.
const Other = "other"

var (
	deliveryResults = map[string]bool{DeliverySucceeded: true, DeliveryFailed: true, DeliveryCanceled: true}
	attemptResults  = map[string]bool{AttemptSuccess: true, AttemptFailure: true, AttemptError: true, AttemptDenied: true}
)

// Metrics are the delivery path's collectors.
type Metrics struct {
	deliveries   *prometheus.CounterVec
	attempts     *prometheus.CounterVec
	duration     *prometheus.HistogramVec
	firstAttempt *prometheus.HistogramVec

	mu       sync.Mutex
	webhooks map[string]bool
}

// New registers the delivery metrics on reg.
func New(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "triggerflow_deliveries_total",
			Help: "Deliveries that ended, by webhook code and result (succeeded, failed, canceled).",
		}, []string{"webhook", "result"}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "triggerflow_delivery_attempts_total",
			Help: "HTTP attempts of deliveries, by webhook code and result (success, failure, error, egress_denied).",
		}, []string{"webhook", "result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "triggerflow_delivery_attempt_duration_seconds",
			Help:    "How long an attempt took, from sending the request to reading the answer.",
			Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30},
		}, []string{"webhook"}),
		firstAttempt: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "triggerflow_delivery_first_attempt_latency_seconds",
			Help:    "From an event's publish to its delivery's first attempt.",
			Buckets: []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300},
		}, []string{"webhook"}),
		webhooks: map[string]bool{},
	}
	reg.MustRegister(m.deliveries, m.attempts, m.duration, m.firstAttempt)
	return m
}

// webhook is the label value for a webhook code.
func (m *Metrics) webhook(code string) string {
	if code == "" {
		return Other
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.webhooks[code] {
		return code
	}
	if len(m.webhooks) >= MaxWebhooks {
		return Other
	}
	m.webhooks[code] = true
	return code
}

func bounded(v string, allowed map[string]bool) string {
	if allowed[v] {
		return v
	}
	return Other
}

// Delivered records a delivery's end.
func (m *Metrics) Delivered(webhook, result string) {
	m.deliveries.WithLabelValues(m.webhook(webhook), bounded(result, deliveryResults)).Inc()
}

// Attempted records one HTTP attempt and its duration.
func (m *Metrics) Attempted(webhook, result string, took time.Duration) {
	w := m.webhook(webhook)
	m.attempts.WithLabelValues(w, bounded(result, attemptResults)).Inc()
	m.duration.WithLabelValues(w).Observe(took.Seconds())
}

// FirstAttempt records how long after its event's publish a delivery's first
// attempt was made.
func (m *Metrics) FirstAttempt(webhook string, sincePublish time.Duration) {
	m.firstAttempt.WithLabelValues(m.webhook(webhook)).Observe(sincePublish.Seconds())
}
