package apiserver

import (
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/triggerflow/triggerflow/activities"
	"github.com/triggerflow/triggerflow/domain"
)

// actionResponse is a registered action: what flow steps may name in
// "action", with the parameters they take and the outputs later steps read.
type actionResponse struct {
	Name        string               `json:"name"`
	Description string               `json:"description"`
	Params      []domain.ParamSpec   `json:"params"`
	Outputs     []domain.OutputField `json:"outputs"`
	// Schema is the parameters as a JSON Schema object, for form builders.
	Schema map[string]any `json:"schema"`
	// RunsIn is "activity", or "workflow" for actions the run carries out
	// itself (delay, a durable timer).
	RunsIn string `json:"runs_in"`
}

func toActionResponse(a activities.Action) actionResponse {
	spec := a.Spec()
	r := actionResponse{
		Name: spec.Name, Description: spec.Description, Params: spec.Params, Outputs: spec.Outputs,
		Schema: spec.JSONSchema(), RunsIn: "activity",
	}
	if r.Params == nil {
		r.Params = []domain.ParamSpec{}
	}
	if r.Outputs == nil {
		r.Outputs = []domain.OutputField{}
	}
	if a.RunsInWorkflow() {
		r.RunsIn = "workflow"
	}
	return r
}

// listActions answers every registered action, sorted by name, in the
// paginated list envelope.
func (s *Server) listActions(c *gin.Context) {
	p, err := pageFrom(c)
	if err != nil {
		abortWithError(c, err)
		return
	}
	all := activities.RegisteredActions()
	list := domain.List[activities.Action]{Total: len(all)}
	if from := p.Offset(); from < len(all) {
		list.Items = all[from:min(from+p.PerPage, len(all))]
	}
	respondList(c, p, list, toActionResponse)
}

func (s *Server) getAction(c *gin.Context) {
	a, ok := activities.LookupAction(c.Param("name"))
	if !ok {
		abortWithError(c, fmt.Errorf("action %q: %w", c.Param("name"), domain.ErrNotFound))
		return
	}
	c.JSON(http.StatusOK, toActionResponse(a))
}
