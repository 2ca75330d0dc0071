package activities

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/triggerflow/triggerflow/domain"
	"github.com/triggerflow/triggerflow/flowsteps"
)

// The parts of running a flow that FlowRunWorkflow and the inline runner
// share and that need the registered actions: what a step's templates and
// conditions see, and how a step is prepared. The loop over the steps is
// flowsteps.Run.

// PrepareStep evaluates a step's conditions and renders its params over scope.
func PrepareStep(step domain.Step, scope map[string]any) flowsteps.Prepared {
	act, ok := LookupAction(step.Action)
	if !ok {
		return flowsteps.Prepared{Error: fmt.Sprintf("action %q is not registered on this worker", step.Action)}
	}
	if !domain.MatchConditions(step.If, scope) {
		return flowsteps.Prepared{Skip: true}
	}
	params, err := act.Spec().RenderParams(step.Params, scope)
	if err != nil {
		return flowsteps.Prepared{Error: err.Error()}
	}
	var plan flowsteps.Prepared
	if act.RunsInWorkflow() {
		if step.Action != ActionDelay {
			return flowsteps.Prepared{Error: fmt.Sprintf("action %q runs in the workflow, which does not know it", step.Action)}
		}
		if plan.Delay, err = DelayDuration(params); err != nil {
			return flowsteps.Prepared{Error: err.Error()}
		}
	}
	if plan.Params, err = json.Marshal(params); err != nil {
		return flowsteps.Prepared{Error: "params cannot be encoded: " + err.Error()}
	}
	return plan
}

// FlowScope is what templates and conditions see: the event's data fields at
// the top level, the event itself (with its data) as event, the trigger or
// queue hook, the run, and steps.<name> for each finished step (empty here).
// A run without an event (a scheduled one) sees an empty event whose
// occurred_at is when the run began.
func FlowScope(load LoadFlowRunResult, workflowID string) map[string]any {
	scope, err := load.Event.Scope()
	if err != nil {
		scope = map[string]any{}
	}
	ev, _ := scope["event"].(map[string]any)
	if ev == nil {
		ev = map[string]any{}
		scope["event"] = ev
	}
	var data any = map[string]any{}
	if len(load.Event.Data) > 0 {
		dec := json.NewDecoder(strings.NewReader(string(load.Event.Data)))
		dec.UseNumber()
		var d any
		if dec.Decode(&d) == nil && d != nil {
			data = d
		}
	}
	ev["data"] = data
	scope["run"] = map[string]any{
		"id":          load.RunID,
		"workflow_id": workflowID,
		"flow":        map[string]any{"id": load.FlowID, "name": load.FlowName, "version": load.FlowVersion},
	}
	if src := load.Source; src != nil {
		if src.TriggerID != "" {
			scope["trigger"] = map[string]any{
				"id": src.TriggerID, "name": src.Name, "type": src.Type, "timezone": src.TimeZone,
				"object": src.Object, "event": src.Event,
			}
		}
		if src.QueueHookID != "" {
			scope["queue_hook"] = map[string]any{"id": src.QueueHookID, "queue_id": src.QueueID, "event": src.Event}
		}
	}
	scope["steps"] = map[string]any{}
	return scope
}
