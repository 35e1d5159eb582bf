package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/facematch/facematch/engine"
	"github.com/facematch/facematch/face"
	"github.com/facematch/facematch/face/facetest"
	"github.com/facematch/facematch/index"
	"github.com/facematch/facematch/internal/blob/engineblob"
	"github.com/facematch/facematch/internal/blob/local"
	"github.com/facematch/facematch/internal/catalog"
	"github.com/facematch/facematch/internal/source"
	"github.com/facematch/facematch/internal/testenv"
	"github.com/facematch/facematch/models"
)

// The API on its real parts (SQLite, a local blob directory, the index) with the face models
// played by face/facetest, so that its rules are tested in milliseconds; TestRealModelsThroughTheAPI
// and cmd/facematch's end-to-end tests run the same routes on the real models.
var pipeline = &engine.Pipeline{Detector: facetest.Detector{}, Embedder: facetest.Embedder{}}

type testServer struct {
	*httptest.Server
	svc     *engine.Service
	cat     *catalog.DB
	blobs   engine.BlobStore
	blobDir string
	tokens  map[string]string // role (or name) → secret
}

func newTestServer(t *testing.T) *testServer {
	t.Helper()
	return buildTestServer(t, nil, nil)
}

// newTestServerWith builds the test server; configure changes the API's Config.
func newTestServerWith(t *testing.T, configure func(*Config)) *testServer {
	return buildTestServer(t, nil, configure)
}

// newTestServerWithService builds the test server; edit changes the service's configuration.
func newTestServerWithService(t *testing.T, edit func(*engine.ServiceConfig)) *testServer {
	return buildTestServer(t, edit, nil)
}

// buildTestServer builds the test server with the service's and the API's configurations
// changed by edit and configure when they are set.
func buildTestServer(t *testing.T, edit func(*engine.ServiceConfig), configure func(*Config)) *testServer {
	t.Helper()
	return buildTestServerOn(t, pipeline, edit, configure)
}

// buildTestServerOn is buildTestServer on the given pipeline.
func buildTestServerOn(t *testing.T, pipeline *engine.Pipeline, edit func(*engine.ServiceConfig), configure func(*Config)) *testServer {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	cat, err := catalog.Open(ctx, filepath.Join(dir, "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cat.Close() })
	store, err := local.Open(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	blobs := engineblob.Store{Blobs: store}
	model := pipeline.Embedder.Identity()
	ix, err := index.Open(ctx, index.Config{Dir: filepath.Join(dir, "wal"), Store: store, Prefix: "index", Model: model,
		Dim: pipeline.Embedder.Dim()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ix.Close() })
	sc := engine.ServiceConfig{Catalog: cat, Blobs: blobs, Pipelines: map[string]*engine.Pipeline{"fused": pipeline},
		DefaultModel: "fused", Indexes: map[string]engine.VectorIndex{model: ix}, Sources: uploadsOnly{blobs},
		Meta: func(r io.Reader, format string) (engine.MetaLookup, error) { return source.ReadMeta(r, format) }}
	if edit != nil {
		edit(&sc)
	}
	svc, err := engine.NewService(sc)
	if err != nil {
		t.Fatal(err)
	}
	adminSecret, err := svc.Bootstrap(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	// TestAuthorization tries every route with bad credentials from one address.
	cfg := Config{Service: svc, MaxBodyBytes: 8 << 20, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), AuthLimit: AuthLimit{Burst: 1000}}
	if configure != nil {
		configure(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{Server: httptest.NewServer(srv), svc: svc, cat: cat, blobs: blobs, blobDir: filepath.Join(dir, "blobs"),
		tokens: map[string]string{"admin": adminSecret}}
	t.Cleanup(ts.Close)
	for _, r := range []engine.Role{engine.RoleAnalyst, engine.RoleReviewer, engine.RoleAuditor} {
		_, secret, err := svc.CreateToken(ctx, engine.Actor{Name: engine.BootstrapAdmin}, engine.NewCredential{Name: string(r), Role: r})
		if err != nil {
			t.Fatal(err)
		}
		ts.tokens[string(r)] = secret
	}
	tok, secret, err := svc.CreateToken(ctx, engine.Actor{Name: engine.BootstrapAdmin}, engine.NewCredential{Name: "revoked", Role: engine.RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.RevokeToken(ctx, engine.Actor{Name: engine.BootstrapAdmin}, tok.ID); err != nil {
		t.Fatal(err)
	}
	ts.tokens["revoked"] = secret
	return ts
}

func (ts *testServer) do(t *testing.T, method, path, token, contentType string, body []byte) (*http.Response, []byte) {
	t.Helper()
	return ts.doWith(t, method, path, token, contentType, bytes.NewReader(body), nil)
}

// createGallery creates a gallery as the admin and fails the test unless it is created.
func (ts *testServer) createGallery(t *testing.T, name string, kind engine.GalleryKind) engine.Gallery {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"name": name, "kind": string(kind)})
	resp, data := ts.do(t, "POST", "/v1/galleries", ts.tokens["admin"], "application/json", body)
	var g engine.Gallery
	if resp.StatusCode != 201 || json.Unmarshal(data, &g) != nil {
		t.Fatalf("create gallery %q: %d %s", name, resp.StatusCode, data)
	}
	return g
}

func multipartBody(t *testing.T, image []byte, fields map[string]string) ([]byte, string) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for k, v := range fields {
		w.WriteField(k, v)
	}
	if image != nil {
		fw, _ := w.CreateFormFile("image", "photo.jpg")
		fw.Write(image)
	}
	w.Close()
	return buf.Bytes(), w.FormDataContentType()
}

// TestAuthorization covers every route × every credential: a missing, unknown or revoked
// credential gets 401 and a role without the right gets 403, before any work is done; a role
// with the right gets past authorization (whatever the handler then answers of the dummy
// request). The expected roles are written out here, not read from the route table.
func TestAuthorization(t *testing.T) {
	ts := newTestServer(t)
	want := map[string][]string{ // route → roles allowed; nil: public
		"GET /healthz":                      nil,
		"GET /readyz":                       nil,
		"GET /metrics":                      {"admin"},
		"GET /v1/openapi.json":              {"admin", "analyst", "reviewer", "auditor"},
		"GET /v1/me":                        {"admin", "analyst", "reviewer", "auditor"},
		"POST /v1/me/rotate":                {"admin", "analyst", "reviewer", "auditor"},
		"POST /v1/galleries":                {"admin"},
		"GET /v1/galleries":                 {"admin", "analyst", "reviewer", "auditor"},
		"GET /v1/galleries/:id":             {"admin", "analyst", "reviewer", "auditor"},
		"PATCH /v1/galleries/:id":           {"admin"},
		"DELETE /v1/galleries/:id":          {"admin"},
		"POST /v1/galleries/:id/cluster":    {"admin"},
		"GET /v1/galleries/:id/persons":     {"admin", "analyst", "reviewer", "auditor"},
		"GET /v1/persons/:id":               {"admin", "analyst", "reviewer", "auditor"},
		"POST /v1/persons/:id/confirm":      {"reviewer"},
		"POST /v1/persons/:id/remove-face":  {"reviewer"},
		"POST /v1/persons/:id/merge":        {"reviewer"},
		"POST /v1/persons/:id/split":        {"reviewer"},
		"POST /v1/persons/:id/search":       {"analyst"},
		"GET /v1/persons/:id/report":        {"admin", "analyst", "reviewer", "auditor"},
		"POST /v1/galleries/:id/subjects":   {"admin", "analyst"},
		"GET /v1/galleries/:id/subjects":    {"admin", "analyst", "reviewer", "auditor"},
		"GET /v1/subjects/:id":              {"admin", "analyst", "reviewer", "auditor"},
		"PATCH /v1/subjects/:id":            {"admin", "analyst"},
		"DELETE /v1/subjects/:id":           {"admin"},
		"POST /v1/galleries/:id/images":     {"admin", "analyst"},
		"GET /v1/galleries/:id/images":      {"admin", "analyst", "reviewer", "auditor"},
		"GET /v1/images/:id":                {"admin", "analyst", "reviewer", "auditor"},
		"GET /v1/images/:id/faces":          {"admin", "analyst", "reviewer", "auditor"},
		"GET /v1/images/:id/reposts":        {"admin", "analyst", "reviewer", "auditor"},
		"DELETE /v1/images/:id":             {"admin"},
		"GET /v1/faces/:id/thumbnail":       {"admin", "analyst", "reviewer", "auditor"},
		"GET /v1/lookup":                    {"admin", "analyst", "reviewer", "auditor"},
		"GET /v1/probe-faces/:id/thumbnail": {"admin", "analyst", "reviewer", "auditor"},
		"POST /v1/searches":                 {"analyst"},
		"GET /v1/searches/:id":              {"admin", "analyst", "reviewer", "auditor"},
		"GET /v1/searches/:id/photo":        {"admin", "analyst", "reviewer", "auditor"},
		"POST /v1/searches/:id/review":      {"analyst"},
		"GET /v1/matches":                   {"admin", "analyst", "reviewer", "auditor"},
		"GET /v1/review/counts":             {"admin", "analyst", "reviewer", "auditor"},
		"GET /v1/review/probes":             {"admin", "analyst", "reviewer", "auditor"},
		"GET /v1/matches/:id":               {"admin", "analyst", "reviewer", "auditor"},
		"GET /v1/matches/:id/view":          {"admin", "analyst", "reviewer", "auditor"},
		"GET /v1/matches/:id/report":        {"admin", "analyst", "reviewer", "auditor"},
		"POST /v1/matches/:id/decisions":    {"reviewer"},
		"GET /v1/settings/retention":        {"admin", "auditor"},
		"PUT /v1/settings/retention":        {"admin"},
		"GET /v1/audit":                     {"auditor"},
		"GET /v1/audit/export":              {"auditor"},
		"POST /v1/tokens":                   {"admin"},
		"GET /v1/tokens":                    {"admin"},
		"DELETE /v1/tokens/:id":             {"admin"},
		"POST /v1/tokens/:id/rotate":        {"admin"},
		"PUT /v1/tokens/:id/galleries":      {"admin"},
		"POST /v1/jobs":                     {"admin"},
		"GET /v1/jobs":                      {"admin", "analyst", "reviewer", "auditor"},
		"GET /v1/jobs/:id":                  {"admin", "analyst", "reviewer", "auditor"},
		"GET /v1/jobs/:id/items":            {"admin", "analyst", "reviewer", "auditor"},
		"POST /v1/jobs/:id/cancel":          {"admin"},
		"POST /v1/jobs/:id/resume":          {"admin"},
	}
	if len(want) != len(Routes()) {
		t.Fatalf("the test lists %d routes, the API has %d", len(want), len(Routes()))
	}
	for _, r := range Routes() {
		key := r.Method + " " + r.Path
		allowed, listed := want[key]
		if !listed {
			t.Fatalf("route %s is not covered by this test", key)
		}
		path := strings.ReplaceAll(r.Path, ":id", "999999")
		for _, who := range []string{"", "unknown", "revoked", "admin", "analyst", "reviewer", "auditor"} {
			token := ts.tokens[who]
			if who == "unknown" {
				token = "fm_this-is-not-a-real-credential-at-all"
			}
			if key == "POST /v1/me/rotate" && ts.tokens[who] != "" && who != "revoked" {
				// Rotating would end the shared credential the other routes use: use a fresh one.
				_, token, _ = ts.svc.CreateToken(context.Background(), engine.Actor{Name: engine.BootstrapAdmin},
					engine.NewCredential{Name: "rotate-" + who, Role: engine.Role(who)})
			}
			resp, body := ts.do(t, r.Method, path, token, "application/json", []byte("{}"))
			got := resp.StatusCode
			switch {
			case allowed == nil:
				if got == 401 || got == 403 {
					t.Errorf("%s as %q: %d, want public", key, who, got)
				}
			case who == "" || who == "unknown" || who == "revoked":
				if got != 401 {
					t.Errorf("%s as %q: %d, want 401", key, who, got)
				}
			case slices.Contains(allowed, who):
				if got == 401 || got == 403 || got >= 500 {
					t.Errorf("%s as %s: %d %s, want authorised and no server error", key, who, got, body)
				}
			default:
				if got != 403 {
					t.Errorf("%s as %s: %d, want 403", key, who, got)
				}
			}
			if got >= 400 && resp.Header.Get("Content-Type") != "application/problem+json" {
				t.Errorf("%s as %q: %d with content type %q, want application/problem+json", key, who, got, resp.Header.Get("Content-Type"))
			}
		}
	}
}

// TestClientMistakes: every bad request gets a 4xx problem with a precise message.
func TestClientMistakes(t *testing.T) {
	ts := newTestServer(t)
	admin, analyst := ts.tokens["admin"], ts.tokens["analyst"]
	resp, body := ts.do(t, "POST", "/v1/galleries", admin, "application/json", []byte(`{"name":"ads","kind":"collection"}`))
	if resp.StatusCode != 201 {
		t.Fatalf("create gallery: %d %s", resp.StatusCode, body)
	}
	var g engine.Gallery
	json.Unmarshal(body, &g)
	photo := facetest.PhotoJPEG(katy, 26)
	noFace := facetest.Group(1, 0)
	upload := fmt.Sprintf("/v1/galleries/%d/images", g.ID)
	mp := func(img []byte, fields map[string]string) ([]byte, string) { return multipartBody(t, img, fields) }
	truncated, ct1 := mp(photo[:len(photo)/2], nil)
	notImage, ct2 := mp([]byte("%PDF-1.4 a document, not a photo"), nil)
	bomb, ct10 := mp([]byte("GIF89a\xff\x7f\xff\x7f\x00\x00\x00"), nil)
	noImageField, ct3 := mp(nil, map[string]string{"site": "x"})
	noFaceBody, ct4 := mp(noFace, nil)
	badDate, ct5 := mp(photo, map[string]string{"posted_at": "yesterday"})
	huge, ct6 := mp(bytes.Repeat([]byte{0xff}, 9<<20), nil)
	search, ct7 := mp(photo, map[string]string{"galleries": fmt.Sprint(g.ID)})
	searchBadK, ct8 := mp(photo, map[string]string{"galleries": fmt.Sprint(g.ID), "purpose": "p", "k": "lots"})
	searchBadGallery, ct9 := mp(photo, map[string]string{"galleries": "abc", "purpose": "p"})
	tests := []struct {
		name, method, path, token, ct string
		body                          []byte
		status                        int
		detail                        string
	}{
		{"bad id", "GET", "/v1/galleries/abc", admin, "", nil, 400, "id must be a positive integer"},
		{"negative id", "GET", "/v1/galleries/-3", admin, "", nil, 400, "id must be a positive integer"},
		{"unknown gallery", "GET", "/v1/galleries/12345", admin, "", nil, 404, "gallery 12345"},
		{"malformed json", "POST", "/v1/galleries", admin, "application/json", []byte(`{"name":`), 400, "not valid JSON"},
		{"wrong content type", "POST", "/v1/galleries", admin, "text/plain", []byte(`x`), 415, "application/json"},
		{"unknown kind", "POST", "/v1/galleries", admin, "application/json", []byte(`{"name":"x","kind":"mixed"}`), 422, "kind must be reference or collection"},
		{"target FPIR out of range", "PATCH", fmt.Sprintf("/v1/galleries/%d", g.ID), admin, "application/json", []byte(`{"target_fpir":2}`), 422, "target_fpir must be in [1e-6, 0.5], got 2"},
		{"target FPIR not a number", "PATCH", fmt.Sprintf("/v1/galleries/%d", g.ID), admin, "application/json", []byte(`{"target_fpir":"1%"}`), 400, "target_fpir"},
		{"target FPIR overflowing", "PATCH", fmt.Sprintf("/v1/galleries/%d", g.ID), admin, "application/json", []byte(`{"target_fpir":1e999}`), 400, "target_fpir"},
		{"persons in a bad order", "GET", fmt.Sprintf("/v1/galleries/%d/persons?order=alphabet", g.ID), analyst, "", nil, 422, "order must be size, recent, score or minors"},
		{"an unknown person", "GET", "/v1/persons/4242", analyst, "", nil, 404, "person 4242"},
		{"removing no face", "POST", "/v1/persons/4242/remove-face", ts.tokens["reviewer"], "application/json", []byte(`{"note":"x"}`), 400, "face_id is required"},
		{"searching a person without a purpose", "POST", "/v1/persons/4242/search", analyst, "application/json", []byte(`{"galleries":[1]}`), 422, "purpose is required"},
		{"merging with nobody", "POST", "/v1/persons/4242/merge", ts.tokens["reviewer"], "application/json", []byte(`{}`), 400, "person_id is required"},
		{"splitting no face", "POST", "/v1/persons/4242/split", ts.tokens["reviewer"], "application/json", []byte(`{"note":"x"}`), 422, "face_ids is required"},
		{"splitting a negative face", "POST", "/v1/persons/4242/split", ts.tokens["reviewer"], "application/json", []byte(`{"face_ids":[3,-1]}`), 400, "face_ids must be positive integers, got -1"},
		{"splitting faces written as text", "POST", "/v1/persons/4242/split", ts.tokens["reviewer"], "application/json", []byte(`{"face_ids":"3,4"}`), 400, "face_ids"},
		{"splitting an unknown person", "POST", "/v1/persons/4242/split", ts.tokens["reviewer"], "application/json", []byte(`{"face_ids":[3]}`), 404, "person 4242"},
		{"superseding with a string", "POST", "/v1/persons/4242/merge", ts.tokens["reviewer"], "application/json", []byte(`{"person_id":2,"supersede":"yes"}`), 400, "supersede"},
		{"confirming an unknown person", "POST", "/v1/persons/4242/confirm", ts.tokens["reviewer"], "application/json", []byte(`{"note":"same tattoo"}`), 404, "person 4242"},
		{"a report on a bad person ID", "GET", "/v1/persons/p12/report", analyst, "", nil, 400, `id must be a positive integer, got "p12"`},
		{"a report on an unknown person", "GET", "/v1/persons/4242/report", analyst, "", nil, 404, "person 4242"},
		{"a report in an unknown format", "GET", "/v1/persons/4242/report?format=pdf", analyst, "", nil, 400, `format must be html or json, got "pdf"`},
		{"a report on a bad match ID", "GET", "/v1/matches/0/report", analyst, "", nil, 400, `id must be a positive integer, got "0"`},
		{"a report on an unknown match", "GET", "/v1/matches/4242/report?format=json", analyst, "", nil, 404, "match 4242"},
		{"a match report in an unknown format", "GET", "/v1/matches/4242/report?format=HTML", analyst, "", nil, 400, `format must be html or json, got "HTML"`},
		{"look-up of nothing", "GET", "/v1/lookup", analyst, "", nil, 422, "give exactly one of phone, username, url or ad_id (got 0)"},
		{"look-up of two things", "GET", "/v1/lookup?phone=0151234567&ad_id=7", analyst, "", nil, 422, "(got 2)"},
		{"look-up of a phone with letters", "GET", "/v1/lookup?phone=0151%20call%20me", analyst, "", nil, 422, "a phone number has only digits"},
		{"look-up of a site alone", "GET", "/v1/lookup?site=ads.example&ad_id=3", analyst, "", nil, 422, "site goes with a username"},
		{"retention without its field", "PUT", "/v1/settings/retention", admin, "application/json", []byte(`{}`), 400, "search_days is required"},
		{"retention negative", "PUT", "/v1/settings/retention", admin, "application/json", []byte(`{"search_days":-1}`), 422, "search_days must be in [0, 36500]"},
		{"retention not a number", "PUT", "/v1/settings/retention", admin, "application/json", []byte(`{"search_days":"30d"}`), 400, "search_days"},
		{"retention fractional", "PUT", "/v1/settings/retention", admin, "application/json", []byte(`{"search_days":1.5}`), 400, "search_days"},
		{"nothing to change", "PATCH", fmt.Sprintf("/v1/galleries/%d", g.ID), admin, "application/json", []byte(`{}`), 400, "nothing to change: give target_fpir or minors"},
		{"target FPIR of an unknown gallery", "PATCH", "/v1/galleries/999", admin, "application/json", []byte(`{"target_fpir":0.01}`), 404, "gallery 999"},
		{"send for review without a face", "POST", "/v1/searches/1/review", analyst, "application/json", []byte(`{"probe_face_id":1}`), 400, "probe_face_id and face_id are required"},
		{"send for review of an unknown search", "POST", "/v1/searches/999/review", analyst, "application/json", []byte(`{"probe_face_id":1,"face_id":1}`), 404, "search 999"},
		{"duplicate name", "POST", "/v1/galleries", admin, "application/json", []byte(`{"name":"ads","kind":"collection"}`), 409, "already exists"},
		{"unknown model", "POST", "/v1/galleries", admin, "application/json", []byte(`{"name":"y","kind":"collection","model":"magic"}`), 422, "unknown model"},
		{"subject in a collection", "POST", fmt.Sprintf("/v1/galleries/%d/subjects", g.ID), admin, "application/json", []byte(`{"name":"Bob"}`), 409, "reference galleries"},
		{"truncated image", "POST", upload, analyst, ct1, truncated, 400, "truncated"},
		{"not an image", "POST", upload, analyst, ct2, notImage, 415, "not an image: looks like a PDF"},
		{"pixel bomb header", "POST", upload, analyst, ct10, bomb, 413, "megapixels"},
		{"no image field", "POST", upload, analyst, ct3, noImageField, 400, `field "image" is missing`},
		{"not multipart", "POST", upload, analyst, "image/jpeg", photo, 415, "multipart/form-data"},
		{"no face", "POST", upload, analyst, ct4, noFaceBody, 422, "no face"},
		{"bad date", "POST", upload, analyst, ct5, badDate, 400, "posted_at must be RFC 3339"},
		{"body too large", "POST", upload, analyst, ct6, huge, 413, "limit"},
		{"search without purpose", "POST", "/v1/searches", analyst, ct7, search, 422, "purpose is required"},
		{"search with bad k", "POST", "/v1/searches", analyst, ct8, searchBadK, 400, "k must be a positive integer"},
		{"search with bad gallery id", "POST", "/v1/searches", analyst, ct9, searchBadGallery, 400, "galleries must be a positive integer"},
		{"bad cursor", "GET", "/v1/matches?cursor=xyz", analyst, "", nil, 400, "cursor must be"},
		{"bad status", "GET", "/v1/matches?status=maybe", analyst, "", nil, 400, "status must be"},
		{"bad order", "GET", "/v1/matches?order=random", analyst, "", nil, 400, "order must be oldest, newest, similarity or minors"},
		{"a possible-minor filter in words", "GET", "/v1/matches?possible_minor=yes", analyst, "", nil, 400, `possible_minor must be true or false, got "yes"`},
		{"a minors-first cursor of another order", "GET", "/v1/matches?order=minors&cursor=0.9_12", analyst, "", nil, 400, "cursor must be a next_cursor value"},
		{"id cursor in similarity order", "GET", "/v1/matches?order=similarity&cursor=12", analyst, "", nil, 400, "cursor must be a next_cursor value"},
		{"similarity out of range", "GET", "/v1/matches?min_similarity=2", analyst, "", nil, 400, "min_similarity must be a number in [-1, 1]"},
		{"bad reviewable", "GET", "/v1/matches?reviewable=maybe", analyst, "", nil, 400, "reviewable must be true or false"},
		{"bad job filter", "GET", "/v1/matches?job=x", analyst, "", nil, 400, "job must be a positive integer"},
		{"unknown match view", "GET", "/v1/matches/77/view", analyst, "", nil, 404, "match 77"},
		{"photos of an unknown gallery", "GET", "/v1/galleries/999/images", analyst, "", nil, 404, "gallery 999"},
		{"photo of an unknown search", "GET", "/v1/searches/999/photo", analyst, "", nil, 404, "search 999"},
		{"bad decision", "POST", "/v1/matches/1/decisions", ts.tokens["reviewer"], "application/json", []byte(`{"decision":"yes"}`), 422, "decision must be"},
		{"unknown match", "POST", "/v1/matches/77/decisions", ts.tokens["reviewer"], "application/json", []byte(`{"decision":"no_candidate"}`), 404, "match 77"},
		{"bad since", "GET", "/v1/audit?since=last-week", ts.tokens["auditor"], "", nil, 400, "since must be"},
		{"bad role", "POST", "/v1/tokens", admin, "application/json", []byte(`{"name":"x","role":"root"}`), 422, "role"},
	}
	for _, tc := range tests {
		resp, body := ts.do(t, tc.method, tc.path, tc.token, tc.ct, tc.body)
		var p Problem
		if err := json.Unmarshal(body, &p); err != nil || resp.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s: not a problem document: %d %q %s", tc.name, resp.StatusCode, resp.Header.Get("Content-Type"), body)
			continue
		}
		if resp.StatusCode != tc.status || p.Status != tc.status || !strings.Contains(p.Detail, tc.detail) {
			t.Errorf("%s: %d %q, want %d containing %q", tc.name, resp.StatusCode, p.Detail, tc.status, tc.detail)
		}
	}
	// Nothing was stored by any of them.
	resp, body = ts.do(t, "GET", fmt.Sprintf("/v1/galleries/%d", g.ID), admin, "", nil)
	json.Unmarshal(body, &g)
	if resp.StatusCode != 200 || g.Images != 0 {
		t.Fatalf("after refused uploads: %d %+v", resp.StatusCode, g)
	}
}

func TestOpenAPICoversEveryRoute(t *testing.T) {
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi version %q", doc.OpenAPI)
	}
	n := 0
	for _, ops := range doc.Paths {
		n += len(ops)
	}
	if n != len(Routes()) {
		t.Errorf("document has %d operations, the API %d routes", n, len(Routes()))
	}
	for _, r := range Routes() {
		op, ok := doc.Paths[openapiPath(r.Path)][strings.ToLower(r.Method)]
		if !ok {
			t.Errorf("%s %s missing from the document", r.Method, r.Path)
			continue
		}
		if !strings.Contains(string(op), `"summary"`) || strings.Contains(string(op), `"summary": ""`) {
			t.Errorf("%s %s has no summary", r.Method, r.Path)
		}
	}
}

// The real models, loaded by the first test that needs them (never in the quick tier).
var (
	realOnce    sync.Once
	realRuntime *models.Runtime
	realPipe    *engine.Pipeline
	realPipeErr error
)

func realPipeline(t *testing.T) *engine.Pipeline {
	t.Helper()
	testenv.RequireModels(t)
	realOnce.Do(func() {
		realRuntime, realPipeErr = models.Open(models.RuntimeConfig{Library: testenv.Library(), ModelDir: testenv.ModelDir(), Threads: 1})
		if realPipeErr != nil {
			return
		}
		det, err := realRuntime.Detector(face.YuNetS, models.DetectorConfig{})
		if err != nil {
			realPipeErr = err
			return
		}
		emb, err := realRuntime.Embedder(engine.DefaultRecognizer, models.RecognizerConfig{})
		realPipe, realPipeErr = &engine.Pipeline{Detector: det, Embedder: emb}, err
	})
	if realPipeErr != nil {
		t.Fatal(realPipeErr)
	}
	return realPipe
}

func TestMain(m *testing.M) {
	code := m.Run()
	if realRuntime != nil {
		realRuntime.Close()
	}
	os.Exit(code)
}

// TestRealModelsThroughTheAPI: on the real default models, a reference photo of a person and a
// search with another photo of them give one candidate in a calibrated band, and a photo without
// a face is a 422.
func TestRealModelsThroughTheAPI(t *testing.T) {
	ts := buildTestServerOn(t, realPipeline(t), nil, nil)
	analyst := ts.tokens["analyst"]
	photo := func(rel string) []byte {
		b, err := os.ReadFile(filepath.Join(testenv.Data(), rel))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	g := ts.createGallery(t, "wanted", engine.Reference)
	resp, body := ts.do(t, "POST", fmt.Sprintf("/v1/galleries/%d/subjects", g.ID), analyst, "application/json", []byte(`{"name":"Katy Perry"}`))
	var sub engine.Subject
	if resp.StatusCode != 201 || json.Unmarshal(body, &sub) != nil {
		t.Fatalf("create subject: %d %s", resp.StatusCode, body)
	}
	up, ct := multipartBody(t, photo("celebs/Katy_Perry/img26.jpg"), map[string]string{"subject_id": fmt.Sprint(sub.ID)})
	if resp, body := ts.do(t, "POST", fmt.Sprintf("/v1/galleries/%d/images", g.ID), analyst, ct, up); resp.StatusCode != 201 {
		t.Fatalf("upload: %d %s", resp.StatusCode, body)
	}
	sb, ct := multipartBody(t, photo("celebs/Katy_Perry/img27.jpg"), map[string]string{"galleries": fmt.Sprint(g.ID), "purpose": "ad 4711"})
	resp, body = ts.do(t, "POST", "/v1/searches", analyst, ct, sb)
	var res engine.SearchResult
	if resp.StatusCode != 201 || json.Unmarshal(body, &res) != nil || len(res.Faces) != 1 || len(res.Faces[0].Candidates) != 1 {
		t.Fatalf("search: %d %s", resp.StatusCode, body)
	}
	if c := res.Faces[0].Candidates[0]; c.SubjectID == nil || *c.SubjectID != sub.ID || (c.Band != "high" && c.Band != "medium") {
		t.Errorf("candidate %+v, want Katy Perry in the medium or high band", c)
	}
	noFace, ct := multipartBody(t, photo("no_face/mate_Garden.jpg"), map[string]string{"subject_id": fmt.Sprint(sub.ID)})
	if resp, body := ts.do(t, "POST", fmt.Sprintf("/v1/galleries/%d/images", g.ID), analyst, ct, noFace); resp.StatusCode != 422 || !bytes.Contains(body, []byte("no face")) {
		t.Errorf("a photo without a face: %d %s, want 422 no face", resp.StatusCode, body)
	}
}
