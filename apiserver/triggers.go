package apiserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/triggerflow/triggerflow/dispatch"

	"github.com/gin-gonic/gin"

	"github.com/triggerflow/triggerflow/activities"
	"github.com/triggerflow/triggerflow/domain"
	"github.com/triggerflow/triggerflow/store"
	"github.com/triggerflow/triggerflow/workflows"
)

// temporalCallTimeout bounds one request's calls to Temporal, so a slow
// cluster answers 503 instead of holding the client.
const temporalCallTimeout = 10 * time.Second

// manualRunWait is how long POST /v1/triggers/{id}/run waits for the run a
// schedule starts, to answer with its workflow id.
const manualRunWait = 5 * time.Second

func (s *Server) triggerStore() *store.Triggers {
	return &store.Triggers{DB: s.opts.DB, OnChange: s.invalidateIndex}
}

func (s *Server) schedules() dispatch.Schedules { return dispatch.Schedules{Client: s.opts.Temporal} }

// triggerCases changes triggers and their schedules together.
func (s *Server) triggerCases(c *gin.Context) dispatch.Triggers {
	return dispatch.Triggers{Store: s.triggerStore(), Schedules: s.schedules(), Runs: s.runs, Events: s.events,
		Temporal: s.opts.Temporal, Log: loggerFrom(c), CallTimeout: temporalCallTimeout}
}

// invalidateIndex makes this process's matching index reload definitions
// before the next publish, so a saved trigger or hook matches at once.
func (s *Server) invalidateIndex() {
	if s.opts.Index != nil {
		s.opts.Index.Invalidate()
	}
}

// triggerRequest is the body of POST /v1/triggers.
type triggerRequest struct {
	Name          string             `json:"name"`
	Type          string             `json:"type"`
	Flow          string             `json:"flow"`
	TimeZone      string             `json:"timezone"`
	Timeout       json.RawMessage    `json:"timeout"`
	Expression    string             `json:"expression"`
	OverlapPolicy string             `json:"overlap_policy"`
	Object        string             `json:"object"`
	Event         string             `json:"event"`
	Conditions    []domain.Condition `json:"conditions"`
	// ConditionExpression is an optional CEL expression over the event, as
	// webhooks' "expression" ("expression" is the cron of at_time).
	ConditionExpression string          `json:"condition_expression"`
	Actions             json.RawMessage `json:"actions"`
	Description         string          `json:"description"`
	Enabled             *bool           `json:"enabled"`
}

// triggerPatch is the body of PATCH /v1/triggers/{id}: only present fields
// change, and null resets a field to its default.
type triggerPatch struct {
	Name                opt[string]             `json:"name"`
	Type                opt[string]             `json:"type"`
	Flow                opt[string]             `json:"flow"`
	TimeZone            opt[string]             `json:"timezone"`
	Timeout             opt[json.RawMessage]    `json:"timeout"`
	Expression          opt[string]             `json:"expression"`
	OverlapPolicy       opt[string]             `json:"overlap_policy"`
	Object              opt[string]             `json:"object"`
	Event               opt[string]             `json:"event"`
	Conditions          opt[[]domain.Condition] `json:"conditions"`
	ConditionExpression opt[string]             `json:"condition_expression"`
	Actions             opt[json.RawMessage]    `json:"actions"`
	Description         opt[string]             `json:"description"`
	Enabled             opt[bool]               `json:"enabled"`
}

// triggerResponse is a trigger as the API shows it. At Time triggers carry
// expression_text, next_runs (RFC 3339 in the trigger's zone), paused and
// their schedule; On Event triggers carry object, event and event_type.
type triggerResponse struct {
	ID             string                 `json:"id"`
	Name           string                 `json:"name"`
	Type           string                 `json:"type"`
	Flow           *string                `json:"flow"`
	FlowName       string                 `json:"flow_name,omitempty"`
	Actions        []domain.TriggerAction `json:"actions,omitempty"`
	TimeZone       string                 `json:"timezone"`
	Timeout        string                 `json:"timeout"`
	Expression     string                 `json:"expression,omitempty"`
	ExpressionText string                 `json:"expression_text,omitempty"`
	NextRuns       []time.Time            `json:"next_runs,omitempty"`
	Paused         *bool                  `json:"paused,omitempty"`
	Schedule       *scheduleResponse      `json:"schedule,omitempty"`
	OverlapPolicy  string                 `json:"overlap_policy,omitempty"`
	Object         string                 `json:"object,omitempty"`
	Event          string                 `json:"event,omitempty"`
	EventType      string                 `json:"event_type,omitempty"`
	Conditions     *[]domain.Condition    `json:"conditions,omitempty"`
	// ConditionExpression is the on_event trigger's CEL expression, if any.
	ConditionExpression string `json:"condition_expression,omitempty"`
	Description         string `json:"description"`
	Enabled             bool   `json:"enabled"`
	// SigningSecret signs the requests of the trigger's webhook actions:
	// whole in the answer that made it and in rotate-secret's, masked in
	// other single reads, absent in lists and before the trigger has one.
	SigningSecret                  string     `json:"signing_secret,omitempty"`
	PreviousSigningSecretExpiresAt *time.Time `json:"previous_signing_secret_expires_at,omitempty"`
	CreatedAt                      time.Time  `json:"created_at"`
	UpdatedAt                      time.Time  `json:"updated_at"`
}

// scheduleResponse tells an operator where an At Time trigger's next runs
// came from and the state of its Temporal schedule.
type scheduleResponse struct {
	ID string `json:"id"`
	// State is active, paused, missing (no schedule in Temporal) or
	// unknown (Temporal not asked, as in lists, or not reachable).
	State string `json:"state"`
	// NextRunsFrom is "temporal" (the schedule's own next action times) or
	// "local" (computed the same way here: paused, missing or not asked).
	NextRunsFrom string `json:"next_runs_from"`
	// Running counts the schedule's runs still going.
	Running int `json:"running"`
}

// Schedule states in scheduleResponse.
const (
	scheduleActive  = "active"
	schedulePaused  = "paused"
	scheduleMissing = "missing"
	scheduleUnknown = "unknown"
)

// toTriggerResponse renders t. With describe, an At Time trigger's schedule
// is asked for its state and next action times; lists skip that round trip
// per item and compute next runs locally, the way Temporal does.
func (s *Server) toTriggerResponse(c *gin.Context, t *domain.Trigger, describe bool) triggerResponse {
	r := triggerResponse{
		ID: t.ID, Name: t.Name, Type: t.Type, FlowName: t.FlowName, Actions: t.Actions, TimeZone: t.TimeZone,
		Timeout: t.Timeout.String(), Description: t.Description, Enabled: t.Enabled,
		CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt,
	}
	if t.Flow != "" {
		flow := t.Flow
		r.Flow = &flow
	}
	if describe {
		r.SigningSecret = s.maskedSigningSecret(c, t)
	}
	switch t.Type {
	case domain.TriggerOnEvent:
		conds := t.Conditions
		if conds == nil {
			conds = []domain.Condition{}
		}
		r.Object, r.Event, r.EventType, r.Conditions = t.Object, t.Event, t.EventType(), &conds
		r.ConditionExpression = t.ConditionExpression
	case domain.TriggerAtTime:
		r.Expression, r.OverlapPolicy = t.Expression, t.OverlapPolicy
		s.describeSchedule(c, t, &r, describe)
	}
	return r
}

func (s *Server) describeSchedule(c *gin.Context, t *domain.Trigger, r *triggerResponse, describe bool) {
	expr, loc, err := t.Schedule()
	if err != nil {
		return // saved triggers were validated; nothing sensible to show
	}
	r.ExpressionText = expr.Describe()
	paused := !t.Enabled
	sched := &scheduleResponse{ID: workflows.TriggerScheduleID(t.ID), State: scheduleUnknown, NextRunsFrom: "local"}
	var next []time.Time
	if describe {
		ctx, cancel := context.WithTimeout(c.Request.Context(), temporalCallTimeout)
		st, err := s.schedules().Describe(ctx, t.ID)
		cancel()
		switch {
		case err == nil:
			paused, sched.Running = st.Paused, st.Running
			sched.State = scheduleActive
			if st.Paused {
				sched.State = schedulePaused
			}
			if !st.Paused && len(st.NextRuns) > 0 {
				for _, at := range st.NextRuns[:min(len(st.NextRuns), domain.NextRunsShown)] {
					next = append(next, at.In(loc))
				}
				sched.NextRunsFrom = "temporal"
			}
		case errors.Is(err, domain.ErrNotFound):
			sched.State = scheduleMissing
		default:
			loggerFrom(c).Warn("cannot describe trigger schedule; showing local next runs", "trigger", t.ID, "error", err)
		}
	}
	if next == nil {
		// A paused schedule has no next action times: show what would run.
		next = expr.Next(time.Now(), loc, domain.NextRunsShown)
	}
	if next == nil {
		next = []time.Time{}
	}
	r.NextRuns, r.Paused, r.Schedule = next, &paused, sched
}

// parseTimeout reads a trigger timeout: "5m", "90s", or whole seconds.
func parseTimeout(raw json.RawMessage) (time.Duration, error) {
	var d domain.Duration
	if err := d.UnmarshalJSON(raw); err != nil {
		return 0, errors.New(`must be a duration such as "5m" or "90s"`)
	}
	if d == 0 {
		return -1, nil // an explicit 0 is out of range, not "default"
	}
	return time.Duration(d), nil
}

func isNull(raw json.RawMessage) bool {
	s := strings.TrimSpace(string(raw))
	return s == "" || s == "null"
}

func (s *Server) createTrigger(c *gin.Context) {
	var req triggerRequest
	if err := bindJSON(c, &req); err != nil {
		abortWithError(c, err)
		return
	}
	fields := domain.FieldErrors{}
	t := &domain.Trigger{
		Name: req.Name, Type: req.Type, Flow: req.Flow, TimeZone: req.TimeZone, Expression: req.Expression,
		OverlapPolicy: req.OverlapPolicy, Object: req.Object, Event: req.Event, Conditions: req.Conditions,
		ConditionExpression: req.ConditionExpression,
		Description:         req.Description, Enabled: true,
	}
	if !isNull(req.Timeout) {
		d, err := parseTimeout(req.Timeout)
		if err != nil {
			fields.Add("timeout", err.Error())
		}
		t.Timeout = d
	}
	actions, actionErrs := domain.DecodeTriggerActions(req.Actions)
	fields.Merge("actions", actionErrs)
	t.Actions = actions
	if req.Enabled != nil {
		t.Enabled = *req.Enabled
	}
	t.Normalize()
	if err := s.validateTrigger(c, t, fields); err != nil {
		abortWithError(c, err)
		return
	}
	if err := s.triggerCases(c).Create(c.Request.Context(), t); err != nil {
		abortWithError(c, err)
		return
	}
	c.JSON(http.StatusCreated, s.triggerAnswer(c, t))
}

// validateTrigger merges t's own validation (knowing the registry's custom
// event types) with problems found while decoding (which come first: they
// explain the others).
func (s *Server) validateTrigger(c *gin.Context, t *domain.Trigger, decoded domain.FieldErrors) error {
	reg, err := s.registry(c.Request.Context())
	if err != nil {
		return err
	}
	var ve *domain.ValidationError
	if err := t.ValidateWith(activities.ActionCatalog(), reg.Set()); errors.As(err, &ve) {
		for p, m := range ve.Fields {
			if decoded["actions"] != "" && strings.HasPrefix(p, "actions") {
				continue
			}
			decoded.Add(p, m)
		}
	} else if err != nil {
		return err
	}
	return decoded.Err()
}

func (s *Server) getTrigger(c *gin.Context) {
	t, err := s.triggerStore().Get(c.Request.Context(), c.Param("id"))
	if err != nil {
		abortWithError(c, err)
		return
	}
	c.JSON(http.StatusOK, s.toTriggerResponse(c, t, true))
}

func (s *Server) listTriggers(c *gin.Context) {
	p, err := pageFrom(c, store.TriggerSortFields()...)
	if err != nil {
		abortWithError(c, err)
		return
	}
	f := store.TriggerFilter{Type: c.Query("type"), Object: domain.ObjectName(c.Query("object")), Event: c.Query("event"),
		FlowID: c.Query("flow"), Text: c.Query("q")}
	if f.Type != "" && f.Type != domain.TriggerAtTime && f.Type != domain.TriggerOnEvent {
		abortWithError(c, domain.Invalid("type", `must be "at_time" or "on_event"`))
		return
	}
	if v := c.Query("enabled"); v != "" {
		b, err := parseBool(v)
		if err != nil {
			abortWithError(c, domain.Invalid("enabled", err.Error()))
			return
		}
		f.Enabled = &b
	}
	list, err := s.triggerStore().List(c.Request.Context(), f, p)
	if err != nil {
		abortWithError(c, err)
		return
	}
	respondList(c, p, list, func(t *domain.Trigger) triggerResponse { return s.toTriggerResponse(c, t, false) })
}

func (s *Server) patchTrigger(c *gin.Context) {
	var req triggerPatch
	if err := bindJSON(c, &req); err != nil {
		abortWithError(c, err)
		return
	}
	triggers := s.triggerStore()
	old, err := triggers.Get(c.Request.Context(), c.Param("id"))
	if err != nil {
		abortWithError(c, err)
		return
	}
	t := *old
	fields := applyTriggerPatch(&t, &req)
	t.Normalize()
	if err := s.validateTrigger(c, &t, fields); err != nil {
		abortWithError(c, err)
		return
	}
	if err := s.triggerCases(c).Update(c.Request.Context(), old, &t); err != nil {
		abortWithError(c, err)
		return
	}
	c.JSON(http.StatusOK, s.triggerAnswer(c, &t))
}

// applyTriggerPatch applies the present fields of p to t. Switching between
// flow and actions, or between types, clears what the other form used
// unless the patch sets it too. Problems decoding values are returned.
func applyTriggerPatch(t *domain.Trigger, p *triggerPatch) domain.FieldErrors {
	fields := domain.FieldErrors{}
	str := func(o opt[string], dst *string) {
		if o.Set {
			*dst = ""
			if !o.Null {
				*dst = o.V
			}
		}
	}
	str(p.Name, &t.Name)
	str(p.Description, &t.Description)
	str(p.TimeZone, &t.TimeZone)
	str(p.OverlapPolicy, &t.OverlapPolicy)
	if p.Type.Set && !p.Type.Null && p.Type.V != t.Type {
		t.Type = p.Type.V
		switch t.Type {
		case domain.TriggerOnEvent:
			t.Expression = ""
		case domain.TriggerAtTime:
			t.Object, t.Event, t.Conditions, t.ConditionExpression = "", "", nil, ""
		}
	} else if p.Type.Set && p.Type.Null {
		t.Type = ""
	}
	str(p.Expression, &t.Expression)
	str(p.Object, &t.Object)
	str(p.Event, &t.Event)
	if p.Object.Set && !p.Event.Set {
		t.Event = "" // Webitel clears the event when the object changes
	}
	if p.Conditions.Set {
		t.Conditions = p.Conditions.V
	}
	str(p.ConditionExpression, &t.ConditionExpression)
	if p.Timeout.Set {
		t.Timeout = 0
		if !p.Timeout.Null {
			d, err := parseTimeout(p.Timeout.V)
			if err != nil {
				fields.Add("timeout", err.Error())
			}
			t.Timeout = d
		}
	}
	if p.Flow.Set {
		t.Flow, t.FlowName = "", ""
		if !p.Flow.Null {
			t.Flow = p.Flow.V
			if !p.Actions.Set {
				t.Actions = nil
			}
		}
	}
	if p.Actions.Set {
		actions, errs := domain.DecodeTriggerActions(p.Actions.V)
		fields.Merge("actions", errs)
		t.Actions = actions
		if !p.Actions.Null && !p.Flow.Set {
			t.Flow, t.FlowName = "", ""
		}
	}
	if p.Enabled.Set && !p.Enabled.Null {
		t.Enabled = p.Enabled.V
	}
	return fields
}

func (s *Server) deleteTrigger(c *gin.Context) {
	triggers := s.triggerStore()
	t, err := triggers.Get(c.Request.Context(), c.Param("id"))
	if err != nil {
		abortWithError(c, err)
		return
	}
	if err := s.triggerCases(c).Delete(c.Request.Context(), t); err != nil {
		abortWithError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (s *Server) startTrigger(c *gin.Context) { s.switchTrigger(c, true) }
func (s *Server) stopTrigger(c *gin.Context)  { s.switchTrigger(c, false) }

// switchTrigger enables and starts (unpauses) a trigger, or disables and
// stops (pauses) it: Webitel's enable switch and Start button in one call.
func (s *Server) switchTrigger(c *gin.Context, enabled bool) {
	triggers := s.triggerStore()
	old, err := triggers.Get(c.Request.Context(), c.Param("id"))
	if err != nil {
		abortWithError(c, err)
		return
	}
	t, err := s.triggerCases(c).Switch(c.Request.Context(), old, enabled)
	if err != nil {
		abortWithError(c, err)
		return
	}
	c.JSON(http.StatusOK, s.toTriggerResponse(c, t, true))
}

// runRequest is the optional body of POST /v1/triggers/{id}/run.
type runRequest struct {
	Event *eventRequest `json:"event"`
}

// runTrigger fires a trigger now. An At Time trigger's schedule is triggered
// (its run appears in the schedule's history like any other); an On Event
// trigger runs its flow for the given event, or a sample one, without
// publishing it (no webhook or other trigger sees it) and without testing
// its conditions: a person asked for this run.
func (s *Server) runTrigger(c *gin.Context) {
	t, err := s.triggerStore().Get(c.Request.Context(), c.Param("id"))
	if err != nil {
		abortWithError(c, err)
		return
	}
	var req runRequest
	if c.Request.ContentLength != 0 {
		if err := bindJSON(c, &req); err != nil && !isEmptyBody(err) {
			abortWithError(c, err)
			return
		}
	}
	if t.Type == domain.TriggerAtTime {
		if req.Event != nil {
			abortWithError(c, domain.Invalid("event", "an at_time trigger runs without an event; leave it out"))
			return
		}
		s.runScheduledTrigger(c, t)
		return
	}
	s.runEventTrigger(c, t, req.Event)
}

func (s *Server) runScheduledTrigger(c *gin.Context, t *domain.Trigger) {
	run, err := s.triggerCases(c).RunScheduled(c.Request.Context(), t, manualRunWait)
	if err != nil {
		abortWithError(c, err)
		return
	}
	if run == nil {
		// Accepted by Temporal but not started yet: it will be, and the
		// run records itself.
		c.JSON(http.StatusAccepted, runResponse{TriggerID: t.ID, FlowID: t.Flow, Status: domain.RunPending})
		return
	}
	c.JSON(http.StatusAccepted, s.linkedRun(run))
}

// sampleEventData is the data of the sample event a manual On Event run
// uses when the caller gives none.
var sampleEventData = json.RawMessage(`{"sample":true,"message":"This is a sample event from TriggerFlow."}`)

func (s *Server) runEventTrigger(c *gin.Context, t *domain.Trigger, in *eventRequest) {
	now := time.Now().UTC()
	ev := domain.Event{ID: store.NewID(store.PrefixEvent), Type: t.EventType(), OccurredAt: now, Subject: "manual run", Data: sampleEventData}
	if in != nil {
		given, fields := toEvent(*in, now)
		if in.Type == "" {
			given.Type = t.EventType()
			delete(fields, "type")
		} else if given.Type != t.EventType() {
			fields.Add("type", fmt.Sprintf("must be %q, the event this trigger listens to", t.EventType()))
		}
		if err := mergeInto("event", fields).Err(); err != nil {
			abortWithError(c, err)
			return
		}
		ev = given
	}
	run, existing, err := s.triggerCases(c).RunForEvent(c.Request.Context(), t, ev)
	if err != nil {
		abortWithError(c, err)
		return
	}
	if existing {
		// A repeated event id is one run: answer with the one there is.
		c.JSON(http.StatusOK, s.linkedRun(run))
		return
	}
	c.JSON(http.StatusAccepted, s.linkedRun(run))
}

// mergeInto prefixes every path of f with prefix.
func mergeInto(prefix string, f domain.FieldErrors) domain.FieldErrors {
	out := domain.FieldErrors{}
	out.Merge(prefix, f)
	return out
}

func (s *Server) listTriggerRuns(c *gin.Context) {
	t, err := s.triggerStore().Get(c.Request.Context(), c.Param("id"))
	if err != nil {
		abortWithError(c, err)
		return
	}
	s.listRuns(c, store.RunFilter{TriggerID: t.ID})
}

// listRuns answers one page of runs, newest first, optionally of one status.
func (s *Server) listRuns(c *gin.Context, f store.RunFilter) {
	p, err := pageFrom(c)
	if err != nil {
		abortWithError(c, err)
		return
	}
	if st := c.Query("status"); st != "" {
		known := false
		for _, v := range domain.RunStatuses() {
			known = known || v == st
		}
		if !known {
			abortWithError(c, domain.Invalid("status", fmt.Sprintf("%q is not a run status; use one of %s", st, strings.Join(domain.RunStatuses(), ", "))))
			return
		}
		f.Status = st
	}
	list, err := s.runs.Search(c.Request.Context(), f, p)
	if err != nil {
		abortWithError(c, err)
		return
	}
	respondList(c, p, list, s.linkedRun)
}

// triggerBulkRequest names triggers (or queue hooks) by id.
type triggerBulkRequest struct {
	IDs []string `json:"ids"`
}

// triggerBulkResponse lists what a bulk operation did; Failed names the ids
// whose schedule could not follow (those rows were left as they were).
type triggerBulkResponse struct {
	Affected []string          `json:"affected"`
	Count    int               `json:"count"`
	Failed   map[string]string `json:"failed,omitempty"`
}

func bindIDs(c *gin.Context, what string) ([]string, bool) {
	var req triggerBulkRequest
	if err := bindJSON(c, &req); err != nil {
		abortWithError(c, err)
		return nil, false
	}
	if len(req.IDs) == 0 {
		abortWithError(c, domain.Invalid("ids", "must list at least one "+what+" id"))
		return nil, false
	}
	if len(req.IDs) > domain.MaxPerPage {
		abortWithError(c, domain.Invalid("ids", fmt.Sprintf("must list at most %d ids", domain.MaxPerPage)))
		return nil, false
	}
	return req.IDs, true
}

func (s *Server) bulkDisableTriggers(c *gin.Context) { s.bulkSwitchTriggers(c, false) }
func (s *Server) bulkEnableTriggers(c *gin.Context)  { s.bulkSwitchTriggers(c, true) }

func (s *Server) bulkSwitchTriggers(c *gin.Context, enabled bool) {
	ids, ok := bindIDs(c, "trigger")
	if !ok {
		return
	}
	res, err := s.triggerCases(c).SwitchMany(c.Request.Context(), ids, enabled)
	if err != nil {
		abortWithError(c, err)
		return
	}
	resp := triggerBulkResponse{Affected: res.Affected, Failed: res.Failed}
	resp.Count = len(resp.Affected)
	c.JSON(http.StatusOK, resp)
}

func (s *Server) bulkDeleteTriggers(c *gin.Context) {
	ids, ok := bindIDs(c, "trigger")
	if !ok {
		return
	}
	res, err := s.triggerCases(c).DeleteMany(c.Request.Context(), ids)
	if err != nil {
		abortWithError(c, err)
		return
	}
	resp := triggerBulkResponse{Affected: res.Affected, Failed: res.Failed}
	resp.Count = len(resp.Affected)
	c.JSON(http.StatusOK, resp)
}
