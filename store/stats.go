package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
)

// Stats is what the metrics gauges read from PostgreSQL at scrape time. Each
// query reads an index over the rows it counts (pending deliveries,
// undispatched batches, the last day's runs), so its cost follows the
// backlog, not the tables' size.
type Stats struct {
	DB *sqlx.DB
}

// WebhookBacklog is one webhook's pending deliveries: all of them, and
// those its ordered queue carries.
type WebhookBacklog struct {
	Code    string
	Pending int
	Ordered int
	Oldest  time.Duration
}

// Backlogs lists every webhook that has pending deliveries.
func (s *Stats) Backlogs(ctx context.Context) ([]WebhookBacklog, error) {
	rows, err := s.DB.QueryxContext(ctx, `
		SELECT w.code, p.pending, p.ordered, EXTRACT(EPOCH FROM now() - p.oldest)::float8
		FROM (SELECT webhook_id, count(*) AS pending, count(*) FILTER (WHERE ordered) AS ordered,
		             min(created_at) AS oldest
		      FROM deliveries WHERE status = 'pending' GROUP BY webhook_id) p
		JOIN webhooks w ON w.id = p.webhook_id`)
	if err != nil {
		return nil, fmt.Errorf("backlogs: %w", err)
	}
	defer rows.Close()
	var out []WebhookBacklog
	for rows.Next() {
		var b WebhookBacklog
		var oldest sql.NullFloat64
		if err := rows.Scan(&b.Code, &b.Pending, &b.Ordered, &oldest); err != nil {
			return nil, err
		}
		b.Oldest = time.Duration(oldest.Float64 * float64(time.Second))
		out = append(out, b)
	}
	return out, rows.Err()
}

// Undispatched counts publish batches committed but not yet handed to
// Temporal, and the age of the oldest.
func (s *Stats) Undispatched(ctx context.Context) (n int, oldest time.Duration, err error) {
	var age sql.NullFloat64
	err = s.DB.QueryRowxContext(ctx, `SELECT count(*), EXTRACT(EPOCH FROM now() - min(created_at))::float8
		FROM publish_batches WHERE dispatched_at IS NULL`).Scan(&n, &age)
	if err != nil {
		return 0, 0, fmt.Errorf("undispatched batches: %w", err)
	}
	return n, time.Duration(age.Float64 * float64(time.Second)), nil
}

// RunCount is how many runs a trigger (or queue hook) has in a status.
type RunCount struct {
	Trigger string `db:"trigger"`
	Status  string `db:"status"`
	Count   int    `db:"count"`
}

// RecentRuns counts the runs started in the last 24 hours by trigger (or
// queue hook, "qh:" before its id) and status.
func (s *Stats) RecentRuns(ctx context.Context) ([]RunCount, error) {
	var out []RunCount
	err := s.DB.SelectContext(ctx, &out, `
		SELECT COALESCE(trigger_id, 'qh:' || queue_hook_id, '') AS trigger, status, count(*) AS count
		FROM trigger_runs WHERE started_at > now() - interval '24 hours'
		GROUP BY 1, 2`)
	if err != nil {
		return nil, fmt.Errorf("recent runs: %w", err)
	}
	return out, nil
}
