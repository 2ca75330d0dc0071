package dispatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/triggerflow/triggerflow/activities"
	"github.com/triggerflow/triggerflow/domain"
	"github.com/triggerflow/triggerflow/store"
	"github.com/triggerflow/triggerflow/workflows"
	"go.temporal.io/sdk/client"
)

// Triggers keeps what the database says of triggers and what Temporal runs
// for them — an At Time trigger's schedule — in step: each operation
// changes both or neither, in the order that never lets a schedule fire for
// a trigger the database does not know.
type Triggers struct {
	Store     *store.Triggers
	Schedules Schedules
	// Runs, Events and Temporal serve manual runs (RunScheduled,
	// RunForEvent).
	Runs     *store.Runs
	Events   *store.Events
	Temporal client.Client
	Log      *slog.Logger
	// CallTimeout bounds each call to Temporal (default 10s).
	CallTimeout time.Duration
}

func (u Triggers) timeout() time.Duration {
	if u.CallTimeout > 0 {
		return u.CallTimeout
	}
	return 10 * time.Second
}

func (u Triggers) log() *slog.Logger {
	if u.Log != nil {
		return u.Log
	}
	return slog.Default()
}

// Unavailable wraps err (a Temporal call's failure) as domain.ErrUnavailable
// with what it means for the caller (msg), unless it already says
// something more precise (invalid, not found).
func Unavailable(msg string, err error) error {
	if errors.Is(err, domain.ErrUnavailable) {
		return fmt.Errorf("%s: %w", msg, err)
	}
	if errors.Is(err, domain.ErrInvalid) || errors.Is(err, domain.ErrNotFound) {
		return err
	}
	return fmt.Errorf("%s: %v: %w", msg, err, domain.ErrUnavailable)
}

// Create stores a trigger and, for an At Time trigger, creates its
// schedule. The row exists before its schedule, so a schedule never fires
// for a trigger the database does not know; a schedule that cannot be made
// takes the row back with it.
func (u Triggers) Create(ctx context.Context, t *domain.Trigger) error {
	if err := u.Store.Create(ctx, t); err != nil {
		return err
	}
	if t.Type != domain.TriggerAtTime {
		return nil
	}
	sctx, cancel := context.WithTimeout(ctx, u.timeout())
	err := u.Schedules.Save(sctx, t)
	cancel()
	if err != nil {
		if derr := u.Store.Delete(context.WithoutCancel(ctx), t.ID); derr != nil {
			u.log().Error("trigger saved but its schedule failed and the row could not be removed", "trigger", t.ID, "error", derr)
		}
		return Unavailable("the trigger's schedule could not be created; nothing was saved", err)
	}
	return nil
}

// Update stores a changed trigger (old → t) and brings its schedule in line:
// saved (updated in place, or created when missing) for an At Time trigger,
// deleted for one that stopped being one. When Temporal refuses, the row is
// put back.
func (u Triggers) Update(ctx context.Context, old, t *domain.Trigger) error {
	if err := u.Store.Update(ctx, t); err != nil {
		return err
	}
	sctx, cancel := context.WithTimeout(ctx, u.timeout())
	defer cancel()
	var err error
	switch {
	case t.Type == domain.TriggerAtTime:
		err = u.Schedules.Save(sctx, t)
	case old.Type == domain.TriggerAtTime:
		err = u.Schedules.Delete(sctx, t.ID)
	}
	if err != nil {
		u.revert(ctx, old)
		return Unavailable("the trigger's schedule could not be updated; the change was undone", err)
	}
	return nil
}

// Delete removes a trigger: its schedule first (a row without a schedule
// never fires; a schedule without a row would), then the row.
func (u Triggers) Delete(ctx context.Context, t *domain.Trigger) error {
	if t.Type == domain.TriggerAtTime {
		sctx, cancel := context.WithTimeout(ctx, u.timeout())
		err := u.Schedules.Delete(sctx, t.ID)
		cancel()
		if err != nil {
			return Unavailable("the trigger's schedule could not be deleted; the trigger was kept", err)
		}
	}
	return u.Store.Delete(ctx, t.ID)
}

// Switch enables and starts (unpauses), or disables and stops (pauses), a
// trigger — Webitel's enable switch and Start button in one — and returns
// it as it now is.
func (u Triggers) Switch(ctx context.Context, old *domain.Trigger, enabled bool) (*domain.Trigger, error) {
	t := *old
	t.Enabled = enabled
	if err := u.Store.Update(ctx, &t); err != nil {
		return nil, err
	}
	if t.Type == domain.TriggerAtTime {
		if err := u.pauseSchedule(ctx, &t); err != nil {
			u.revert(ctx, old)
			return nil, Unavailable("the trigger's schedule could not be switched; the change was undone", err)
		}
	}
	return &t, nil
}

// BulkResult is what a bulk operation did: the triggers it changed, and
// why the others were kept as they were.
type BulkResult struct {
	Affected []string
	Failed   map[string]string
}

func (r *BulkResult) fail(id string, err error) {
	if r.Failed == nil {
		r.Failed = map[string]string{}
	}
	r.Failed[id] = err.Error()
}

// SwitchMany switches many triggers (ids or names); those whose schedule
// could not follow are put back and reported in Failed.
func (u Triggers) SwitchMany(ctx context.Context, ids []string, enabled bool) (BulkResult, error) {
	res := BulkResult{Affected: []string{}}
	before, err := u.Store.Refs(ctx, ids)
	if err != nil {
		return res, err
	}
	switched, err := u.Store.SetEnabled(ctx, ids, enabled)
	if err != nil {
		return res, err
	}
	undo := map[string]bool{}
	for _, ref := range switched {
		if ref.Type == domain.TriggerAtTime {
			t, err := u.Store.Get(ctx, ref.ID)
			if err == nil {
				err = u.pauseSchedule(ctx, t)
			}
			if err != nil {
				res.fail(ref.ID, Unavailable("schedule not switched", err))
				undo[ref.ID] = true
				continue
			}
		}
		res.Affected = append(res.Affected, ref.ID)
	}
	// Put back the rows whose schedule did not follow.
	var back []string
	for _, ref := range before {
		if undo[ref.ID] && ref.Enabled != enabled {
			back = append(back, ref.ID)
		}
	}
	if len(back) > 0 {
		if _, err := u.Store.SetEnabled(context.WithoutCancel(ctx), back, !enabled); err != nil {
			u.log().Error("could not undo switching triggers whose schedule failed", "triggers", back, "error", err)
		}
	}
	return res, nil
}

// DeleteMany deletes many triggers (ids or names), each At Time trigger's
// schedule first; those whose schedule could not be deleted are kept and
// reported in Failed.
func (u Triggers) DeleteMany(ctx context.Context, ids []string) (BulkResult, error) {
	res := BulkResult{Affected: []string{}}
	refs, err := u.Store.Refs(ctx, ids)
	if err != nil {
		return res, err
	}
	var deletable []string
	for _, ref := range refs {
		if ref.Type == domain.TriggerAtTime {
			sctx, cancel := context.WithTimeout(ctx, u.timeout())
			err := u.Schedules.Delete(sctx, ref.ID)
			cancel()
			if err != nil {
				res.fail(ref.ID, Unavailable("schedule not deleted; trigger kept", err))
				continue
			}
		}
		deletable = append(deletable, ref.ID)
	}
	if len(deletable) > 0 {
		deleted, err := u.Store.DeleteMany(ctx, deletable)
		if err != nil {
			return res, err
		}
		res.Affected = append(res.Affected, deleted...)
	}
	return res, nil
}

// pauseSchedule pauses the schedule of a disabled At Time trigger and
// unpauses that of an enabled one, creating the schedule when it is missing.
func (u Triggers) pauseSchedule(ctx context.Context, t *domain.Trigger) error {
	ctx, cancel := context.WithTimeout(ctx, u.timeout())
	defer cancel()
	err := u.Schedules.SetPaused(ctx, t.ID, !t.Enabled)
	if errors.Is(err, domain.ErrNotFound) {
		return u.Schedules.Save(ctx, t)
	}
	return err
}

// revert puts a trigger's row back after its schedule could not follow a
// change, so the database and Temporal keep agreeing.
func (u Triggers) revert(ctx context.Context, old *domain.Trigger) {
	prev := *old
	if err := u.Store.Update(context.WithoutCancel(ctx), &prev); err != nil {
		u.log().Error("trigger changed but its schedule did not follow and the change could not be undone",
			"trigger", old.ID, "error", err)
	}
}

// RunScheduled fires an At Time trigger now through its schedule (the run
// appears in the schedule's history like any other), creating the schedule
// first if it is missing, waiting up to wait for the run to start. It
// returns the run recorded, or nil when Temporal accepted the firing but the
// run has not started yet (it records itself when it does).
func (u Triggers) RunScheduled(ctx context.Context, t *domain.Trigger, wait time.Duration) (*store.Run, error) {
	sctx, cancel := context.WithTimeout(ctx, u.timeout()+wait)
	defer cancel()
	fired, err := u.Schedules.TriggerNow(sctx, t.ID, wait)
	if errors.Is(err, domain.ErrNotFound) {
		// Made by an older version, or lost: create it, then fire.
		if err = u.Schedules.Save(sctx, t); err == nil {
			fired, err = u.Schedules.TriggerNow(sctx, t.ID, wait)
		}
	}
	if err != nil {
		return nil, Unavailable("the trigger could not be fired", err)
	}
	if fired.WorkflowID == "" {
		return nil, nil
	}
	return u.Runs.Record(ctx, &store.Run{
		TriggerID: store.Optional(t.ID), FlowID: store.Optional(t.Flow), WorkflowID: fired.WorkflowID,
		RunID: fired.RunID, Status: domain.RunRunning, StartedAt: fired.StartedAt,
	})
}

// RunForEvent runs an On Event trigger's flow now for ev, without publishing
// it (no webhook or other trigger sees it) and without testing the
// trigger's conditions: a person asked for this run. An event id published
// before runs for that stored event, as a publish of it would have, and a
// run that exists already for it is returned as it is (existing true).
func (u Triggers) RunForEvent(ctx context.Context, t *domain.Trigger, ev domain.Event) (run *store.Run, existing bool, err error) {
	if err := u.Events.Insert(ctx, ev); err != nil {
		if !errors.Is(err, domain.ErrConflict) {
			return nil, false, err
		}
		stored, gerr := u.Events.Get(ctx, ev.ID)
		if gerr != nil {
			return nil, false, gerr
		}
		if stored.Type != t.EventType() {
			return nil, false, domain.Invalid("event.id", fmt.Sprintf("names an event of type %q; this trigger listens to %q", stored.Type, t.EventType()))
		}
		ev = stored.Event
	}
	run, err = u.Runs.Record(ctx, &store.Run{
		TriggerID: store.Optional(t.ID), EventID: store.Optional(ev.ID), FlowID: store.Optional(t.Flow),
		WorkflowID: workflows.TriggerRunWorkflowID(t.ID, ev.ID),
	})
	if err != nil {
		return nil, false, err
	}
	if run.Status != domain.RunPending || run.RunID != "" {
		return run, true, nil // a repeated event id is one run
	}
	if u.Temporal == nil {
		_ = u.Runs.Discard(context.WithoutCancel(ctx), run.ID)
		return nil, false, fmt.Errorf("%w: Temporal is not configured", domain.ErrUnavailable)
	}
	sctx, cancel := context.WithTimeout(ctx, u.timeout())
	defer cancel()
	wfID, runID, err := Starter{}.StartRun(sctx, u.Temporal, run, t.Timeout, activities.RunAttributes{
		TriggerID: t.ID, EventID: ev.ID, EventType: ev.Type,
	}, nil)
	if err != nil {
		// No run is left behind that nothing would ever finish.
		_ = u.Runs.Discard(context.WithoutCancel(ctx), run.ID)
		return nil, false, Unavailable("the run could not be started", fmt.Errorf("%v: %w", err, domain.ErrUnavailable))
	}
	if err := u.Runs.MarkStarted(ctx, run.ID, wfID, runID); err != nil {
		return nil, false, err
	}
	run.WorkflowID, run.RunID, run.Status = wfID, runID, domain.RunRunning
	return run, false, nil
}
