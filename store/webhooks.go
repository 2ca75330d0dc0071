package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/triggerflow/triggerflow/domain"
)

// Webhooks is the repository of webhook subscriptions.
type Webhooks struct {
	DB *sqlx.DB
	// OnChange, when set, runs after every committed change so matching
	// indexes in this process refresh before the API answers.
	OnChange func()
	// Cipher seals signing secrets on write and opens them on read; nil
	// keeps them in plaintext (tests only).
	Cipher SecretCipher
	// Subscriptions makes the repository see subscriptions only: the
	// webhooks that send a trigger's, queue hook's or flow's webhook actions
	// (see WebhookOwner) are then neither found, listed nor changed by it.
	// The API sets it; the delivery engine, which sends both, does not.
	Subscriptions bool
}

// NotifyChannel is the LISTEN/NOTIFY channel on which definition changes are
// announced to other processes' indexes.
const NotifyChannel = "triggerflow_definitions"

type webhookRow struct {
	ID                  string                               `db:"id"`
	Code                string                               `db:"code"`
	Name                string                               `db:"name"`
	Description         string                               `db:"description"`
	URL                 string                               `db:"url"`
	Method              string                               `db:"method"`
	Headers             jsonb[map[string]string]             `db:"headers"`
	Params              jsonb[map[string]string]             `db:"params"`
	Body                sql.NullString                       `db:"body"`
	EventTypes          pq.StringArray                       `db:"event_types"`
	Filters             jsonb[map[string][]domain.Condition] `db:"filters"`
	Conditions          jsonb[[]domain.Condition]            `db:"conditions"`
	Expression          string                               `db:"filter_expression"`
	Retry               jsonb[domain.RetryPolicy]            `db:"retry"`
	TimeoutMS           int64                                `db:"timeout_ms"`
	Ordered             bool                                 `db:"ordered"`
	Enabled             bool                                 `db:"enabled"`
	SuccessStatus       string                               `db:"success_status"`
	UseCase             string                               `db:"use_case"`
	Secret              string                               `db:"secret"`
	PreviousSecret      sql.NullString                       `db:"previous_secret"`
	PreviousSecretUntil sql.NullTime                         `db:"previous_secret_until"`
	CreatedAt           time.Time                            `db:"created_at"`
	UpdatedAt           time.Time                            `db:"updated_at"`
}

const webhookColumns = `id, code, name, description, url, method, headers, params, body, event_types,
	filters, conditions, filter_expression, retry, timeout_ms, ordered, enabled, success_status, use_case, secret,
	previous_secret, previous_secret_until, created_at, updated_at`

func toWebhookRow(w *domain.Webhook) webhookRow {
	r := webhookRow{
		ID: w.ID, Code: w.Code, Name: w.Name, Description: w.Description, URL: w.URL, Method: w.Method,
		Headers: jsonb[map[string]string]{w.Headers}, Params: jsonb[map[string]string]{w.Params},
		EventTypes: w.EventTypes, Filters: jsonb[map[string][]domain.Condition]{w.Filters},
		Conditions: jsonb[[]domain.Condition]{w.Conditions}, Expression: w.Expression,
		Retry: jsonb[domain.RetryPolicy]{w.Retry}, TimeoutMS: w.Timeout.Milliseconds(),
		Ordered: w.Ordered, Enabled: w.Enabled, SuccessStatus: w.SuccessStatus, UseCase: w.UseCase, Secret: w.Secret,
		CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt,
	}
	if w.Body != nil {
		r.Body = sql.NullString{String: *w.Body, Valid: true}
	}
	if w.PreviousSecret != "" {
		r.PreviousSecret = sql.NullString{String: w.PreviousSecret, Valid: true}
	}
	if w.PreviousSecretUntil != nil {
		r.PreviousSecretUntil = sql.NullTime{Time: *w.PreviousSecretUntil, Valid: true}
	}
	return r
}

func (r webhookRow) toDomain() *domain.Webhook {
	w := &domain.Webhook{
		ID: r.ID, Code: r.Code, Name: r.Name, Description: r.Description, URL: r.URL, Method: r.Method,
		Headers: r.Headers.V, Params: r.Params.V, EventTypes: []string(r.EventTypes), Filters: r.Filters.V,
		Conditions: r.Conditions.V, Expression: r.Expression, Retry: r.Retry.V,
		Timeout: time.Duration(r.TimeoutMS) * time.Millisecond, Ordered: r.Ordered, Enabled: r.Enabled,
		SuccessStatus: r.SuccessStatus, UseCase: r.UseCase, Secret: r.Secret, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}
	if r.Body.Valid {
		b := r.Body.String
		w.Body = &b
	}
	if r.PreviousSecret.Valid {
		w.PreviousSecret = r.PreviousSecret.String
	}
	if r.PreviousSecretUntil.Valid {
		t := r.PreviousSecretUntil.Time.UTC()
		w.PreviousSecretUntil = &t
	}
	w.Normalize()
	return w
}

const (
	insertWebhook = `INSERT INTO webhooks (` + webhookColumns + `) VALUES (:id, :code, :name, :description,
		:url, :method, :headers, :params, :body, :event_types, :filters, :conditions, :filter_expression,
		:retry, :timeout_ms, :ordered, :enabled, :success_status, :use_case, :secret, :previous_secret,
		:previous_secret_until, :created_at, :updated_at)`
	updateWebhook = `UPDATE webhooks SET name = :name, description = :description, url = :url,
		method = :method, headers = :headers, params = :params, body = :body, event_types = :event_types,
		filters = :filters, conditions = :conditions, filter_expression = :filter_expression,
		retry = :retry, timeout_ms = :timeout_ms, ordered = :ordered, enabled = :enabled,
		success_status = :success_status, secret = :secret, previous_secret = :previous_secret, previous_secret_until = :previous_secret_until,
		updated_at = :updated_at
		WHERE id = :id`
	selectWebhookByIDOrCode = `SELECT ` + webhookColumns + ` FROM webhooks WHERE (id = $1 OR code = $1)`
	// Owned webhooks are no subscriptions: they match no event.
	selectEnabledWebhooks = `SELECT ` + webhookColumns + ` FROM webhooks WHERE enabled AND NOT owned`
	deleteWebhook         = `DELETE FROM webhooks WHERE id = $1`
	notifyDefinitions     = `SELECT pg_notify('` + NotifyChannel + `', $1)`
)

// scope is the condition that limits statements to subscriptions when the
// repository sees only them ("" otherwise), starting with " AND".
func (s *Webhooks) scope() string {
	if s.Subscriptions {
		return " AND NOT owned"
	}
	return ""
}

// Create stores a new webhook. A duplicate code is ErrConflict.
func (s *Webhooks) Create(ctx context.Context, w *domain.Webhook) error {
	now := time.Now().UTC()
	if w.ID == "" {
		w.ID = NewID(PrefixWebhook)
	}
	w.CreatedAt, w.UpdatedAt = now, now
	row := toWebhookRow(w)
	if err := sealSecrets(s.Cipher, &row); err != nil {
		return err
	}
	err := changeDefinitions(ctx, s.DB, "webhook:"+w.ID, s.OnChange, func(tx *sqlx.Tx) error {
		if _, err := tx.NamedExecContext(ctx, insertWebhook, row); err != nil {
			return translate(err, "webhook with code "+w.Code)
		}
		return nil
	})
	return err
}

// Get finds a webhook by id or code.
func (s *Webhooks) Get(ctx context.Context, idOrCode string) (*domain.Webhook, error) {
	var r webhookRow
	if err := s.DB.GetContext(ctx, &r, selectWebhookByIDOrCode+s.scope()+` LIMIT 1`, idOrCode); err != nil {
		return nil, translate(err, "webhook "+idOrCode)
	}
	if err := openSecrets(s.Cipher, &r); err != nil {
		return nil, err
	}
	return r.toDomain(), nil
}

// GetMany finds webhooks by id, with their secrets, in one query: the
// webhooks of a delivery group. Ids of webhooks that no longer exist are
// missing from the map.
func (s *Webhooks) GetMany(ctx context.Context, ids []string) (map[string]*domain.Webhook, error) {
	var rows []webhookRow
	if err := s.DB.SelectContext(ctx, &rows, `SELECT `+webhookColumns+` FROM webhooks WHERE id = ANY($1)`+s.scope(),
		pq.StringArray(ids)); err != nil {
		return nil, translate(err, "webhooks")
	}
	out := make(map[string]*domain.Webhook, len(rows))
	for i := range rows {
		if err := openSecrets(s.Cipher, &rows[i]); err != nil {
			return nil, err
		}
		w := rows[i].toDomain()
		out[w.ID] = w
	}
	return out, nil
}

// Update saves every mutable field of w (the code never changes).
func (s *Webhooks) Update(ctx context.Context, w *domain.Webhook) error {
	w.UpdatedAt = time.Now().UTC()
	row := toWebhookRow(w)
	if err := sealSecrets(s.Cipher, &row); err != nil {
		return err
	}
	err := changeDefinitions(ctx, s.DB, "webhook:"+w.ID, s.OnChange, func(tx *sqlx.Tx) error {
		res, err := tx.NamedExecContext(ctx, updateWebhook+s.scope(), row)
		return oneRow(res, err, "webhook "+w.ID, "webhook "+w.ID)
	})
	return err
}

// Delete removes a webhook with its deliveries and attempts.
func (s *Webhooks) Delete(ctx context.Context, id string) error {
	err := changeDefinitions(ctx, s.DB, "webhook:"+id, s.OnChange, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, deleteWebhook+s.scope(), id)
		return oneRow(res, err, "webhook "+id, "webhook "+id)
	})
	return err
}

// WebhookFilter narrows a webhook list.
type WebhookFilter struct {
	Enabled   *bool
	EventType string // webhooks subscribed to this exact type (or a pattern covering it)
	Text      string // case-insensitive match on name, code, description or URL
}

var webhookSorts = map[string]string{
	"created_at": "created_at", "name": "name", "code": "code", "updated_at": "updated_at",
}

// WebhookSortFields are the fields a webhook list may be sorted by.
func WebhookSortFields() []string { return []string{"created_at", "updated_at", "name", "code"} }

// List returns one page of webhooks, newest first unless sorted otherwise.
func (s *Webhooks) List(ctx context.Context, f WebhookFilter, p domain.Page) (domain.List[*domain.Webhook], error) {
	var q listQuery
	q.eq("enabled", f.Enabled)
	if f.EventType != "" {
		obj, _, _ := strings.Cut(f.EventType, ".")
		q.and(fmt.Sprintf("event_types && ARRAY[%s, %s, '*']::text[]", q.arg(f.EventType), q.arg(obj+".*")))
	}
	q.text(f.Text, "name", "code", "description", "url")
	if s.Subscriptions {
		q.and("NOT owned")
	}
	var out domain.List[*domain.Webhook]
	var rows []webhookRow
	if err := q.page(ctx, s.DB, "webhooks", "SELECT "+webhookColumns+" FROM webhooks", orderBy(p.Sort, webhookSorts),
		p, &out.Total, &rows, "webhooks"); err != nil {
		return out, err
	}
	for _, r := range rows {
		if err := openSecrets(s.Cipher, &r); err != nil {
			return out, err
		}
		out.Items = append(out.Items, r.toDomain())
	}
	return out, nil
}

// Enabled returns every enabled webhook, for the matching index. Matching
// needs no signing secret, so secrets are not decrypted: they come back empty.
func (s *Webhooks) Enabled(ctx context.Context) ([]*domain.Webhook, error) {
	var rows []webhookRow
	if err := s.DB.SelectContext(ctx, &rows, selectEnabledWebhooks); err != nil {
		return nil, translate(err, "load webhooks")
	}
	out := make([]*domain.Webhook, 0, len(rows))
	for _, r := range rows {
		r.Secret, r.PreviousSecret = "", sql.NullString{}
		out = append(out, r.toDomain())
	}
	return out, nil
}

// SetEnabled switches many webhooks (ids or codes) on or off and returns the
// ids that changed.
func (s *Webhooks) SetEnabled(ctx context.Context, idsOrCodes []string, enabled bool) ([]string, error) {
	var ids []string
	err := changeDefinitions(ctx, s.DB, "webhooks", s.OnChange, func(tx *sqlx.Tx) error {
		ids = nil
		if err := tx.SelectContext(ctx, &ids, `UPDATE webhooks SET enabled = $2, updated_at = now()
			WHERE (id = ANY($1) OR code = ANY($1))`+s.scope()+` RETURNING id`, pq.StringArray(idsOrCodes), enabled); err != nil {
			return translate(err, "switch webhooks")
		}
		return nil
	})
	return ids, err
}

// DeleteMany removes many webhooks (ids or codes) and returns the ids removed.
func (s *Webhooks) DeleteMany(ctx context.Context, idsOrCodes []string) ([]string, error) {
	var ids []string
	err := changeDefinitions(ctx, s.DB, "webhooks", s.OnChange, func(tx *sqlx.Tx) error {
		ids = nil
		if err := tx.SelectContext(ctx, &ids, `DELETE FROM webhooks WHERE (id = ANY($1) OR code = ANY($1))`+s.scope()+` RETURNING id`,
			pq.StringArray(idsOrCodes)); err != nil {
			return translate(err, "delete webhooks")
		}
		return nil
	})
	return ids, err
}

// CodesLike returns the codes in use that start with base (its first
// MaxCodeLength-5 characters for a long base, which numbered variants up to
// _1000 shorten) — the candidates a suggested code must avoid.
func (s *Webhooks) CodesLike(ctx context.Context, base string) (map[string]bool, error) {
	var codes []string
	if err := s.DB.SelectContext(ctx, &codes, `SELECT code FROM webhooks WHERE code LIKE $1`,
		escapeLike(base[:min(len(base), domain.MaxCodeLength-5)])+`%`); err != nil {
		return nil, translate(err, "webhook codes")
	}
	out := make(map[string]bool, len(codes))
	for _, c := range codes {
		out[c] = true
	}
	return out, nil
}
