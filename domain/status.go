package domain

// What a delivery can be: pending until its webhook answered in its
// success range (succeeded), its retry policy gave up (failed), or it was
// stopped (canceled: its workflow was canceled, an operator's act).
const (
	DeliveryPending   = "pending"
	DeliverySucceeded = "succeeded"
	DeliveryFailed    = "failed"
	DeliveryCanceled  = "canceled"
)

// DeliveryStatuses lists a delivery's statuses, for filters.
func DeliveryStatuses() []string {
	return []string{DeliveryPending, DeliverySucceeded, DeliveryFailed, DeliveryCanceled}
}

// What a run of a trigger, queue hook or flow can be: pending until its
// flow begins, running, then succeeded, failed, canceled or timed_out (its
// trigger's timeout passed).
const (
	RunPending   = "pending"
	RunRunning   = "running"
	RunSucceeded = "succeeded"
	RunFailed    = "failed"
	RunCanceled  = "canceled"
	RunTimedOut  = "timed_out"
)

// RunStatuses lists a run's statuses, for filters.
func RunStatuses() []string {
	return []string{RunPending, RunRunning, RunSucceeded, RunFailed, RunCanceled, RunTimedOut}
}
