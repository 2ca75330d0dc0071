package apiserver

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/triggerflow/triggerflow/dispatch"

	"github.com/gin-gonic/gin"

	"github.com/triggerflow/triggerflow/domain"
	"github.com/triggerflow/triggerflow/store"
)

// Publishing limits.
const (
	MaxEventsPerRequest = 1000
	MaxEventDataBytes   = 256 << 10
	MaxEventIDLength    = 200
)

// eventRequest is one published event.
type eventRequest struct {
	ID         string          `json:"id"`
	Type       string          `json:"type"`
	OccurredAt *rfc3339Time    `json:"occurred_at"`
	Subject    string          `json:"subject"`
	Data       json.RawMessage `json:"data"`
	Payload    json.RawMessage `json:"payload"` // ipSCAPE's name for data
}

// publishRequest is one event, or {"events": [...]}. The event's fields are
// repeated rather than embedded so error paths read "occurred_at", not the
// Go type's name.
type publishRequest struct {
	ID         string          `json:"id"`
	Type       string          `json:"type"`
	OccurredAt *rfc3339Time    `json:"occurred_at"`
	Subject    string          `json:"subject"`
	Data       json.RawMessage `json:"data"`
	Payload    json.RawMessage `json:"payload"`
	Events     []eventRequest  `json:"events"`
}

type publishResponse struct {
	ID  string   `json:"id,omitempty"`
	IDs []string `json:"ids"`
}

func (s *Server) publishEvents(c *gin.Context) {
	var req publishRequest
	if err := bindJSON(c, &req); err != nil {
		abortWithError(c, err)
		return
	}
	events, single, err := publishedEvents(req, time.Now().UTC())
	if err != nil {
		abortWithError(c, err)
		return
	}
	if err := s.limitPublishing(c, len(events)); err != nil {
		abortWithError(c, err)
		return
	}
	if err := s.resolveEventTypes(c, events, single); err != nil {
		abortWithError(c, err)
		return
	}
	if err := s.opts.Publisher.Publish(c.Request.Context(), events); err != nil {
		var backlog *dispatch.BacklogError
		if errors.As(err, &backlog) {
			c.Header("Retry-After", strconv.Itoa(int(max(backlog.RetryAfter.Seconds(), 1))))
		}
		abortWithError(c, err)
		return
	}
	resp := publishResponse{IDs: make([]string, len(events))}
	for i, e := range events {
		resp.IDs[i] = e.ID
	}
	if single {
		resp.ID = events[0].ID
	}
	c.JSON(http.StatusAccepted, resp)
}

// publishedEvents turns a decoded publish request into events: one event or
// a batch of 1 to MaxEventsPerRequest, each checked by toEvent. single says
// the request held one event rather than {"events": [...]}.
func publishedEvents(req publishRequest, now time.Time) ([]domain.Event, bool, error) {
	single := req.Events == nil
	reqs := req.Events
	if single {
		reqs = []eventRequest{{ID: req.ID, Type: req.Type, OccurredAt: req.OccurredAt, Subject: req.Subject, Data: req.Data, Payload: req.Payload}}
	} else if req.ID != "" || req.Type != "" || req.OccurredAt != nil || req.Subject != "" || len(req.Data) > 0 || len(req.Payload) > 0 {
		return nil, false, domain.Invalid("events", "send either one event or {\"events\": [...]}, not both")
	}
	if len(reqs) == 0 {
		return nil, false, domain.Invalid("events", "must hold at least one event")
	}
	if len(reqs) > MaxEventsPerRequest {
		return nil, false, domain.Invalid("events", fmt.Sprintf("holds %d events; the limit is %d per request", len(reqs), MaxEventsPerRequest))
	}
	events := make([]domain.Event, len(reqs))
	fields := domain.FieldErrors{}
	for i, r := range reqs {
		prefix := fmt.Sprintf("events[%d]", i)
		if single {
			prefix = ""
		}
		ev, errs := toEvent(r, now)
		fields.Merge(prefix, errs)
		events[i] = ev
	}
	if err := fields.Err(); err != nil {
		return nil, false, err
	}
	return events, single, nil
}

// toEvent validates one published event; paths are relative to it.
func toEvent(r eventRequest, now time.Time) (domain.Event, domain.FieldErrors) {
	f := domain.FieldErrors{}
	ev := domain.Event{ID: strings.TrimSpace(r.ID), Type: strings.TrimSpace(r.Type), Subject: r.Subject, OccurredAt: now, Data: r.Data}
	if ev.ID == "" {
		ev.ID = store.NewID(store.PrefixEvent)
	} else if len(ev.ID) > MaxEventIDLength {
		f.Add("id", fmt.Sprintf("must be at most %d characters", MaxEventIDLength))
	} else if strings.IndexFunc(ev.ID, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) }) >= 0 {
		f.Add("id", "must not contain spaces or control characters")
	}
	if ev.Type == "" {
		f.Add("type", "is required (e.g. \"case.created\")")
	} else if err := domain.ValidEventTypeName(ev.Type); err != nil {
		f.Add("type", err.Error())
	}
	if r.OccurredAt != nil {
		ev.OccurredAt = r.OccurredAt.UTC()
	}
	if len(ev.Subject) > 500 {
		f.Add("subject", "must be at most 500 characters")
	}
	data := bytes.TrimSpace(publishedData(r, f))
	switch {
	case len(data) == 0 || bytes.Equal(data, []byte("null")):
		ev.Data = json.RawMessage("{}")
	case data[0] != '{':
		f.Add("data", "must be a JSON object")
	case len(data) > MaxEventDataBytes:
		f.Add("data", fmt.Sprintf("is %d bytes; the limit is %d", len(data), MaxEventDataBytes))
	case jsonbProblem(data) != "":
		// PostgreSQL's jsonb would refuse it: a field error, not a 500.
		f.Add("data", jsonbProblem(data))
	default:
		// Compact once here so stored events and default bodies are canonical.
		var buf bytes.Buffer
		if err := json.Compact(&buf, data); err != nil {
			f.Add("data", "is not valid JSON")
		} else {
			ev.Data = buf.Bytes()
		}
	}
	return ev, f
}

// eventResponse is an event and what it led to.
type eventResponse struct {
	ID         string             `json:"id"`
	Type       string             `json:"type"`
	OccurredAt time.Time          `json:"occurred_at"`
	ReceivedAt time.Time          `json:"received_at"`
	Subject    string             `json:"subject"`
	Data       json.RawMessage    `json:"data"`
	SourceType string             `json:"source_type,omitempty"` // the type as sent, when it was an alias
	Warnings   []string           `json:"warnings,omitempty"`    // schema warnings (validation "warn")
	Deliveries []deliveryResponse `json:"deliveries"`
	Runs       []runResponse      `json:"runs"`
}

func (s *Server) getEvent(c *gin.Context) {
	ev, err := s.events.Get(c.Request.Context(), c.Param("id"))
	if err != nil {
		abortWithError(c, err)
		return
	}
	ds, err := s.deliveries.List(c.Request.Context(), store.DeliveryFilter{EventID: ev.ID}, domain.Page{Number: 1, PerPage: domain.MaxPerPage})
	if err != nil {
		abortWithError(c, err)
		return
	}
	runs, err := s.runs.ByEvent(c.Request.Context(), ev.ID)
	if err != nil {
		abortWithError(c, err)
		return
	}
	resp := eventResponse{ID: ev.ID, Type: ev.Type, OccurredAt: ev.OccurredAt, ReceivedAt: ev.ReceivedAt,
		Subject: ev.Subject, Data: ev.Data, Deliveries: []deliveryResponse{}, Runs: []runResponse{}}
	for _, d := range ds.Items {
		resp.Deliveries = append(resp.Deliveries, s.linkedDelivery(d))
	}
	for _, r := range runs {
		resp.Runs = append(resp.Runs, s.linkedRun(r))
	}
	if err := s.eventNotes(c.Request.Context(), &resp); err != nil {
		abortWithError(c, err)
		return
	}
	c.JSON(http.StatusOK, resp)
}
