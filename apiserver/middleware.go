package apiserver

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/triggerflow/triggerflow/internal/tracing"
)

const (
	ctxRequestID = "triggerflow.request_id"
	ctxLogger    = "triggerflow.logger"
	ctxPrincipal = "triggerflow.principal"
	headerReqID  = "X-Request-ID"
)

var validRequestID = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// requestContext gives every request an id (the caller's X-Request-ID when it
// is sane), a logger carrying it, and an access log line with the outcome.
func (s *Server) requestContext(c *gin.Context) {
	start := time.Now()
	id := c.GetHeader(headerReqID)
	if !validRequestID.MatchString(id) {
		id = newRequestID()
	}
	c.Set(ctxRequestID, id)
	c.Header(headerReqID, id)
	log := s.log.With("request_id", id)
	c.Set(ctxLogger, log)
	// A server span, continuing the caller's trace (traceparent); what the
	// request leads to (a publish's deliveries) joins it. A no-op unless
	// tracing is configured (OTEL_*).
	ctx := otel.GetTextMapPropagator().Extract(c.Request.Context(), propagation.HeaderCarrier(c.Request.Header))
	ctx, span := tracing.Tracer("api").Start(ctx, "HTTP "+c.Request.Method, trace.WithSpanKind(trace.SpanKindServer))
	defer span.End()
	c.Request = c.Request.WithContext(ctx)

	c.Next()

	route := c.FullPath()
	if route == "" {
		route = "unmatched"
	}
	status := c.Writer.Status()
	if span.IsRecording() {
		span.SetName(c.Request.Method + " " + route)
		span.SetAttributes(attribute.String("http.request.method", c.Request.Method),
			attribute.String("http.route", route), attribute.Int("http.response.status_code", status),
			attribute.String("triggerflow.request_id", id))
		if status >= 500 {
			span.SetStatus(codes.Error, http.StatusText(status))
		}
	}
	elapsed := time.Since(start)
	s.metrics.observe(c.Request.Method, route, status, elapsed)
	level := slog.LevelInfo
	if route == "/healthz" || route == "/readyz" || route == "/metrics" {
		level = slog.LevelDebug
	}
	// The query string is not logged: it could carry tokens or personal data.
	log.Log(c.Request.Context(), level, "http request",
		"method", c.Request.Method, "route", route, "status", status,
		"duration_ms", float64(elapsed.Microseconds())/1000, "bytes", c.Writer.Size())
}

func newRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "req_" + hex.EncodeToString(b[:])
}

func requestID(c *gin.Context) string { return c.GetString(ctxRequestID) }

func loggerFrom(c *gin.Context) *slog.Logger {
	if l, ok := c.Get(ctxLogger); ok {
		return l.(*slog.Logger)
	}
	return slog.Default()
}

// recoverPanics turns a handler panic into a logged 500 instead of a dropped
// connection, keeping the process alive.
func (s *Server) recoverPanics(c *gin.Context) {
	defer func() {
		if r := recover(); r != nil {
			if r == http.ErrAbortHandler {
				panic(r)
			}
			loggerFrom(c).Error("panic in handler", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			abortWithError(c, errors.New("panic"))
		}
	}()
	c.Next()
}

// limitBody caps request bodies; reading past the cap fails and handlers
// answer 413 (see bindJSON).
func (s *Server) limitBody(c *gin.Context) {
	if c.Request.ContentLength > s.opts.MaxBodyBytes {
		abortWithError(c, fmt.Errorf("%w: %d bytes is over the limit of %d", errTooLarge, c.Request.ContentLength, s.opts.MaxBodyBytes))
		return
	}
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, s.opts.MaxBodyBytes)
	c.Next()
}

// queryInt reads an integer query parameter with a default.
func queryInt(c *gin.Context, name string, def int) (int, error) {
	v := c.Query(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("%q is not a whole number", v)
	}
	return n, nil
}
