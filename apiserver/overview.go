package apiserver

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/triggerflow/triggerflow/domain"
	"github.com/triggerflow/triggerflow/store"
)

// maxFailingWebhooks is how many failing webhooks GET /v1/stats names.
const maxFailingWebhooks = 10

// deliveryCounts counts deliveries made in a window by where they stand now.
type deliveryCounts struct {
	Succeeded int `json:"succeeded"`
	Failed    int `json:"failed"`
	Pending   int `json:"pending"`
}

// webhookHealthResponse is one failing webhook on the overview.
type webhookHealthResponse struct {
	ID           string         `json:"id"`
	Code         string         `json:"code"`
	Name         string         `json:"name"`
	Enabled      bool           `json:"enabled"`
	LastHour     deliveryCounts `json:"last_hour"`
	LastDay      deliveryCounts `json:"last_day"`
	LastFailedAt *time.Time     `json:"last_failed_at"`
}

// statsResponse is the console's overview: what is defined, how the
// deliveries made in the last hour and day stand, and the webhooks with
// failed deliveries in the last day, most failures first.
type statsResponse struct {
	Webhooks struct {
		Total   int `json:"total"`
		Enabled int `json:"enabled"`
	} `json:"webhooks"`
	Triggers struct {
		Total   int `json:"total"`
		Enabled int `json:"enabled"`
	} `json:"triggers"`
	Flows      int `json:"flows"`
	QueueHooks int `json:"queue_hooks"`
	Deliveries struct {
		LastHour deliveryCounts `json:"last_hour"`
		LastDay  deliveryCounts `json:"last_day"`
	} `json:"deliveries"`
	FailingWebhooks []webhookHealthResponse `json:"failing_webhooks"`
	GeneratedAt     time.Time               `json:"generated_at"`
}

func (s *Server) getStats(c *gin.Context) {
	ov := store.Overview{DB: s.opts.DB}
	now := time.Now().UTC()
	counts, err := ov.Counts(c.Request.Context())
	if err != nil {
		abortWithError(c, err)
		return
	}
	health, err := ov.WebhookHealth(c.Request.Context(), now)
	if err != nil {
		abortWithError(c, err)
		return
	}
	var resp statsResponse
	resp.GeneratedAt = now
	resp.Webhooks.Total, resp.Webhooks.Enabled = counts.Webhooks, counts.WebhooksEnabled
	resp.Triggers.Total, resp.Triggers.Enabled = counts.Triggers, counts.TriggersEnabled
	resp.Flows, resp.QueueHooks = counts.Flows, counts.QueueHooks
	resp.FailingWebhooks = []webhookHealthResponse{}
	add := func(dst *deliveryCounts, src store.DeliveryCounts) {
		dst.Succeeded += src.Succeeded
		dst.Failed += src.Failed
		dst.Pending += src.Pending
	}
	for _, h := range health {
		add(&resp.Deliveries.LastHour, h.LastHour)
		add(&resp.Deliveries.LastDay, h.LastDay)
		if h.LastDay.Failed > 0 && len(resp.FailingWebhooks) < maxFailingWebhooks {
			w := webhookHealthResponse{ID: h.ID, Code: h.Code, Name: h.Name, Enabled: h.Enabled, LastFailedAt: h.LastFailedAt}
			add(&w.LastHour, h.LastHour)
			add(&w.LastDay, h.LastDay)
			resp.FailingWebhooks = append(resp.FailingWebhooks, w)
		}
	}
	c.JSON(http.StatusOK, resp)
}

// eventSummaryResponse is one event in GET /v1/events.
type eventSummaryResponse struct {
	ID         string         `json:"id"`
	Type       string         `json:"type"`
	Subject    string         `json:"subject"`
	OccurredAt time.Time      `json:"occurred_at"`
	ReceivedAt time.Time      `json:"received_at"`
	Deliveries deliveryCounts `json:"deliveries"`
	Runs       int            `json:"runs"`
}

// listEvents answers recent events, latest received first, filtered by
// ?type= (exact) and ?q= (part of the id).
func (s *Server) listEvents(c *gin.Context) {
	p, err := pageFrom(c, store.EventSortFields()...)
	if err != nil {
		abortWithError(c, err)
		return
	}
	f := store.EventFilter{Type: c.Query("type"), IDLike: c.Query("q")}
	if f.Type != "" {
		if err := domain.ValidEventTypeName(f.Type); err != nil {
			abortWithError(c, domain.Invalid("type", err.Error()))
			return
		}
	}
	list, err := (&store.Overview{DB: s.opts.DB}).RecentEvents(c.Request.Context(), f, p)
	if err != nil {
		abortWithError(c, err)
		return
	}
	respondList(c, p, list, func(e store.EventSummary) eventSummaryResponse {
		return eventSummaryResponse{ID: e.ID, Type: e.Type, Subject: e.Subject, OccurredAt: e.OccurredAt.UTC(),
			ReceivedAt: e.ReceivedAt.UTC(), Runs: e.Runs, Deliveries: deliveryCounts{
				Succeeded: e.DeliveriesSucceeded, Failed: e.DeliveriesFailed, Pending: e.DeliveriesPending}}
	})
}
