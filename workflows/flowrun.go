package workflows

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/triggerflow/triggerflow/activities"
	"github.com/triggerflow/triggerflow/domain"
	"github.com/triggerflow/triggerflow/flowsteps"
)

// Error types a flow run ends with, for operators filtering in Temporal UI.
const (
	ErrTypeStepFailed  = "StepFailed"
	ErrTypeRunTimedOut = "RunTimedOut"
)

// FlowRunResult is how a run ended, step by step.
type FlowRunResult struct {
	RunID  string
	Status string
	Steps  []domain.StepOutcome
}

// finishOptions bound recording the end of a run: the database is retried,
// but a run stopped by its deadline has only seconds left.
var finishOptions = workflow.ActivityOptions{
	StartToCloseTimeout: 10 * time.Second,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval:    200 * time.Millisecond,
		BackoffCoefficient: 2,
		MaximumInterval:    10 * time.Second,
	},
	ScheduleToCloseTimeout: time.Hour,
}

// FlowRunWorkflow runs one flow for a trigger, a queue hook or by itself.
//
// It loads the run (steps of the flow version pinned to it, the event, the
// trigger), builds the scope templates and conditions see (the event's data
// at the top level, event, trigger or queue_hook, run, and steps.<name> for
// each earlier step's output), and runs the steps in order: a step whose
// "if" conditions fail is skipped; otherwise its params are rendered and its
// action's activity executed with the step's timeout and retry policy. The
// delay action is a durable timer in the workflow, not an activity. The
// first failing step fails the run, which records the step and the error.
//
// A run's timeout is its execution timeout. A timed-out workflow cannot
// record anything, so the run stops its own steps shortly before the
// deadline (see softDeadline) and records status timed_out itself; if even
// that does not happen (the worker was down), ReconcileRunStatus reads the
// outcome from Temporal later.
func FlowRunWorkflow(ctx workflow.Context, in FlowRunInput) (FlowRunResult, error) {
	// Steps run as activities with ids "step-<n>", the ids their inline
	// first try used, so every try of a step has one identity (idempotency
	// keys). Runs started before that keep Temporal's numeric ids.
	namedSteps := workflow.GetVersion(ctx, "named-step-activities", workflow.DefaultVersion, 1) == 1
	var fr *activities.FlowRuns
	var load activities.LoadFlowRunResult
	err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, bookkeeping), fr.LoadFlowRun, activities.LoadFlowRunInput{
		RunID: in.RunID, TriggerID: in.TriggerID, QueueHookID: in.QueueHookID, FlowID: in.FlowID,
		EventID: in.EventID, Event: in.Event,
	}).Get(ctx, &load)
	if err != nil {
		return FlowRunResult{}, err
	}
	out := FlowRunResult{RunID: load.RunID}
	scope := activities.FlowScope(load, workflow.GetInfo(ctx).WorkflowExecution.ID)
	// What each step returned, for whoever asks (a flow's test run in the
	// console): outputs live in the history, not in PostgreSQL.
	if err := workflow.SetQueryHandler(ctx, QueryStepOutputs, func() (map[string]json.RawMessage, error) {
		return stepOutputs(scope), nil
	}); err != nil {
		return FlowRunResult{}, err
	}
	if r := in.Resume; r != nil {
		// The run made its first try inline in a batch: what it did there
		// stands, and it goes on from step r.Next.
		out.Steps = append(out.Steps, r.Steps...)
		outputs := scope["steps"].(map[string]any)
		for name, raw := range r.Outputs {
			if o, err := flowsteps.DecodeOutput(raw); err == nil {
				outputs[name] = o
			}
		}
	}

	stepsCtx, cancelSteps := workflow.WithCancel(ctx)
	timerCtx, cancelTimer := workflow.WithCancel(ctx)
	deadlineHit := false
	if d := softDeadline(ctx); d > 0 {
		workflow.Go(timerCtx, func(gctx workflow.Context) {
			if workflow.NewTimer(gctx, d).Get(gctx, nil) == nil {
				deadlineHit = true
				cancelSteps()
			}
		})
	}
	from := 0
	if in.Resume != nil {
		from = in.Resume.Next
	}
	steps := flowsteps.Run(load.Steps, scope, from, workflowSteps{ctx: stepsCtx, resume: in.Resume, namedSteps: namedSteps})
	out.Steps = append(out.Steps, steps.Steps...)
	failed := steps.Failure
	cancelTimer()

	finish := activities.FinishFlowRunInput{RunID: load.RunID, Status: domain.RunSucceeded, Steps: out.Steps}
	var runErr error
	switch {
	case failed == nil:
	case deadlineHit:
		finish.Status, finish.FailedStep = domain.RunTimedOut, failed.Step
		finish.Error = fmt.Sprintf("the run did not finish within its timeout; it was stopped during step %q", failed.Step)
		runErr = temporal.NewNonRetryableApplicationError(finish.Error, ErrTypeRunTimedOut, nil)
	case ctx.Err() != nil:
		finish.Status, finish.FailedStep = domain.RunCanceled, failed.Step
		finish.Error = fmt.Sprintf("the run was canceled during step %q", failed.Step)
		runErr = ctx.Err()
	default:
		finish.Status, finish.FailedStep, finish.Error = domain.RunFailed, failed.Step, failed.Message
		runErr = temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("step %q (%s) failed: %s", failed.Step, failed.Action, failed.Message), ErrTypeStepFailed, failed.Cause)
	}
	out.Status = finish.Status
	// A canceled workflow's context refuses new activities; recording the
	// outcome must happen anyway.
	dctx, cancel := workflow.NewDisconnectedContext(ctx)
	defer cancel()
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(dctx, finishOptions), fr.FinishFlowRun, finish).Get(dctx, nil); err != nil {
		return out, err
	}
	return out, runErr
}

// softDeadline is how long the steps may run: the execution timeout minus a
// margin in which the run records that it timed out. 0 means no deadline.
func softDeadline(ctx workflow.Context) time.Duration {
	info := workflow.GetInfo(ctx)
	timeout := info.WorkflowExecutionTimeout
	if rt := info.WorkflowRunTimeout; rt > 0 && (timeout == 0 || rt < timeout) {
		timeout = rt
	}
	if timeout <= 0 {
		return 0
	}
	margin := min(10*time.Second, timeout/5)
	left := info.WorkflowStartTime.Add(timeout - margin).Sub(workflow.Now(ctx))
	return max(left, time.Millisecond)
}

// workflowSteps carries out a run's steps in its workflow for
// flowsteps.Run: preparations recorded as side effects, each step an activity, and
// the delay action a durable timer.
type workflowSteps struct {
	ctx workflow.Context
	// resume, when set, is the run's inline first try: its step Next goes
	// on with the tries it has left.
	resume *activities.RunResume
	// namedSteps gives each step's activity the id its inline try used.
	namedSteps bool
}

var _ flowsteps.Executor = workflowSteps{}

// Now is the workflow's clock.
func (w workflowSteps) Now() time.Time { return workflow.Now(w.ctx) }

// Prepare prepares the step once, in a side effect, so a replay follows the
// recorded preparation.
func (w workflowSteps) Prepare(_ int, step domain.Step, scope map[string]any) (flowsteps.Prepared, error) {
	var plan flowsteps.Prepared
	err := workflow.SideEffect(w.ctx, func(workflow.Context) any { return activities.PrepareStep(step, scope) }).Get(&plan)
	return plan, err
}

// Execute runs the step's activity (or its timer) and reads a failure as
// the run records it: canceled when the workflow was stopped.
func (w workflowSteps) Execute(i int, step domain.Step, plan flowsteps.Prepared, _ time.Time) (json.RawMessage, error) {
	var retried *activities.RunResume
	if w.resume != nil && i == w.resume.Next {
		retried = w.resume
	}
	activityID := ""
	if w.namedSteps {
		activityID = activities.StepActivityID(i)
	}
	output, err := runStep(w.ctx, step, plan, retried, activityID)
	if err != nil {
		msg := describeStepError(err)
		status := domain.StepFailed
		if w.ctx.Err() != nil {
			status = domain.StepCanceled
		}
		return nil, &flowsteps.StepError{Status: status, Message: msg, Err: err}
	}
	return output, nil
}

// runStep carries out one prepared step and returns its output. retried,
// when set, tells the tries its inline first try made; activityID, when
// set, is the step's activity id.
func runStep(ctx workflow.Context, step domain.Step, plan flowsteps.Prepared, retried *activities.RunResume, activityID string) (json.RawMessage, error) {
	if step.Action == activities.ActionDelay {
		if err := workflow.Sleep(ctx, plan.Delay); err != nil {
			return nil, err
		}
		return json.Marshal(map[string]any{
			"duration":   plan.Delay.String(),
			"resumed_at": workflow.Now(ctx).UTC().Format(time.RFC3339Nano),
		})
	}
	opts := workflow.ActivityOptions{
		ActivityID:          activityID,
		StartToCloseTimeout: step.EffectiveTimeout(),
		RetryPolicy:         flowsteps.RetryPolicy(step),
	}
	if expire := step.EffectiveRetry().ExpireAfter; expire > 0 {
		opts.ScheduleToCloseTimeout = time.Duration(expire)
	}
	if retried != nil && retried.Attempts > 0 {
		// Go on as Temporal would have after the inline tries: wait for
		// the next one, with the attempts and retry window left.
		if err := workflow.Sleep(ctx, retried.RetryDelay); err != nil {
			return nil, err
		}
		flowsteps.RemainingRetry(opts.RetryPolicy, retried.Attempts)
		if opts.ScheduleToCloseTimeout > 0 {
			left := opts.ScheduleToCloseTimeout - workflow.Now(ctx).Sub(retried.FirstTryAt)
			if left <= 0 {
				return nil, temporal.NewNonRetryableApplicationError("the step's retry window ended", activities.ErrTypeAttemptFailed, nil)
			}
			opts.ScheduleToCloseTimeout = left
		}
	}
	var raw json.RawMessage
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, opts), step.Action, plan.Params).Get(ctx, &raw); err != nil {
		return nil, err
	}
	return raw, nil
}

// describeStepError is the innermost, human part of an activity failure.
func describeStepError(err error) string {
	var appErr *temporal.ApplicationError
	var timeoutErr *temporal.TimeoutError
	var canceledErr *temporal.CanceledError
	switch {
	case errors.As(err, &appErr):
		return appErr.Message()
	case errors.As(err, &timeoutErr):
		return fmt.Sprintf("timed out (%s)", strings.ToLower(strings.TrimPrefix(timeoutErr.TimeoutType().String(), "TIMEOUT_TYPE_")))
	case errors.As(err, &canceledErr), errors.Is(err, workflow.ErrCanceled):
		return "canceled"
	}
	return err.Error()
}

// FlowTestRunWorkflowID is the id of a run of a flow by itself (POST
// /v1/flows/{id}/run): under the trigger- prefix, like every run.
func FlowTestRunWorkflowID(flowID, runID string) string {
	return fmt.Sprintf("trigger-flow-%s-%s", flowID, runID)
}

// maxQueriedOutput bounds each step output a QueryStepOutputs answer holds.
const maxQueriedOutput = 64 << 10

// stepOutputs is each step's output as JSON; one larger than
// maxQueriedOutput is replaced by a note saying so.
func stepOutputs(scope map[string]any) map[string]json.RawMessage {
	steps, _ := scope["steps"].(map[string]any)
	out := make(map[string]json.RawMessage, len(steps))
	for name, v := range steps {
		raw, err := json.Marshal(v)
		switch {
		case err != nil:
			raw, _ = json.Marshal(map[string]string{"unreadable": err.Error()})
		case len(raw) > maxQueriedOutput:
			raw, _ = json.Marshal(map[string]any{"truncated": true, "bytes": len(raw)})
		}
		out[name] = raw
	}
	return out
}
