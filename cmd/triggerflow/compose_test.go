package main

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

type composeFile struct {
	Services map[string]composeService `yaml:"services"`
}

type composeService struct {
	Image       string            `yaml:"image"`
	Build       any               `yaml:"build"`
	Restart     string            `yaml:"restart"`
	Command     []string          `yaml:"command"`
	Environment map[string]string `yaml:"environment"`
	Ports       []string          `yaml:"ports"`
	Healthcheck *struct {
		Test    []string `yaml:"test"`
		Disable bool     `yaml:"disable"`
	} `yaml:"healthcheck"`
}

// goModVersion is the version go.mod requires of module.
func goModVersion(t *testing.T, module string) string {
	t.Helper()
	raw, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(module) + `\s+v(\S+)`).FindStringSubmatch(string(raw))
	if m == nil {
		t.Fatalf("go.mod does not require %s", module)
	}
	return m[1]
}

// settingsOfTheBinary is every environment variable the binary reads:
// loadConfig is run with a getenv that records what it is asked (Temporal's
// envconfig asks through the same function).
func settingsOfTheBinary(t *testing.T) map[string]bool {
	t.Helper()
	asked := map[string]bool{}
	if _, err := loadConfig(func(k string) string { asked[k] = true; return "" }); err != nil {
		t.Fatal(err)
	}
	return asked
}

// TestDockerComposeMatchesTheBinary checks docker-compose.yml without a
// Docker engine: Temporal's server, admin-tools and UI images at the versions
// go.mod builds and the tests run (no auto-setup), Temporal's ports on
// localhost unless asked, every TriggerFlow variable one the binary reads,
// the required ones set, SMTP and lead API settings reaching the worker, a
// health check on every long-running service (TriggerFlow's through its own
// healthcheck command on the port its settings give), .env.example naming
// every variable the file uses, and a .dockerignore that keeps the git
// history and the dev data dir out of the image.
func TestDockerComposeMatchesTheBinary(t *testing.T) {
	raw, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	if err := yaml.Unmarshal(raw, &c); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	server, ui := goModVersion(t, "go.temporal.io/server"), goModVersion(t, "github.com/temporalio/ui-server/v2")
	want := map[string]string{
		"temporal": "temporalio/server:" + server, "temporal-schema": "temporalio/admin-tools:" + server,
		"temporal-namespace": "temporalio/admin-tools:" + server, "temporal-ui": "temporalio/ui:" + ui,
	}
	for name, image := range want {
		if got := c.Services[name].Image; got != image {
			t.Errorf("service %s runs %q, want %q (go.mod)", name, got, image)
		}
	}
	if strings.Contains(string(raw), "auto-setup") && regexp.MustCompile(`image:\s*\S*auto-setup`).Match(raw) {
		t.Error("docker-compose.yml uses the deprecated auto-setup image")
	}
	for _, name := range []string{"temporal", "temporal-ui"} {
		for _, p := range c.Services[name].Ports {
			resolved := regexp.MustCompile(`\$\{[A-Z_]+:-([^}]*)\}`).ReplaceAllString(p, "$1")
			if !strings.HasPrefix(resolved, "127.0.0.1:") {
				t.Errorf("service %s publishes %q: bind it to 127.0.0.1 unless asked", name, p)
			}
		}
	}

	known := settingsOfTheBinary(t)
	ours := 0
	for name, s := range c.Services {
		if s.Healthcheck == nil || (s.Healthcheck.Disable && s.Restart != "no") || (!s.Healthcheck.Disable && len(s.Healthcheck.Test) == 0) {
			t.Errorf("service %s has no health check (only one-shot services, restart: \"no\", may disable it)", name)
		}
		if s.Image != "triggerflow:local" {
			continue
		}
		ours++
		for k := range s.Environment {
			if (strings.HasPrefix(k, "TRIGGERFLOW_") || strings.HasPrefix(k, "TEMPORAL_") || k == "DATABASE_URL") && !known[k] {
				t.Errorf("service %s sets %s, which the binary does not read", name, k)
			}
		}
		for _, k := range []string{"DATABASE_URL", "TEMPORAL_ADDRESS", "TRIGGERFLOW_SECRET_KEY", "TRIGGERFLOW_ADMIN_TOKEN"} {
			if s.Environment[k] == "" {
				t.Errorf("service %s lacks %s", name, k)
			}
		}
		if len(s.Command) == 0 {
			t.Errorf("service %s has no command", name)
			continue
		}
		addrVar := map[string]string{"api": "TRIGGERFLOW_HTTP_ADDR", "worker": "TRIGGERFLOW_WORKER_HTTP_ADDR"}[s.Command[0]]
		if addrVar == "" {
			continue
		}
		_, port, _ := strings.Cut(s.Environment[addrVar], ":")
		wantCheck := []string{"CMD", "triggerflow", "healthcheck", "http://127.0.0.1:" + port + "/readyz"}
		if s.Healthcheck == nil || port == "" || strings.Join(s.Healthcheck.Test, " ") != strings.Join(wantCheck, " ") {
			t.Errorf("service %s: health check %+v, want %v (%s=%q)", name, s.Healthcheck, wantCheck, addrVar, s.Environment[addrVar])
		}
		if s.Command[0] == "worker" {
			for _, k := range []string{"TRIGGERFLOW_SMTP_URL", "TRIGGERFLOW_LEAD_API_URL", "TRIGGERFLOW_LEAD_API_TOKEN"} {
				if _, ok := s.Environment[k]; !ok {
					t.Errorf("the worker does not get %s", k)
				}
			}
		}
	}
	if ours < 3 {
		t.Errorf("%d TriggerFlow services, want migrate, worker and api", ours)
	}

	example, err := os.ReadFile("../../.env.example")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`\$\{([A-Z_]+)`).FindAllStringSubmatch(string(raw), -1) {
		if !regexp.MustCompile(`(?m)^` + m[1] + `=`).Match(example) {
			t.Errorf(".env.example lacks %s, which docker-compose.yml uses", m[1])
		}
	}
	ignore, err := os.ReadFile("../../.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{".git", ".triggerflow/", "bin/", ".env"} {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(p) + `$`).Match(ignore) {
			t.Errorf(".dockerignore lacks %s", p)
		}
	}
}
