package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/triggerflow/triggerflow/domain"
	"github.com/triggerflow/triggerflow/internal/testkit"
	"github.com/triggerflow/triggerflow/store"
)

func flowWithURL(name, url string) *domain.Flow {
	return &domain.Flow{Name: name, Type: domain.FlowTypeService, Steps: []domain.Step{
		{Name: "call", Action: "http.request", Params: map[string]any{"url": url, "n": json.Number("12345678901234567891")}},
	}}
}

func TestFlowVersionsAndNames(t *testing.T) {
	ctx := context.Background()
	db := testkit.DB(t)
	flows := &store.Flows{DB: db}

	f := flowWithURL("Case created", "https://a.example.com")
	if err := flows.Create(ctx, f); err != nil {
		t.Fatal(err)
	}
	if f.Version != 1 || !strings.HasPrefix(f.ID, store.PrefixFlow) {
		t.Fatalf("created %+v", f)
	}
	if err := flows.Create(ctx, flowWithURL("Case created", "https://b.example.com")); !errors.Is(err, store.ErrFlowNameTaken) || !errors.Is(err, domain.ErrConflict) {
		t.Fatalf("duplicate name: %v, want ErrFlowNameTaken", err)
	}
	byName, err := flows.Get(ctx, "Case created")
	if err != nil || byName.ID != f.ID || byName.Steps[0].Params["n"] != json.Number("12345678901234567891") {
		t.Fatalf("get by name = %+v, %v", byName, err)
	}

	// Description only: same version.
	f.Description = "tells the team"
	if err := flows.Update(ctx, f); err != nil || f.Version != 1 {
		t.Fatalf("update without step change: version %d, %v", f.Version, err)
	}
	// Steps change: version 2, version 1 kept.
	f.Steps[0].Params["url"] = "https://b.example.com"
	if err := flows.Update(ctx, f); err != nil || f.Version != 2 {
		t.Fatalf("update with step change: version %d, %v", f.Version, err)
	}
	v1, err := flows.Version(ctx, f.ID, 1)
	if err != nil || v1.Steps[0].Params["url"] != "https://a.example.com" {
		t.Fatalf("version 1 = %+v, %v", v1, err)
	}
	list, err := flows.Versions(ctx, f.ID, domain.Page{Number: 1, PerPage: 10})
	if err != nil || list.Total != 2 || list.Items[0].Version != 2 {
		t.Fatalf("versions = %+v, %v", list, err)
	}

	other := flowWithURL("Nightly", "https://c.example.com")
	other.Type = "default"
	if err := flows.Create(ctx, other); err != nil {
		t.Fatal(err)
	}
	page, err := flows.List(ctx, store.FlowFilter{Type: "service"}, domain.Page{Number: 1, PerPage: 10})
	if err != nil || page.Total != 1 || page.Items[0].ID != f.ID {
		t.Fatalf("list by type = %+v, %v", page, err)
	}
	page, err = flows.List(ctx, store.FlowFilter{Text: "team"}, domain.Page{Number: 1, PerPage: 10})
	if err != nil || page.Total != 1 {
		t.Fatalf("list by text = %+v, %v", page, err)
	}
	page, err = flows.List(ctx, store.FlowFilter{}, domain.Page{Number: 1, PerPage: 10, Sort: "name"})
	if err != nil || page.Total != 2 || page.Items[0].Name != "Case created" {
		t.Fatalf("list by name = %+v, %v", page, err)
	}
	other.Name = "Case created"
	if err := flows.Update(ctx, other); !errors.Is(err, store.ErrFlowNameTaken) {
		t.Fatalf("rename onto a taken name: %v", err)
	}
}

func TestFlowInUseCannotBeDeletedOrRetyped(t *testing.T) {
	ctx := context.Background()
	db := testkit.DB(t)
	flows := &store.Flows{DB: db}
	f := flowWithURL("Used", "https://a.example.com")
	if err := flows.Create(ctx, f); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO triggers (id, name, type, flow_id) VALUES ('trg_1', 'Nightly report', 'at_time', $1)`, f.ID); err != nil {
		t.Fatal(err)
	}
	err := flows.Delete(ctx, f.ID)
	if !errors.Is(err, domain.ErrConflict) || !strings.Contains(err.Error(), "Nightly report") {
		t.Fatalf("delete of a used flow: %v", err)
	}
	f.Type = "chat"
	if err := flows.Update(ctx, f); !errors.Is(err, domain.ErrConflict) {
		t.Fatalf("retyping a used flow: %v", err)
	}
	if _, err := db.ExecContext(ctx, `DELETE FROM triggers`); err != nil {
		t.Fatal(err)
	}
	if err := flows.Delete(ctx, f.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := flows.Get(ctx, f.ID); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("deleted flow still found: %v", err)
	}
	if _, err := flows.Version(ctx, f.ID, 1); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("versions of a deleted flow remain: %v", err)
	}
}

func TestRunBookkeeping(t *testing.T) {
	ctx := context.Background()
	db := testkit.DB(t)
	runs := &store.Runs{DB: db}
	flows := &store.Flows{DB: db}
	f := flowWithURL("F", "https://a.example.com")
	if err := flows.Create(ctx, f); err != nil {
		t.Fatal(err)
	}
	r, err := runs.Record(ctx, &store.Run{FlowID: &f.ID, WorkflowID: "trigger-x-1"})
	if err != nil {
		t.Fatal(err)
	}
	r, err = runs.MarkRunning(ctx, r.ID, "trigger-x-1", "temporal-run-1")
	if err != nil || r.Status != domain.RunRunning || r.RunID != "temporal-run-1" {
		t.Fatalf("mark running = %+v, %v", r, err)
	}
	flowID, v, err := runs.PinFlowVersion(ctx, r.ID, f.ID, 1)
	if err != nil || flowID != f.ID || v != 1 {
		t.Fatalf("pin = %s %d %v", flowID, v, err)
	}
	// A later pin (a retried activity after an edit) keeps the first.
	if _, v, _ = runs.PinFlowVersion(ctx, r.ID, f.ID, 2); v != 1 {
		t.Fatalf("re-pin moved the version to %d", v)
	}
	now := time.Now().UTC()
	outcome := store.RunOutcome{ID: r.ID, Status: domain.RunFailed, Error: "HTTP 500", FailedStep: "call",
		Steps: []domain.StepOutcome{{Name: "call", Action: "http.request", Status: domain.StepFailed, Error: "HTTP 500", StartedAt: &now}}}
	if err := runs.Finish(ctx, outcome); err != nil {
		t.Fatal(err)
	}
	got, err := runs.Find(ctx, r.ID)
	if err != nil || got.Status != domain.RunFailed || got.FailedStep != "call" || got.FinishedAt == nil {
		t.Fatalf("finished run = %+v, %v", got, err)
	}
	steps, err := runs.StepsOf(ctx, r.ID)
	if err != nil || len(steps) != 1 || steps[0].Error != "HTTP 500" {
		t.Fatalf("steps = %+v, %v", steps, err)
	}
	// The same Temporal run marking again changes nothing; a new Temporal
	// run under the same workflow id begins afresh.
	if again, _ := runs.MarkRunning(ctx, r.ID, "trigger-x-1", "temporal-run-1"); again.Status != domain.RunFailed {
		t.Fatalf("retried mark reopened the run: %+v", again)
	}
	if again, _ := runs.MarkRunning(ctx, r.ID, "trigger-x-1", "temporal-run-2"); again.Status != domain.RunRunning || again.FailedStep != "" {
		t.Fatalf("new run under the same id: %+v", again)
	}
	list, err := runs.ByFlow(ctx, f.ID, domain.RunRunning, domain.Page{Number: 1, PerPage: 10})
	if err != nil || list.Total != 1 {
		t.Fatalf("by flow = %+v, %v", list, err)
	}
	byWF, err := runs.FindByWorkflow(ctx, "trigger-x-1")
	if err != nil || byWF.ID != r.ID {
		t.Fatalf("by workflow = %+v, %v", byWF, err)
	}
	if err := runs.Finish(ctx, store.RunOutcome{ID: "run_missing", Status: domain.RunSucceeded}); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("finish of a missing run: %v", err)
	}
}

func TestRunSources(t *testing.T) {
	ctx := context.Background()
	db := testkit.DB(t)
	runs := &store.Runs{DB: db}
	flows := &store.Flows{DB: db}
	f := flowWithURL("F", "https://a.example.com")
	if err := flows.Create(ctx, f); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO triggers (id, name, type, actions, timeout_ms, object, event)
		VALUES ('trg_a', 'Move leads', 'on_event', '[{"action":"lead.update.list","parameters":{"listId":"354"}}]', 60000, 'lead', 'outcome_predictive')`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO queue_hooks (id, queue_id, event, flow_id) VALUES ('qh_1', 'q-9', 'missed', $1)`, f.ID); err != nil {
		t.Fatal(err)
	}
	src, err := runs.TriggerSource(ctx, "trg_a")
	if err != nil || src.FlowID != "" || len(src.Actions) != 1 || src.Actions[0].Parameters["listId"] != "354" || src.Timeout != time.Minute {
		t.Fatalf("trigger source = %+v, %v", src, err)
	}
	hook, err := runs.QueueHookSource(ctx, "qh_1")
	if err != nil || hook.FlowID != f.ID || hook.QueueID != "q-9" || hook.Timeout != domain.DefaultTriggerTimeout {
		t.Fatalf("hook source = %+v, %v", hook, err)
	}
	if _, err := runs.TriggerSource(ctx, "trg_gone"); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("missing trigger: %v", err)
	}
	if typ, err := runs.EventTypeOf(ctx, "evt-none"); err != nil || typ != "" {
		t.Fatalf("event type of a missing event = %q, %v", typ, err)
	}
}

func TestNotificationsNewestFirstAndIdempotent(t *testing.T) {
	ctx := context.Background()
	db := testkit.DB(t)
	ns := &store.Notifications{DB: db}
	n, err := ns.Create(ctx, []store.Notification{{ID: "ntf_a", UserID: "7", Text: "first"}, {ID: "ntf_b", UserID: "9", Text: "first"}})
	if err != nil || n != 2 {
		t.Fatalf("create = %d, %v", n, err)
	}
	time.Sleep(10 * time.Millisecond)
	if n, err = ns.Create(ctx, []store.Notification{{ID: "ntf_a", UserID: "7", Text: "first"}, {ID: "ntf_c", UserID: "7", Text: "second", RunID: "run_1"}}); err != nil || n != 1 {
		t.Fatalf("create again = %d, %v (a repeated id must be skipped)", n, err)
	}
	list, err := ns.List(ctx, store.NotificationFilter{UserID: "7"}, domain.Page{Number: 1, PerPage: 10})
	if err != nil || list.Total != 2 || list.Items[0].Text != "second" || list.Items[0].RunID != "run_1" {
		t.Fatalf("list = %+v, %v", list, err)
	}
	list, err = ns.List(ctx, store.NotificationFilter{UserID: "7"}, domain.Page{Number: 2, PerPage: 1})
	if err != nil || list.Total != 2 || len(list.Items) != 1 || list.Items[0].Text != "first" {
		t.Fatalf("page 2 = %+v, %v", list, err)
	}
}
