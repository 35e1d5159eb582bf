package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/jpeg"
	"io"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/facematch/facematch/engine"
	"github.com/facematch/facematch/face/facetest"
)

// Hostile values a user can put in a record: each must come out of an HTML report as text.
const (
	hostileUser    = `<script>alert("user")</script>`
	hostileSubject = `<img src=x onerror=alert(1)>Jane`
	hostileNote    = `</td></tr></table><script>alert('note')</script>`
	adURL          = "https://ads.example/ad/4711"
)

// selfContained checks that an HTML report needs nothing but itself: every element's URL
// attributes are data: URIs or fragments, no script, frame, object, link or base element, no
// event handler, no url() or @import in its style; and that the only web address in it is
// text (the ad's URL, shown, never loaded or linked).
func selfContained(t *testing.T, doc []byte, texts ...string) {
	t.Helper()
	z := html.NewTokenizer(bytes.NewReader(doc))
	elements := 0
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			if z.Err() != io.EOF {
				t.Fatalf("HTML: %v", z.Err())
			}
			break
		}
		tok := z.Token()
		if tt == html.TextToken && (strings.Contains(tok.Data, "url(") || strings.Contains(tok.Data, "@import")) {
			t.Errorf("a style loads something: %.80q", tok.Data)
		}
		if tt != html.StartTagToken && tt != html.SelfClosingTagToken {
			continue
		}
		elements++
		switch tok.Data {
		case "script", "iframe", "frame", "object", "embed", "link", "base", "form", "video", "audio", "source":
			t.Errorf("the report has a <%s> element", tok.Data)
		}
		for _, a := range tok.Attr {
			switch {
			case strings.HasPrefix(a.Key, "on"):
				t.Errorf("<%s> has an event handler %s=%q", tok.Data, a.Key, a.Val)
			case a.Key == "src" || a.Key == "href" || a.Key == "srcset" || a.Key == "action" || a.Key == "poster" || a.Key == "data":
				if !strings.HasPrefix(a.Val, "data:image/") && !strings.HasPrefix(a.Val, "#") {
					t.Errorf("<%s %s=%.60q> refers outside the file", tok.Data, a.Key, a.Val)
				}
			case a.Key == "style" && strings.Contains(a.Val, "url("):
				t.Errorf("<%s style=%q> loads something", tok.Data, a.Val)
			}
		}
	}
	if elements < 50 {
		t.Errorf("only %d elements: the report did not render", elements)
	}
	rest := string(doc)
	for _, s := range texts {
		rest = strings.ReplaceAll(rest, s, "")
	}
	for _, ref := range []string{"http://", "https://", `src="/`, `href="/`, "//ads.example"} {
		if strings.Contains(rest, ref) {
			i := strings.Index(rest, ref)
			t.Errorf("the report refers to %q: …%s…", ref, rest[max(0, i-60):min(len(rest), i+60)])
		}
	}
}

// getReport GETs a report and checks the headers every report answers with.
func (ts *testServer) getReport(t *testing.T, path, token, format, wantName string) []byte {
	t.Helper()
	resp, body := ts.do(t, "GET", path+"?format="+format, token, "", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
	}
	wantType := map[string]string{"html": "text/html; charset=UTF-8", "json": "application/json"}[format]
	if got := resp.Header.Get("Content-Type"); got != wantType {
		t.Errorf("%s: Content-Type %q, want %q", path, got, wantType)
	}
	if cd := resp.Header.Get("Content-Disposition"); !regexp.MustCompile(`^attachment; filename="` + wantName + `-report-\d+\.` + format + `"$`).MatchString(cd) {
		t.Errorf("%s: Content-Disposition %q, want an attachment named %s-report-N.%s", path, cd, wantName, format)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("%s: Cache-Control %q", path, cc)
	}
	if format == "html" && resp.Header.Get("Content-Security-Policy") != reportCSP {
		t.Errorf("%s: Content-Security-Policy %q", path, resp.Header.Get("Content-Security-Policy"))
	}
	return body
}

// TestCaseReportsThroughTheAPI: a match's and a person's case reports in both formats, as
// attachments; the HTML one self-contained, printable, with hostile user values as text; the
// JSON one the same report with its images; a credential without the gallery refused like
// elsewhere; every report made audited, no refused one.
func TestCaseReportsThroughTheAPI(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	analyst, reviewer, auditor := ts.tokens["analyst"], ts.tokens["reviewer"], ts.tokens["auditor"]

	// A match: a hostile subject name, an ad with a hostile username and a URL, a hostile note.
	g := ts.createGallery(t, "wanted", engine.Reference)
	resp, body := ts.do(t, "POST", fmt.Sprintf("/v1/galleries/%d/subjects", g.ID), analyst, "application/json",
		must(json.Marshal(map[string]string{"name": hostileSubject, "external_ref": "N-7"})))
	var sub engine.Subject
	if resp.StatusCode != 201 || json.Unmarshal(body, &sub) != nil {
		t.Fatalf("create subject: %d %s", resp.StatusCode, body)
	}
	up, ct := multipartBody(t, facetest.Photo(katy, 26), map[string]string{"subject_id": fmt.Sprint(sub.ID)})
	if resp, body := ts.do(t, "POST", fmt.Sprintf("/v1/galleries/%d/images", g.ID), analyst, ct, up); resp.StatusCode != 201 {
		t.Fatalf("upload: %d %s", resp.StatusCode, body)
	}
	sb, ct := multipartBody(t, facetest.PhotoJPEG(katy, 27), map[string]string{"galleries": fmt.Sprint(g.ID), "purpose": "ad 4711", "case_ref": "OP-1",
		"site": "ads.example", "source_url": adURL, "usernames": hostileUser, "phones": "+49 151 2345 6789"})
	resp, body = ts.do(t, "POST", "/v1/searches", analyst, ct, sb)
	var res engine.SearchResult
	if resp.StatusCode != 201 || json.Unmarshal(body, &res) != nil || len(res.Faces) != 1 || len(res.Faces[0].Candidates) != 1 {
		t.Fatalf("search: %d %s", resp.StatusCode, body)
	}
	matchID := res.Faces[0].Candidates[0].MatchID
	decision := must(json.Marshal(map[string]string{"decision": "potential_candidate", "note": hostileNote}))
	if resp, body := ts.do(t, "POST", fmt.Sprintf("/v1/matches/%d/decisions", matchID), reviewer, "application/json", decision); resp.StatusCode != 200 {
		t.Fatalf("decide: %d %s", resp.StatusCode, body)
	}

	path := fmt.Sprintf("/v1/matches/%d/report", matchID)
	page := ts.getReport(t, path, auditor, "html", fmt.Sprintf("facematch-match-%d", matchID))
	selfContained(t, page, adURL)
	doc := string(page)
	for _, want := range []string{
		html.EscapeString(hostileUser), html.EscapeString(hostileSubject), html.EscapeString(hostileNote), adURL,
		"facematch proposes candidates; people decide.", "@media print", "potential candidate", "ad 4711", "Audit trail", "search.create", "match.decide",
		"operating threshold of gallery", engine.ReportStatement[:60],
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("the match report lacks %q", want)
		}
	}
	for _, hostile := range []string{hostileUser, hostileSubject, hostileNote, "<script"} {
		if strings.Contains(doc, hostile) {
			t.Errorf("the match report carries %q unescaped", hostile)
		}
	}
	if n := strings.Count(doc, `src="data:image/jpeg;base64,`); n != 4 {
		t.Errorf("%d images embedded, want the probe face, the candidate face and both photos", n)
	}

	var r engine.CaseReport
	if err := json.Unmarshal(ts.getReport(t, path, reviewer, "json", fmt.Sprintf("facematch-match-%d", matchID)), &r); err != nil {
		t.Fatal(err)
	}
	if r.Kind != "match" || r.Match == nil || len(r.Match.Match.Decisions) != 1 || r.Match.Match.Decisions[0].Note != hostileNote ||
		r.Match.Probe.Source.URL != adURL || r.Match.Candidate.Subject.Name != hostileSubject || r.Statement != engine.ReportStatement || len(r.Images) != 4 {
		t.Fatalf("JSON report: %+v", r)
	}
	for _, im := range r.Images {
		if _, err := jpeg.DecodeConfig(bytes.NewReader(im.Data)); err != nil {
			t.Errorf("%s %d: %v", im.Kind, im.ID, err)
		}
	}

	// A person: ads of one face with the hostile username, clustered.
	ads := ts.createGallery(t, "ads", engine.Collection)
	for v := 1; v <= 3; v++ {
		b, ct := multipartBody(t, facetest.Photo(elon, v), map[string]string{"site": "ads.example", "usernames": hostileUser, "source_url": adURL})
		if resp, body := ts.do(t, "POST", fmt.Sprintf("/v1/galleries/%d/images", ads.ID), analyst, ct, b); resp.StatusCode != 201 {
			t.Fatalf("upload: %d %s", resp.StatusCode, body)
		}
	}
	if resp, body := ts.do(t, "POST", fmt.Sprintf("/v1/galleries/%d/cluster", ads.ID), ts.tokens["admin"], "", nil); resp.StatusCode != 200 {
		t.Fatalf("cluster: %d %s", resp.StatusCode, body)
	}
	var persons struct {
		Persons []engine.Person `json:"persons"`
	}
	ts.getJSON(t, fmt.Sprintf("/v1/galleries/%d/persons", ads.ID), analyst, &persons)
	if len(persons.Persons) == 0 {
		t.Fatalf("persons: %+v", persons)
	}
	person, size := persons.Persons[0].ID, persons.Persons[0].Size
	path = fmt.Sprintf("/v1/persons/%d/report", person)
	page = ts.getReport(t, path, analyst, "html", fmt.Sprintf("facematch-person-%d", person))
	selfContained(t, page, adURL)
	doc = string(page)
	if strings.Contains(doc, hostileUser) || !strings.Contains(doc, html.EscapeString(hostileUser)) || !strings.Contains(doc, "clustering line") {
		t.Errorf("the person report shows the username unescaped, or not at all, or lacks the clustering line")
	}
	if n := strings.Count(doc, `src="data:image/jpeg;base64,`); n != 2*size {
		t.Errorf("%d images embedded, want %d faces and their photos", n, size)
	}
	if err := json.Unmarshal(ts.getReport(t, path, analyst, "json", fmt.Sprintf("facematch-person-%d", person)), &r); err != nil {
		t.Fatal(err)
	}
	if r.Kind != "person" || r.Person == nil || len(r.Person.Photos) != size || r.Person.Photos[0].Source.Usernames[0] != hostileUser {
		t.Fatalf("JSON person report: %+v", r.Person)
	}

	// A credential limited to the reference gallery cannot report on the collection's person,
	// nor one limited to the collection on the match: 403, as elsewhere.
	scoped := func(name string, gallery int64) string {
		_, secret, err := ts.svc.CreateToken(ctx, engine.Actor{Name: engine.BootstrapAdmin}, engine.NewCredential{Name: name, Role: engine.RoleAnalyst, Galleries: []int64{gallery}})
		if err != nil {
			t.Fatal(err)
		}
		return secret
	}
	for _, tc := range []struct{ path, token string }{{path, scoped("unit-wanted", g.ID)}, {fmt.Sprintf("/v1/matches/%d/report", matchID), scoped("unit-ads", ads.ID)}} {
		if resp, body := ts.do(t, "GET", tc.path, tc.token, "", nil); resp.StatusCode != 403 {
			t.Errorf("GET %s outside the credential's galleries: %d %s", tc.path, resp.StatusCode, body)
		}
	}
	if resp, _ := ts.do(t, "GET", path+"?format=xml", analyst, "", nil); resp.StatusCode != 400 {
		t.Errorf("format=xml: %d", resp.StatusCode)
	}
	// Four reports made (two of each), each audited once; the refused ones are not.
	es, err := ts.svc.AuditEntries(ctx, engine.Actor{Name: "aud", Role: engine.RoleAuditor}, engine.AuditFilter{Action: "report.create", Oldest: true})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range es {
		got = append(got, e.Actor+" "+e.Target)
	}
	want := []string{"auditor match:" + fmt.Sprint(matchID), "reviewer match:" + fmt.Sprint(matchID), "analyst person:" + fmt.Sprint(person), "analyst person:" + fmt.Sprint(person)}
	if strings.Join(got, ", ") != strings.Join(want, ", ") {
		t.Errorf("report.create entries: %q, want %q", got, want)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
