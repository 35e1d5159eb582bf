package engine_test

import (
	"bytes"
	"errors"
	"fmt"
	"image/jpeg"
	"slices"
	"strings"
	"testing"

	"github.com/facematch/facematch/engine"
	"github.com/facematch/facematch/face/facetest"
)

var auditor = engine.Actor{Name: "aud", Role: engine.RoleAuditor}

// reportEntries returns the report.create entries so far.
func reportEntries(t *testing.T, f *fixture) []engine.AuditEntry {
	t.Helper()
	es, err := f.svc.AuditEntries(t.Context(), auditor, engine.AuditFilter{Action: "report.create", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	return es
}

// TestPersonReport: a person's case report holds the person with its faces, its photos' records
// and ad metadata, the clustering line and the gallery's threshold, the model, the audit trail
// of the person and its photos, the statement, and the faces and photos embedded (photos past
// the cap left out, and said so). Making it is audited, and the entry numbers the report; a
// report refused for scope or an unknown person is not.
func TestPersonReport(t *testing.T) {
	ctx := t.Context()
	f := newFixture(t, &engine.Pipeline{Detector: facetest.Detector{}, Embedder: facetest.Embedder{Spread: 0.2}})
	ads, err := f.svc.CreateGallery(ctx, admin, "ads", engine.Collection, "")
	if err != nil {
		t.Fatal(err)
	}
	const photos = 14 // two more than a report embeds
	src := engine.Source{Site: "ads.example", Usernames: []string{"<script>alert(1)</script>"}, Phones: []string{"+49 151 2345 6789"}, CaseRef: "CASE-9"}
	for v := 1; v <= photos; v++ {
		if _, err := f.svc.AddImage(ctx, analyst, engine.Upload{GalleryID: ads.ID, Data: facetest.Photo(73, v), Source: src}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.svc.ClusterGallery(ctx, admin, ads.ID); err != nil {
		t.Fatal(err)
	}
	ps, err := f.svc.Persons(ctx, analyst, ads.ID, engine.PersonQuery{})
	if err != nil || len(ps) != 1 || ps[0].Size != photos {
		t.Fatalf("persons: %+v, %v", ps, err)
	}
	id := ps[0].ID
	if _, err := f.svc.ConfirmPerson(ctx, reviewer, id, "same face and phone"); err != nil {
		t.Fatal(err)
	}

	// Refused: not audited.
	if _, err := f.svc.PersonReport(ctx, engine.Actor{Name: "sam", Role: engine.RoleAnalyst, Galleries: []int64{ads.ID + 50}}, id); !errors.Is(err, engine.ErrForbidden) {
		t.Errorf("a credential without the gallery: %v", err)
	}
	if _, err := f.svc.PersonReport(ctx, analyst, id+1000); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("an unknown person: %v", err)
	}
	if es := reportEntries(t, f); len(es) != 0 {
		t.Fatalf("refused reports audited: %+v", es)
	}

	r, err := f.svc.PersonReport(ctx, analyst, id)
	if err != nil {
		t.Fatal(err)
	}
	if r.Kind != "person" || r.Person == nil || r.Match != nil || r.GeneratedBy != "ann" || r.Credential != "ann" || r.Role != engine.RoleAnalyst || r.GeneratedAt.IsZero() {
		t.Fatalf("report: %+v", r)
	}
	if r.Statement != engine.ReportStatement || !strings.Contains(r.Statement, "people decide") {
		t.Errorf("statement %q", r.Statement)
	}
	p := r.Person
	if p.ID != id || len(p.Faces) != photos || len(p.Photos) != photos || p.ConfirmedBy != "rev1" || !strings.Contains(p.Clustering, "0.87") {
		t.Errorf("person record: %d faces, %d photos, confirmed by %q, clustering %q", len(p.Faces), len(p.Photos), p.ConfirmedBy, p.Clustering)
	}
	if ph := p.Photos[0]; ph.SHA256 == "" || ph.Source.Site != "ads.example" || ph.Source.CaseRef != "CASE-9" || !slices.Contains(ph.Source.Usernames, "<script>alert(1)</script>") {
		t.Errorf("a photo's record: %+v", ph)
	}
	if !slices.ContainsFunc(p.Contacts, func(c engine.ContactCount) bool { return c.Value == "+4915123456789" && c.Photos == photos }) {
		t.Errorf("contacts: %+v", p.Contacts)
	}
	if len(r.Galleries) != 1 || r.Galleries[0].ID != ads.ID || r.Galleries[0].Operating == nil || r.Galleries[0].Operating.Threshold == nil {
		t.Errorf("galleries: %+v", r.Galleries)
	}
	if len(r.Models) != 1 || r.Models[0].Identity != f.model || r.Models[0].Dim == 0 {
		t.Errorf("models: %+v, want %s", r.Models, f.model)
	}
	var names []string
	for _, th := range r.Thresholds {
		names = append(names, th.Name)
	}
	for _, want := range []string{"clustering line", "repost radius", fmt.Sprintf("operating threshold of gallery %d (ads)", ads.ID), fmt.Sprintf("target FPIR of gallery %d (ads)", ads.ID)} {
		if !slices.Contains(names, want) {
			t.Errorf("thresholds %q lack %q", names, want)
		}
	}
	// Embedded: every face's thumbnail, the first 12 photos reduced, the rest said.
	count := map[string]int{}
	for _, im := range r.Images {
		count[im.Kind]++
		if _, err := jpeg.DecodeConfig(bytes.NewReader(im.Data)); err != nil || im.MIME != "image/jpeg" {
			t.Errorf("%s %d is not a JPEG (%s): %v", im.Kind, im.ID, im.MIME, err)
		}
	}
	if count[engine.ImageFace] != photos || count[engine.ImagePhoto] != 12 || len(r.Images) != photos+12 {
		t.Errorf("images embedded: %v", count)
	}
	if r.Image(engine.ImagePhoto, p.Photos[0].ID) == nil || r.Image(engine.ImagePhoto, p.Photos[photos-1].ID) != nil {
		t.Fatalf("the first photo is not embedded, or the last is")
	}
	// A face box is drawn on the reduced copy in the original's pixels.
	if im := r.Image(engine.ImagePhoto, p.Photos[0].ID); im.Width != p.Photos[0].Width || im.Height != p.Photos[0].Height || !im.Reduced ||
		len(p.FaceBoxes) != photos || p.FaceBoxes[p.Faces[0].FaceID].W == 0 {
		t.Errorf("photo %dx%d (reduced %t), the original %dx%d; %d face boxes", im.Width, im.Height, im.Reduced, p.Photos[0].Width, p.Photos[0].Height, len(p.FaceBoxes))
	}
	if len(r.Omitted) != 1 || !strings.Contains(r.Omitted[0], "Photos after the first 12 are not embedded (2 more)") {
		t.Errorf("omitted: %q", r.Omitted)
	}
	// The audit trail: the uploads of its photos, the clustering's confirmation, nothing else's.
	actions := map[string]int{}
	for _, e := range r.Audit {
		actions[e.Action]++
		if e.Target != fmt.Sprintf("person:%d", id) && !strings.HasPrefix(e.Target, "image:") && !strings.HasPrefix(e.Target, "face:") {
			t.Errorf("an entry about another record: %+v", e)
		}
	}
	if actions["person.confirm"] != 1 || actions["image.upload"] != photos {
		t.Errorf("audit trail actions: %v", actions)
	}
	es := reportEntries(t, f)
	if len(es) != 1 || es[0].ID != r.ID || es[0].Hash != r.AuditHash || es[0].Target != fmt.Sprintf("person:%d", id) || es[0].Actor != "ann" ||
		!slices.Equal(es[0].Galleries, []int64{ads.ID}) || !strings.Contains(es[0].Result, "faces=14 photos=14") {
		t.Errorf("report.create entries: %+v (report %d)", es, r.ID)
	}
	// A second report lists the first one's making in its trail.
	r2, err := f.svc.PersonReport(ctx, reviewer, id)
	if err != nil || !slices.ContainsFunc(r2.Audit, func(e engine.AuditEntry) bool { return e.ID == r.ID }) || r2.ID <= r.ID {
		t.Errorf("the second report (%d) does not list the first (%d): %v", r2.ID, r.ID, err)
	}
}

// TestMatchReport: a match's case report holds the match with every decision (reviewer, note),
// the search behind it, both faces and photos embedded, the gallery's operating threshold, its
// target and the bands, the audit trail of the search and the match; making it is audited, a
// scoped credential without the gallery is refused and not audited.
func TestMatchReport(t *testing.T) {
	ctx := t.Context()
	f := newFixture(t, fakePipeline())
	refID := f.referenceGallery(t, "wanted", 73, 146)
	match := f.candidates(t, engine.SearchRequest{Data: facetest.Photo(73, 2), Galleries: []int64{refID}, Purpose: "case 9: ad of 3 May",
		Source: engine.Source{Site: "ads.example", Usernames: []string{"kitty_k"}}})[0].MatchID
	const note = `same "rose" tattoo on the left wrist`
	if _, err := f.svc.Decide(ctx, reviewer, match, engine.PotentialCandidate, note); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.MatchReport(ctx, engine.Actor{Name: "sam", Role: engine.RoleReviewer, Galleries: []int64{refID + 50}}, match); !errors.Is(err, engine.ErrForbidden) {
		t.Errorf("a credential without the gallery: %v", err)
	}
	if _, err := f.svc.MatchReport(ctx, second, match+1000); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("an unknown match: %v", err)
	}
	if es := reportEntries(t, f); len(es) != 0 {
		t.Fatalf("refused reports audited: %+v", es)
	}
	r, err := f.svc.MatchReport(ctx, second, match)
	if err != nil {
		t.Fatal(err)
	}
	m := r.Match
	if r.Kind != "match" || m == nil || r.Person != nil || m.Match.ID != match || m.Reviewers != 2 {
		t.Fatalf("report: %+v", r)
	}
	if len(m.Match.Decisions) != 1 || m.Match.Decisions[0].Reviewer != "rev1" || m.Match.Decisions[0].Note != note {
		t.Errorf("decisions: %+v", m.Match.Decisions)
	}
	if m.Search == nil || m.Search.Purpose != "case 9: ad of 3 May" || m.Probe.Source.Site != "ads.example" || m.Candidate.Subject == nil || m.Candidate.Subject.Name != "person 73" {
		t.Errorf("search %+v, probe source %+v, subject %+v", m.Search, m.Probe.Source, m.Candidate.Subject)
	}
	for _, im := range []struct {
		kind string
		id   int64
	}{{engine.ImageProbeFace, m.Match.ProbeFaceID}, {engine.ImageFace, m.Match.FaceID}, {engine.ImagePhoto, m.Match.ImageID}, {engine.ImageProbePhoto, *m.Match.SearchID}} {
		if r.Image(im.kind, im.id) == nil {
			t.Errorf("%s %d not embedded", im.kind, im.id)
		}
	}
	if len(r.Galleries) != 1 || r.Galleries[0].ID != refID || len(r.Models) != 1 || r.Models[0].Identity != f.model {
		t.Errorf("galleries %+v, models %+v", r.Galleries, r.Models)
	}
	var op *engine.ReportThreshold
	for i, th := range r.Thresholds {
		if strings.HasPrefix(th.Name, "operating threshold") {
			op = &r.Thresholds[i]
		}
	}
	if op == nil || op.Value <= 0 || !strings.Contains(op.Meaning, "searches of a stranger") {
		t.Errorf("operating threshold: %+v", op)
	}
	actions := map[string]int{}
	for _, e := range r.Audit {
		actions[e.Action]++
	}
	if actions["search.create"] != 1 || actions["match.decide"] != 1 {
		t.Errorf("audit trail actions: %v", actions)
	}
	if es := reportEntries(t, f); len(es) != 1 || es[0].ID != r.ID || es[0].Target != fmt.Sprintf("match:%d", match) || es[0].Actor != "rev2" {
		t.Errorf("report.create entries: %+v", es)
	}
}
