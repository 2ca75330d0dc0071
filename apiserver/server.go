// Package apiserver is TriggerFlow's admin HTTP API (gin): routes, request
// and response types, authentication, and the only place that knows HTTP
// status codes.
package apiserver

import (
	"log/slog"
	"net/http"

	"github.com/triggerflow/triggerflow/matching"

	"github.com/triggerflow/triggerflow/dispatch"

	"github.com/gin-gonic/gin"
	"github.com/jmoiron/sqlx"
	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/triggerflow/triggerflow/store"
)

// Options are the API server's dependencies and settings.
type Options struct {
	DB       *sqlx.DB
	Temporal client.Client
	// Namespace is the Temporal namespace runs live in (for readiness checks).
	Namespace string
	// AdminToken, when not empty, is accepted as a bearer key with every scope
	// (the bootstrap key, TRIGGERFLOW_ADMIN_TOKEN).
	AdminToken string
	Logger     *slog.Logger
	// Metrics is where HTTP metrics are registered and what /metrics serves;
	// nil makes a private registry.
	Metrics *prometheus.Registry
	// MaxBodyBytes caps every request body (413 beyond). Default 4 MiB.
	MaxBodyBytes int64
	// Version is reported by /healthz.
	Version string
	// Publisher makes published events durable (group commit); required for
	// POST /v1/events.
	Publisher *dispatch.Publisher
	// Index is the matching index; definition changes invalidate it.
	Index *matching.Index
	// Cipher seals webhook signing secrets at rest (TRIGGERFLOW_SECRET_KEY).
	Cipher store.SecretCipher
	// PublishRate is how many events per second each API key may publish
	// (TRIGGERFLOW_PUBLISH_RATE) and PublishBurst how many at once
	// (TRIGGERFLOW_PUBLISH_BURST); a rate of 0 turns the limit off.
	PublishRate  float64
	PublishBurst int
	// TemporalUIURL is Temporal UI's base URL (TRIGGERFLOW_TEMPORAL_UI_URL);
	// when set, answers about deliveries and runs link to their workflow.
	TemporalUIURL string
	// PayloadCodec, when set, is served as Temporal's codec server on
	// /codec/encode and /codec/decode (admin keys only), so Temporal UI and
	// the temporal CLI can show the payloads the workers encrypt.
	PayloadCodec converter.PayloadCodec
	// CodecCORSOrigins are the browser origins (Temporal UI) allowed to call
	// the codec endpoints.
	CodecCORSOrigins []string
	// CodecKeylessOrigins may call the codec endpoints without a key: dev
	// lists its own embedded Temporal UI, which needs no login and runs on
	// loopback beside the API. Never set it for a reachable UI.
	CodecKeylessOrigins []string
}

// Server is the API's HTTP handler with its dependencies.
type Server struct {
	opts    Options
	engine  *gin.Engine
	log     *slog.Logger
	metrics *httpMetrics

	webhooks *store.Webhooks
	// actionSenders reaches the webhooks owned by triggers (their webhook
	// actions' senders), which webhooks does not see.
	actionSenders *store.Webhooks
	events        *store.Events
	deliveries    *store.Deliveries
	runs          *store.Runs

	eventTypeStore *store.EventTypes
	eventTypes     *eventTypeRegistry

	keys         *keyAuthenticator
	apiKeys      *store.APIKeys
	publishLimit *publishLimiter
}

// New builds the router with every route.
func New(opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Metrics == nil {
		opts.Metrics = prometheus.NewRegistry()
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 4 << 20
	}
	gin.SetMode(gin.ReleaseMode)
	s := &Server{opts: opts, engine: gin.New(), log: opts.Logger}
	invalidate := func() {}
	if opts.Index != nil {
		invalidate = opts.Index.Invalidate
	}
	// The webhooks API shows subscriptions only; the webhooks that send
	// triggers' webhook actions are reached through their triggers.
	s.webhooks = &store.Webhooks{DB: opts.DB, OnChange: invalidate, Cipher: opts.Cipher, Subscriptions: true}
	s.actionSenders = &store.Webhooks{DB: opts.DB, Cipher: opts.Cipher}
	s.apiKeys = &store.APIKeys{DB: opts.DB}
	s.keys = newKeyAuthenticator(s.apiKeys, opts.Logger)
	s.publishLimit = newPublishLimiter(opts.PublishRate, opts.PublishBurst)
	s.events = &store.Events{DB: opts.DB}
	s.deliveries = &store.Deliveries{DB: opts.DB}
	s.runs = &store.Runs{DB: opts.DB}
	s.eventTypeStore = &store.EventTypes{DB: opts.DB}
	s.eventTypes = &eventTypeRegistry{store: s.eventTypeStore}
	s.metrics = newHTTPMetrics(opts.Metrics)
	s.engine.HandleMethodNotAllowed = true
	s.engine.ContextWithFallback = true
	s.engine.Use(s.requestContext, s.recoverPanics, s.limitBody)
	// Unknown /v1 routes answer 401 to callers without a key, so the API's
	// shape is not revealed to them.
	s.engine.NoRoute(s.authenticateV1, func(c *gin.Context) { abortWithError(c, errRouteNotFound) })
	s.engine.NoMethod(s.authenticateV1, func(c *gin.Context) { abortWithError(c, errMethod) })
	s.routes()
	return s
}

// Handler is the server's http.Handler.
func (s *Server) Handler() http.Handler { return s.engine }
