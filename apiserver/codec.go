package apiserver

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"
	"go.temporal.io/sdk/converter"

	"github.com/triggerflow/triggerflow/domain"
)

// codecRoutes serves Temporal's remote codec protocol: POST {endpoint}/decode
// and {endpoint}/encode with {"payloads": [...]} in protobuf JSON, answering
// the same shape. Temporal UI (its "codec endpoint" setting, with "pass access
// token") and `temporal --codec-endpoint … --codec-auth "Bearer <key>"` call
// it to show the payloads that workers encrypt. Only admin keys may: a
// decoded payload holds event data and credentials. Browsers call it across
// origins, so it answers CORS preflights for the configured origins.
func (s *Server) codecRoutes(r *gin.Engine) {
	serve := func(c *gin.Context) {
		if s.opts.PayloadCodec == nil {
			abortWithError(c, fmt.Errorf("%w: this API has no payload codec", domain.ErrUnavailable))
			return
		}
		converter.NewPayloadCodecHTTPHandler(s.opts.PayloadCodec).ServeHTTP(c.Writer, c.Request)
	}
	for _, op := range []string{"/codec/decode", "/codec/encode"} {
		r.OPTIONS(op, s.codecCORS, func(c *gin.Context) { c.Status(http.StatusNoContent) })
		r.POST(op, s.codecCORS, s.codecKeyless(serve), s.authenticate, require(ScopeAdmin), serve)
	}
}

// codecKeyless serves, without a key, requests from the browser origins of
// Options.CodecKeylessOrigins (dev's own Temporal UI); every other request
// goes on to the admin-key check.
func (s *Server) codecKeyless(serve gin.HandlerFunc) gin.HandlerFunc {
	return func(c *gin.Context) {
		origin := c.GetHeader("Origin")
		if origin != "" && c.GetHeader("Authorization") == "" &&
			slices.Contains(s.opts.CodecKeylessOrigins, strings.TrimRight(origin, "/")) {
			serve(c)
			c.Abort()
			return
		}
		c.Next()
	}
}

// codecCORS lets a configured origin call the codec endpoints with an
// Authorization header; other origins get no CORS headers (the browser then
// refuses the answer).
func (s *Server) codecCORS(c *gin.Context) {
	origin := c.GetHeader("Origin")
	if origin == "" || !slices.Contains(s.opts.CodecCORSOrigins, strings.TrimRight(origin, "/")) {
		c.Next()
		return
	}
	h := c.Writer.Header()
	h.Set("Access-Control-Allow-Origin", origin)
	h.Set("Access-Control-Allow-Credentials", "true")
	h.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
	h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, X-Namespace")
	h.Set("Access-Control-Max-Age", "600")
	h.Add("Vary", "Origin")
	c.Next()
}
