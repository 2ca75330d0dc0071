package worker

import (
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

// RegisterFlows registers FlowRunWorkflow, its bookkeeping activities, the
// activity that starts a publish batch's runs, and every registered action
// under its own name (an action is its activity type), bound to one
// activities.Actions made from opts and settings.
func RegisterFlows(w sdkworker.Worker, opts Options, settings activities.ActionSettings) {
	runs := &store.Runs{DB: opts.DB}
	w.RegisterWorkflowWithOptions(workflows.FlowRunWorkflow, workflow.RegisterOptions{Name: workflows.FlowRunWorkflowName})
	w.RegisterActivity(&activities.FlowRuns{Runs: runs, Flows: &store.Flows{DB: opts.DB}, Events: &store.Events{DB: opts.DB}})
	w.RegisterActivity(&activities.Runs{
		Runs:     runs,
		Temporal: opts.Temporal,
		Starter:  workflows.Starter{},
		Planner:  &activities.FlowRunPlanner{Runs: runs},
	})
	deps := &activities.Actions{
		HTTP:          opts.HTTP,
		Notifications: &store.Notifications{DB: opts.DB},
		Runs:          runs,
		Settings:      settings,
		Logger:        opts.Logger,
	}
	for _, a := range activities.RegisteredActions() {
		if fn := a.Activity(deps); fn != nil {
			w.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: a.Name()})
		}
	}
}
