package engine_test

import (
	"context"
	"errors"
	"testing"

	"github.com/facematch/facematch/engine"
	"github.com/facematch/facematch/face/facetest"
	"github.com/facematch/facematch/internal/blob/engineblob"
)

// failingAudit is the real catalog with an audit log that cannot be written (a full disk, a
// write that timed out): every action must then fail whole, and nothing must be served.
type failingAudit struct{ engine.Catalog }

var errAuditDown = errors.New("audit log unwritable")

func (failingAudit) Append(context.Context, engine.AuditEntry) (engine.AuditEntry, error) {
	return engine.AuditEntry{}, errAuditDown
}

// Atomically hands fn the failing log inside the real transaction.
func (f failingAudit) Atomically(ctx context.Context, fn func(engine.Catalog) error) error {
	return f.Catalog.Atomically(ctx, func(c engine.Catalog) error { return fn(failingAudit{c}) })
}

// An action and its audit entry commit together or not at all: with the audit log failing,
// no gallery, subject, search, decision, credential or deletion is left behind, and no photo
// or case report is served unaudited.
func TestActionFailsWithItsAudit(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, fakePipeline())
	ref, err := f.svc.CreateGallery(ctx, admin, "wanted", engine.Reference, "")
	if err != nil {
		t.Fatal(err)
	}
	cleo, err := f.svc.CreateSubject(ctx, admin, engine.Subject{GalleryID: ref.ID, Name: "Cleo"})
	if err != nil {
		t.Fatal(err)
	}
	up, err := f.svc.AddImage(ctx, analyst, engine.Upload{GalleryID: ref.ID, SubjectID: &cleo.ID, Data: facetest.Photo(references["Cleo"], 1)})
	if err != nil {
		t.Fatal(err)
	}
	res, err := f.svc.Search(ctx, analyst, engine.SearchRequest{Galleries: []int64{ref.ID}, Purpose: "case 1", Data: facetest.Photo(references["Cleo"], 2)})
	if err != nil || len(res.Faces) == 0 || len(res.Faces[0].Candidates) == 0 {
		t.Fatalf("search: %+v %v", res, err)
	}
	matchID := res.Faces[0].Candidates[0].MatchID
	before, err := f.cat.Entries(ctx, engine.AuditFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}

	broken, err := engine.NewService(engine.ServiceConfig{Catalog: failingAudit{f.cat}, Blobs: engineblob.Store{Blobs: f.blobs},
		Pipelines: only(f.pipeline), DefaultModel: defaultModel,
		Indexes: map[string]engine.VectorIndex{f.model: f.ix}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := broken.CreateGallery(ctx, admin, "ads", engine.Collection, ""); err == nil {
		t.Error("gallery created although its audit entry failed")
	}
	if gs, _ := f.cat.Galleries(ctx); len(gs) != 1 {
		t.Errorf("%d galleries, want 1: the unaudited one was kept", len(gs))
	}
	if _, err := broken.CreateSubject(ctx, admin, engine.Subject{GalleryID: ref.ID, Name: "Jeff"}); err == nil {
		t.Error("subject created although its audit entry failed")
	}
	if ss, _ := f.cat.Subjects(ctx, ref.ID); len(ss) != 1 {
		t.Errorf("%d subjects, want 1", len(ss))
	}
	if _, err := broken.Search(ctx, analyst, engine.SearchRequest{Galleries: []int64{ref.ID}, Purpose: "case 2", Data: facetest.Photo(references["Cleo"], 2)}); err == nil {
		t.Error("search answered although its audit entry failed")
	}
	if n, _ := f.cat.CountMatches(ctx, engine.MatchFilter{}); n != len(res.Faces[0].Candidates) {
		t.Errorf("%d matches, want %d: the unaudited search's were kept", n, len(res.Faces[0].Candidates))
	}
	if _, err := broken.Decide(ctx, reviewer, matchID, engine.NoCandidate, ""); err == nil {
		t.Error("decision recorded although its audit entry failed")
	}
	if m, _ := f.cat.Match(ctx, matchID); len(m.Decisions) != 0 {
		t.Errorf("decisions %+v kept without their audit entry", m.Decisions)
	}
	if _, _, err := broken.CreateToken(ctx, admin, engine.NewCredential{Name: "bob", Role: engine.RoleAnalyst}); err == nil {
		t.Error("credential created although its audit entry failed")
	}
	if ts, _ := f.cat.Tokens(ctx); len(ts) != 0 {
		t.Errorf("credentials %+v kept without their audit entry", ts)
	}
	if _, data, err := broken.ImageBytes(ctx, analyst, up.Image.ID); err == nil || data != nil {
		t.Error("photo served although its view could not be audited")
	} else if !errors.Is(err, engine.ErrUnavailable) {
		t.Errorf("unaudited view: %v, want ErrUnavailable", err)
	}
	if r, err := broken.MatchReport(ctx, analyst, matchID); err == nil || r.Images != nil || !errors.Is(err, engine.ErrUnavailable) {
		t.Errorf("case report made although its making could not be audited: %v", err)
	}
	if err := broken.DeleteImage(ctx, admin, up.Image.ID); err == nil {
		t.Error("photo deleted although its audit entry failed")
	}
	if _, err := f.cat.Image(ctx, up.Image.ID); err != nil {
		t.Errorf("the photo is gone without an audit entry: %v", err)
	}
	after, err := f.cat.Entries(ctx, engine.AuditFilter{Limit: 1000})
	if err != nil || len(after) != len(before) {
		t.Fatalf("audit entries %d then %d (%v)", len(before), len(after), err)
	}
}
