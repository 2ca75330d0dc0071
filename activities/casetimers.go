package activities

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/triggerflow/triggerflow/domain"
	"github.com/triggerflow/triggerflow/store"
)

// EventRaiser publishes an event TriggerFlow raises itself like a published
// one — stored with the deliveries and runs it matches in one transaction,
// then handed to Temporal — from the worker. An event id already stored is
// raised once only. The workflows package provides it.
type EventRaiser interface {
	Raise(ctx context.Context, ev domain.Event) error
}

// CaseTimers holds the activity of the case timers (workflows.
// CaseTimerWorkflow): raising case.planned_resolution_time when a case's
// planned resolution time comes.
type CaseTimers struct {
	Events *store.Events
	Raiser EventRaiser
}

// RaisePlannedResolutionInput names the plan whose time has come.
type RaisePlannedResolutionInput struct {
	CaseID    string
	PlannedAt time.Time
	// SourceEventID is the case event that set the plan; its data and
	// subject are the raised event's, so templates read the case
	// ({{ case.number }}) as that event carried it.
	SourceEventID string
}

// RaisePlannedResolutionResult names the raised event.
type RaisePlannedResolutionResult struct {
	EventID string
}

// RaisePlannedResolution raises case.planned_resolution_time for a plan.
// Its id derives from the case and the planned time, so a retried activity
// — or the same plan armed again — raises it once.
func (a *CaseTimers) RaisePlannedResolution(ctx context.Context, in RaisePlannedResolutionInput) (RaisePlannedResolutionResult, error) {
	ev := domain.Event{
		ID:   domain.PlannedResolutionEventID(in.CaseID, in.PlannedAt),
		Type: domain.PlannedResolutionEventType, OccurredAt: in.PlannedAt.UTC(),
	}
	src, err := a.Events.Get(ctx, in.SourceEventID)
	switch {
	case err == nil:
		ev.Data, ev.Subject = src.Data, src.Subject
	case errors.Is(err, domain.ErrNotFound):
		// Purged or never stored: the case's id and plan still say what
		// came due.
		ev.Data, _ = json.Marshal(map[string]any{"case": map[string]any{
			"id": in.CaseID, "planned_resolution_at": in.PlannedAt.UTC().Format(time.RFC3339Nano)}})
	default:
		return RaisePlannedResolutionResult{}, err
	}
	if err := a.Raiser.Raise(ctx, ev); err != nil {
		return RaisePlannedResolutionResult{}, err
	}
	return RaisePlannedResolutionResult{EventID: ev.ID}, nil
}
