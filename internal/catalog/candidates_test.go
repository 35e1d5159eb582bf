package catalog

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/facematch/facematch/engine"
)

// TestSearchCandidatesAndReviewItems: a search keeps every candidate; only those marked for
// review become matches; the same photo searched again links to the items its first search
// made instead of making them again, while another face box or photo makes its own; a
// candidate below the line can be sent for review once.
func TestSearchCandidatesAndReviewItems(t *testing.T) {
	eachStore(t, func(t *testing.T) {
		ctx := context.Background()
		d, _ := openTest(t)
		ref, _, alice := seed(t, d)
		faces := subjectFaces(t, d, ref, alice, 3)
		line := f32(0.8)
		search := func(actor, sha string, box engine.Box) (engine.SearchRecord, []engine.SearchCandidate) {
			t.Helper()
			rec, _, cs, err := d.RecordSearch(ctx, engine.SearchRecord{Actor: actor, Purpose: "p", Galleries: []int64{ref.ID}, K: 3, ProbeSHA256: sha, CreatedAt: now},
				[]engine.ProbeFace{{Box: box}}, []engine.Candidate{
					{FaceID: faces[0], GalleryID: ref.ID, Similarity: 0.9, Rank: 1, Threshold: line, Review: true},
					{FaceID: faces[1], GalleryID: ref.ID, Similarity: 0.5, Rank: 2, Threshold: line},
					{FaceID: faces[2], GalleryID: ref.ID, Similarity: 0.4, Rank: 3, Threshold: line},
				})
			if err != nil || len(cs) != 3 {
				t.Fatalf("RecordSearch: %v, %d candidates", err, len(cs))
			}
			return rec, cs
		}
		box := engine.Box{X: 10, Y: 10, W: 50, H: 60}
		first, cs := search("ann", "photo-a", box)
		if cs[0].MatchID == 0 || cs[0].Reused || cs[0].Status != engine.Pending || cs[1].MatchID != 0 || cs[2].MatchID != 0 {
			t.Fatalf("first search: %+v, want an item of the first candidate only", cs)
		}
		if n := must[int](t)(d.CountMatches(ctx, engine.MatchFilter{})); n != 1 {
			t.Fatalf("%d matches after the first search, want 1", n)
		}

		// The same photo again, by someone else: no new item; the candidate links to the first.
		again, cs2 := search("bob", "photo-a", box)
		if cs2[0].MatchID != cs[0].MatchID || !cs2[0].Reused {
			t.Errorf("the repeated search's candidate: %+v, want the earlier item %d", cs2[0], cs[0].MatchID)
		}
		// Another face of the photo, or another photo, is a probe of its own.
		_, other := search("ann", "photo-a", engine.Box{X: 200, Y: 10, W: 50, H: 60})
		_, third := search("ann", "photo-b", box)
		if other[0].MatchID == cs[0].MatchID || third[0].MatchID == cs[0].MatchID || other[0].MatchID == 0 || third[0].MatchID == 0 {
			t.Errorf("other face %+v, other photo %+v: want items of their own", other[0], third[0])
		}
		if n := must[int](t)(d.CountMatches(ctx, engine.MatchFilter{})); n != 3 {
			t.Errorf("%d matches, want 3", n)
		}

		// Each search lists its own candidates, with the items they are.
		read := must[[]engine.SearchCandidate](t)(d.SearchCandidates(ctx, again.ID))
		if len(read) != 3 || read[0].MatchID != cs[0].MatchID || !read[0].Reused || read[0].SubjectName != "Alice" || read[1].MatchID != 0 ||
			read[0].Threshold == nil || *read[0].Threshold != 0.8 || read[0].Rank != 1 || read[2].Rank != 3 {
			t.Errorf("candidates of the repeated search: %+v", read)
		}

		// Sending a candidate below the line makes one item, once; it is the sender's request.
		sent, created, err := d.RequestReview(ctx, first.ID, cs[1].ProbeFaceID, faces[1], "carl", now)
		if err != nil || !created || sent.MatchID == 0 || sent.Status != engine.Pending {
			t.Fatalf("send for review: %+v, %t, %v", sent, created, err)
		}
		if m := must[engine.Match](t)(d.Match(ctx, sent.MatchID)); m.RequestedBy != "carl" || m.FaceID != faces[1] {
			t.Errorf("the sent item: %+v", m)
		}
		if again, created, err := d.RequestReview(ctx, first.ID, cs[1].ProbeFaceID, faces[1], "carl", now); err != nil || created || again.MatchID != sent.MatchID {
			t.Errorf("sending it again: %+v, %t, %v; want the same item", again, created, err)
		}
		// The repeated search's same candidate, sent, is the same item too.
		if dup, created, err := d.RequestReview(ctx, again.ID, cs2[1].ProbeFaceID, faces[1], "bob", now); err != nil || created || dup.MatchID != sent.MatchID {
			t.Errorf("the repeated search's candidate sent: %+v, %t, %v; want item %d", dup, created, err, sent.MatchID)
		}
		if _, _, err := d.RequestReview(ctx, first.ID, cs[1].ProbeFaceID, 999, "carl", now); !errors.Is(err, engine.ErrNotFound) {
			t.Errorf("sending a face that was no candidate: %v, want not found", err)
		}
	})
}

// A version-4 database gets a candidate row per match of a search, linked to it.
// SQLite only: migrates SQLite files of older versions (PostgreSQL starts at version 10).
func TestMigrateFromVersion4KeepsSearchesCandidates(t *testing.T) {
	ctx := context.Background()
	d := openMigrated(t, 4, `INSERT INTO galleries (name, kind, model, created_at, created_by) VALUES ('wanted', 'reference', 'm1', '2026', 'a')`,
		`INSERT INTO images (gallery_id, sha256, format, bytes, width, height, blob_key, source, created_at, created_by)
			VALUES (1, 'r', 'jpeg', 1, 1, 1, 'k1', '{}', '2026', 'a')`,
		`INSERT INTO faces (image_id, gallery_id, box, landmarks, quality) VALUES (1, 1, '{}', '[]', '{}')`,
		`INSERT INTO searches (actor, purpose, galleries, k, min_sim, probe_sha256, probe_key, created_at) VALUES ('ann', 'p', '[1]', 5, 0, 'abc', 'k', '2026')`,
		`INSERT INTO probe_faces (search_id, box, quality) VALUES (1, '{}', '{}')`,
		`INSERT INTO matches (search_id, probe_face_id, face_id, gallery_id, similarity, rank, requested_by, created_at)
			VALUES (1, 1, 1, 1, 0.7, 1, 'ann', '2026')`)
	cs := must[[]engine.SearchCandidate](t)(d.SearchCandidates(ctx, 1))
	if len(cs) != 1 || cs[0].MatchID != 1 || cs[0].Similarity != 0.7 || cs[0].Threshold != nil || cs[0].Reused {
		t.Errorf("migrated candidates: %+v", cs)
	}
	if g := must[engine.Gallery](t)(d.Gallery(ctx, 1)); g.TargetFPIR != engine.DefaultTargetFPIR {
		t.Errorf("migrated gallery's target FPIR %g, want the default", g.TargetFPIR)
	}
}

// TestProbeGroups: the queue grouped by probe face, the probe with the most similar item
// first, each group's items most similar first, paged by groups, with the queue's filters.
func TestProbeGroups(t *testing.T) {
	eachStore(t, func(t *testing.T) {
		ctx := context.Background()
		d, all := queueFixture(t) // ann's probe: 0.9, 0.7, 0.5; bob's: 0.8 | 0.7, 0.3
		groups := must[[]engine.ProbeGroup](t)(d.ProbeGroups(ctx, engine.MatchFilter{Limit: 2}))
		if len(groups) != 2 || groups[0].Best != 0.9 || len(groups[0].Items) != 3 || groups[0].Items[0].ID != all[0].ID || groups[0].Items[2].ID != all[2].ID ||
			groups[1].Best != 0.8 || len(groups[1].Items) != 1 {
			t.Fatalf("first page: %+v", groups)
		}
		last := groups[1]
		next := must[[]engine.ProbeGroup](t)(d.ProbeGroups(ctx, engine.MatchFilter{Limit: 2, Cursor: last.ProbeFaceID, CursorSim: last.Best}))
		if len(next) != 1 || next[0].Best != 0.7 || len(next[0].Items) != 2 || next[0].Items[1].Similarity != 0.3 {
			t.Fatalf("second page: %+v", next)
		}
		// Filters apply to the items: ann's own items are not hers to review.
		mine := must[[]engine.ProbeGroup](t)(d.ProbeGroups(ctx, engine.MatchFilter{ReviewableBy: "ann"}))
		for _, g := range mine {
			for _, m := range g.Items {
				if m.RequestedBy == "ann" {
					t.Errorf("ann's own item %d in her reviewable groups", m.ID)
				}
			}
		}
		if len(mine) != 2 {
			t.Errorf("%d groups reviewable by ann, want bob's 2", len(mine))
		}
	})
}

// A job's cross-match record (no probe photo) never expires, and cannot be deleted alone; a
// search's can, once it is old enough and its items are decided negative or absent.
func TestExpiredSearches(t *testing.T) {
	eachStore(t, func(t *testing.T) {
		ctx := context.Background()
		d, _ := openTest(t)
		old := now.Add(-48 * time.Hour)
		job := must[engine.SearchRecord](t)(func() (engine.SearchRecord, error) {
			r, _, _, err := d.RecordSearch(ctx, engine.SearchRecord{Actor: "job", Purpose: "p", Galleries: []int64{1}, K: 5, CreatedAt: old}, nil, nil)
			return r, err
		}())
		mine := must[engine.SearchRecord](t)(func() (engine.SearchRecord, error) {
			r, _, _, err := d.RecordSearch(ctx, engine.SearchRecord{Actor: "ann", Purpose: "p", Galleries: []int64{1}, K: 5, ProbeKey: "searches/x/probe", CreatedAt: old},
				[]engine.ProbeFace{{ThumbKey: "searches/x/face-0.jpg"}}, nil)
			return r, err
		}())
		ids := must[[]int64](t)(d.ExpiredSearches(ctx, now.Add(-24*time.Hour), 10))
		if len(ids) != 1 || ids[0] != mine.ID {
			t.Fatalf("expired: %v, want the search %d alone (not the job's %d)", ids, mine.ID, job.ID)
		}
		if ids := must[[]int64](t)(d.ExpiredSearches(ctx, now.Add(-72*time.Hour), 10)); len(ids) != 0 {
			t.Errorf("expired before it was made: %v", ids)
		}
		if _, err := d.DeleteSearch(ctx, job.ID); !errors.Is(err, engine.ErrConflict) {
			t.Errorf("deleting a job's record: %v", err)
		}
		p := must[engine.Purge](t)(d.DeleteSearch(ctx, mine.ID))
		if len(p.BlobKeys) != 2 || p.BlobKeys[0] != "searches/x/probe" || p.BlobKeys[1] != "searches/x/face-0.jpg" {
			t.Errorf("purge: %+v", p)
		}
	})
}

// A version-4 database's photos get their ads' contact details for the look-up.
// SQLite only: migrates SQLite files of older versions (PostgreSQL starts at version 10).
func TestMigrateFromVersion4FillsContacts(t *testing.T) {
	ctx := context.Background()
	d := openMigrated(t, 4, `INSERT INTO galleries (name, kind, model, created_at, created_by) VALUES ('ads', 'collection', 'm1', '2026', 'a')`,
		`INSERT INTO images (gallery_id, sha256, format, bytes, width, height, blob_key, source, created_at, created_by)
			VALUES (1, 'r', 'jpeg', 1, 1, 1, 'k1', '{"site":"Ads.Example","usernames":["Kitty_K"],"phones":["+4915123456789"],"source_url":"https://ads.example/1","ad_id":"A1"}', '2026', 'a'),
			(1, 's', 'jpeg', 1, 1, 1, 'k2', '{}', '2026', 'a')`)
	for _, c := range []engine.Contact{{Kind: "phone", Value: "+4915123456789"}, {Kind: "username", Value: "kitty_k"},
		{Kind: "site_username", Value: "ads.example/kitty_k"}, {Kind: "url", Value: "https://ads.example/1"}, {Kind: "ad_id", Value: "A1"}} {
		imgs := must[[]engine.Image](t)(d.ImagesWithContact(ctx, c, nil, 10))
		if len(imgs) != 1 || imgs[0].ID != 1 {
			t.Errorf("%s %s: %d photos, want photo 1", c.Kind, c.Value, len(imgs))
		}
	}
	if imgs := must[[]engine.Image](t)(d.ImagesWithContact(ctx, engine.Contact{Kind: "ad_id", Value: "A1"}, []int64{}, 10)); len(imgs) != 0 {
		t.Errorf("no gallery granted: %d photos", len(imgs))
	}
	if hs := must[[]uint64](t)(d.ImageHashes(ctx, 1)); len(hs) != 0 {
		t.Errorf("a photo stored before version 5 has hashes: %v", hs)
	}
}

// A photo's hashes are stored with it, found by any of their four bands, and go with it.
func TestImageHashes(t *testing.T) {
	eachStore(t, func(t *testing.T) {
		ctx := context.Background()
		d, _ := openTest(t)
		_, coll, _ := seed(t, d)
		hashes := []uint64{0x1111222233334444, 0xffff000000000000}
		img, _, err := d.AddImage(ctx, engine.Image{GalleryID: coll.ID, SHA256: "h", Format: "jpeg", BlobKey: "images/h", CreatedAt: now, CreatedBy: "a", Hashes: hashes}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := must[[]uint64](t)(d.ImageHashes(ctx, img.ID)); len(got) != 2 || got[0] != hashes[0] || got[1] != hashes[1] {
			t.Fatalf("hashes read back: %x", got)
		}
		for b, key := range []uint16{0x4444, 0x3333, 0x2222, 0x1111} {
			found := must[[]engine.StoredHash](t)(d.HashCandidates(ctx, b, []uint16{key, 0x0001}, []int{0}))
			if len(found) != 1 || found[0].ImageID != img.ID || found[0].Hash != hashes[0] {
				t.Errorf("band %d: %+v", b, found)
			}
		}
		if found := must[[]engine.StoredHash](t)(d.HashCandidates(ctx, 3, []uint16{0xffff}, []int{1})); len(found) != 1 || found[0].Variant != 1 {
			t.Errorf("variant 1 by its top band: %+v", found)
		}
		must[engine.Purge](t)(d.DeleteImage(ctx, img.ID))
		if found := must[[]engine.StoredHash](t)(d.HashCandidates(ctx, 0, []uint16{0x4444}, []int{0})); len(found) != 0 {
			t.Errorf("hashes left after deleting the photo: %+v", found)
		}
	})
}
