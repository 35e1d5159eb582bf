package index

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/facematch/facematch/index/graph"
)

// TestGraphSegments runs the index with each graph kind: sealed segments get a graph in the
// background, searches through it agree with exact search, gallery filters and deletes hold, and
// after a restart the graphs come back from the store (not rebuilt) and answer the same.
func TestGraphSegments(t *testing.T) {
	for _, kind := range []*GraphKind{HNSWGraph(graph.Config{Seed: 1}), CoderGraph(graph.Config{Seed: 1})} {
		t.Run(kind.Name, func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			ix := openTest(t, dir, 150, kind)
			r := rand.New(rand.NewPCG(21, 22))
			all := addBatches(t, ix, r, 8, 100, func(b int) uint64 { return uint64(b % 2) })
			// Kept before deleting: a compaction may drop them from the index while the test runs.
			deletedVectors := map[uint64][]float32{7: all[7].Vector, 333: all[333].Vector, 640: all[640].Vector}
			deleteFaces(t, ix, all, 7, 333, 640)
			if err := ix.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			if n := graphsBuilt(ix.Index); n != 5 {
				t.Fatalf("%d sealed segments carry a graph, want 5 (800 faces / 150)", n)
			}

			queries := make([][]float32, 40)
			before := make([][]uint64, len(queries))
			var overlap, total int
			for i := range queries {
				queries[i] = unitVector(r, 32)
				h, err := ix.Search(ctx, testModel, queries[i], 10, Filter{})
				if err != nil {
					t.Fatal(err)
				}
				before[i] = hitIDs(h)
				want := exactTop(all, queries[i], 10)
				overlap += countCommon(before[i], want)
				total += len(want)
				assertSorted(t, h)

				h, err = ix.Search(ctx, testModel, queries[i], 5, Filter{Galleries: []uint64{1}})
				if err != nil {
					t.Fatal(err)
				}
				for _, x := range h {
					if x.Gallery != 1 || all[x.ID].Gallery != 1 {
						t.Fatalf("gallery filter 1 returned face %d of gallery %d", x.ID, x.Gallery)
					}
				}
				overlap += countCommon(hitIDs(h), exactTop(all, queries[i], 5, 1))
				total += 5
			}
			if recall := float64(overlap) / float64(total); recall < 0.95 {
				t.Fatalf("recall against exact search %.3f, want >= 0.95", recall)
			}
			for _, id := range []uint64{7, 333, 640} {
				// A deleted face's own vector must not find it.
				h, err := ix.Search(ctx, testModel, deletedVectors[id], 3, Filter{})
				if err != nil || (len(h) > 0 && h[0].ID == id) {
					t.Fatalf("deleted face %d returned: %v %v", id, h, err)
				}
			}
			for id, e := range all {
				if id%37 != 0 {
					continue
				}
				h, err := ix.Search(ctx, testModel, e.Vector, 1, Filter{})
				if err != nil || len(h) != 1 || h[0].ID != id {
					t.Fatalf("self search for %d: %v %v", id, h, err)
				}
			}
			if err := ix.Close(); err != nil {
				t.Fatal(err)
			}

			re := openTest(t, dir, 150, kind)
			if n := graphsBuilt(re.Index); n != 5 {
				t.Fatalf("after restart %d segments carry a graph, want 5 read from the store", n)
			}
			for i, q := range queries {
				h, err := re.Search(ctx, testModel, q, 10, Filter{})
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(hitIDs(h), before[i]) {
					t.Fatalf("query %d after restart: %v, before %v", i, hitIDs(h), before[i])
				}
			}
		})
	}
}

func graphsBuilt(ix *Index) int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	n := 0
	for _, s := range ix.sealed {
		if s.graph.Load() != nil {
			n++
		}
	}
	return n
}

func countCommon(a, b []uint64) int {
	n := 0
	for _, x := range a {
		if slices.Contains(b, x) {
			n++
		}
	}
	return n
}

func assertSorted(t *testing.T, h []Hit) {
	t.Helper()
	for i := 1; i < len(h); i++ {
		if h[i].Similarity > h[i-1].Similarity {
			t.Fatalf("hits not sorted by similarity: %+v", h)
		}
	}
}
