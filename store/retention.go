package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/triggerflow/triggerflow/domain"
)

// Retention deletes what is older than the operator keeps (events with their
// deliveries and runs, attempt logs, notifications) and erases one event's
// personal data on request. Every purge statement deletes at most a batch of
// rows chosen by an index scan over old rows, so it holds few locks for a
// short time and never touches rows a publish writes.
type Retention struct {
	DB *sqlx.DB
}

// PurgeCounts says what one purge (or one batch of it) deleted.
type PurgeCounts struct {
	Events        int `json:"events"`
	Deliveries    int `json:"deliveries"`
	Attempts      int `json:"attempts"`
	Runs          int `json:"runs"`
	Notifications int `json:"notifications"`
	Batches       int `json:"batches"`
}

// Add sums b into c.
func (c *PurgeCounts) Add(b PurgeCounts) {
	c.Events += b.Events
	c.Deliveries += b.Deliveries
	c.Attempts += b.Attempts
	c.Runs += b.Runs
	c.Notifications += b.Notifications
	c.Batches += b.Batches
}

// Total is every row deleted.
func (c PurgeCounts) Total() int {
	return c.Events + c.Deliveries + c.Attempts + c.Runs + c.Notifications + c.Batches
}

// purgeEventsSQL deletes up to $2 events received before $1 that nothing
// still works on (no pending delivery, no pending or running run), with their
// deliveries (attempts follow by ON DELETE CASCADE) and runs. SKIP LOCKED
// leaves alone any row another transaction holds.
const purgeEventsSQL = `
WITH old AS (
	SELECT e.id FROM events e
	WHERE e.received_at < $1
	  AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id AND d.status = 'pending')
	  AND NOT EXISTS (SELECT 1 FROM trigger_runs r WHERE r.event_id = e.id AND r.status IN ('pending', 'running'))
	ORDER BY e.received_at
	LIMIT $2
	FOR UPDATE SKIP LOCKED
), gone_attempts AS (
	DELETE FROM delivery_attempts a USING deliveries d, old
	WHERE a.delivery_id = d.id AND d.event_id = old.id
	RETURNING 1
), gone_deliveries AS (
	DELETE FROM deliveries d USING old WHERE d.event_id = old.id
	RETURNING 1
), gone_runs AS (
	DELETE FROM trigger_runs r USING old WHERE r.event_id = old.id
	RETURNING 1
), gone_notes AS (
	DELETE FROM event_notes n USING old WHERE n.event_id = old.id
	RETURNING 1
), gone_events AS (
	DELETE FROM events e USING old WHERE e.id = old.id
	RETURNING 1
)
SELECT (SELECT count(*) FROM gone_events), (SELECT count(*) FROM gone_deliveries),
       (SELECT count(*) FROM gone_attempts), (SELECT count(*) FROM gone_runs)`

// PurgeEventsBatch deletes one batch of expired events (see purgeEventsSQL)
// through q, so a caller (or a test) can run it inside its own transaction.
func PurgeEventsBatch(ctx context.Context, q sqlx.QueryerContext, before time.Time, limit int) (PurgeCounts, error) {
	var c PurgeCounts
	err := q.QueryRowxContext(ctx, purgeEventsSQL, before, limit).Scan(&c.Events, &c.Deliveries, &c.Attempts, &c.Runs)
	if err != nil {
		return c, fmt.Errorf("purge events: %w", err)
	}
	return c, nil
}

// PurgeEvents deletes one batch of events received before before.
func (r *Retention) PurgeEvents(ctx context.Context, before time.Time, limit int) (PurgeCounts, error) {
	return PurgeEventsBatch(ctx, r.DB, before, limit)
}

// PurgeLogs deletes one batch of attempt logs executed before before (of
// finished deliveries: a pending one's attempts decide its retry budget; and
// the tries of steps of runs that ended),
// of notifications created before it, and of publish batches left without
// events.
func (r *Retention) PurgeLogs(ctx context.Context, before time.Time, limit int) (PurgeCounts, error) {
	var c PurgeCounts
	err := r.DB.QueryRowxContext(ctx, `
WITH old_attempts AS (
	SELECT a.id FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery_id
	WHERE a.executed_at < $1 AND d.status <> 'pending'
	ORDER BY a.executed_at LIMIT $2
	FOR UPDATE OF a SKIP LOCKED
), gone_attempts AS (
	DELETE FROM delivery_attempts a USING old_attempts o WHERE a.id = o.id RETURNING 1
), old_step_attempts AS (
	SELECT s.id FROM step_attempts s
	WHERE s.executed_at < $1
	  AND NOT EXISTS (SELECT 1 FROM trigger_runs r WHERE r.workflow_id = s.run_workflow_id AND r.status IN ('pending', 'running'))
	ORDER BY s.executed_at LIMIT $2
	FOR UPDATE OF s SKIP LOCKED
), gone_step_attempts AS (
	DELETE FROM step_attempts s USING old_step_attempts o WHERE s.id = o.id RETURNING 1
), old_notes AS (
	SELECT id FROM notifications WHERE created_at < $1 ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED
), gone_notes AS (
	DELETE FROM notifications n USING old_notes o WHERE n.id = o.id RETURNING 1
), gone_event_notes AS (
	-- Notes of publishes that failed after writing them name no event.
	DELETE FROM event_notes n WHERE n.event_id IN (
		SELECT n2.event_id FROM event_notes n2
		WHERE n2.created_at < $1 AND NOT EXISTS (SELECT 1 FROM events e WHERE e.id = n2.event_id)
		LIMIT $2)
	RETURNING 1
), old_batches AS (
	SELECT b.id FROM publish_batches b
	WHERE b.created_at < $1 AND b.dispatched_at IS NOT NULL
	  AND NOT EXISTS (SELECT 1 FROM events e WHERE e.batch_id = b.id)
	ORDER BY b.created_at LIMIT $2
	FOR UPDATE SKIP LOCKED
), gone_batches AS (
	DELETE FROM publish_batches b USING old_batches o WHERE b.id = o.id RETURNING 1
)
SELECT (SELECT count(*) FROM gone_attempts) + (SELECT count(*) FROM gone_step_attempts), (SELECT count(*) FROM gone_notes),
       (SELECT count(*) FROM gone_batches)`,
		before, limit).Scan(&c.Attempts, &c.Notifications, &c.Batches)
	if err != nil {
		return c, fmt.Errorf("purge logs: %w", err)
	}
	return c, nil
}

// Erasure is what erasing an event removed.
type Erasure struct {
	EventID string `json:"event_id"`
	// Deliveries is how many of the event's deliveries had their attempts'
	// bodies and headers erased; Attempts how many attempts that was, with
	// the tries of its runs' steps.
	Deliveries int       `json:"deliveries"`
	Attempts   int       `json:"attempts"`
	Runs       int       `json:"runs"`
	ErasedAt   time.Time `json:"erased_at"`
}

// Erase empties an event's payload (data and subject), the schema warnings
// noted about it (they can quote its values), the request and response
// bodies and headers of its deliveries' attempts, and its runs' errors,
// which can quote answers. The rows stay, so the delivery log
// still says what was sent when and how it went. An event that a delivery
// or run still works on is refused (domain.ErrConflict): its next attempt
// would send the erased payload.
func (r *Retention) Erase(ctx context.Context, eventID string) (Erasure, error) {
	out := Erasure{EventID: eventID}
	err := withTx(ctx, r.DB, func(tx *sqlx.Tx) error {
		var id string
		if err := tx.QueryRowxContext(ctx, `SELECT id FROM events WHERE id = $1 FOR UPDATE`, eventID).Scan(&id); err != nil {
			return translate(err, "event "+eventID)
		}
		var pending int
		if err := tx.QueryRowxContext(ctx, `SELECT
			(SELECT count(*) FROM deliveries WHERE event_id = $1 AND status = 'pending') +
			(SELECT count(*) FROM trigger_runs WHERE event_id = $1 AND status IN ('pending', 'running'))`, eventID).Scan(&pending); err != nil {
			return err
		}
		if pending > 0 {
			return fmt.Errorf("%w: event %s has %d deliveries or runs in progress; erase it once they end (or cancel them)",
				domain.ErrConflict, eventID, pending)
		}
		if err := tx.QueryRowxContext(ctx, `UPDATE events SET data = '{}', subject = '', erased_at = now()
			WHERE id = $1 RETURNING erased_at`, eventID).Scan(&out.ErasedAt); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE event_notes SET warnings = '{}' WHERE event_id = $1`, eventID); err != nil {
			return err
		}
		if err := tx.QueryRowxContext(ctx, `WITH erased AS (
				UPDATE delivery_attempts a SET request_body = '', response_body = '', request_headers = '{}', response_headers = '{}',
					request_body_encoding = '', response_body_encoding = ''
				FROM deliveries d WHERE a.delivery_id = d.id AND d.event_id = $1
				RETURNING a.delivery_id)
			SELECT count(DISTINCT delivery_id), count(*) FROM erased`, eventID).Scan(&out.Deliveries, &out.Attempts); err != nil {
			return err
		}
		// A webhook action's delivery keeps the request its step rendered
		// (a manual retry sends it again) and a step's tries what they
		// sent and received: both hold the event's data.
		if _, err := tx.ExecContext(ctx, `UPDATE deliveries SET request = jsonb_set(jsonb_set(request, '{body}', '""'),
			'{headers}', '{}') WHERE event_id = $1 AND request IS NOT NULL`, eventID); err != nil {
			return err
		}
		sres, err := tx.ExecContext(ctx, `UPDATE step_attempts s SET request_body = '', response_body = '',
			request_headers = '{}', response_headers = '{}'
			FROM trigger_runs r WHERE r.event_id = $1 AND s.run_workflow_id = r.workflow_id`, eventID)
		if err != nil {
			return err
		}
		stepAttempts, _ := sres.RowsAffected()
		out.Attempts += int(stepAttempts)
		res, err := tx.ExecContext(ctx, `UPDATE trigger_runs SET error = CASE WHEN error = '' THEN '' ELSE '(erased)' END
			WHERE event_id = $1`, eventID)
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		out.Runs = int(n)
		return nil
	})
	return out, err
}
