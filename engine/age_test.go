package engine_test

import (
	"strings"
	"testing"

	"github.com/facematch/facematch/engine"
	"github.com/facematch/facematch/face/facetest"
)

// fakeAgeCalibration gives the fake age model ranges of the shape the real one has: narrower
// for the young.
var fakeAgeCalibration = engine.AgeCalibration{Model: "age@fake", Bins: []engine.AgeBin{{UpTo: 18, Low: -3, High: 4}, {UpTo: 1000, Low: -6, High: 9}}}

// TestPossibleMinors: accepted faces carry an apparent age with its range; a face refused by
// the quality gate has none, with the reason; a probe that looks under the line puts its review
// items first and passes the queue's filter; a person is flagged by its faces' median.
func TestPossibleMinors(t *testing.T) {
	ctx := t.Context()
	p := &engine.Pipeline{Detector: facetest.Detector{}, Embedder: facetest.Embedder{Spread: 0.2}, Age: facetest.AgeEstimator{}, AgeCalibration: fakeAgeCalibration}
	f := newFixture(t, p)
	const child, adult = 146, 73 // the fake model's apparent ages: 4 and 33
	if facetest.Age(child) != 4 || facetest.Age(adult) != 33 {
		t.Fatalf("fake ages %v, %v", facetest.Age(child), facetest.Age(adult))
	}
	ads, err := f.svc.CreateGallery(ctx, admin, "ads", engine.Collection, "")
	if err != nil {
		t.Fatal(err)
	}
	for v := 1; v <= 3; v++ {
		for _, person := range []int{child, adult} {
			if _, err := f.svc.AddImage(ctx, analyst, engine.Upload{GalleryID: ads.ID, Data: facetest.Photo(person, v)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Too small to match (eyes 9 px apart): refused, so no estimate.
	tiny, err := f.svc.AddImage(ctx, analyst, engine.Upload{GalleryID: ads.ID, Data: facetest.EncodePNG(facetest.Draw(30, 1, child))})
	if err != nil {
		t.Fatal(err)
	}
	if fs := tiny.Faces; len(fs) != 1 || fs[0].Age != nil || fs[0].NoAge != engine.NoAgeRefused {
		t.Errorf("a refused face: %+v, want no estimate, refused", fs)
	}
	// Placed as they arrive (incremental assignment), and clustered from scratch: the child's
	// photos (about 0.96 alike) are not grouped on similarity: children's faces look
	// alike far more often, and the fake's children's line is above 0.99. The adult's are.
	if ps, err := f.svc.Persons(ctx, analyst, ads.ID, engine.PersonQuery{}); err != nil || len(ps) != 1 || ps[0].Size != 3 || ps[0].Age.PossibleMinor {
		t.Fatalf("persons as placed: %+v, %v; want the adult's three photos only", ps, err)
	}
	rep, err := f.svc.ClusterGallery(ctx, admin, ads.ID)
	if err != nil {
		t.Fatal(err)
	}
	ps, err := f.svc.Persons(ctx, analyst, ads.ID, engine.PersonQuery{})
	if err != nil || len(ps) != 1 || ps[0].Size != 3 || ps[0].Age == nil || ps[0].Age.PossibleMinor || rep.Singletons != 3 {
		t.Fatalf("persons: %+v (report %+v), %v; want the adult's three photos only", ps, rep, err)
	}
	// A reviewer's merges group the child's photos: the person is flagged by its median.
	var childPersons []int64
	for v := 1; v <= 3; v++ {
		e, err := f.svc.AddImage(ctx, analyst, engine.Upload{GalleryID: ads.ID, Data: facetest.Photo(child, v)})
		if err != nil || !e.Duplicate {
			t.Fatalf("the child's photo %d again: %+v, %v", v, e, err)
		}
		refs, err := f.cat.PersonsOfImages(ctx, []int64{e.Image.ID})
		if err != nil || len(refs[e.Image.ID]) != 1 {
			t.Fatalf("the child's photo %d: persons %v, %v", v, refs, err)
		}
		childPersons = append(childPersons, refs[e.Image.ID][0].ID)
	}
	for _, other := range childPersons[1:] {
		if _, err := f.svc.MergePersons(ctx, reviewer, childPersons[0], other, "same birthmark", false); err != nil {
			t.Fatal(err)
		}
	}
	ps, err = f.svc.Persons(ctx, analyst, ads.ID, engine.PersonQuery{Order: engine.PersonsMinorsFirst})
	if err != nil || len(ps) != 2 {
		t.Fatalf("persons after the merges: %+v, %v", ps, err)
	}
	want := engine.ApparentAge{Years: 4, Low: 1, High: 8, Model: "age@fake", PossibleMinor: true, MinorLine: engine.DefaultMinorLine}
	if ps[0].Age == nil || *ps[0].Age != want || ps[0].AgedFaces != 3 || ps[1].Age == nil || ps[1].Age.PossibleMinor || ps[1].Age.Years != 33 {
		t.Errorf("persons minors first: %+v, %+v; want the child (%+v) first", ps[0].Age, ps[1].Age, want)
	}
	yes := true
	if only, err := f.svc.Persons(ctx, analyst, ads.ID, engine.PersonQuery{PossibleMinor: &yes}); err != nil || len(only) != 1 || only[0].ID != ps[0].ID {
		t.Errorf("possible minors only: %+v, %v", only, err)
	}
	if p, err := f.svc.PersonByID(ctx, reviewer, ps[0].ID); err != nil || p.AgeMeaning != engine.AgeMeaning {
		t.Errorf("the child's person page: %q, %v", p.AgeMeaning, err)
	}

	// Searches of an adult's and a child's photo. The child's probe is matched under the
	// minors' line (the fake's is far above its same-person similarity, as children's lines
	// are above adults'): its candidate is shown, not queued, until the analyst sends it.
	refs := f.referenceGallery(t, "wanted", adult, child)
	results := map[int]engine.SearchResult{}
	for _, person := range []int{adult, child} {
		res, err := f.svc.Search(ctx, analyst, engine.SearchRequest{Galleries: []int64{refs}, Purpose: "case 9", Data: facetest.Photo(person, 7)})
		if err != nil {
			t.Fatal(err)
		}
		results[person] = res
	}
	adultTop, childTop := results[adult].Faces[0].Candidates[0], results[child].Faces[0].Candidates[0]
	if adultTop.MatchID == 0 || childTop.MatchID != 0 || childTop.Threshold == nil || adultTop.Threshold == nil ||
		*childTop.Threshold <= *adultTop.Threshold || childTop.Similarity < *adultTop.Threshold {
		t.Fatalf("adult's top candidate %+v, child's %+v: want the child's under a higher line, not queued", adultTop, childTop)
	}
	if m := results[child].Galleries[0].Meaning; !strings.Contains(m, "matched under the children's line instead") {
		t.Errorf("the child's search's threshold: %q", m)
	}
	if !strings.Contains(childTop.Meaning, "children's faces is much weaker evidence") {
		t.Errorf("the child's candidate's meaning: %q", childTop.Meaning)
	}
	if f := results[child].Faces[0].Face; f.Age == nil || !f.Age.PossibleMinor {
		t.Errorf("the child's probe face: %+v", f)
	}
	if _, _, err := f.svc.SendForReview(ctx, analyst, results[child].Search.ID, childTop.ProbeFaceID, childTop.FaceID); err != nil {
		t.Fatal(err)
	}
	ms, err := f.svc.Matches(ctx, reviewer, engine.MatchFilter{Order: engine.MinorsFirst})
	if err != nil || len(ms) < 2 || !ms[0].PossibleMinor || ms[0].ProbeAge == nil || ms[0].ProbeAge.Years != 4 || ms[len(ms)-1].PossibleMinor {
		t.Fatalf("queue, minors first: %+v, %v", ms, err)
	}
	v, err := f.svc.MatchView(ctx, reviewer, ms[0].ID)
	if err != nil || !strings.Contains(v.Meaning, "children's faces is much weaker evidence") || !strings.Contains(v.Operating.Meaning, "The probe face looks under 18") {
		t.Errorf("the child's match view: %q / %+v, %v", v.Meaning, v.Operating, err)
	}
	flagged, err := f.svc.Matches(ctx, reviewer, engine.MatchFilter{PossibleMinor: &yes})
	if err != nil || len(flagged) == 0 || len(flagged) == len(ms) {
		t.Errorf("possible minors only: %d of %d items, %v", len(flagged), len(ms), err)
	}
	for _, m := range flagged {
		if !m.PossibleMinor {
			t.Errorf("item %d passed the filter unflagged", m.ID)
		}
	}
}

// TestAgeStoredFaces: faces stored before apparent ages were kept get them from their photos
// and boxes, under the same rules (a refused face gets its reason); audited; a second run has
// nothing to do.
func TestAgeStoredFaces(t *testing.T) {
	ctx := t.Context()
	p := &engine.Pipeline{Detector: facetest.Detector{}, Embedder: facetest.Embedder{}, Age: facetest.AgeEstimator{}, AgeCalibration: fakeAgeCalibration}
	f := newFixture(t, p)
	ads, err := f.svc.CreateGallery(ctx, admin, "ads", engine.Collection, "")
	if err != nil {
		t.Fatal(err)
	}
	var faces []engine.StoredFace
	for _, data := range [][]byte{facetest.Group(1, 146, 73), facetest.EncodePNG(facetest.Draw(30, 1, 146))} {
		e, err := f.svc.AddImage(ctx, analyst, engine.Upload{GalleryID: ads.ID, Data: data})
		if err != nil {
			t.Fatal(err)
		}
		faces = append(faces, e.Faces...)
	}
	want := map[int64]engine.StoredFace{}
	old := make([]engine.StoredFace, len(faces))
	for i, sf := range faces {
		want[sf.ID] = sf
		old[i] = engine.StoredFace{ID: sf.ID, NoAge: []string{"", engine.NoAgeModel, ""}[i%3]} // as before schema 9, or with no model
	}
	if err := f.cat.SetFaceAges(ctx, old); err != nil {
		t.Fatal(err)
	}
	rep, err := f.svc.AgeStoredFaces(ctx, admin)
	if err != nil || rep.Faces != 3 || rep.Flagged != 1 || rep.Failed != 0 {
		t.Fatalf("backfill: %+v, %v; want 3 faces, the child's accepted face flagged", rep, err)
	}
	for id, w := range want {
		got, err := f.cat.Face(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if (got.Age == nil) != (w.Age == nil) || got.NoAge != w.NoAge || (got.Age != nil && *got.Age != *w.Age) {
			t.Errorf("face %d: %+v / %q, want %+v / %q as at upload", id, got.Age, got.NoAge, w.Age, w.NoAge)
		}
	}
	if again, err := f.svc.AgeStoredFaces(ctx, admin); err != nil || again.Faces != 0 {
		t.Errorf("a second run: %+v, %v", again, err)
	}
	es, err := f.svc.AuditEntries(ctx, engine.Actor{Name: "aud", Role: engine.RoleAuditor}, engine.AuditFilter{Action: "faces.age", Limit: 5})
	if err != nil || len(es) != 2 || !strings.Contains(es[len(es)-1].Result+es[0].Result, "possible_minors=1") {
		t.Errorf("audited: %+v, %v", es, err)
	}
}
