package apiserver

import (
	"encoding/json"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/triggerflow/triggerflow/activities"
	"github.com/triggerflow/triggerflow/domain"
)

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
	// Types are the event types, built-in and custom, with description,
	// JSON Schema, example, aliases and the placeholder paths the example
	// offers. EventTypes lists their names.
	Types []catalogType `json:"types"`
}

// catalogType is one event type as the catalog lists it.
type catalogType struct {
	Name         string          `json:"name"`
	Object       string          `json:"object"`
	Event        string          `json:"event"`
	Label        string          `json:"label"`
	Description  string          `json:"description"`
	Schema       json.RawMessage `json:"schema"`
	Example      json.RawMessage `json:"example"`
	Custom       bool            `json:"custom"`
	Aliases      []string        `json:"aliases"`
	Placeholders []string        `json:"placeholders"`
}

func (s *Server) getCatalog(c *gin.Context) {
	reg, err := s.registry(c.Request.Context())
	if err != nil {
		abortWithError(c, err)
		return
	}
	// Admins add event types at any time: revalidate every read.
	c.Header("Cache-Control", "private, no-cache")
	types := []catalogType{}
	names := []string{}
	for _, d := range reg.All() {
		r := toEventTypeResponse(d)
		types = append(types, catalogType{Name: r.Name, Object: r.Object, Event: r.Event, Label: r.Label,
			Description: r.Description, Schema: r.Schema, Example: r.Example, Custom: r.Custom, Aliases: r.Aliases,
			Placeholders: r.Placeholders})
		names = append(names, d.Name)
	}
	c.JSON(http.StatusOK, catalogResponse{
		Types:              types,
		Objects:            domain.Catalog(),
		EventTypes:         names,
		TimeZones:          domain.TimeZones(),
		QueueEvents:        domain.QueueHookEvents(),
		OverlapPolicies:    domain.OverlapPolicies(),
		TriggerTypes:       []string{domain.TriggerAtTime, domain.TriggerOnEvent},
		TriggerActions:     activities.ActionCatalog().ActionNames(),
		ConditionOperators: domain.ConditionOperators(),
	})
}
