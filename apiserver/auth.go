package apiserver

import (
	"crypto/subtle"
	"strings"

	"github.com/gin-gonic/gin"
)

// Scopes an API key may hold. ScopeAdmin implies every other scope.
const (
	ScopeAdmin         = "admin"
	ScopeRead          = "read"
	ScopePublish       = "publish"
	ScopeWebhooksWrite = "webhooks:write"
	ScopeTriggersWrite = "triggers:write"
)

// Principal is who a request acts as.
type Principal struct {
	KeyID  string
	Name   string
	Scopes []string
	// Bootstrap is true for TRIGGERFLOW_ADMIN_TOKEN, which has no stored key.
	Bootstrap bool
}

// Allows reports whether the principal holds scope (or admin).
func (p Principal) Allows(scope string) bool {
	for _, s := range p.Scopes {
		if s == scope || s == ScopeAdmin {
			return true
		}
	}
	return false
}

// authenticate accepts `Authorization: Bearer <key>` and answers 401 otherwise.
// The bootstrap admin token is compared in constant time.
func (s *Server) authenticate(c *gin.Context) {
	h := c.GetHeader("Authorization")
	scheme, key, ok := strings.Cut(h, " ")
	key = strings.TrimSpace(key)
	if !ok || !strings.EqualFold(scheme, "Bearer") || key == "" {
		abortWithError(c, errUnauthorized)
		return
	}
	if s.opts.AdminToken != "" && subtle.ConstantTimeCompare([]byte(key), []byte(s.opts.AdminToken)) == 1 {
		c.Set(ctxPrincipal, Principal{KeyID: "bootstrap", Scopes: []string{ScopeAdmin}, Bootstrap: true})
		c.Next()
		return
	}
	p, err := s.keys.authenticate(c.Request.Context(), key)
	if err != nil {
		abortWithError(c, err)
		return
	}
	c.Set(ctxPrincipal, p)
	c.Next()
}

// principalFrom is who the request was authenticated as.
func principalFrom(c *gin.Context) Principal {
	p, _ := c.Get(ctxPrincipal)
	principal, _ := p.(Principal)
	return principal
}

// require answers 403 unless the authenticated principal holds scope.
func require(scope string) gin.HandlerFunc {
	return func(c *gin.Context) {
		p, _ := c.Get(ctxPrincipal)
		principal, _ := p.(Principal)
		if !principal.Allows(scope) {
			abortWithError(c, errForbidden)
			return
		}
		c.Next()
	}
}

// authenticateV1 authenticates requests under /v1 and lets others through.
func (s *Server) authenticateV1(c *gin.Context) {
	if strings.HasPrefix(c.Request.URL.Path, "/v1/") || c.Request.URL.Path == "/v1" {
		s.authenticate(c)
		return
	}
	c.Next()
}
