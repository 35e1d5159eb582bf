package engine_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/facematch/facematch/engine"
	"github.com/facematch/facematch/face/facetest"
	"github.com/facematch/facematch/index"
	"github.com/facematch/facematch/internal/blob/local"
	"github.com/facematch/facematch/internal/catalog"
	"github.com/facematch/facematch/internal/testenv"
	"github.com/facematch/facematch/models/decode"
)

// The service on its real parts: SQLite, a local blob directory and the vector index, with
// the real default models and photos end to end, and face/facetest's models for the rules.

type fixture struct {
	svc      *engine.Service
	cat      *catalog.DB
	ix       *index.Index
	blobs    *local.Store
	pipeline *engine.Pipeline // the default model's
	model    string
}

// newFixture runs the service on one pipeline.
func newFixture(t *testing.T, p *engine.Pipeline) *fixture {
	t.Helper()
	f := openFixture(t, t.TempDir(), only(p))
	model := p.Embedder.Identity()
	return &fixture{f.svc, f.cat, f.indexes[model], f.blobs, p, model}
}

func photo(t *testing.T, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.Data(), rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var (
	admin    = engine.Actor{Name: "admin", Role: engine.RoleAdmin}
	analyst  = engine.Actor{Name: "ann", Role: engine.RoleAnalyst}
	reviewer = engine.Actor{Name: "rev1", Role: engine.RoleReviewer}
	second   = engine.Actor{Name: "rev2", Role: engine.RoleReviewer}
)

// TestEnrolSearchReviewDelete is the use case end to end on the real models and photos: other
// photos of a person find her first.
func TestEnrolSearchReviewDelete(t *testing.T) {
	f := newFixture(t, engine.TestingPipeline(t))
	ctx := context.Background()
	ref, err := f.svc.CreateGallery(ctx, admin, "wanted", engine.Reference, "")
	if err != nil {
		t.Fatal(err)
	}
	people := map[string]string{
		"Katy_Perry": "celebs/Katy_Perry/img26.jpg", "Jeff_Bezos": "celebs/Jeff_Bezos/img20.jpg",
		"Mark_Zuckerberg": "celebs/Mark_Zuckerberg/img13.jpg",
	}
	subjects := map[string]int64{}
	for name, rel := range people {
		s, err := f.svc.CreateSubject(ctx, admin, engine.Subject{GalleryID: ref.ID, Name: name})
		if err != nil {
			t.Fatal(err)
		}
		subjects[name] = s.ID
		e, err := f.svc.AddImage(ctx, analyst, engine.Upload{GalleryID: ref.ID, SubjectID: &s.ID, Data: photo(t, rel)})
		if err != nil {
			t.Fatal(err)
		}
		if e.Duplicate || len(e.Faces) == 0 || !e.Faces[0].Accepted() {
			t.Fatalf("%s: enrolled %+v", name, e)
		}
	}
	// The same bytes again are reported, not stored twice.
	katy := subjects["Katy_Perry"]
	dup, err := f.svc.AddImage(ctx, analyst, engine.Upload{GalleryID: ref.ID, SubjectID: &katy, Data: photo(t, people["Katy_Perry"])})
	if err != nil || !dup.Duplicate {
		t.Fatalf("duplicate upload: %+v %v", dup, err)
	}

	// Another photo of Katy Perry finds her first.
	res, err := f.svc.Search(ctx, analyst, engine.SearchRequest{Galleries: []int64{ref.ID}, Purpose: "case 42", Data: photo(t, "celebs/Katy_Perry/img27.jpg")})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Faces) == 0 || len(res.Faces[0].Candidates) == 0 {
		t.Fatalf("search found nothing: %+v", res)
	}
	top := res.Faces[0].Candidates[0]
	if top.SubjectID == nil || *top.SubjectID != katy || top.Rank != 1 {
		t.Fatalf("top candidate %+v, want subject %d", top, katy)
	}

	// Review: the searcher may not decide, a positive decision needs a note, two reviewers agree.
	if _, err := f.svc.Decide(ctx, analyst, top.MatchID, engine.PotentialCandidate, "same"); !errors.Is(err, engine.ErrForbidden) {
		t.Fatalf("searcher deciding: %v", err)
	}
	if _, err := f.svc.Decide(ctx, reviewer, top.MatchID, engine.PotentialCandidate, " "); !errors.Is(err, engine.ErrInvalid) {
		t.Fatalf("positive decision without a note: %v", err)
	}
	if m, err := f.svc.Decide(ctx, reviewer, top.MatchID, engine.PotentialCandidate, "same mole"); err != nil || m.Status != engine.Pending {
		t.Fatalf("first decision: %+v %v", m, err)
	}
	if _, err := f.svc.Decide(ctx, reviewer, top.MatchID, engine.PotentialCandidate, "again"); !errors.Is(err, engine.ErrConflict) {
		t.Fatalf("second decision by the same reviewer: %v", err)
	}
	m, err := f.svc.Decide(ctx, second, top.MatchID, engine.PotentialCandidate, "agree")
	if err != nil || m.Status != engine.PotentialCandidate {
		t.Fatalf("second reviewer: %+v %v", m, err)
	}

	// Deleting the subject removes her faces from the index, her blobs, and later results.
	faceBlob := mustFace(t, f, top.FaceID).ThumbKey
	if err := f.svc.DeleteSubject(ctx, admin, katy); err != nil {
		t.Fatal(err)
	}
	if _, err := f.blobs.Get(ctx, faceBlob); err == nil {
		t.Fatal("the deleted face's thumbnail is still stored")
	}
	res, err = f.svc.Search(ctx, analyst, engine.SearchRequest{Galleries: []int64{ref.ID}, Purpose: "case 42", Data: photo(t, "celebs/Katy_Perry/img27.jpg")})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range res.Faces[0].Candidates {
		if c.FaceID == top.FaceID || (c.SubjectID != nil && *c.SubjectID == katy) {
			t.Fatalf("deleted subject still returned: %+v", c)
		}
	}
	if p, err := f.cat.PendingPurges(ctx); err != nil || len(p) != 0 {
		t.Fatalf("purges left: %+v %v", p, err)
	}

	// The audit log holds every step.
	es, err := f.cat.Entries(ctx, engine.AuditFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range es {
		actions = append(actions, e.Actor+":"+e.Action)
	}
	got := strings.Join(actions, " ")
	for _, want := range []string{"admin:gallery.create", "admin:subject.create", "ann:image.upload", "ann:search.create",
		"ann:match.decide.refused", "rev1:match.decide", "rev2:match.decide", "admin:subject.delete"} {
		if !strings.Contains(got, want) {
			t.Errorf("audit log lacks %s: %s", want, got)
		}
	}
}

func mustFace(t *testing.T, f *fixture, id int64) engine.StoredFace {
	t.Helper()
	sf, err := f.cat.Face(ctx(), id)
	if err != nil {
		t.Fatal(err)
	}
	return sf
}

func ctx() context.Context { return context.Background() }

// Bad input gets a precise, typed error and stores nothing.
func TestBadInputStoresNothing(t *testing.T) {
	f := newFixture(t, fakePipeline())
	coll, err := f.svc.CreateGallery(ctx(), admin, "ads", engine.Collection, "")
	if err != nil {
		t.Fatal(err)
	}
	ref, err := f.svc.CreateGallery(ctx(), admin, "wanted", engine.Reference, "")
	if err != nil {
		t.Fatal(err)
	}
	good := facetest.Photo(1, 1)
	noFace := facetest.Group(1, 0)
	one := int64(1)
	tests := []struct {
		name string
		up   engine.Upload
		want error
	}{
		{"truncated photo", engine.Upload{GalleryID: coll.ID, Data: good[:len(good)/3]}, decode.ErrTruncated},
		{"not an image", engine.Upload{GalleryID: coll.ID, Data: []byte("%PDF-1.4 hello")}, decode.ErrUnsupportedFormat},
		{"empty", engine.Upload{GalleryID: coll.ID}, decode.ErrEmpty},
		{"no face", engine.Upload{GalleryID: coll.ID, Data: noFace}, engine.ErrNoFace},
		{"unknown gallery", engine.Upload{GalleryID: 999, Data: good}, engine.ErrNotFound},
		{"reference photo without subject", engine.Upload{GalleryID: ref.ID, Data: good}, engine.ErrInvalid},
		{"collection photo with subject", engine.Upload{GalleryID: coll.ID, SubjectID: &one, Data: good}, engine.ErrInvalid},
	}
	for _, tc := range tests {
		if _, err := f.svc.AddImage(ctx(), analyst, tc.up); !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
	}
	if _, err := f.svc.CreateGallery(ctx(), admin, "x", engine.Collection, "no-such-model"); !errors.Is(err, engine.ErrInvalid) {
		t.Errorf("unknown model: %v", err)
	}
	searches := []struct {
		name string
		req  engine.SearchRequest
		want error
	}{
		{"no purpose", engine.SearchRequest{Galleries: []int64{coll.ID}, Data: good}, engine.ErrInvalid},
		{"no gallery", engine.SearchRequest{Purpose: "p", Data: good}, engine.ErrInvalid},
		{"unknown gallery", engine.SearchRequest{Purpose: "p", Galleries: []int64{999}, Data: good}, engine.ErrNotFound},
		{"k too large", engine.SearchRequest{Purpose: "p", Galleries: []int64{coll.ID}, K: 1000, Data: good}, engine.ErrInvalid},
		{"corrupt probe", engine.SearchRequest{Purpose: "p", Galleries: []int64{coll.ID}, Data: good[:100]}, decode.ErrTruncated},
		{"probe without a face", engine.SearchRequest{Purpose: "p", Galleries: []int64{coll.ID}, Data: noFace}, engine.ErrNoFace},
	}
	for _, tc := range searches {
		if _, err := f.svc.Search(ctx(), analyst, tc.req); !errors.Is(err, tc.want) {
			t.Errorf("search %s: err = %v, want %v", tc.name, err, tc.want)
		}
	}
	g, err := f.cat.Gallery(ctx(), coll.ID)
	if err != nil || g.Images != 0 || f.ix.Len() != 0 {
		t.Fatalf("after refused input: %+v, %d vectors", g, f.ix.Len())
	}
}
