package dispatch

import (
	"context"
	"errors"
	"fmt"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
)

// forRunning calls f for every running workflow whose keyword search
// attribute attr equals value (bounded to 10,000 per call).
func forRunning(ctx context.Context, c client.Client, attr, value string, f func(id, runID string) error) error {
	query := fmt.Sprintf("%s = %q AND ExecutionStatus = 'Running'", attr, value)
	var token []byte
	var errs []error
	seen := 0
	for {
		resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Query: query, PageSize: 1000, NextPageToken: token,
		})
		if err != nil {
			return fmt.Errorf("list workflows %s: %w", query, err)
		}
		for _, e := range resp.GetExecutions() {
			if err := f(e.GetExecution().GetWorkflowId(), e.GetExecution().GetRunId()); err != nil {
				var nf *serviceerror.NotFound
				if !errors.As(err, &nf) {
					errs = append(errs, err)
				}
			}
			seen++
		}
		token = resp.GetNextPageToken()
		if len(token) == 0 || seen >= 10000 {
			return errors.Join(errs...)
		}
	}
}

// SignalRunning sends signal to every running workflow with attr = value.
func SignalRunning(ctx context.Context, c client.Client, attr, value, signal string) error {
	return forRunning(ctx, c, attr, value, func(id, runID string) error {
		return c.SignalWorkflow(ctx, id, runID, signal, nil)
	})
}

// CancelRunning cancels every running workflow with attr = value.
func CancelRunning(ctx context.Context, c client.Client, attr, value string) error {
	return forRunning(ctx, c, attr, value, func(id, runID string) error {
		return c.CancelWorkflow(ctx, id, runID)
	})
}
