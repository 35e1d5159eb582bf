package api

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/facematch/facematch/engine"
)

// PATCH /v1/subjects/{id}: bad IDs and bodies are refused with a precise detail before anything
// changes; an edit changes the fields given, answers the subject and is audited.
func TestPatchSubject(t *testing.T) {
	ts := newTestServer(t)
	g := ts.createGallery(t, "wanted", engine.Reference)
	js, _ := json.Marshal(map[string]string{"name": "Ada", "external_ref": "N-1", "notes": "seen in 2024"})
	resp, body := ts.do(t, "POST", fmt.Sprintf("/v1/galleries/%d/subjects", g.ID), ts.tokens["analyst"], "application/json", js)
	var sub engine.Subject
	if resp.StatusCode != 201 || json.Unmarshal(body, &sub) != nil {
		t.Fatalf("create subject: %d %s", resp.StatusCode, body)
	}
	path := fmt.Sprintf("/v1/subjects/%d", sub.ID)
	const ct = "application/json"
	for _, tc := range []struct {
		name, token, path, contentType, body string
		status                               int
		detail                               string
	}{
		{"ID not a number", "analyst", "/v1/subjects/abc", ct, `{"name":"Bo"}`, 400, "id"},
		{"ID zero", "analyst", "/v1/subjects/0", ct, `{"name":"Bo"}`, 400, "id"},
		{"ID negative", "analyst", "/v1/subjects/-3", ct, `{"name":"Bo"}`, 400, "id"},
		{"unknown subject", "analyst", "/v1/subjects/999", ct, `{"name":"Bo"}`, 404, "subject 999"},
		{"not JSON", "analyst", path, "text/plain", `name=Bo`, 415, "application/json"},
		{"malformed JSON", "analyst", path, ct, `{"name":`, 400, "not valid JSON"},
		{"unknown field", "analyst", path, ct, `{"gallery_id":2}`, 400, "gallery_id"},
		{"nothing to change", "analyst", path, ct, `{}`, 422, "nothing to change"},
		{"empty name", "analyst", path, ct, `{"name":"  "}`, 422, "name is required"},
		{"name over 100 characters", "analyst", path, ct, `{"name":"` + strings.Repeat("a", 101) + `"}`, 422, "name is longer than 100 characters (101)"},
		{"reference over 200", "analyst", path, ct, `{"external_ref":"` + strings.Repeat("r", 201) + `"}`, 422, "external_ref is longer than 200 characters (201)"},
		{"notes over 4000", "analyst", path, ct, `{"notes":"` + strings.Repeat("n", 4001) + `"}`, 422, "notes is longer than 4000 characters (4001)"},
		{"bidi override in a name", "analyst", path, ct, `{"name":"\u202eevil"}`, 422, "name contains"},
		{"reviewer may not", "reviewer", path, ct, `{"name":"Bo"}`, 403, ""},
		{"auditor may not", "auditor", path, ct, `{"name":"Bo"}`, 403, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := ts.do(t, "PATCH", tc.path, ts.tokens[tc.token], tc.contentType, []byte(tc.body))
			checkProblem(t, tc.name, resp, body, tc.status, tc.detail)
		})
	}
	if es := ts.auditOf(t, "subject.update"); len(es) != 0 {
		t.Errorf("refused edits were audited: %+v", es)
	}
	if got, err := ts.cat.Subject(t.Context(), sub.ID); err != nil || got.Name != "Ada" || got.ExternalRef != "N-1" || got.Notes != "seen in 2024" {
		t.Fatalf("refused edits changed the subject: %+v %v", got, err)
	}

	// The name alone: the reference and notes stay.
	resp, body = ts.do(t, "PATCH", path, ts.tokens["analyst"], ct, []byte(`{"name":"Ada  Lovelace"}`))
	var got engine.Subject
	if resp.StatusCode != 200 || json.Unmarshal(body, &got) != nil {
		t.Fatalf("patch: %d %s", resp.StatusCode, body)
	}
	if got.ID != sub.ID || got.GalleryID != g.ID || got.Name != "Ada Lovelace" || got.ExternalRef != "N-1" || got.Notes != "seen in 2024" {
		t.Errorf("after the name's edit: %+v", got)
	}
	// The admin clears the notes and changes the reference.
	resp, body = ts.do(t, "PATCH", path, ts.tokens["admin"], ct, []byte(`{"external_ref":"N-2","notes":""}`))
	got = engine.Subject{}
	if resp.StatusCode != 200 || json.Unmarshal(body, &got) != nil || got.ExternalRef != "N-2" || got.Notes != "" || got.Name != "Ada Lovelace" {
		t.Errorf("after the admin's edit: %d %s", resp.StatusCode, body)
	}
	es := ts.auditOf(t, "subject.update")
	if len(es) != 2 {
		t.Fatalf("%d subject.update entries, want 2", len(es))
	}
	for i, want := range []struct{ actor, input string }{{"analyst", "fields=name external_ref=N-1"}, {engine.BootstrapAdmin, "fields=external_ref,notes external_ref=N-2"}} {
		if es[i].Actor != want.actor || es[i].Input != want.input || es[i].Target != fmt.Sprintf("subject:%d", sub.ID) {
			t.Errorf("entry %d: %+v, want %s with %q", i, es[i], want.actor, want.input)
		}
	}
}
