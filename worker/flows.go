package worker

import (
	"github.com/triggerflow/triggerflow/dispatch"
	"go.temporal.io/sdk/activity"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/triggerflow/triggerflow/activities"
	"github.com/triggerflow/triggerflow/store"
	"github.com/triggerflow/triggerflow/workflows"
)

// registerFlows registers the flow engine: trigger runs and their actions,
// configured by opts.Actions.
func registerFlows(w sdkworker.Worker, opts Options) {
	RegisterFlows(w, opts, opts.Actions)
}

// RegisterFlows registers FlowRunWorkflow and RunBatchWorkflow, their
// bookkeeping activities, the activities that try a publish's runs inline or
// start them, and every registered action
// under its own name (an action is its activity type), bound to one
// activities.Actions made from opts and settings.
func RegisterFlows(w sdkworker.Worker, opts Options, settings activities.ActionSettings) {
	runs := &store.Runs{DB: opts.DB}
	flows, events := &store.Flows{DB: opts.DB}, &store.Events{DB: opts.DB}
	deps := &activities.Actions{
		HTTP:          opts.HTTP,
		Notifications: &store.Notifications{DB: opts.DB},
		Runs:          runs,
		Settings:      settings,
		Logger:        opts.Logger,
		WebhookActions: &activities.WebhookActions{
			Runs: runs, Webhooks: &store.Webhooks{DB: opts.DB, Cipher: opts.Cipher}, Deliveries: &store.Deliveries{DB: opts.DB},
			Events: events, Temporal: opts.Temporal, Starter: dispatch.Starter{},
		},
		StepAttempts: &store.StepAttempts{DB: opts.DB},
	}
	w.RegisterWorkflowWithOptions(workflows.FlowRunWorkflow, workflow.RegisterOptions{Name: workflows.FlowRunWorkflowName})
	w.RegisterWorkflow(workflows.RunBatchWorkflow)
	w.RegisterActivity(&activities.FlowRuns{Runs: runs, Flows: flows, Events: events})
	w.RegisterActivity(&activities.Runs{
		Runs:       runs,
		Flows:      flows,
		Events:     events,
		Temporal:   opts.Temporal,
		Starter:    dispatch.Starter{},
		RunOptions: &activities.FlowRunOptions{Runs: runs},
		Actions:    deps,
	})
	for _, a := range activities.RegisteredActions() {
		if fn := a.Activity(deps); fn != nil {
			w.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: a.Name()})
		}
	}
}
