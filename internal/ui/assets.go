package ui

import (
	"embed"
	"net/http"
	"path"
)

// static holds the page: its HTML, script and style sheet. No CDN: the
// page works on a machine without internet access.
//
//go:embed static/index.html static/app.js static/app.css
var static embed.FS

// staticFile serves one embedded file, never cached (the page is small, and
// a new binary may change it).
func staticFile(name string) http.Handler {
	b, err := static.ReadFile("static/" + name)
	if err != nil {
		panic("live page: " + name + " is not embedded") // a build mistake, caught by any test
	}
	types := map[string]string{".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
		".css": "text/css; charset=utf-8"}
	ctype := types[path.Ext(name)]
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", ctype)
		w.Header().Set("Cache-Control", "no-cache")
		_, _ = w.Write(b)
	})
}
