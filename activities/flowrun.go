package activities

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/triggerflow/triggerflow/domain"
	"github.com/triggerflow/triggerflow/store"
)

// ErrTypeRunUnrunnable means a run cannot start at all (its trigger, flow or
// event is gone); the run is recorded as failed with the reason.
const ErrTypeRunUnrunnable = "RunUnrunnable"

// FlowRuns holds the bookkeeping activities of flow runs: loading what a run
// executes and recording how it ended.
type FlowRuns struct {
	Runs   *store.Runs
	Flows  *store.Flows
	Events *store.Events
}

// LoadFlowRunInput names the run to load (see workflows.FlowRunInput).
type LoadFlowRunInput struct {
	RunID       string
	TriggerID   string
	QueueHookID string
	FlowID      string
	EventID     string
	Event       *domain.Event
}

// RunSourceInfo is the trigger or queue hook of a run, as the run's scope
// shows it.
type RunSourceInfo struct {
	TriggerID   string
	QueueHookID string
	Name        string
	Type        string
	TimeZone    string
	QueueID     string
	Object      string
	Event       string
}

// LoadFlowRunResult is everything a run executes: its steps (from the flow
// version pinned to the run, or built from a trigger's actions), its event
// and its source.
type LoadFlowRunResult struct {
	RunID       string
	FlowID      string
	FlowName    string
	FlowVersion int
	Steps       []domain.Step
	Event       domain.Event
	HasEvent    bool
	Source      *RunSourceInfo
}

// LoadFlowRun finds (or, for scheduled and fire-now runs, records) the run's
// row, marks it running, pins the flow version current now, and returns the
// steps, event and source. It is safe to retry: the row is keyed by workflow
// id and the version is pinned once. A run that cannot start (its trigger or
// flow is gone) is recorded as failed and fails without retrying.
func (a *FlowRuns) LoadFlowRun(ctx context.Context, in LoadFlowRunInput) (LoadFlowRunResult, error) {
	var res LoadFlowRunResult
	info := activity.GetInfo(ctx)
	wfID, temporalRunID := info.WorkflowExecution.ID, info.WorkflowExecution.RunID
	var run *store.Run
	var err error
	if in.RunID != "" {
		run, err = a.Runs.Find(ctx, in.RunID)
		if errors.Is(err, domain.ErrNotFound) {
			return res, temporal.NewNonRetryableApplicationError(fmt.Sprintf("run %s does not exist", in.RunID), ErrTypeRunUnrunnable, err)
		}
	} else {
		run, err = a.Runs.Record(ctx, &store.Run{
			TriggerID: store.Optional(in.TriggerID), QueueHookID: store.Optional(in.QueueHookID), FlowID: store.Optional(in.FlowID),
			EventID: store.Optional(in.EventID), WorkflowID: wfID, RunID: temporalRunID, Status: domain.RunRunning,
		})
	}
	if err != nil {
		return res, err
	}
	if run, err = a.Runs.MarkRunning(ctx, run.ID, wfID, temporalRunID); err != nil {
		return res, err
	}
	res.RunID = run.ID
	fail := func(format string, args ...any) (LoadFlowRunResult, error) {
		msg := fmt.Sprintf(format, args...)
		if err := a.Runs.Finish(ctx, store.RunOutcome{ID: run.ID, Status: domain.RunFailed, Error: msg}); err != nil {
			return res, err
		}
		return res, temporal.NewNonRetryableApplicationError(msg, ErrTypeRunUnrunnable, nil)
	}

	var src *store.RunSource
	switch {
	case run.TriggerID != nil:
		src, err = a.Runs.TriggerSource(ctx, *run.TriggerID)
		if errors.Is(err, domain.ErrNotFound) {
			return fail("trigger %s no longer exists", *run.TriggerID)
		}
	case run.QueueHookID != nil:
		src, err = a.Runs.QueueHookSource(ctx, *run.QueueHookID)
		if errors.Is(err, domain.ErrNotFound) {
			return fail("queue hook %s no longer exists", *run.QueueHookID)
		}
	}
	if err != nil {
		return res, err
	}
	if src != nil {
		res.Source = &RunSourceInfo{
			TriggerID: src.TriggerID, QueueHookID: src.QueueHookID, Name: src.Name, Type: src.Type,
			TimeZone: src.TimeZone, QueueID: src.QueueID, Object: src.Object, Event: src.Event,
		}
	}

	flowID := store.Value(run.FlowID)
	if flowID == "" && src != nil {
		flowID = src.FlowID
	}
	switch {
	case flowID != "":
		flow, err := a.Flows.Get(ctx, flowID)
		if errors.Is(err, domain.ErrNotFound) {
			return fail("flow %s no longer exists", flowID)
		}
		if err != nil {
			return res, err
		}
		version := flow.Version
		if run.FlowVersion != nil {
			version = *run.FlowVersion
		}
		pinnedFlow, pinned, err := a.Runs.PinFlowVersion(ctx, run.ID, flow.ID, version)
		if err != nil {
			return res, err
		}
		v, err := a.Flows.Version(ctx, pinnedFlow, pinned)
		if errors.Is(err, domain.ErrNotFound) {
			return fail("version %d of flow %s no longer exists", pinned, flow.Name)
		}
		if err != nil {
			return res, err
		}
		res.FlowID, res.FlowName, res.FlowVersion, res.Steps = flow.ID, flow.Name, pinned, v.Steps
	case src != nil && len(src.Actions) > 0:
		res.Steps = domain.StepsFromTriggerActions(src.Actions)
	default:
		return fail("the run has neither a flow nor actions to execute")
	}

	switch {
	case run.EventID != nil:
		ev, err := a.Events.Get(ctx, *run.EventID)
		switch {
		case err == nil:
			res.Event, res.HasEvent = ev.Event, true
		case errors.Is(err, domain.ErrNotFound) && in.Event != nil:
			res.Event, res.HasEvent = *in.Event, true
		case errors.Is(err, domain.ErrNotFound):
			return fail("event %s does not exist", *run.EventID)
		default:
			return res, err
		}
	case in.Event != nil:
		res.Event, res.HasEvent = *in.Event, true
	default:
		// Scheduled runs have no event; the scope still has one, empty but
		// for when the run began.
		res.Event = domain.Event{OccurredAt: run.StartedAt.UTC()}
	}
	return res, nil
}

// FinishFlowRunInput is how a run ended.
type FinishFlowRunInput struct {
	RunID      string
	Status     string
	Error      string
	FailedStep string
	Steps      []domain.StepOutcome
}

// FinishFlowRunResult is empty; it exists so fields can be added.
type FinishFlowRunResult struct{}

// FinishFlowRun records a run's status, error, failed step and step
// outcomes, with its finish time.
func (a *FlowRuns) FinishFlowRun(ctx context.Context, in FinishFlowRunInput) (FinishFlowRunResult, error) {
	err := a.Runs.Finish(ctx, store.RunOutcome{
		ID: in.RunID, Status: in.Status, Error: in.Error, FailedStep: in.FailedStep, Steps: in.Steps,
	})
	if errors.Is(err, domain.ErrNotFound) {
		return FinishFlowRunResult{}, temporal.NewNonRetryableApplicationError("run "+in.RunID+" no longer exists", ErrTypeGone, err)
	}
	return FinishFlowRunResult{}, err
}

// FlowRunOptions is the RunOptions of runs a publish created: a run's timeout comes
// from its trigger (queue hooks use domain.DefaultTriggerTimeout), its
// search attributes from its trigger or hook, queue and event.
type FlowRunOptions struct {
	Runs *store.Runs
}

var _ RunOptions = (*FlowRunOptions)(nil)

// OptionsFor reads what starting r needs. A trigger or hook deleted since the
// publish is not an error here: the run starts and records why it cannot go on.
func (p *FlowRunOptions) OptionsFor(ctx context.Context, r *store.Run) (time.Duration, RunAttributes, error) {
	timeout := domain.DefaultTriggerTimeout
	sa := RunAttributes{EventID: store.Value(r.EventID)}
	var src *store.RunSource
	var err error
	switch {
	case r.TriggerID != nil:
		sa.TriggerID = *r.TriggerID
		src, err = p.Runs.TriggerSource(ctx, *r.TriggerID)
	case r.QueueHookID != nil:
		// A queue hook is an On Event trigger scoped to a queue; its runs
		// are found under the same attribute.
		sa.TriggerID = *r.QueueHookID
		src, err = p.Runs.QueueHookSource(ctx, *r.QueueHookID)
	}
	switch {
	case errors.Is(err, domain.ErrNotFound):
	case err != nil:
		return 0, sa, err
	case src != nil:
		if src.Timeout > 0 {
			timeout = src.Timeout
		}
		sa.QueueID = src.QueueID
	}
	if r.EventID != nil {
		if sa.EventType, err = p.Runs.EventTypeOf(ctx, *r.EventID); err != nil {
			return 0, sa, err
		}
	}
	return timeout, sa, nil
}
