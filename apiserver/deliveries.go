package apiserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/triggerflow/triggerflow/dispatch"

	"github.com/gin-gonic/gin"

	"github.com/triggerflow/triggerflow/domain"
	"github.com/triggerflow/triggerflow/store"
	"github.com/triggerflow/triggerflow/workflows"
)

// deliveryResponse is a delivery; Attempts is filled on single reads.
type deliveryResponse struct {
	ID             string            `json:"id"`
	WebhookID      string            `json:"webhook_id"`
	WebhookCode    string            `json:"webhook_code"`
	EventID        string            `json:"event_id"`
	EventType      string            `json:"event_type"`
	Status         string            `json:"status"`
	AttemptCount   int               `json:"attempt_count"`
	LastStatusCode *int              `json:"last_status_code"`
	LastError      string            `json:"last_error"`
	NextAttemptAt  *time.Time        `json:"next_attempt_at"`
	WorkflowID     string            `json:"workflow_id"`
	RunID          string            `json:"run_id"`
	CreatedAt      time.Time         `json:"created_at"`
	UpdatedAt      time.Time         `json:"updated_at"`
	CompletedAt    *time.Time        `json:"completed_at"`
	TemporalUIURL  string            `json:"temporal_ui_url,omitempty"`
	Attempts       []attemptResponse `json:"attempts,omitempty"`
}

// attemptResponse is one HTTP try as the delivery log shows it.
type attemptResponse struct {
	Attempt         int               `json:"attempt"`
	Request         attemptRequest    `json:"request"`
	ResponseStatus  *int              `json:"response_status"`
	ResponseHeaders map[string]string `json:"response_headers"`
	ResponseBody    string            `json:"response_body"`
	// ResponseBodyEncoding is "base64" when the body held bytes that are
	// not text (NUL, invalid UTF-8): ResponseBody is then their base64.
	ResponseBodyEncoding string `json:"response_body_encoding,omitempty"`
	// Escaped: a header, the URL or the error held such bytes, written
	// as \xNN (and backslashes as \\).
	Escaped    bool      `json:"escaped,omitempty"`
	WorkflowID string    `json:"workflow_id,omitempty"`
	Truncated  bool      `json:"truncated"`
	DurationMS int       `json:"duration_ms"`
	Error      string    `json:"error"`
	Result     string    `json:"result"`
	ExecutedAt time.Time `json:"executed_at"`
}

type attemptRequest struct {
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers"`
	Body    string            `json:"body"`
	// BodyEncoding is "base64" when the body was not text.
	BodyEncoding string `json:"body_encoding,omitempty"`
}

func toDeliveryResponse(d *store.Delivery) deliveryResponse {
	r := deliveryResponse{
		ID: d.ID, WebhookID: d.WebhookID, WebhookCode: d.WebhookCode, EventID: d.EventID, EventType: d.EventType,
		Status: d.Status, AttemptCount: d.Attempts, LastError: d.LastError, WorkflowID: d.WorkflowID,
		RunID: d.RunID, CreatedAt: d.CreatedAt.UTC(), UpdatedAt: d.UpdatedAt.UTC(),
	}
	if r.WorkflowID == "" && d.BatchID != "" {
		// First tries run in the batch workflow until a retry hands the
		// delivery to its own; ordered webhooks use their queue workflow.
		if d.Ordered {
			r.WorkflowID = workflows.WebhookQueueWorkflowID(d.WebhookCode, d.WebhookID)
		} else {
			group := d.BatchID
			if d.DispatchGroup != "" {
				group = d.DispatchGroup
			}
			r.WorkflowID = workflows.BatchWorkflowID(group)
		}
	}
	if d.LastStatusCode != nil {
		code := *d.LastStatusCode
		r.LastStatusCode = &code
	}
	if d.NextAttemptAt != nil && d.Status == domain.DeliveryPending {
		t := d.NextAttemptAt.UTC()
		r.NextAttemptAt = &t
	}
	if d.CompletedAt != nil {
		t := d.CompletedAt.UTC()
		r.CompletedAt = &t
	}
	return r
}

func toAttemptResponse(a store.Attempt) attemptResponse {
	reqH, respH := a.Headers()
	r := attemptResponse{
		Attempt: a.Attempt, Request: attemptRequest{Method: a.RequestMethod, URL: a.RequestURL, Headers: reqH, Body: a.RequestBody,
			BodyEncoding: a.RequestBodyEncoding},
		ResponseHeaders: respH, ResponseBody: a.ResponseBody, ResponseBodyEncoding: a.ResponseBodyEncoding,
		Escaped: a.Escaped, WorkflowID: a.WorkflowID, Truncated: a.ResponseTruncated,
		DurationMS: a.DurationMS, Error: a.Error, Result: a.Result, ExecutedAt: a.ExecutedAt.UTC(),
	}
	if a.ResponseStatus != nil {
		st := *a.ResponseStatus
		r.ResponseStatus = &st
	}
	return r
}

var deliveryStatuses = map[string]bool{
	domain.DeliveryPending: true, domain.DeliverySucceeded: true, domain.DeliveryFailed: true, domain.DeliveryCanceled: true,
}

// deliveryFilterFrom reads ?status=&since=&until=&event_id=.
func deliveryFilterFrom(c *gin.Context) (store.DeliveryFilter, error) {
	f := store.DeliveryFilter{Status: c.Query("status"), EventID: c.Query("event_id")}
	errs := domain.FieldErrors{}
	if f.Status != "" && !deliveryStatuses[f.Status] {
		errs.Add("status", "must be pending, succeeded, failed or canceled")
	}
	for name, dst := range map[string]*time.Time{"since": &f.Since, "until": &f.Until} {
		if v := c.Query(name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				errs.Add(name, "must be an RFC 3339 time such as 2026-01-02T15:04:05Z")
				continue
			}
			*dst = t
		}
	}
	return f, errs.Err()
}

func (s *Server) listWebhookDeliveries(c *gin.Context) {
	w, err := s.webhooks.Get(c.Request.Context(), c.Param("id"))
	if err != nil {
		abortWithError(c, err)
		return
	}
	s.listDeliveriesWhere(c, w.ID)
}

func (s *Server) listDeliveries(c *gin.Context) {
	webhookID := ""
	if ref := c.Query("webhook"); ref != "" {
		w, err := s.webhooks.Get(c.Request.Context(), ref)
		if err != nil {
			abortWithError(c, err)
			return
		}
		webhookID = w.ID
	}
	s.listDeliveriesWhere(c, webhookID)
}

func (s *Server) listDeliveriesWhere(c *gin.Context, webhookID string) {
	p, err := pageFrom(c, store.DeliverySortFields()...)
	if err != nil {
		abortWithError(c, err)
		return
	}
	f, err := deliveryFilterFrom(c)
	if err != nil {
		abortWithError(c, err)
		return
	}
	f.WebhookID = webhookID
	list, err := s.deliveries.List(c.Request.Context(), f, p)
	if err != nil {
		abortWithError(c, err)
		return
	}
	respondList(c, p, list, s.linkedDelivery)
}

func (s *Server) getDelivery(c *gin.Context) {
	resp, err := s.deliveryWithAttempts(c.Request.Context(), c.Param("id"))
	if err != nil {
		abortWithError(c, err)
		return
	}
	c.JSON(http.StatusOK, resp)
}

func (s *Server) deliveryWithAttempts(ctx context.Context, id string) (deliveryResponse, error) {
	d, err := s.deliveries.Get(ctx, id)
	if err != nil {
		return deliveryResponse{}, err
	}
	atts, err := s.deliveries.Attempts(ctx, id)
	if err != nil {
		return deliveryResponse{}, err
	}
	resp := s.linkedDelivery(d)
	resp.Attempts = []attemptResponse{}
	for _, a := range atts {
		resp.Attempts = append(resp.Attempts, toAttemptResponse(a))
	}
	return resp, nil
}

// retryDelivery reopens a failed or canceled delivery with a fresh retry
// window. Its carrier is its own workflow, or, for a delivery of an ordered
// webhook, the webhook's queue (it goes back to its place in publish order,
// so the queue never has two carriers working at once).
func (s *Server) retryDelivery(c *gin.Context) {
	ctx := c.Request.Context()
	d, err := s.deliveries.Get(ctx, c.Param("id"))
	if err != nil {
		abortWithError(c, err)
		return
	}
	carrier := workflows.DeliveryWorkflowID(d.ID)
	if d.Ordered {
		carrier = workflows.WebhookQueueWorkflowID(d.WebhookCode, d.WebhookID)
	} else if d.Status == domain.DeliveryFailed || d.Status == domain.DeliveryCanceled {
		if err := dispatch.EndFinishedDeliveryWorkflow(ctx, s.opts.Temporal, d.ID); err != nil {
			abortWithError(c, fmt.Errorf("%w: %v", domain.ErrUnavailable, err))
			return
		}
	}
	if err := s.deliveries.Reopen(ctx, d.ID, carrier); err != nil {
		abortWithError(c, err)
		return
	}
	if d.Ordered {
		if _, err := dispatch.WakeWebhookQueue(ctx, s.opts.Temporal, d.WebhookID, d.WebhookCode); err != nil {
			abortWithError(c, fmt.Errorf("%w: %v", domain.ErrUnavailable, err))
			return
		}
	} else {
		run, err := dispatch.StartDelivery(ctx, s.opts.Temporal, workflows.DeliveryInput{
			DeliveryID: d.ID, WebhookID: d.WebhookID, WebhookCode: d.WebhookCode, EventID: d.EventID, EventType: d.EventType,
		})
		if err != nil {
			abortWithError(c, fmt.Errorf("%w: %v", domain.ErrUnavailable, err))
			return
		}
		if err := s.deliveries.SetWorkflow(ctx, []string{d.ID}, run.GetID(), run.GetRunID()); err != nil {
			abortWithError(c, err)
			return
		}
	}
	resp, err := s.deliveryWithAttempts(ctx, d.ID)
	if err != nil {
		abortWithError(c, err)
		return
	}
	c.JSON(http.StatusAccepted, resp)
}

// testRequest optionally shapes the sample event of POST /webhooks/{id}/test.
type testRequest struct {
	EventType string          `json:"event_type"`
	Data      json.RawMessage `json:"data"`
}

// testTimeoutMargin is added to the webhook's timeout while the API waits
// for the test send's workflow.
const testTimeoutMargin = 20 * time.Second

// testWebhook sends a sample event now, through the same workflow and
// activity as real deliveries (one try), and answers with the attempt.
func (s *Server) testWebhook(c *gin.Context) {
	w, err := s.webhooks.Get(c.Request.Context(), c.Param("id"))
	if err != nil {
		abortWithError(c, err)
		return
	}
	var req testRequest
	if c.Request.ContentLength != 0 {
		if err := bindJSON(c, &req); err != nil && !isEmptyBody(err) {
			abortWithError(c, err)
			return
		}
	}
	evType := req.EventType
	if evType == "" {
		evType = sampleEventType(w.EventTypes)
	} else if err := domain.ValidEventTypeName(evType); err != nil {
		abortWithError(c, domain.Invalid("event_type", err.Error()))
		return
	}
	data := req.Data
	if len(data) == 0 {
		data = s.exampleData(c.Request.Context(), evType) // the type's example payload
	}
	if len(data) == 0 {
		data = json.RawMessage(`{"test":true,"message":"This is a test event from TriggerFlow."}`)
	} else if data[0] != '{' {
		abortWithError(c, domain.Invalid("data", "must be a JSON object"))
		return
	}
	ev := domain.Event{ID: store.NewID("evt_test_"), Type: evType, OccurredAt: time.Now().UTC(), Subject: "test", Data: data}
	if err := s.events.Insert(c.Request.Context(), ev); err != nil {
		abortWithError(c, err)
		return
	}
	deliveryID := store.NewID(store.PrefixDelivery)
	if err := s.deliveries.Insert(c.Request.Context(), deliveryID, w.ID, ev.ID); err != nil {
		abortWithError(c, err)
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), w.Timeout+testTimeoutMargin)
	defer cancel()
	run, err := dispatch.StartDelivery(ctx, s.opts.Temporal, workflows.DeliveryInput{
		DeliveryID: deliveryID, WebhookID: w.ID, WebhookCode: w.Code, EventID: ev.ID, EventType: ev.Type, SingleTry: true,
	})
	if err != nil {
		abortWithError(c, fmt.Errorf("%w: %v", domain.ErrUnavailable, err))
		return
	}
	_ = s.deliveries.SetWorkflow(ctx, []string{deliveryID}, run.GetID(), run.GetRunID())
	var result workflows.DeliveryResult
	if err := run.Get(ctx, &result); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		loggerFrom(c).Warn("test delivery workflow failed", "delivery", deliveryID, "error", err)
	}
	resp, err := s.deliveryWithAttempts(c.Request.Context(), deliveryID)
	if err != nil {
		abortWithError(c, err)
		return
	}
	var attempt *attemptResponse
	if len(resp.Attempts) > 0 {
		attempt = &resp.Attempts[0]
	}
	c.JSON(http.StatusOK, gin.H{"delivery": resp, "attempt": attempt})
}

func isEmptyBody(err error) bool {
	var ve *domain.ValidationError
	return errors.As(err, &ve) && len(ve.Fields) == 1 && ve.Fields["body"] != "" &&
		ve.Fields["body"] == "is empty; a JSON object is required"
}

// sampleEventType picks a concrete event type for a test send.
func sampleEventType(patterns []string) string {
	for _, p := range patterns {
		if p != "*" && !endsWithStar(p) {
			return p
		}
	}
	for _, p := range patterns {
		if endsWithStar(p) {
			for _, t := range domain.EventTypes() {
				if domain.MatchEventType(p, t) {
					return t
				}
			}
		}
	}
	return "webhook.test"
}

func endsWithStar(p string) bool { return len(p) > 1 && p[len(p)-2:] == ".*" }
