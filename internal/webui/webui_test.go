package webui

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestServesThePageWithItsPolicy(t *testing.T) {
	h := http.StripPrefix("/ui", Handler())
	for _, tc := range []struct {
		path, contentType, contains string
		status                      int
	}{
		{"/ui/", "text/html", `<script src="app.js" defer></script>`, 200},
		{"/ui/app.js", "text/javascript", "'use strict';", 200},
		{"/ui/app.css", "text/css", "--accent", 200},
		{"/ui/favicon.svg", "image/svg+xml", "<svg", 200},
		{"/ui/missing.js", "text/plain", "404", 404},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", tc.path, nil))
		if rec.Code != tc.status || !strings.HasPrefix(rec.Header().Get("Content-Type"), tc.contentType) || !strings.Contains(rec.Body.String(), tc.contains) {
			t.Errorf("%s: %d %q, want %d %s containing %q", tc.path, rec.Code, rec.Header().Get("Content-Type"), tc.status, tc.contentType, tc.contains)
		}
		csp := rec.Header().Get("Content-Security-Policy")
		// The page's own files only: no inline script, no CDN, photos from blob: URLs.
		for _, want := range []string{"default-src 'none'", "script-src 'self'", "img-src 'self' blob:", "frame-ancestors 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: policy %q lacks %q", tc.path, csp, want)
			}
		}
		if rec.Header().Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: no nosniff", tc.path)
		}
	}
}

// The page must work offline: nothing it loads may come from another host.
func TestNoExternalResources(t *testing.T) {
	for _, name := range []string{"static/index.html", "static/app.js", "static/app.css"} {
		b, err := static.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, bad := range []string{"http://", "https://", "//cdn", "@import"} {
			if strings.Contains(string(b), bad) {
				t.Errorf("%s refers to %q", name, bad)
			}
		}
	}
}
