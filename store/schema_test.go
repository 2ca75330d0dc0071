package store_test

import (
	"strings"
	"testing"

	"github.com/triggerflow/triggerflow/internal/testkit"
)

// Every recorded attempt pays one entry per index of delivery_attempts on
// the delivery path, so it keeps only the indexes its reads use: the log of
// a delivery (by delivery and attempt number, which also serves erasure,
// the purge and the cascade from deliveries) and retention's purge by age.
func TestDeliveryAttemptsKeepOnlyTheIndexesTheirReadsUse(t *testing.T) {
	db := testkit.DB(t)
	var indexes []string
	if err := db.Select(&indexes, `SELECT indexname FROM pg_indexes WHERE tablename = 'delivery_attempts' ORDER BY indexname`); err != nil {
		t.Fatal(err)
	}
	want := "delivery_attempts_delivery_id_attempt_key delivery_attempts_executed_idx delivery_attempts_pkey"
	if got := strings.Join(indexes, " "); got != want {
		t.Fatalf("indexes of delivery_attempts: %s, want %s", got, want)
	}
	// The log's query (Deliveries.Attempts) is served by the unique index
	// in its order, with no sort.
	tx := db.MustBegin()
	defer tx.Rollback()
	tx.MustExec(`SET LOCAL enable_seqscan = off`)
	var plan []string
	if err := tx.Select(&plan, `EXPLAIN SELECT * FROM delivery_attempts WHERE delivery_id = 'dlv_1' ORDER BY attempt DESC`); err != nil {
		t.Fatal(err)
	}
	text := strings.Join(plan, "\n")
	if !strings.Contains(text, "delivery_attempts_delivery_id_attempt_key") || strings.Contains(text, "Sort") {
		t.Fatalf("the attempt log's plan:\n%s", text)
	}
}
