package engine_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/facematch/facematch/engine"
	"github.com/facematch/facematch/face/facetest"
)

// TestRetentionExpiresFinishedSearches: under a policy of 30 days, a search whose items were
// all decided no candidate, and one that made no item, are deleted after 30 days with their
// probe photos and thumbnails (nothing of them is left in the blob store), each audited; a
// search with an item still open is kept, and nothing expires before its time or with the
// policy off.
func TestRetentionExpiresFinishedSearches(t *testing.T) {
	ctx := t.Context()
	f := newFixture(t, fakePipeline())
	ref := f.referenceGallery(t, "wanted", 73, 146)
	search := func(data []byte) engine.SearchResult {
		t.Helper()
		res, err := f.svc.Search(ctx, analyst, engine.SearchRequest{Data: data, Galleries: []int64{ref}, Purpose: "ad"})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	decided := search(facetest.Photo(73, 2))
	open := search(facetest.Photo(146, 2))
	stranger := search(facetest.Photo(400, 1))
	item := decided.Faces[0].Candidates[0].MatchID
	if item == 0 || open.Faces[0].Candidates[0].MatchID == 0 {
		t.Fatalf("the mated searches made no item: %+v, %+v", decided, open)
	}
	for _, rev := range []engine.Actor{reviewer, second} {
		if _, err := f.svc.Decide(ctx, rev, item, engine.NoCandidate, ""); err != nil {
			t.Fatal(err)
		}
	}
	probeBlobs := func() int {
		t.Helper()
		objs, err := f.blobs.List(ctx, "searches/")
		if err != nil {
			t.Fatal(err)
		}
		return len(objs)
	}
	before := probeBlobs()

	now := time.Now()
	if n, err := f.svc.ExpireSearches(ctx, now.Add(1000*24*time.Hour)); err != nil || n != 0 {
		t.Fatalf("with no policy: %d expired, %v", n, err)
	}
	if _, err := f.svc.SetRetention(ctx, admin, engine.RetentionPolicy{SearchDays: -1}); !errors.Is(err, engine.ErrInvalid) {
		t.Errorf("a negative period: %v", err)
	}
	if _, err := f.svc.SetRetention(ctx, admin, engine.RetentionPolicy{SearchDays: 30}); err != nil {
		t.Fatal(err)
	}
	if n, err := f.svc.ExpireSearches(ctx, now.Add(29*24*time.Hour)); err != nil || n != 0 {
		t.Fatalf("before 30 days: %d expired, %v", n, err)
	}
	n, err := f.svc.ExpireSearches(ctx, now.Add(31*24*time.Hour))
	if err != nil || n != 2 {
		t.Fatalf("after 30 days: %d expired, %v; want the decided search and the stranger's", n, err)
	}
	for _, gone := range []int64{decided.Search.ID, stranger.Search.ID} {
		if _, _, err := f.cat.Search(ctx, gone); !errors.Is(err, engine.ErrNotFound) {
			t.Errorf("search %d after expiry: %v", gone, err)
		}
	}
	if _, err := f.cat.Match(ctx, item); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("the decided item after expiry: %v", err)
	}
	if _, _, err := f.cat.Search(ctx, open.Search.ID); err != nil {
		t.Errorf("the open search: %v", err)
	}
	// What is left under searches/ is the open search's photo and thumbnail alone.
	kept := len(open.Faces) + 1
	if got := probeBlobs(); got != kept || before != 3*kept {
		t.Errorf("probe blobs: %d before, %d after; want %d before and %d left", before, got, 3*kept, kept)
	}
	if purges, err := f.cat.PendingPurges(ctx); err != nil || len(purges) != 0 {
		t.Errorf("pending purges: %v, %v", purges, err)
	}
	es, err := f.svc.AuditEntries(ctx, engine.Actor{Name: "aud", Role: engine.RoleAuditor}, engine.AuditFilter{Action: "search.expire", Limit: 10})
	if err != nil || len(es) != 2 || es[0].Actor != "retention-policy" || !strings.Contains(es[0].Input, "search_days=30") {
		t.Errorf("expiry audit: %+v, %v", es, err)
	}
	if es, _ := f.svc.AuditEntries(ctx, engine.Actor{Name: "aud", Role: engine.RoleAuditor}, engine.AuditFilter{Action: "retention.set", Limit: 10}); len(es) != 1 || es[0].Input != "search_days=30 (was 0)" {
		t.Errorf("policy audit: %+v", es)
	}
}
