package store_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/triggerflow/triggerflow/domain"
	"github.com/triggerflow/triggerflow/internal/testkit"
	"github.com/triggerflow/triggerflow/store"
)

// deliveryRig is a database with one webhook and a helper to publish
// events with one delivery each.
type deliveryRig struct {
	db         *sqlx.DB
	webhook    *domain.Webhook
	events     *store.Events
	deliveries *store.Deliveries
}

func newDeliveryRig(t *testing.T, mod func(*domain.Webhook)) *deliveryRig {
	t.Helper()
	db := testkit.DB(t)
	w := testkit.Webhook("isolated", []string{"case.created"}, mod)
	if err := (&store.Webhooks{DB: db}).Create(context.Background(), w); err != nil {
		t.Fatal(err)
	}
	return &deliveryRig{db: db, webhook: w, events: &store.Events{DB: db}, deliveries: &store.Deliveries{DB: db}}
}

// publish stores events with one delivery each to the rig's webhook and
// returns the batch and the delivery ids.
func (r *deliveryRig) publish(t *testing.T, ids ...string) (string, []string) {
	t.Helper()
	evs := make([]domain.Event, len(ids))
	for i, id := range ids {
		evs[i] = domain.Event{ID: id, Type: "case.created", OccurredAt: time.Now().UTC(), Data: json.RawMessage(`{}`)}
	}
	stored, err := r.events.StoreBatch(context.Background(), evs, planFor(evs, r.webhook))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, d := range stored.Plan.Deliveries {
		out = append(out, d.ID)
	}
	return stored.BatchID, out
}

// addWebhook creates another webhook on case.created beside the rig's.
func (r *deliveryRig) addWebhook(t *testing.T, code string) *domain.Webhook {
	t.Helper()
	w := testkit.Webhook(code, []string{"case.created"}, nil)
	if err := (&store.Webhooks{DB: r.db}).Create(context.Background(), w); err != nil {
		t.Fatal(err)
	}
	return w
}

// planFor plans a delivery of each event to each webhook, in order.
func planFor(evs []domain.Event, hooks ...*domain.Webhook) store.Plan {
	var pl store.Plan
	for _, e := range evs {
		for _, w := range hooks {
			pl.Deliveries = append(pl.Deliveries, store.PlannedDelivery{ID: store.NewID(store.PrefixDelivery),
				WebhookID: w.ID, EventID: e.ID, WebhookCode: w.Code, Ordered: w.Ordered})
		}
	}
	return pl
}

func (r *deliveryRig) get(t *testing.T, id string) *store.Delivery {
	t.Helper()
	d, err := r.deliveries.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func try(id string, status string, body string, at time.Time) store.Record {
	a := store.NewAttempt(id, "POST", "https://example.com/x", map[string]string{"Content-Type": "application/json"}, `{}`,
		200, map[string]string{"Server": "t"}, body, false, 5*time.Millisecond, "", at, status == domain.DeliverySucceeded)
	return store.Record{Attempt: &a, Outcome: store.Outcome{DeliveryID: id, Status: status, LastCode: 200}}
}

// Whatever bytes a receiver answers — NUL, invalid UTF-8, in the body, a
// header, the error — the attempt is recorded, exactly: bodies in base64
// with their encoding, other texts escaped with a flag.
func TestRecordStoresAnyBytesAReceiverAnswers(t *testing.T) {
	r := newDeliveryRig(t, nil)
	_, ids := r.publish(t, "evt-bytes")
	ctx := context.Background()
	body := "\x00\xff\xfe binary \x00"
	a := store.NewAttempt(ids[0], "POST", "https://example.com/p\x00th", map[string]string{"X-Sent": "ok"}, "req\x00body",
		200, map[string]string{"X-Bin\x00": "v\xffal\\ue", "Server": "fine"}, body, false, 7*time.Millisecond,
		"odd \x00 error", time.Now(), true)
	if err := r.deliveries.Record(ctx, []store.Record{{Attempt: &a, Outcome: store.Outcome{DeliveryID: ids[0],
		Status: domain.DeliverySucceeded, LastCode: 200, LastError: "last \x00 error"}}}); err != nil {
		t.Fatalf("recording a NUL-laden answer failed: %v", err)
	}
	atts, err := r.deliveries.Attempts(ctx, ids[0])
	if err != nil || len(atts) != 1 {
		t.Fatalf("attempts %v %v", atts, err)
	}
	got := atts[0]
	raw, err := base64.StdEncoding.DecodeString(got.ResponseBody)
	if got.ResponseBodyEncoding != store.BodyBase64 || err != nil || string(raw) != body {
		t.Fatalf("response body %q (%s), want the exact bytes in base64", got.ResponseBody, got.ResponseBodyEncoding)
	}
	if raw, _ := base64.StdEncoding.DecodeString(got.RequestBody); got.RequestBodyEncoding != store.BodyBase64 || string(raw) != "req\x00body" {
		t.Fatalf("request body %q (%s)", got.RequestBody, got.RequestBodyEncoding)
	}
	_, resp := got.Headers()
	if !got.Escaped || resp[`X-Bin\x00`] != `v\xffal\\ue` || resp["Server"] != "fine" ||
		got.RequestURL != `https://example.com/p\x00th` || got.Error != `odd \x00 error` {
		t.Fatalf("escaped=%v headers=%q url=%q error=%q", got.Escaped, resp, got.RequestURL, got.Error)
	}
	if d := r.get(t, ids[0]); d.Status != domain.DeliverySucceeded || d.Attempts != 1 || d.LastError != `last \x00 error` {
		t.Fatalf("delivery %+v", d)
	}
	// Plain text stays as it was, unflagged.
	_, more := r.publish(t, "evt-plain")
	if err := r.deliveries.Record(ctx, []store.Record{try(more[0], domain.DeliverySucceeded, `{"ok":true} \ backslash`, time.Now())}); err != nil {
		t.Fatal(err)
	}
	atts, _ = r.deliveries.Attempts(ctx, more[0])
	if atts[0].Escaped || atts[0].ResponseBodyEncoding != "" || atts[0].ResponseBody != `{"ok":true} \ backslash` {
		t.Fatalf("plain attempt changed: %+v", atts[0])
	}
}

// Two workflows recording tries of one delivery at once (which the carrier
// rules prevent, but the log must survive) get distinct attempt numbers;
// none is lost.
func TestAttemptNumbersNeverCollide(t *testing.T) {
	r := newDeliveryRig(t, nil)
	_, ids := r.publish(t, "evt-race")
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 10 {
				rec := try(ids[0], domain.DeliveryPending, fmt.Sprint("from ", g), time.Now())
				rec.Outcome.LastCode = 503
				if err := r.deliveries.Record(context.Background(), []store.Record{rec}); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	atts, err := r.deliveries.Attempts(context.Background(), ids[0])
	if err != nil {
		t.Fatal(err)
	}
	var nums []int
	for _, a := range atts {
		nums = append(nums, a.Attempt)
	}
	sort.Ints(nums)
	for i, n := range nums {
		if n != i+1 {
			t.Fatalf("attempt numbers %v, want 1..40 with none missing or repeated", nums)
		}
	}
	if len(nums) != 40 || r.get(t, ids[0]).Attempts != 40 {
		t.Fatalf("%d attempts logged, delivery counts %d; want 40", len(nums), r.get(t, ids[0]).Attempts)
	}
}

// A finished delivery keeps its state: a late try from a stale workflow is
// logged, but only an explicit retry (Reopen) makes it pending again.
func TestAFinishedDeliveryNeverTurnsBackToPending(t *testing.T) {
	r := newDeliveryRig(t, nil)
	_, ids := r.publish(t, "evt-done")
	ctx := context.Background()
	failed := try(ids[0], domain.DeliveryFailed, "no", time.Now())
	if err := r.deliveries.Record(ctx, []store.Record{failed}); err != nil {
		t.Fatal(err)
	}
	late := try(ids[0], domain.DeliveryPending, "late", time.Now())
	next := time.Now().Add(time.Minute)
	late.Outcome.NextAttemptAt = &next
	if err := r.deliveries.Record(ctx, []store.Record{late}); err != nil {
		t.Fatal(err)
	}
	d := r.get(t, ids[0])
	if d.Status != domain.DeliveryFailed || d.Attempts != 2 || d.NextAttemptAt != nil {
		t.Fatalf("after a late try: status %s attempts %d next %v; want failed, 2 attempts logged", d.Status, d.Attempts, d.NextAttemptAt)
	}
	if err := r.deliveries.Reopen(ctx, ids[0], "delivery-"+ids[0]); err != nil {
		t.Fatal(err)
	}
	if d := r.get(t, ids[0]); d.Status != domain.DeliveryPending || d.WorkflowID != "delivery-"+ids[0] {
		t.Fatalf("after a manual retry: %+v", d)
	}
}

// Only the workflow carrying a delivery changes its state; another
// workflow's try is logged and changes nothing else.
func TestOnlyTheCarrierChangesADeliverysState(t *testing.T) {
	r := newDeliveryRig(t, nil)
	_, ids := r.publish(t, "evt-carrier")
	ctx := context.Background()
	if ok, err := r.deliveries.HandOver(ctx, ids[0], "", "delivery-a"); err != nil || !ok {
		t.Fatalf("hand over: %v %v", ok, err)
	}
	if ok, _ := r.deliveries.HandOver(ctx, ids[0], "delivery-stale", "delivery-b"); ok {
		t.Fatal("a workflow that does not carry the delivery handed it over")
	}
	stale := try(ids[0], domain.DeliverySucceeded, "stale", time.Now())
	stale.Outcome.Carrier = "delivery-stale"
	if err := r.deliveries.Record(ctx, []store.Record{stale}); err != nil {
		t.Fatal(err)
	}
	if d := r.get(t, ids[0]); d.Status != domain.DeliveryPending || d.Attempts != 1 || d.WorkflowID != "delivery-a" {
		t.Fatalf("a stale carrier's try changed the delivery: %+v", d)
	}
	mine := try(ids[0], domain.DeliverySucceeded, "mine", time.Now())
	mine.Outcome.Carrier = "delivery-a"
	if err := r.deliveries.Record(ctx, []store.Record{mine}); err != nil {
		t.Fatal(err)
	}
	if d := r.get(t, ids[0]); d.Status != domain.DeliverySucceeded || d.Attempts != 2 {
		t.Fatalf("the carrier's try did not settle the delivery: %+v", d)
	}
}

// A webhook deleted while a publish was matching costs the publish only
// that webhook's delivery, never the publish itself.
func TestAPublishSurvivesAWebhookDeletedWhileMatching(t *testing.T) {
	r := newDeliveryRig(t, nil)
	ctx := context.Background()
	gone := r.addWebhook(t, "gone")
	// Matched (planned) before the delete; the delete commits before the
	// publish's transaction.
	ev := domain.Event{ID: "evt-race-delete", Type: "case.created", OccurredAt: time.Now().UTC(), Data: json.RawMessage(`{}`)}
	pl := planFor([]domain.Event{ev}, r.webhook, gone)
	if err := (&store.Webhooks{DB: r.db}).Delete(ctx, gone.ID); err != nil {
		t.Fatal(err)
	}
	stored, err := r.events.StoreBatch(ctx, []domain.Event{ev}, pl)
	if err != nil {
		t.Fatalf("publish failed because a webhook was deleted meanwhile: %v", err)
	}
	if len(stored.Plan.Deliveries) != 1 || stored.Plan.Deliveries[0].WebhookID != r.webhook.ID {
		t.Fatalf("planned deliveries %+v, want only the live webhook's", stored.Plan.Deliveries)
	}
	var n int
	if err := r.db.Get(&n, `SELECT count(*) FROM deliveries WHERE event_id = 'evt-race-delete'`); err != nil || n != 1 {
		t.Fatalf("%d deliveries stored (%v), want 1", n, err)
	}
}

// Sweepers in several processes share a backlog of undispatched batches:
// each claims its own, none starts on another's.
func TestSweepersClaimDisjointBatches(t *testing.T) {
	r := newDeliveryRig(t, nil)
	ctx := context.Background()
	var all []string
	for i := range 30 {
		b, _ := r.publish(t, fmt.Sprintf("evt-backlog-%d", i))
		all = append(all, b)
	}
	// The publishers' own claims (a lease) have passed.
	if _, err := r.db.Exec(`UPDATE publish_batches SET claimed_until = now() - interval '1 second'`); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := r.events.ClaimStaleBatches(ctx, time.Now().Add(time.Second), 10)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			for _, b := range got {
				seen[b.ID]++
				if b.Work != 1 {
					t.Errorf("batch %s has work %d, want 1", b.ID, b.Work)
				}
			}
		}()
	}
	wg.Wait()
	if len(seen) != 30 {
		t.Fatalf("three sweepers claimed %d distinct batches of 30", len(seen))
	}
	for b, n := range seen {
		if n != 1 {
			t.Fatalf("batch %s claimed %d times", b, n)
		}
	}
	if again, _ := r.events.ClaimStaleBatches(ctx, time.Now().Add(time.Second), 10); len(again) != 0 {
		t.Fatalf("batches under a live claim were claimed again: %v", again)
	}
	_ = all
}

// A delivery of a disabled webhook is parked with no carrier; enabling the
// webhook puts parked deliveries, in publish order, into new undispatched
// batches; a parked delivery of a webhook still disabled stays parked.
func TestParkedDeliveriesResumeInNewBatchesWhenEnabled(t *testing.T) {
	r := newDeliveryRig(t, nil)
	ctx := context.Background()
	_, ids := r.publish(t, "evt-p1", "evt-p2", "evt-p3")
	hooks := &store.Webhooks{DB: r.db}
	if ok, _ := r.deliveries.Park(ctx, ids[0]); ok {
		t.Fatal("parked a delivery of an enabled webhook")
	}
	if _, err := hooks.SetEnabled(ctx, []string{r.webhook.ID}, false); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if ok, err := r.deliveries.Park(ctx, id); err != nil || !ok {
			t.Fatalf("park %s: %v %v", id, ok, err)
		}
	}
	if got, _ := r.deliveries.ResumeParked(ctx, nil, 100); len(got) != 0 {
		t.Fatalf("resumed deliveries of a disabled webhook: %v", got)
	}
	if _, err := hooks.SetEnabled(ctx, []string{r.webhook.ID}, true); err != nil {
		t.Fatal(err)
	}
	batches, err := r.deliveries.ResumeParked(ctx, []string{r.webhook.ID}, 100)
	if err != nil || len(batches) != 1 {
		t.Fatalf("resume: %v %v", batches, err)
	}
	pending, _, err := r.deliveries.ClaimInBatches(ctx, batches, "delivery-batch-"+batches[0], nil)
	if err != nil || len(pending) != 3 {
		t.Fatalf("the resumed batch holds %d deliveries (%v), want 3", len(pending), err)
	}
	for i, d := range pending {
		if d.ID != ids[i] || d.ParkedAt != nil {
			t.Fatalf("resumed delivery %d is %s (parked %v), want %s in publish order", i, d.ID, d.ParkedAt, ids[i])
		}
	}
	if n, _ := r.events.CountUndispatched(ctx); n < 1 {
		t.Fatal("the resumed batch is not waiting for a hand-over")
	}
}

// A webhook deleted while another transaction holds some of its deliveries
// and then reaches for one the cascade already took is a deadlock;
// PostgreSQL ends the delete, and the store runs it again instead of
// failing the request.
func TestDeletingAWebhookSurvivesADeadlockWithItsDeliveries(t *testing.T) {
	r := newDeliveryRig(t, nil)
	_, ids := r.publish(t, "evt-dl-1", "evt-dl-2", "evt-dl-3")
	ctx := context.Background()
	// The cascade deletes in heap order: hold the last row, so the delete
	// takes the others and then waits.
	var byCtid []string
	if err := r.db.SelectContext(ctx, &byCtid, `SELECT id FROM deliveries WHERE id = ANY($1) ORDER BY ctid`, pq.StringArray(ids)); err != nil {
		t.Fatal(err)
	}
	holder, err := r.db.BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Rollback()
	if _, err := holder.ExecContext(ctx, `SELECT 1 FROM deliveries WHERE id = $1 FOR UPDATE`, byCtid[len(byCtid)-1]); err != nil {
		t.Fatal(err)
	}
	deleted := make(chan error, 1)
	go func() { deleted <- (&store.Webhooks{DB: r.db}).Delete(ctx, r.webhook.ID) }()
	waitForLockWaiters(t, r.db, 1)
	// The delete waits first, so its deadlock check runs first and ends it.
	if _, err := holder.ExecContext(ctx, `SELECT 1 FROM deliveries WHERE id = $1 FOR UPDATE`, byCtid[0]); err != nil {
		t.Fatalf("the holder was chosen as the deadlock's victim: %v", err)
	}
	if err := holder.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := <-deleted; err != nil {
		t.Fatalf("delete failed instead of running again after the deadlock: %v", err)
	}
	var left int
	if err := r.db.GetContext(ctx, &left, `SELECT count(*) FROM deliveries WHERE webhook_id = $1`, r.webhook.ID); err != nil || left != 0 {
		t.Fatalf("%d deliveries left (%v)", left, err)
	}
}

// waitForLockWaiters waits until n sessions of this database wait for a lock.
func waitForLockWaiters(t *testing.T, db *sqlx.DB, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var waiting int
		if err := db.Get(&waiting, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`); err != nil {
			t.Fatal(err)
		}
		if waiting >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions wait for a lock after 10s, want %d", waiting, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A group's claim hands the deliveries of webhooks whose backlog is at work
// to that backlog in the same statement: they are never carried by the
// group, the group gets only the others, and a repeated claim (a retried
// call) neither returns nor moves what the backlog carries.
func TestClaimInBatchesHandsBusyWebhooksDeliveriesToTheirBacklog(t *testing.T) {
	r := newDeliveryRig(t, nil)
	ctx := context.Background()
	busy := r.addWebhook(t, "busy")
	evs := []domain.Event{
		{ID: "evt-claim-1", Type: "case.created", OccurredAt: time.Now().UTC(), Data: json.RawMessage(`{}`)},
		{ID: "evt-claim-2", Type: "case.created", OccurredAt: time.Now().UTC(), Data: json.RawMessage(`{}`)},
	}
	stored, err := r.events.StoreBatch(ctx, evs, planFor(evs, r.webhook, busy))
	if err != nil {
		t.Fatal(err)
	}
	group, backlog := "delivery-batch-"+stored.BatchID, "delivery-backlog-busy-"+busy.ID
	backlogs := map[string]string{busy.ID: backlog}
	carriers := func() map[string]string {
		t.Helper()
		var rows []struct {
			Webhook string `db:"webhook_id"`
			Carrier string `db:"workflow_id"`
		}
		if err := r.db.Select(&rows, `SELECT webhook_id, workflow_id FROM deliveries WHERE batch_id = $1`, stored.BatchID); err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, row := range rows {
			if prev, ok := out[row.Webhook]; ok && prev != row.Carrier {
				t.Fatalf("webhook %s's deliveries have two carriers: %s and %s", row.Webhook, prev, row.Carrier)
			}
			out[row.Webhook] = row.Carrier
		}
		return out
	}
	for call := 1; call <= 2; call++ {
		own, handed, err := r.deliveries.ClaimInBatches(ctx, []string{stored.BatchID}, group, backlogs)
		if err != nil {
			t.Fatal(err)
		}
		wantHanded := 2
		if call == 2 {
			wantHanded = 0 // already the backlog's: not the group's to move
		}
		if len(own) != 2 || handed != wantHanded {
			t.Fatalf("call %d: the group got %d deliveries and handed %d over; want 2 and %d", call, len(own), handed, wantHanded)
		}
		for _, d := range own {
			if d.WebhookID != r.webhook.ID {
				t.Fatalf("call %d: the group claimed %s of the busy webhook", call, d.ID)
			}
		}
		if c := carriers(); c[r.webhook.ID] != group || c[busy.ID] != backlog {
			t.Fatalf("call %d: carriers %v; want the healthy webhook's by %s, the busy one's by %s", call, c, group, backlog)
		}
	}
}

// A batch stored into a named group (StoreBatchIn) has its unordered
// deliveries carried by the group's workflow from the start: that
// workflow's claim reads them without writing them (but still hands a busy
// webhook's to its backlog, and claims a loose batch's beside them), and
// no other workflow can claim them.
func TestClaimReadsDeliveriesStoredCarriedByTheClaimer(t *testing.T) {
	r := newDeliveryRig(t, nil)
	ctx := context.Background()
	busy := r.addWebhook(t, "busy")
	ordered := r.addWebhook(t, "ordered")
	if _, err := r.db.Exec(`UPDATE webhooks SET ordered = true WHERE id = $1`, ordered.ID); err != nil {
		t.Fatal(err)
	}
	ordered.Ordered = true
	ev := func(id string) []domain.Event {
		return []domain.Event{{ID: id, Type: "case.created", OccurredAt: time.Now().UTC(), Data: json.RawMessage(`{}`)}}
	}
	group, carrier, backlog := "grp_named", "delivery-batch-grp_named", "delivery-backlog-busy-"+busy.ID
	named, err := r.events.StoreBatchIn(ctx, ev("evt-named"), planFor(ev("evt-named"), r.webhook, busy, ordered),
		store.Joining{Group: group, Carrier: carrier})
	if err != nil {
		t.Fatal(err)
	}
	loose, err := r.events.StoreBatch(ctx, ev("evt-loose"), planFor(ev("evt-loose"), r.webhook))
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		Webhook string `db:"webhook_id"`
		Carrier string `db:"workflow_id"`
		Xmin    string `db:"xmin"` // changes with every write of the row
	}
	rows := func() []row {
		t.Helper()
		var out []row
		if err := r.db.Select(&out, `SELECT webhook_id, workflow_id, xmin::text FROM deliveries WHERE batch_id = $1 ORDER BY seq`, named.BatchID); err != nil {
			t.Fatal(err)
		}
		return out
	}
	stored := rows()
	var g string
	if err := r.db.Get(&g, `SELECT dispatch_group FROM publish_batches WHERE id = $1`, named.BatchID); err != nil || g != group {
		t.Fatalf("the batch's dispatch group is %q (%v), want %s", g, err, group)
	}
	if len(stored) != 3 || stored[0].Carrier != carrier || stored[1].Carrier != carrier || stored[2].Carrier != "" {
		t.Fatalf("stored %+v; want the unordered deliveries carried by %s, the ordered one by no one (its queue takes it)", stored, carrier)
	}

	// Another workflow (a group under another name) gets none of them.
	if own, handed, err := r.deliveries.ClaimInBatches(ctx, []string{named.BatchID}, "delivery-batch-other", nil); err != nil || len(own) != 0 || handed != 0 {
		t.Fatalf("another workflow claimed %d and handed %d (%v)", len(own), handed, err)
	}
	for call := 1; call <= 2; call++ {
		own, handed, err := r.deliveries.ClaimInBatches(ctx, []string{named.BatchID, loose.BatchID}, carrier, map[string]string{busy.ID: backlog})
		if err != nil {
			t.Fatal(err)
		}
		if wantHanded := map[int]int{1: 1, 2: 0}[call]; len(own) != 2 || handed != wantHanded {
			t.Fatalf("call %d: got %d deliveries and handed %d over; want 2 and %d", call, len(own), handed, wantHanded)
		}
		for _, d := range own {
			if d.WebhookID != r.webhook.ID || d.WorkflowID != carrier || d.EventType != "case.created" {
				t.Fatalf("call %d: got %+v", call, d)
			}
		}
	}
	after := rows()
	if after[0].Xmin != stored[0].Xmin || after[0].Carrier != carrier {
		t.Fatalf("the healthy webhook's delivery was written by the claim: %+v, stored %+v", after[0], stored[0])
	}
	if after[1].Carrier != backlog {
		t.Fatalf("the busy webhook's delivery is carried by %s, want its backlog", after[1].Carrier)
	}
	var looseCarrier string
	if err := r.db.Get(&looseCarrier, `SELECT workflow_id FROM deliveries WHERE batch_id = $1`, loose.BatchID); err != nil || looseCarrier != carrier {
		t.Fatalf("the loose batch's delivery is carried by %q (%v), want %s", looseCarrier, err, carrier)
	}
}
