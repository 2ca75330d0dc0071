package apiserver

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/triggerflow/triggerflow/dispatch"

	"github.com/gin-gonic/gin"

	"github.com/triggerflow/triggerflow/activities"
	"github.com/triggerflow/triggerflow/domain"
	"github.com/triggerflow/triggerflow/store"
)

// A trigger's webhook actions are deliveries of a webhook the trigger owns
// (see activities.WebhookActions): its deliveries are the trigger's event
// log, its signing secret the trigger's. A run's log shows, step by step,
// the tries of http.request steps and the deliveries of webhook steps.

// hasWebhookAction reports a trigger whose actions include a webhook.
func hasWebhookAction(t *domain.Trigger) bool {
	for _, a := range t.Actions {
		if a.Action == activities.ActionWebhook {
			return true
		}
	}
	return false
}

// triggerAnswer is the answer to a create or change of t. A trigger with
// webhook actions gets the webhook that sends them (and a signing secret)
// now, so its answer can show the secret whole, once; otherwise the first
// run makes it and the secret is learned by rotating it.
func (s *Server) triggerAnswer(c *gin.Context, t *domain.Trigger) triggerResponse {
	whole := ""
	if hasWebhookAction(t) {
		w, created, err := s.actionSenders.EnsureOwned(c.Request.Context(), store.WebhookOwner{TriggerID: t.ID}, activities.NewSigningSecret())
		switch {
		case err != nil:
			loggerFrom(c).Warn("the trigger's webhook-action sender could not be made; its first run makes it", "trigger", t.ID, "error", err)
		case created:
			whole = w.Secret
		}
	}
	r := s.toTriggerResponse(c, t, true)
	if whole != "" {
		r.SigningSecret = whole
	}
	return r
}

// maskedSigningSecret is the masked signing secret of t's webhook actions,
// "" when t has none yet.
func (s *Server) maskedSigningSecret(c *gin.Context, t *domain.Trigger) string {
	w, err := s.actionSenders.Owned(c.Request.Context(), store.WebhookOwner{TriggerID: t.ID})
	if err != nil {
		if !errors.Is(err, domain.ErrNotFound) {
			loggerFrom(c).Warn("cannot read the trigger's signing secret", "trigger", t.ID, "error", err)
		}
		return ""
	}
	return maskSecret(w.Secret)
}

// rotateTriggerSecret gives the trigger's webhook actions a new signing
// secret, answered whole this once; the old one signs 24 hours more. A
// trigger without a sender yet gets one.
func (s *Server) rotateTriggerSecret(c *gin.Context) {
	ctx := c.Request.Context()
	t, err := s.triggerStore().Get(ctx, c.Param("id"))
	if err != nil {
		abortWithError(c, err)
		return
	}
	owner := store.WebhookOwner{TriggerID: t.ID}
	w, created, err := s.actionSenders.EnsureOwned(ctx, owner, activities.NewSigningSecret())
	if err != nil {
		abortWithError(c, err)
		return
	}
	if !created {
		if w, err = s.actionSenders.RotateOwnedSecret(ctx, owner, activities.NewSigningSecret(), time.Now().UTC().Add(rotationOverlap)); err != nil {
			abortWithError(c, err)
			return
		}
	}
	r := s.toTriggerResponse(c, t, true)
	r.SigningSecret = w.Secret
	if w.PreviousSecretUntil != nil {
		r.PreviousSigningSecretExpiresAt = w.PreviousSecretUntil
	}
	c.JSON(http.StatusOK, r)
}

// listTriggerDeliveries lists the deliveries the trigger's webhook actions
// made — ipSCAPE's Event Logs — in the shape of a webhook's deliveries.
func (s *Server) listTriggerDeliveries(c *gin.Context) {
	t, err := s.triggerStore().Get(c.Request.Context(), c.Param("id"))
	if err != nil {
		abortWithError(c, err)
		return
	}
	w, err := s.actionSenders.Owned(c.Request.Context(), store.WebhookOwner{TriggerID: t.ID})
	if errors.Is(err, domain.ErrNotFound) {
		p, err := pageFrom(c, store.DeliverySortFields()...)
		if err == nil {
			_, err = deliveryFilterFrom(c)
		}
		if err != nil {
			abortWithError(c, err)
			return
		}
		respondList(c, p, domain.List[*store.Delivery]{}, toDeliveryResponse) // no webhook action has run yet
		return
	}
	if err != nil {
		abortWithError(c, err)
		return
	}
	s.listDeliveriesWhere(c, w.ID)
}

// runStepResponse is one step of a run as its log shows it: what the step
// did, and — for a step that calls out — each try with its request and
// response (http.request) or the delivery carrying its request (webhook).
type runStepResponse struct {
	domain.StepOutcome
	// StepID is the step's id within the run ("step-<n>").
	StepID     string             `json:"step_id"`
	Attempts   []attemptResponse  `json:"attempts,omitempty"`
	Deliveries []deliveryResponse `json:"deliveries,omitempty"`
}

// runDetailResponse is a run with its step log and what each step
// returned (see flowRunResponse.Outputs).
type runDetailResponse struct {
	runResponse
	Steps   []runStepResponse          `json:"steps"`
	Outputs map[string]json.RawMessage `json:"outputs,omitempty"`
}

// getRun answers one run with its step log. Steps still running (no
// outcome yet) are listed with status running once they have tried or
// delivered something.
func (s *Server) getRun(c *gin.Context) {
	ctx := c.Request.Context()
	r, err := s.runs.Find(ctx, c.Param("id"))
	if err != nil {
		abortWithError(c, err)
		return
	}
	if fresh, err := dispatch.ReconcileRunStatus(ctx, s.opts.Temporal, s.runs, r); err == nil {
		r = fresh
	}
	outcomes, err := s.runs.StepsOfRuns(ctx, []string{r.ID})
	if err != nil {
		abortWithError(c, err)
		return
	}
	tries, err := (&store.StepAttempts{DB: s.opts.DB}).OfRuns(ctx, []string{r.WorkflowID})
	if err != nil {
		abortWithError(c, err)
		return
	}
	deliveries, err := s.deliveries.List(ctx, store.DeliveryFilter{RunWorkflowID: r.WorkflowID},
		domain.Page{Number: 1, PerPage: domain.MaxPerPage, Sort: "created_at"})
	if err != nil {
		abortWithError(c, err)
		return
	}
	byIndex := map[int]*runStepResponse{}
	at := func(i int) *runStepResponse {
		if byIndex[i] == nil {
			// A step of a run in progress: its outcome is recorded when
			// the run ends.
			byIndex[i] = &runStepResponse{StepOutcome: domain.StepOutcome{Status: domain.RunRunning}, StepID: activities.StepActivityID(i)}
		}
		return byIndex[i]
	}
	for i, o := range outcomes[r.ID] {
		at(i).StepOutcome = o
	}
	for _, a := range tries {
		if i, ok := stepIndex(a.StepID); ok {
			at(i).Attempts = append(at(i).Attempts, toAttemptResponse(a.Attempt))
		}
	}
	for _, d := range deliveries.Items {
		if i, ok := stepIndex(d.StepID); ok {
			at(i).Deliveries = append(at(i).Deliveries, s.linkedDelivery(d))
		}
	}
	steps := make([]runStepResponse, 0, len(byIndex))
	for _, i := range slices.Sorted(maps.Keys(byIndex)) {
		steps = append(steps, *byIndex[i])
	}
	s.nameRunningSteps(c, r, steps)
	c.JSON(http.StatusOK, runDetailResponse{runResponse: s.linkedRun(r), Steps: steps, Outputs: s.stepOutputs(c, r)})
}

// stepIndex reads the index (from 0) of a step id "step-<n>".
func stepIndex(stepID string) (int, bool) {
	n, err := strconv.Atoi(strings.TrimPrefix(stepID, "step-"))
	if err != nil || n < 1 || !strings.HasPrefix(stepID, "step-") || n > domain.MaxPerPage {
		return 0, false
	}
	return n - 1, true
}

// nameRunningSteps fills in the name and action of steps that have no
// outcome yet, from the flow version the run pinned or its trigger's
// actions.
func (s *Server) nameRunningSteps(c *gin.Context, r *store.Run, steps []runStepResponse) {
	missing := false
	for _, st := range steps {
		missing = missing || st.Name == ""
	}
	if !missing {
		return
	}
	var program []domain.Step
	switch {
	case r.FlowID != nil && r.FlowVersion != nil:
		if v, err := s.flowStore().Version(c.Request.Context(), *r.FlowID, *r.FlowVersion); err == nil {
			program = v.Steps
		}
	case r.TriggerID != nil:
		if t, err := s.triggerStore().Get(c.Request.Context(), *r.TriggerID); err == nil {
			program = domain.StepsFromTriggerActions(t.Actions)
		}
	}
	for k := range steps {
		if steps[k].Name != "" {
			continue
		}
		i, _ := stepIndex(steps[k].StepID)
		steps[k].Name = fmt.Sprintf("step %d", i+1)
		if i < len(program) {
			steps[k].Name, steps[k].Action = program[i].Name, program[i].Action
		}
	}
}
