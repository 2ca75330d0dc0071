package apiserver

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/triggerflow/triggerflow/schemas"
)

// healthz says the process is alive; it checks nothing else.
func (s *Server) healthz(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"status": "ok", "version": s.opts.Version})
}

// readyz checks that PostgreSQL and Temporal answer, so a load balancer only
// sends traffic to an API that can make events durable. The route needs no
// key, so each dependency shows only "ok" or "unavailable"; a caller with a
// valid key also sees the errors (which may name hosts and users), and the
// log always has them.
func (s *Server) readyz(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 3*time.Second)
	defer cancel()
	detailed := s.validKey(c)
	checks := gin.H{}
	ready := true
	check := func(name string, err error) {
		switch {
		case err == nil:
			checks[name] = "ok"
			return
		case detailed:
			checks[name] = err.Error()
		default:
			checks[name] = "unavailable"
		}
		ready = false
		s.log.Warn("readiness check failed", "dependency", name, "error", err)
	}
	if s.opts.DB == nil {
		check("postgres", errors.New("not configured"))
	} else {
		check("postgres", s.opts.DB.PingContext(ctx))
	}
	if s.opts.Temporal == nil {
		check("temporal", errors.New("not configured"))
	} else {
		_, err := s.opts.Temporal.WorkflowService().DescribeNamespace(ctx,
			&workflowservice.DescribeNamespaceRequest{Namespace: s.opts.Namespace})
		check("temporal", err)
	}
	status := http.StatusOK
	state := "ready"
	if !ready {
		status = http.StatusServiceUnavailable
		state = "not ready"
	}
	c.JSON(status, gin.H{"status": state, "checks": checks})
}

// validKey reports whether the request carries a valid API key, without
// answering 401 when it does not.
func (s *Server) validKey(c *gin.Context) bool {
	scheme, key, ok := strings.Cut(c.GetHeader("Authorization"), " ")
	key = strings.TrimSpace(key)
	if !ok || !strings.EqualFold(scheme, "Bearer") || key == "" {
		return false
	}
	if s.opts.AdminToken == "" && s.opts.DB == nil {
		return false
	}
	if s.opts.AdminToken != "" && subtle.ConstantTimeCompare([]byte(key), []byte(s.opts.AdminToken)) == 1 {
		return true
	}
	if s.opts.DB == nil {
		return false
	}
	_, err := s.keys.authenticate(c.Request.Context(), key)
	return err == nil
}

func (s *Server) serveMetrics(c *gin.Context) {
	promhttp.HandlerFor(s.opts.Metrics, promhttp.HandlerOpts{}).ServeHTTP(c.Writer, c.Request)
}

func (s *Server) openAPI(c *gin.Context) {
	c.Data(http.StatusOK, "application/json", schemas.OpenAPI)
}
