package index

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/facematch/facematch/index/graph"
	"github.com/facematch/facematch/internal/blob/local"
)

func openQuantized(t *testing.T, dir string, segmentSize int) *testIndex {
	t.Helper()
	store, err := local.Open(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Dir: filepath.Join(dir, "wal"), Store: store, Prefix: "index/test", Model: testModel, Dim: 32,
		SegmentSize: segmentSize, Graph: HNSWGraph(graph.Config{Seed: 1}), Quantized: true}
	ix, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ix.Close() })
	return &testIndex{ix, cfg}
}

// TestQuantizedSegments: with Quantized, sealed segments are walked on codes, made both when a
// graph is built and when it is read back; every similarity returned is the float32 dot product
// of the query and the stored vector, and recall against exact search holds.
func TestQuantizedSegments(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	ix := openQuantized(t, dir, 150)
	r := rand.New(rand.NewPCG(31, 32))
	all := addBatches(t, ix, r, 8, 100, func(b int) uint64 { return uint64(b % 2) })
	if err := ix.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	check := func(ix *testIndex, when string) {
		t.Helper()
		if n := quantizedGraphs(ix.Index); n != 5 {
			t.Fatalf("%s: %d sealed segments walk codes, want 5", when, n)
		}
		var overlap, total int
		for range 40 {
			q := unitVector(r, 32)
			h, err := ix.Search(ctx, testModel, q, 10, Filter{Ef: 32})
			if err != nil {
				t.Fatal(err)
			}
			assertSorted(t, h)
			for _, x := range h {
				if want := dot(q, all[x.ID].Vector); x.Similarity != want {
					t.Fatalf("%s: face %d: similarity %v, float32 dot product %v", when, x.ID, x.Similarity, want)
				}
			}
			want := exactTop(all, q, 10)
			overlap += countCommon(hitIDs(h), want)
			total += len(want)
		}
		if recall := float64(overlap) / float64(total); recall < 0.95 {
			t.Fatalf("%s: recall against exact search %.3f, want >= 0.95", when, recall)
		}
	}
	check(ix, "built")
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	check(openQuantized(t, dir, 150), "read back")
}

func quantizedGraphs(ix *Index) int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	n := 0
	for _, s := range ix.sealed {
		if h := s.graph.Load(); h != nil {
			if _, ok := h.g.(*graph.Quantized); ok {
				n++
			}
		}
	}
	return n
}

func TestQuantizedConfig(t *testing.T) {
	base := Config{Dir: "wal", Store: nil, Model: testModel, Dim: 32, Quantized: true}
	tests := []struct {
		name  string
		graph *GraphKind
		ok    bool
	}{
		{"hnsw", HNSWGraph(graph.Config{}), true},
		{"no graph", nil, false},
		{"coder", CoderGraph(graph.Config{}), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := base
			c.Graph = tt.graph
			err := c.Validate()
			if got := err == nil || !strings.Contains(err.Error(), "Quantized"); got != tt.ok {
				t.Errorf("Validate: %v", err)
			}
		})
	}
}
