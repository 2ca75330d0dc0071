package dispatch

import (
	"context"
	"errors"
	"sync"

	"github.com/triggerflow/triggerflow/activities"
	"github.com/triggerflow/triggerflow/domain"
	"github.com/triggerflow/triggerflow/store"
	"github.com/triggerflow/triggerflow/workflows"
	"go.temporal.io/sdk/client"
)

// targetsOf derives a group's dispatch targets from its plan and events,
// sparing the database round trips the sweeper needs.
func targetsOf(pl store.Plan, events []domain.Event) store.BatchTargets {
	var t store.BatchTargets
	typeOf := make(map[string]string, len(events))
	for _, e := range events {
		typeOf[e.ID] = e.Type
	}
	seen := map[string]bool{}
	for _, d := range pl.Deliveries {
		if !d.Ordered {
			t.HasUnordered = true
			t.UnorderedCodes = append(t.UnorderedCodes, d.WebhookCode)
			t.UnorderedEventTypes = append(t.UnorderedEventTypes, typeOf[d.EventID])
			continue
		}
		if !seen[d.WebhookID] {
			seen[d.WebhookID] = true
			t.OrderedWebhooks = append(t.OrderedWebhooks, store.WebhookRef{ID: d.WebhookID, Code: d.WebhookCode})
		}
	}
	t.RunEventTypes = map[store.RunGroup][]string{}
	for _, r := range pl.Runs {
		g := store.RunGroup{TriggerID: r.TriggerID}
		if r.QueueHookID != "" {
			g = store.RunGroup{QueueHookID: r.QueueHookID, QueueID: r.QueueID}
		}
		if _, ok := t.RunEventTypes[g]; !ok {
			t.RunGroups = append(t.RunGroups, g)
		}
		t.RunEventTypes[g] = append(t.RunEventTypes[g], typeOf[r.EventID])
	}
	return t
}

// Group is committed batches handed to Temporal together, named by its
// first batch.
type Group struct {
	ID       string
	BatchIDs []string
	Targets  store.BatchTargets
	// Separate makes each first try its own workflow with exact search
	// attributes — a delivery-<id> DeliveryWorkflow per unordered delivery,
	// a FlowRunWorkflow per run — instead of one workflow for the group's
	// deliveries and one per trigger (TRIGGERFLOW_DELIVERY_GROUPING=off).
	Separate bool
	// Events and Plan, when known (not in a sweep), give the workflows
	// their search attributes.
	Events []domain.Event
	Plan   store.Plan
}

// Dispatch hands a group to Temporal — the batch workflow for its unordered
// deliveries, a run workflow per trigger or queue hook with runs, a wake
// signal to each ordered webhook's queue, the plan changes of its case
// events to their case timers — and records its batches dispatched. It is idempotent (workflow ids are deterministic), so the
// sweeper may repeat it.
func Dispatch(ctx context.Context, c client.Client, events *store.Events, g Group) error {
	if g.Separate {
		return dispatchSeparately(ctx, c, events, g)
	}
	var errs []error
	if g.Targets.HasUnordered {
		in := workflows.DeliverBatchInput{BatchID: g.ID, HasUnordered: true, Version: workflows.DeliverBatchVersion}
		if len(g.BatchIDs) > 1 || g.BatchIDs[0] != g.ID {
			in.BatchIDs = g.BatchIDs
		}
		sa := sharedAttributes(g.Events, g.Targets.UnorderedEventTypes)
		sa.Webhooks, sa.EventTypes = g.Targets.UnorderedCodes, g.Targets.UnorderedEventTypes
		if _, err := StartBatch(ctx, c, in, sa); err != nil {
			errs = append(errs, err)
		}
	}
	for _, rg := range g.Targets.RunGroups {
		in := workflows.RunBatchInput{BatchIDs: g.BatchIDs, TriggerID: rg.TriggerID, QueueHookID: rg.QueueHookID, QueueID: rg.QueueID}
		types := g.Targets.RunEventTypes[rg]
		sa := sharedAttributes(g.runEvents(rg), types)
		sa.Triggers, sa.EventTypes = []string{rg.Source()}, types
		if err := StartRunBatch(ctx, c, g.ID, in, sa); err != nil {
			errs = append(errs, err)
		}
	}
	for _, w := range g.Targets.OrderedWebhooks {
		if _, err := WakeWebhookQueue(ctx, c, w.ID, w.Code); err != nil {
			errs = append(errs, err)
		}
	}
	// Case events arm, move and cancel their cases' planned-resolution
	// timers before the batches count as handed over.
	errs = append(errs, signalCaseTimers(ctx, c, events, g))
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return events.MarkDispatched(ctx, g.BatchIDs...)
}

// separateConcurrency is how many workflows dispatchSeparately starts at
// once.
const separateConcurrency = 32

// dispatchSeparately hands a group over with a workflow per first try:
// each unordered delivery is claimed for its own DeliveryWorkflow (first, so
// no group workflow can ever take it) and that workflow started; each run
// starts its own FlowRunWorkflow; ordered webhooks' queues are woken as
// usual. Repeating it is harmless: starts find the running workflows.
func dispatchSeparately(ctx context.Context, c client.Client, events *store.Events, g Group) error {
	deliveries := &store.Deliveries{DB: events.DB}
	var errs []error
	if g.Targets.HasUnordered {
		own, err := deliveries.ClaimEachInBatches(ctx, g.BatchIDs, workflows.DeliveryWorkflowID(""))
		if err != nil {
			return err
		}
		sem := make(chan struct{}, separateConcurrency)
		var mu sync.Mutex
		var wg sync.WaitGroup
		for _, d := range own {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				_, err := StartDelivery(ctx, c, workflows.DeliveryInput{DeliveryID: d.ID, WebhookID: d.WebhookID,
					WebhookCode: d.WebhookCode, EventID: d.EventID, EventType: d.EventType})
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
	}
	if g.Targets.HasRuns() {
		runs := &store.Runs{DB: events.DB}
		starter := &activities.Runs{Runs: runs, Temporal: c, Starter: Starter{}, RunOptions: &activities.FlowRunOptions{Runs: runs}}
		for _, b := range g.BatchIDs {
			if _, err := starter.StartPlannedRuns(ctx, activities.StartPlannedRunsInput{BatchID: b}); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for _, w := range g.Targets.OrderedWebhooks {
		if _, err := WakeWebhookQueue(ctx, c, w.ID, w.Code); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return events.MarkDispatched(ctx, g.BatchIDs...)
}

// runEvents are the events of a run group's runs (nil when not known).
func (g Group) runEvents(rg store.RunGroup) []domain.Event {
	if len(g.Events) == 0 {
		return nil
	}
	ids := map[string]bool{}
	for _, r := range g.Plan.Runs {
		if r.TriggerID == rg.TriggerID && r.QueueHookID == rg.QueueHookID {
			ids[r.EventID] = true
		}
	}
	var out []domain.Event
	for _, e := range g.Events {
		if ids[e.ID] {
			out = append(out, e)
		}
	}
	return out
}

// sharedAttributes are the single-valued event attributes a workflow for
// events can carry: the id when there is one event (when the events are
// known), the type when all share it (types, when the events are not known).
func sharedAttributes(events []domain.Event, types []string) SearchAttributeValues {
	var sa SearchAttributeValues
	if len(events) == 1 {
		sa.EventID = events[0].ID
	}
	if len(events) > 0 {
		types = nil
		for _, e := range events {
			types = append(types, e.Type)
		}
	}
	if d := distinctCapped(types, 2); len(d) == 1 {
		sa.EventType = d[0]
	}
	return sa
}
