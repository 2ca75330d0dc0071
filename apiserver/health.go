package apiserver

import (
	"context"
	"net/http"
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
// sends traffic to an API that can make events durable.
func (s *Server) readyz(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 3*time.Second)
	defer cancel()
	checks := gin.H{}
	ready := true
	if s.opts.DB == nil {
		checks["postgres"] = "not configured"
		ready = false
	} else if err := s.opts.DB.PingContext(ctx); err != nil {
		checks["postgres"] = err.Error()
		ready = false
	} else {
		checks["postgres"] = "ok"
	}
	if s.opts.Temporal == nil {
		checks["temporal"] = "not configured"
		ready = false
	} else if _, err := s.opts.Temporal.WorkflowService().DescribeNamespace(ctx,
		&workflowservice.DescribeNamespaceRequest{Namespace: s.opts.Namespace}); err != nil {
		checks["temporal"] = err.Error()
		ready = false
	} else {
		checks["temporal"] = "ok"
	}
	status := http.StatusOK
	state := "ready"
	if !ready {
		status = http.StatusServiceUnavailable
		state = "not ready"
	}
	c.JSON(status, gin.H{"status": state, "checks": checks})
}

func (s *Server) serveMetrics(c *gin.Context) {
	promhttp.HandlerFor(s.opts.Metrics, promhttp.HandlerOpts{}).ServeHTTP(c.Writer, c.Request)
}

func (s *Server) openAPI(c *gin.Context) {
	c.Data(http.StatusOK, "application/json", schemas.OpenAPI)
}
