package store

import (
	"context"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/triggerflow/triggerflow/domain"
)

// Overview answers the console's summary questions: how much is defined,
// how deliveries went lately, which webhooks fail.
type Overview struct {
	DB *sqlx.DB
}

// DefinitionCounts counts what is defined.
type DefinitionCounts struct {
	Webhooks        int `db:"webhooks"`
	WebhooksEnabled int `db:"webhooks_enabled"`
	Triggers        int `db:"triggers"`
	TriggersEnabled int `db:"triggers_enabled"`
	Flows           int `db:"flows"`
	QueueHooks      int `db:"queue_hooks"`
}

// DeliveryCounts counts deliveries made in a window by where they stand now.
type DeliveryCounts struct {
	Succeeded int `db:"succeeded"`
	Failed    int `db:"failed"`
	Pending   int `db:"pending"`
}

// WebhookHealth is one webhook's deliveries made in the last hour and day.
type WebhookHealth struct {
	ID       string `db:"id"`
	Code     string `db:"code"`
	Name     string `db:"name"`
	Enabled  bool   `db:"enabled"`
	LastHour DeliveryCounts
	LastDay  DeliveryCounts
	// LastFailedAt is when its most recent failed delivery of the day ended.
	LastFailedAt *time.Time `db:"last_failed_at"`
}

// Counts counts webhooks, triggers, flows and queue hooks.
func (s *Overview) Counts(ctx context.Context) (DefinitionCounts, error) {
	var c DefinitionCounts
	err := s.DB.GetContext(ctx, &c, `SELECT
		(SELECT count(*) FROM webhooks WHERE NOT owned) AS webhooks,
		(SELECT count(*) FROM webhooks WHERE enabled AND NOT owned) AS webhooks_enabled,
		(SELECT count(*) FROM triggers) AS triggers,
		(SELECT count(*) FROM triggers WHERE enabled) AS triggers_enabled,
		(SELECT count(*) FROM flows) AS flows,
		(SELECT count(*) FROM queue_hooks) AS queue_hooks`)
	return c, translate(err, "count definitions")
}

// webhookHealthRow is one row of selectWebhookHealth.
type webhookHealthRow struct {
	ID            string     `db:"id"`
	Code          string     `db:"code"`
	Name          string     `db:"name"`
	Enabled       bool       `db:"enabled"`
	HourSucceeded int        `db:"hour_succeeded"`
	HourFailed    int        `db:"hour_failed"`
	HourPending   int        `db:"hour_pending"`
	DaySucceeded  int        `db:"day_succeeded"`
	DayFailed     int        `db:"day_failed"`
	DayPending    int        `db:"day_pending"`
	LastFailedAt  *time.Time `db:"last_failed_at"`
}

// selectWebhookHealth counts each webhook's deliveries of the last day with
// one index range scan per webhook (deliveries_webhook_created_idx), not a
// scan of every delivery ever made.
const selectWebhookHealth = `SELECT w.id, w.code, w.name, w.enabled,
	s.hour_succeeded, s.hour_failed, s.hour_pending, s.day_succeeded, s.day_failed, s.day_pending, s.last_failed_at
	FROM webhooks w CROSS JOIN LATERAL (
		SELECT count(*) FILTER (WHERE d.status = 'succeeded' AND d.created_at >= $2) AS hour_succeeded,
			count(*) FILTER (WHERE d.status = 'failed' AND d.created_at >= $2) AS hour_failed,
			count(*) FILTER (WHERE d.status = 'pending' AND d.created_at >= $2) AS hour_pending,
			count(*) FILTER (WHERE d.status = 'succeeded') AS day_succeeded,
			count(*) FILTER (WHERE d.status = 'failed') AS day_failed,
			count(*) FILTER (WHERE d.status = 'pending') AS day_pending,
			max(COALESCE(d.completed_at, d.updated_at)) FILTER (WHERE d.status = 'failed') AS last_failed_at
		FROM deliveries d WHERE d.webhook_id = w.id AND d.created_at >= $1) s
	WHERE NOT w.owned` // triggers' webhook-action senders are no subscriptions

// WebhookHealth returns every webhook's counts for the day and the hour
// before now, the ones with the most failed deliveries today first.
func (s *Overview) WebhookHealth(ctx context.Context, now time.Time) ([]WebhookHealth, error) {
	var rows []webhookHealthRow
	if err := s.DB.SelectContext(ctx, &rows, selectWebhookHealth+
		` ORDER BY s.day_failed DESC, s.hour_failed DESC, s.last_failed_at DESC NULLS LAST, w.name, w.id`,
		now.Add(-24*time.Hour), now.Add(-time.Hour)); err != nil {
		return nil, translate(err, "webhook health")
	}
	out := make([]WebhookHealth, len(rows))
	for i, r := range rows {
		out[i] = WebhookHealth{ID: r.ID, Code: r.Code, Name: r.Name, Enabled: r.Enabled,
			LastHour:     DeliveryCounts{Succeeded: r.HourSucceeded, Failed: r.HourFailed, Pending: r.HourPending},
			LastDay:      DeliveryCounts{Succeeded: r.DaySucceeded, Failed: r.DayFailed, Pending: r.DayPending},
			LastFailedAt: r.LastFailedAt}
	}
	return out, nil
}

// EventSummary is a published event with how many deliveries and runs it
// led to, for lists of recent events.
type EventSummary struct {
	ID                  string    `db:"id"`
	Type                string    `db:"type"`
	Subject             string    `db:"subject"`
	OccurredAt          time.Time `db:"occurred_at"`
	ReceivedAt          time.Time `db:"received_at"`
	Deliveries          int       `db:"deliveries"`
	DeliveriesFailed    int       `db:"deliveries_failed"`
	DeliveriesPending   int       `db:"deliveries_pending"`
	DeliveriesSucceeded int       `db:"deliveries_succeeded"`
	Runs                int       `db:"runs"`
}

// EventFilter narrows a list of events.
type EventFilter struct {
	Type   string // exact event type
	IDLike string // case-insensitive substring of the id
}

// RecentEvents returns one page of events, the latest received first.
func (s *Overview) RecentEvents(ctx context.Context, f EventFilter, p domain.Page) (domain.List[EventSummary], error) {
	var q listQuery
	q.eq("e.type", f.Type)
	q.text(f.IDLike, "e.id")
	order := " ORDER BY e.received_at DESC, e.id DESC"
	if p.Sort == "received_at" {
		order = " ORDER BY e.received_at ASC, e.id ASC"
	}
	var out domain.List[EventSummary]
	err := q.page(ctx, s.DB, "events e", `SELECT e.id, e.type, e.subject, e.occurred_at, e.received_at, c.*,
		(SELECT count(*) FROM trigger_runs r WHERE r.event_id = e.id) AS runs
		FROM events e CROSS JOIN LATERAL (SELECT count(*) AS deliveries,
			count(*) FILTER (WHERE d.status = 'failed') AS deliveries_failed,
			count(*) FILTER (WHERE d.status = 'pending') AS deliveries_pending,
			count(*) FILTER (WHERE d.status = 'succeeded') AS deliveries_succeeded
			FROM deliveries d WHERE d.event_id = e.id) c`, order, p, &out.Total, &out.Items, "events")
	return out, err
}

// EventSortFields are the fields a list of events may be sorted by.
func EventSortFields() []string { return []string{"received_at"} }
