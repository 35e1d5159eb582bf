package index

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/facematch/facematch/index/graph"
)

// TestNeighbourGraph checks the graph of one gallery's faces, over sealed segments and the
// growing one, against brute force.
func TestNeighbourGraph(t *testing.T) {
	ix := openTest(t, t.TempDir(), 300, HNSWGraph(graph.Config{Seed: 1}))
	r := rand.New(rand.NewPCG(4, 5))
	all := addBatches(t, ix, r, 5, 200, func(b int) uint64 { return uint64(1 + b%2) }) // galleries 1, 2, 1, 2, 1
	deleteFaces(t, ix, all, 3, 450)
	const k = 10
	ids, lists, err := ix.NeighbourGraph(context.Background(), testModel, Filter{Galleries: []uint64{1}}, k, 2)
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for _, e := range all {
		if e.Gallery == 1 {
			want++
		}
	}
	if len(ids) != want || len(lists) != want {
		t.Fatalf("%d faces, %d lists, want %d", len(ids), len(lists), want)
	}
	hit, total := 0, 0
	for i, id := range ids {
		if all[id].Gallery != 1 {
			t.Fatalf("face %d of gallery %d listed", id, all[id].Gallery)
		}
		if len(lists[i]) != k {
			t.Fatalf("face %d: %d neighbours, want %d", id, len(lists[i]), k)
		}
		exact := exactTop(all, all[id].Vector, k+1, 1)
		exact = slices.DeleteFunc(exact, func(x uint64) bool { return x == id })[:k]
		for j, h := range lists[i] {
			if h.ID == id || h.Gallery != 1 {
				t.Fatalf("face %d: neighbour %+v", id, h)
			}
			if j > 0 && h.Similarity > lists[i][j-1].Similarity {
				t.Fatalf("face %d: neighbours not sorted", id)
			}
			if slices.Contains(exact, h.ID) {
				hit++
			}
		}
		total += k
	}
	if recall := float64(hit) / float64(total); recall < 0.95 {
		t.Errorf("recall against brute force %.4f, want >= 0.95", recall)
	}
	if _, _, err := ix.NeighbourGraph(context.Background(), "other", Filter{}, k, 1); !errors.Is(err, ErrModelMismatch) {
		t.Errorf("another model: %v, want ErrModelMismatch", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := ix.NeighbourGraph(ctx, testModel, Filter{}, k, 1); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v, want context.Canceled", err)
	}
}
