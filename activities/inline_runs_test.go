package activities_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"

	"github.com/triggerflow/triggerflow/activities"
	"github.com/triggerflow/triggerflow/domain"
	"github.com/triggerflow/triggerflow/flowsteps"
	"github.com/triggerflow/triggerflow/store"
)

// inlineFixture holds planned runs of one trigger whose flow calls url.
type inlineFixture struct {
	*flowRunFixture
	acts *activities.Runs
}

func newInlineFixture(t *testing.T, url string, runs int) *inlineFixture {
	t.Helper()
	fx := &inlineFixture{flowRunFixture: newFlowRunFixture(t)}
	policy, err := activities.NewEgressPolicy([]string{"127.0.0.0/8"})
	if err != nil {
		t.Fatal(err)
	}
	fx.acts = &activities.Runs{Runs: fx.runs, Flows: fx.flows, Events: &store.Events{DB: fx.db},
		Actions: &activities.Actions{HTTP: activities.NewHTTPClient(policy)}}
	fx.flow.Steps = []domain.Step{{Name: "call", Action: "http.request", Params: map[string]any{"url": url + "/{{ n }}"}}}
	if err := fx.flows.Update(context.Background(), fx.flow); err != nil {
		t.Fatal(err)
	}
	fx.exec(t, `INSERT INTO triggers (id, name, type, flow_id, timeout_ms, object, event) VALUES ('trg_i', 'Inline', 'on_event', $1, 60000, 'case', 'created')`, fx.flow.ID)
	for i := range runs {
		ev := domain.Event{ID: fmt.Sprintf("evt-%d", i), Type: "case.created", OccurredAt: time.Now().UTC(), Data: json.RawMessage(fmt.Sprintf(`{"n": %d}`, i))}
		if err := (&store.Events{DB: fx.db}).Insert(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
		fx.exec(t, `INSERT INTO trigger_runs (id, trigger_id, event_id, workflow_id, batch_id) VALUES ($1, 'trg_i', $2, $3, 'bat_i')`,
			fmt.Sprintf("run_%d", i), ev.ID, "trigger-trg_i-"+ev.ID)
	}
	return fx
}

// run executes RunPlannedRuns in an activity environment whose activity
// contexts derive from ctx.
func (fx *inlineFixture) run(ctx context.Context) (activities.RunPlannedResult, error) {
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestActivityEnvironment()
	env.SetWorkerOptions(worker.Options{BackgroundActivityContext: ctx})
	env.RegisterActivity(fx.acts)
	val, err := env.ExecuteActivity(fx.acts.RunPlannedRuns, activities.RunPlannedInput{BatchIDs: []string{"bat_i"}, TriggerID: "trg_i"})
	var res activities.RunPlannedResult
	if err == nil {
		err = val.Get(&res)
	}
	return res, err
}

func (fx *inlineFixture) statuses(t *testing.T) map[string]int {
	t.Helper()
	var rows []struct {
		Status string `db:"status"`
		N      int    `db:"n"`
	}
	if err := fx.db.Select(&rows, `SELECT status, count(*) AS n FROM trigger_runs WHERE trigger_id = 'trg_i' GROUP BY status`); err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, r := range rows {
		out[r.Status] = r.N
	}
	return out
}

// Runs stopped with their activity (a worker shutting down) are neither
// recorded as failed nor lost: the activity's retry runs them again.
func TestInlineRunsStoppedWithTheirActivityAreTriedAgain(t *testing.T) {
	var slow atomic.Bool
	slow.Store(true)
	arrived := make(chan struct{}, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if slow.Load() {
			arrived <- struct{}{}
			<-r.Context().Done()
			return
		}
		w.WriteHeader(200)
	}))
	t.Cleanup(srv.Close)
	fx := newInlineFixture(t, srv.URL, 3)

	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for range 3 {
			<-arrived
		}
		cancel()
	}()
	if _, err := fx.run(ctx); err == nil || !strings.Contains(err.Error(), "cancel") {
		t.Fatalf("stopped activity returned %v, want it canceled", err)
	}
	if st := fx.statuses(t); st[domain.RunRunning] != 3 {
		t.Fatalf("after the stop: %v, want 3 runs still running (to be tried again)", st)
	}

	slow.Store(false)
	res, err := fx.run(context.Background())
	if err != nil || res.Succeeded != 3 {
		t.Fatalf("retry: %+v, %v", res, err)
	}
	if st := fx.statuses(t); st[domain.RunSucceeded] != 3 {
		t.Fatalf("after the retry: %v", st)
	}
}

// A trigger deleted after the publish fails its runs with the reason.
func TestInlineRunsOfADeletedTriggerFailWithTheReason(t *testing.T) {
	fx := newInlineFixture(t, "http://127.0.0.1:1", 2)
	fx.exec(t, `DELETE FROM triggers WHERE id = 'trg_i'`)
	res, err := fx.run(context.Background())
	if err != nil || res.Failed != 2 {
		t.Fatalf("result %+v, %v", res, err)
	}
	r, _ := fx.runs.Find(context.Background(), "run_0")
	if r.Status != domain.RunFailed || r.Error != "trigger trg_i no longer exists" {
		t.Fatalf("run = %+v", r)
	}
}

// A failed inline first try is read under the step's Temporal retry policy
// (flowsteps.RetryPolicy), as its workflow would retry it: the policy's
// interval with its floor, or the delay the failure asked for.
func TestInlineFirstTryRetriesAsTheStepsPolicySays(t *testing.T) {
	cases := []struct {
		name      string
		retry     *domain.RetryPolicy
		err       error
		wantMsg   string
		wantDelay time.Duration
		wantRetry bool
	}{
		{"default policy", nil, temporal.NewApplicationError("HTTP 503", activities.ErrTypeAttemptFailed),
			"HTTP 503", time.Second, true},
		{"interval floor", &domain.RetryPolicy{InitialInterval: domain.Duration(10 * time.Millisecond), MaxAttempts: 3},
			errors.New("down"), "down", time.Second, true},
		{"retry after", &domain.RetryPolicy{Preset: domain.Retry30sX3},
			temporal.NewApplicationErrorWithOptions("HTTP 429", activities.ErrTypeAttemptFailed,
				temporal.ApplicationErrorOptions{NextRetryDelay: 2 * time.Minute}), "HTTP 429", 2 * time.Minute, true},
		{"one attempt", &domain.RetryPolicy{Preset: domain.RetryNone}, errors.New("down"), "down", 0, false},
		{"permanent", nil, temporal.NewNonRetryableApplicationError("HTTP 404", activities.ErrTypeAttemptFailed, nil),
			"HTTP 404", 0, false},
		{"timeout", nil, fmt.Errorf("call: %w", context.DeadlineExceeded), "timed out (start_to_close)", time.Second, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rp := flowsteps.RetryPolicy(domain.Step{Name: "call", Action: "http.request", Retry: tc.retry})
			msg, delay, retry := activities.ClassifyInlineError(tc.err, rp)
			if msg != tc.wantMsg || delay != tc.wantDelay || retry != tc.wantRetry {
				t.Fatalf("got %q, %s, %v; want %q, %s, %v", msg, delay, retry, tc.wantMsg, tc.wantDelay, tc.wantRetry)
			}
		})
	}
}
