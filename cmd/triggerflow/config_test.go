package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

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
	opts, err := temporalClientOptions(cfg, testkit.Logger(), nil)
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
	if _, err := temporalClientOptions(cfg, testkit.Logger(), nil); err == nil {
		t.Fatal("a client without a key")
	}
}

// TestTemporalConnectionFromStandardVariables: Temporal Cloud's API key
// (TLS implied) and mTLS with a private CA reach the client options through
// Temporal's own envconfig; the payload codec stays installed.
func TestTemporalConnectionFromStandardVariables(t *testing.T) {
	dir := t.TempDir()
	certPEM, keyPEM := selfSignedCert(t)
	for name, data := range map[string][]byte{"client.pem": certPEM, "client.key": keyPEM, "ca.pem": certPEM} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	key := "k1:" + strings.Repeat("3c", 32)
	load := func(env map[string]string) client.Options {
		t.Helper()
		env["TRIGGERFLOW_SECRET_KEY"] = key
		env["TEMPORAL_CONFIG_FILE"] = filepath.Join(dir, "none.toml")
		cfg, err := loadConfig(func(k string) string { return env[k] })
		if err != nil {
			t.Fatal(err)
		}
		opts, err := temporalClientOptions(cfg, testkit.Logger(), nil)
		if err != nil {
			t.Fatal(err)
		}
		return opts
	}

	cloud := load(map[string]string{"TEMPORAL_ADDRESS": "eu-west-1.aws.api.temporal.io:7233",
		"TEMPORAL_NAMESPACE": "triggerflow.a1b2c", "TEMPORAL_API_KEY": "tcld-key"})
	if cloud.HostPort != "eu-west-1.aws.api.temporal.io:7233" || cloud.Namespace != "triggerflow.a1b2c" ||
		cloud.Credentials == nil || cloud.ConnectionOptions.TLS == nil {
		t.Fatalf("Temporal Cloud options = %+v", cloud)
	}
	if p, _ := cloud.DataConverter.ToPayload("x"); string(p.Metadata["encoding"]) != payloadcodec.EncodingEncrypted {
		t.Fatal("the codec is lost with a connection profile")
	}

	mtls := load(map[string]string{"TEMPORAL_ADDRESS": "temporal.internal:7233",
		"TEMPORAL_TLS_CLIENT_CERT_PATH": filepath.Join(dir, "client.pem"), "TEMPORAL_TLS_CLIENT_KEY_PATH": filepath.Join(dir, "client.key"),
		"TEMPORAL_TLS_SERVER_CA_CERT_PATH": filepath.Join(dir, "ca.pem"), "TEMPORAL_TLS_SERVER_NAME": "temporal.internal"})
	tlsCfg := mtls.ConnectionOptions.TLS
	if tlsCfg == nil || len(tlsCfg.Certificates) != 1 || tlsCfg.RootCAs == nil || tlsCfg.ServerName != "temporal.internal" || mtls.Credentials != nil {
		t.Fatalf("mTLS options = %+v", tlsCfg)
	}

	plain := load(map[string]string{})
	if plain.ConnectionOptions.TLS != nil || plain.Credentials != nil || plain.HostPort != "127.0.0.1:7233" {
		t.Fatalf("default options = %+v", plain)
	}
	if _, err := loadConfig(func(k string) string {
		return map[string]string{"TEMPORAL_TLS_CLIENT_CERT_PATH": filepath.Join(dir, "missing.pem"), "TEMPORAL_CONFIG_FILE": filepath.Join(dir, "none.toml")}[k]
	}); err == nil {
		t.Fatal("a client certificate without its key was accepted")
	}
}

// selfSignedCert makes a throwaway certificate and key in PEM.
func selfSignedCert(t *testing.T) (certPEM, keyPEM []byte) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "temporal.internal"},
		DNSNames: []string{"temporal.internal"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
}
