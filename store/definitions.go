package store

import (
	"context"

	"github.com/jmoiron/sqlx"

	"github.com/triggerflow/triggerflow/domain"
)

// Definitions reads what published events are matched against.
type Definitions struct {
	DB *sqlx.DB
}

// MatchableTrigger is an enabled On Event trigger as matching needs it.
type MatchableTrigger struct {
	ID         string
	Object     string
	Event      string
	FlowID     string
	Conditions []domain.Condition
	Expression string // optional CEL
}

// MatchableQueueHook is an enabled queue hook as matching needs it.
type MatchableQueueHook struct {
	ID      string `db:"id"`
	QueueID string `db:"queue_id"`
	Event   string `db:"event"`
	FlowID  string `db:"flow_id"`
}

// MatchableDefinitions are every enabled webhook, On Event trigger and
// queue hook.
type MatchableDefinitions struct {
	Webhooks   []*domain.Webhook
	Triggers   []MatchableTrigger
	QueueHooks []MatchableQueueHook
}

// Matchable reads every enabled definition published events may match.
func (s *Definitions) Matchable(ctx context.Context) (MatchableDefinitions, error) {
	var out MatchableDefinitions
	var err error
	if out.Webhooks, err = (&Webhooks{DB: s.DB}).Enabled(ctx); err != nil {
		return out, err
	}
	var trs []struct {
		ID         string                    `db:"id"`
		Object     string                    `db:"object"`
		Event      string                    `db:"event"`
		FlowID     string                    `db:"flow_id"`
		Conditions jsonb[[]domain.Condition] `db:"conditions"`
		Expression string                    `db:"condition_expression"`
	}
	if err := s.DB.SelectContext(ctx, &trs, `SELECT id, object, event, COALESCE(flow_id, '') AS flow_id,
		conditions, condition_expression FROM triggers WHERE enabled AND type = 'on_event'`); err != nil {
		return out, translate(err, "load triggers")
	}
	for _, t := range trs {
		out.Triggers = append(out.Triggers, MatchableTrigger{ID: t.ID, Object: t.Object, Event: t.Event,
			FlowID: t.FlowID, Conditions: t.Conditions.V, Expression: t.Expression})
	}
	if err := s.DB.SelectContext(ctx, &out.QueueHooks, `SELECT id, queue_id, event, flow_id FROM queue_hooks WHERE enabled`); err != nil {
		return out, translate(err, "load queue hooks")
	}
	return out, nil
}
