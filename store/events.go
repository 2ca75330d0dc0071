package store

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/triggerflow/triggerflow/domain"
)

// Events is the repository of published events and publish batches.
type Events struct {
	DB *sqlx.DB
}

// PlannedDelivery is one (webhook, event) pair a publish decided to deliver.
type PlannedDelivery struct {
	ID        string
	WebhookID string
	EventID   string
	// WebhookCode and Ordered are carried for dispatch; not stored here.
	WebhookCode string
	Ordered     bool
}

// PlannedRun is one trigger or queue-hook run a publish decided to start.
type PlannedRun struct {
	ID          string
	TriggerID   string
	QueueHookID string
	// QueueID is a queue hook's queue (not stored with the run; it names
	// the batch run workflow's TriggerFlowQueue).
	QueueID    string
	EventID    string
	FlowID     string
	WorkflowID string
}

// Plan is what a batch of newly stored events leads to.
type Plan struct {
	Deliveries []PlannedDelivery
	Runs       []PlannedRun
}

// StoredBatch is the outcome of a publish transaction.
type StoredBatch struct {
	BatchID   string
	NewEvents []domain.Event
	Plan      Plan
}

const (
	// A batch starts claimed by the process that commits it (as a group of
	// its own): its dispatcher hands it over within the lease, or a sweep
	// takes it over after.
	insertBatch = `INSERT INTO publish_batches (id, dispatch_group, claimed_until)
		VALUES ($1, COALESCE(NULLIF($3, ''), $1), now() + $2 * interval '1 millisecond')`
	insertEvents = `INSERT INTO events (id, type, occurred_at, subject, data, batch_id)
		SELECT e.id, e.type, e.occurred_at, e.subject, e.data, $6
		FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[], $5::jsonb[])
			AS e(id, type, occurred_at, subject, data)
		ON CONFLICT (id) DO NOTHING
		RETURNING id`
	insertDeliveries = `INSERT INTO deliveries (id, webhook_id, event_id, batch_id, ordered, workflow_id)
		SELECT d.id, d.webhook_id, d.event_id, $5, d.ordered, CASE WHEN d.ordered THEN '' ELSE $6 END
		FROM unnest($1::text[], $2::text[], $3::text[], $4::bool[]) WITH ORDINALITY AS d(id, webhook_id, event_id, ordered, ord)
		ORDER BY d.ord`
	// lockPlannedWebhooks keeps the webhooks a batch delivers to from being
	// deleted until it commits, and tells which still exist: one deleted
	// while the publish was matching loses its deliveries, not the publish.
	lockPlannedWebhooks = `SELECT id FROM webhooks WHERE id = ANY($1) ORDER BY id FOR KEY SHARE`
	insertPlannedRuns   = `INSERT INTO trigger_runs (id, trigger_id, queue_hook_id, event_id, flow_id, workflow_id, batch_id, status)
		SELECT r.id, NULLIF(r.trigger_id, ''), NULLIF(r.queue_hook_id, ''), r.event_id, NULLIF(r.flow_id, ''), r.workflow_id, $7, 'pending'
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
			AS r(id, trigger_id, queue_hook_id, event_id, flow_id, workflow_id)
		ON CONFLICT (workflow_id) DO NOTHING`
	markBatchDispatched = `UPDATE publish_batches SET dispatched_at = now() WHERE id = ANY($1) AND dispatched_at IS NULL`
	selectStaleBatches  = `SELECT id FROM publish_batches WHERE dispatched_at IS NULL AND created_at < $1 ORDER BY created_at LIMIT $2`
)

// StoreBatch stores events in one transaction with the deliveries and runs
// plan holds for them (decided by matching, before the transaction): an
// event whose id is already stored is skipped with its plan rows
// (publishing is idempotent), so only new events lead anywhere. When it
// returns nil, the events and everything they lead to are durable. The
// batch is a dispatch group of its own, its deliveries carried by no
// workflow yet (the group's workflow claims them).
func (s *Events) StoreBatch(ctx context.Context, events []domain.Event, plan Plan) (StoredBatch, error) {
	return s.StoreBatchIn(ctx, events, plan, Joining{})
}

// Joining is the dispatch group a batch joins as it is stored, named
// before its first batch commits, and the workflow that will carry the
// group's unordered deliveries (empty when each is to be claimed).
type Joining struct {
	Group   string
	Carrier string
}

// StoreBatchIn is StoreBatch into dispatch group in.Group, with the
// unordered deliveries stored carried by in.Carrier from the start: its
// workflow then reads them without claiming each (see ClaimInBatches).
func (s *Events) StoreBatchIn(ctx context.Context, events []domain.Event, plan Plan, in Joining) (StoredBatch, error) {
	out := StoredBatch{BatchID: NewID(PrefixBatch)}
	// Rows are inserted in id order: concurrent batches that share ids then
	// take their row locks in the same order and cannot deadlock.
	sorted := make([]domain.Event, len(events))
	copy(sorted, events)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].ID < sorted[j].ID })
	ids := make([]string, len(sorted))
	types := make([]string, len(sorted))
	times := make([]string, len(sorted))
	subjects := make([]string, len(sorted))
	datas := make([]string, len(sorted))
	for i, e := range sorted {
		ids[i], types[i], subjects[i] = e.ID, e.Type, e.Subject
		times[i] = e.OccurredAt.UTC().Format(time.RFC3339Nano)
		datas[i] = string(e.Data)
	}
	// A deadlock with a webhook being deleted (or any other) runs the
	// transaction again rather than failing the publish.
	err := withRetriedTx(ctx, s.DB, func(tx *sqlx.Tx) error {
		out.NewEvents, out.Plan = nil, Plan{}
		if _, err := tx.ExecContext(ctx, insertBatch, out.BatchID, dispatchLease.Milliseconds(), in.Group); err != nil {
			return translate(err, "publish batch")
		}
		var inserted []string
		if err := tx.SelectContext(ctx, &inserted, insertEvents, pq.StringArray(ids), pq.StringArray(types),
			pq.StringArray(times), pq.StringArray(subjects), pq.StringArray(datas), out.BatchID); err != nil {
			return translate(err, "store events")
		}
		isNew := make(map[string]bool, len(inserted))
		for _, id := range inserted {
			isNew[id] = true
		}
		for _, e := range events {
			if isNew[e.ID] {
				out.NewEvents = append(out.NewEvents, e)
				delete(isNew, e.ID) // a repeated id inside one batch is one event
			}
		}
		if len(out.NewEvents) == 0 {
			return nil
		}
		out.Plan = plan.onlyFor(out.NewEvents)
		var err error
		if out.Plan.Deliveries, err = keepExistingWebhooks(ctx, tx, out.Plan.Deliveries); err != nil {
			return err
		}
		if err := lockOrderedWebhooks(ctx, tx, out.Plan.Deliveries); err != nil {
			return err
		}
		if n := len(out.Plan.Deliveries); n > 0 {
			dIDs, whIDs, evIDs, ordered := make([]string, n), make([]string, n), make([]string, n), make([]bool, n)
			for i, d := range out.Plan.Deliveries {
				dIDs[i], whIDs[i], evIDs[i], ordered[i] = d.ID, d.WebhookID, d.EventID, d.Ordered
			}
			if _, err := tx.ExecContext(ctx, insertDeliveries, pq.StringArray(dIDs), pq.StringArray(whIDs),
				pq.StringArray(evIDs), pq.BoolArray(ordered), out.BatchID, in.Carrier); err != nil {
				return translate(err, "store deliveries")
			}
		}
		if n := len(out.Plan.Runs); n > 0 {
			cols := make([][]string, 6)
			for i := range cols {
				cols[i] = make([]string, n)
			}
			for i, r := range out.Plan.Runs {
				cols[0][i], cols[1][i], cols[2][i], cols[3][i], cols[4][i], cols[5][i] =
					r.ID, r.TriggerID, r.QueueHookID, r.EventID, r.FlowID, r.WorkflowID
			}
			if _, err := tx.ExecContext(ctx, insertPlannedRuns, pq.StringArray(cols[0]), pq.StringArray(cols[1]),
				pq.StringArray(cols[2]), pq.StringArray(cols[3]), pq.StringArray(cols[4]), pq.StringArray(cols[5]),
				out.BatchID); err != nil {
				return translate(err, "store planned runs")
			}
		}
		return nil
	})
	return out, err
}

// onlyFor keeps the rows of the plan that belong to events (each delivery
// and run once, however often its event appeared in the publish).
func (p Plan) onlyFor(events []domain.Event) Plan {
	keep := make(map[string]bool, len(events))
	for _, e := range events {
		keep[e.ID] = true
	}
	var out Plan
	seen := map[string]bool{}
	for _, d := range p.Deliveries {
		if key := d.WebhookID + "\x00" + d.EventID; keep[d.EventID] && !seen[key] {
			seen[key] = true
			out.Deliveries = append(out.Deliveries, d)
		}
	}
	for _, r := range p.Runs {
		if key := "run\x00" + r.WorkflowID; keep[r.EventID] && !seen[key] {
			seen[key] = true
			out.Runs = append(out.Runs, r)
		}
	}
	return out
}

// keepExistingWebhooks drops the deliveries to webhooks deleted since the
// publish was matched, and locks the others against deletion until commit.
func keepExistingWebhooks(ctx context.Context, tx *sqlx.Tx, deliveries []PlannedDelivery) ([]PlannedDelivery, error) {
	if len(deliveries) == 0 {
		return deliveries, nil
	}
	seen := map[string]bool{}
	var ids []string
	for _, d := range deliveries {
		if !seen[d.WebhookID] {
			seen[d.WebhookID] = true
			ids = append(ids, d.WebhookID)
		}
	}
	var existing []string
	if err := tx.SelectContext(ctx, &existing, lockPlannedWebhooks, pq.StringArray(ids)); err != nil {
		return nil, translate(err, "lock webhooks")
	}
	if len(existing) == len(ids) {
		return deliveries, nil
	}
	exists := make(map[string]bool, len(existing))
	for _, id := range existing {
		exists[id] = true
	}
	kept := deliveries[:0:0]
	for _, d := range deliveries {
		if exists[d.WebhookID] {
			kept = append(kept, d)
		}
	}
	return kept, nil
}

// lockOrderedWebhooks makes concurrent batches with deliveries to the same
// ordered webhook commit one after the other: a delivery's seq is taken when
// it is inserted, so without the lock two concurrent batches would interleave
// their seqs, and a queue reading in seq order could send part of the batch
// that committed last before the rest of the one that committed first. With
// it, an ordered webhook's seq order is the order its batches committed —
// the order publishes were accepted. The transaction-level advisory locks
// are taken in webhook id order, so batches cannot deadlock on them.
func lockOrderedWebhooks(ctx context.Context, tx *sqlx.Tx, deliveries []PlannedDelivery) error {
	var ids []string
	seen := map[string]bool{}
	for _, d := range deliveries {
		if d.Ordered && !seen[d.WebhookID] {
			seen[d.WebhookID] = true
			ids = append(ids, d.WebhookID)
		}
	}
	sort.Strings(ids)
	for _, id := range ids {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('ordered-webhook:' || $1, 0))`, id); err != nil {
			return translate(err, "lock ordered webhook "+id)
		}
	}
	return nil
}

// MarkDispatched records that Temporal holds the batches.
func (s *Events) MarkDispatched(ctx context.Context, batchIDs ...string) error {
	_, err := s.DB.ExecContext(ctx, markBatchDispatched, pq.StringArray(batchIDs))
	return translate(err, "mark batches dispatched")
}

// dispatchLease is how long a dispatcher or sweeper holds the batches it
// committed or claimed before a sweeper may take them over. A dispatcher's
// hand-over is bounded well below it.
const dispatchLease = 20 * time.Second

// AssignNewGroup records that batches stored each as a group of its own
// (StoreBatch) are handed to Temporal together under a fresh group name
// (PrefixGroup), and claims them for a while: a sweep regroups such batches,
// whose publisher may have started a workflow under a batch's own name
// before it failed — a fresh name never meets it. Only batches not
// dispatched and not in a group of several before are taken, so a batch
// never lands in two groups; it returns the name and the batches taken
// (none when all were taken elsewhere meanwhile). (Deliveries and runs are
// claimed by the workflow that carries them, so a batch handed over twice
// is still delivered once.)
func (s *Events) AssignNewGroup(ctx context.Context, batchIDs []string) (string, []string, error) {
	name := NewID(PrefixGroup)
	var rows []struct {
		ID    string `db:"id"`
		Group string `db:"dispatch_group"`
	}
	err := s.DB.SelectContext(ctx, &rows, `WITH cand AS (
			SELECT id FROM publish_batches WHERE id = ANY($1) AND (dispatch_group = '' OR dispatch_group = id)
				AND dispatched_at IS NULL ORDER BY id FOR UPDATE)
		UPDATE publish_batches b SET dispatch_group = $3, claimed_until = now() + $2 * interval '1 millisecond'
		FROM cand WHERE b.id = cand.id RETURNING b.id, b.dispatch_group`,
		pq.StringArray(batchIDs), dispatchLease.Milliseconds(), name)
	if err != nil || len(rows) == 0 {
		return "", nil, translate(err, "assign dispatch group")
	}
	taken := make([]string, len(rows))
	for i, r := range rows {
		taken[i] = r.ID
	}
	sort.Strings(taken)
	return rows[0].Group, taken, nil
}

// GroupOf returns the dispatch group of a batch and the batches in it; a
// batch never grouped is a group of its own.
func (s *Events) GroupOf(ctx context.Context, batchID string) (string, []string, error) {
	var group string
	if err := s.DB.GetContext(ctx, &group, `SELECT dispatch_group FROM publish_batches WHERE id = $1`, batchID); err != nil {
		return "", nil, translate(err, "batch "+batchID)
	}
	if group == "" {
		return batchID, []string{batchID}, nil
	}
	var members []string
	err := s.DB.SelectContext(ctx, &members, `SELECT id FROM publish_batches WHERE dispatch_group = $1 ORDER BY id`, group)
	return group, members, translate(err, "dispatch group "+group)
}

// StaleBatch is an undispatched batch a sweeper claimed, with its group
// (” when it was never grouped) and how much work it holds (deliveries
// and runs).
type StaleBatch struct {
	ID    string `db:"id"`
	Group string `db:"dispatch_group"`
	Work  int    `db:"work"`
}

// ClaimStaleBatches claims up to limit batches stored before olderThan and
// never dispatched — their publisher died or lost Temporal before handing
// them over — oldest first. Claimed batches are skipped by other sweepers for
// a lease, so several sweepers share a backlog instead of all starting on the
// same oldest batches.
func (s *Events) ClaimStaleBatches(ctx context.Context, olderThan time.Time, limit int) ([]StaleBatch, error) {
	var out []StaleBatch
	err := s.DB.SelectContext(ctx, &out, `WITH claimed AS (
			UPDATE publish_batches b SET claimed_until = now() + $3 * interval '1 millisecond'
			WHERE b.id IN (SELECT id FROM publish_batches WHERE dispatched_at IS NULL AND created_at < $1
				AND (claimed_until IS NULL OR claimed_until < now())
				ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED)
			RETURNING b.id, b.dispatch_group, b.created_at)
		SELECT c.id, c.dispatch_group,
			(SELECT count(*) FROM deliveries d WHERE d.batch_id = c.id) +
			(SELECT count(*) FROM trigger_runs r WHERE r.batch_id = c.id) AS work
		FROM claimed c ORDER BY c.created_at, c.id`, olderThan, limit, dispatchLease.Milliseconds())
	return out, translate(err, "claim stale batches")
}

// StaleBatches lists batches stored before olderThan that were never
// dispatched: their publisher died between commit and hand-over.
func (s *Events) StaleBatches(ctx context.Context, olderThan time.Time, limit int) ([]string, error) {
	var ids []string
	err := s.DB.SelectContext(ctx, &ids, selectStaleBatches, olderThan, limit)
	return ids, translate(err, "stale batches")
}

// CountUndispatched counts the batches committed but not yet handed to
// Temporal.
func (s *Events) CountUndispatched(ctx context.Context) (int, error) {
	var n int
	err := s.DB.GetContext(ctx, &n, `SELECT count(*) FROM publish_batches WHERE dispatched_at IS NULL`)
	return n, translate(err, "count undispatched batches")
}

// BatchTargets is what stored batches must be handed to in Temporal.
type BatchTargets struct {
	HasUnordered    bool
	OrderedWebhooks []WebhookRef
	// RunGroups are the triggers and queue hooks with planned runs; each
	// group's runs make their first try in one workflow.
	RunGroups []RunGroup
	// UnorderedCodes and UnorderedEventTypes name the webhooks and event
	// types of the unordered deliveries; RunEventTypes the event types of
	// each run group's runs (for search attributes).
	UnorderedCodes      []string
	UnorderedEventTypes []string
	RunEventTypes       map[RunGroup][]string
}

// HasRuns reports planned runs.
func (t BatchTargets) HasRuns() bool { return len(t.RunGroups) > 0 }

// RunGroup names the trigger or the queue hook (one of the two) whose runs
// a batch planned, with a queue hook's queue.
type RunGroup struct {
	TriggerID   string `db:"trigger_id"`
	QueueHookID string `db:"queue_hook_id"`
	QueueID     string `db:"queue_id"`
}

// Source is the trigger or queue hook id.
func (g RunGroup) Source() string {
	if g.TriggerID != "" {
		return g.TriggerID
	}
	return g.QueueHookID
}

// WebhookRef names a webhook by id and code.
type WebhookRef struct {
	ID   string `db:"id"`
	Code string `db:"code"`
}

// BatchTargets reads from the database what StoreBatch planned for batches.
func (s *Events) BatchTargets(ctx context.Context, batchIDs []string) (BatchTargets, error) {
	var t BatchTargets
	ids := pq.StringArray(batchIDs)
	if err := s.DB.SelectContext(ctx, &t.OrderedWebhooks, `SELECT DISTINCT w.id, w.code FROM deliveries d
		JOIN webhooks w ON w.id = d.webhook_id WHERE d.batch_id = ANY($1) AND d.ordered ORDER BY w.id`, ids); err != nil {
		return t, translate(err, "batch targets")
	}
	if err := s.DB.GetContext(ctx, &t.HasUnordered, `SELECT EXISTS (SELECT 1 FROM deliveries d
		WHERE d.batch_id = ANY($1) AND NOT d.ordered)`, ids); err != nil {
		return t, translate(err, "batch targets")
	}
	var runs []struct {
		RunGroup
		Type string `db:"type"`
	}
	if err := s.DB.SelectContext(ctx, &runs, `SELECT DISTINCT COALESCE(r.trigger_id, '') AS trigger_id,
		COALESCE(r.queue_hook_id, '') AS queue_hook_id, COALESCE(q.queue_id, '') AS queue_id, COALESCE(e.type, '') AS type
		FROM trigger_runs r LEFT JOIN queue_hooks q ON q.id = r.queue_hook_id LEFT JOIN events e ON e.id = r.event_id
		WHERE r.batch_id = ANY($1) ORDER BY 1, 2, 4`, ids); err != nil {
		return t, translate(err, "batch targets")
	}
	t.RunEventTypes = map[RunGroup][]string{}
	for _, r := range runs {
		if _, ok := t.RunEventTypes[r.RunGroup]; !ok {
			t.RunGroups = append(t.RunGroups, r.RunGroup)
		}
		t.RunEventTypes[r.RunGroup] = append(t.RunEventTypes[r.RunGroup], r.Type)
	}
	if t.HasUnordered {
		var rows []struct {
			Code string `db:"code"`
			Type string `db:"type"`
		}
		if err := s.DB.SelectContext(ctx, &rows, `SELECT DISTINCT w.code, e.type FROM deliveries d
			JOIN webhooks w ON w.id = d.webhook_id JOIN events e ON e.id = d.event_id
			WHERE d.batch_id = ANY($1) AND NOT d.ordered`, ids); err != nil {
			return t, translate(err, "batch targets")
		}
		for _, r := range rows {
			t.UnorderedCodes = append(t.UnorderedCodes, r.Code)
			t.UnorderedEventTypes = append(t.UnorderedEventTypes, r.Type)
		}
	}
	return t, nil
}

// GetMany reads stored events by id; ids not stored are absent.
func (s *Events) GetMany(ctx context.Context, ids []string) (map[string]StoredEvent, error) {
	var rows []eventRow
	if err := s.DB.SelectContext(ctx, &rows, `SELECT id, type, occurred_at, received_at, subject, data, batch_id
		FROM events WHERE id = ANY($1)`, pq.StringArray(ids)); err != nil {
		return nil, translate(err, "events")
	}
	out := make(map[string]StoredEvent, len(rows))
	for _, r := range rows {
		out[r.ID] = StoredEvent{Event: r.toDomain(), ReceivedAt: r.ReceivedAt.UTC()}
	}
	return out, nil
}

type eventRow struct {
	ID         string    `db:"id"`
	Type       string    `db:"type"`
	OccurredAt time.Time `db:"occurred_at"`
	ReceivedAt time.Time `db:"received_at"`
	Subject    string    `db:"subject"`
	Data       []byte    `db:"data"`
	BatchID    string    `db:"batch_id"`
}

func (r eventRow) toDomain() domain.Event {
	return domain.Event{ID: r.ID, Type: r.Type, OccurredAt: r.OccurredAt.UTC(), Subject: r.Subject, Data: json.RawMessage(r.Data)}
}

// StoredEvent is an event with when it was received.
type StoredEvent struct {
	domain.Event
	ReceivedAt time.Time
}

// Get finds one event by id.
func (s *Events) Get(ctx context.Context, id string) (StoredEvent, error) {
	var r eventRow
	if err := s.DB.GetContext(ctx, &r, `SELECT id, type, occurred_at, received_at, subject, data, batch_id
		FROM events WHERE id = $1`, id); err != nil {
		return StoredEvent{}, translate(err, "event "+id)
	}
	return StoredEvent{Event: r.toDomain(), ReceivedAt: r.ReceivedAt.UTC()}, nil
}

// Insert stores one event outside a publish (test sends, manual runs) under a
// dispatched batch of its own.
func (s *Events) Insert(ctx context.Context, e domain.Event) error {
	batch := NewID(PrefixBatch)
	return withTx(ctx, s.DB, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO publish_batches (id, dispatched_at) VALUES ($1, now())`, batch); err != nil {
			return translate(err, "batch")
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO events (id, type, occurred_at, subject, data, batch_id)
			VALUES ($1, $2, $3, $4, $5, $6)`, e.ID, e.Type, e.OccurredAt, e.Subject, string(e.Data), batch)
		return translate(err, fmt.Sprintf("event %s", e.ID))
	})
}

// CaseEvents reads the case.* events stored by batches (the raised
// case.planned_resolution_time left out), for the case timers of a group
// handed over by a sweep, which does not carry its events.
func (s *Events) CaseEvents(ctx context.Context, batchIDs []string) ([]domain.Event, error) {
	var rows []eventRow
	if err := s.DB.SelectContext(ctx, &rows, `SELECT id, type, occurred_at, received_at, subject, data, batch_id
		FROM events WHERE batch_id = ANY($1) AND type LIKE 'case.%' AND type <> $2`,
		pq.StringArray(batchIDs), domain.PlannedResolutionEventType); err != nil {
		return nil, translate(err, "case events")
	}
	out := make([]domain.Event, len(rows))
	for i, r := range rows {
		out[i] = r.toDomain()
	}
	return out, nil
}
