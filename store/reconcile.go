package store

import (
	"context"
	"strings"
	"time"

	"github.com/lib/pq"
)

// Queries the reconciler uses to find work whose carrier may be gone: each
// pending delivery, ordered queue and run must have a live workflow, or a
// documented reason to wait (a parked delivery waits for its webhook).

// QuietDelivery is a pending unordered delivery that nothing has touched for
// a while although its next try is due: its carrier may be gone.
type QuietDelivery struct {
	ID            string     `db:"id"`
	WebhookID     string     `db:"webhook_id"`
	WebhookCode   string     `db:"webhook_code"`
	EventID       string     `db:"event_id"`
	EventType     string     `db:"event_type"`
	WorkflowID    string     `db:"workflow_id"`
	BatchID       string     `db:"batch_id"`
	Group         string     `db:"dispatch_group"`
	NextAttemptAt *time.Time `db:"next_attempt_at"`
}

// QuietDeliveries lists up to limit pending unordered deliveries, not parked,
// whose batch was handed to Temporal, untouched since before quietSince and
// due (no next try planned after quietSince), oldest first.
func (s *Deliveries) QuietDeliveries(ctx context.Context, quietSince time.Time, limit int) ([]QuietDelivery, error) {
	var out []QuietDelivery
	err := s.DB.SelectContext(ctx, &out, `SELECT d.id, d.webhook_id, w.code AS webhook_code, d.event_id, e.type AS event_type,
		d.workflow_id, d.batch_id, COALESCE(NULLIF(b.dispatch_group, ''), d.batch_id) AS dispatch_group, d.next_attempt_at
		FROM deliveries d JOIN webhooks w ON w.id = d.webhook_id JOIN events e ON e.id = d.event_id
		LEFT JOIN publish_batches b ON b.id = d.batch_id
		WHERE d.status = 'pending' AND NOT d.ordered AND d.parked_at IS NULL
			AND (b.id IS NULL OR b.dispatched_at IS NOT NULL)
			AND d.updated_at < $1 AND (d.next_attempt_at IS NULL OR d.next_attempt_at < $1)
		ORDER BY d.updated_at LIMIT $2`, quietSince, limit)
	return out, translate(err, "quiet deliveries")
}

// QuietQueues lists the enabled ordered webhooks with pending deliveries
// untouched since before quietSince and due: their queue workflow may be gone.
func (s *Deliveries) QuietQueues(ctx context.Context, quietSince time.Time, limit int) ([]WebhookRef, error) {
	var out []WebhookRef
	err := s.DB.SelectContext(ctx, &out, `SELECT w.id, w.code FROM webhooks w
		WHERE w.enabled AND EXISTS (SELECT 1 FROM deliveries d WHERE d.webhook_id = w.id AND d.status = 'pending'
			AND d.ordered AND d.updated_at < $1 AND (d.next_attempt_at IS NULL OR d.next_attempt_at < $1))
		ORDER BY w.id LIMIT $2`, quietSince, limit)
	return out, translate(err, "quiet queues")
}

// Touch marks deliveries looked at (their carrier is alive), so the next
// reconciler pass skips them for a while.
func (s *Deliveries) Touch(ctx context.Context, ids []string) error {
	_, err := s.DB.ExecContext(ctx, `UPDATE deliveries SET updated_at = now() WHERE id = ANY($1) AND status = 'pending'`,
		pq.StringArray(ids))
	return translate(err, "touch deliveries")
}

// QuietRun is a pending or running run whose carrier may be gone.
type QuietRun struct {
	Run
	// Group names the dispatch group of the run's batch ('' for runs no
	// publish planned).
	Group string `db:"dispatch_group"`
}

// QuietRuns lists up to limit runs pending or running since before
// quietSince that a publish planned (and handed to Temporal) or that have a
// workflow of their own, oldest first.
func (s *Runs) QuietRuns(ctx context.Context, quietSince time.Time, limit int) ([]QuietRun, error) {
	var out []QuietRun
	err := s.DB.SelectContext(ctx, &out, `SELECT `+prefixed("r.", runColumns)+`,
		COALESCE(NULLIF(b.dispatch_group, ''), r.batch_id) AS dispatch_group
		FROM trigger_runs r LEFT JOIN publish_batches b ON b.id = r.batch_id
		WHERE r.status IN ('pending', 'running') AND r.started_at < $1
			AND (b.dispatched_at IS NOT NULL OR (r.batch_id = '' AND r.status = 'running'))
		ORDER BY r.started_at LIMIT $2`, quietSince, limit)
	return out, translate(err, "quiet runs")
}

// prefixed qualifies each column of a comma-separated list with prefix.
func prefixed(prefix, columns string) string {
	parts := strings.Split(columns, ",")
	for i, p := range parts {
		parts[i] = prefix + strings.TrimSpace(p)
	}
	return strings.Join(parts, ", ")
}
