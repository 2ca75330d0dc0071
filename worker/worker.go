// Package worker registers TriggerFlow's workflows and activities on the task
// queue and runs them. It is the composition point for activities'
// dependencies; nothing imports it but cmd.
package worker

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/triggerflow/triggerflow/matching"

	"github.com/triggerflow/triggerflow/dispatch"

	"github.com/jmoiron/sqlx"
	"github.com/prometheus/client_golang/prometheus"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/triggerflow/triggerflow/activities"
	"github.com/triggerflow/triggerflow/internal/deliverymetrics"
	"github.com/triggerflow/triggerflow/store"
	"github.com/triggerflow/triggerflow/workflows"
)

// EnsureSearchAttributes registers TriggerFlow's custom search attributes on
// namespace when they are missing, so a fresh Temporal cluster works with no
// manual step. It is idempotent and safe to run from many workers at once.
func EnsureSearchAttributes(ctx context.Context, c client.Client, namespace string, log *slog.Logger) error {
	return ensureSearchAttributes(ctx, c, namespace, workflows.SearchAttributes(), log)
}

func ensureSearchAttributes(ctx context.Context, c client.Client, namespace string, want map[string]enumspb.IndexedValueType, log *slog.Logger) error {
	resp, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	if err != nil {
		return fmt.Errorf("list search attributes: %w", err)
	}
	missing := map[string]enumspb.IndexedValueType{}
	for name, typ := range want {
		have, ok := resp.GetCustomAttributes()[name]
		if !ok {
			missing[name] = typ
			continue
		}
		if have != typ {
			return fmt.Errorf("search attribute %s exists with type %s, want %s", name, have, typ)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	_, err = c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace:        namespace,
		SearchAttributes: missing,
	})
	if err != nil {
		// Another worker may have added them at the same moment.
		again, lerr := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
		if lerr == nil {
			allThere := true
			for name := range missing {
				if _, ok := again.GetCustomAttributes()[name]; !ok {
					allThere = false
				}
			}
			if allThere {
				return nil
			}
		}
		return fmt.Errorf("add search attributes: %w", err)
	}
	if log != nil {
		for name := range missing {
			log.Info("registered search attribute", "name", name, "namespace", namespace)
		}
	}
	return nil
}

// Options are the worker's dependencies and settings.
type Options struct {
	DB       *sqlx.DB
	Temporal client.Client
	Logger   *slog.Logger
	// HTTP is the outbound client for user URLs (egress checks included).
	HTTP *http.Client
	// Concurrency bounds parallel requests to one webhook within one
	// delivery group (each webhook has its own lane).
	Concurrency int
	// DeliveryBudget is how long one delivery-group activity starts new
	// requests (default 60s); the rest go in the next call.
	DeliveryBudget time.Duration
	// MaxPerWebhook bounds the requests in flight to one webhook from this
	// worker across groups (default 64; see activities.Webhooks).
	MaxPerWebhook int
	// Metrics, when set, receives the delivery metrics
	// (internal/deliverymetrics).
	Metrics prometheus.Registerer
	// Actions configures flow actions that reach outside systems (SMTP for
	// email.send, the lead API for lead.update.list).
	Actions activities.ActionSettings
	// Cipher opens webhook signing secrets sealed at rest
	// (TRIGGERFLOW_SECRET_KEY).
	Cipher store.SecretCipher
	// Index matches the events the worker raises (a case's planned
	// resolution time) against webhooks and triggers; keep it fresh with
	// Index.Listen. nil makes one that reloads every 30 s.
	Index *matching.Index
}

// New registers every workflow and activity on the task queue and returns
// the (not yet started) worker.
func New(opts Options) sdkworker.Worker {
	w := sdkworker.New(opts.Temporal, workflows.TaskQueue, sdkworker.Options{
		// Batches are few and large; flows are many and small. These
		// bounds keep a 2-core machine responsive under a backlog.
		// Delivery calls mostly wait on receivers: many may run at once.
		// A slow receiver holds at most activities.Webhooks.MaxPerWebhook
		// of them, so the others always have room.
		MaxConcurrentActivityExecutionSize:     2048,
		MaxConcurrentWorkflowTaskExecutionSize: 64,
		MaxConcurrentActivityTaskPollers:       4,
		MaxConcurrentWorkflowTaskPollers:       4,
		// On shutdown, running activities get this long to finish and record
		// what they sent before they are cancelled (and later retried).
		WorkerStopTimeout: 15 * time.Second,
	})
	w.RegisterWorkflow(workflows.DeliverBatchWorkflow)
	w.RegisterWorkflow(workflows.DeliveryWorkflow)
	w.RegisterWorkflow(workflows.WebhookQueueWorkflow)
	w.RegisterWorkflow(workflows.WebhookBacklogWorkflow)
	w.RegisterActivity(&activities.Webhooks{
		Deliveries:    &store.Deliveries{DB: opts.DB},
		Webhooks:      &store.Webhooks{DB: opts.DB, Cipher: opts.Cipher},
		HTTP:          opts.HTTP,
		Temporal:      opts.Temporal,
		Starter:       dispatch.Starter{},
		Concurrency:   opts.Concurrency,
		Budget:        opts.DeliveryBudget,
		MaxPerWebhook: opts.MaxPerWebhook,
		Observer:      deliveryObserver(opts.Metrics),
	})
	registerFlows(w, opts)
	registerRetention(w, opts.DB)
	registerCaseTimers(w, opts)
	return w
}

// registerCaseTimers registers the case timers and the activity that
// raises a case's planned resolution time through the publish path.
func registerCaseTimers(w sdkworker.Worker, opts Options) {
	events := &store.Events{DB: opts.DB}
	index := opts.Index
	if index == nil {
		index = matching.NewIndex(opts.DB, opts.Logger)
	}
	w.RegisterWorkflow(workflows.CaseTimerWorkflow)
	w.RegisterActivity(&activities.CaseTimers{Events: events,
		Raiser: &dispatch.Raiser{Temporal: opts.Temporal, Events: events, Index: index}})
}

// RunDispatcherSweep hands over publish batches whose publisher stored them
// but could not hand them to Temporal, until ctx ends: every few seconds, and
// without pause while a backlog lasts (after a Temporal outage, say). Sweeps
// in several workers share a backlog: each claims its own batches.
// separate hands each first try over as its own workflow (see
// workflows.Group.Separate).
func RunDispatcherSweep(ctx context.Context, c client.Client, db *sqlx.DB, separate bool, log *slog.Logger) {
	events := &store.Events{DB: db}
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for ctx.Err() == nil {
			n, more, err := dispatch.SweepUndispatched(ctx, c, events, 5*time.Second, separate, log)
			if err != nil {
				log.Warn("dispatcher sweep failed", "error", err)
				break
			}
			if n > 0 {
				log.Info("dispatcher sweep handed stored batches to Temporal", "batches", n)
			}
			if !more || n == 0 {
				break
			}
		}
	}
}

// reconcilerLock is the advisory lock that lets one reconciler run at a time
// across all workers.
const reconcilerLock = 0x7466_7265_636f // "tfreco"

// RunReconciler runs rec's passes every interval until ctx ends, one
// process at a time (an advisory lock on PostgreSQL); see
// workflows.Reconciler.
func RunReconciler(ctx context.Context, db *sqlx.DB, rec *dispatch.Reconciler, interval time.Duration, log *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := reconcileOnce(ctx, db, rec, log); err != nil && ctx.Err() == nil {
			log.Warn("reconciler pass failed", "error", err)
		}
	}
}

func reconcileOnce(ctx context.Context, db *sqlx.DB, rec *dispatch.Reconciler, log *slog.Logger) error {
	conn, err := db.Connx(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	var locked bool
	if err := conn.GetContext(ctx, &locked, `SELECT pg_try_advisory_lock($1)`, reconcilerLock); err != nil || !locked {
		return err
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, reconcilerLock) //nolint:errcheck
	rep, err := rec.Reconcile(ctx)
	if rep != (dispatch.ReconcileReport{}) {
		log.Info("reconciler pass", "resumed", rep.Resumed, "queues", rep.Queues, "backlogs", rep.Backlogs, "handed_over", rep.HandedOver,
			"canceled", rep.Canceled, "runs_started", rep.RunsStarted, "runs_ended", rep.RunsEnded)
	}
	return err
}

// NewReconciler is the reconciler of a worker process.
func NewReconciler(c client.Client, db *sqlx.DB, log *slog.Logger) *dispatch.Reconciler {
	runs := &store.Runs{DB: db}
	return &dispatch.Reconciler{
		Temporal: c, Deliveries: &store.Deliveries{DB: db}, Events: &store.Events{DB: db}, Runs: runs,
		RunOptions: &activities.FlowRunOptions{Runs: runs}, Log: log,
	}
}

// RestoreSchedules makes sure every At Time trigger has its Temporal
// schedule, recreating the ones Temporal lost (a fresh or restored cluster).
// Saving is idempotent, so every worker may run it at start.
func RestoreSchedules(ctx context.Context, c client.Client, db *sqlx.DB, log *slog.Logger) error {
	triggers, err := (&store.Triggers{DB: db}).AtTime(ctx)
	if err != nil {
		return err
	}
	n, err := dispatch.Schedules{Client: c}.SaveAll(ctx, triggers)
	if n > 0 {
		log.Info("schedules checked", "triggers", len(triggers), "saved", n)
	}
	return err
}

var _ activities.DeliveryObserver = (*deliverymetrics.Metrics)(nil)

// deliveryObserver is the delivery metrics registered on reg (none when nil).
func deliveryObserver(reg prometheus.Registerer) activities.DeliveryObserver {
	if reg == nil {
		return nil
	}
	return deliverymetrics.New(reg)
}
