package teststack

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.temporal.io/api/serviceerror"

	"github.com/triggerflow/triggerflow/internal/testkit"
)

// DeliveryOf returns the single delivery of an event (GET /v1/deliveries/{id},
// with its attempts) once it reaches status, waiting up to a minute.
func (s *Stack) DeliveryOf(t *testing.T, eventID, status string) map[string]any {
	t.Helper()
	var d map[string]any
	testkit.Eventually(t, 60*time.Second, "delivery of "+eventID+" becomes "+status, func() bool {
		ev := s.Do("GET", "/v1/events/"+eventID, nil)
		if ev.Status != 200 {
			return false
		}
		ds := ev.Map(t)["deliveries"].([]any)
		if len(ds) == 0 {
			return false
		}
		d = ds[0].(map[string]any)
		return d["status"] == status
	})
	return s.MustDo(200, "GET", "/v1/deliveries/"+d["id"].(string), nil).Map(t)
}

// ExpireDispatchLeases ends the claims dispatchers and sweepers hold on
// undispatched batches, as the passing of their lease (20 s) would.
func (s *Stack) ExpireDispatchLeases(t *testing.T) {
	t.Helper()
	if _, err := s.DB.Exec(`UPDATE publish_batches SET claimed_until = now() - interval '1 second'
		WHERE dispatched_at IS NULL`); err != nil {
		t.Fatal(err)
	}
}

// WorkflowExists tells whether Temporal knows a workflow by id (in any state).
func (s *Stack) WorkflowExists(t *testing.T, workflowID string) bool {
	t.Helper()
	_, err := s.Temporal.DescribeWorkflowExecution(context.Background(), workflowID, "")
	return found(t, "workflow "+workflowID, err)
}

// ScheduleExists tells whether Temporal has a trigger's schedule.
func (s *Stack) ScheduleExists(t *testing.T, triggerID string) bool {
	t.Helper()
	_, err := s.Temporal.ScheduleClient().GetHandle(context.Background(), "trigger-"+triggerID).Describe(context.Background())
	return found(t, "schedule of "+triggerID, err)
}

// found reads a Temporal describe call's error: nil is found, NotFound is
// not, anything else fails the test.
func found(t *testing.T, what string, err error) bool {
	t.Helper()
	var nf *serviceerror.NotFound
	switch {
	case err == nil:
		return true
	case errors.As(err, &nf):
		return false
	}
	t.Fatalf("describe %s: %v", what, err)
	return false
}
