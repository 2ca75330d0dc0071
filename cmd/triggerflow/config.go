package main

import (
	"fmt"
	"log/slog"
	"math"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/contrib/envconfig"

	"github.com/triggerflow/triggerflow/activities"
	"github.com/triggerflow/triggerflow/internal/devstack"
	"github.com/triggerflow/triggerflow/internal/secretbox"
	"github.com/triggerflow/triggerflow/internal/tracing"
)

// Config is every setting of every subcommand. Defaults are set in
// defaultConfig; each field can be overridden by the environment variable named
// in its comment, and some by a flag of the subcommand. The README lists them.
type Config struct {
	// DatabaseURL is the PostgreSQL connection URL (DATABASE_URL). Required by
	// api, worker and migrate; dev starts a private cluster when it is empty.
	DatabaseURL string
	// TemporalAddress is the Temporal frontend host:port (TEMPORAL_ADDRESS),
	// default 127.0.0.1:7233. dev runs its own server and ignores it.
	TemporalAddress string
	// TemporalNamespace is the namespace runs live in (TEMPORAL_NAMESPACE),
	// default "default".
	TemporalNamespace string
	// TemporalConnection is how to reach a real cluster, read by Temporal's
	// own envconfig from the standard variables and profile file:
	// TEMPORAL_API_KEY (Temporal Cloud; implies TLS), TEMPORAL_TLS,
	// TEMPORAL_TLS_CLIENT_CERT_PATH / _DATA and TEMPORAL_TLS_CLIENT_KEY_PATH /
	// _DATA (mTLS), TEMPORAL_TLS_SERVER_CA_CERT_PATH / _DATA,
	// TEMPORAL_TLS_SERVER_NAME, TEMPORAL_TLS_DISABLE_HOST_VERIFICATION,
	// TEMPORAL_GRPC_META_*, TEMPORAL_CONFIG_FILE and TEMPORAL_PROFILE. dev
	// ignores it (its embedded server is plain gRPC on loopback).
	TemporalConnection envconfig.ClientConfigProfile
	// WorkerHTTPAddr is where the worker serves /healthz, /readyz and
	// /metrics (TRIGGERFLOW_WORKER_HTTP_ADDR), default 127.0.0.1:9090;
	// "off" serves nothing.
	WorkerHTTPAddr string
	// HTTPAddr is where the API listens (TRIGGERFLOW_HTTP_ADDR, flag
	// --http-addr), default 127.0.0.1:8080.
	HTTPAddr string
	// AdminToken is the bootstrap API key with every scope
	// (TRIGGERFLOW_ADMIN_TOKEN). dev generates one and keeps it in the data
	// dir when it is empty.
	AdminToken string
	// DataDir is where dev keeps its PostgreSQL cluster, Temporal SQLite file
	// and generated secrets (TRIGGERFLOW_DATA_DIR, flag --data-dir), default
	// ./.triggerflow.
	DataDir string
	// PostgresRoot is where dev keeps its private PostgreSQL cluster when
	// running as root and the postgres system user (which the server must run
	// as) cannot reach the data dir, e.g. a clone in root's 0700 home
	// (TRIGGERFLOW_PG_ROOT), default /var/lib/triggerflow. The cluster then
	// lives in PostgresRoot/<hash of the data dir> and <data dir>/postgres
	// links to it.
	PostgresRoot string
	// TemporalPort is the embedded Temporal frontend port in dev
	// (TRIGGERFLOW_TEMPORAL_PORT, flag --temporal-port), default 7233.
	TemporalPort int
	// UIPort is the embedded Temporal UI port in dev (TRIGGERFLOW_UI_PORT, flag
	// --ui-port), default 8233; 0 turns the UI off.
	UIPort int
	// LogLevel is debug, info, warn or error (TRIGGERFLOW_LOG_LEVEL), default info.
	LogLevel string
	// LogFormat is text or json (TRIGGERFLOW_LOG_FORMAT), default text.
	LogFormat string
	// EgressAllow lists CIDRs that outbound requests may reach although they
	// are private, loopback or link-local (TRIGGERFLOW_EGRESS_ALLOW, comma
	// separated). dev adds 127.0.0.0/8 and ::1/128.
	EgressAllow []string
	// MaxBodyBytes caps API request bodies (TRIGGERFLOW_MAX_BODY_BYTES),
	// default 4 MiB.
	MaxBodyBytes int64
	// SMTPURL is the mail server of the email.send action
	// (TRIGGERFLOW_SMTP_URL), e.g. smtp://user:pass@mail:587?from=noreply@example.com;
	// smtps:// for implicit TLS. Empty: email.send fails as not configured.
	SMTPURL string
	// LeadAPIURL is the business system's lead API that lead.update.list
	// calls (TRIGGERFLOW_LEAD_API_URL); LeadAPIToken its bearer token
	// (TRIGGERFLOW_LEAD_API_TOKEN).
	LeadAPIURL   string
	LeadAPIToken string
	// SecretKey seals webhook signing secrets at rest and encrypts Temporal
	// payloads with AES-256-GCM (TRIGGERFLOW_SECRET_KEY): 32 random bytes
	// written as base64 or 64 hex characters, e.g. `openssl rand -base64 32`;
	// or several, comma-separated and newest first, each optionally named
	// "id:key" — the first seals, all open (key rotation). Required by api and
	// worker (both need the same keys); dev generates one and keeps it in the
	// data dir.
	SecretKey string
	// CodecCORSOrigins are the browser origins (Temporal UI's URL) allowed to
	// call the codec endpoint /codec/decode and /codec/encode
	// (TRIGGERFLOW_CODEC_CORS_ORIGINS, comma-separated). dev adds its own UI.
	CodecCORSOrigins []string
	// codecKeylessOrigins may use the codec endpoint without a key: dev sets
	// its embedded UI here (no environment variable sets it).
	codecKeylessOrigins []string
	// PublishRate is how many events per second each API key may publish
	// (TRIGGERFLOW_PUBLISH_RATE), default 5000; 0 turns the limit off.
	PublishRate float64
	// PublishBurst is how many events a key may publish at once above the
	// rate (TRIGGERFLOW_PUBLISH_BURST), default 10000.
	PublishBurst int
	// TemporalUIURL is Temporal UI's base URL (TRIGGERFLOW_TEMPORAL_UI_URL),
	// e.g. http://temporal-ui:8233; API answers about deliveries and runs then
	// carry temporal_ui_url, a link to the workflow that carried them. dev sets
	// it to its embedded UI unless given.
	TemporalUIURL string
	// MaxUndispatched bounds the published batches committed but not yet
	// handed to Temporal (TRIGGERFLOW_MAX_UNDISPATCHED_BATCHES), default
	// 10000: past it, POST /v1/events answers 503 with Retry-After until the
	// backlog shrinks (Temporal unreachable for long). 0 turns the bound off.
	MaxUndispatched int
	// DeliveryGrouping hands a publish group's first tries to Temporal as one
	// workflow for its deliveries and one per trigger (on, the default), or
	// each as its own workflow with exact search attributes (off): slower,
	// for installations that search Temporal UI by event more than they
	// publish (TRIGGERFLOW_DELIVERY_GROUPING=on|off). api and worker must agree.
	DeliveryGrouping bool
	// Tracing is on when the standard OpenTelemetry variables ask for traces
	// (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or
	// OTEL_TRACES_EXPORTER=otlp; OTEL_SDK_DISABLED=true turns it off): spans
	// go over OTLP/HTTP, with OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES,
	// OTEL_TRACES_SAMPLER and the exporter's own OTEL_EXPORTER_OTLP_*.
	Tracing bool
	// ReconcileEvery is how often a worker's reconciler looks for pending
	// deliveries, ordered queues and runs whose workflow is gone
	// (TRIGGERFLOW_RECONCILE_EVERY, a duration), default 1m.
	ReconcileEvery time.Duration
	// RetentionPayloads is how long events are kept with their deliveries
	// and runs (TRIGGERFLOW_RETENTION_PAYLOADS, default 30d; "0" keeps them
	// forever). Events something still works on are never purged.
	RetentionPayloads time.Duration
	// RetentionLogs is how long attempt logs (request and response bodies)
	// and notifications are kept (TRIGGERFLOW_RETENTION_LOGS, default 30d).
	RetentionLogs time.Duration
}

// defaultRetention is 30 days, for payloads and logs alike.
const defaultRetention = 30 * 24 * time.Hour

func defaultConfig() Config {
	return Config{
		TemporalAddress:   "127.0.0.1:7233",
		TemporalNamespace: "default",
		HTTPAddr:          "127.0.0.1:8080",
		WorkerHTTPAddr:    "127.0.0.1:9090",
		DataDir:           "./.triggerflow",
		PostgresRoot:      devstack.DefaultReachableRoot,
		TemporalPort:      7233,
		UIPort:            8233,
		LogLevel:          "info",
		LogFormat:         "text",
		MaxBodyBytes:      4 << 20,
		PublishRate:       5000,
		PublishBurst:      10000,
		MaxUndispatched:   10000,
		ReconcileEvery:    time.Minute,
		DeliveryGrouping:  true,
		RetentionPayloads: defaultRetention,
		RetentionLogs:     defaultRetention,
	}
}

// parseRetention reads a retention setting: a Go duration ("720h") or a
// number of days ("30d"); "0" keeps data forever.
func parseRetention(v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	if days, ok := strings.CutSuffix(v, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("%q is not a number of days", v)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 || (d > 0 && d < time.Hour) {
		return 0, fmt.Errorf("%q must be 0, a number of days (30d) or a duration of an hour or more (720h)", v)
	}
	return d, nil
}

// loadConfig applies environment overrides to the defaults.
func loadConfig(getenv func(string) string) (Config, error) {
	c := defaultConfig()
	str := func(name string, dst *string) {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			*dst = v
		}
	}
	var errs []string
	num := func(name string, dst *int) {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				errs = append(errs, fmt.Sprintf("%s=%q is not a number", name, v))
				return
			}
			*dst = n
		}
	}
	str("DATABASE_URL", &c.DatabaseURL)
	str("TEMPORAL_ADDRESS", &c.TemporalAddress)
	str("TEMPORAL_NAMESPACE", &c.TemporalNamespace)
	str("TRIGGERFLOW_HTTP_ADDR", &c.HTTPAddr)
	str("TRIGGERFLOW_WORKER_HTTP_ADDR", &c.WorkerHTTPAddr)
	str("TRIGGERFLOW_ADMIN_TOKEN", &c.AdminToken)
	str("TRIGGERFLOW_DATA_DIR", &c.DataDir)
	str("TRIGGERFLOW_PG_ROOT", &c.PostgresRoot)
	num("TRIGGERFLOW_TEMPORAL_PORT", &c.TemporalPort)
	num("TRIGGERFLOW_UI_PORT", &c.UIPort)
	str("TRIGGERFLOW_LOG_LEVEL", &c.LogLevel)
	str("TRIGGERFLOW_LOG_FORMAT", &c.LogFormat)
	str("TRIGGERFLOW_SMTP_URL", &c.SMTPURL)
	str("TRIGGERFLOW_LEAD_API_URL", &c.LeadAPIURL)
	str("TRIGGERFLOW_LEAD_API_TOKEN", &c.LeadAPIToken)
	str("TRIGGERFLOW_SECRET_KEY", &c.SecretKey)
	str("TRIGGERFLOW_TEMPORAL_UI_URL", &c.TemporalUIURL)
	num("TRIGGERFLOW_PUBLISH_BURST", &c.PublishBurst)
	num("TRIGGERFLOW_MAX_UNDISPATCHED_BATCHES", &c.MaxUndispatched)
	if c.MaxUndispatched < 0 {
		errs = append(errs, fmt.Sprintf("TRIGGERFLOW_MAX_UNDISPATCHED_BATCHES=%d must be 0 (no bound) or more", c.MaxUndispatched))
	}
	c.Tracing = tracing.Enabled(getenv)
	switch v := strings.ToLower(strings.TrimSpace(getenv("TRIGGERFLOW_DELIVERY_GROUPING"))); v {
	case "", "on", "true", "1":
	case "off", "false", "0":
		c.DeliveryGrouping = false
	default:
		errs = append(errs, fmt.Sprintf("TRIGGERFLOW_DELIVERY_GROUPING=%q must be on or off", v))
	}
	if v := strings.TrimSpace(getenv("TRIGGERFLOW_RECONCILE_EVERY")); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Second {
			errs = append(errs, fmt.Sprintf("TRIGGERFLOW_RECONCILE_EVERY=%q must be a duration of 1s or more, e.g. 1m", v))
		} else {
			c.ReconcileEvery = d
		}
	}
	if v := strings.TrimSpace(getenv("TRIGGERFLOW_PUBLISH_RATE")); v != "" {
		n, err := strconv.ParseFloat(v, 64)
		if err != nil || n < 0 || math.IsInf(n, 0) || math.IsNaN(n) {
			errs = append(errs, fmt.Sprintf("TRIGGERFLOW_PUBLISH_RATE=%q must be a number of events per second >= 0", v))
		} else {
			c.PublishRate = n
		}
	}
	if c.PublishBurst < 1 {
		errs = append(errs, fmt.Sprintf("TRIGGERFLOW_PUBLISH_BURST=%d must be 1 or more", c.PublishBurst))
	}
	if c.SecretKey != "" {
		if err := secretbox.ParseKeyRing(c.SecretKey); err != nil {
			errs = append(errs, err.Error())
		}
	}
	for _, o := range strings.Split(getenv("TRIGGERFLOW_CODEC_CORS_ORIGINS"), ",") {
		if o = strings.TrimRight(strings.TrimSpace(o), "/"); o != "" {
			c.CodecCORSOrigins = append(c.CodecCORSOrigins, o)
		}
	}
	for name, dst := range map[string]*time.Duration{"TRIGGERFLOW_RETENTION_PAYLOADS": &c.RetentionPayloads, "TRIGGERFLOW_RETENTION_LOGS": &c.RetentionLogs} {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			d, err := parseRetention(v)
			if err != nil {
				errs = append(errs, name+": "+err.Error())
				continue
			}
			*dst = d
		}
	}
	if v := strings.TrimSpace(getenv("TRIGGERFLOW_EGRESS_ALLOW")); v != "" {
		for _, cidr := range strings.Split(v, ",") {
			if cidr = strings.TrimSpace(cidr); cidr != "" {
				c.EgressAllow = append(c.EgressAllow, cidr)
			}
		}
	}
	if v := strings.TrimSpace(getenv("TRIGGERFLOW_MAX_BODY_BYTES")); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1024 {
			errs = append(errs, fmt.Sprintf("TRIGGERFLOW_MAX_BODY_BYTES=%q must be a number of bytes >= 1024", v))
		} else {
			c.MaxBodyBytes = n
		}
	}
	if c.SMTPURL != "" {
		if _, err := activities.ParseSMTPURL(c.SMTPURL); err != nil {
			errs = append(errs, fmt.Sprintf("TRIGGERFLOW_SMTP_URL: %v", err))
		}
	}
	if c.TemporalUIURL != "" {
		if u, err := url.Parse(c.TemporalUIURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, "TRIGGERFLOW_TEMPORAL_UI_URL must be an http(s) URL such as http://127.0.0.1:8233")
		}
	}
	if c.LeadAPIURL != "" {
		if u, err := url.Parse(c.LeadAPIURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, "TRIGGERFLOW_LEAD_API_URL must be an http(s) URL")
		}
	}
	if _, err := parseLevel(c.LogLevel); err != nil {
		errs = append(errs, err.Error())
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		errs = append(errs, fmt.Sprintf("TRIGGERFLOW_LOG_FORMAT=%q must be text or json", c.LogFormat))
	}
	prof, err := envconfig.LoadClientConfigProfile(envconfig.LoadClientConfigProfileOptions{EnvLookup: envLookup(getenv)})
	if err != nil {
		errs = append(errs, fmt.Sprintf("Temporal connection (TEMPORAL_*): %v", err))
	} else {
		c.TemporalConnection = prof
		if _, err := prof.ToClientOptions(envconfig.ToClientOptionsRequest{}); err != nil {
			errs = append(errs, fmt.Sprintf("Temporal connection (TEMPORAL_*): %v", err))
		}
	}
	if len(errs) > 0 {
		return c, fmt.Errorf("configuration: %s", strings.Join(errs, "; "))
	}
	return c, nil
}

// envLookup lets Temporal's envconfig read the same environment as the rest
// of the configuration (tests pass a map). Environ lists the process's
// variables as getenv sees them, for TEMPORAL_GRPC_META_*.
type envLookup func(string) string

// LookupEnv implements envconfig.EnvLookup.
func (e envLookup) LookupEnv(k string) (string, bool) {
	v := e(k)
	return v, v != ""
}

// Environ implements envconfig.EnvLookup.
func (e envLookup) Environ() []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if v := e(k); v != "" {
			out = append(out, k+"="+v)
		}
	}
	return out
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return l, fmt.Errorf("TRIGGERFLOW_LOG_LEVEL=%q must be debug, info, warn or error", s)
	}
	return l, nil
}

// newLogger builds the process logger from the config.
func newLogger(c Config) *slog.Logger {
	level, _ := parseLevel(c.LogLevel)
	opts := &slog.HandlerOptions{Level: level}
	if c.LogFormat == "json" {
		return slog.New(tracing.LogHandler(slog.NewJSONHandler(os.Stderr, opts)))
	}
	return slog.New(tracing.LogHandler(slog.NewTextHandler(os.Stderr, opts)))
}
