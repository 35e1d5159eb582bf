package api

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/facematch/facematch/engine"
	"github.com/facematch/facematch/face/facetest"
)

type issued struct {
	engine.Token
	Secret string `json:"secret"`
}

// createCredential creates a credential as the admin and expects want.
func (ts *testServer) createCredential(t *testing.T, want int, body string) issued {
	t.Helper()
	resp, data := ts.do(t, "POST", "/v1/tokens", ts.tokens["admin"], "application/json", []byte(body))
	if resp.StatusCode != want {
		t.Fatalf("POST /v1/tokens %s: %d %s, want %d", body, resp.StatusCode, data, want)
	}
	var out issued
	if want == 201 {
		if err := json.Unmarshal(data, &out); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// Credentials expire, rotate and record their last use (issue 12, hardening).
func TestCredentialLifecycle(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	ann := ts.createCredential(t, 201, `{"name":"ann-laptop","user":"ann","role":"analyst"}`)
	if ann.User != "ann" || ann.ExpiresAt == nil || ann.ExpiresAt.Before(time.Now().Add(engine.DefaultCredentialLifetime-time.Hour)) {
		t.Fatalf("new credential %+v: want user ann and an expiry %v from now", ann.Token, engine.DefaultCredentialLifetime)
	}
	if resp, body := ts.do(t, "GET", "/v1/me", ann.Secret, "", nil); resp.StatusCode != 200 {
		t.Fatalf("GET /v1/me: %d %s", resp.StatusCode, body)
	}
	got, err := ts.cat.Token(ctx, ann.ID)
	if err != nil || got.LastUsedAt == nil {
		t.Fatalf("after a request the credential's last use is %v (%v)", got.LastUsedAt, err)
	}

	// Rotating one's own credential: the new secret works, the old one no longer.
	resp, body := ts.do(t, "POST", "/v1/me/rotate", ann.Secret, "", nil)
	var rotated issued
	if resp.StatusCode != 200 || json.Unmarshal(body, &rotated) != nil || rotated.Secret == "" || rotated.Secret == ann.Secret || rotated.RotatedAt == nil {
		t.Fatalf("POST /v1/me/rotate: %d %s", resp.StatusCode, body)
	}
	if resp, _ := ts.do(t, "GET", "/v1/me", ann.Secret, "", nil); resp.StatusCode != 401 {
		t.Fatalf("the old secret after rotation: %d, want 401", resp.StatusCode)
	}
	if resp, _ := ts.do(t, "GET", "/v1/me", rotated.Secret, "", nil); resp.StatusCode != 200 {
		t.Fatalf("the new secret after rotation: %d, want 200", resp.StatusCode)
	}

	// An expired credential is refused with a message that says so; an admin rotation renews it.
	if _, err := ts.cat.RotateToken(ctx, ann.ID, engine.HashSecret(rotated.Secret), time.Now(), time.Now().Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	resp, body = ts.do(t, "GET", "/v1/me", rotated.Secret, "", nil)
	if resp.StatusCode != 401 || !strings.Contains(string(body), "expired") {
		t.Fatalf("expired credential: %d %s, want 401 saying it expired", resp.StatusCode, body)
	}
	resp, body = ts.do(t, "POST", fmt.Sprintf("/v1/tokens/%d/rotate", ann.ID), ts.tokens["admin"], "", nil)
	var renewed issued
	if resp.StatusCode != 200 || json.Unmarshal(body, &renewed) != nil {
		t.Fatalf("admin rotation: %d %s", resp.StatusCode, body)
	}
	if resp, _ := ts.do(t, "GET", "/v1/me", renewed.Secret, "", nil); resp.StatusCode != 200 {
		t.Fatalf("the renewed secret: %d, want 200", resp.StatusCode)
	}
	// Only admins rotate others' credentials; a revoked credential stays revoked.
	if resp, _ := ts.do(t, "POST", fmt.Sprintf("/v1/tokens/%d/rotate", ann.ID), ts.tokens["analyst"], "", nil); resp.StatusCode != 403 {
		t.Fatalf("an analyst rotating another credential: %d, want 403", resp.StatusCode)
	}
	if resp, body := ts.do(t, "DELETE", fmt.Sprintf("/v1/tokens/%d", ann.ID), ts.tokens["admin"], "", nil); resp.StatusCode != 200 {
		t.Fatalf("revoke: %d %s", resp.StatusCode, body)
	}
	if resp, body := ts.do(t, "POST", fmt.Sprintf("/v1/tokens/%d/rotate", ann.ID), ts.tokens["admin"], "", nil); resp.StatusCode != 409 {
		t.Fatalf("rotating a revoked credential: %d %s, want 409", resp.StatusCode, body)
	}

	var audit struct {
		Items []engine.AuditEntry `json:"items"`
	}
	ts.getJSON(t, "/v1/audit?action=credential.rotate", ts.tokens["auditor"], &audit)
	if len(audit.Items) != 2 {
		t.Fatalf("credential.rotate entries: %+v, want 2", audit.Items)
	}
}

// The two-reviewer rule counts people: one person holds one reviewer credential at a time, and
// whoever searched cannot decide the matches under any of their credentials (issue 12).
func TestTwoReviewerRuleBindsPeople(t *testing.T) {
	ts := newTestServer(t)
	ts.createCredential(t, 201, `{"name":"alice-desk","user":"alice","role":"reviewer"}`)
	ts.createCredential(t, 409, `{"name":"alice-laptop","user":"alice","role":"reviewer"}`)
	bobSearch := ts.createCredential(t, 201, `{"name":"bob-analyst","user":"bob","role":"analyst"}`)
	bobReview := ts.createCredential(t, 201, `{"name":"bob-reviewer","user":"bob","role":"reviewer"}`)

	g := ts.createGallery(t, "wanted", engine.Reference)
	resp, body := ts.do(t, "POST", fmt.Sprintf("/v1/galleries/%d/subjects", g.ID), bobSearch.Secret, "application/json", []byte(`{"name":"Katy Perry"}`))
	var sub engine.Subject
	if resp.StatusCode != 201 || json.Unmarshal(body, &sub) != nil {
		t.Fatalf("create subject: %d %s", resp.StatusCode, body)
	}
	up, ct := multipartBody(t, facetest.Photo(katy, 26), map[string]string{"subject_id": fmt.Sprint(sub.ID)})
	if resp, body := ts.do(t, "POST", fmt.Sprintf("/v1/galleries/%d/images", g.ID), bobSearch.Secret, ct, up); resp.StatusCode != 201 {
		t.Fatalf("upload: %d %s", resp.StatusCode, body)
	}
	sb, ct := multipartBody(t, facetest.Photo(katy, 27), map[string]string{"galleries": fmt.Sprint(g.ID), "purpose": "ad 4711"})
	resp, body = ts.do(t, "POST", "/v1/searches", bobSearch.Secret, ct, sb)
	var res engine.SearchResult
	if resp.StatusCode != 201 || json.Unmarshal(body, &res) != nil || len(res.Faces) == 0 || len(res.Faces[0].Candidates) == 0 {
		t.Fatalf("search: %d %s", resp.StatusCode, body)
	}
	match := res.Faces[0].Candidates[0].MatchID
	var view engine.MatchView
	ts.getJSON(t, fmt.Sprintf("/v1/matches/%d/view", match), bobReview.Secret, &view)
	if view.CanDecide || !strings.Contains(view.CannotDecide, "bob") {
		t.Fatalf("bob's reviewer credential on bob's search: can_decide %v (%q), want refused naming bob", view.CanDecide, view.CannotDecide)
	}
	resp, body = ts.do(t, "POST", fmt.Sprintf("/v1/matches/%d/decisions", match), bobReview.Secret, "application/json", []byte(`{"decision":"no_candidate"}`))
	if resp.StatusCode != 403 {
		t.Fatalf("bob deciding his own search's match: %d %s, want 403", resp.StatusCode, body)
	}
	var queue struct {
		Items []engine.Match `json:"items"`
	}
	ts.getJSON(t, "/v1/matches?reviewable=true", bobReview.Secret, &queue)
	if len(queue.Items) != 0 {
		t.Fatalf("bob's reviewable queue holds his own search's matches: %+v", queue.Items)
	}
}

// A credential granted some galleries reads and acts on those only: galleries, subjects, photos,
// thumbnails, searches, matches (issue 12, hardening). Thumbnails and match views are audited.
func TestGalleryScope(t *testing.T) {
	ts := newTestServer(t)
	admin, analyst := ts.tokens["admin"], ts.tokens["analyst"]
	mk := func(name string) engine.Gallery {
		resp, body := ts.do(t, "POST", "/v1/galleries", admin, "application/json", []byte(`{"name":"`+name+`","kind":"reference"}`))
		var g engine.Gallery
		if resp.StatusCode != 201 || json.Unmarshal(body, &g) != nil {
			t.Fatalf("create gallery: %d %s", resp.StatusCode, body)
		}
		return g
	}
	unitA, unitB := mk("unit A"), mk("unit B")
	enrol := func(g engine.Gallery, variant int) (engine.Subject, engine.Enrolled) {
		resp, body := ts.do(t, "POST", fmt.Sprintf("/v1/galleries/%d/subjects", g.ID), analyst, "application/json", []byte(`{"name":"Katy Perry"}`))
		var sub engine.Subject
		if resp.StatusCode != 201 || json.Unmarshal(body, &sub) != nil {
			t.Fatalf("create subject: %d %s", resp.StatusCode, body)
		}
		up, ct := multipartBody(t, facetest.Photo(katy, variant), map[string]string{"subject_id": fmt.Sprint(sub.ID)})
		resp, body = ts.do(t, "POST", fmt.Sprintf("/v1/galleries/%d/images", g.ID), analyst, ct, up)
		var e engine.Enrolled
		if resp.StatusCode != 201 || json.Unmarshal(body, &e) != nil {
			t.Fatalf("upload: %d %s", resp.StatusCode, body)
		}
		return sub, e
	}
	_, inA := enrol(unitA, 26)
	subB, inB := enrol(unitB, 28)

	// An unscoped analyst searches both; each gallery gets a match.
	sb, ct := multipartBody(t, facetest.Photo(katy, 27), map[string]string{"galleries": fmt.Sprintf("%d,%d", unitA.ID, unitB.ID), "purpose": "ad 1"})
	resp, body := ts.do(t, "POST", "/v1/searches", analyst, ct, sb)
	var res engine.SearchResult
	if resp.StatusCode != 201 || json.Unmarshal(body, &res) != nil || len(res.Faces) == 0 || len(res.Faces[0].Candidates) != 2 {
		t.Fatalf("search: %d %s", resp.StatusCode, body)
	}
	matchIn := map[int64]int64{}
	for _, c := range res.Faces[0].Candidates {
		matchIn[c.GalleryID] = c.MatchID
	}
	sb, ct = multipartBody(t, facetest.Photo(katy, 42), map[string]string{"galleries": fmt.Sprint(unitB.ID), "purpose": "ad 2"})
	resp, body = ts.do(t, "POST", "/v1/searches", analyst, ct, sb)
	var onlyB engine.SearchResult
	if resp.StatusCode != 201 || json.Unmarshal(body, &onlyB) != nil || len(onlyB.Faces) == 0 {
		t.Fatalf("search of B: %d %s", resp.StatusCode, body)
	}

	ana := ts.createCredential(t, 201, fmt.Sprintf(`{"name":"a-analyst","role":"analyst","galleries":[%d]}`, unitA.ID))
	rev := ts.createCredential(t, 201, fmt.Sprintf(`{"name":"a-reviewer","role":"reviewer","galleries":[%d,%d]}`, unitA.ID, unitA.ID))
	if len(rev.Galleries) != 1 || rev.Galleries[0] != unitA.ID {
		t.Fatalf("scoped credential's galleries = %v, want [%d]", rev.Galleries, unitA.ID)
	}
	ts.createCredential(t, 422, fmt.Sprintf(`{"name":"a-admin","role":"admin","galleries":[%d]}`, unitA.ID))
	ts.createCredential(t, 422, `{"name":"nothing","role":"analyst","galleries":[]}`)
	ts.createCredential(t, 404, `{"name":"ghost","role":"analyst","galleries":[999999]}`)

	var list struct {
		Galleries []engine.Gallery `json:"galleries"`
	}
	ts.getJSON(t, "/v1/galleries", ana.Secret, &list)
	if len(list.Galleries) != 1 || list.Galleries[0].ID != unitA.ID {
		t.Fatalf("scoped gallery list = %+v, want unit A only", list.Galleries)
	}
	up, upCT := multipartBody(t, facetest.Photo(katy, 43), map[string]string{"subject_id": fmt.Sprint(subB.ID)})
	probeB := onlyB.Faces[0].Face.ID
	refused := []struct {
		method, path, token, contentType string
		body                             []byte
	}{
		{"GET", fmt.Sprintf("/v1/galleries/%d", unitB.ID), ana.Secret, "", nil},
		{"GET", fmt.Sprintf("/v1/galleries/%d/subjects", unitB.ID), ana.Secret, "", nil},
		{"GET", fmt.Sprintf("/v1/subjects/%d", subB.ID), ana.Secret, "", nil},
		{"POST", fmt.Sprintf("/v1/galleries/%d/subjects", unitB.ID), ana.Secret, "application/json", []byte(`{"name":"x"}`)},
		{"POST", fmt.Sprintf("/v1/galleries/%d/images", unitB.ID), ana.Secret, upCT, up},
		{"GET", fmt.Sprintf("/v1/galleries/%d/images", unitB.ID), rev.Secret, "", nil},
		{"GET", fmt.Sprintf("/v1/images/%d", inB.Image.ID), rev.Secret, "", nil},
		{"GET", fmt.Sprintf("/v1/images/%d/faces", inB.Image.ID), rev.Secret, "", nil},
		{"GET", fmt.Sprintf("/v1/faces/%d/thumbnail", inB.Faces[0].ID), rev.Secret, "", nil},
		{"GET", fmt.Sprintf("/v1/probe-faces/%d/thumbnail", probeB), rev.Secret, "", nil},
		{"GET", fmt.Sprintf("/v1/searches/%d", onlyB.Search.ID), rev.Secret, "", nil},
		{"GET", fmt.Sprintf("/v1/searches/%d/photo", onlyB.Search.ID), rev.Secret, "", nil},
		{"GET", fmt.Sprintf("/v1/matches/%d", matchIn[unitB.ID]), rev.Secret, "", nil},
		{"GET", fmt.Sprintf("/v1/matches/%d/view", matchIn[unitB.ID]), rev.Secret, "", nil},
		{"POST", fmt.Sprintf("/v1/matches/%d/decisions", matchIn[unitB.ID]), rev.Secret, "application/json", []byte(`{"decision":"no_candidate"}`)},
	}
	sbB, ctB := multipartBody(t, facetest.Photo(katy, 27), map[string]string{"galleries": fmt.Sprint(unitB.ID), "purpose": "ad 3"})
	refused = append(refused, struct {
		method, path, token, contentType string
		body                             []byte
	}{"POST", "/v1/searches", ana.Secret, ctB, sbB})
	for _, r := range refused {
		resp, body := ts.do(t, r.method, r.path, r.token, r.contentType, r.body)
		if resp.StatusCode != 403 || !strings.Contains(string(body), "not granted") {
			t.Errorf("%s %s out of scope: %d %s, want 403 not granted", r.method, r.path, resp.StatusCode, body)
		}
	}
	// In scope: the photo, thumbnails, the search, the match and its view, where the other
	// gallery's candidate is left out; the queue holds unit A's match only.
	for _, path := range []string{fmt.Sprintf("/v1/images/%d", inA.Image.ID), fmt.Sprintf("/v1/faces/%d/thumbnail", inA.Faces[0].ID),
		fmt.Sprintf("/v1/probe-faces/%d/thumbnail", res.Faces[0].Face.ID), fmt.Sprintf("/v1/searches/%d", res.Search.ID)} {
		if resp, body := ts.do(t, "GET", path, rev.Secret, "", nil); resp.StatusCode != 200 {
			t.Errorf("GET %s in scope: %d %s", path, resp.StatusCode, body)
		}
	}
	var view engine.MatchView
	ts.getJSON(t, fmt.Sprintf("/v1/matches/%d/view", matchIn[unitA.ID]), rev.Secret, &view)
	if len(view.Others) != 0 {
		t.Errorf("the view's other candidates include another gallery's: %+v", view.Others)
	}
	var queue struct {
		Items []engine.Match `json:"items"`
		Total int            `json:"total"`
	}
	ts.getJSON(t, "/v1/matches", rev.Secret, &queue)
	if queue.Total != 1 || len(queue.Items) != 1 || queue.Items[0].ID != matchIn[unitA.ID] {
		t.Fatalf("scoped queue = %d %+v, want unit A's match only", queue.Total, queue.Items)
	}
	// Widening the scope to all opens unit B.
	resp, body = ts.do(t, "PUT", fmt.Sprintf("/v1/tokens/%d/galleries", rev.ID), admin, "application/json", []byte(`{"galleries":null}`))
	if resp.StatusCode != 200 {
		t.Fatalf("scope to all: %d %s", resp.StatusCode, body)
	}
	if resp, body := ts.do(t, "GET", fmt.Sprintf("/v1/matches/%d", matchIn[unitB.ID]), rev.Secret, "", nil); resp.StatusCode != 200 {
		t.Fatalf("after widening: %d %s", resp.StatusCode, body)
	}

	var audit struct {
		Items []engine.AuditEntry `json:"items"`
	}
	for _, action := range []string{"face.thumbnail.view", "probe.thumbnail.view", "match.view", "credential.scope"} {
		ts.getJSON(t, "/v1/audit?action="+action, ts.tokens["auditor"], &audit)
		if len(audit.Items) == 0 {
			t.Errorf("no %s in the audit log", action)
		}
	}
}

// An admin may end a credential sooner than the lifetime (a temporary colleague), never later
// and never within the hour; the expiry given is the one stored and audited.
func TestCredentialExpiryGiven(t *testing.T) {
	ts := newTestServer(t)
	in := func(d time.Duration) string { return time.Now().Add(d).UTC().Format(time.RFC3339) }
	for _, tc := range []struct {
		name, expires string
		status        int
		detail        string
	}{
		{"not a time", "next week", 400, `expires_at must be RFC 3339`},
		{"in the past", in(-time.Hour), 422, "less than 1h0m0s from now"},
		{"within the hour", in(30 * time.Minute), 422, "less than 1h0m0s from now"},
		{"beyond the lifetime", in(engine.DefaultCredentialLifetime + 24*time.Hour), 422, "beyond the credential lifetime (2160h0m0s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body, _ := json.Marshal(map[string]string{"name": "temp-" + strings.ReplaceAll(tc.name, " ", "-"), "role": "reviewer", "expires_at": tc.expires})
			resp, data := ts.do(t, "POST", "/v1/tokens", ts.tokens["admin"], "application/json", body)
			checkProblem(t, tc.name, resp, data, tc.status, tc.detail)
		})
	}
	want := time.Now().Add(7 * 24 * time.Hour).UTC().Truncate(time.Second)
	temp := ts.createCredential(t, 201, fmt.Sprintf(`{"name":"temp","role":"reviewer","expires_at":%q}`, want.Format(time.RFC3339)))
	if temp.ExpiresAt == nil || !temp.ExpiresAt.Equal(want) {
		t.Errorf("expiry %v, want %v", temp.ExpiresAt, want)
	}
	es := ts.auditOf(t, "credential.create")
	if last := es[len(es)-1]; last.Result != "expires="+want.Format(time.RFC3339) {
		t.Errorf("audited %q, want the expiry given", last.Result)
	}
	// A date alone is its midnight (UTC).
	day := time.Now().Add(30 * 24 * time.Hour).UTC().Format("2006-01-02")
	dated := ts.createCredential(t, 201, fmt.Sprintf(`{"name":"dated","role":"analyst","expires_at":%q}`, day))
	if dated.ExpiresAt == nil || dated.ExpiresAt.UTC().Format(time.RFC3339) != day+"T00:00:00Z" {
		t.Errorf("expiry of a date: %v, want %s midnight UTC", dated.ExpiresAt, day)
	}
}
