package activities_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"

	"github.com/jmoiron/sqlx"

	"github.com/triggerflow/triggerflow/activities"
	"github.com/triggerflow/triggerflow/domain"
	"github.com/triggerflow/triggerflow/internal/testkit"
	"github.com/triggerflow/triggerflow/store"
)

// recordingStarter stands in for Temporal when DeliverBatch hands a
// delivery to its own workflow: it records the hand-overs.
type recordingStarter struct {
	mu    sync.Mutex
	items []activities.RetryItem
	wakes []string
}

func (s *recordingStarter) StartDeliveryRetry(_ context.Context, _ client.Client, item activities.RetryItem) (string, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.items = append(s.items, item)
	return "delivery-" + item.DeliveryID, "run", nil
}

func (s *recordingStarter) DeliveryWorkflowID(id string) string { return "delivery-" + id }

func (s *recordingStarter) WakeBacklog(_ context.Context, _ client.Client, webhookID, _ string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.wakes = append(s.wakes, webhookID)
	return nil
}

func (s *recordingStarter) BacklogWorkflowID(webhookID, _ string) string {
	return "backlog-" + webhookID
}

func (s *recordingStarter) woken() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.wakes...)
}

func (s *recordingStarter) handedOver() []activities.RetryItem {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]activities.RetryItem(nil), s.items...)
}

// batchFixture is a database with webhooks to real receivers and one
// publish batch holding a delivery per (webhook, event).
type batchFixture struct {
	db      *sqlx.DB
	acts    *activities.Webhooks
	starter *recordingStarter
	batch   string
	hooks   map[string]*domain.Webhook
}

type hookSpec struct {
	code    string
	url     string
	timeout time.Duration
	retry   domain.RetryPolicy
}

func newBatchFixture(t *testing.T, events int, specs ...hookSpec) *batchFixture {
	t.Helper()
	db := testkit.DB(t)
	ctx := context.Background()
	fx := &batchFixture{db: db, starter: &recordingStarter{}, hooks: map[string]*domain.Webhook{}}
	policy, err := activities.NewEgressPolicy([]string{"127.0.0.0/8"})
	if err != nil {
		t.Fatal(err)
	}
	fx.acts = &activities.Webhooks{Deliveries: &store.Deliveries{DB: db}, Webhooks: &store.Webhooks{DB: db},
		HTTP: activities.NewHTTPClient(policy), Starter: fx.starter}
	for _, sp := range specs {
		w := &domain.Webhook{Name: sp.code, Code: sp.code, URL: sp.url, EventTypes: []string{"case.created"}, Enabled: true,
			Secret: activities.NewSigningSecret(), Timeout: sp.timeout, Retry: sp.retry}
		w.Normalize()
		if err := fx.acts.Webhooks.Create(ctx, w); err != nil {
			t.Fatal(err)
		}
		fx.hooks[sp.code] = w
	}
	fx.newBatch(t, "evt", events)
	return fx
}

// newBatch stores events named prefix-NNN with a delivery to each of the
// fixture's webhooks, as one publish batch, which becomes fx.batch.
func (fx *batchFixture) newBatch(t *testing.T, prefix string, events int) {
	t.Helper()
	evs := make([]domain.Event, events)
	for i := range evs {
		evs[i] = domain.Event{ID: fmt.Sprintf("%s-%03d", prefix, i), Type: "case.created", OccurredAt: time.Now().UTC(), Data: json.RawMessage(`{}`)}
	}
	var pl store.Plan
	for _, e := range evs {
		for _, w := range fx.hooks {
			pl.Deliveries = append(pl.Deliveries, store.PlannedDelivery{ID: store.NewID(store.PrefixDelivery),
				WebhookID: w.ID, EventID: e.ID, WebhookCode: w.Code})
		}
	}
	stored, err := (&store.Events{DB: fx.db}).StoreBatch(context.Background(), evs, pl)
	if err != nil {
		t.Fatal(err)
	}
	fx.batch = stored.BatchID
}

// deliver runs one DeliverBatch call whose activity context derives from ctx.
func (fx *batchFixture) deliver(ctx context.Context) (activities.DeliverBatchResult, error) {
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestActivityEnvironment()
	env.SetWorkerOptions(worker.Options{BackgroundActivityContext: ctx})
	env.RegisterActivity(fx.acts)
	val, err := env.ExecuteActivity(fx.acts.DeliverBatch, activities.DeliverBatchInput{BatchID: fx.batch})
	var res activities.DeliverBatchResult
	if err == nil {
		err = val.Get(&res)
	}
	return res, err
}

// statuses counts a webhook's deliveries by status.
func (fx *batchFixture) statuses(t *testing.T, code string) map[string]int {
	t.Helper()
	out, err := (&store.Deliveries{DB: fx.db}).CountByStatus(context.Background(), fx.hooks[code].ID)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (fx *batchFixture) attempts(t *testing.T, code string) []store.Attempt {
	t.Helper()
	var out []store.Attempt
	if err := fx.db.Select(&out, `SELECT a.* FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery_id
		WHERE d.webhook_id = $1 ORDER BY a.id`, fx.hooks[code].ID); err != nil {
		t.Fatal(err)
	}
	return out
}

// A slow receiver fills only its own lane: the healthy webhook's deliveries
// in the same group all go out at once and are recorded while the slow
// ones are still waiting; timeouts are FAILED attempts with their duration,
// handed to their own workflows to be retried by policy; once the receiver
// has answered that slowly, the lane hands the rest to the webhook's
// backlog instead of keeping the group open.
func TestDeliverBatchKeepsAHealthyWebhookClearOfASlowOne(t *testing.T) {
	healthy, slow := testkit.NewReceiver(t), testkit.NewReceiver(t)
	slow.Script(func(int, testkit.Received) testkit.Response {
		return testkit.Response{Status: 200, Delay: 3 * time.Second}
	})
	retry := domain.RetryPolicy{InitialInterval: domain.Duration(time.Minute), MaxAttempts: 3}
	fx := newBatchFixture(t, 20,
		hookSpec{code: "slow", url: slow.URL + "/s", timeout: time.Second, retry: retry},
		hookSpec{code: "healthy", url: healthy.URL + "/h", timeout: 5 * time.Second, retry: retry})
	fx.acts.Concurrency, fx.acts.Budget = 2, 2*time.Second

	start := time.Now()
	done := make(chan struct{})
	var res activities.DeliverBatchResult
	var err error
	go func() { defer close(done); res, err = fx.deliver(context.Background()) }()
	// Healthy deliveries are recorded while the call still runs.
	testkit.Eventually(t, 10*time.Second, "healthy deliveries recorded during the call", func() bool {
		return fx.statuses(t, "healthy")[domain.DeliverySucceeded] == 20
	})
	select {
	case <-done:
		t.Fatal("the call ended before the slow lane's budget; the healthy records were not early")
	default:
	}
	recordedBy := time.Since(start)
	<-done
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	if recordedBy > 2*time.Second {
		t.Fatalf("healthy deliveries recorded after %s: they waited behind the slow lane", recordedBy)
	}
	if took > fx.acts.Budget+time.Second+time.Second {
		t.Fatalf("the call took %s; its budget (%s) plus one timeout (1s) bounds it", took, fx.acts.Budget)
	}
	if n := len(healthy.Requests()); n != 20 {
		t.Fatalf("healthy receiver got %d requests, want 20", n)
	}
	tried := fx.statuses(t, "slow")[domain.DeliveryPending]
	if res.Backlogged == 0 || res.Backlogged+res.Left >= 20 || res.Succeeded != 20 {
		t.Fatalf("result %+v: want the 20 healthy ones done, the slow ones after the first round handed to the backlog", res)
	}
	atts := fx.attempts(t, "slow")
	if len(atts) != 20-res.Left-res.Backlogged || tried != 20 {
		t.Fatalf("%d slow attempts recorded, %d left, %d backlogged, %d pending", len(atts), res.Left, res.Backlogged, tried)
	}
	for _, a := range atts {
		if a.Result != store.AttemptFailed || !strings.Contains(a.Error, "timed out") || a.DurationMS < 900 || a.DurationMS > 2500 {
			t.Fatalf("slow attempt: result %s error %q duration %d ms; want a FAILED timeout of ~1s", a.Result, a.Error, a.DurationMS)
		}
	}
	if n := len(fx.starter.handedOver()); n != len(atts) {
		t.Fatalf("%d timed-out deliveries handed to their own workflows, want %d", n, len(atts))
	}
	for _, item := range fx.starter.handedOver() {
		if item.FirstDelay < 50*time.Second || item.FirstDelay > time.Minute {
			t.Fatalf("retry after %s, want the policy's 1m", item.FirstDelay)
		}
	}
	// The next call finds nothing of the group's left to send twice.
	res2, err := fx.deliver(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := len(fx.attempts(t, "slow")); got != len(atts)+(res.Left-res2.Left) || len(healthy.Requests()) != 20 {
		t.Fatalf("after the second call: %d slow attempts, healthy got %d", got, len(healthy.Requests()))
	}
}

// A call starts requests only within its budget and leaves the rest for
// the next call, which sends them and nothing twice (a receiver slower than
// the budget allows, though not slow enough for its backlog).
func TestACallStartsRequestsOnlyWithinItsBudget(t *testing.T) {
	rc := testkit.NewReceiver(t)
	rc.Script(func(int, testkit.Received) testkit.Response {
		return testkit.Response{Status: 200, Delay: 700 * time.Millisecond}
	})
	fx := newBatchFixture(t, 10, hookSpec{code: "steady", url: rc.URL + "/s", timeout: 5 * time.Second})
	fx.acts.Concurrency, fx.acts.Budget = 2, 2*time.Second
	start := time.Now()
	res, err := fx.deliver(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > fx.acts.Budget+time.Second || res.Left == 0 || res.Left >= 10 || res.Succeeded != 10-res.Left || res.Backlogged != 0 {
		t.Fatalf("first call: %+v in %s; want some sent within the 2s budget, the rest left", res, took)
	}
	res2, err := fx.deliver(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res2.Succeeded != res.Left || rc.Count() != 10 {
		t.Fatalf("second call: %+v, receiver got %d; want the %d left sent, each delivery once", res2, rc.Count(), res.Left)
	}
}

// A call stopped midway (a worker killed, say) is retried and sends only
// what was never recorded: deliveries whose attempts were recorded are not
// sent again.
func TestARetriedDeliverBatchSendsOnlyWhatWasNotRecorded(t *testing.T) {
	rc := testkit.NewReceiver(t)
	rc.Script(func(n int, r testkit.Received) testkit.Response {
		if strings.HasSuffix(r.Path, "/slow") {
			return testkit.Response{Status: 200, Delay: 4 * time.Second}
		}
		return testkit.Response{Status: 200}
	})
	fx := newBatchFixture(t, 10,
		hookSpec{code: "fast", url: rc.URL + "/fast", timeout: 10 * time.Second},
		hookSpec{code: "slowpoke", url: rc.URL + "/slow", timeout: 10 * time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := fx.deliver(ctx); done <- err }()
	testkit.Eventually(t, 10*time.Second, "fast deliveries recorded", func() bool {
		return fx.statuses(t, "fast")[domain.DeliverySucceeded] == 10
	})
	cancel() // the worker dies; the slow requests are in flight
	<-done
	if _, err := fx.deliver(context.Background()); err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, r := range rc.Requests() {
		count[r.Path+" "+r.Header.Get("Webhook-Id")]++
	}
	for k, n := range count {
		if strings.HasPrefix(k, "/fast") && n != 1 {
			t.Fatalf("%s sent %d times; a recorded delivery was sent again", k, n)
		}
	}
	if fx.statuses(t, "slowpoke")[domain.DeliverySucceeded] != 10 || fx.statuses(t, "fast")[domain.DeliverySucceeded] != 10 {
		t.Fatalf("after the retried call: fast %v slow %v", fx.statuses(t, "fast"), fx.statuses(t, "slowpoke"))
	}
}

// A delivery of a disabled webhook is parked in the group's first call:
// no request, no workflow, waiting for the webhook to be enabled.
func TestDeliverBatchParksDeliveriesOfADisabledWebhook(t *testing.T) {
	rc := testkit.NewReceiver(t)
	fx := newBatchFixture(t, 5, hookSpec{code: "off", url: rc.URL + "/off", timeout: time.Second})
	if _, err := fx.acts.Webhooks.SetEnabled(context.Background(), []string{"off"}, false); err != nil {
		t.Fatal(err)
	}
	res, err := fx.deliver(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var parked int
	if err := fx.db.Get(&parked, `SELECT count(*) FROM deliveries WHERE parked_at IS NOT NULL AND status = 'pending' AND workflow_id = ''`); err != nil {
		t.Fatal(err)
	}
	if res.Parked != 5 || parked != 5 || rc.Count() != 0 || len(fx.starter.handedOver()) != 0 {
		t.Fatalf("result %+v, %d parked rows, %d requests, %d hand-overs", res, parked, rc.Count(), len(fx.starter.handedOver()))
	}
}

// drain runs one DrainBacklog call as the backlog workflow of webhook code
// would: the test activity environment's workflow id stands in for the
// backlog workflow's, so the backlog is handed to it first.
func (fx *batchFixture) drain(t *testing.T, code string) activities.DrainBacklogResult {
	t.Helper()
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestActivityEnvironment()
	env.RegisterActivity(fx.acts)
	const testWorkflowID = "default-test-workflow-id"
	w := fx.hooks[code]
	if _, err := fx.db.Exec(`UPDATE deliveries SET workflow_id = $2 WHERE workflow_id = $1`,
		fx.starter.BacklogWorkflowID(w.ID, w.Code), testWorkflowID); err != nil {
		t.Fatal(err)
	}
	val, err := env.ExecuteActivity(fx.acts.DrainBacklog, activities.DrainBacklogInput{WebhookID: w.ID})
	if err != nil {
		t.Fatal(err)
	}
	var res activities.DrainBacklogResult
	if err := val.Get(&res); err != nil {
		t.Fatal(err)
	}
	return res
}

// A webhook with no request to spare (a receiver at its limit, its
// requests all held by other groups) does not keep a group waiting or
// calling again: after a short wait the lane hands its deliveries to the
// webhook's backlog workflow (woken once), the group's other webhooks are
// served, and the call ends with nothing left. The backlog's call then
// sends them, waiting for requests to free up rather than giving up.
func TestDeliverBatchHandsAStarvedLaneToItsWebhooksBacklog(t *testing.T) {
	healthy, busy := testkit.NewReceiver(t), testkit.NewReceiver(t)
	fx := newBatchFixture(t, 10,
		hookSpec{code: "busy", url: busy.URL + "/b", timeout: 5 * time.Second},
		hookSpec{code: "healthy", url: healthy.URL + "/h", timeout: 5 * time.Second})
	fx.acts.MaxPerWebhook = 4
	release := activities.HoldRequests(fx.acts, fx.hooks["busy"].ID, 4)

	start := time.Now()
	res, err := fx.deliver(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("the call took %s waiting for the busy webhook", took)
	}
	if res.Succeeded != 10 || res.Backlogged != 10 || res.Left != 0 || busy.Count() != 0 || len(healthy.Requests()) != 10 {
		t.Fatalf("result %+v, busy got %d, healthy %d: want the healthy ten sent and the busy ten in the backlog",
			res, busy.Count(), len(healthy.Requests()))
	}
	w := fx.hooks["busy"]
	var carried int
	if err := fx.db.Get(&carried, `SELECT count(*) FROM deliveries WHERE webhook_id = $1 AND status = 'pending'
		AND workflow_id = $2`, w.ID, fx.starter.BacklogWorkflowID(w.ID, w.Code)); err != nil {
		t.Fatal(err)
	}
	if woken := fx.starter.woken(); carried != 10 || len(woken) != 1 || woken[0] != w.ID {
		t.Fatalf("%d deliveries carried by the backlog, wakes %v: want 10 and one wake", carried, woken)
	}

	// While the backlog is at work (every request of the webhook in use), a
	// later group's claim hands the webhook's deliveries to it at once:
	// they are never the group's, not even for a moment (every change of
	// carrier is logged from here on).
	for _, q := range []string{
		`CREATE TABLE carrier_log (delivery_id text, workflow_id text)`,
		`CREATE FUNCTION log_carrier() RETURNS trigger LANGUAGE plpgsql AS $$
			BEGIN INSERT INTO carrier_log VALUES (NEW.id, NEW.workflow_id); RETURN NEW; END $$`,
		`CREATE TRIGGER log_carrier AFTER UPDATE OF workflow_id ON deliveries FOR EACH ROW
			WHEN (OLD.workflow_id IS DISTINCT FROM NEW.workflow_id) EXECUTE FUNCTION log_carrier()`,
	} {
		if _, err := fx.db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	fx.newBatch(t, "later", 5)
	start = time.Now()
	res, err = fx.deliver(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// (A second wake, after the group's requests, comes only if a second
	// passed since the first: wakes are throttled.)
	if took := time.Since(start); took > 500*time.Millisecond || res.Backlogged != 5 || res.Succeeded != 5 || len(fx.starter.woken()) > 2 {
		t.Fatalf("later group: %+v in %s, wakes %v; want its 5 busy deliveries joined to the backlog at once",
			res, took, fx.starter.woken())
	}
	for _, id := range fx.starter.woken() {
		if id != w.ID {
			t.Fatalf("woke the backlog of %s, not only the busy webhook's", id)
		}
	}
	var changes []string
	if err := fx.db.Select(&changes, `SELECT l.workflow_id FROM carrier_log l JOIN deliveries d ON d.id = l.delivery_id
		WHERE d.webhook_id = $1`, w.ID); err != nil {
		t.Fatal(err)
	}
	for _, c := range changes {
		if c != fx.starter.BacklogWorkflowID(w.ID, w.Code) {
			t.Fatalf("a later busy delivery was carried by %s before the backlog (changes %v)", c, changes)
		}
	}
	if len(changes) != 5 {
		t.Fatalf("carrier changes of the later busy deliveries: %v; want one each, to the backlog", changes)
	}

	// The backlog waits for the held requests instead of giving up.
	time.AfterFunc(500*time.Millisecond, release)
	dr := fx.drain(t, "busy")
	if dr.Taken != 15 || dr.Succeeded != 15 || dr.Left != 0 || busy.Count() != 15 {
		t.Fatalf("drain %+v, busy got %d: want all fifteen sent once", dr, busy.Count())
	}
	if got := fx.statuses(t, "busy")[domain.DeliverySucceeded]; got != 15 {
		t.Fatalf("%d busy deliveries succeeded, want 15", got)
	}
	if dr := fx.drain(t, "busy"); dr.Taken != 0 || busy.Count() != 15 {
		t.Fatalf("a second drain %+v sent again (busy got %d)", dr, busy.Count())
	}
}

// A deleted webhook's backlog call says so, and its workflow ends.
func TestDrainBacklogOfADeletedWebhookIsGone(t *testing.T) {
	rc := testkit.NewReceiver(t)
	fx := newBatchFixture(t, 1, hookSpec{code: "gone", url: rc.URL, timeout: time.Second})
	if err := fx.acts.Webhooks.Delete(context.Background(), fx.hooks["gone"].ID); err != nil {
		t.Fatal(err)
	}
	if res := fx.drain(t, "gone"); !res.Gone || rc.Count() != 0 {
		t.Fatalf("drain of a deleted webhook: %+v, %d requests", res, rc.Count())
	}
}

// A webhook disabled while deliveries wait in its backlog: the backlog's
// next call parks them (no request, no workflow), as a group would, so
// enabling the webhook hands them over again.
func TestDrainBacklogParksADisabledWebhooksBacklog(t *testing.T) {
	rc := testkit.NewReceiver(t)
	fx := newBatchFixture(t, 4, hookSpec{code: "paused", url: rc.URL, timeout: time.Second})
	w := fx.hooks["paused"]
	if _, err := fx.db.Exec(`UPDATE deliveries SET workflow_id = $2 WHERE webhook_id = $1`,
		w.ID, fx.starter.BacklogWorkflowID(w.ID, w.Code)); err != nil {
		t.Fatal(err)
	}
	if _, err := fx.acts.Webhooks.SetEnabled(context.Background(), []string{"paused"}, false); err != nil {
		t.Fatal(err)
	}
	res := fx.drain(t, "paused")
	var parked int
	if err := fx.db.Get(&parked, `SELECT count(*) FROM deliveries WHERE webhook_id = $1 AND parked_at IS NOT NULL
		AND workflow_id = '' AND status = 'pending'`, w.ID); err != nil {
		t.Fatal(err)
	}
	if res.Taken != 4 || res.Parked != 4 || parked != 4 || rc.Count() != 0 {
		t.Fatalf("drain %+v, %d parked rows, %d requests: want the four parked, none sent", res, parked, rc.Count())
	}
	if res := fx.drain(t, "paused"); res.Taken != 0 {
		t.Fatalf("a parked delivery is still in the backlog: %+v", res)
	}
}

// A receiver at its limit is one that answers slowly: once its last answer
// took a second or more, a group's lane that finds all of its requests in
// use hands its deliveries to the backlog at once — it neither waits a
// second for a request nor, when few groups share the requests (each gets
// one now and then), keeps its group open for as long as they all take.
func TestALaneHandsASlowReceiversDeliveriesOverAtOnceWhenItsRequestsAreInUse(t *testing.T) {
	slow := testkit.NewReceiver(t)
	slow.Script(func(int, testkit.Received) testkit.Response {
		time.Sleep(1100 * time.Millisecond)
		return testkit.Response{Status: 200}
	})
	fx := newBatchFixture(t, 2, hookSpec{code: "slow", url: slow.URL + "/s", timeout: 5 * time.Second})
	fx.acts.MaxPerWebhook = 2
	// The first group sends both of its deliveries: the receiver answered,
	// slowly.
	if res, err := fx.deliver(context.Background()); err != nil || res.Succeeded != 2 {
		t.Fatalf("first group: %+v, %v", res, err)
	}
	release := activities.HoldRequests(fx.acts, fx.hooks["slow"].ID, 2) // its requests in use elsewhere
	fx.newBatch(t, "later", 5)
	start := time.Now()
	res, err := fx.deliver(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 500*time.Millisecond || res.Backlogged != 5 || slow.Count() != 2 {
		t.Fatalf("later group: %+v in %s, receiver got %d; want its 5 deliveries handed to the backlog at once", res, took, slow.Count())
	}

	// With its requests free, a lane sends one round (its 2 requests) and
	// hands the rest over, rather than keep its group open round after
	// round.
	release()
	fx.acts.Concurrency = 2
	fx.newBatch(t, "round", 6)
	start = time.Now()
	if res, err = fx.deliver(context.Background()); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 2*time.Second || res.Succeeded != 2 || res.Backlogged != 4 {
		t.Fatalf("group of 6: %+v in %s; want one round of 2 sent and 4 handed to the backlog", res, took)
	}
}
