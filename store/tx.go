package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/triggerflow/triggerflow/domain"
)

// withTx runs f in a transaction, committing when it returns nil.
func withTx(ctx context.Context, db *sqlx.DB, f func(tx *sqlx.Tx) error) error {
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return translate(err, "begin transaction")
	}
	if err := f(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return translate(tx.Commit(), "commit")
}

// Transactions chosen as a deadlock's victim (or refused for serialization)
// are run again up to txTries times in all, after a short, growing pause: the
// other transaction has gone by then. A webhook deleted while workers record
// its deliveries is the usual case — the cascade and the recorder lock the
// same delivery rows in different orders.
const (
	txTries     = 5
	txRetryBase = 10 * time.Millisecond
)

// withRetriedTx is withTx for transactions that may be run again: f must
// start from scratch each time (reset what it collects).
func withRetriedTx(ctx context.Context, db *sqlx.DB, f func(tx *sqlx.Tx) error) error {
	for try := 1; ; try++ {
		err := withTx(ctx, db, f)
		if err == nil || try == txTries || !isTxConflict(err) {
			return err
		}
		pause := txRetryBase*time.Duration(try) + time.Duration(rand.Int64N(int64(txRetryBase)))
		select {
		case <-ctx.Done():
			return err
		case <-time.After(pause):
		}
	}
}

// isTxConflict tells whether err is PostgreSQL ending a transaction for a
// deadlock (40P01) or a serialization failure (40001).
func isTxConflict(err error) bool {
	var pqErr *pq.Error
	return errors.As(err, &pqErr) && (pqErr.Code == "40P01" || pqErr.Code == "40001")
}

// changeDefinitions runs f in a transaction that also announces the change
// on NotifyChannel (what says which definition), so other processes' matching
// indexes refresh; after the commit it calls onChange, so this process's
// index is fresh before the caller answers. f may run more than once (see
// withRetriedTx), so it starts from scratch each time.
func changeDefinitions(ctx context.Context, db *sqlx.DB, what string, onChange func(), f func(tx *sqlx.Tx) error) error {
	err := withRetriedTx(ctx, db, func(tx *sqlx.Tx) error {
		if err := f(tx); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, notifyDefinitions, what)
		return translate(err, "notify")
	})
	if err == nil && onChange != nil {
		onChange()
	}
	return err
}

// oneRow checks the result of a statement that must change exactly one row:
// a database error is translated (what names the thing), no row changed is
// ErrNotFound (notFound says what was missing).
func oneRow(res sql.Result, err error, what, notFound string) error {
	if err != nil {
		return translate(err, what)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%s: %w", notFound, domain.ErrNotFound)
	}
	return nil
}

// orderBy turns an API sort ("name", "-created_at") into ORDER BY with a
// stable tiebreak; allowed maps API names to columns. Default: newest first.
func orderBy(sort string, allowed map[string]string) string {
	dir := "ASC"
	name := sort
	if strings.HasPrefix(sort, "-") {
		dir, name = "DESC", sort[1:]
	}
	col, ok := allowed[name]
	if !ok || sort == "" {
		return " ORDER BY created_at DESC, id DESC"
	}
	return fmt.Sprintf(" ORDER BY %s %s, id %s", col, dir, dir)
}

// escapeLike makes user text literal inside a LIKE pattern.
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}
