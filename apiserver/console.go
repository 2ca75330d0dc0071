package apiserver

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// meResponse tells a client who its key is and what it may do, so the
// console shows only the controls the key's scopes allow.
type meResponse struct {
	KeyID  string   `json:"key_id,omitempty"`
	Name   string   `json:"name"`
	Scopes []string `json:"scopes"`
	Admin  bool     `json:"admin"`
}

// bootstrapKeyName is what GET /v1/me calls TRIGGERFLOW_ADMIN_TOKEN.
const bootstrapKeyName = "bootstrap admin token"

// getMe answers any valid key with its name and scopes.
func (s *Server) getMe(c *gin.Context) {
	p := principalFrom(c)
	resp := meResponse{KeyID: p.KeyID, Name: p.Name, Scopes: p.Scopes, Admin: p.Allows(ScopeAdmin)}
	if p.Bootstrap {
		resp.KeyID, resp.Name = "", bootstrapKeyName
	}
	if resp.Scopes == nil {
		resp.Scopes = []string{}
	}
	c.JSON(http.StatusOK, resp)
}
