package api

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/facematch/facematch/engine"
	"github.com/facematch/facematch/face/facetest"
)

// getJSON GETs path as token, expects 200 and decodes the answer into out.
func (ts *testServer) getJSON(t *testing.T, path, token string, out any) {
	t.Helper()
	resp, body := ts.do(t, "GET", path, token, "", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, out); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

// katy and elon are the fake persons (face/facetest) the tests enrol as "Katy Perry" and "Elon
// Musk"; a photo's variant plays the part of another photo of them.
const (
	katy = 1
	elon = 2
)

// What the review page reads: the queue by case and similarity, the match view as each role
// sees it, the probe photo (audited) and a subject's photos.
func TestReviewThroughTheAPI(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	analyst, reviewer := ts.tokens["analyst"], ts.tokens["reviewer"]
	g := ts.createGallery(t, "wanted", engine.Reference)
	resp, body := ts.do(t, "POST", fmt.Sprintf("/v1/galleries/%d/subjects", g.ID), analyst, "application/json", []byte(`{"name":"Katy Perry","external_ref":"N-7"}`))
	var sub engine.Subject
	if resp.StatusCode != 201 || json.Unmarshal(body, &sub) != nil {
		t.Fatalf("create subject: %d %s", resp.StatusCode, body)
	}
	up, ct := multipartBody(t, facetest.Photo(katy, 26), map[string]string{"subject_id": fmt.Sprint(sub.ID)})
	if resp, body := ts.do(t, "POST", fmt.Sprintf("/v1/galleries/%d/images", g.ID), analyst, ct, up); resp.StatusCode != 201 {
		t.Fatalf("upload: %d %s", resp.StatusCode, body)
	}
	probe := facetest.PhotoJPEG(katy, 27)
	sb, ct := multipartBody(t, probe, map[string]string{"galleries": fmt.Sprint(g.ID), "purpose": "ad 4711", "case_ref": "OP-1",
		"site": "ads.example", "usernames": "kitty, kat", "phones": "+49 151 2345 6789"})
	resp, body = ts.do(t, "POST", "/v1/searches", analyst, ct, sb)
	var res engine.SearchResult
	if resp.StatusCode != 201 || json.Unmarshal(body, &res) != nil || len(res.Faces) != 1 || len(res.Faces[0].Candidates) != 1 {
		t.Fatalf("search: %d %s", resp.StatusCode, body)
	}
	matchID := res.Faces[0].Candidates[0].MatchID

	var queue matchPage
	ts.getJSON(t, "/v1/matches?case=OP-1&order=similarity&reviewable=true&status=pending", reviewer, &queue)
	if queue.Total != 1 || len(queue.Items) != 1 || queue.Items[0].ID != matchID {
		t.Fatalf("queue of case OP-1: %+v", queue)
	}
	if m := queue.Items[0]; m.CaseRef != "OP-1" || m.SubjectName != "Katy Perry" || m.Band == "" || m.Band == "low" {
		t.Errorf("queue item: case %q, subject %q, band %q", m.CaseRef, m.SubjectName, m.Band)
	}
	ts.getJSON(t, "/v1/matches?case=OP-2", reviewer, &queue)
	if queue.Total != 0 || len(queue.Items) != 0 {
		t.Errorf("queue of another case: %+v", queue)
	}

	var v engine.MatchView
	ts.getJSON(t, fmt.Sprintf("/v1/matches/%d/view", matchID), reviewer, &v)
	if !v.CanDecide || v.CannotDecide != "" {
		t.Errorf("reviewer: can_decide %v (%s)", v.CanDecide, v.CannotDecide)
	}
	if v.Candidate.Subject == nil || v.Candidate.Subject.ExternalRef != "N-7" || v.Candidate.Gallery.ID != g.ID || v.Candidate.Face.ID != v.Match.FaceID {
		t.Errorf("candidate side: %+v", v.Candidate)
	}
	src := v.Probe.Source
	if src.CaseRef != "OP-1" || src.Site != "ads.example" || strings.Join(src.Usernames, ",") != "kitty,kat" || strings.Join(src.Phones, ",") != "+4915123456789" {
		t.Errorf("probe source: %+v", src)
	}
	if v.Search.Purpose != "ad 4711" || v.Band.Name != v.Match.Band || v.Band.Meaning == "" || v.ReviewersRequired != 2 || v.Probe.Image != nil {
		t.Errorf("view: search %+v, band %+v, reviewers %d", v.Search, v.Band, v.ReviewersRequired)
	}
	ts.getJSON(t, fmt.Sprintf("/v1/matches/%d/view", matchID), analyst, &v)
	if v.CanDecide || !strings.Contains(v.CannotDecide, "analyst role") {
		t.Errorf("analyst: can_decide %v (%s)", v.CanDecide, v.CannotDecide)
	}
	if resp, body := ts.do(t, "POST", fmt.Sprintf("/v1/matches/%d/decisions", matchID), reviewer, "application/json", []byte(`{"decision":"inconclusive"}`)); resp.StatusCode != 200 {
		t.Fatalf("decide: %d %s", resp.StatusCode, body)
	}
	ts.getJSON(t, fmt.Sprintf("/v1/matches/%d/view", matchID), reviewer, &v)
	if v.CanDecide || !strings.Contains(v.CannotDecide, "already decided") || len(v.Match.Decisions) != 1 {
		t.Errorf("after deciding: can_decide %v (%s), %d decisions", v.CanDecide, v.CannotDecide, len(v.Match.Decisions))
	}
	ts.getJSON(t, "/v1/matches?case=OP-1&reviewable=true", reviewer, &queue)
	if queue.Total != 0 {
		t.Errorf("a decided match stays in the reviewer's queue: %+v", queue)
	}

	// The probe photo comes back as uploaded, and the look is audited.
	resp, body = ts.do(t, "GET", fmt.Sprintf("/v1/searches/%d/photo", res.Search.ID), reviewer, "", nil)
	if resp.StatusCode != 200 || !bytes.Equal(body, probe) || resp.Header.Get("Content-Type") != "image/jpeg" {
		t.Fatalf("probe photo: %d %s, %d bytes", resp.StatusCode, resp.Header.Get("Content-Type"), len(body))
	}
	es, err := ts.svc.AuditEntries(ctx, engine.Actor{Name: "test", Role: engine.RoleAuditor}, engine.AuditFilter{Action: "search.photo.view", Limit: 10})
	if err != nil || len(es) != 1 || es[0].Actor != string(engine.RoleReviewer) || es[0].Target != fmt.Sprintf("search:%d", res.Search.ID) {
		t.Errorf("audit of the probe photo: %+v, %v", es, err)
	}

	var photos page[engine.ImageFaces]
	ts.getJSON(t, fmt.Sprintf("/v1/galleries/%d/images?subject=%d", g.ID, sub.ID), reviewer, &photos)
	if len(photos.Items) != 1 || len(photos.Items[0].Faces) != 1 || *photos.Items[0].Image.SubjectID != sub.ID || photos.NextCursor != "" {
		t.Errorf("subject's photos: %+v", photos)
	}
	ts.getJSON(t, fmt.Sprintf("/v1/galleries/%d/images?subject=%d", g.ID, sub.ID+100), reviewer, &photos)
	if len(photos.Items) != 0 {
		t.Errorf("another subject's photos: %+v", photos)
	}
}

// TestAuditNewestFirst: the audit log reads newest first, pages downwards with next_cursor,
// reads oldest first on request, and refuses an unknown order.
func TestAuditNewestFirst(t *testing.T) {
	ts := newTestServer(t)
	for i := range 3 {
		ts.createGallery(t, fmt.Sprintf("g%d", i), engine.Collection)
	}
	type entries = page[engine.AuditEntry]
	var newest, next, oldest entries
	ts.getJSON(t, "/v1/audit?action=gallery.create&limit=2", ts.tokens["auditor"], &newest)
	if len(newest.Items) != 2 || newest.Items[0].ID <= newest.Items[1].ID || newest.NextCursor == "" {
		t.Fatalf("first page: %+v", newest)
	}
	ts.getJSON(t, "/v1/audit?action=gallery.create&limit=2&cursor="+newest.NextCursor, ts.tokens["auditor"], &next)
	if len(next.Items) != 1 || next.Items[0].ID >= newest.Items[1].ID {
		t.Fatalf("second page: %+v", next)
	}
	ts.getJSON(t, "/v1/audit?action=gallery.create&order=oldest", ts.tokens["auditor"], &oldest)
	if len(oldest.Items) != 3 || oldest.Items[0].ID != next.Items[0].ID || oldest.Items[2].ID != newest.Items[0].ID {
		t.Fatalf("oldest first: %+v", oldest)
	}
	if resp, body := ts.do(t, "GET", "/v1/audit?order=random", ts.tokens["auditor"], "", nil); resp.StatusCode != 400 || !strings.Contains(string(body), "order must be newest (the default) or oldest") {
		t.Errorf("unknown order: %d %s", resp.StatusCode, body)
	}
}

// TestRefusedSearchesAreAudited: a search refused for its input, by the API (not multipart, a
// malformed field) or by the engine (not a photo, no face, no purpose, a gallery unknown), is
// in the audit log with the photo's hash and the reason.
func TestRefusedSearchesAreAudited(t *testing.T) {
	ts := newTestServer(t)
	g := ts.createGallery(t, "wanted", engine.Reference)
	analyst := ts.tokens["analyst"]
	gid := fmt.Sprint(g.ID)
	type refusal struct {
		name, ct string
		body     []byte
		status   int
		reason   string
	}
	var cases []refusal
	add := func(name string, status int, reason string, photo []byte, fields map[string]string) {
		b, ct := multipartBody(t, photo, fields)
		cases = append(cases, refusal{name, ct, b, status, reason})
	}
	add("not a photo", 415, "not an image", []byte("%PDF-1.4 not a photo"), map[string]string{"galleries": gid, "purpose": "ad 1"})
	add("no face", 422, "no face", facetest.Group(1, 0), map[string]string{"galleries": gid, "purpose": "ad 2"})
	add("no purpose", 422, "purpose is required", facetest.Photo(katy, 1), map[string]string{"galleries": gid})
	add("unknown gallery", 404, "gallery 999", facetest.Photo(katy, 1), map[string]string{"galleries": "999", "purpose": "ad 3"})
	add("bad k", 400, "k must be a positive integer", facetest.Photo(katy, 1), map[string]string{"galleries": gid, "purpose": "ad 4", "k": "lots"})
	cases = append(cases, refusal{"not multipart", "image/jpeg", facetest.PhotoJPEG(katy, 1), 415, "multipart/form-data"})
	for _, tc := range cases {
		if resp, body := ts.do(t, "POST", "/v1/searches", analyst, tc.ct, tc.body); resp.StatusCode != tc.status {
			t.Fatalf("%s: %d %s, want %d", tc.name, resp.StatusCode, body, tc.status)
		}
	}
	es := ts.auditOf(t, "search.refused")
	if len(es) != len(cases) {
		t.Fatalf("%d search.refused entries for %d refused searches: %+v", len(es), len(cases), es)
	}
	for i, tc := range cases {
		e := es[i]
		if e.Actor != "analyst" || !strings.Contains(e.Result, tc.reason) {
			t.Errorf("%s: entry %+v, want the analyst and %q", tc.name, e, tc.reason)
		}
		if tc.name != "not multipart" && !strings.HasPrefix(e.Input, "sha256=") {
			t.Errorf("%s: input %q, want the photo's hash", tc.name, e.Input)
		}
	}
}

// TestAuditorOpensWhatTheLogNames: the auditor reads, read-only, the search, match, photo and
// subject an audit row points to; each opening is itself audited, and the auditor cannot decide.
func TestAuditorOpensWhatTheLogNames(t *testing.T) {
	ts := newTestServer(t)
	analyst, auditor := ts.tokens["analyst"], ts.tokens["auditor"]
	g := ts.createGallery(t, "wanted", engine.Reference)
	resp, body := ts.do(t, "POST", fmt.Sprintf("/v1/galleries/%d/subjects", g.ID), analyst, "application/json", []byte(`{"name":"Katy Perry"}`))
	var sub engine.Subject
	if resp.StatusCode != 201 || json.Unmarshal(body, &sub) != nil {
		t.Fatalf("create subject: %d %s", resp.StatusCode, body)
	}
	up, ct := multipartBody(t, facetest.Photo(katy, 1), map[string]string{"subject_id": fmt.Sprint(sub.ID)})
	var e engine.Enrolled
	if resp, body := ts.do(t, "POST", fmt.Sprintf("/v1/galleries/%d/images", g.ID), analyst, ct, up); resp.StatusCode != 201 || json.Unmarshal(body, &e) != nil {
		t.Fatalf("upload: %d %s", resp.StatusCode, body)
	}
	sb, ct := multipartBody(t, facetest.Photo(katy, 2), map[string]string{"galleries": fmt.Sprint(g.ID), "purpose": "ad 9"})
	var res engine.SearchResult
	if resp, body := ts.do(t, "POST", "/v1/searches", analyst, ct, sb); resp.StatusCode != 201 || json.Unmarshal(body, &res) != nil || len(res.Faces) != 1 {
		t.Fatalf("search: %d %s", resp.StatusCode, body)
	}
	matchID := res.Faces[0].Candidates[0].MatchID

	// A reviewer's reading of the records is not audited; the auditor's is.
	ts.getJSON(t, fmt.Sprintf("/v1/matches/%d", matchID), ts.tokens["reviewer"], new(engine.Match))
	opened := map[string]string{
		"search.read":  fmt.Sprintf("/v1/searches/%d", res.Search.ID),
		"match.read":   fmt.Sprintf("/v1/matches/%d", matchID),
		"match.view":   fmt.Sprintf("/v1/matches/%d/view", matchID),
		"image.read":   fmt.Sprintf("/v1/images/%d/faces", e.Image.ID),
		"image.view":   fmt.Sprintf("/v1/images/%d", e.Image.ID),
		"subject.read": fmt.Sprintf("/v1/subjects/%d", sub.ID),
		"images.read":  fmt.Sprintf("/v1/galleries/%d/images", g.ID),
	}
	for action, path := range opened {
		if resp, body := ts.do(t, "GET", path, auditor, "", nil); resp.StatusCode != 200 {
			t.Fatalf("auditor opening %s: %d %s", path, resp.StatusCode, body)
		}
		es := ts.auditOf(t, action)
		if len(es) != 1 || es[0].Actor != "auditor" {
			t.Errorf("%s: entries %+v, want one by the auditor", action, es)
		}
	}
	var v engine.MatchView
	ts.getJSON(t, fmt.Sprintf("/v1/matches/%d/view", matchID), auditor, &v)
	if v.CanDecide || !strings.Contains(v.CannotDecide, "auditor role") {
		t.Errorf("auditor: can_decide %v (%s)", v.CanDecide, v.CannotDecide)
	}
	if resp, _ := ts.do(t, "POST", fmt.Sprintf("/v1/matches/%d/decisions", matchID), auditor, "application/json", []byte(`{"decision":"no_candidate"}`)); resp.StatusCode != 403 {
		t.Errorf("auditor deciding: %d, want 403", resp.StatusCode)
	}
}

// TestAuditExport: an auditor exports a filtered range as JSON or CSV, every field kept; a
// spreadsheet would not run a user's text as a formula; the export is audited.
func TestAuditExport(t *testing.T) {
	ts := newTestServer(t)
	ts.createGallery(t, "=HYPERLINK(\"http://x\")", engine.Collection)
	ts.createGallery(t, "ads", engine.Collection)
	auditor := ts.tokens["auditor"]

	resp, body := ts.do(t, "GET", "/v1/audit/export?action=gallery.create", auditor, "", nil)
	var all []engine.AuditEntry
	if resp.StatusCode != 200 || json.Unmarshal(body, &all) != nil || len(all) != 2 || all[0].ID >= all[1].ID || all[0].Hash == "" {
		t.Fatalf("JSON export: %d %s", resp.StatusCode, body)
	}
	if cd := resp.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment; filename=\"facematch-audit-") {
		t.Errorf("Content-Disposition %q", cd)
	}

	resp, body = ts.do(t, "GET", "/v1/audit/export?format=csv&action=gallery.create", auditor, "", nil)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") {
		t.Fatalf("CSV export: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	rows, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
	if err != nil || len(rows) != 3 || rows[0][0] != "id" || rows[1][0] != fmt.Sprint(all[0].ID) || rows[2][11] != all[1].Hash {
		t.Fatalf("CSV rows: %q, %v", rows, err)
	}
	if !strings.Contains(rows[1][6], "HYPERLINK") || strings.HasPrefix(rows[1][6], "=") {
		t.Errorf("a name that is a formula reads %q in the CSV, want it defused", rows[1][6])
	}

	// A range: until before the first gallery leaves none of them.
	resp, body = ts.do(t, "GET", "/v1/audit/export?action=gallery.create&until="+all[0].At.Add(-time.Second).Format(time.RFC3339), auditor, "", nil)
	var none []engine.AuditEntry
	if resp.StatusCode != 200 || json.Unmarshal(body, &none) != nil || len(none) != 0 {
		t.Errorf("empty range: %d %q", resp.StatusCode, body)
	}
	for _, q := range []string{"format=xml", "since=yesterday", "since=2026-02-01&until=2026-01-01"} {
		if resp, body := ts.do(t, "GET", "/v1/audit/export?"+q, auditor, "", nil); resp.StatusCode/100 != 4 {
			t.Errorf("%s: %d %s, want a 4xx", q, resp.StatusCode, body)
		}
	}
	if es := ts.auditOf(t, "audit.export"); len(es) != 3 {
		t.Errorf("%d audit.export entries, want one per export", len(es))
	}
}

// TestDecideClosingOthers: close_others with a potential candidate closes the probe face's other
// candidates in the same request; with any other decision it is a client error.
func TestDecideClosingOthers(t *testing.T) {
	ts := newTestServer(t)
	analyst, reviewer := ts.tokens["analyst"], ts.tokens["reviewer"]
	g := ts.createGallery(t, "wanted", engine.Reference)
	for _, person := range []int{katy, elon, 300} {
		resp, body := ts.do(t, "POST", fmt.Sprintf("/v1/galleries/%d/subjects", g.ID), analyst, "application/json", []byte(fmt.Sprintf(`{"name":"person %d"}`, person)))
		var sub engine.Subject
		if resp.StatusCode != 201 || json.Unmarshal(body, &sub) != nil {
			t.Fatalf("create subject: %d %s", resp.StatusCode, body)
		}
		up, ct := multipartBody(t, facetest.Photo(person, 1), map[string]string{"subject_id": fmt.Sprint(sub.ID)})
		if resp, body := ts.do(t, "POST", fmt.Sprintf("/v1/galleries/%d/images", g.ID), analyst, ct, up); resp.StatusCode != 201 {
			t.Fatalf("upload: %d %s", resp.StatusCode, body)
		}
	}
	sb, ct := multipartBody(t, facetest.Photo(katy, 2), map[string]string{"galleries": fmt.Sprint(g.ID), "purpose": "ad", "min_similarity": "-1"})
	var res engine.SearchResult
	if resp, body := ts.do(t, "POST", "/v1/searches", analyst, ct, sb); resp.StatusCode != 201 || json.Unmarshal(body, &res) != nil || len(res.Faces[0].Candidates) != 3 {
		t.Fatalf("search: %d %s", resp.StatusCode, body)
	}
	cands := res.Faces[0].Candidates
	// Katy is above the gallery's threshold, a review item; the analyst sends the two strangers
	// below it for review too.
	if cands[0].MatchID == 0 || cands[1].MatchID != 0 || cands[2].MatchID != 0 {
		t.Fatalf("review items: %+v, want the first candidate only", cands)
	}
	for i := 1; i < 3; i++ {
		body := fmt.Sprintf(`{"probe_face_id":%d,"face_id":%d}`, cands[i].ProbeFaceID, cands[i].FaceID)
		resp, out := ts.do(t, "POST", fmt.Sprintf("/v1/searches/%d/review", res.Search.ID), analyst, "application/json", []byte(body))
		var sent engine.SearchCandidate
		if resp.StatusCode != 201 || json.Unmarshal(out, &sent) != nil || sent.MatchID == 0 || sent.Status != engine.Pending {
			t.Fatalf("send for review: %d %s", resp.StatusCode, out)
		}
		cands[i].MatchID = sent.MatchID
		if resp, out := ts.do(t, "POST", fmt.Sprintf("/v1/searches/%d/review", res.Search.ID), analyst, "application/json", []byte(body)); resp.StatusCode != 200 {
			t.Fatalf("sending it again: %d %s, want 200 (already an item)", resp.StatusCode, out)
		}
	}
	path := fmt.Sprintf("/v1/matches/%d/decisions", cands[0].MatchID)
	if resp, body := ts.do(t, "POST", path, reviewer, "application/json", []byte(`{"decision":"no_candidate","close_others":true}`)); resp.StatusCode != 400 || !strings.Contains(string(body), "close_others goes with a potential_candidate") {
		t.Errorf("close_others with no_candidate: %d %s", resp.StatusCode, body)
	}
	resp, body := ts.do(t, "POST", path, reviewer, "application/json", []byte(`{"decision":"potential_candidate","note":"same ear","close_others":true}`))
	var out struct {
		engine.Match
		ClosedOthers []int64 `json:"closed_others"`
	}
	if resp.StatusCode != 200 || json.Unmarshal(body, &out) != nil || out.ID != cands[0].MatchID || !slices.Equal(out.ClosedOthers, []int64{cands[1].MatchID, cands[2].MatchID}) {
		t.Fatalf("potential candidate closing the others: %d %s", resp.StatusCode, body)
	}
}
