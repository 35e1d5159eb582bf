package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/facematch/facematch/engine"
	"github.com/facematch/facematch/face/facetest"
)

// Input the API must refuse or bound before it reaches the catalog and the append-only audit
// log (issue 12: defects 6, 7, 10, 11, 12 and 13's chunked 413).

// auditOf returns the audit entries of action, oldest first.
func (ts *testServer) auditOf(t *testing.T, action string) []engine.AuditEntry {
	t.Helper()
	es, err := ts.svc.AuditEntries(context.Background(), engine.Actor{Name: "test", Role: engine.RoleAuditor},
		engine.AuditFilter{Action: action, Oldest: true, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return es
}

// doWith sends a request with extra headers.
func (ts *testServer) doWith(t *testing.T, method, path, token, contentType string, body io.Reader, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, ts.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp, data
}

// problem decodes a problem document and checks its status and that its detail contains want.
func checkProblem(t *testing.T, name string, resp *http.Response, body []byte, status int, want string) {
	t.Helper()
	var p Problem
	if err := json.Unmarshal(body, &p); err != nil {
		t.Errorf("%s: not a problem document: %d %s", name, resp.StatusCode, body)
		return
	}
	if resp.StatusCode != status || !strings.Contains(p.Detail, want) {
		t.Errorf("%s: %d %q, want %d containing %q", name, resp.StatusCode, p.Detail, status, want)
	}
}

// probeBlobs lists the blobs a search stored (probe photos and their face thumbnails).
func (ts *testServer) probeBlobs(t *testing.T) []string {
	t.Helper()
	var keys []string
	root := filepath.Join(ts.blobDir, "searches")
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			keys = append(keys, p)
		}
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return keys
}

// Defect 6: the request ID in the audit log is the server's own; a client's is kept apart
// only when short and well-formed.
func TestRequestIDIsTheServers(t *testing.T) {
	ts := newTestServer(t)
	huge := strings.Repeat("r", 1<<20-8<<10)
	resp, body := ts.doWith(t, "POST", "/v1/galleries", ts.tokens["admin"], "application/json",
		strings.NewReader(`{"name":"ads","kind":"collection"}`), map[string]string{"X-Request-ID": huge})
	if resp.StatusCode != 201 {
		t.Fatalf("create gallery: %d %s", resp.StatusCode, body)
	}
	// A refused request is audited too (a role without the right).
	ts.doWith(t, "POST", "/v1/galleries", ts.tokens["analyst"], "application/json",
		strings.NewReader(`{"name":"x","kind":"collection"}`), map[string]string{"X-Request-ID": huge})
	resp, _ = ts.doWith(t, "POST", "/v1/galleries", ts.tokens["admin"], "application/json",
		strings.NewReader(`{"name":"ads2","kind":"collection"}`), map[string]string{"X-Request-ID": "case-17.upload_3"})
	serverID := resp.Header.Get("X-Request-ID")
	if serverID == "" || serverID == "case-17.upload_3" {
		t.Errorf("answer's X-Request-ID %q: want the server's own", serverID)
	}
	if got := resp.Header.Get("X-Client-Request-ID"); got != "case-17.upload_3" {
		t.Errorf("answer's X-Client-Request-ID %q, want the client's echoed", got)
	}
	resp, _ = ts.doWith(t, "GET", "/v1/me", ts.tokens["admin"], "", nil, map[string]string{"X-Request-ID": "bad id with spaces"})
	if got := resp.Header.Get("X-Client-Request-ID"); got != "" {
		t.Errorf("a malformed client request ID is echoed: %q", got)
	}

	creates, denied := ts.auditOf(t, "gallery.create"), ts.auditOf(t, "access.denied")
	if len(creates) != 2 || len(denied) != 1 {
		t.Fatalf("audit: %d gallery.create, %d access.denied", len(creates), len(denied))
	}
	for _, e := range append(creates, denied...) {
		if len(e.RequestID) > 64 || len(e.RequestID) < 16 || strings.Contains(e.RequestID, "rrrr") {
			t.Errorf("%s: request ID of %d bytes stored (%.40q)", e.Action, len(e.RequestID), e.RequestID)
		}
		if len(e.ClientRequestID) > 64 {
			t.Errorf("%s: client request ID of %d bytes stored", e.Action, len(e.ClientRequestID))
		}
	}
	if e := creates[1]; e.RequestID != serverID || e.ClientRequestID != "case-17.upload_3" {
		t.Errorf("forged request ID: stored request_id %q client_request_id %q, want %q and the client's apart", e.RequestID, e.ClientRequestID, serverID)
	}
}

// Defects 6 and 7: a search's text is bounded, its gallery list deduplicated, its numbers
// finite, and nothing is stored (no probe photo either) for a refused one.
func TestSearchInputBounded(t *testing.T) {
	ts := newTestServer(t)
	analyst := ts.tokens["analyst"]
	g := ts.createGallery(t, "ads", engine.Collection)
	photo := facetest.Photo(katy, 26)
	gid := fmt.Sprint(g.ID)
	var names []string
	for i := range 60 {
		names = append(names, fmt.Sprintf("user%d", i))
	}
	manyNames := strings.Join(names, ",")
	tests := []struct {
		name   string
		fields map[string]string
		status int
		detail string
	}{
		{"NaN similarity", map[string]string{"galleries": gid, "purpose": "p", "min_similarity": "NaN"}, 400, "min_similarity must be a number in [-1, 1]"},
		{"infinite similarity", map[string]string{"galleries": gid, "purpose": "p", "min_similarity": "-Inf"}, 400, "min_similarity must be a number in [-1, 1]"},
		{"long purpose", map[string]string{"galleries": gid, "purpose": strings.Repeat("p", 100<<10)}, 422, "purpose is longer than"},
		{"purpose with a control character", map[string]string{"galleries": gid, "purpose": "case\x1b[2J 7"}, 422, "purpose contains a control character"},
		{"long case reference", map[string]string{"galleries": gid, "purpose": "p", "case_ref": strings.Repeat("c", 1000)}, 422, "case_ref is longer than"},
		{"long URL", map[string]string{"galleries": gid, "purpose": "p", "source_url": "https://x/" + strings.Repeat("u", 10000)}, 422, "source_url is longer than"},
		{"too many usernames", map[string]string{"galleries": gid, "purpose": "p", "usernames": manyNames}, 422, "usernames: more than 50 distinct values"},
		{"bad phone", map[string]string{"galleries": gid, "purpose": "p", "phones": "+49 151 2345 6789, abc"}, 422, `phones: "abc"`},
	}
	for _, tc := range tests {
		b, ct := multipartBody(t, photo, tc.fields)
		resp, body := ts.do(t, "POST", "/v1/searches", analyst, ct, b)
		checkProblem(t, tc.name, resp, body, tc.status, tc.detail)
	}
	if keys := ts.probeBlobs(t); len(keys) != 0 {
		t.Errorf("refused searches left %d probe blobs: %v", len(keys), keys)
	}
	if es := ts.auditOf(t, "search.create"); len(es) != 0 {
		t.Errorf("refused searches audited: %+v", es)
	}

	// A million copies of one gallery ID are one gallery.
	b, ct := multipartBody(t, photo, map[string]string{"galleries": strings.Repeat(gid+",", 1_000_000) + gid, "purpose": "duplicates",
		"phones": "+49 (0) 170-123 4567, ٠١٧٠١٢٣٤٥٦٧, ＋４９ １７０ １２３４５６７", "usernames": "kat, kat, kitty"})
	resp, body := ts.do(t, "POST", "/v1/searches", analyst, ct, b)
	var res engine.SearchResult
	if resp.StatusCode != 201 || json.Unmarshal(body, &res) != nil {
		t.Fatalf("search with duplicate galleries: %d %.300s", resp.StatusCode, body)
	}
	if len(res.Search.Galleries) != 1 {
		t.Errorf("search record keeps %d galleries", len(res.Search.Galleries))
	}
	if got := strings.Join(res.Search.Source.Phones, ","); got != "+491701234567,01701234567" {
		t.Errorf("phones stored as %q", got)
	}
	if got := strings.Join(res.Search.Source.Usernames, ","); got != "kat,kitty" {
		t.Errorf("usernames stored as %q", got)
	}
	if es := ts.auditOf(t, "search.create"); len(es) != 1 || len(es[0].Galleries) != 1 {
		t.Errorf("audit of the search: %d entries, galleries %d", len(es), len(es[0].Galleries))
	}
}

// Defect 7: every float the API reads is finite.
func TestNonFiniteNumbers(t *testing.T) {
	ts := newTestServer(t)
	reviewer := ts.tokens["reviewer"]
	for _, q := range []string{"min_similarity=NaN", "max_similarity=nan", "min_similarity=Inf", "max_similarity=-infinity",
		"order=similarity&cursor=NaN_12", "order=similarity&cursor=Inf_12"} {
		resp, body := ts.do(t, "GET", "/v1/matches?"+q, reviewer, "", nil)
		checkProblem(t, q, resp, body, 400, "must be")
	}
	resp, body := ts.do(t, "POST", "/v1/galleries", ts.tokens["admin"], "application/json", []byte(`{"name":"ads","kind":"collection"}`))
	var g engine.Gallery
	if resp.StatusCode != 201 || json.Unmarshal(body, &g) != nil {
		t.Fatalf("create gallery: %d %s", resp.StatusCode, body)
	}
	b, ct := jobFormBody(t, map[string]string{"kind": "ingest", "gallery_id": fmt.Sprint(g.ID), "purpose": "p", "min_similarity": "NaN"},
		map[string][]byte{"archive:a.zip": zipOf(t, map[string][]byte{"a.jpg": facetest.Photo(katy, 26)})})
	resp, body = ts.do(t, "POST", "/v1/jobs", ts.tokens["admin"], ct, b)
	checkProblem(t, "job min_similarity=NaN", resp, body, 400, "min_similarity must be a number in [-1, 1]")
}

// Defects 10 and 13: JSON bodies are decoded strictly, and a chunked body over the limit is
// 413 like a declared one.
func TestStrictJSON(t *testing.T) {
	ts := newTestServer(t)
	admin, reviewer := ts.tokens["admin"], ts.tokens["reviewer"]
	tests := []struct {
		name, path, token, body string
		status                  int
		detail                  string
	}{
		{"unknown field of a decision", "/v1/matches/77/decisions", reviewer, `{"decision":"no_candidate","notes":"she has a scar"}`, 400, `unknown field "notes"`},
		{"unknown field of a gallery", "/v1/galleries", admin, `{"name":"a","kind":"collection","owner":"me"}`, 400, `unknown field "owner"`},
		{"data after the object", "/v1/galleries", admin, `{"name":"a","kind":"collection"} {"name":"b"}`, 400, "after the JSON value"},
		{"not an object", "/v1/tokens", admin, `["x"]`, 400, "not valid JSON"},
	}
	for _, tc := range tests {
		resp, body := ts.do(t, "POST", tc.path, tc.token, "application/json", []byte(tc.body))
		checkProblem(t, tc.name, resp, body, tc.status, tc.detail)
	}
	// Chunked: no Content-Length, so only the reader's limit can catch it.
	big := io.MultiReader(strings.NewReader(`{"name":"`), strings.NewReader(strings.Repeat("a", 9<<20)), strings.NewReader(`","kind":"collection"}`))
	resp, body := ts.doWith(t, "POST", "/v1/galleries", admin, "application/json", big, nil)
	checkProblem(t, "chunked body over the limit", resp, body, 413, "limit")
	if gs, err := ts.svc.Galleries(context.Background(), engine.Actor{}); err != nil || len(gs) != 0 {
		t.Errorf("galleries after refused requests: %d, %v", len(gs), err)
	}
}

// Defect 12: names are normalised and refuse what could pass for another name.
func TestNamesValidated(t *testing.T) {
	ts := newTestServer(t)
	admin, analyst := ts.tokens["admin"], ts.tokens["analyst"]
	g := ts.createGallery(t, "wanted", engine.Reference)
	bad := map[string]string{
		"NUL":             "ads\x00",
		"ESC":             "ads\x1b[31m",
		"newline":         "ads\nfake line",
		"zero-width":      "reviewer1\u200b",
		"bidi override":   "\u202eevil",
		"BOM":             "\ufeffads",
		"no-break space":  "ads\u00a0x",
		"1 MB":            strings.Repeat("a", 1<<20),
		"only spaces":     "   ",
		"private use":     "ads\ue000",
		"variation sel.":  "ads\ufe0f",
		"invalid UTF-8":   "ads\xff",
		"combining alone": "\u0301ads",
	}
	for what, name := range bad {
		js, _ := json.Marshal(map[string]string{"name": name, "kind": "collection"})
		resp, body := ts.do(t, "POST", "/v1/galleries", admin, "application/json", js)
		checkProblem(t, "gallery name with "+what, resp, body, 422, "name")
		js, _ = json.Marshal(map[string]string{"name": name, "role": "reviewer"})
		resp, body = ts.do(t, "POST", "/v1/tokens", admin, "application/json", js)
		checkProblem(t, "credential name with "+what, resp, body, 422, "name")
		js, _ = json.Marshal(map[string]string{"name": name})
		resp, body = ts.do(t, "POST", fmt.Sprintf("/v1/galleries/%d/subjects", g.ID), analyst, "application/json", js)
		checkProblem(t, "subject name with "+what, resp, body, 422, "name")
	}
	// Look-alikes of an existing credential ("reviewer"), and names the service itself uses.
	for _, name := range []string{"Reviewer", "ｒｅｖｉｅｗｅｒ", "rеviewer" /* Cyrillic е */, "anonymous", "bootstrap", "cli:root"} {
		js, _ := json.Marshal(map[string]string{"name": name, "role": "reviewer"})
		resp, body := ts.do(t, "POST", "/v1/tokens", admin, "application/json", js)
		if resp.StatusCode != 409 && resp.StatusCode != 422 {
			t.Errorf("credential %q: %d %s, want refused", name, resp.StatusCode, body)
		}
	}
	// NFC: a decomposed é is stored composed, and spaces are trimmed and collapsed.
	js, _ := json.Marshal(map[string]string{"name": "  Ame\u0301lie   Dupont ", "notes": "line one\nline two\ttab", "external_ref": "N-7"})
	resp, body := ts.do(t, "POST", fmt.Sprintf("/v1/galleries/%d/subjects", g.ID), analyst, "application/json", js)
	var sub engine.Subject
	if resp.StatusCode != 201 || json.Unmarshal(body, &sub) != nil {
		t.Fatalf("create subject: %d %s", resp.StatusCode, body)
	}
	if sub.Name != "Amélie Dupont" || sub.Notes != "line one\nline two\ttab" {
		t.Errorf("subject stored as %q, notes %q", sub.Name, sub.Notes)
	}
	if es := ts.auditOf(t, "credential.create"); len(es) != 5 { // the fixture's
		t.Errorf("%d credentials created", len(es))
	}
}

// Hardening: every answer says nosniff; photos are attachments, never rendered by a browser
// on the API's origin.
func TestPhotosAreNotRendered(t *testing.T) {
	ts := newTestServer(t)
	admin, analyst := ts.tokens["admin"], ts.tokens["analyst"]
	resp, body := ts.do(t, "POST", "/v1/galleries", admin, "application/json", []byte(`{"name":"ads","kind":"collection"}`))
	var g engine.Gallery
	if resp.StatusCode != 201 || json.Unmarshal(body, &g) != nil {
		t.Fatalf("create gallery: %d %s", resp.StatusCode, body)
	}
	if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("JSON answer: X-Content-Type-Options %q", got)
	}
	b, ct := multipartBody(t, facetest.Photo(katy, 26), nil)
	resp, body = ts.do(t, "POST", fmt.Sprintf("/v1/galleries/%d/images", g.ID), analyst, ct, b)
	var e engine.Enrolled
	if resp.StatusCode != 201 || json.Unmarshal(body, &e) != nil || len(e.Faces) == 0 {
		t.Fatalf("upload: %d %s", resp.StatusCode, body)
	}
	for _, p := range []string{fmt.Sprintf("/v1/images/%d", e.Image.ID), fmt.Sprintf("/v1/faces/%d/thumbnail", e.Faces[0].ID), "/v1/nothing-here"} {
		resp, _ := ts.do(t, "GET", p, analyst, "", nil)
		if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("%s: %d, X-Content-Type-Options %q", p, resp.StatusCode, got)
		}
		if resp.StatusCode == 200 && !strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment; filename=") {
			t.Errorf("%s: Content-Disposition %q", p, resp.Header.Get("Content-Disposition"))
		}
	}
}

// Hardening: failed authentications are audited with the client's address (never the
// secret), at most once a window per address, and past the burst every try from the address
// is refused with 429 and Retry-After, a valid credential's too, until the bucket refills.
func TestFailedAuthenticationAuditedAndLimited(t *testing.T) {
	var logs strings.Builder
	var mu sync.Mutex
	ts := newTestServerWith(t, func(c *Config) {
		c.AuthLimit = AuthLimit{Burst: 3, Every: time.Hour}
		c.Logger = slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, nil))
	})
	const guess = "fm_not-a-credential-anyone-was-given"
	for i := 0; i < 3; i++ {
		resp, body := ts.do(t, "GET", "/v1/galleries", guess, "", nil)
		checkProblem(t, fmt.Sprintf("failure %d", i+1), resp, body, 401, "missing, unknown or revoked credential")
	}
	for _, token := range []string{guess, ts.tokens["analyst"]} {
		resp, body := ts.do(t, "GET", "/v1/galleries", token, "", nil)
		checkProblem(t, "past the burst", resp, body, 429, "too many failed authentications")
		if ra := resp.Header.Get("Retry-After"); ra == "" || ra == "0" {
			t.Errorf("429 without Retry-After: %q", ra)
		}
	}
	es := ts.auditOf(t, "auth.failed")
	if len(es) != 1 {
		t.Fatalf("%d auth.failed entries, want 1 (once a window per address): %+v", len(es), es)
	}
	e := es[0]
	if e.Actor != "anonymous" || !strings.Contains(e.Input, "address=127.0.0.1") || !strings.Contains(e.Input, `route="GET /v1/galleries"`) ||
		!strings.Contains(e.Input, "secret_sha256="+engine.HashSecret(guess)[:12]) || strings.Contains(e.Input, guess) || e.RequestID == "" {
		t.Errorf("auth.failed entry: %+v", e)
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(logs.String(), "client=127.0.0.1") {
		t.Errorf("request log without the client address:\n%s", logs.String())
	}

	// A revoked credential is audited under its own name; X-Forwarded-For from an untrusted
	// peer is not the client's address.
	ts = newTestServerWith(t, func(c *Config) { c.AuthLimit = AuthLimit{Burst: 3, Every: time.Hour} })
	resp, _ := ts.doWith(t, "GET", "/v1/galleries", ts.tokens["revoked"], "", nil, map[string]string{"X-Forwarded-For": "203.0.113.9"})
	if resp.StatusCode != 401 {
		t.Fatalf("revoked: %d", resp.StatusCode)
	}
	es = ts.auditOf(t, "auth.failed")
	if len(es) != 1 || es[0].Actor != "revoked" || es[0].Target == "" || !strings.Contains(es[0].Input, "address=127.0.0.1") || !strings.Contains(es[0].Input, "reason=revoked") {
		t.Errorf("revoked credential's failure: %+v", es)
	}

	// Behind a trusted proxy, the forwarded address is the client's. (Each tries its own secret:
	// one secret tried twice would be refused by its own bucket.)
	ts = newTestServerWith(t, func(c *Config) {
		c.AuthLimit = AuthLimit{Burst: 1, Every: time.Hour}
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	})
	for _, client := range []string{"203.0.113.9", "203.0.113.10"} {
		resp, _ := ts.doWith(t, "GET", "/v1/galleries", guess+client, "", nil, map[string]string{"X-Forwarded-For": client})
		if resp.StatusCode != 401 {
			t.Errorf("first failure from %s: %d, want 401 (its own bucket)", client, resp.StatusCode)
		}
	}
	es = ts.auditOf(t, "auth.failed")
	if len(es) != 2 || !strings.Contains(es[1].Input, "address=203.0.113.10") {
		t.Errorf("failures behind a proxy: %+v", es)
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
