package apiserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/triggerflow/triggerflow/dispatch"

	"github.com/gin-gonic/gin"

	"github.com/triggerflow/triggerflow/activities"
	"github.com/triggerflow/triggerflow/domain"
	"github.com/triggerflow/triggerflow/store"
	"github.com/triggerflow/triggerflow/workflows"
)

// flowRequest is the body of POST /v1/flows. Steps stay raw until each is
// decoded on its own, so an error names the step ("steps[1].param").
type flowRequest struct {
	Name        string            `json:"name"`
	Type        string            `json:"type"`
	Description string            `json:"description"`
	Steps       []json.RawMessage `json:"steps"`
	// EventTypes are the event types the flow expects (Webitel: a trigger's
	// flow must match its event); empty: any.
	EventTypes []string `json:"event_types"`
}

// flowPatch is the body of PATCH /v1/flows/{id}: only present fields change.
type flowPatch struct {
	Name        opt[string]            `json:"name"`
	Type        opt[string]            `json:"type"`
	Description opt[string]            `json:"description"`
	Steps       opt[[]json.RawMessage] `json:"steps"`
	EventTypes  opt[[]string]          `json:"event_types"`
}

// stepRequest is one step as clients send it. Timeout and retry stay raw so
// their errors can name their field.
type stepRequest struct {
	Name    string             `json:"name"`
	Action  string             `json:"action"`
	Params  map[string]any     `json:"params"`
	If      []domain.Condition `json:"if"`
	Timeout json.RawMessage    `json:"timeout"`
	Retry   json.RawMessage    `json:"retry"`
}

// flowResponse is a flow as the API shows it.
type flowResponse struct {
	ID          string        `json:"id"`
	Name        string        `json:"name"`
	Type        string        `json:"type"`
	Description string        `json:"description"`
	Version     int           `json:"version"`
	Steps       []domain.Step `json:"steps"`
	// UsableByTriggers is true for service flows, the only ones triggers
	// and queue hooks may run.
	UsableByTriggers bool `json:"usable_by_triggers"`
	// EventTypes are the event types the flow expects; empty: any.
	EventTypes []string  `json:"event_types"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

func toFlowResponse(f *domain.Flow) flowResponse {
	steps := f.Steps
	if steps == nil {
		steps = []domain.Step{}
	}
	return flowResponse{
		ID: f.ID, Name: f.Name, Type: f.Type, Description: f.Description, Version: f.Version, Steps: steps,
		UsableByTriggers: domain.FlowUsableByTriggers(f.Type), EventTypes: f.EventTypes,
		CreatedAt: f.CreatedAt, UpdatedAt: f.UpdatedAt,
	}
}

// flowVersionResponse is one saved version of a flow's steps.
type flowVersionResponse struct {
	Version   int           `json:"version"`
	Steps     []domain.Step `json:"steps"`
	CreatedAt time.Time     `json:"created_at"`
}

// flowRunResponse is a run with what each of its steps did.
type flowRunResponse struct {
	runResponse
	Steps []domain.StepOutcome `json:"steps"`
	// Outputs are what each step returned, by step name, asked of the
	// run's workflow (single reads of runs with a workflow of their own;
	// absent when Temporal cannot answer, e.g. its history is gone).
	Outputs map[string]json.RawMessage `json:"outputs,omitempty"`
}

// outputsQueryTimeout bounds asking a run's workflow for its step outputs.
const outputsQueryTimeout = 5 * time.Second

// flowRunStartTimeout bounds starting a run's workflow, so a slow Temporal
// answers 503 instead of holding the request.
const flowRunStartTimeout = 10 * time.Second

func (s *Server) flowStore() *store.Flows { return &store.Flows{DB: s.opts.DB} }

// decodeSteps decodes each raw step strictly; problems are keyed
// "steps[i].<field>".
func decodeSteps(raws []json.RawMessage) ([]domain.Step, domain.FieldErrors) {
	errs := domain.FieldErrors{}
	steps := make([]domain.Step, 0, len(raws))
	for i, raw := range raws {
		p := fmt.Sprintf("steps[%d]", i)
		var sr stepRequest
		if err := decodeStrict(raw, &sr); err != nil {
			mergeDecodeError(errs, p, err, "must be a step object {\"name\", \"action\", \"params\"}")
			continue
		}
		step := domain.Step{Name: sr.Name, Action: sr.Action, Params: sr.Params, If: sr.If}
		if len(sr.Timeout) > 0 && string(sr.Timeout) != "null" {
			if err := step.Timeout.UnmarshalJSON(sr.Timeout); err != nil {
				errs.Add(p+".timeout", fmt.Sprintf("%s is not a duration such as \"30s\" or \"5m\"", sr.Timeout))
			} else if step.Timeout == 0 {
				step.Timeout = -1 // an explicit 0 is out of range, not "default"
			}
		}
		if len(sr.Retry) > 0 && string(sr.Retry) != "null" {
			var rp domain.RetryPolicy
			if err := decodeStrict(sr.Retry, &rp); err != nil {
				mergeDecodeError(errs, p+".retry", err, "must be an object such as {\"max_attempts\": 5, \"initial_interval\": \"2s\"} or {\"preset\": \"none\"}")
			} else {
				step.Retry = &rp
			}
		}
		steps = append(steps, step)
	}
	return steps, errs
}

// mergeDecodeError files a strict-decoding error under prefix: field errors
// keep their field, whole-value errors take whole.
func mergeDecodeError(errs domain.FieldErrors, prefix string, err error, whole string) {
	var ve *domain.ValidationError
	if !errors.As(err, &ve) {
		errs.Add(prefix, err.Error())
		return
	}
	for path, msg := range ve.Fields {
		switch {
		case path == "body" && strings.HasPrefix(msg, "is not valid: "):
			errs.Add(prefix, strings.TrimPrefix(msg, "is not valid: "))
		case path == "body":
			errs.Add(prefix, whole)
		default:
			errs.Add(domain.JoinPath(prefix, path), msg)
		}
	}
}

// validateFlow normalizes and validates f; stepErrs are problems found while
// decoding steps, reported with the rest.
func (s *Server) validateFlow(c *gin.Context, f *domain.Flow, stepErrs domain.FieldErrors) error {
	f.Normalize()
	errs := domain.FieldErrors{}
	for p, m := range stepErrs {
		errs.Add(p, m)
	}
	reg, err := s.registry(c.Request.Context())
	if err != nil {
		return err
	}
	if err := f.ValidateWith(activities.ActionCatalog(), reg.Set()); err != nil {
		var ve *domain.ValidationError
		if !errors.As(err, &ve) {
			return err
		}
		for p, m := range ve.Fields {
			// A step that did not decode is missing from f.Steps, which
			// shifts indexes; its decoding errors say enough.
			if len(stepErrs) == 0 || !strings.HasPrefix(p, "steps") {
				errs.Add(p, m)
			}
		}
	}
	return errs.Err()
}

// abortFlowStoreError answers a store error, naming the field of a duplicate name.
func abortFlowStoreError(c *gin.Context, err error) {
	if errors.Is(err, store.ErrFlowNameTaken) {
		c.AbortWithStatusJSON(http.StatusConflict, errorBody{Error: errorDetail{
			Code: "conflict", Message: err.Error(), Fields: domain.FieldErrors{"name": "is already used by another flow"},
		}})
		return
	}
	abortWithError(c, err)
}

func (s *Server) createFlow(c *gin.Context) {
	var req flowRequest
	if err := bindJSON(c, &req); err != nil {
		abortWithError(c, err)
		return
	}
	steps, stepErrs := decodeSteps(req.Steps)
	f := &domain.Flow{Name: req.Name, Type: req.Type, Description: req.Description, Steps: steps, EventTypes: req.EventTypes}
	if err := s.validateFlow(c, f, stepErrs); err != nil {
		abortWithError(c, err)
		return
	}
	if err := s.flowStore().Create(c.Request.Context(), f); err != nil {
		abortFlowStoreError(c, err)
		return
	}
	c.JSON(http.StatusCreated, toFlowResponse(f))
}

func (s *Server) getFlow(c *gin.Context) {
	f, err := s.flowStore().Get(c.Request.Context(), c.Param("id"))
	if err != nil {
		abortWithError(c, err)
		return
	}
	c.JSON(http.StatusOK, toFlowResponse(f))
}

func (s *Server) listFlows(c *gin.Context) {
	p, err := pageFrom(c, store.FlowSortFields()...)
	if err != nil {
		abortWithError(c, err)
		return
	}
	list, err := s.flowStore().List(c.Request.Context(), store.FlowFilter{Type: c.Query("type"), Text: c.Query("q")}, p)
	if err != nil {
		abortWithError(c, err)
		return
	}
	respondList(c, p, list, toFlowResponse)
}

func (s *Server) patchFlow(c *gin.Context) {
	var req flowPatch
	if err := bindJSON(c, &req); err != nil {
		abortWithError(c, err)
		return
	}
	flows := s.flowStore()
	f, err := flows.Get(c.Request.Context(), c.Param("id"))
	if err != nil {
		abortWithError(c, err)
		return
	}
	if req.Name.Set {
		f.Name = req.Name.V // null clears it, which validation refuses
	}
	if req.Type.Set {
		f.Type = req.Type.V // null resets to service
	}
	if req.Description.Set {
		f.Description = req.Description.V
	}
	if req.EventTypes.Set {
		f.EventTypes = req.EventTypes.V // null: any
	}
	var stepErrs domain.FieldErrors
	if req.Steps.Set {
		if req.Steps.Null {
			abortWithError(c, domain.Invalid("steps", "cannot be null; a flow needs at least one step"))
			return
		}
		f.Steps, stepErrs = decodeSteps(req.Steps.V)
	}
	if err := s.validateFlow(c, f, stepErrs); err != nil {
		abortWithError(c, err)
		return
	}
	if err := flows.Update(c.Request.Context(), f); err != nil {
		abortFlowStoreError(c, err)
		return
	}
	c.JSON(http.StatusOK, toFlowResponse(f))
}

func (s *Server) deleteFlow(c *gin.Context) {
	flows := s.flowStore()
	f, err := flows.Get(c.Request.Context(), c.Param("id"))
	if err != nil {
		abortWithError(c, err)
		return
	}
	if err := flows.Delete(c.Request.Context(), f.ID); err != nil {
		abortWithError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (s *Server) listFlowVersions(c *gin.Context) {
	p, err := pageFrom(c)
	if err != nil {
		abortWithError(c, err)
		return
	}
	flows := s.flowStore()
	f, err := flows.Get(c.Request.Context(), c.Param("id"))
	if err != nil {
		abortWithError(c, err)
		return
	}
	list, err := flows.Versions(c.Request.Context(), f.ID, p)
	if err != nil {
		abortWithError(c, err)
		return
	}
	respondList(c, p, list, func(v *store.FlowVersion) flowVersionResponse {
		return flowVersionResponse{Version: v.Version, Steps: v.Steps, CreatedAt: v.CreatedAt}
	})
}

// flowRunRequest is the optional body of POST /v1/flows/{id}/run: an event
// for the run to see (not published: no webhook or trigger sees it) and a
// timeout for the run.
type flowRunRequest struct {
	Event   *eventRequest    `json:"event"`
	Timeout *domain.Duration `json:"timeout"`
}

// runFlow runs a flow by itself, as a trigger would, so its author can try
// it. Any type of flow may be run this way.
func (s *Server) runFlow(c *gin.Context) {
	var req flowRunRequest
	if c.Request.ContentLength != 0 {
		if err := bindJSON(c, &req); err != nil && !isEmptyBody(err) {
			abortWithError(c, err)
			return
		}
	}
	timeout := domain.DefaultTriggerTimeout
	if req.Timeout != nil {
		timeout = time.Duration(*req.Timeout)
		if timeout < domain.MinTriggerTimeout || timeout > domain.MaxTriggerTimeout {
			abortWithError(c, domain.Invalid("timeout", fmt.Sprintf("must be between %s and %s", domain.MinTriggerTimeout, domain.MaxTriggerTimeout)))
			return
		}
	}
	f, err := s.flowStore().Get(c.Request.Context(), c.Param("id"))
	if err != nil {
		abortWithError(c, err)
		return
	}
	runID := store.NewID(store.PrefixRun)
	in := workflows.FlowRunInput{FlowID: f.ID}
	if req.Event == nil {
		// A flow that declares the events it expects is tried on the
		// first one's example.
		for _, t := range f.EventTypes {
			if !strings.HasSuffix(t, ".*") {
				req.Event = &eventRequest{Type: t}
				break
			}
		}
	}
	if req.Event != nil && len(req.Event.Data) == 0 && len(req.Event.Payload) == 0 {
		// An event given only by its type sees the type's example payload.
		req.Event.Data = s.exampleData(c.Request.Context(), req.Event.Type)
	}
	if req.Event != nil {
		ev, fields := toEvent(*req.Event, time.Now().UTC())
		errs := domain.FieldErrors{}
		errs.Merge("event", fields)
		if err := errs.Err(); err != nil {
			abortWithError(c, err)
			return
		}
		in.Event = &ev
	}
	if s.opts.Temporal == nil {
		abortWithError(c, fmt.Errorf("%w: no Temporal client", domain.ErrUnavailable))
		return
	}
	wfID := workflows.FlowTestRunWorkflowID(f.ID, runID)
	run, err := s.runs.Record(c.Request.Context(), &store.Run{ID: runID, FlowID: &f.ID, WorkflowID: wfID, Status: domain.RunPending})
	if err != nil {
		abortWithError(c, err)
		return
	}
	in.RunID = run.ID
	var sa activities.RunAttributes
	if in.Event != nil {
		sa.EventID, sa.EventType = in.Event.ID, in.Event.Type
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), flowRunStartTimeout)
	defer cancel()
	wr, err := dispatch.StartFlowRun(ctx, s.opts.Temporal, wfID, in, timeout, sa)
	if err != nil {
		_ = s.runs.Discard(context.WithoutCancel(c.Request.Context()), run.ID)
		abortWithError(c, fmt.Errorf("the run could not be started: %v: %w", err, domain.ErrUnavailable))
		return
	}
	if err := s.runs.MarkStarted(c.Request.Context(), run.ID, wr.GetID(), wr.GetRunID()); err != nil {
		loggerFrom(c).Warn("run started but not marked; it marks itself when it begins", "run", run.ID, "error", err)
	}
	if fresh, err := s.runs.Find(c.Request.Context(), run.ID); err == nil {
		run = fresh
	}
	c.JSON(http.StatusAccepted, flowRunResponse{runResponse: s.linkedRun(run), Steps: []domain.StepOutcome{}})
}

// getFlowRun answers one run of a flow with its steps and, when its
// workflow can say, each step's output.
func (s *Server) getFlowRun(c *gin.Context) {
	ctx := c.Request.Context()
	f, err := s.flowStore().Get(ctx, c.Param("id"))
	if err != nil {
		abortWithError(c, err)
		return
	}
	r, err := s.runs.Find(ctx, c.Param("run_id"))
	if err == nil && (r.FlowID == nil || *r.FlowID != f.ID) {
		err = fmt.Errorf("run %s of flow %s: %w", c.Param("run_id"), f.Name, domain.ErrNotFound)
	}
	if err != nil {
		abortWithError(c, err)
		return
	}
	if fresh, err := dispatch.ReconcileRunStatus(ctx, s.opts.Temporal, s.runs, r); err == nil {
		r = fresh
	}
	steps, err := s.runs.StepsOf(ctx, r.ID)
	if err != nil {
		abortWithError(c, err)
		return
	}
	if steps == nil {
		steps = []domain.StepOutcome{}
	}
	c.JSON(http.StatusOK, flowRunResponse{runResponse: s.linkedRun(r), Steps: steps, Outputs: s.stepOutputs(c, r)})
}

// stepOutputs asks a run's own workflow what each step returned; nil when
// the run has none (tried inline) or Temporal cannot answer.
func (s *Server) stepOutputs(c *gin.Context, r *store.Run) map[string]json.RawMessage {
	if r.InlineWorkflowID != "" || r.RunID == "" || s.opts.Temporal == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), outputsQueryTimeout)
	defer cancel()
	v, err := s.opts.Temporal.QueryWorkflow(ctx, r.WorkflowID, r.RunID, workflows.QueryStepOutputs)
	var out map[string]json.RawMessage
	if err == nil {
		err = v.Get(&out)
	}
	if err != nil {
		loggerFrom(c).Debug("step outputs unavailable", "run", r.ID, "error", err)
		return nil
	}
	return out
}

func (s *Server) listFlowRuns(c *gin.Context) {
	p, err := pageFrom(c)
	if err != nil {
		abortWithError(c, err)
		return
	}
	status := c.Query("status")
	if status != "" && !slices.Contains(domain.RunStatuses(), status) {
		abortWithError(c, domain.Invalid("status", "must be one of "+strings.Join(domain.RunStatuses(), ", ")))
		return
	}
	f, err := s.flowStore().Get(c.Request.Context(), c.Param("id"))
	if err != nil {
		abortWithError(c, err)
		return
	}
	list, err := s.runs.ByFlow(c.Request.Context(), f.ID, status, p)
	if err != nil {
		abortWithError(c, err)
		return
	}
	ids := make([]string, 0, len(list.Items))
	for i, r := range list.Items {
		// A run whose workflow timed out or was terminated could not say so.
		if fresh, err := dispatch.ReconcileRunStatus(c.Request.Context(), s.opts.Temporal, s.runs, r); err == nil {
			list.Items[i] = fresh
		}
		ids = append(ids, r.ID)
	}
	steps, err := s.runs.StepsOfRuns(c.Request.Context(), ids)
	if err != nil {
		abortWithError(c, err)
		return
	}
	respondList(c, p, list, func(r *store.Run) flowRunResponse {
		st := steps[r.ID]
		if st == nil {
			st = []domain.StepOutcome{}
		}
		return flowRunResponse{runResponse: s.linkedRun(r), Steps: st}
	})
}
