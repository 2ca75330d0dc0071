package apiserver

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/triggerflow/triggerflow/console"
)

// mountConsole serves the admin console at /ui/ (no key needed to load it:
// every call it makes sends the key its user signs in with) and sends / there.
func (s *Server) mountConsole(r *gin.Engine) {
	ui := gin.WrapH(console.Handler())
	r.GET("/", func(c *gin.Context) { c.Redirect(http.StatusFound, console.Prefix) })
	r.GET("/ui", func(c *gin.Context) { c.Redirect(http.StatusMovedPermanently, console.Prefix) })
	r.GET("/ui/*path", ui)
	r.HEAD("/ui/*path", ui)
}

var _ = registerRoutes(func(s *Server, v1 *gin.RouterGroup) {
	v1.GET("/me", s.getMe)
})

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
