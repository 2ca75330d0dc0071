package apiserver

import (
	"fmt"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"
	"go.temporal.io/sdk/converter"

	"github.com/triggerflow/triggerflow/domain"
)

// serveCodec answers Temporal's codec server protocol with the payload
// codec (see routes.go for who may call it).
func (s *Server) serveCodec(c *gin.Context) {
	if s.opts.PayloadCodec == nil {
		abortWithError(c, fmt.Errorf("%w: this API has no payload codec", domain.ErrUnavailable))
		return
	}
	converter.NewPayloadCodecHTTPHandler(s.opts.PayloadCodec).ServeHTTP(c.Writer, c.Request)
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
