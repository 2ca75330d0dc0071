package flowsteps_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/triggerflow/triggerflow/domain"
	"github.com/triggerflow/triggerflow/flowsteps"
)

// fakeSteps is an executor whose plans and outputs are given per step name;
// its clock moves a second each time it is read.
type fakeSteps struct {
	now      time.Time
	plans    map[string]flowsteps.Prepared
	planErrs map[string]error
	outputs  map[string]string
	errs     map[string]error
	executed []int
	seen     []map[string]any // a copy of scope["steps"] as each step was planned
}

func newFakeSteps() *fakeSteps {
	return &fakeSteps{now: time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC), plans: map[string]flowsteps.Prepared{},
		planErrs: map[string]error{}, outputs: map[string]string{}, errs: map[string]error{}}
}

func (f *fakeSteps) Now() time.Time {
	f.now = f.now.Add(time.Second)
	return f.now
}

func (f *fakeSteps) Prepare(_ int, step domain.Step, scope map[string]any) (flowsteps.Prepared, error) {
	seen := map[string]any{}
	for k, v := range scope["steps"].(map[string]any) {
		seen[k] = v
	}
	f.seen = append(f.seen, seen)
	return f.plans[step.Name], f.planErrs[step.Name]
}

func (f *fakeSteps) Execute(i int, step domain.Step, _ flowsteps.Prepared, _ time.Time) (json.RawMessage, error) {
	f.executed = append(f.executed, i)
	if err := f.errs[step.Name]; err != nil {
		return nil, err
	}
	return json.RawMessage(f.outputs[step.Name]), nil
}

func steps(names ...string) []domain.Step {
	out := make([]domain.Step, len(names))
	for i, n := range names {
		out[i] = domain.Step{Name: n, Action: "log"}
	}
	return out
}

func newScope() map[string]any { return map[string]any{"steps": map[string]any{}} }

// Each step sees the outputs of the steps before it; a skipped step is
// recorded as such and seen as {"skipped": true}; every outcome carries the
// executor's clock.
func TestRunPassesOutputsOnAndRecordsEachStep(t *testing.T) {
	f := newFakeSteps()
	f.plans["maybe"] = flowsteps.Prepared{Skip: true}
	f.outputs["first"] = `{"id": 12345678901234567891}`
	scope := newScope()
	res := flowsteps.Run(steps("first", "maybe", "last"), scope, 0, f)
	if res.Failure != nil || res.Unfinished != nil || res.Next != 3 {
		t.Fatalf("result %+v", res)
	}
	if len(f.seen) != 3 || len(f.seen[0]) != 0 || len(f.seen[1]) != 1 || len(f.seen[2]) != 2 {
		t.Fatalf("steps saw %v", f.seen)
	}
	id := f.seen[1]["first"].(map[string]any)["id"]
	if id != json.Number("12345678901234567891") {
		t.Fatalf("first's id read as %#v", id)
	}
	if fmt.Sprint(f.executed) != "[0 2]" {
		t.Fatalf("executed %v", f.executed)
	}
	want := []string{domain.StepSucceeded, domain.StepSkipped, domain.StepSucceeded}
	for i, o := range res.Steps {
		if o.Status != want[i] || o.StartedAt == nil || o.FinishedAt == nil || !o.FinishedAt.After(*o.StartedAt) {
			t.Fatalf("step %d: %+v", i, o)
		}
	}
	if string(res.Outputs["maybe"]) != `{"skipped":true}` || string(res.Outputs["first"]) != f.outputs["first"] {
		t.Fatalf("outputs %v", res.Outputs)
	}
	if out := scope["steps"].(map[string]any)["last"]; fmt.Sprint(out) != "map[]" {
		t.Fatalf("no output should read as an empty object, got %#v", out)
	}
}

func TestRunStopsAtTheFirstFailure(t *testing.T) {
	boom := errors.New("boom")
	cases := []struct {
		name       string
		setup      func(f *fakeSteps)
		wantStatus string // of the failed step's outcome; "" when none is recorded
		wantMsg    string
		wantCause  error
	}{
		{"plan error", func(f *fakeSteps) { f.plans["b"] = flowsteps.Prepared{Error: "params.text: bad"} },
			domain.StepFailed, "params.text: bad", nil},
		{"cannot plan", func(f *fakeSteps) { f.planErrs["b"] = boom },
			"", "cannot plan the step: boom", boom},
		{"plain error", func(f *fakeSteps) { f.errs["b"] = boom },
			domain.StepFailed, "boom", boom},
		{"step error", func(f *fakeSteps) {
			f.errs["b"] = &flowsteps.StepError{Status: domain.StepCanceled, Message: "canceled", Err: boom}
		}, domain.StepCanceled, "canceled", boom},
		{"output not JSON", func(f *fakeSteps) { f.outputs["b"] = `{` },
			domain.StepFailed, "step output is not JSON: unexpected EOF", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeSteps()
			tc.setup(f)
			res := flowsteps.Run(steps("a", "b", "c"), newScope(), 0, f)
			fl := res.Failure
			if fl == nil || fl.Step != "b" || fl.Action != "log" || fl.Message != tc.wantMsg || res.Next != 1 {
				t.Fatalf("result %+v, failure %+v", res, fl)
			}
			if tc.wantCause != nil && !errors.Is(fl.Cause, tc.wantCause) {
				t.Fatalf("cause %v, want %v", fl.Cause, tc.wantCause)
			}
			wantSteps := 1
			if tc.wantStatus != "" {
				wantSteps = 2
			}
			if len(res.Steps) != wantSteps || (tc.wantStatus != "" && (res.Steps[1].Status != tc.wantStatus || res.Steps[1].Error != tc.wantMsg)) {
				t.Fatalf("steps %+v", res.Steps)
			}
			if len(f.executed) > 0 && f.executed[len(f.executed)-1] == 2 {
				t.Fatal("a step after the failure ran")
			}
		})
	}
}

// A step the executor leaves unfinished is not recorded: the run stops
// there, with what the steps before it did, to go on elsewhere.
func TestRunStopsAtAnUnfinishedStep(t *testing.T) {
	f := newFakeSteps()
	f.outputs["a"] = `{"n": 1}`
	f.errs["b"] = fmt.Errorf("%w: handed over", flowsteps.ErrUnfinished)
	res := flowsteps.Run(steps("a", "b", "c"), newScope(), 0, f)
	if res.Failure != nil || res.Unfinished == nil || res.Next != 1 || len(res.Steps) != 1 || string(res.Outputs["a"]) != `{"n": 1}` {
		t.Fatalf("result %+v", res)
	}
}

// A run resumed at a later step starts there, over the outputs its scope
// already holds.
func TestRunStartsAtFrom(t *testing.T) {
	f := newFakeSteps()
	scope := newScope()
	scope["steps"].(map[string]any)["a"] = map[string]any{"n": 1}
	res := flowsteps.Run(steps("a", "b"), scope, 1, f)
	if fmt.Sprint(f.executed) != "[1]" || len(res.Steps) != 1 || res.Steps[0].Name != "b" || res.Next != 2 {
		t.Fatalf("executed %v, result %+v", f.executed, res)
	}
	if _, ok := f.seen[0]["a"]; !ok {
		t.Fatal("step b did not see a's output")
	}
}
