package flowsteps_test

import (
	"testing"
	"time"

	"github.com/triggerflow/triggerflow/domain"
	"github.com/triggerflow/triggerflow/flowsteps"
)

func TestRetryPolicyFloors(t *testing.T) {
	cases := []struct {
		name             string
		retry            *domain.RetryPolicy
		initial, maximum time.Duration
		backoff          float64
		attempts         int32
	}{
		{"default", nil, time.Second, 100 * time.Second, 2, 3},
		{"none", &domain.RetryPolicy{Preset: domain.RetryNone}, time.Second, 0, 1, 1},
		{"preset", &domain.RetryPolicy{Preset: domain.Retry30sX3}, 30 * time.Second, 30 * time.Second, 1, 3},
		{"short initial", &domain.RetryPolicy{InitialInterval: domain.Duration(100 * time.Millisecond), MaxAttempts: 4},
			time.Second, 0, 1, 4},
		{"backoff", &domain.RetryPolicy{InitialInterval: domain.Duration(2 * time.Second), Backoff: 3, MaxAttempts: 5},
			2 * time.Second, 200 * time.Second, 3, 5},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rp := flowsteps.RetryPolicy(domain.Step{Name: "s", Action: "log", Retry: tc.retry})
			if rp.InitialInterval != tc.initial || rp.MaximumInterval != tc.maximum ||
				rp.BackoffCoefficient != tc.backoff || rp.MaximumAttempts != tc.attempts {
				t.Fatalf("policy %+v", rp)
			}
		})
	}
}

// After one inline try of three, two are left, the first after the
// interval grown once, as Temporal would have grown it.
func TestRemainingRetry(t *testing.T) {
	rp := flowsteps.RetryPolicy(domain.Step{Retry: &domain.RetryPolicy{
		InitialInterval: domain.Duration(time.Second), Backoff: 2, MaxAttempts: 3}})
	flowsteps.RemainingRetry(rp, 1)
	if rp.MaximumAttempts != 2 || rp.InitialInterval != 2*time.Second {
		t.Fatalf("policy %+v", rp)
	}
}
