package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/triggerflow/triggerflow/internal/payloadcodec"
	"github.com/triggerflow/triggerflow/internal/testkit"
)

func TestConfigEnvironmentOverrides(t *testing.T) {
	env := map[string]string{
		"DATABASE_URL": "postgres://x", "TEMPORAL_ADDRESS": "t:1", "TEMPORAL_NAMESPACE": "ns",
		"TRIGGERFLOW_HTTP_ADDR": ":9", "TRIGGERFLOW_ADMIN_TOKEN": "tok", "TRIGGERFLOW_DATA_DIR": "/d",
		"TRIGGERFLOW_TEMPORAL_PORT": "1234", "TRIGGERFLOW_UI_PORT": "0", "TRIGGERFLOW_LOG_LEVEL": "debug",
		"TRIGGERFLOW_LOG_FORMAT": "json", "TRIGGERFLOW_EGRESS_ALLOW": "10.0.0.0/8, 192.168.1.1",
		"TRIGGERFLOW_MAX_BODY_BYTES": "2048", "TRIGGERFLOW_TEMPORAL_UI_URL": "http://ui:8233",
	}
	c, err := loadConfig(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if c.DatabaseURL != "postgres://x" || c.TemporalAddress != "t:1" || c.TemporalNamespace != "ns" || c.HTTPAddr != ":9" ||
		c.AdminToken != "tok" || c.DataDir != "/d" || c.TemporalPort != 1234 || c.UIPort != 0 || c.LogLevel != "debug" ||
		c.LogFormat != "json" || len(c.EgressAllow) != 2 || c.EgressAllow[1] != "192.168.1.1" || c.MaxBodyBytes != 2048 ||
		c.TemporalUIURL != "http://ui:8233" {
		t.Fatalf("%+v", c)
	}
	d, _ := loadConfig(func(string) string { return "" })
	if d.HTTPAddr != "127.0.0.1:8080" || d.TemporalPort != 7233 || d.UIPort != 8233 || d.DataDir != "./.triggerflow" {
		t.Fatalf("defaults: %+v", d)
	}
	for k, v := range map[string]string{"TRIGGERFLOW_UI_PORT": "x", "TRIGGERFLOW_LOG_LEVEL": "loud", "TRIGGERFLOW_LOG_FORMAT": "xml", "TRIGGERFLOW_MAX_BODY_BYTES": "1",
		"TRIGGERFLOW_TEMPORAL_UI_URL": "ui:8233"} {
		if _, err := loadConfig(func(name string) string {
			if name == k {
				return v
			}
			return ""
		}); err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("%s=%s: err = %v", k, v, err)
		}
	}
}

func TestHealthcheckAndUnknownCommand(t *testing.T) {
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer ok.Close()
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) }))
	defer bad.Close()
	if err := runHealthcheck(context.Background(), []string{ok.URL}); err != nil {
		t.Fatal(err)
	}
	if err := runHealthcheck(context.Background(), []string{bad.URL}); err == nil {
		t.Fatal("503 passed")
	}
	if err := run([]string{"frobnicate"}); err == nil {
		t.Fatal("unknown command accepted")
	}
	t.Setenv("DATABASE_URL", "")
	if err := run([]string{"api"}); err == nil || !strings.Contains(err.Error(), "DATABASE_URL") {
		t.Fatalf("api without DATABASE_URL: %v", err)
	}
}

// TestTemporalClientsEncryptPayloads: the options every client of the binary
// is made with carry the payload codec, keyed by TRIGGERFLOW_SECRET_KEY.
func TestTemporalClientsEncryptPayloads(t *testing.T) {
	cfg := defaultConfig()
	cfg.SecretKey = "k1:" + strings.Repeat("3c", 32)
	opts, err := temporalClientOptions(cfg, testkit.Logger())
	if err != nil {
		t.Fatal(err)
	}
	p, err := opts.DataConverter.ToPayload("Bearer s3cret")
	if err != nil {
		t.Fatal(err)
	}
	if string(p.Metadata["encoding"]) != payloadcodec.EncodingEncrypted || string(p.Metadata[payloadcodec.MetadataKeyID]) != "k1" ||
		strings.Contains(string(p.Data), "s3cret") {
		t.Fatalf("payload = %v", p)
	}
	cfg.SecretKey = ""
	if _, err := temporalClientOptions(cfg, testkit.Logger()); err == nil {
		t.Fatal("a client without a key")
	}
}
