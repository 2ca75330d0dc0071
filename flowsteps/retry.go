package flowsteps

import (
	"math"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/triggerflow/triggerflow/domain"
)

// RetryPolicy is the Temporal retry policy of a step's action: the step's
// policy (domain.Step.EffectiveRetry) with the floors Temporal needs — an
// initial interval of at least a second, a backoff of at least 1, and
// Temporal's own default maximum (100 × initial) when the step's maximum
// is shorter than the initial interval. It is the one source of a step's
// retry schedule: FlowRunWorkflow gives it to the step's activity, and an
// inline first try reads from it whether and when a second try comes, so
// both places retry a step alike.
func RetryPolicy(step domain.Step) *temporal.RetryPolicy {
	policy := step.EffectiveRetry()
	rp := &temporal.RetryPolicy{
		InitialInterval:    max(time.Duration(policy.InitialInterval), time.Second),
		BackoffCoefficient: max(policy.Backoff, 1),
		MaximumInterval:    time.Duration(policy.MaxInterval),
		MaximumAttempts:    int32(policy.MaxAttempts),
	}
	if rp.MaximumInterval < rp.InitialInterval {
		rp.MaximumInterval = 0 // Temporal's default: 100 × initial
	}
	return rp
}

// RemainingRetry adjusts a step's retry policy for the tries left after
// attempts were made inline: fewer attempts, and the interval grown as
// Temporal would have grown it, so the schedule is the one of a step that
// never left its workflow.
func RemainingRetry(rp *temporal.RetryPolicy, attempts int) {
	if attempts <= 0 {
		return
	}
	if rp.MaximumAttempts > 0 {
		rp.MaximumAttempts = max(rp.MaximumAttempts-int32(attempts), 1)
	}
	if rp.MaximumInterval <= 0 {
		rp.MaximumInterval = 100 * rp.InitialInterval // Temporal's default
	}
	next := float64(rp.InitialInterval) * math.Pow(max(rp.BackoffCoefficient, 1), float64(attempts))
	rp.InitialInterval = min(time.Duration(next), rp.MaximumInterval)
}
