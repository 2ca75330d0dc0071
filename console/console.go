// Package console is TriggerFlow's admin console: a single-page application
// in plain ES modules, embedded in the binary and served at /ui/. It is a
// client of the public /v1 API only — it holds no key of its own and every
// call it makes carries the key the admin signed in with.
package console

import (
	"embed"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

//go:embed assets
var assets embed.FS

// Prefix is where the console is mounted; index.html's <base> agrees.
const Prefix = "/ui/"

// contentSecurityPolicy allows only the console's own files and API calls
// to its own origin: no CDN, no inline script, nothing framed.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; base-uri 'self'; form-action 'none'; frame-ancestors 'none'"

// Handler serves the console under Prefix. Paths that name an embedded file
// get it; every other path (a deep link such as /ui/webhooks/abc) gets
// index.html, and the application's router shows the screen.
func Handler() http.Handler {
	files := http.FileServerFS(assets)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		// Assets are not fingerprinted: revalidate so an upgrade shows at once.
		h.Set("Cache-Control", "no-cache")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		name := strings.TrimPrefix(path.Clean("/"+strings.TrimPrefix(r.URL.Path, Prefix)), "/")
		if name != "" && name != "index.html" {
			if st, err := fs.Stat(assets, "assets/"+name); err == nil && !st.IsDir() {
				r2 := r.Clone(r.Context())
				r2.URL.Path = "/assets/" + name
				files.ServeHTTP(w, r2)
				return
			}
			if isAssetPath(name) {
				http.NotFound(w, r) // a missing file is not a screen
				return
			}
		}
		index, err := assets.ReadFile("assets/index.html")
		if err != nil {
			http.Error(w, "console not built into this binary", http.StatusInternalServerError)
			return
		}
		h.Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(index)
	})
}

// isAssetPath tells file requests (scripts, styles, images) from screens.
func isAssetPath(name string) bool {
	if strings.HasPrefix(name, "js/") {
		return true
	}
	switch path.Ext(name) {
	case ".js", ".css", ".png", ".svg", ".ico", ".map", ".json", ".txt":
		return true
	}
	return false
}
