package catalog

import (
	"context"
	"fmt"
	"testing"

	"github.com/facematch/facematch/engine"
)

// BenchmarkStores compares SQLite and PostgreSQL (the test binary's own server, on 127.0.0.1,
// fsync on) on three catalog operations, each an API request's store work: a review-queue page
// (50 pending or disputed matches a reviewer may decide, most similar first, of 5,000), a
// decision (one reviewer's, in its own write transaction), and an ingest commit (CommitIngest of
// 8 photos of 2 faces each, 512-dimensional vectors, with their job items).
//
//	go test -run '^$' -bench Stores -benchtime 1000x ./internal/catalog
func BenchmarkStores(b *testing.B) {
	for _, store := range []string{"sqlite", "postgres"} {
		b.Run(store, func(b *testing.B) {
			ctx := context.Background()
			d, _ := openTest(b)
			ref, _, alice := seed(b, d)
			faces := subjectFaces(b, d, ref, alice, 20)
			var pending []int64
			for s := range 5 { // 5 searches × 50 probe faces × 20 candidates
				var cands []engine.Candidate
				for p := range 50 {
					for j, f := range faces {
						cands = append(cands, cand(p, f, 0.2+0.6*float32((s*1000+p*20+j)%997)/997, j+1))
					}
				}
				_, _, sc, err := d.RecordSearch(ctx, engine.SearchRecord{Actor: "ann", Purpose: "p", Galleries: []int64{ref.ID}, K: 20, CreatedAt: now},
					make([]engine.ProbeFace, 50), cands)
				if err != nil {
					b.Fatal(err)
				}
				for _, c := range sc {
					pending = append(pending, c.MatchID)
				}
			}
			if d.pg { // as autovacuum would soon: a fresh table's planner statistics are empty
				if _, err := d.write.ExecContext(ctx, "ANALYZE"); err != nil {
					b.Fatal(err)
				}
			}
			queue := engine.MatchFilter{Status: []engine.MatchStatus{engine.Pending, engine.Disputed}, ReviewableBy: "rev1", Order: engine.MostSimilarFirst, Limit: 50}
			b.Run("queue-page", func(b *testing.B) {
				for b.Loop() {
					if ms, err := d.Matches(ctx, queue); err != nil || len(ms) != 50 {
						b.Fatalf("%d matches, %v", len(ms), err)
					}
				}
			})
			b.Run("decide", func(b *testing.B) {
				i := 0
				for b.Loop() {
					if i == len(pending) {
						b.Fatalf("more decisions than the %d matches (use -benchtime Nx, N ≤ %d)", len(pending), len(pending))
					}
					if _, err := d.Decide(ctx, pending[i], "rev9", engine.NoCandidate, "", 2); err != nil {
						b.Fatal(err)
					}
					i++
				}
			})
			b.Run("commit-ingest-8x2", func(b *testing.B) {
				job := must[engine.Job](b)(d.CreateJob(ctx, engine.Job{Kind: engine.IngestJob, GalleryID: ref.ID,
					Spec: engine.JobSpec{Source: "/x", Purpose: "p"}, CreatedBy: "op", CreatedAt: now}))
				vec := make([]float32, 512)
				for i := range vec {
					vec[i] = float32(i) / 512
				}
				n := 0
				for b.Loop() {
					batch := make([]engine.IngestItem, 8)
					for i := range batch {
						n++
						img := engine.Image{GalleryID: ref.ID, SHA256: fmt.Sprint("ingest-", n), Format: "jpeg", BlobKey: fmt.Sprint("k", n), CreatedAt: now, CreatedBy: "op"}
						nf := []engine.NewFace{{Face: engine.StoredFace{Model: "m@1"}, Vector: vec}, {Face: engine.StoredFace{Model: "m@1"}, Vector: vec}}
						batch[i] = engine.IngestItem{Item: engine.JobItem{Name: fmt.Sprint(n, ".jpg"), State: engine.ItemStored}, Image: &img, Faces: nf}
					}
					if _, _, err := d.CommitIngest(ctx, job, batch); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}
