package dispatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/triggerflow/triggerflow/matching"

	"github.com/triggerflow/triggerflow/activities"
	"github.com/triggerflow/triggerflow/domain"
	"github.com/triggerflow/triggerflow/store"
	"github.com/triggerflow/triggerflow/workflows"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
)

// caseTimerStartOptions start a case's timer (signal-with-start).
func caseTimerStartOptions(caseID string) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{
		ID:                    workflows.CaseTimerWorkflowID(caseID),
		TaskQueue:             workflows.TaskQueue,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		TypedSearchAttributes: temporal.NewSearchAttributes(workflows.SACase.ValueSet(caseID),
			workflows.SAEventType.ValueSet(domain.PlannedResolutionEventType)),
	}
}

// caseSignalConcurrency bounds the signals one group sends at once.
const caseSignalConcurrency = 8

// signalCaseTimers hands the plan changes of a dispatched group's case
// events to their cases' timers: arming or moving one starts it when it is
// not running (signal-with-start); canceling one that is not running does
// nothing. Groups without case events cost a look at each event's type.
// Signals are idempotent (a timer applies a change once, in occurrence
// order), so a group dispatched again — by the sweep after a crash between
// commit and signal — sends them again harmlessly. Events is looked up
// when the group does not carry its events (a sweep).
func signalCaseTimers(ctx context.Context, c client.Client, events *store.Events, g Group) error {
	evs := g.Events
	if len(evs) == 0 {
		var err error
		if evs, err = events.CaseEvents(ctx, g.BatchIDs); err != nil {
			return err
		}
	}
	changes := domain.CasePlanChanges(evs)
	if len(changes) == 0 {
		return nil
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	sem := make(chan struct{}, caseSignalConcurrency)
	for _, ch := range changes {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := signalCaseTimer(ctx, c, ch); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// signalCaseTimer sends one change to its case's timer.
func signalCaseTimer(ctx context.Context, c client.Client, ch domain.CasePlanChange) error {
	sig := workflows.CasePlanSignal{EventID: ch.EventID, OccurredAt: ch.OccurredAt, Cancel: ch.Cancel, PlannedAt: ch.PlannedAt, Reason: ch.Reason}
	id := workflows.CaseTimerWorkflowID(ch.CaseID)
	var err error
	if ch.Cancel {
		err = c.SignalWorkflow(ctx, id, "", workflows.SignalCasePlan, sig)
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) {
			return nil // no timer runs: nothing to cancel
		}
	} else {
		_, err = c.SignalWithStartWorkflow(ctx, id, workflows.SignalCasePlan, sig, caseTimerStartOptions(ch.CaseID),
			workflows.CaseTimerWorkflow, workflows.CaseTimerInput{CaseID: ch.CaseID})
	}
	var invalid *serviceerror.InvalidArgument
	if errors.As(err, &invalid) {
		// Retrying cannot help, and must not hold up the group: the
		// change is dropped, and said so.
		slog.Default().Warn("a case plan change was refused by Temporal and dropped", "case", ch.CaseID, "event", ch.EventID, "error", err)
		return nil
	}
	if err != nil {
		return fmt.Errorf("signal the timer of case %s: %w", ch.CaseID, err)
	}
	return nil
}

// Raiser publishes events TriggerFlow raises itself (a case's planned
// resolution time) from the worker, the way Publisher publishes: matched
// against the index, stored with their deliveries and runs in one
// transaction, then dispatched as a group. An event id already stored is not
// raised again; a batch stored but not dispatched (a crash, Temporal away)
// is handed over by the sweep.
type Raiser struct {
	Temporal client.Client
	Events   *store.Events
	Index    *matching.Index
}

var _ activities.EventRaiser = (*Raiser)(nil)

// Raise publishes ev.
func (r *Raiser) Raise(ctx context.Context, ev domain.Event) error {
	matches, err := r.Index.Match(ctx, []domain.Event{ev})
	if err != nil {
		return fmt.Errorf("match %s: %w", ev.ID, err)
	}
	stored, err := r.Events.StoreBatch(ctx, []domain.Event{ev}, plan([]domain.Event{ev}, matches))
	if err != nil {
		return err
	}
	// Dispatched even when the event was raised before: the batch is then
	// empty, and dispatching marks it so.
	g := Group{ID: stored.BatchID, BatchIDs: []string{stored.BatchID}, Events: stored.NewEvents, Plan: stored.Plan,
		Targets: targetsOf(stored.Plan, stored.NewEvents)}
	return Dispatch(ctx, r.Temporal, r.Events, g)
}
