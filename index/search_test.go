package index

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/facematch/facematch/index/graph"
	"github.com/facematch/facematch/internal/blob/local"
)

func TestSegmentEf(t *testing.T) {
	for _, tc := range []struct {
		name        string
		ef, n, size int
		want        int
	}{
		{"configured size", 512, 100_000, 100_000, 512},
		{"merged tenfold", 512, 1_000_000, 100_000, 3086},
		{"merged hundredfold", 512, 10_000_000, 100_000, 18590},
		{"half after compaction", 512, 50_000, 100_000, 299},
		{"small floor", 512, 100, 100_000, 64},
		{"floor not above ef", 16, 100, 100_000, 16},
		{"capped", 60_000, 10_000_000, 100_000, 1 << 16},
		{"empty segment", 512, 0, 100_000, 512},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := segmentEf(tc.ef, tc.n, tc.size); got != tc.want {
				t.Errorf("segmentEf(%d, %d, %d) = %d, want %d", tc.ef, tc.n, tc.size, got, tc.want)
			}
		})
	}
}

// sharedBoundIndex is an index of 1,200 random faces in eight sealed segments and a growing one,
// in two galleries. Graphs are built on one worker, so they are the same in every run: the bound
// may cut a walk short of a result that a walk in full finds (notes: qsearch.md measures how
// rarely), and a test of identical results must not depend on how a parallel build went.
func sharedBoundIndex(t *testing.T, quantized bool) (*testIndex, map[uint64]Entry) {
	t.Helper()
	dir := t.TempDir()
	store, err := local.Open(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Dir: filepath.Join(dir, "wal"), Store: store, Prefix: "index/test", Model: testModel, Dim: 32,
		SegmentSize: 150, Graph: HNSWGraph(graph.Config{Seed: 1, Workers: 1}), Quantized: quantized}
	ix, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ix.Close() })
	r := rand.New(rand.NewPCG(41, 42))
	tix := &testIndex{ix, cfg}
	all := addBatches(t, tix, r, 12, 100, func(b int) uint64 { return uint64(b % 2) })
	if err := ix.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	return tix, all
}

// TestSearchSharedBoundIdentical: on a small index the shared threshold changes no result: the
// same faces with bit-for-bit the same similarities as walks run in full, with and without a
// gallery filter, float32 and quantized walks.
func TestSearchSharedBoundIdentical(t *testing.T) {
	ctx := context.Background()
	for _, quantized := range []bool{false, true} {
		ix, all := sharedBoundIndex(t, quantized)
		r := rand.New(rand.NewPCG(43, 44))
		for i := range 60 {
			q := unitVector(r, 32)
			f := Filter{Ef: 64}
			if i%3 == 0 {
				f.Galleries = []uint64{1}
			}
			ix.Index.cfg.searchUnbounded = true
			want, err := ix.Search(ctx, testModel, q, 10, f)
			if err != nil {
				t.Fatal(err)
			}
			ix.Index.cfg.searchUnbounded = false
			got, err := ix.Search(ctx, testModel, q, 10, f)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("quantized %v, query %d: with the bound %v, without %v", quantized, i, got, want)
			}
			if len(got) != 10 {
				t.Fatalf("quantized %v, query %d: %d hits", quantized, i, len(got))
			}
			for _, h := range got {
				if h.Similarity != dot(q, all[h.ID].Vector) {
					t.Fatalf("face %d: similarity %v, dot product %v", h.ID, h.Similarity, dot(q, all[h.ID].Vector))
				}
			}
		}
	}
}

// TestSearchSharedBoundConcurrent: concurrent searches, each with its own bound and prepared
// query, return sorted exact similarities and keep recall (run with -race).
func TestSearchSharedBoundConcurrent(t *testing.T) {
	ix, all := sharedBoundIndex(t, true)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 45))
			var overlap, total int
			for range 25 {
				q := unitVector(r, 32)
				h, err := ix.Search(context.Background(), testModel, q, 10, Filter{Ef: 64})
				if err != nil {
					t.Error(err)
					return
				}
				for i, x := range h {
					if x.Similarity != dot(q, all[x.ID].Vector) || i > 0 && x.Similarity > h[i-1].Similarity {
						t.Errorf("hit %d of %v: not sorted exact similarities", i, h)
						return
					}
				}
				overlap += countCommon(hitIDs(h), exactTop(all, q, 10))
				total += 10
			}
			if rec := float64(overlap) / float64(total); rec < 0.95 {
				t.Errorf("worker %d: recall %.3f, want >= 0.95", w, rec)
			}
		}()
	}
	wg.Wait()
}
