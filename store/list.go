package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/triggerflow/triggerflow/domain"
)

// listQuery is a filtered, paged list: conditions with numbered arguments,
// then a count of every match and one page of rows.
type listQuery struct {
	where []string
	args  []any
}

// arg adds an argument and returns its placeholder ($n).
func (q *listQuery) arg(v any) string {
	q.args = append(q.args, v)
	return fmt.Sprintf("$%d", len(q.args))
}

// and adds a condition (built with arg).
func (q *listQuery) and(cond string) { q.where = append(q.where, cond) }

// eq adds "column = value" when value is set (not "" or nil).
func (q *listQuery) eq(column string, value any) {
	switch v := value.(type) {
	case string:
		if v == "" {
			return
		}
	case *bool:
		if v == nil {
			return
		}
		value = *v
	}
	q.and(column + " = " + q.arg(value))
}

// text adds a case-insensitive substring match of s on any of columns.
func (q *listQuery) text(s string, columns ...string) {
	if s == "" {
		return
	}
	pat := q.arg("%" + escapeLike(s) + "%")
	parts := make([]string, len(columns))
	for i, c := range columns {
		parts[i] = c + " ILIKE " + pat
	}
	q.and("(" + strings.Join(parts, " OR ") + ")")
}

// cond is " WHERE a AND b", or "" without conditions.
func (q *listQuery) cond() string {
	if len(q.where) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(q.where, " AND ")
}

// page counts the matching rows of countFrom ("deliveries d") into total
// and selects one page — selectFrom + conditions + order — into dest.
func (q *listQuery) page(ctx context.Context, db *sqlx.DB, countFrom, selectFrom, order string, p domain.Page,
	total *int, dest any, what string) error {
	cond := q.cond()
	if err := db.GetContext(ctx, total, "SELECT count(*) FROM "+countFrom+cond, q.args...); err != nil {
		return translate(err, "count "+what)
	}
	sql := selectFrom + cond + order + fmt.Sprintf(" LIMIT %d OFFSET %d", p.PerPage, p.Offset())
	return translate(db.SelectContext(ctx, dest, sql, q.args...), "list "+what)
}
