package apiserver

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/triggerflow/triggerflow/console"
)

// routes lists every route of the API, with the scope each needs; the
// handlers live in the file named for their resource. Every /v1 route is
// documented in schemas/openapi.json (a test checks both ways).
func (s *Server) routes() {
	r := s.engine
	// No key needed: probes, metrics, the document and the console's files.
	r.GET("/healthz", s.healthz)
	r.GET("/readyz", s.readyz)
	r.GET("/metrics", s.serveMetrics)
	r.GET("/openapi.json", s.openAPI)
	ui := gin.WrapH(console.Handler())
	r.GET("/", func(c *gin.Context) { c.Redirect(http.StatusFound, console.Prefix) })
	r.GET("/ui", func(c *gin.Context) { c.Redirect(http.StatusMovedPermanently, console.Prefix) })
	r.GET("/ui/*path", ui)
	r.HEAD("/ui/*path", ui)
	// Temporal's codec server protocol (admin keys; see codec.go).
	for _, op := range []string{"/codec/decode", "/codec/encode"} {
		r.OPTIONS(op, s.codecCORS, func(c *gin.Context) { c.Status(http.StatusNoContent) })
		r.POST(op, s.codecCORS, s.codecKeyless(s.serveCodec), s.authenticate, require(ScopeAdmin), s.serveCodec)
	}

	v1 := r.Group("/v1", s.authenticate)
	read, publish := require(ScopeRead), require(ScopePublish)
	webhooksWrite, triggersWrite, admin := require(ScopeWebhooksWrite), require(ScopeTriggersWrite), require(ScopeAdmin)

	v1.GET("/me", s.getMe) // any valid key
	v1.GET("/stats", read, s.getStats)
	v1.GET("/catalog", read, s.getCatalog)
	v1.GET("/actions", read, s.listActions)
	v1.GET("/actions/:name", read, s.getAction)
	v1.POST("/cron/preview", read, s.previewCron)
	v1.GET("/notifications", read, s.listNotifications)

	v1.POST("/events", publish, s.publishEvents)
	v1.GET("/events", read, s.listEvents)
	v1.GET("/events/:id", read, s.getEvent)
	v1.DELETE("/events/:id", admin, s.eraseEvent) // erasing personal data is an operator's act

	v1.GET("/event-types", read, s.listEventTypes)
	v1.POST("/event-types", admin, s.createEventType)
	v1.GET("/event-types/:name", read, s.getEventType)
	v1.PATCH("/event-types/:name", admin, s.patchEventType)
	v1.DELETE("/event-types/:name", admin, s.deleteEventType)

	v1.POST("/webhooks", webhooksWrite, s.createWebhook)
	v1.GET("/webhooks", read, s.listWebhooks)
	v1.GET("/webhooks/suggest-code", read, s.suggestWebhookCode)
	v1.POST("/webhooks/bulk-disable", webhooksWrite, s.bulkDisableWebhooks)
	v1.POST("/webhooks/bulk-enable", webhooksWrite, s.bulkEnableWebhooks)
	v1.POST("/webhooks/bulk-delete", webhooksWrite, s.bulkDeleteWebhooks)
	v1.GET("/webhooks/:id", read, s.getWebhook)
	v1.PATCH("/webhooks/:id", webhooksWrite, s.patchWebhook)
	v1.DELETE("/webhooks/:id", webhooksWrite, s.deleteWebhook)
	v1.POST("/webhooks/:id/rotate-secret", webhooksWrite, s.rotateSecret)
	v1.POST("/webhooks/:id/test", webhooksWrite, s.testWebhook)
	v1.GET("/webhooks/:id/deliveries", read, s.listWebhookDeliveries)

	v1.GET("/deliveries", read, s.listDeliveries)
	v1.GET("/deliveries/:id", read, s.getDelivery)
	v1.POST("/deliveries/:id/retry", webhooksWrite, s.retryDelivery)

	v1.POST("/flows", triggersWrite, s.createFlow)
	v1.GET("/flows", read, s.listFlows)
	v1.GET("/flows/:id", read, s.getFlow)
	v1.PATCH("/flows/:id", triggersWrite, s.patchFlow)
	v1.DELETE("/flows/:id", triggersWrite, s.deleteFlow)
	v1.GET("/flows/:id/versions", read, s.listFlowVersions)
	v1.POST("/flows/:id/run", triggersWrite, s.runFlow)
	v1.GET("/flows/:id/runs", read, s.listFlowRuns)
	v1.GET("/flows/:id/runs/:run_id", read, s.getFlowRun)

	v1.POST("/triggers", triggersWrite, s.createTrigger)
	v1.GET("/triggers", read, s.listTriggers)
	v1.POST("/triggers/bulk-disable", triggersWrite, s.bulkDisableTriggers)
	v1.POST("/triggers/bulk-enable", triggersWrite, s.bulkEnableTriggers)
	v1.POST("/triggers/bulk-delete", triggersWrite, s.bulkDeleteTriggers)
	v1.GET("/triggers/:id", read, s.getTrigger)
	v1.PATCH("/triggers/:id", triggersWrite, s.patchTrigger)
	v1.DELETE("/triggers/:id", triggersWrite, s.deleteTrigger)
	v1.POST("/triggers/:id/start", triggersWrite, s.startTrigger)
	v1.POST("/triggers/:id/stop", triggersWrite, s.stopTrigger)
	v1.POST("/triggers/:id/run", triggersWrite, s.runTrigger)
	v1.POST("/triggers/:id/rotate-secret", triggersWrite, s.rotateTriggerSecret)
	v1.GET("/triggers/:id/runs", read, s.listTriggerRuns)
	v1.GET("/triggers/:id/deliveries", read, s.listTriggerDeliveries)
	v1.GET("/runs/:id", read, s.getRun)

	v1.GET("/queues", read, s.listQueues)
	v1.GET("/queues/:queue_id/hooks", read, s.listQueueHooks)
	v1.POST("/queues/:queue_id/hooks", triggersWrite, s.createQueueHook)
	v1.POST("/queues/:queue_id/hooks/bulk-disable", triggersWrite, s.bulkDisableQueueHooks)
	v1.POST("/queues/:queue_id/hooks/bulk-enable", triggersWrite, s.bulkEnableQueueHooks)
	v1.POST("/queues/:queue_id/hooks/bulk-delete", triggersWrite, s.bulkDeleteQueueHooks)
	v1.GET("/queues/:queue_id/hooks/:id", read, s.getQueueHook)
	v1.PATCH("/queues/:queue_id/hooks/:id", triggersWrite, s.patchQueueHook)
	v1.DELETE("/queues/:queue_id/hooks/:id", triggersWrite, s.deleteQueueHook)
	v1.GET("/queues/:queue_id/hooks/:id/runs", read, s.listQueueHookRuns)

	v1.POST("/api-keys", admin, s.createAPIKey)
	v1.GET("/api-keys", admin, s.listAPIKeys)
	v1.GET("/api-keys/:id", admin, s.getAPIKey)
	v1.DELETE("/api-keys/:id", admin, s.revokeAPIKey)
}
