package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/triggerflow/triggerflow/domain"
	"github.com/triggerflow/triggerflow/internal/testkit"
	"github.com/triggerflow/triggerflow/store"
)

// Concurrent batches for the same ordered webhook take their deliveries'
// seqs one batch after the other, never interleaved: the queue, reading in
// seq order, then sends every batch whole, in the order batches committed.
func TestConcurrentBatchesDoNotInterleaveAnOrderedWebhooksQueue(t *testing.T) {
	db := testkit.DB(t)
	ctx := context.Background()
	w := testkit.Webhook("fifo", []string{"case.created"}, func(w *domain.Webhook) { w.Ordered = true })
	if err := (&store.Webhooks{DB: db}).Create(ctx, w); err != nil {
		t.Fatal(err)
	}
	events := &store.Events{DB: db}
	const batches, perBatch = 8, 200
	var wg sync.WaitGroup
	errs := make(chan error, batches)
	for b := range batches {
		wg.Add(1)
		go func() {
			defer wg.Done()
			evs := make([]domain.Event, perBatch)
			for i := range evs {
				evs[i] = domain.Event{ID: fmt.Sprintf("b%d-%03d", b, i), Type: "case.created", OccurredAt: time.Now().UTC(), Data: json.RawMessage(`{}`)}
			}
			_, err := events.StoreBatch(ctx, evs, func(fresh []domain.Event) store.Plan {
				var pl store.Plan
				for _, e := range fresh {
					pl.Deliveries = append(pl.Deliveries, store.PlannedDelivery{ID: store.NewID(store.PrefixDelivery),
						WebhookID: w.ID, EventID: e.ID, WebhookCode: w.Code, Ordered: true})
				}
				return pl
			}(evs))
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	var rows []struct {
		Seq   int64  `db:"seq"`
		Batch string `db:"batch_id"`
	}
	if err := db.Select(&rows, `SELECT seq, batch_id FROM deliveries WHERE webhook_id = $1 ORDER BY seq`, w.ID); err != nil {
		t.Fatal(err)
	}
	if len(rows) != batches*perBatch {
		t.Fatalf("%d deliveries, want %d", len(rows), batches*perBatch)
	}
	switches := 0
	for i := 1; i < len(rows); i++ {
		if rows[i].Batch != rows[i-1].Batch {
			switches++
		}
	}
	if switches != batches-1 {
		t.Fatalf("in seq order the queue switches batches %d times, want %d (each batch whole)", switches, batches-1)
	}
}
