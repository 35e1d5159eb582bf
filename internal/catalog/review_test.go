package catalog

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/facematch/facematch/engine"
)

func f32(v float32) *float32 { return &v }

// queueFixture stores three reference faces and two searches: ann's (case C-1, one probe face,
// three candidates) and bob's (no case, two probe faces, three candidates), with a tie in
// similarity across them.
func queueFixture(t *testing.T) (*DB, []engine.Match) {
	t.Helper()
	d, _ := openTest(t)
	ctx := context.Background()
	ref, _, alice := seed(t, d)
	faces := subjectFaces(t, d, ref, alice, 3)
	var all []engine.Match
	for _, s := range []struct {
		actor, caseRef string
		probes         int
		cands          []engine.Candidate
	}{
		{"ann", "C-1", 1, []engine.Candidate{cand(0, faces[0], 0.9, 1), cand(0, faces[1], 0.7, 2), cand(0, faces[2], 0.5, 3)}},
		{"bob", "", 2, []engine.Candidate{cand(0, faces[0], 0.8, 1), cand(1, faces[1], 0.7, 1), cand(1, faces[2], 0.3, 2)}},
	} {
		_, _, ms, err := d.RecordSearch(ctx, engine.SearchRecord{Actor: s.actor, Purpose: "p", Galleries: []int64{ref.ID}, K: 3, CreatedAt: now,
			Source: engine.Source{CaseRef: s.caseRef, Site: "ads.example"}}, make([]engine.ProbeFace, s.probes), s.cands)
		if err != nil || len(ms) != len(s.cands) {
			t.Fatalf("RecordSearch: %v, %d candidates", err, len(ms))
		}
		for _, c := range ms {
			m, err := d.Match(ctx, c.MatchID)
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, m)
		}
	}
	return d, all
}

// subjectFaces stores n photos of subject with one face each and returns the faces' IDs.
func subjectFaces(t testing.TB, d *DB, g engine.Gallery, subject engine.Subject, n int) []int64 {
	t.Helper()
	var faces []int64
	for i := range n {
		_, fs, err := d.AddImage(context.Background(), engine.Image{GalleryID: g.ID, SubjectID: &subject.ID, SHA256: fmt.Sprintf("photo-%d", i), Format: "jpeg",
			BlobKey: fmt.Sprint("images/photo-", i), CreatedAt: now, CreatedBy: "admin"}, []engine.NewFace{face(1, 0)})
		if err != nil {
			t.Fatal(err)
		}
		faces = append(faces, fs[0].ID)
	}
	return faces
}

func cand(probe int, face int64, sim float32, rank int) engine.Candidate {
	return engine.Candidate{ProbeIndex: probe, FaceID: face, Similarity: sim, Rank: rank, Review: true}
}

func ids(ms []engine.Match) []int64 {
	out := make([]int64, len(ms))
	for i, m := range ms {
		out[i] = m.ID
	}
	return out
}

// pageAll reads every page of f, two matches at a time, following the cursor as the API does.
func pageAll(t *testing.T, d *DB, f engine.MatchFilter) []engine.Match {
	t.Helper()
	f.Limit = 2
	var out []engine.Match
	for range 20 {
		ms := must[[]engine.Match](t)(d.Matches(context.Background(), f))
		out = append(out, ms...)
		if len(ms) < f.Limit {
			return out
		}
		f.Cursor, f.CursorSim = ms[len(ms)-1].ID, ms[len(ms)-1].Similarity
	}
	t.Fatal("paging does not end")
	return nil
}

func TestMatchQueueOrdersPageEveryMatchOnce(t *testing.T) {
	eachStore(t, func(t *testing.T) {
		d, all := queueFixture(t)
		bySim := slices.Clone(all)
		sort.SliceStable(bySim, func(i, j int) bool {
			if bySim[i].Similarity != bySim[j].Similarity {
				return bySim[i].Similarity > bySim[j].Similarity
			}
			return bySim[i].ID > bySim[j].ID
		})
		newest := slices.Clone(ids(all))
		slices.Reverse(newest)
		for _, tc := range []struct {
			order engine.MatchOrder
			want  []int64
		}{
			{"", ids(all)},
			{engine.OldestFirst, ids(all)},
			{engine.NewestFirst, newest},
			{engine.MostSimilarFirst, ids(bySim)},
		} {
			if got := ids(pageAll(t, d, engine.MatchFilter{Order: tc.order})); !slices.Equal(got, tc.want) {
				t.Errorf("order %q: %v, want %v", tc.order, got, tc.want)
			}
		}
	})
}

func TestMatchQueueFilters(t *testing.T) {
	eachStore(t, func(t *testing.T) {
		d, all := queueFixture(t)
		ctx := context.Background()
		if _, err := d.Decide(ctx, all[3].ID, "rev1", engine.NoCandidate, "", 2); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name   string
			filter engine.MatchFilter
			want   []int64
		}{
			{"case", engine.MatchFilter{CaseRef: "C-1"}, ids(all[:3])},
			{"unknown case", engine.MatchFilter{CaseRef: "C-2"}, nil},
			{"similarity range", engine.MatchFilter{MinSim: f32(0.6), MaxSim: f32(0.8)}, []int64{all[1].ID, all[3].ID, all[4].ID}},
			{"probe face", engine.MatchFilter{ProbeFaceID: all[4].ProbeFaceID}, []int64{all[4].ID, all[5].ID}},
			{"search", engine.MatchFilter{SearchID: *all[3].SearchID}, ids(all[3:])},
			{"not ann's", engine.MatchFilter{ReviewableBy: "ann"}, ids(all[3:])},
			{"not decided by rev1", engine.MatchFilter{ReviewableBy: "rev1"}, []int64{all[0].ID, all[1].ID, all[2].ID, all[4].ID, all[5].ID}},
			// One decision of two required leaves a match pending.
			{"pending, by similarity", engine.MatchFilter{Status: []engine.MatchStatus{engine.Pending}, Order: engine.MostSimilarFirst, MinSim: f32(0.7)},
				[]int64{all[0].ID, all[3].ID, all[4].ID, all[1].ID}},
			{"job", engine.MatchFilter{JobID: 1}, nil},
		} {
			got := pageAll(t, d, tc.filter)
			if !slices.Equal(ids(got), tc.want) {
				t.Errorf("%s: %v, want %v", tc.name, ids(got), tc.want)
			}
			n := must[int](t)(d.CountMatches(ctx, tc.filter))
			if n != len(tc.want) {
				t.Errorf("%s: count %d, want %d", tc.name, n, len(tc.want))
			}
		}
		m := must[engine.Match](t)(d.Match(ctx, all[0].ID))
		if m.CaseRef != "C-1" || m.SubjectName != "Alice" {
			t.Errorf("match carries case %q and subject %q, want C-1 and Alice", m.CaseRef, m.SubjectName)
		}
		s, _ := must2(t)(d.Search(ctx, *all[0].SearchID))
		if s.Source.CaseRef != "C-1" || s.Source.Site != "ads.example" {
			t.Errorf("search source = %+v", s.Source)
		}
	})
}

func must2(t *testing.T) func(engine.SearchRecord, []engine.ProbeFace, error) (engine.SearchRecord, []engine.ProbeFace) {
	return func(s engine.SearchRecord, p []engine.ProbeFace, err error) (engine.SearchRecord, []engine.ProbeFace) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return s, p
	}
}

// The default queue page, most similar first, walks the similarity index and stops at the
// page's end instead of sorting every pending match (BenchmarkReviewQueue measures both).
//
// SQLite only: it reads SQLite's query plan.
func TestQueuePageWalksTheSimilarityIndex(t *testing.T) {
	d, _ := queueFixture(t)
	f := engine.MatchFilter{Status: []engine.MatchStatus{engine.Pending, engine.Disputed}, ReviewableBy: "rev1", Order: engine.MostSimilarFirst, Limit: 50,
		Cursor: 3, CursorSim: 0.7}
	q, args := matchPageQuery(f, false)
	rows, err := d.db.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	joined := strings.Join(plan, "\n")
	if !strings.Contains(joined, "matches_similarity") || strings.Contains(joined, "TEMP B-TREE") {
		t.Errorf("queue page plan:\n%s", joined)
	}
}

// A version-2 database gets its matches' case from the cross-matched photo's metadata.
// SQLite only: migrates SQLite files of older versions (PostgreSQL starts at version 10).
func TestMigrateFromVersion2FilesMatchesUnderTheirCase(t *testing.T) {
	ctx := context.Background()
	d := openMigrated(t, 2, `INSERT INTO galleries (name, kind, model, created_at, created_by) VALUES ('wanted', 'reference', 'm1', '2026', 'a'), ('ads', 'collection', 'm1', '2026', 'a')`,
		`INSERT INTO images (gallery_id, sha256, format, bytes, width, height, blob_key, source, created_at, created_by)
			VALUES (1, 'r', 'jpeg', 1, 1, 1, 'k1', '{}', '2026', 'a'), (2, 'c', 'jpeg', 1, 1, 1, 'k2', '{"case_ref":"OP-9"}', '2026', 'a')`,
		`INSERT INTO faces (image_id, gallery_id, box, landmarks, quality) VALUES (1, 1, '{}', '[]', '{}'), (2, 2, '{}', '[]', '{}')`,
		`INSERT INTO searches (actor, purpose, galleries, k, min_sim, probe_sha256, probe_key, created_at) VALUES ('job', 'p', '[1]', 5, 0, '', '', '2026')`,
		`INSERT INTO probe_faces (search_id, box, quality, face_id) VALUES (1, '{}', '{}', 2), (1, '{}', '{}', NULL)`,
		`INSERT INTO matches (search_id, probe_face_id, face_id, gallery_id, similarity, rank, requested_by, created_at)
			VALUES (1, 1, 1, 1, 0.9, 1, 'job', '2026'), (1, 2, 1, 1, 0.8, 1, 'ann', '2026')`)
	for id, want := range map[int64]string{1: "OP-9", 2: ""} {
		if m := must[engine.Match](t)(d.Match(ctx, id)); m.CaseRef != want {
			t.Errorf("match %d: case %q, want %q", id, m.CaseRef, want)
		}
	}
	if n := must[int](t)(d.CountMatches(ctx, engine.MatchFilter{CaseRef: "OP-9"})); n != 1 {
		t.Errorf("%d matches of case OP-9, want 1", n)
	}
}

// BenchmarkReviewQueue measures what the review page asks for each queue page: 50 pending or
// disputed matches the reviewer may still decide, most similar first (first page and a page
// deep in the queue), and their count, over queues of 10,000 and 100,000 pending matches.
//
//	go test -run '^$' -bench ReviewQueue -benchtime 200x ./internal/catalog
func BenchmarkReviewQueue(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		d, _ := openTest(b)
		ctx := context.Background()
		ref, _, alice := seed(b, d)
		faces := subjectFaces(b, d, ref, alice, 20)
		// Searches of 1,000 matches each (50 probe faces × 20 candidates), by two analysts.
		for s := 0; s < n/1000; s++ {
			var cands []engine.Candidate
			for p := range 50 {
				for j, f := range faces {
					cands = append(cands, cand(p, f, 0.2+0.6*float32((s*1000+p*20+j)%997)/997, j+1))
				}
			}
			if _, _, _, err := d.RecordSearch(ctx, engine.SearchRecord{Actor: []string{"ann", "bob"}[s%2], Purpose: "p", Galleries: []int64{ref.ID}, K: 20,
				CreatedAt: now}, make([]engine.ProbeFace, 50), cands); err != nil {
				b.Fatal(err)
			}
		}
		queue := engine.MatchFilter{Status: []engine.MatchStatus{engine.Pending, engine.Disputed}, ReviewableBy: "rev1", Order: engine.MostSimilarFirst, Limit: 50}
		deep := queue
		for range 20 { // the 21st page
			ms, err := d.Matches(ctx, deep)
			if err != nil || len(ms) != 50 {
				b.Fatalf("%d matches, %v", len(ms), err)
			}
			deep.Cursor, deep.CursorSim = ms[49].ID, ms[49].Similarity
		}
		for _, bc := range []struct {
			name string
			run  func() error
		}{
			{"first-page", func() error { _, err := d.Matches(ctx, queue); return err }},
			{"page-21", func() error { _, err := d.Matches(ctx, deep); return err }},
			{"count", func() error { _, err := d.CountMatches(ctx, queue); return err }},
			{"case-filter-page", func() error {
				_, err := d.Matches(ctx, engine.MatchFilter{CaseRef: "none", Order: engine.MostSimilarFirst, Limit: 50})
				return err
			}},
		} {
			b.Run(fmt.Sprintf("pending=%d/%s", n, bc.name), func(b *testing.B) {
				for b.Loop() {
					if err := bc.run(); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
