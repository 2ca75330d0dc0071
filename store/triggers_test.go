package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/triggerflow/triggerflow/matching"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/triggerflow/triggerflow/domain"
	"github.com/triggerflow/triggerflow/internal/testkit"
	"github.com/triggerflow/triggerflow/store"
)

// insertFlowRow stores a flow without the flow repository, so these tests
// need only the schema.
func insertFlowRow(t *testing.T, db *sqlx.DB, name, typ string) string {
	t.Helper()
	id := store.NewID(store.PrefixFlow)
	steps := `[{"name": "say", "action": "log", "params": {"message": "hi"}}]`
	db.MustExec(`INSERT INTO flows (id, name, type, steps) VALUES ($1, $2, $3, $4)`, id, name, typ, steps)
	db.MustExec(`INSERT INTO flow_versions (flow_id, version, steps) VALUES ($1, 1, $2)`, id, steps)
	return id
}

// listen opens a LISTEN on the definitions channel of the database at url.
func listen(t *testing.T, url string) *pq.Listener {
	t.Helper()
	l := pq.NewListener(url, 10*time.Millisecond, time.Second, nil)
	if err := l.Listen(store.NotifyChannel); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func expectNotify(t *testing.T, l *pq.Listener, payload string) {
	t.Helper()
	select {
	case n := <-l.Notify:
		if n == nil || n.Extra != payload {
			t.Fatalf("notification %+v, want %q", n, payload)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("no notification %q", payload)
	}
}

func TestTriggersResolveFlowsNotifyAndFeedTheIndex(t *testing.T) {
	ctx := context.Background()
	url := testkit.DatabaseURL(t)
	db, err := store.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	l := listen(t, url)
	flowID := insertFlowRow(t, db, "notify", domain.FlowTypeService)
	insertFlowRow(t, db, "ivr", "default")
	changes := 0
	index := matching.NewIndex(db, testkit.Logger())
	triggers := &store.Triggers{DB: db, OnChange: func() { changes++; index.Invalidate() }}

	// The flow may be named by name; the id is saved.
	tr := &domain.Trigger{Name: "Urgent", Type: domain.TriggerOnEvent, Flow: "notify", Object: "case", Event: "created",
		Conditions: []domain.Condition{{Reference: "priority", Operator: "=", Value: "high"}}, Enabled: true}
	tr.Normalize()
	if err := triggers.Create(ctx, tr); err != nil {
		t.Fatal(err)
	}
	if tr.Flow != flowID || tr.FlowName != "notify" || changes != 1 {
		t.Fatalf("created %+v, changes %d", tr, changes)
	}
	expectNotify(t, l, "trigger:"+tr.ID)
	got, err := triggers.Get(ctx, tr.ID)
	if err != nil || got.Flow != flowID || got.FlowName != "notify" || got.Actions != nil || len(got.Conditions) != 1 || got.Timeout != 5*time.Minute {
		t.Fatalf("get = %+v, %v", got, err)
	}

	// Unknown and non-service flows are field errors on "flow"; nothing is saved.
	for ref, want := range map[string]string{"nope": "no flow has", "ivr": "service"} {
		bad := *tr
		bad.ID, bad.Flow = "", ref
		err := triggers.Create(ctx, &bad)
		var ve *domain.ValidationError
		if !errors.As(err, &ve) || ve.Fields["flow"] == "" {
			t.Fatalf("flow %q: %v, want a field error on flow (%s)", ref, err, want)
		}
	}
	var list domain.List[*domain.Trigger]
	if list, err = triggers.List(ctx, store.TriggerFilter{}, domain.Page{Number: 1, PerPage: 10}); err != nil || list.Total != 1 {
		t.Fatalf("refused triggers saved: %d, %v", list.Total, err)
	}

	// The index matches the enabled on_event trigger by type and conditions.
	match := func(id, typ, data string) []matching.RunTarget {
		t.Helper()
		m, err := index.Match(ctx, []domain.Event{{ID: id, Type: typ, Data: []byte(data)}})
		if err != nil {
			t.Fatal(err)
		}
		return m[id].Runs
	}
	if runs := match("e1", "case.created", `{"priority": "high"}`); len(runs) != 1 || runs[0].TriggerID != tr.ID || runs[0].FlowID != flowID {
		t.Fatalf("matching event: %+v", runs)
	}
	if runs := match("e2", "case.created", `{"priority": "low"}`); len(runs) != 0 {
		t.Fatalf("conditions not applied: %+v", runs)
	}
	// Actions instead of a flow: matched with no flow id.
	ip := &domain.Trigger{Name: "Move", Type: domain.TriggerOnEvent, Object: "lead", Event: "outcome_predictive", Enabled: true,
		Actions: []domain.TriggerAction{{Action: "lead.update.list", Parameters: map[string]any{"listId": "10"}}}}
	ip.Normalize()
	if err := triggers.Create(ctx, ip); err != nil {
		t.Fatal(err)
	}
	expectNotify(t, l, "trigger:"+ip.ID)
	if got, _ := triggers.Get(ctx, ip.ID); got.Flow != "" || len(got.Actions) != 1 || got.Actions[0].Parameters["listId"] != "10" {
		t.Fatalf("actions trigger = %+v", got)
	}
	if runs := match("e3", "lead.outcome_predictive", `{}`); len(runs) != 1 || runs[0].TriggerID != ip.ID || runs[0].FlowID != "" {
		t.Fatalf("actions trigger match: %+v", runs)
	}

	// Disabling takes it out of the index at once.
	refs, err := triggers.SetEnabled(ctx, []string{tr.ID, "trg_missing"}, false)
	if err != nil || len(refs) != 1 || refs[0].ID != tr.ID || refs[0].Type != domain.TriggerOnEvent || refs[0].Enabled {
		t.Fatalf("set enabled: %+v, %v", refs, err)
	}
	expectNotify(t, l, "triggers")
	if runs := match("e4", "case.created", `{"priority": "high"}`); len(runs) != 0 {
		t.Fatalf("disabled trigger still matches: %+v", runs)
	}

	// Update resolves the flow again and notifies.
	if got, err = triggers.Get(ctx, tr.ID); err != nil {
		t.Fatal(err)
	}
	got.Name, got.Flow = "Renamed", "notify"
	if err := triggers.Update(ctx, got); err != nil || got.Flow != flowID || got.Enabled {
		t.Fatalf("update: %v %+v", err, got)
	}
	expectNotify(t, l, "trigger:"+got.ID)
	if err := triggers.Update(ctx, &domain.Trigger{ID: "trg_missing", Name: "x", Type: domain.TriggerOnEvent, Flow: flowID}); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("update of a missing trigger: %v", err)
	}

	// Lists: filters and newest first.
	for f, want := range map[*store.TriggerFilter]int{
		{Type: domain.TriggerOnEvent}: 2, {Object: "lead"}: 1, {FlowID: flowID}: 1, {Text: "renamed"}: 1,
		{Enabled: ptr(true)}: 1, {Type: domain.TriggerAtTime}: 0,
	} {
		l, err := triggers.List(ctx, *f, domain.Page{Number: 1, PerPage: 10})
		if err != nil || l.Total != want {
			t.Errorf("filter %+v: %d (%v), want %d", *f, l.Total, err, want)
		}
	}
	list, _ = triggers.List(ctx, store.TriggerFilter{}, domain.Page{Number: 1, PerPage: 10})
	if list.Items[0].ID != ip.ID {
		t.Fatalf("not newest first: %s", list.Items[0].ID)
	}
	list, _ = triggers.List(ctx, store.TriggerFilter{}, domain.Page{Number: 1, PerPage: 10, Sort: "name"})
	if list.Items[0].Name != "Move" {
		t.Fatalf("sort by name: %s first", list.Items[0].Name)
	}

	deleted, err := triggers.DeleteMany(ctx, []string{tr.ID, ip.ID})
	if err != nil || len(deleted) != 2 {
		t.Fatalf("delete many: %v %v", deleted, err)
	}
	if err := triggers.Delete(ctx, tr.ID); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("delete of a deleted trigger: %v", err)
	}
	if _, err := triggers.Get(ctx, tr.ID); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("get of a deleted trigger: %v", err)
	}
}

func ptr[T any](v T) *T { return &v }

func TestQueueHooksAreScopedToTheirQueue(t *testing.T) {
	ctx := context.Background()
	db := testkit.DB(t)
	flowID := insertFlowRow(t, db, "callback", domain.FlowTypeService)
	changes := 0
	index := matching.NewIndex(db, testkit.Logger())
	hooks := &store.QueueHooks{DB: db, OnChange: func() { changes++; index.Invalidate() }}
	h := &domain.QueueHook{QueueID: "42", Event: "missed", Flow: "callback", Enabled: true}
	if err := hooks.Create(ctx, h); err != nil {
		t.Fatal(err)
	}
	if h.Flow != flowID || h.FlowName != "callback" || changes != 1 {
		t.Fatalf("created %+v", h)
	}
	if err := hooks.Create(ctx, &domain.QueueHook{QueueID: "42", Event: "missed", Flow: "nope"}); !errors.Is(err, domain.ErrInvalid) {
		t.Fatalf("unknown flow: %v", err)
	}
	if _, err := hooks.Get(ctx, "7", h.ID); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("hook read through another queue: %v", err)
	}
	if got, err := hooks.ByID(ctx, h.ID); err != nil || got.QueueID != "42" {
		t.Fatalf("by id: %+v %v", got, err)
	}
	match := func(id, typ, data string) []matching.RunTarget {
		m, err := index.Match(ctx, []domain.Event{{ID: id, Type: typ, Data: []byte(data)}})
		if err != nil {
			t.Fatal(err)
		}
		return m[id].Runs
	}
	if runs := match("a", "queue.missed", `{"queue_id": "42"}`); len(runs) != 1 || runs[0].QueueHookID != h.ID {
		t.Fatalf("match: %+v", runs)
	}
	if runs := match("b", "queue.missed", `{"queue_id": "7"}`); len(runs) != 0 {
		t.Fatalf("other queue matched: %+v", runs)
	}
	h.Event = "answered"
	if err := hooks.Update(ctx, h); err != nil {
		t.Fatal(err)
	}
	if runs := match("c", "queue.answered", `{"queue_id": 42}`); len(runs) != 1 {
		t.Fatalf("updated event not matched: %+v", runs)
	}
	if ids, err := hooks.SetEnabled(ctx, "7", []string{h.ID}, false); err != nil || len(ids) != 0 {
		t.Fatalf("switched through another queue: %v %v", ids, err)
	}
	if ids, err := hooks.SetEnabled(ctx, "42", []string{h.ID}, false); err != nil || len(ids) != 1 {
		t.Fatalf("switch: %v %v", ids, err)
	}
	if runs := match("d", "queue.answered", `{"queue_id": "42"}`); len(runs) != 0 {
		t.Fatalf("disabled hook matched: %+v", runs)
	}
	list, err := hooks.List(ctx, "42", store.QueueHookFilter{Enabled: ptr(false)}, domain.Page{Number: 1, PerPage: 10})
	if err != nil || list.Total != 1 {
		t.Fatalf("list: %d %v", list.Total, err)
	}
	if ids, err := hooks.DeleteMany(ctx, "42", []string{h.ID}); err != nil || len(ids) != 1 {
		t.Fatalf("delete many: %v %v", ids, err)
	}
	if err := hooks.Delete(ctx, "42", h.ID); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("delete of a deleted hook: %v", err)
	}
}

func TestRunsRecordIsIdempotentAndSearchFilters(t *testing.T) {
	ctx := context.Background()
	db := testkit.DB(t)
	runs := &store.Runs{DB: db}
	ns := func(s string) *string { return &s }
	first, err := runs.Record(ctx, &store.Run{TriggerID: ns("trg_1"), WorkflowID: "trigger-trg_1-2026-01-01T00:00:00Z", Status: domain.RunRunning, RunID: "r1"})
	if err != nil || first.Status != domain.RunRunning || first.RunID != "r1" || first.BatchID != "" {
		t.Fatalf("record: %+v %v", first, err)
	}
	again, err := runs.Record(ctx, &store.Run{TriggerID: ns("trg_1"), WorkflowID: "trigger-trg_1-2026-01-01T00:00:00Z"})
	if err != nil || again.ID != first.ID || again.Status != domain.RunRunning {
		t.Fatalf("second record of the same workflow: %+v %v", again, err)
	}
	pending, err := runs.Record(ctx, &store.Run{TriggerID: ns("trg_1"), EventID: ns("e1"), WorkflowID: "trigger-trg_1-e1"})
	if err != nil || pending.Status != domain.RunPending {
		t.Fatal(err, pending)
	}
	if _, err := runs.Record(ctx, &store.Run{QueueHookID: ns("qh_1"), WorkflowID: "trigger-qh_1-e1"}); err != nil {
		t.Fatal(err)
	}
	for f, want := range map[store.RunFilter]int{
		{TriggerID: "trg_1"}: 2, {TriggerID: "trg_1", Status: domain.RunRunning}: 1, {QueueHookID: "qh_1"}: 1, {TriggerID: "trg_2"}: 0,
	} {
		l, err := runs.Search(ctx, f, domain.Page{Number: 1, PerPage: 10})
		if err != nil || l.Total != want || len(l.Items) != want {
			t.Errorf("search %+v: %d (%v), want %d", f, l.Total, err, want)
		}
	}
	l, _ := runs.Search(ctx, store.RunFilter{TriggerID: "trg_1"}, domain.Page{Number: 1, PerPage: 10})
	if l.Items[0].ID != pending.ID {
		t.Fatalf("not newest first: %+v", l.Items)
	}
	// Discard removes only a run that never started.
	if err := runs.Discard(ctx, first.ID); err != nil {
		t.Fatal(err)
	}
	if err := runs.Discard(ctx, pending.ID); err != nil {
		t.Fatal(err)
	}
	l, _ = runs.Search(ctx, store.RunFilter{TriggerID: "trg_1"}, domain.Page{Number: 1, PerPage: 10})
	if l.Total != 1 || l.Items[0].ID != first.ID {
		t.Fatalf("after discard: %+v", l.Items)
	}
}
