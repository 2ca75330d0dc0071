// Package dispatch is the Temporal client side of TriggerFlow: everything
// that hands work to Temporal rather than runs inside it.
//
//   - publish.go: the Publisher — group commit of published events into
//     PostgreSQL (the answer means durable) and the dispatcher that hands
//     committed batches to Temporal in groups;
//   - group.go: Dispatch, what one group becomes in Temporal (a group
//     workflow for its first tries, one per trigger for its runs, wakes for
//     ordered queues, case timers);
//   - sweep.go: the sweep that hands over what a dispatcher could not, and
//     the resumption of deliveries parked while their webhook was off;
//   - reconcile.go: the reconciler that finds pending work whose workflow is
//     gone and hands it over again;
//   - start.go, runs.go, casetimers.go, schedules.go, ops.go: starting and
//     signalling workflows and managing At Time triggers' schedules.
//
// Workflow code itself lives in package workflows, which this package
// imports and which never imports it.
package dispatch
