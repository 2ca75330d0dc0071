package apiserver

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/triggerflow/triggerflow/activities"
	"github.com/triggerflow/triggerflow/domain"
)

var _ = registerRoutes(func(s *Server, v1 *gin.RouterGroup) {
	v1.GET("/catalog", require(ScopeRead), s.getCatalog)
})

// catalogResponse is everything a trigger, hook or webhook form offers as
// choices: objects with their events, event types, time zones, queue hook
// events, overlap policies, trigger types, the actions a trigger's actions
// list may use (GET /v1/actions has their parameters) and condition
// operators.
type catalogResponse struct {
	Objects            []domain.CatalogObject `json:"objects"`
	EventTypes         []string               `json:"event_types"`
	TimeZones          []string               `json:"timezones"`
	QueueEvents        []string               `json:"queue_events"`
	OverlapPolicies    []string               `json:"overlap_policies"`
	TriggerTypes       []string               `json:"trigger_types"`
	TriggerActions     []string               `json:"trigger_actions"`
	ConditionOperators []string               `json:"condition_operators"`
}

func (s *Server) getCatalog(c *gin.Context) {
	// Definitions change only with a new release; caches may keep them a while.
	c.Header("Cache-Control", "private, max-age=300")
	c.JSON(http.StatusOK, catalogResponse{
		Objects:            domain.Catalog(),
		EventTypes:         domain.EventTypes(),
		TimeZones:          domain.TimeZones(),
		QueueEvents:        domain.QueueHookEvents(),
		OverlapPolicies:    domain.OverlapPolicies(),
		TriggerTypes:       []string{domain.TriggerAtTime, domain.TriggerOnEvent},
		TriggerActions:     activities.ActionCatalog().ActionNames(),
		ConditionOperators: domain.ConditionOperators(),
	})
}
