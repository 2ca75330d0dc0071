package dispatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/triggerflow/triggerflow/activities"
	"github.com/triggerflow/triggerflow/domain"
	"github.com/triggerflow/triggerflow/store"
	"github.com/triggerflow/triggerflow/workflows"
)

// Reconciler makes sure every pending thing PostgreSQL records has a live
// carrier in Temporal. It finds the deliveries, ordered queues and runs that
// nothing has touched for a while although their next step is due, asks
// Temporal about the workflow that should carry each, and:
//   - hands it over again when that workflow does not exist (Temporal's data
//     was lost: a fresh cluster, a reset namespace) or ended without settling
//     it;
//   - ends it as canceled when an operator canceled or terminated the
//     workflow (in Temporal UI, say), so the log says what happened;
//   - wakes (starting it again if need be) a webhook's backlog workflow
//     whose backlog went quiet;
//   - resumes the parked deliveries of webhooks enabled again.
//
// Passes are cheap when all is well (a few indexed queries); safe to run in
// every worker (see worker.RunReconciler, which lets one run at a time).
type Reconciler struct {
	Temporal   client.Client
	Deliveries *store.Deliveries
	Events     *store.Events
	Runs       *store.Runs
	RunOptions activities.RunOptions
	Log        *slog.Logger
	// Quiet is how long work must have been untouched (and due) before its
	// carrier is checked (default 2 minutes).
	Quiet time.Duration
	// Limit bounds how many deliveries and runs one pass checks (default 500).
	Limit int
}

// ReconcileReport counts what a pass did.
type ReconcileReport struct {
	Resumed     int // parked deliveries of enabled webhooks handed over
	Queues      int // ordered queue workflows started again
	Backlogs    int // backlog workflows started again (or woken for a quiet backlog)
	HandedOver  int // deliveries whose carrier was gone, handed over again
	Canceled    int // deliveries and runs whose workflow an operator canceled or terminated
	RunsStarted int // runs whose carrier was gone, started again
	RunsEnded   int // runs whose workflow ended without recording it
}

// Reconcile makes one pass.
func (r *Reconciler) Reconcile(ctx context.Context) (ReconcileReport, error) {
	var rep ReconcileReport
	quiet, limit := r.Quiet, r.Limit
	if quiet <= 0 {
		quiet = 2 * time.Minute
	}
	if limit <= 0 {
		limit = 500
	}
	since := time.Now().Add(-quiet)
	var errs []error
	n, err := ResumeParked(ctx, r.Temporal, r.Deliveries, r.Events, nil, limit*10, r.Log)
	rep.Resumed = n
	errs = append(errs, err)
	errs = append(errs, r.queues(ctx, since, limit, &rep))
	errs = append(errs, r.deliveries(ctx, since, limit, &rep))
	if r.Runs != nil {
		errs = append(errs, r.runs(ctx, since, limit, &rep))
	}
	return rep, errors.Join(errs...)
}

// carrierState is what Temporal says of a workflow that should carry work.
type carrierState int

const (
	carrierRunning  carrierState = iota
	carrierMissing               // no such workflow: Temporal lost it, or it never started
	carrierEnded                 // ended on its own (completed, failed, timed out)
	carrierStopped               // canceled or terminated by someone
	carrierTimedOut              // reached its execution timeout
)

func (r *Reconciler) describe(ctx context.Context, workflowID string) (carrierState, error) {
	resp, err := r.Temporal.DescribeWorkflowExecution(ctx, workflowID, "")
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return carrierMissing, nil
	}
	if err != nil {
		return carrierRunning, err
	}
	switch resp.GetWorkflowExecutionInfo().GetStatus() {
	case enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING:
		return carrierRunning, nil
	case enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED, enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED:
		return carrierStopped, nil
	case enumspb.WORKFLOW_EXECUTION_STATUS_TIMED_OUT:
		return carrierTimedOut, nil
	default:
		return carrierEnded, nil
	}
}

func (r *Reconciler) queues(ctx context.Context, since time.Time, limit int, rep *ReconcileReport) error {
	hooks, err := r.Deliveries.QuietQueues(ctx, since, limit)
	if err != nil {
		return err
	}
	var errs []error
	for _, w := range hooks {
		state, err := r.describe(ctx, workflows.WebhookQueueWorkflowID(w.Code, w.ID))
		if err != nil || state == carrierRunning {
			errs = append(errs, err)
			continue
		}
		// A queue is the webhook's, not one delivery's: whatever ended it,
		// its pending deliveries need it running.
		if _, err := WakeWebhookQueue(ctx, r.Temporal, w.ID, w.Code); err != nil {
			errs = append(errs, err)
			continue
		}
		rep.Queues++
	}
	return errors.Join(errs...)
}

func (r *Reconciler) deliveries(ctx context.Context, since time.Time, limit int, rep *ReconcileReport) error {
	quiet, err := r.Deliveries.QuietDeliveries(ctx, since, limit)
	if err != nil {
		return err
	}
	states := map[string]carrierState{}
	woken := map[string]bool{}
	var alive []string
	var errs []error
	for _, d := range quiet {
		carrier := d.WorkflowID
		if carrier == "" {
			carrier = workflows.BatchWorkflowID(d.Group)
		}
		state, ok := states[carrier]
		if !ok {
			if state, err = r.describe(ctx, carrier); err != nil {
				errs = append(errs, err)
				continue
			}
			states[carrier] = state
		}
		backlog := d.WorkflowID != "" && d.WorkflowID == workflows.BacklogWorkflowID(d.WebhookCode, d.WebhookID)
		if backlog && state != carrierStopped && state != carrierTimedOut {
			// A webhook's backlog is the webhook's, not one delivery's:
			// whatever ended its workflow, the backlog needs it running.
			if !woken[carrier] {
				if err := (Starter{}).WakeBacklog(ctx, r.Temporal, d.WebhookID, d.WebhookCode); err != nil {
					errs = append(errs, err)
					continue
				}
				woken[carrier] = true
				if state != carrierRunning {
					rep.Backlogs++
					r.Log.Info("reconciler started a webhook's backlog workflow again", "workflow", carrier)
				}
			}
			alive = append(alive, d.ID)
			continue
		}
		switch state {
		case carrierRunning:
			alive = append(alive, d.ID)
		case carrierStopped, carrierTimedOut:
			if err := r.Deliveries.Record(ctx, []store.Record{{Outcome: store.Outcome{
				DeliveryID: d.ID, Status: domain.DeliveryCanceled, Carrier: carrier,
				LastError: fmt.Sprintf("its workflow %s was canceled or terminated (in Temporal)", carrier),
			}}}); err != nil {
				errs = append(errs, err)
				continue
			}
			rep.Canceled++
		default:
			if err := r.handOver(ctx, d, carrier); err != nil {
				errs = append(errs, err)
				continue
			}
			rep.HandedOver++
		}
	}
	if len(alive) > 0 {
		errs = append(errs, r.Deliveries.Touch(ctx, alive))
	}
	return errors.Join(errs...)
}

// handOver gives a delivery whose carrier is gone a workflow of its own.
func (r *Reconciler) handOver(ctx context.Context, d store.QuietDelivery, from string) error {
	to := workflows.DeliveryWorkflowID(d.ID)
	if d.WorkflowID == "" {
		from = ""
	}
	moved, err := r.Deliveries.HandOver(ctx, d.ID, from, to)
	if err != nil || !moved {
		return err
	}
	in := workflows.DeliveryInput{DeliveryID: d.ID, WebhookID: d.WebhookID, WebhookCode: d.WebhookCode, EventID: d.EventID, EventType: d.EventType}
	if d.NextAttemptAt != nil {
		in.FirstDelay = max(0, time.Until(*d.NextAttemptAt))
	}
	if _, err := StartDelivery(ctx, r.Temporal, in); err != nil {
		_, _ = r.Deliveries.HandOver(ctx, d.ID, to, from)
		return err
	}
	r.Log.Info("reconciler handed a delivery over again", "delivery", d.ID, "carrier_was", from)
	return nil
}

func (r *Reconciler) runs(ctx context.Context, since time.Time, limit int, rep *ReconcileReport) error {
	quiet, err := r.Runs.QuietRuns(ctx, since, limit)
	if err != nil {
		return err
	}
	var errs []error
	for i := range quiet {
		run := &quiet[i].Run
		inline := run.InlineWorkflowID != "" || (run.Status == domain.RunPending && run.BatchID != "")
		carrier := run.ExecWorkflow()
		if run.Status == domain.RunPending && run.BatchID != "" {
			source := store.Value(run.TriggerID)
			if source == "" {
				source = store.Value(run.QueueHookID)
			}
			carrier = workflows.RunBatchWorkflowID(source, quiet[i].Group)
		}
		state, err := r.describe(ctx, carrier)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		outcome := store.RunOutcome{ID: run.ID}
		switch {
		case state == carrierRunning:
			continue
		case state == carrierStopped:
			outcome.Status, outcome.Error = domain.RunCanceled, fmt.Sprintf("its workflow %s was canceled or terminated (in Temporal)", carrier)
		case state == carrierTimedOut && !inline:
			outcome.Status, outcome.Error = domain.RunTimedOut, "the run passed its timeout"
		case state == carrierMissing || inline:
			// Never started, lost with Temporal's data, or left behind by
			// its batch: it runs again from its first step.
			if err := r.restartRun(ctx, run); err != nil {
				errs = append(errs, err)
				continue
			}
			rep.RunsStarted++
			continue
		default:
			outcome.Status, outcome.Error = domain.RunFailed, fmt.Sprintf("its workflow %s ended without recording the run's outcome", carrier)
		}
		if err := r.Runs.Finish(ctx, outcome); err != nil {
			errs = append(errs, err)
			continue
		}
		if outcome.Status == domain.RunCanceled {
			rep.Canceled++
		} else {
			rep.RunsEnded++
		}
	}
	return errors.Join(errs...)
}

// restartRun starts a run's own workflow from its first step.
func (r *Reconciler) restartRun(ctx context.Context, run *store.Run) error {
	timeout, sa, err := r.RunOptions.OptionsFor(ctx, run)
	if err != nil {
		return err
	}
	wfID, runID, err := Starter{}.StartRun(ctx, r.Temporal, run, timeout, sa, nil)
	if err != nil {
		var started *serviceerror.WorkflowExecutionAlreadyStarted
		if errors.As(err, &started) {
			return r.Runs.Finish(ctx, store.RunOutcome{ID: run.ID, Status: domain.RunFailed,
				Error: "its workflow ended without recording the run's outcome"})
		}
		return err
	}
	r.Log.Info("reconciler started a run again", "run", run.ID, "workflow", wfID)
	if run.Status == domain.RunPending {
		return r.Runs.MarkStarted(ctx, run.ID, wfID, runID)
	}
	return r.Runs.HandOverMany(ctx, []store.StartedRun{{ID: run.ID, WorkflowID: wfID, RunID: runID}})
}
