package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/triggerflow/triggerflow/domain"
)

// QueueHooks is the repository of queue hooks: a flow run when an event
// happens on one queue.
type QueueHooks struct {
	DB *sqlx.DB
	// OnChange, when set, runs after every committed change so matching
	// indexes in this process refresh before the API answers.
	OnChange func()
}

type queueHookRow struct {
	ID        string    `db:"id"`
	QueueID   string    `db:"queue_id"`
	Event     string    `db:"event"`
	FlowID    string    `db:"flow_id"`
	FlowName  string    `db:"flow_name"`
	Enabled   bool      `db:"enabled"`
	CreatedAt time.Time `db:"created_at"`
	UpdatedAt time.Time `db:"updated_at"`
}

const (
	queueHookColumns = `h.id, h.queue_id, h.event, h.flow_id, COALESCE(f.name, '') AS flow_name, h.enabled,
	h.created_at, h.updated_at`
	queueHookFrom = ` FROM queue_hooks h LEFT JOIN flows f ON f.id = h.flow_id`

	insertQueueHook = `INSERT INTO queue_hooks (id, queue_id, event, flow_id, enabled, created_at, updated_at)
		VALUES (:id, :queue_id, :event, :flow_id, :enabled, :created_at, :updated_at)`
	updateQueueHook = `UPDATE queue_hooks SET event = :event, flow_id = :flow_id, enabled = :enabled,
		updated_at = :updated_at WHERE id = :id AND queue_id = :queue_id`
	selectQueueHook = `SELECT ` + queueHookColumns + queueHookFrom + ` WHERE h.queue_id = $1 AND h.id = $2`
	deleteQueueHook = `DELETE FROM queue_hooks WHERE queue_id = $1 AND id = $2`
)

func toQueueHookRow(h *domain.QueueHook) queueHookRow {
	return queueHookRow{
		ID: h.ID, QueueID: h.QueueID, Event: h.Event, FlowID: h.Flow, Enabled: h.Enabled,
		CreatedAt: h.CreatedAt, UpdatedAt: h.UpdatedAt,
	}
}

func (r queueHookRow) toDomain() *domain.QueueHook {
	return &domain.QueueHook{
		ID: r.ID, QueueID: r.QueueID, Event: r.Event, Flow: r.FlowID, FlowName: r.FlowName, Enabled: r.Enabled,
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}
}

// Create resolves h.Flow (id or name) and stores the hook. An unknown or
// non-service flow is a validation error on "flow".
func (s *QueueHooks) Create(ctx context.Context, h *domain.QueueHook) error {
	now := time.Now().UTC()
	if h.ID == "" {
		h.ID = NewID(PrefixQueueHook)
	}
	h.CreatedAt, h.UpdatedAt = now, now
	err := changeDefinitions(ctx, s.DB, "queue_hook:"+h.ID, s.OnChange, func(tx *sqlx.Tx) error {
		id, name, err := resolveServiceFlow(ctx, tx, h.Flow, h.EventType())
		if err != nil {
			return err
		}
		h.Flow, h.FlowName = id, name
		if _, err := tx.NamedExecContext(ctx, insertQueueHook, toQueueHookRow(h)); err != nil {
			return translate(err, "queue hook "+h.ID)
		}
		return nil
	})
	return err
}

// Get finds a hook of queueID by id; a hook of another queue is not found.
func (s *QueueHooks) Get(ctx context.Context, queueID, id string) (*domain.QueueHook, error) {
	var r queueHookRow
	if err := s.DB.GetContext(ctx, &r, selectQueueHook, queueID, id); err != nil {
		return nil, translate(err, fmt.Sprintf("hook %s of queue %s", id, queueID))
	}
	return r.toDomain(), nil
}

// ByID finds a hook by id alone, for the run engine, which knows the hook
// but not its queue.
func (s *QueueHooks) ByID(ctx context.Context, id string) (*domain.QueueHook, error) {
	var r queueHookRow
	if err := s.DB.GetContext(ctx, &r, `SELECT `+queueHookColumns+queueHookFrom+` WHERE h.id = $1`, id); err != nil {
		return nil, translate(err, "queue hook "+id)
	}
	return r.toDomain(), nil
}

// Update saves the hook's event, flow (resolved again) and switch; the
// queue never changes.
func (s *QueueHooks) Update(ctx context.Context, h *domain.QueueHook) error {
	h.UpdatedAt = time.Now().UTC()
	err := changeDefinitions(ctx, s.DB, "queue_hook:"+h.ID, s.OnChange, func(tx *sqlx.Tx) error {
		id, name, err := resolveServiceFlow(ctx, tx, h.Flow, h.EventType())
		if err != nil {
			return err
		}
		h.Flow, h.FlowName = id, name
		res, err := tx.NamedExecContext(ctx, updateQueueHook, toQueueHookRow(h))
		return oneRow(res, err, "queue hook "+h.ID, fmt.Sprintf("hook %s of queue %s", h.ID, h.QueueID))
	})
	return err
}

// Delete removes a hook of queueID. Its runs stay as history.
func (s *QueueHooks) Delete(ctx context.Context, queueID, id string) error {
	err := changeDefinitions(ctx, s.DB, "queue_hook:"+id, s.OnChange, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, deleteQueueHook, queueID, id)
		return oneRow(res, err, "queue hook "+id, fmt.Sprintf("hook %s of queue %s", id, queueID))
	})
	return err
}

// QueueHookFilter narrows a queue's hook list.
type QueueHookFilter struct {
	Enabled *bool
	Event   string
}

var queueHookSorts = map[string]string{
	"created_at": "h.created_at", "updated_at": "h.updated_at", "event": "h.event",
}

// QueueHookSortFields are the fields a hook list may be sorted by.
func QueueHookSortFields() []string { return []string{"created_at", "updated_at", "event"} }

// List returns one page of a queue's hooks, newest first unless sorted otherwise.
func (s *QueueHooks) List(ctx context.Context, queueID string, f QueueHookFilter, p domain.Page) (domain.List[*domain.QueueHook], error) {
	var q listQuery
	q.and("h.queue_id = " + q.arg(queueID))
	q.eq("h.enabled", f.Enabled)
	q.eq("h.event", f.Event)
	var out domain.List[*domain.QueueHook]
	var rows []queueHookRow
	if err := q.page(ctx, s.DB, "queue_hooks h", "SELECT "+queueHookColumns+queueHookFrom,
		qualifiedOrderBy(p.Sort, queueHookSorts, "h"), p, &out.Total, &rows, "queue hooks"); err != nil {
		return out, err
	}
	for _, r := range rows {
		out.Items = append(out.Items, r.toDomain())
	}
	return out, nil
}

// SetEnabled switches many hooks of queueID on or off and returns the ids
// that exist.
func (s *QueueHooks) SetEnabled(ctx context.Context, queueID string, ids []string, enabled bool) ([]string, error) {
	var out []string
	err := changeDefinitions(ctx, s.DB, "queue_hooks", s.OnChange, func(tx *sqlx.Tx) error {
		out = nil
		if err := tx.SelectContext(ctx, &out, `UPDATE queue_hooks SET enabled = $3,
			updated_at = CASE WHEN enabled = $3 THEN updated_at ELSE now() END
			WHERE queue_id = $1 AND id = ANY($2) RETURNING id`, queueID, pq.StringArray(ids), enabled); err != nil {
			return translate(err, "switch queue hooks")
		}
		return nil
	})
	return out, err
}

// DeleteMany removes many hooks of queueID and returns the ids removed.
func (s *QueueHooks) DeleteMany(ctx context.Context, queueID string, ids []string) ([]string, error) {
	var out []string
	err := changeDefinitions(ctx, s.DB, "queue_hooks", s.OnChange, func(tx *sqlx.Tx) error {
		out = nil
		if err := tx.SelectContext(ctx, &out, `DELETE FROM queue_hooks WHERE queue_id = $1 AND id = ANY($2) RETURNING id`,
			queueID, pq.StringArray(ids)); err != nil {
			return translate(err, "delete queue hooks")
		}
		return nil
	})
	return out, err
}

// QueueSummary is a queue that has hooks, with how many.
type QueueSummary struct {
	QueueID      string
	Hooks        int
	EnabledHooks int
	Events       []string // the events hooked, sorted
	LastChanged  time.Time
	events       pq.StringArray
}

// Queues lists the queues that have hooks, by queue id, with their hook
// counts and the events hooked, so a typo in a queue id shows up as a queue
// of its own.
func (s *QueueHooks) Queues(ctx context.Context, p domain.Page) (domain.List[QueueSummary], error) {
	var out domain.List[QueueSummary]
	if err := s.DB.GetContext(ctx, &out.Total, `SELECT count(DISTINCT queue_id) FROM queue_hooks`); err != nil {
		return out, translate(err, "queues")
	}
	rows, err := s.DB.QueryxContext(ctx, `SELECT queue_id, count(*) AS hooks, count(*) FILTER (WHERE enabled) AS enabled_hooks,
		array_agg(DISTINCT event ORDER BY event) AS events, max(updated_at) AS last_changed
		FROM queue_hooks GROUP BY queue_id ORDER BY queue_id LIMIT $1 OFFSET $2`, p.PerPage, (p.Number-1)*p.PerPage)
	if err != nil {
		return out, translate(err, "queues")
	}
	defer rows.Close()
	out.Items = []QueueSummary{}
	for rows.Next() {
		var q QueueSummary
		if err := rows.Scan(&q.QueueID, &q.Hooks, &q.EnabledHooks, &q.events, &q.LastChanged); err != nil {
			return out, translate(err, "queues")
		}
		q.Events, q.LastChanged = []string(q.events), q.LastChanged.UTC()
		out.Items = append(out.Items, q)
	}
	return out, translate(rows.Err(), "queues")
}
