// Package webui is the reviewer's web interface: a single page of plain HTML, CSS and
// JavaScript, embedded in the binary (no CDN, no build step, works offline). It holds no data:
// every record, thumbnail and photo comes from the API with the signed-in credential, so the
// API's role checks and audit apply to the page exactly as to any other client.
package webui

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed static
var static embed.FS

// Handler serves the page's files; mount it under a prefix with http.StripPrefix.
func Handler() http.Handler {
	files, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	fileServer := http.FileServerFS(files)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		// Only the page's own files run; photos are shown from blob: URLs made of fetched bytes.
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; "+
			"connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cache-Control", "no-cache") // revalidate, so an upgraded binary's page is seen at once
		fileServer.ServeHTTP(w, r)
	})
}
