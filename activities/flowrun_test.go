package activities_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"go.temporal.io/sdk/testsuite"

	"github.com/triggerflow/triggerflow/activities"
	"github.com/triggerflow/triggerflow/domain"
	"github.com/triggerflow/triggerflow/internal/testkit"
	"github.com/triggerflow/triggerflow/store"
)

type flowRunFixture struct {
	db    *sqlx.DB
	runs  *store.Runs
	flows *store.Flows
	acts  *activities.FlowRuns
	env   *testsuite.TestActivityEnvironment
	flow  *domain.Flow
}

func newFlowRunFixture(t *testing.T) *flowRunFixture {
	t.Helper()
	db := testkit.DB(t)
	fx := &flowRunFixture{db: db, runs: &store.Runs{DB: db}, flows: &store.Flows{DB: db}}
	fx.acts = &activities.FlowRuns{Runs: fx.runs, Flows: fx.flows, Events: &store.Events{DB: db}}
	var ts testsuite.WorkflowTestSuite
	fx.env = ts.NewTestActivityEnvironment()
	fx.env.RegisterActivity(fx.acts)
	fx.flow = &domain.Flow{Name: "Case created", Type: domain.FlowTypeService, Steps: []domain.Step{
		{Name: "tell", Action: "notify", Params: map[string]any{"text": "v1", "user_ids": "7"}},
	}}
	if err := fx.flows.Create(context.Background(), fx.flow); err != nil {
		t.Fatal(err)
	}
	return fx
}

func (fx *flowRunFixture) exec(t *testing.T, sql string, args ...any) {
	t.Helper()
	if _, err := fx.db.Exec(sql, args...); err != nil {
		t.Fatal(err)
	}
}

func (fx *flowRunFixture) load(t *testing.T, in activities.LoadFlowRunInput) (activities.LoadFlowRunResult, error) {
	t.Helper()
	val, err := fx.env.ExecuteActivity(fx.acts.LoadFlowRun, in)
	var res activities.LoadFlowRunResult
	if err == nil {
		err = val.Get(&res)
	}
	return res, err
}

func TestLoadFlowRunPinsTheVersionCurrentWhenItBegan(t *testing.T) {
	ctx := context.Background()
	fx := newFlowRunFixture(t)
	fx.exec(t, `INSERT INTO triggers (id, name, type, flow_id, timeout_ms, object, event) VALUES ('trg_1', 'On case', 'on_event', $1, 60000, 'case', 'created')`, fx.flow.ID)
	ev := domain.Event{ID: "evt-1", Type: "case.created", OccurredAt: time.Now().UTC(), Data: json.RawMessage(`{"case":{"id":42}}`)}
	if err := (&store.Events{DB: fx.db}).Insert(ctx, ev); err != nil {
		t.Fatal(err)
	}
	fx.exec(t, `INSERT INTO trigger_runs (id, trigger_id, event_id, flow_id, workflow_id) VALUES ('run_1', 'trg_1', 'evt-1', $1, 'trigger-trg_1-evt-1')`, fx.flow.ID)

	res, err := fx.load(t, activities.LoadFlowRunInput{RunID: "run_1"})
	if err != nil {
		t.Fatal(err)
	}
	if res.RunID != "run_1" || res.FlowVersion != 1 || res.Steps[0].Params["text"] != "v1" || !res.HasEvent ||
		res.Event.ID != "evt-1" || res.Source == nil || res.Source.TriggerID != "trg_1" || res.Source.Name != "On case" {
		t.Fatalf("loaded %+v", res)
	}
	run, _ := fx.runs.Find(ctx, "run_1")
	if run.Status != domain.RunRunning || run.FlowVersion == nil || *run.FlowVersion != 1 {
		t.Fatalf("run = %+v", run)
	}

	// The flow is edited; the run (its activity retried) keeps version 1.
	fx.flow.Steps[0].Params["text"] = "v2"
	if err := fx.flows.Update(ctx, fx.flow); err != nil || fx.flow.Version != 2 {
		t.Fatalf("update: %v (version %d)", err, fx.flow.Version)
	}
	if res, err = fx.load(t, activities.LoadFlowRunInput{RunID: "run_1"}); err != nil || res.FlowVersion != 1 || res.Steps[0].Params["text"] != "v1" {
		t.Fatalf("after the edit the run loaded version %d %v (%v)", res.FlowVersion, res.Steps, err)
	}
}

func TestLoadFlowRunRecordsScheduledRunsOnce(t *testing.T) {
	fx := newFlowRunFixture(t)
	fx.exec(t, `INSERT INTO triggers (id, name, type, flow_id, expression) VALUES ('trg_s', 'Nightly', 'at_time', $1, '0 9 * * *')`, fx.flow.ID)
	first, err := fx.load(t, activities.LoadFlowRunInput{TriggerID: "trg_s"})
	if err != nil {
		t.Fatal(err)
	}
	second, err := fx.load(t, activities.LoadFlowRunInput{TriggerID: "trg_s"})
	if err != nil {
		t.Fatal(err)
	}
	if first.RunID == "" || first.RunID != second.RunID || first.HasEvent || first.Steps[0].Name != "tell" {
		t.Fatalf("first %+v second %+v", first, second)
	}
	var n int
	_ = fx.db.Get(&n, `SELECT count(*) FROM trigger_runs WHERE trigger_id = 'trg_s'`)
	if n != 1 {
		t.Fatalf("%d rows for one scheduled run", n)
	}
}

func TestLoadFlowRunBuildsStepsFromTriggerActions(t *testing.T) {
	fx := newFlowRunFixture(t)
	fx.exec(t, `INSERT INTO triggers (id, name, type, actions, object, event) VALUES ('trg_a', 'Move', 'on_event',
		'[{"action":"webhook","parameters":{"url":"https://x.example.com"}},{"action":"lead.update.list","parameters":{"listId":"445"}}]', 'agent', 'wrap')`)
	ev := domain.Event{ID: "evt-w", Type: "agent.wrap", OccurredAt: time.Now().UTC(), Data: json.RawMessage(`{"leadId":"131413"}`)}
	res, err := fx.load(t, activities.LoadFlowRunInput{TriggerID: "trg_a", Event: &ev})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Steps) != 2 || res.Steps[0].Action != "webhook" || res.Steps[1].Params["listId"] != "445" ||
		res.FlowID != "" || !res.HasEvent || res.Event.ID != "evt-w" {
		t.Fatalf("loaded %+v", res)
	}
}

func TestLoadFlowRunFailsRunsThatCannotStart(t *testing.T) {
	fx := newFlowRunFixture(t)
	fx.exec(t, `INSERT INTO trigger_runs (id, trigger_id, workflow_id) VALUES ('run_x', 'trg_gone', 'trigger-trg_gone-e')`)
	_, err := fx.load(t, activities.LoadFlowRunInput{RunID: "run_x"})
	if ae := appError(t, err); !ae.NonRetryable() || ae.Type() != activities.ErrTypeRunUnrunnable {
		t.Fatalf("err = %v", err)
	}
	run, _ := fx.runs.Find(context.Background(), "run_x")
	if run.Status != domain.RunFailed || run.Error != "trigger trg_gone no longer exists" || run.FinishedAt == nil {
		t.Fatalf("run = %+v", run)
	}
	if _, err := fx.load(t, activities.LoadFlowRunInput{RunID: "run_nope"}); !appError(t, err).NonRetryable() {
		t.Fatal("a missing run must not be retried")
	}
}

func TestFinishFlowRunRecordsTheOutcome(t *testing.T) {
	fx := newFlowRunFixture(t)
	fx.exec(t, `INSERT INTO trigger_runs (id, workflow_id, status) VALUES ('run_f', 'wf-f', 'running')`)
	_, err := fx.env.ExecuteActivity(fx.acts.FinishFlowRun, activities.FinishFlowRunInput{
		RunID: "run_f", Status: domain.RunFailed, Error: "HTTP 500", FailedStep: "call",
		Steps: []domain.StepOutcome{{Name: "call", Action: "http.request", Status: domain.StepFailed, Error: "HTTP 500"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	run, _ := fx.runs.Find(context.Background(), "run_f")
	steps, _ := fx.runs.StepsOf(context.Background(), "run_f")
	if run.Status != domain.RunFailed || run.FailedStep != "call" || len(steps) != 1 {
		t.Fatalf("run %+v steps %+v", run, steps)
	}
}

func TestPlannerReadsTimeoutAndSearchAttributes(t *testing.T) {
	ctx := context.Background()
	fx := newFlowRunFixture(t)
	fx.exec(t, `INSERT INTO triggers (id, name, type, flow_id, timeout_ms, object, event) VALUES ('trg_p', 'P', 'on_event', $1, 90000, 'case', 'created')`, fx.flow.ID)
	fx.exec(t, `INSERT INTO queue_hooks (id, queue_id, event, flow_id) VALUES ('qh_p', 'q-1', 'missed', $1)`, fx.flow.ID)
	if err := (&store.Events{DB: fx.db}).Insert(ctx, domain.Event{ID: "evt-p", Type: "queue.missed", OccurredAt: time.Now(), Data: json.RawMessage(`{}`)}); err != nil {
		t.Fatal(err)
	}
	p := &activities.FlowRunOptions{Runs: fx.runs}
	ns := func(s string) *string { return &s }

	timeout, sa, err := p.OptionsFor(ctx, &store.Run{TriggerID: ns("trg_p"), EventID: ns("evt-p")})
	if err != nil || timeout != 90*time.Second || sa.TriggerID != "trg_p" || sa.EventID != "evt-p" || sa.EventType != "queue.missed" {
		t.Fatalf("trigger plan: %s %+v %v", timeout, sa, err)
	}
	timeout, sa, err = p.OptionsFor(ctx, &store.Run{QueueHookID: ns("qh_p"), EventID: ns("evt-p")})
	if err != nil || timeout != domain.DefaultTriggerTimeout || sa.QueueID != "q-1" || sa.TriggerID != "qh_p" {
		t.Fatalf("hook plan: %s %+v %v", timeout, sa, err)
	}
	// A trigger deleted since the publish still plans: the run records why it stops.
	if timeout, _, err = p.OptionsFor(ctx, &store.Run{TriggerID: ns("trg_gone")}); err != nil || timeout != domain.DefaultTriggerTimeout {
		t.Fatalf("deleted trigger: %s %v", timeout, err)
	}
}
