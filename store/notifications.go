package store

import (
	"context"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/triggerflow/triggerflow/domain"
)

// Notifications is the repository of the messages the notify action leaves
// for users (Webitel's Workspace notifications).
type Notifications struct {
	DB *sqlx.DB
}

// Notification is one message for one user.
type Notification struct {
	ID        string    `db:"id"`
	UserID    string    `db:"user_id"`
	Text      string    `db:"text"`
	RunID     string    `db:"run_id"` // the trigger run that left it; "" when none
	CreatedAt time.Time `db:"created_at"`
}

// Create stores notifications. A notification whose id is already stored is
// skipped, so an action retried with the same ids leaves each message once;
// it returns how many were new.
func (s *Notifications) Create(ctx context.Context, ns []Notification) (int, error) {
	if len(ns) == 0 {
		return 0, nil
	}
	ids, users, texts, runs := make([]string, len(ns)), make([]string, len(ns)), make([]string, len(ns)), make([]string, len(ns))
	for i, n := range ns {
		if n.ID == "" {
			n.ID = NewID(PrefixNotice)
		}
		ids[i], users[i], texts[i], runs[i] = n.ID, n.UserID, n.Text, n.RunID
	}
	res, err := s.DB.ExecContext(ctx, `INSERT INTO notifications (id, user_id, text, run_id)
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])
		ON CONFLICT (id) DO NOTHING`,
		pq.StringArray(ids), pq.StringArray(users), pq.StringArray(texts), pq.StringArray(runs))
	if err != nil {
		return 0, translate(err, "store notifications")
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// NotificationFilter narrows a notification list.
type NotificationFilter struct {
	UserID string
	RunID  string
}

// List returns one page of notifications, newest first.
func (s *Notifications) List(ctx context.Context, f NotificationFilter, p domain.Page) (domain.List[*Notification], error) {
	var q listQuery
	q.eq("user_id", f.UserID)
	q.eq("run_id", f.RunID)
	var out domain.List[*Notification]
	if err := q.page(ctx, s.DB, "notifications", "SELECT id, user_id, text, run_id, created_at FROM notifications",
		orderBy(p.Sort, map[string]string{"created_at": "created_at"}), p, &out.Total, &out.Items, "notifications"); err != nil {
		return out, err
	}
	for _, n := range out.Items {
		n.CreatedAt = n.CreatedAt.UTC()
	}
	return out, nil
}
