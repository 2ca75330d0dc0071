package apiserver

import (
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/triggerflow/triggerflow/domain"
	"github.com/triggerflow/triggerflow/store"
)

func (s *Server) queueHookStore() *store.QueueHooks {
	return &store.QueueHooks{DB: s.opts.DB, OnChange: s.invalidateIndex}
}

// listQueues lists the queues that have hooks, with their counts (Webitel
// queue hooks: a typo in a queue id shows as a queue of its own).
func (s *Server) listQueues(c *gin.Context) {
	p, err := pageFrom(c)
	if err != nil {
		abortWithError(c, err)
		return
	}
	list, err := s.queueHookStore().Queues(c.Request.Context(), p)
	if err != nil {
		abortWithError(c, err)
		return
	}
	respondList(c, p, list, func(q store.QueueSummary) queueResponse {
		return queueResponse{QueueID: q.QueueID, Hooks: q.Hooks, EnabledHooks: q.EnabledHooks, Events: q.Events, LastChangedAt: q.LastChanged}
	})
}

// queueResponse is a queue that has hooks.
type queueResponse struct {
	QueueID       string    `json:"queue_id"`
	Hooks         int       `json:"hooks"`
	EnabledHooks  int       `json:"enabled_hooks"`
	Events        []string  `json:"events"`
	LastChangedAt time.Time `json:"last_changed_at"`
}

// queueHookRequest is the body of POST /v1/queues/{queue_id}/hooks.
type queueHookRequest struct {
	Event   string `json:"event"`
	Flow    string `json:"flow"`
	Enabled *bool  `json:"enabled"`
}

// queueHookPatch is the body of PATCH /v1/queues/{queue_id}/hooks/{id}.
type queueHookPatch struct {
	Event   opt[string] `json:"event"`
	Flow    opt[string] `json:"flow"`
	Enabled opt[bool]   `json:"enabled"`
}

// queueHookResponse is a queue hook as the API shows it.
type queueHookResponse struct {
	ID        string    `json:"id"`
	QueueID   string    `json:"queue_id"`
	Event     string    `json:"event"`
	EventType string    `json:"event_type"`
	Flow      string    `json:"flow"`
	FlowName  string    `json:"flow_name"`
	Enabled   bool      `json:"enabled"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func toQueueHookResponse(h *domain.QueueHook) queueHookResponse {
	return queueHookResponse{
		ID: h.ID, QueueID: h.QueueID, Event: h.Event, EventType: h.EventType(), Flow: h.Flow, FlowName: h.FlowName,
		Enabled: h.Enabled, CreatedAt: h.CreatedAt, UpdatedAt: h.UpdatedAt,
	}
}

// queueIDParam reads and checks the queue id in the path.
func queueIDParam(c *gin.Context) (string, bool) {
	id := strings.TrimSpace(c.Param("queue_id"))
	if err := domain.ValidateQueueID(id); err != nil {
		abortWithError(c, err)
		return "", false
	}
	return id, true
}

func (s *Server) createQueueHook(c *gin.Context) {
	queueID, ok := queueIDParam(c)
	if !ok {
		return
	}
	var req queueHookRequest
	if err := bindJSON(c, &req); err != nil {
		abortWithError(c, err)
		return
	}
	h := &domain.QueueHook{QueueID: queueID, Event: req.Event, Flow: req.Flow, Enabled: true}
	if req.Enabled != nil {
		h.Enabled = *req.Enabled
	}
	h.Normalize()
	if err := h.Validate(); err != nil {
		abortWithError(c, err)
		return
	}
	if err := s.queueHookStore().Create(c.Request.Context(), h); err != nil {
		abortWithError(c, err)
		return
	}
	c.JSON(http.StatusCreated, toQueueHookResponse(h))
}

func (s *Server) listQueueHooks(c *gin.Context) {
	queueID, ok := queueIDParam(c)
	if !ok {
		return
	}
	p, err := pageFrom(c, store.QueueHookSortFields()...)
	if err != nil {
		abortWithError(c, err)
		return
	}
	f := store.QueueHookFilter{Event: c.Query("event")}
	if v := c.Query("enabled"); v != "" {
		b, err := parseBool(v)
		if err != nil {
			abortWithError(c, domain.Invalid("enabled", err.Error()))
			return
		}
		f.Enabled = &b
	}
	list, err := s.queueHookStore().List(c.Request.Context(), queueID, f, p)
	if err != nil {
		abortWithError(c, err)
		return
	}
	respondList(c, p, list, toQueueHookResponse)
}

func (s *Server) getQueueHook(c *gin.Context) {
	queueID, ok := queueIDParam(c)
	if !ok {
		return
	}
	h, err := s.queueHookStore().Get(c.Request.Context(), queueID, c.Param("id"))
	if err != nil {
		abortWithError(c, err)
		return
	}
	c.JSON(http.StatusOK, toQueueHookResponse(h))
}

func (s *Server) patchQueueHook(c *gin.Context) {
	queueID, ok := queueIDParam(c)
	if !ok {
		return
	}
	var req queueHookPatch
	if err := bindJSON(c, &req); err != nil {
		abortWithError(c, err)
		return
	}
	hooks := s.queueHookStore()
	h, err := hooks.Get(c.Request.Context(), queueID, c.Param("id"))
	if err != nil {
		abortWithError(c, err)
		return
	}
	if req.Event.Set {
		h.Event = req.Event.V // null leaves "", which Validate refuses
	}
	if req.Flow.Set {
		h.Flow = req.Flow.V
	}
	if req.Enabled.Set && !req.Enabled.Null {
		h.Enabled = req.Enabled.V
	}
	h.Normalize()
	if err := h.Validate(); err != nil {
		abortWithError(c, err)
		return
	}
	if err := hooks.Update(c.Request.Context(), h); err != nil {
		abortWithError(c, err)
		return
	}
	c.JSON(http.StatusOK, toQueueHookResponse(h))
}

func (s *Server) deleteQueueHook(c *gin.Context) {
	queueID, ok := queueIDParam(c)
	if !ok {
		return
	}
	if err := s.queueHookStore().Delete(c.Request.Context(), queueID, c.Param("id")); err != nil {
		abortWithError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (s *Server) listQueueHookRuns(c *gin.Context) {
	queueID, ok := queueIDParam(c)
	if !ok {
		return
	}
	h, err := s.queueHookStore().Get(c.Request.Context(), queueID, c.Param("id"))
	if err != nil {
		abortWithError(c, err)
		return
	}
	s.listRuns(c, store.RunFilter{QueueHookID: h.ID})
}

func (s *Server) bulkDisableQueueHooks(c *gin.Context) { s.bulkSwitchQueueHooks(c, false) }
func (s *Server) bulkEnableQueueHooks(c *gin.Context)  { s.bulkSwitchQueueHooks(c, true) }

func (s *Server) bulkSwitchQueueHooks(c *gin.Context, enabled bool) {
	queueID, ok := queueIDParam(c)
	if !ok {
		return
	}
	ids, ok := bindIDs(c, "hook")
	if !ok {
		return
	}
	changed, err := s.queueHookStore().SetEnabled(c.Request.Context(), queueID, ids, enabled)
	if err != nil {
		abortWithError(c, err)
		return
	}
	c.JSON(http.StatusOK, triggerBulkResponse{Affected: nonNil(changed), Count: len(changed)})
}

func (s *Server) bulkDeleteQueueHooks(c *gin.Context) {
	queueID, ok := queueIDParam(c)
	if !ok {
		return
	}
	ids, ok := bindIDs(c, "hook")
	if !ok {
		return
	}
	deleted, err := s.queueHookStore().DeleteMany(c.Request.Context(), queueID, ids)
	if err != nil {
		abortWithError(c, err)
		return
	}
	c.JSON(http.StatusOK, triggerBulkResponse{Affected: nonNil(deleted), Count: len(deleted)})
}
