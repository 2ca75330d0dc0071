package apiserver

import (
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

// webhookRequest is the body of POST /v1/webhooks.
type webhookRequest struct {
	Name        string                        `json:"name"`
	Code        string                        `json:"code"`
	Description string                        `json:"description"`
	URL         string                        `json:"url"`
	Method      string                        `json:"method"`
	Headers     map[string]string             `json:"headers"`
	Params      map[string]string             `json:"params"`
	Body        *string                       `json:"body"`
	EventTypes  []string                      `json:"event_types"`
	Filters     map[string][]domain.Condition `json:"filters"`
	Conditions  []domain.Condition            `json:"conditions"`
	Expression  string                        `json:"expression"`
	Retry       *domain.RetryPolicy           `json:"retry"`
	Timeout     *domain.Duration              `json:"timeout"`
	Ordered     bool                          `json:"ordered"`
	Enabled     *bool                         `json:"enabled"`
	// SuccessStatus narrows which 2xx answers are SUCCESS ("200-209").
	SuccessStatus string `json:"success_status"`
	// UseCase is the object the webhook is for, fixed at creation.
	UseCase string `json:"use_case"`
}

// webhookPatch is the body of PATCH /v1/webhooks/{id}: only present fields change.
type webhookPatch struct {
	Name        opt[string]                        `json:"name"`
	Code        opt[string]                        `json:"code"`
	Description opt[string]                        `json:"description"`
	URL         opt[string]                        `json:"url"`
	Method      opt[string]                        `json:"method"`
	Headers     opt[map[string]string]             `json:"headers"`
	Params      opt[map[string]string]             `json:"params"`
	Body        opt[string]                        `json:"body"`
	EventTypes  opt[[]string]                      `json:"event_types"`
	Filters     opt[map[string][]domain.Condition] `json:"filters"`
	Conditions  opt[[]domain.Condition]            `json:"conditions"`
	Expression  opt[string]                        `json:"expression"`
	Retry       opt[domain.RetryPolicy]            `json:"retry"`
	Timeout     opt[domain.Duration]               `json:"timeout"`
	Ordered     opt[bool]                          `json:"ordered"`
	Enabled     opt[bool]                          `json:"enabled"`
	// SuccessStatus: null resets it to 200-299.
	SuccessStatus opt[string] `json:"success_status"`
	// UseCase is accepted only unchanged: it is fixed at creation.
	UseCase opt[string] `json:"use_case"`
}

// webhookResponse is a webhook as the API shows it. Secret is whole only in
// the answers to create and rotate-secret.
type webhookResponse struct {
	ID          string                        `json:"id"`
	Code        string                        `json:"code"`
	Name        string                        `json:"name"`
	Description string                        `json:"description"`
	URL         string                        `json:"url"`
	Method      string                        `json:"method"`
	Headers     map[string]string             `json:"headers"`
	Params      map[string]string             `json:"params"`
	Body        *string                       `json:"body"`
	EventTypes  []string                      `json:"event_types"`
	Filters     map[string][]domain.Condition `json:"filters"`
	Conditions  []domain.Condition            `json:"conditions"`
	Expression  string                        `json:"expression"`
	Retry       domain.RetryPolicy            `json:"retry"`
	Timeout     string                        `json:"timeout"`
	Ordered     bool                          `json:"ordered"`
	Enabled     bool                          `json:"enabled"`
	// SuccessStatus is which answers count as SUCCESS.
	SuccessStatus string `json:"success_status"`
	// UseCase is the object the webhook was created for; omitted for none.
	UseCase string `json:"use_case,omitempty"`
	Secret  string `json:"secret"`
	// PreviousSecretExpiresAt is when the previous secret stops signing
	// after a rotation.
	PreviousSecretExpiresAt *time.Time `json:"previous_secret_expires_at,omitempty"`
	CreatedAt               time.Time  `json:"created_at"`
	UpdatedAt               time.Time  `json:"updated_at"`
}

func toWebhookResponse(w *domain.Webhook, showSecret bool) webhookResponse {
	r := webhookResponse{
		ID: w.ID, Code: w.Code, Name: w.Name, Description: w.Description, URL: w.URL, Method: w.Method,
		Headers: domain.MaskHeaders(w.Headers, true), Params: w.Params, Body: w.Body, EventTypes: w.EventTypes,
		Filters: w.Filters, Conditions: w.Conditions, Expression: w.Expression, Retry: w.Retry,
		Timeout: w.Timeout.String(), Ordered: w.Ordered, Enabled: w.Enabled,
		SuccessStatus: w.SuccessStatus, UseCase: w.UseCase,
		Secret: maskSecret(w.Secret), CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt,
	}
	if showSecret {
		r.Secret = w.Secret
	}
	if w.PreviousSecretUntil != nil && time.Now().Before(*w.PreviousSecretUntil) {
		r.PreviousSecretExpiresAt = w.PreviousSecretUntil
	}
	return r
}

// maskSecret shows only the prefix and last four characters.
func maskSecret(s string) string {
	if len(s) <= len(activities.SecretPrefix)+4 {
		return activities.SecretPrefix + "…"
	}
	return activities.SecretPrefix + "…" + s[len(s)-4:]
}

func (s *Server) createWebhook(c *gin.Context) {
	var req webhookRequest
	if err := bindJSON(c, &req); err != nil {
		abortWithError(c, err)
		return
	}
	w := &domain.Webhook{
		Name: req.Name, Code: strings.TrimSpace(req.Code), Description: req.Description, URL: req.URL,
		Method: req.Method, Headers: req.Headers, Params: req.Params, Body: req.Body, EventTypes: req.EventTypes,
		Filters: req.Filters, Conditions: req.Conditions, Expression: req.Expression, Ordered: req.Ordered,
		Enabled: true, Secret: activities.NewSigningSecret(), SuccessStatus: req.SuccessStatus, UseCase: req.UseCase,
	}
	if req.Retry != nil {
		w.Retry = *req.Retry
	}
	if req.Timeout != nil {
		w.Timeout = time.Duration(*req.Timeout)
		if w.Timeout == 0 {
			w.Timeout = -1 // an explicit 0 is out of range, not "default"
		}
	}
	if req.Enabled != nil {
		w.Enabled = *req.Enabled
	}
	w.Normalize()
	if err := s.validateWebhook(c, w); err != nil {
		abortWithError(c, err)
		return
	}
	if err := s.webhooks.Create(c.Request.Context(), w); err != nil {
		if errors.Is(err, domain.ErrConflict) {
			err = fmt.Errorf("%w: a webhook with code %q already exists", domain.ErrConflict, w.Code)
			c.AbortWithStatusJSON(http.StatusConflict, errorBody{Error: errorDetail{
				Code: "conflict", Message: err.Error(), Fields: domain.FieldErrors{"code": "is already used by another webhook"},
			}})
			return
		}
		abortWithError(c, err)
		return
	}
	c.JSON(http.StatusCreated, toWebhookResponse(w, true))
}

func (s *Server) getWebhook(c *gin.Context) {
	w, err := s.webhooks.Get(c.Request.Context(), c.Param("id"))
	if err != nil {
		abortWithError(c, err)
		return
	}
	c.JSON(http.StatusOK, toWebhookResponse(w, false))
}

func (s *Server) listWebhooks(c *gin.Context) {
	p, err := pageFrom(c, store.WebhookSortFields()...)
	if err != nil {
		abortWithError(c, err)
		return
	}
	f := store.WebhookFilter{EventType: c.Query("event_type"), Text: c.Query("q")}
	if v := c.Query("enabled"); v != "" {
		b, err := parseBool(v)
		if err != nil {
			abortWithError(c, domain.Invalid("enabled", err.Error()))
			return
		}
		f.Enabled = &b
	}
	list, err := s.webhooks.List(c.Request.Context(), f, p)
	if err != nil {
		abortWithError(c, err)
		return
	}
	respondList(c, p, list, func(w *domain.Webhook) webhookResponse { return toWebhookResponse(w, false) })
}

func (s *Server) patchWebhook(c *gin.Context) {
	var req webhookPatch
	if err := bindJSON(c, &req); err != nil {
		abortWithError(c, err)
		return
	}
	w, err := s.webhooks.Get(c.Request.Context(), c.Param("id"))
	if err != nil {
		abortWithError(c, err)
		return
	}
	if req.Code.Set && req.Code.V != w.Code {
		abortWithError(c, domain.Invalid("code", "cannot be changed once saved"))
		return
	}
	if req.UseCase.Set && domain.ObjectName(req.UseCase.V) != w.UseCase {
		abortWithError(c, domain.Invalid("use_case", "cannot be changed after creation; create a new webhook for another use case"))
		return
	}
	wasEnabled := w.Enabled
	applyWebhookPatch(w, &req)
	w.Normalize()
	if err := s.validateWebhook(c, w); err != nil {
		abortWithError(c, err)
		return
	}
	if err := s.webhooks.Update(c.Request.Context(), w); err != nil {
		abortWithError(c, err)
		return
	}
	if !wasEnabled && w.Enabled {
		s.wakeWebhook(c, w)
	}
	c.JSON(http.StatusOK, toWebhookResponse(w, false))
}

// validateWebhook validates a webhook knowing the registry's custom event
// types, which it may subscribe to like catalog ones.
func (s *Server) validateWebhook(c *gin.Context, w *domain.Webhook) error {
	reg, err := s.registry(c.Request.Context())
	if err != nil {
		return err
	}
	return w.ValidateWith(reg.Set())
}

func applyWebhookPatch(w *domain.Webhook, p *webhookPatch) {
	set := func(o opt[string], dst *string, def string) {
		if o.Set {
			*dst = def
			if !o.Null {
				*dst = o.V
			}
		}
	}
	set(p.Name, &w.Name, "")
	set(p.Description, &w.Description, "")
	set(p.URL, &w.URL, "")
	set(p.Method, &w.Method, "")
	set(p.Expression, &w.Expression, "")
	set(p.SuccessStatus, &w.SuccessStatus, domain.DefaultSuccessStatus)
	if p.Headers.Set {
		w.Headers = p.Headers.V
	}
	if p.Params.Set {
		w.Params = p.Params.V
	}
	if p.Body.Set {
		w.Body = nil
		if !p.Body.Null {
			b := p.Body.V
			w.Body = &b
		}
	}
	if p.EventTypes.Set {
		w.EventTypes = p.EventTypes.V
	}
	if p.Filters.Set {
		w.Filters = p.Filters.V
	}
	if p.Conditions.Set {
		w.Conditions = p.Conditions.V
	}
	if p.Retry.Set {
		w.Retry = p.Retry.V
	}
	if p.Timeout.Set {
		w.Timeout = time.Duration(p.Timeout.V)
		if p.Timeout.Null {
			w.Timeout = 0
		} else if w.Timeout == 0 {
			w.Timeout = -1
		}
	}
	if p.Ordered.Set && !p.Ordered.Null {
		w.Ordered = p.Ordered.V
	}
	if p.Enabled.Set && !p.Enabled.Null {
		w.Enabled = p.Enabled.V
	}
}

func (s *Server) deleteWebhook(c *gin.Context) {
	w, err := s.webhooks.Get(c.Request.Context(), c.Param("id"))
	if err != nil {
		abortWithError(c, err)
		return
	}
	if err := s.webhooks.Delete(c.Request.Context(), w.ID); err != nil {
		abortWithError(c, err)
		return
	}
	s.cancelWebhookRuns(c, w)
	c.Status(http.StatusNoContent)
}

// bulkRequest names webhooks by id or code.
type bulkRequest struct {
	IDs []string `json:"ids"`
}

type bulkResponse struct {
	Affected []string `json:"affected"`
	Count    int      `json:"count"`
}

func (s *Server) bindBulk(c *gin.Context) ([]string, bool) {
	var req bulkRequest
	if err := bindJSON(c, &req); err != nil {
		abortWithError(c, err)
		return nil, false
	}
	if len(req.IDs) == 0 {
		abortWithError(c, domain.Invalid("ids", "must list at least one webhook id or code"))
		return nil, false
	}
	if len(req.IDs) > domain.MaxPerPage {
		abortWithError(c, domain.Invalid("ids", fmt.Sprintf("must list at most %d webhooks", domain.MaxPerPage)))
		return nil, false
	}
	return req.IDs, true
}

func (s *Server) bulkDisableWebhooks(c *gin.Context) { s.bulkSwitch(c, false) }
func (s *Server) bulkEnableWebhooks(c *gin.Context)  { s.bulkSwitch(c, true) }

func (s *Server) bulkSwitch(c *gin.Context, enabled bool) {
	ids, ok := s.bindBulk(c)
	if !ok {
		return
	}
	changed, err := s.webhooks.SetEnabled(c.Request.Context(), ids, enabled)
	if err != nil {
		abortWithError(c, err)
		return
	}
	if enabled {
		for _, id := range changed {
			if w, err := s.webhooks.Get(c.Request.Context(), id); err == nil {
				s.wakeWebhook(c, w)
			}
		}
	}
	c.JSON(http.StatusOK, bulkResponse{Affected: nonNil(changed), Count: len(changed)})
}

func (s *Server) bulkDeleteWebhooks(c *gin.Context) {
	ids, ok := s.bindBulk(c)
	if !ok {
		return
	}
	var hooks []*domain.Webhook
	for _, id := range ids {
		if w, err := s.webhooks.Get(c.Request.Context(), id); err == nil {
			hooks = append(hooks, w)
		}
	}
	deleted, err := s.webhooks.DeleteMany(c.Request.Context(), ids)
	if err != nil {
		abortWithError(c, err)
		return
	}
	for _, w := range hooks {
		s.cancelWebhookRuns(c, w)
	}
	c.JSON(http.StatusOK, bulkResponse{Affected: nonNil(deleted), Count: len(deleted)})
}

// rotationOverlap is how long the previous secret keeps signing after a
// rotation, so receivers can switch without dropping requests.
const rotationOverlap = 24 * time.Hour

func (s *Server) rotateSecret(c *gin.Context) {
	w, err := s.webhooks.Get(c.Request.Context(), c.Param("id"))
	if err != nil {
		abortWithError(c, err)
		return
	}
	until := time.Now().UTC().Add(rotationOverlap)
	w.PreviousSecret, w.PreviousSecretUntil = w.Secret, &until
	w.Secret = activities.NewSigningSecret()
	if err := s.webhooks.Update(c.Request.Context(), w); err != nil {
		abortWithError(c, err)
		return
	}
	c.JSON(http.StatusOK, toWebhookResponse(w, true))
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func parseBool(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "true", "1", "yes":
		return true, nil
	case "false", "0", "no":
		return false, nil
	}
	return false, fmt.Errorf("%q is not true or false", v)
}

// resumeOnEnable is how many parked deliveries enabling a webhook hands
// over at once; the reconciler resumes any more within a minute.
const resumeOnEnable = 20000

// wakeWebhook resumes a webhook's paused work after it is enabled: the queue
// of an ordered webhook, and the deliveries parked while it was disabled.
func (s *Server) wakeWebhook(c *gin.Context, w *domain.Webhook) {
	if s.opts.Temporal == nil {
		return
	}
	log := loggerFrom(c)
	if w.Ordered {
		if _, err := dispatch.WakeWebhookQueue(c.Request.Context(), s.opts.Temporal, w.ID, w.Code); err != nil {
			log.Warn("could not wake ordered queue; the reconciler will", "webhook", w.Code, "error", err)
		}
	}
	if _, err := dispatch.ResumeParked(c.Request.Context(), s.opts.Temporal, s.deliveries, s.events,
		[]string{w.ID}, resumeOnEnable, log); err != nil {
		log.Warn("could not resume parked deliveries; the reconciler will", "webhook", w.Code, "error", err)
	}
	// Delivery workflows started before deliveries were parked wait for
	// this signal (or recheck each minute).
	if err := dispatch.SignalRunning(c.Request.Context(), s.opts.Temporal, workflows.SAWebhook.GetName(), w.Code, workflows.SignalWake); err != nil {
		log.Warn("could not wake paused deliveries; they recheck within a minute", "webhook", w.Code, "error", err)
	}
}

// cancelWebhookRuns cancels the running workflows of a deleted webhook. Their
// deliveries are gone with it; the workflows would notice on their next step,
// canceling just stops them sooner.
func (s *Server) cancelWebhookRuns(c *gin.Context, w *domain.Webhook) {
	if s.opts.Temporal == nil {
		return
	}
	if err := dispatch.CancelRunning(c.Request.Context(), s.opts.Temporal, workflows.SAWebhook.GetName(), w.Code); err != nil {
		loggerFrom(c).Warn("could not cancel runs of deleted webhook; they stop on their own", "webhook", w.Code, "error", err)
	}
}
