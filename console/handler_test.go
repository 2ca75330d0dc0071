package console_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	served "github.com/triggerflow/triggerflow/console"
)

func TestHandlerServesFilesAndDeepLinks(t *testing.T) {
	srv := httptest.NewServer(served.Handler())
	t.Cleanup(srv.Close)
	cases := []struct {
		method, path string
		status       int
		contentType  string
		body         string
	}{
		{"GET", "/ui/", 200, "text/html", `<base href="/ui/">`},
		{"GET", "/ui/webhooks/case_updates", 200, "text/html", `<script type="module" src="js/app.js">`},
		{"GET", "/ui/events/evt.with.dots", 200, "text/html", `<base href="/ui/">`},
		{"GET", "/ui/app.css", 200, "text/css", "--accent"},
		{"GET", "/ui/js/app.js", 200, "javascript", "takeTokenFromFragment"},
		{"GET", "/ui/js/missing.js", 404, "", ""},
		{"GET", "/ui/missing.css", 404, "", ""},
		{"GET", "/ui/../../etc/passwd", 200, "text/html", `<base href="/ui/">`},
		{"HEAD", "/ui/", 200, "text/html", ""},
		{"POST", "/ui/", 405, "", ""},
	}
	for _, c := range cases {
		req, _ := http.NewRequest(c.method, srv.URL+c.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.status || !strings.Contains(resp.Header.Get("Content-Type"), c.contentType) || !strings.Contains(string(body), c.body) {
			t.Errorf("%s %s: %d %q %.80q, want %d %q containing %q", c.method, c.path, resp.StatusCode,
				resp.Header.Get("Content-Type"), body, c.status, c.contentType, c.body)
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "connect-src 'self'") {
			t.Errorf("%s %s: Content-Security-Policy %q", c.method, c.path, csp)
		}
	}
}
