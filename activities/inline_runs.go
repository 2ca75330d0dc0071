package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/triggerflow/triggerflow/domain"
	"github.com/triggerflow/triggerflow/flowsteps"
	"github.com/triggerflow/triggerflow/store"
)

// A publish that plans runs does not start a workflow per run. The runs of
// one trigger (or queue hook) in a dispatched group of batches make their
// first try together, in one activity of one batch run workflow: each run's
// steps are executed in order, in this process, like the delivery batch makes
// every delivery's first attempt. A run that ends (succeeded, or failed for
// good) is recorded; a run whose step fails in a way its retry policy would
// retry, or that reaches a delay, is handed to a workflow of its own
// (FlowRunWorkflow with RunResume), which goes on from that step with the
// attempts left. A workflow per run costs the embedded server ~60× a
// delivery; the inline first try costs about what its HTTP call costs.

// RunPlannedInput names the planned runs of one trigger or queue hook in a
// group of publish batches.
type RunPlannedInput struct {
	BatchIDs    []string
	TriggerID   string
	QueueHookID string
}

// RunPlannedResult counts what the inline first tries did.
type RunPlannedResult struct {
	Succeeded int
	Failed    int
	HandedOff int
}

// RunResume is where a run handed over after its inline first try goes on.
type RunResume struct {
	// Next is the index of the step to run next.
	Next int
	// Steps are the outcomes of the steps before Next.
	Steps []domain.StepOutcome
	// Outputs are the outputs of the steps before Next, by step name.
	Outputs map[string]json.RawMessage
	// Attempts is how many tries of step Next were made (0 for a delay).
	Attempts int
	// RetryDelay is the wait before the next try: the policy's interval,
	// or what the failed try asked for (Retry-After).
	RetryDelay time.Duration
	// FirstTryAt is when step Next was first tried; the step's retry expiry
	// counts from it.
	FirstTryAt time.Time
}

// RunPlannedRuns makes the first try of the runs a trigger or queue hook has
// in a group of publish batches. Retrying the activity after a crash tries
// again only the runs neither recorded nor handed over, from their first
// step (at least once, like any retried activity).
func (a *Runs) RunPlannedRuns(ctx context.Context, in RunPlannedInput) (RunPlannedResult, error) {
	defer keepHeartbeating(ctx)()
	var res RunPlannedResult
	group := store.RunGroup{TriggerID: in.TriggerID, QueueHookID: in.QueueHookID}
	runs, err := a.Runs.InlineInBatches(ctx, in.BatchIDs, group)
	if err != nil || len(runs) == 0 {
		return res, err
	}
	src, gone, err := a.groupSource(ctx, group)
	if err != nil {
		return res, err
	}
	if gone != "" {
		outcomes := make([]store.RunOutcome, len(runs))
		for i, r := range runs {
			outcomes[i] = store.RunOutcome{ID: r.ID, Status: domain.RunFailed, Error: gone}
		}
		res.Failed = len(runs)
		return res, a.Runs.FinishMany(ctx, outcomes)
	}
	prog, err := a.newProgramLoader(ctx, src)
	if err != nil {
		return res, err
	}
	ids := make([]string, len(runs))
	eventIDs := make([]string, 0, len(runs))
	for i, r := range runs {
		ids[i] = r.ID
		if r.EventID != nil {
			eventIDs = append(eventIDs, *r.EventID)
		}
	}
	info := activity.GetInfo(ctx)
	if runs, err = a.Runs.MarkInline(ctx, ids, info.WorkflowExecution.ID, info.WorkflowExecution.RunID,
		prog.current.FlowID, prog.current.FlowVersion); err != nil {
		return res, err
	}
	events, err := a.Events.GetMany(ctx, eventIDs)
	if err != nil {
		return res, err
	}

	timeout := src.Timeout
	if timeout <= 0 {
		timeout = domain.DefaultTriggerTimeout
	}
	rec := newOutcomeWriter(ctx, a.Runs)
	var (
		mu       sync.Mutex
		handOver []inlineHandOver
	)
	sem := make(chan struct{}, a.inlineConcurrency())
	var wg sync.WaitGroup
	for _, r := range runs {
		load, failure, err := prog.load(ctx, r, src, events)
		if err != nil {
			wg.Wait() // the runs begun finish and are recorded; the retry does the rest
			if cerr := rec.close(); cerr != nil {
				err = errors.Join(err, cerr)
			}
			return res, err
		}
		if failure != "" {
			mu.Lock()
			res.Failed++
			mu.Unlock()
			rec.add(store.RunOutcome{ID: r.ID, Status: domain.RunFailed, Error: failure})
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func(r *store.Run, load LoadFlowRunResult) {
			defer wg.Done()
			defer func() { <-sem }()
			outcome, resume := a.runInline(ctx, r, load, timeout)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case resume != nil:
				handOver = append(handOver, inlineHandOver{run: r, resume: resume})
			case outcome == nil:
				// Stopped with the activity: tried again when it is retried.
			case outcome.Status == domain.RunSucceeded:
				res.Succeeded++
				rec.add(*outcome)
			default:
				res.Failed++
				rec.add(*outcome)
			}
		}(r, load)
	}
	wg.Wait()
	if err := rec.close(); err != nil {
		return res, err
	}
	if err := ctx.Err(); err != nil {
		return res, err // stopped: what is left is tried again
	}
	n, err := a.handOverRuns(ctx, handOver)
	res.HandedOff = n
	return res, err
}

// inlineConcurrency bounds runs tried at once in one activity.
func (a *Runs) inlineConcurrency() int {
	if a.Concurrency > 0 {
		return a.Concurrency
	}
	return 64
}

// groupSource reads the trigger or queue hook of a group of runs. gone says
// why none of its runs can run (it was deleted since the publish).
func (a *Runs) groupSource(ctx context.Context, g store.RunGroup) (*store.RunSource, string, error) {
	var src *store.RunSource
	var err error
	if g.TriggerID != "" {
		src, err = a.Runs.TriggerSource(ctx, g.TriggerID)
	} else {
		src, err = a.Runs.QueueHookSource(ctx, g.QueueHookID)
	}
	if errors.Is(err, domain.ErrNotFound) {
		if g.TriggerID != "" {
			return nil, fmt.Sprintf("trigger %s no longer exists", g.TriggerID), nil
		}
		return nil, fmt.Sprintf("queue hook %s no longer exists", g.QueueHookID), nil
	}
	return src, "", err
}

// programLoader finds the steps of runs that share a source: the flow's
// current version (what new runs pin), and other versions runs pinned
// before, each read once.
type programLoader struct {
	a        *Runs
	flow     *domain.Flow // nil for a trigger with actions
	current  LoadFlowRunResult
	versions map[int][]domain.Step
	err      string // why no run of this source can run
}

func (a *Runs) newProgramLoader(ctx context.Context, src *store.RunSource) (*programLoader, error) {
	p := &programLoader{a: a, versions: map[int][]domain.Step{}}
	switch {
	case src.FlowID != "":
		flow, err := a.Flows.Get(ctx, src.FlowID)
		if errors.Is(err, domain.ErrNotFound) {
			p.err = fmt.Sprintf("flow %s no longer exists", src.FlowID)
			return p, nil
		}
		if err != nil {
			return nil, err
		}
		p.flow = flow
		p.current = LoadFlowRunResult{FlowID: flow.ID, FlowName: flow.Name, FlowVersion: flow.Version}
	case len(src.Actions) > 0:
		p.current.Steps = domain.StepsFromTriggerActions(src.Actions)
	default:
		p.err = "the run has neither a flow nor actions to execute"
	}
	return p, nil
}

// load is what one run executes (as LoadFlowRun would return it), or why it
// cannot run.
func (p *programLoader) load(ctx context.Context, r *store.Run, src *store.RunSource, events map[string]store.StoredEvent) (LoadFlowRunResult, string, error) {
	if p.err != "" {
		return LoadFlowRunResult{}, p.err, nil
	}
	res := p.current
	res.RunID = r.ID
	if p.flow != nil {
		version := p.flow.Version
		if r.FlowVersion != nil {
			version = *r.FlowVersion
		}
		steps, ok := p.versions[version]
		if !ok {
			v, err := p.a.Flows.Version(ctx, p.flow.ID, version)
			if errors.Is(err, domain.ErrNotFound) {
				return res, fmt.Sprintf("version %d of flow %s no longer exists", version, p.flow.Name), nil
			}
			if err != nil {
				return res, "", err
			}
			steps = v.Steps
			p.versions[version] = steps
		}
		res.FlowVersion, res.Steps = version, steps
	}
	res.Source = &RunSourceInfo{
		TriggerID: src.TriggerID, QueueHookID: src.QueueHookID, Name: src.Name, Type: src.Type,
		TimeZone: src.TimeZone, QueueID: src.QueueID, Object: src.Object, Event: src.Event,
	}
	switch ev, ok := events[store.Value(r.EventID)]; {
	case ok:
		res.Event, res.HasEvent = ev.Event, true
	case r.EventID != nil:
		return res, fmt.Sprintf("event %s does not exist", *r.EventID), nil
	default:
		res.Event = domain.Event{OccurredAt: r.StartedAt.UTC()}
	}
	return res, "", nil
}

// runInline makes one run's first try. It returns the run's outcome when the
// run ended, or where its own workflow must go on; neither when the activity
// stopped before the run ended (it is tried again with the activity).
func (a *Runs) runInline(ctx context.Context, r *store.Run, load LoadFlowRunResult, timeout time.Duration) (*store.RunOutcome, *RunResume) {
	// Like FlowRunWorkflow, stop a margin before the timeout to record it.
	margin := min(10*time.Second, timeout/5)
	runCtx, cancel := context.WithTimeout(ctx, timeout-margin)
	defer cancel()
	exec := &inlineSteps{actions: a.Actions, ctx: ctx, runCtx: runCtx, workflowID: r.WorkflowID}
	res := flowsteps.Run(load.Steps, FlowScope(load, r.WorkflowID), 0, exec)
	ended := func(status, step, msg string) (*store.RunOutcome, *RunResume) {
		return &store.RunOutcome{ID: r.ID, Status: status, FailedStep: step, Error: msg, Steps: res.Steps}, nil
	}
	switch f := res.Failure; {
	case f != nil && errors.Is(f.Cause, errRunTimedOut):
		return ended(domain.RunTimedOut, f.Step,
			fmt.Sprintf("the run did not finish within its timeout; it was stopped during step %q", f.Step))
	case f != nil:
		return ended(domain.RunFailed, f.Step, f.Message)
	case res.Unfinished != nil && exec.handOver != nil:
		resume := *exec.handOver
		resume.Next, resume.Steps, resume.Outputs = res.Next, res.Steps, res.Outputs
		return nil, &resume
	case res.Unfinished != nil:
		return nil, nil
	}
	return ended(domain.RunSucceeded, "", "")
}

// errRunTimedOut is the cause of a step stopped by its run's timeout.
var errRunTimedOut = errors.New("the run timed out")

// inlineSteps carries out a run's steps in this process for flowsteps.Run:
// each action is called directly, and a step that its retry policy would
// try again, or a delay, leaves the run to a workflow of its own.
type inlineSteps struct {
	actions *Actions
	// ctx is the activity's; runCtx is bound by the run's timeout.
	ctx, runCtx context.Context
	workflowID  string
	// handOver, when set, is where the run's workflow goes on: the tries
	// the unfinished step made and the wait before its next one.
	handOver *RunResume
}

var _ flowsteps.Executor = (*inlineSteps)(nil)

// Now is the wall clock.
func (e *inlineSteps) Now() time.Time { return time.Now().UTC() }

// Prepare prepares the step directly: nothing is replayed inline.
func (e *inlineSteps) Prepare(_ int, step domain.Step, scope map[string]any) (flowsteps.Prepared, error) {
	return PrepareStep(step, scope), nil
}

// Execute calls the step's action with the step's timeout and identity. A
// failure the step's retry policy would retry, and a delay, hand the run
// over; a stopping activity leaves it to be tried again.
func (e *inlineSteps) Execute(i int, step domain.Step, plan flowsteps.Prepared, started time.Time) (json.RawMessage, error) {
	act, _ := LookupAction(step.Action) // PrepareStep found it
	if act.call == nil {
		e.handOver = &RunResume{}
		return nil, fmt.Errorf("%w: a durable timer is the workflow's part", flowsteps.ErrUnfinished)
	}
	stepCtx, stepCancel := context.WithTimeout(e.runCtx, step.EffectiveTimeout())
	stepCtx = withStepInfo(stepCtx, StepInfo{WorkflowID: e.workflowID, StepID: StepActivityID(i)})
	out, err := act.call(e.actions, stepCtx, plan.Params)
	stepCancel()
	if err == nil {
		raw, err := json.Marshal(out)
		if err == nil {
			return raw, nil
		}
		err = permanentActionError("step output cannot be encoded: %v", err)
	}
	switch {
	case e.ctx.Err() != nil:
		return nil, fmt.Errorf("%w: the activity is stopping; the run is tried again with it", flowsteps.ErrUnfinished)
	case e.runCtx.Err() != nil:
		return nil, &flowsteps.StepError{Message: "timed out (run timeout)", Err: errRunTimedOut}
	}
	msg, delay, retry := classifyInlineError(err, flowsteps.RetryPolicy(step))
	if !retry {
		return nil, &flowsteps.StepError{Message: msg, Err: err}
	}
	e.handOver = &RunResume{Attempts: 1, RetryDelay: delay, FirstTryAt: started}
	return nil, fmt.Errorf("%w: its retries go on in the run's workflow", flowsteps.ErrUnfinished)
}

// classifyInlineError reads a failed first try the way Temporal would under
// the step's retry policy rp: its message, the wait before the next try,
// and whether the policy allows one.
func classifyInlineError(err error, rp *temporal.RetryPolicy) (string, time.Duration, bool) {
	next := rp.InitialInterval
	msg := err.Error()
	var appErr *temporal.ApplicationError
	switch {
	case errors.As(err, &appErr):
		msg = appErr.Message()
		if appErr.NonRetryable() {
			return msg, 0, false
		}
		if d := appErr.NextRetryDelay(); d > 0 {
			next = d
		}
	case errors.Is(err, context.DeadlineExceeded):
		msg = "timed out (start_to_close)"
	}
	if rp.MaximumAttempts == 1 {
		return msg, 0, false
	}
	return msg, next, true
}

// inlineHandOver is a run leaving the batch for a workflow of its own.
type inlineHandOver struct {
	run    *store.Run
	resume *RunResume
}

// handOverRuns starts the workflows of runs that go on after their inline
// try, with the time their timeout leaves, and records them.
func (a *Runs) handOverRuns(ctx context.Context, items []inlineHandOver) (int, error) {
	if len(items) == 0 {
		return 0, nil
	}
	runs := make([]*store.Run, len(items))
	resumes := make([]*RunResume, len(items))
	for i, h := range items {
		runs[i], resumes[i] = h.run, h.resume
	}
	started, startErr := a.startRuns(ctx, runs, resumes)
	if err := a.Runs.HandOverMany(ctx, started); err != nil {
		return 0, err
	}
	return len(started), startErr
}

// outcomeWriter records finished runs in few statements while others are
// still running: it writes whatever has finished since its last write.
type outcomeWriter struct {
	runs *store.Runs
	ch   chan store.RunOutcome
	done chan error
}

func newOutcomeWriter(ctx context.Context, runs *store.Runs) *outcomeWriter {
	w := &outcomeWriter{runs: runs, ch: make(chan store.RunOutcome, 256), done: make(chan error, 1)}
	go w.loop(ctx)
	return w
}

func (w *outcomeWriter) add(o store.RunOutcome) { w.ch <- o }

// close writes what is left and reports the first write that failed.
func (w *outcomeWriter) close() error {
	close(w.ch)
	return <-w.done
}

func (w *outcomeWriter) loop(ctx context.Context) {
	var firstErr error
	for o := range w.ch {
		batch := []store.RunOutcome{o}
	more:
		for len(batch) < 500 {
			select {
			case o, ok := <-w.ch:
				if !ok {
					break more
				}
				batch = append(batch, o)
			default:
				break more
			}
		}
		if firstErr == nil {
			firstErr = w.write(ctx, batch)
		}
	}
	w.done <- firstErr
}

// write records outcomes, retrying a failing database a few times.
func (w *outcomeWriter) write(ctx context.Context, batch []store.RunOutcome) error {
	var err error
	for attempt := range 4 {
		if err = w.runs.FinishMany(ctx, batch); err == nil || ctx.Err() != nil {
			return err
		}
		time.Sleep(time.Duration(100<<attempt) * time.Millisecond)
	}
	return fmt.Errorf("record %d finished runs: %w", len(batch), err)
}
