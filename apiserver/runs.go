package apiserver

import (
	"time"

	"github.com/triggerflow/triggerflow/store"
)

// runResponse is a trigger or queue-hook run.
type runResponse struct {
	ID          string     `json:"id"`
	TriggerID   string     `json:"trigger_id,omitempty"`
	QueueHookID string     `json:"queue_hook_id,omitempty"`
	EventID     string     `json:"event_id,omitempty"`
	FlowID      string     `json:"flow_id,omitempty"`
	FlowVersion int        `json:"flow_version,omitempty"`
	Status      string     `json:"status"`
	Error       string     `json:"error"`
	FailedStep  string     `json:"failed_step,omitempty"`
	WorkflowID  string     `json:"workflow_id"`
	RunID       string     `json:"run_id"`
	StartedAt   time.Time  `json:"started_at"`
	FinishedAt  *time.Time `json:"finished_at"`
	// TemporalUIURL links to the workflow that carried the run, when
	// TRIGGERFLOW_TEMPORAL_UI_URL is set.
	TemporalUIURL string `json:"temporal_ui_url,omitempty"`
}

func toRunResponse(r *store.Run) runResponse {
	out := runResponse{
		ID: r.ID, TriggerID: store.Value(r.TriggerID), QueueHookID: store.Value(r.QueueHookID), EventID: store.Value(r.EventID),
		FlowID: store.Value(r.FlowID), FlowVersion: store.Value(r.FlowVersion), Status: r.Status, Error: r.Error,
		FailedStep: r.FailedStep, WorkflowID: r.ExecWorkflow(), RunID: r.RunID, StartedAt: r.StartedAt.UTC(),
	}
	if r.FinishedAt != nil {
		t := r.FinishedAt.UTC()
		out.FinishedAt = &t
	}
	return out
}
