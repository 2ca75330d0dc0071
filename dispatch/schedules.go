package dispatch

import (
	"context"
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/triggerflow/triggerflow/domain"
	"github.com/triggerflow/triggerflow/workflows"
)

// Schedules creates, updates, pauses, fires and deletes the schedules of At
// Time triggers. Errors wrap domain.ErrNotFound when the schedule does not
// exist and domain.ErrUnavailable when Temporal cannot be reached.
type Schedules struct {
	Client client.Client
}

// ScheduledRun is one workflow a schedule started.
type ScheduledRun struct {
	WorkflowID  string
	RunID       string
	ScheduledAt time.Time
	StartedAt   time.Time
}

// ScheduleState is what Temporal says about a trigger's schedule.
type ScheduleState struct {
	Paused bool
	// NextRuns are the next fire times Temporal computed (up to 10, UTC);
	// empty while paused.
	NextRuns []time.Time
	// Recent are the latest runs started, oldest first (at most 10).
	Recent []ScheduledRun
	// Running counts the schedule's workflows still running.
	Running int
}

// overlapPolicies maps the API's overlap policy names to Temporal's.
var overlapPolicies = map[string]enumspb.ScheduleOverlapPolicy{
	domain.OverlapSkip:           enumspb.SCHEDULE_OVERLAP_POLICY_SKIP,
	domain.OverlapBufferOne:      enumspb.SCHEDULE_OVERLAP_POLICY_BUFFER_ONE,
	domain.OverlapBufferAll:      enumspb.SCHEDULE_OVERLAP_POLICY_BUFFER_ALL,
	domain.OverlapCancelOther:    enumspb.SCHEDULE_OVERLAP_POLICY_CANCEL_OTHER,
	domain.OverlapTerminateOther: enumspb.SCHEDULE_OVERLAP_POLICY_TERMINATE_OTHER,
	domain.OverlapAllowAll:       enumspb.SCHEDULE_OVERLAP_POLICY_ALLOW_ALL,
}

// scheduleOptions is the schedule of an At Time trigger: its cron
// expression as structured calendars (see scheduleSpec) in its zone, its
// overlap policy,
// paused while the trigger is disabled, and an action that starts
// FlowRunWorkflow for the trigger, bounded by the trigger's timeout.
func scheduleOptions(t *domain.Trigger) (client.ScheduleOptions, error) {
	if t.Type != domain.TriggerAtTime {
		return client.ScheduleOptions{}, fmt.Errorf("trigger %s is %s; only at_time triggers have schedules", t.ID, t.Type)
	}
	expr, _, err := t.Schedule()
	if err != nil {
		return client.ScheduleOptions{}, fmt.Errorf("trigger %s: %w", t.ID, err)
	}
	overlap, ok := overlapPolicies[t.OverlapPolicy]
	if !ok {
		return client.ScheduleOptions{}, fmt.Errorf("trigger %s: unknown overlap policy %q", t.ID, t.OverlapPolicy)
	}
	return client.ScheduleOptions{
		ID:   workflows.TriggerScheduleID(t.ID),
		Spec: scheduleSpec(expr, t.TimeZone),
		Action: &client.ScheduleWorkflowAction{
			ID:                       workflows.TriggerScheduleID(t.ID),
			Workflow:                 workflows.FlowRunWorkflowName,
			Args:                     []any{workflows.FlowRunInput{TriggerID: t.ID}},
			TaskQueue:                workflows.TaskQueue,
			WorkflowExecutionTimeout: t.Timeout,
			TypedSearchAttributes:    SearchAttributeValues{Trigger: t.ID}.attributes(),
		},
		Overlap:               overlap,
		CatchupWindow:         workflows.ScheduleCatchupWindow,
		Paused:                !t.Enabled,
		Note:                  pauseNote(t.Enabled),
		Memo:                  map[string]any{"trigger": t.Name},
		TypedSearchAttributes: SearchAttributeValues{Trigger: t.ID}.attributes(),
	}, nil
}

// scheduleSpec gives Temporal the expression's own model rather than a cron
// string for Temporal to parse: the calendars whose union is the expression
// (two when day of month and day of week are ORed, as standard cron does and
// Temporal's cron strings do not), or the interval of "@every" (aligned to
// the Unix epoch, as domain.CronExpression.Next computes it). The seconds
// field is explicit, so Webitel's 6-field form with leading seconds cannot
// be read as minute…year.
func scheduleSpec(expr *domain.CronExpression, zone string) client.ScheduleSpec {
	spec := client.ScheduleSpec{TimeZoneName: zone}
	if expr.Descriptor == "@every" {
		spec.Intervals = []client.ScheduleIntervalSpec{{Every: expr.Every}}
		return spec
	}
	ranges := func(rs []domain.CronRange) []client.ScheduleRange {
		out := make([]client.ScheduleRange, len(rs))
		for i, r := range rs {
			out[i] = client.ScheduleRange{Start: r.Start, End: r.End, Step: r.Step}
		}
		return out
	}
	for _, cal := range expr.Calendars() {
		spec.Calendars = append(spec.Calendars, client.ScheduleCalendarSpec{
			Second: ranges(cal.Second), Minute: ranges(cal.Minute), Hour: ranges(cal.Hour),
			DayOfMonth: ranges(cal.DayOfMonth), Month: ranges(cal.Month), DayOfWeek: ranges(cal.DayOfWeek),
			Comment: cal.Comment,
		})
	}
	return spec
}

func pauseNote(enabled bool) string {
	if enabled {
		return "trigger enabled in TriggerFlow"
	}
	return "trigger disabled in TriggerFlow"
}

// Save creates the trigger's schedule or, when it exists, updates it in
// place (spec, action, overlap policy, paused = !enabled). It is idempotent,
// so it also repairs a schedule that drifted or was never made (e.g. by an
// older version).
func (s Schedules) Save(ctx context.Context, t *domain.Trigger) error {
	opts, err := scheduleOptions(t)
	if err != nil {
		return err
	}
	if s.Client == nil {
		return fmt.Errorf("%w: Temporal is not configured", domain.ErrUnavailable)
	}
	for attempt := 0; ; attempt++ {
		_, err = s.Client.ScheduleClient().Create(ctx, opts)
		if !errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
			return temporalError(err, "create schedule "+opts.ID)
		}
		err = s.Client.ScheduleClient().GetHandle(ctx, opts.ID).Update(ctx, client.ScheduleUpdateOptions{
			DoUpdate: func(in client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
				sched := in.Description.Schedule
				sched.Spec = &opts.Spec
				sched.Action = opts.Action
				if sched.Policy == nil {
					sched.Policy = &client.SchedulePolicies{}
				}
				sched.Policy.Overlap = opts.Overlap
				sched.Policy.CatchupWindow = opts.CatchupWindow
				if sched.State == nil {
					sched.State = &client.ScheduleState{}
				}
				if sched.State.Paused != opts.Paused {
					sched.State.Paused, sched.State.Note = opts.Paused, opts.Note
				}
				return &client.ScheduleUpdate{Schedule: &sched}, nil
			},
		})
		// A schedule deleted between Create and Update is created again.
		var nf *serviceerror.NotFound
		if !errors.As(err, &nf) || attempt > 0 {
			return temporalError(err, "update schedule "+opts.ID)
		}
	}
}

// SetPaused pauses (disable, Webitel's stop) or unpauses (enable, start) a
// trigger's schedule.
func (s Schedules) SetPaused(ctx context.Context, triggerID string, paused bool) error {
	if s.Client == nil {
		return fmt.Errorf("%w: Temporal is not configured", domain.ErrUnavailable)
	}
	h := s.Client.ScheduleClient().GetHandle(ctx, workflows.TriggerScheduleID(triggerID))
	if paused {
		return temporalError(h.Pause(ctx, client.SchedulePauseOptions{Note: pauseNote(false)}), "pause schedule "+h.GetID())
	}
	return temporalError(h.Unpause(ctx, client.ScheduleUnpauseOptions{Note: pauseNote(true)}), "unpause schedule "+h.GetID())
}

// Delete removes a trigger's schedule; a schedule that does not exist is
// already deleted. Runs it started keep running to their timeout.
func (s Schedules) Delete(ctx context.Context, triggerID string) error {
	if s.Client == nil {
		return fmt.Errorf("%w: Temporal is not configured", domain.ErrUnavailable)
	}
	err := s.Client.ScheduleClient().GetHandle(ctx, workflows.TriggerScheduleID(triggerID)).Delete(ctx)
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return nil
	}
	return temporalError(err, "delete schedule "+workflows.TriggerScheduleID(triggerID))
}

// Describe reports the schedule's pause state, next fire times and recent runs.
func (s Schedules) Describe(ctx context.Context, triggerID string) (ScheduleState, error) {
	if s.Client == nil {
		return ScheduleState{}, fmt.Errorf("%w: Temporal is not configured", domain.ErrUnavailable)
	}
	id := workflows.TriggerScheduleID(triggerID)
	d, err := s.Client.ScheduleClient().GetHandle(ctx, id).Describe(ctx)
	if err != nil {
		return ScheduleState{}, temporalError(err, "describe schedule "+id)
	}
	st := ScheduleState{Running: len(d.Info.RunningWorkflows)}
	if d.Schedule.State != nil {
		st.Paused = d.Schedule.State.Paused
	}
	for _, t := range d.Info.NextActionTimes {
		st.NextRuns = append(st.NextRuns, t.UTC())
	}
	for _, a := range d.Info.RecentActions {
		r := ScheduledRun{ScheduledAt: a.ScheduleTime.UTC(), StartedAt: a.ActualTime.UTC()}
		if a.StartWorkflowResult != nil {
			r.WorkflowID, r.RunID = a.StartWorkflowResult.WorkflowID, a.StartWorkflowResult.FirstExecutionRunID
		}
		st.Recent = append(st.Recent, r)
	}
	return st, nil
}

// TriggerNow fires the trigger's schedule at once and waits up to wait for
// the run it started, so the caller can answer with its workflow id. The
// run is started even when another is running (a person asked for it);
// scheduled fire times keep the trigger's overlap policy. When the run does
// not show within wait, TriggerNow returns a zero ScheduledRun and no error:
// the firing was accepted and will happen.
func (s Schedules) TriggerNow(ctx context.Context, triggerID string, wait time.Duration) (ScheduledRun, error) {
	before, err := s.Describe(ctx, triggerID)
	if err != nil {
		return ScheduledRun{}, err
	}
	seen := map[string]bool{}
	for _, r := range before.Recent {
		seen[r.WorkflowID] = true
	}
	id := workflows.TriggerScheduleID(triggerID)
	err = s.Client.ScheduleClient().GetHandle(ctx, id).Trigger(ctx, client.ScheduleTriggerOptions{
		Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_ALLOW_ALL,
	})
	if err != nil {
		return ScheduledRun{}, temporalError(err, "trigger schedule "+id)
	}
	deadline := time.Now().Add(wait)
	for {
		st, err := s.Describe(ctx, triggerID)
		if err == nil {
			for i := len(st.Recent) - 1; i >= 0; i-- {
				if r := st.Recent[i]; r.WorkflowID != "" && !seen[r.WorkflowID] {
					return r, nil
				}
			}
		}
		if time.Now().After(deadline) {
			return ScheduledRun{}, nil
		}
		select {
		case <-ctx.Done():
			return ScheduledRun{}, nil
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// temporalError wraps a Temporal client error with a domain sentinel the API
// maps to a status: a missing schedule is ErrNotFound, an unreachable or
// overloaded server ErrUnavailable.
func temporalError(err error, what string) error {
	if err == nil {
		return nil
	}
	var (
		nf          *serviceerror.NotFound
		unavailable *serviceerror.Unavailable
		deadline    *serviceerror.DeadlineExceeded
		exhausted   *serviceerror.ResourceExhausted
		canceled    *serviceerror.Canceled
	)
	switch {
	case errors.As(err, &nf):
		return fmt.Errorf("%s: %v: %w", what, err, domain.ErrNotFound)
	case errors.As(err, &unavailable), errors.As(err, &deadline), errors.As(err, &exhausted), errors.As(err, &canceled),
		errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return fmt.Errorf("%s: %v: %w", what, err, domain.ErrUnavailable)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// SaveAll saves the schedule of every At Time trigger given (see Save) and
// reports how many it saved. Run at worker start, it recreates schedules a
// Temporal cluster lost (a fresh dev server, a restored database) and
// repairs drifted ones; one trigger's failure does not stop the others.
func (s Schedules) SaveAll(ctx context.Context, triggers []*domain.Trigger) (int, error) {
	var errs []error
	n := 0
	for _, t := range triggers {
		if t.Type != domain.TriggerAtTime {
			continue
		}
		if err := s.Save(ctx, t); err != nil {
			errs = append(errs, err)
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}
