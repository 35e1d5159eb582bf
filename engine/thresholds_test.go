package engine_test

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/facematch/facematch/engine"
	"github.com/facematch/facematch/face/facetest"
)

// TestSearchMakesItemsAboveTheGalleryThreshold: a search shows the analyst every candidate, but
// only those at or above the gallery's operating threshold become review items, and the same
// photo searched again makes none it made before; the stored search reads back the same.
func TestSearchMakesItemsAboveTheGalleryThreshold(t *testing.T) {
	ctx := t.Context()
	f := newFixture(t, fakePipeline())
	ref := f.referenceGallery(t, "wanted", 73, 146, 292, 400)
	req := engine.SearchRequest{Data: facetest.Photo(73, 2), Galleries: []int64{ref}, MinSim: -1, Purpose: "ad 1"}
	res, err := f.svc.Search(ctx, analyst, req)
	if err != nil || len(res.Faces) != 1 || len(res.Galleries) != 1 {
		t.Fatalf("search: %+v, %v", res, err)
	}
	op := res.Galleries[0]
	if op.Threshold == nil || op.Faces != 4 || op.TargetFPIR != engine.DefaultTargetFPIR || !strings.Contains(op.Meaning, "1 in 100 searches of a stranger") {
		t.Fatalf("operating point: %+v", op)
	}
	cands := res.Faces[0].Candidates
	if len(cands) != 4 || cands[0].SubjectName != "person 73" || cands[0].MatchID == 0 || cands[0].Meaning == "" {
		t.Fatalf("candidates: %+v", cands)
	}
	for _, c := range cands[1:] {
		if c.MatchID != 0 || c.Similarity >= *op.Threshold || c.Threshold == nil || *c.Threshold != *op.Threshold {
			t.Errorf("a stranger below the threshold: %+v", c)
		}
	}
	items := func() int {
		n, err := f.cat.CountMatches(ctx, engine.MatchFilter{})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := items(); n != 1 {
		t.Fatalf("%d review items, want 1", n)
	}

	// The same photo again (another purpose): the same candidates, no new item.
	req.Purpose = "ad 1, again"
	again, err := f.svc.Search(ctx, analyst, req)
	if err != nil {
		t.Fatal(err)
	}
	if c := again.Faces[0].Candidates[0]; c.MatchID != cands[0].MatchID || !c.Reused {
		t.Errorf("the repeated search's first candidate: %+v, want item %d", c, cands[0].MatchID)
	}
	if n := items(); n != 1 {
		t.Errorf("%d review items after the repeated search, want 1", n)
	}
	es, err := f.svc.AuditEntries(ctx, engine.Actor{Name: "aud", Role: engine.RoleAuditor}, engine.AuditFilter{Action: "search.create", Limit: 1})
	if err != nil || len(es) != 1 || !strings.Contains(es[0].Result, "matches=[]") || !strings.Contains(es[0].Result, "earlier_matches=[") {
		t.Errorf("the repeated search's audit entry: %+v, %v", es, err)
	}

	// The stored search reads back with its candidates and the items they are.
	view, err := f.svc.SearchRecord(ctx, reviewer, again.Search.ID)
	if err != nil || len(view.Faces) != 1 || len(view.Faces[0].Candidates) != 4 || view.Faces[0].Candidates[0].MatchID != cands[0].MatchID ||
		view.Faces[0].Candidates[0].Status != engine.Pending || len(view.Galleries) != 1 {
		t.Errorf("the search read back: %+v, %v", view, err)
	}
}

// TestTargetFPIR: an admin's target moves the gallery's threshold; values outside (0, 0.5] are
// refused; the change is audited with the threshold it gives.
func TestTargetFPIR(t *testing.T) {
	ctx := t.Context()
	f := newFixture(t, fakePipeline())
	ref := f.referenceGallery(t, "wanted", 73, 146)
	before, err := f.svc.Gallery(ctx, admin, ref)
	if err != nil || before.Operating == nil || before.Operating.Threshold == nil {
		t.Fatalf("gallery: %+v, %v", before, err)
	}
	for _, bad := range []float64{0, -0.1, 0.9, math.NaN(), math.Inf(1), 1e-9} {
		if _, err := f.svc.SetGalleryPolicy(ctx, admin, ref, engine.GalleryPolicy{TargetFPIR: &bad}); !errors.Is(err, engine.ErrInvalid) || !strings.Contains(err.Error(), "target_fpir must be in") {
			t.Errorf("target %g: %v, want invalid", bad, err)
		}
	}
	if _, err := f.svc.SetGalleryPolicy(ctx, admin, 999, engine.GalleryPolicy{TargetFPIR: ptr(0.01)}); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("an unknown gallery: %v", err)
	}
	g, err := f.svc.SetGalleryPolicy(ctx, admin, ref, engine.GalleryPolicy{TargetFPIR: ptr(0.001)})
	if err != nil || g.TargetFPIR != 0.001 || *g.Operating.Threshold <= *before.Operating.Threshold {
		t.Fatalf("stricter target: %+v, %v (threshold before %g)", g, err, *before.Operating.Threshold)
	}
	if read, _ := f.svc.Gallery(ctx, analyst, ref); read.TargetFPIR != 0.001 || *read.Operating.Threshold != *g.Operating.Threshold {
		t.Errorf("read back: %+v", read)
	}
	es, err := f.svc.AuditEntries(ctx, engine.Actor{Name: "aud", Role: engine.RoleAuditor}, engine.AuditFilter{Action: "gallery.policy", Limit: 5})
	if err != nil || len(es) != 1 || !strings.Contains(es[0].Input, "target_fpir=0.001 (was 0.01) minors=false (was false)") || !strings.Contains(es[0].Result, "threshold=") {
		t.Errorf("audit: %+v, %v", es, err)
	}
}

func ptr[T any](v T) *T { return &v }
