// Package flowsteps runs a flow's steps in order. A run's steps are carried
// out in two places — inline in a batch activity for a run's first try, and
// in the run's own workflow (FlowRunWorkflow) after that — and both must
// prepare, skip, record and pass outputs on the same way, or a run would read
// differently depending on where it happened to be. Run owns that loop; an
// Executor says how one prepared step is carried out where the loop runs.
//
// The package is pure: it knows steps, scopes and Temporal's retry policy
// type, not workflows, activities or the database, so workflows and
// activities may both import it.
package flowsteps

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/triggerflow/triggerflow/domain"
)

// Prepared is a step ready to run: its conditions decided, its params
// rendered. FlowRunWorkflow prepares it once and records it in history (a
// side effect), so replays take the same path whatever the templates and
// conditions code does in later versions; its JSON form is therefore part of
// every recorded history.
type Prepared struct {
	Skip   bool
	Error  string
	Params json.RawMessage
	// Delay is the delay action's duration.
	Delay time.Duration
}

// Executor carries out the steps Run prepares, where the run is: in its
// workflow (activities and durable timers) or inline in an activity (the
// action called directly).
type Executor interface {
	// Now is the clock a step's start and finish are recorded with: the
	// workflow's own clock in a workflow, the wall clock inline.
	Now() time.Time
	// Prepare decides how step i runs over the scope the earlier steps filled.
	// An error fails the run at the step before it starts, with no outcome.
	Prepare(i int, step domain.Step, scope map[string]any) (Prepared, error)
	// Execute carries out step i as prepared, begun at started, and returns
	// its output as JSON. A *StepError says how the failed step is recorded
	// (any other error is recorded as failed, with its text); an error that
	// wraps ErrUnfinished leaves the step without an outcome.
	Execute(i int, step domain.Step, prep Prepared, started time.Time) (json.RawMessage, error)
}

// ErrUnfinished, wrapped by an error Execute returns, stops the run at the
// step without recording it: the step goes on elsewhere (an inline run
// handed over to its own workflow) or is tried again with the whole run.
var ErrUnfinished = errors.New("the step was left unfinished")

// StepError is how a step that failed the run is recorded.
type StepError struct {
	// Status is the step's status: domain.StepFailed when empty, or
	// domain.StepCanceled when the run was stopped.
	Status string
	// Message is the step's error as the run's outcome shows it.
	Message string
	// Err is the failure behind it, kept for the run's own error.
	Err error
}

func (e *StepError) Error() string { return e.Message }

func (e *StepError) Unwrap() error { return e.Err }

// Failure is the step that ended a run.
type Failure struct {
	Step, Action, Message string
	// Cause is the error the step failed with; nil when the run's own
	// checks failed it (params that could not render).
	Cause error
}

// Result is how far Run got.
type Result struct {
	// Steps are the outcomes Run recorded, in order.
	Steps []domain.StepOutcome
	// Outputs are the JSON outputs of the steps that succeeded or were
	// skipped, by name: what a run carries to the workflow it is handed
	// over to.
	Outputs map[string]json.RawMessage
	// Next is the index of the step Run stopped at (the failed or
	// unfinished one), or the number of steps when every step ran.
	Next int
	// Failure is the step that failed the run; nil when none did.
	Failure *Failure
	// Unfinished is the error with which the executor left step Next
	// without an outcome; nil when it did not.
	Unfinished error
}

// skippedOutput is a skipped step's output as a handed-over run carries
// it; later steps in the same place read it as map[string]any{"skipped": true}.
const skippedOutput = `{"skipped":true}`

// Run runs steps from index from on, in order, over scope: each step is
// prepared, skipped when its conditions fail, failed when its params could
// not be rendered, and otherwise carried out by exec. Each outcome is recorded with
// exec's clock, and each output is stored in scope["steps"] under the
// step's name, where the later steps' templates and conditions read it. The
// first step that fails or is left unfinished stops the run.
func Run(steps []domain.Step, scope map[string]any, from int, exec Executor) Result {
	outputs := scope["steps"].(map[string]any)
	res := Result{Outputs: map[string]json.RawMessage{}}
	for i := from; i < len(steps); i++ {
		step := steps[i]
		res.Next = i
		fail := func(msg string, cause error) Result {
			res.Failure = &Failure{Step: step.Name, Action: step.Action, Message: msg, Cause: cause}
			return res
		}
		prep, err := exec.Prepare(i, step, scope)
		if err != nil {
			return fail("cannot plan the step: "+err.Error(), err)
		}
		started := exec.Now()
		outcome := domain.StepOutcome{Name: step.Name, Action: step.Action, StartedAt: &started}
		record := func(status, msg string) {
			finished := exec.Now()
			outcome.Status, outcome.Error, outcome.FinishedAt = status, msg, &finished
			res.Steps = append(res.Steps, outcome)
		}
		switch {
		case prep.Skip:
			record(domain.StepSkipped, "")
			outputs[step.Name] = map[string]any{"skipped": true}
			res.Outputs[step.Name] = json.RawMessage(skippedOutput)
			continue
		case prep.Error != "":
			record(domain.StepFailed, prep.Error)
			return fail(prep.Error, nil)
		}
		raw, err := exec.Execute(i, step, prep, started)
		var output any
		if err == nil {
			output, err = DecodeOutput(raw)
		}
		if errors.Is(err, ErrUnfinished) {
			res.Unfinished = err
			return res
		}
		if err != nil {
			status, msg, cause := domain.StepFailed, err.Error(), err
			var stepErr *StepError
			if errors.As(err, &stepErr) {
				msg, cause = stepErr.Message, stepErr.Err
				if stepErr.Status != "" {
					status = stepErr.Status
				}
			}
			record(status, msg)
			return fail(msg, cause)
		}
		record(domain.StepSucceeded, "")
		outputs[step.Name] = output
		res.Outputs[step.Name] = raw
	}
	res.Next = len(steps)
	return res
}

// DecodeOutput reads a step's JSON output as later steps see it (numbers
// stay exact, so ids in responses survive); no output is an empty object.
func DecodeOutput(raw json.RawMessage) (any, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return map[string]any{}, nil
	}
	var output any
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	if err := dec.Decode(&output); err != nil {
		return nil, fmt.Errorf("step output is not JSON: %w", err)
	}
	return output, nil
}
