package graph

import (
	"context"
	"errors"
	"testing"
)

// TestKNN checks both k-nearest-neighbour graphs against brute force: of each vector's true k
// nearest others at or above a similarity line (the only edges clustering uses), the share
// found.
func TestKNN(t *testing.T) {
	n := 4000
	if raceEnabled || testing.Short() {
		n = 1500
	}
	const dim, k, perID, line = 64, 10, 8, 0.5
	vectors, _ := faceLike(3, n, 0, dim, perID)
	g, err := Build(context.Background(), vectors, dim, Config{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	truth := make([][]uint32, n)
	sims := make([][]float32, n)
	for i := range n {
		q := vectors[i*dim : (i+1)*dim]
		for _, id := range exact(vectors, dim, q, k+1) {
			if id == uint32(i) {
				continue
			}
			if s := dot(q, vectors[int(id)*dim:(int(id)+1)*dim]); s >= line && len(truth[i]) < k {
				truth[i] = append(truth[i], id)
				sims[i] = append(sims[i], s)
			}
		}
	}
	tests := []struct {
		name string
		knn  func() ([][]Neighbor, error)
		want float64
	}{
		{"search ef 32", func() ([][]Neighbor, error) { return g.KNN(context.Background(), k, 32, 2) }, 0.97},
		{"base layer and its neighbours", func() ([][]Neighbor, error) { return g.BaseKNN(context.Background(), k, 2) }, 0.90},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lists, err := tt.knn()
			if err != nil {
				t.Fatal(err)
			}
			if len(lists) != n {
				t.Fatalf("%d lists, want %d", len(lists), n)
			}
			hit, total := 0, 0
			for i, l := range lists {
				if len(l) != k {
					t.Fatalf("vector %d: %d neighbours, want %d", i, len(l), k)
				}
				checkSorted(t, l, n)
				found := map[uint32]float32{}
				for _, nb := range l {
					if nb.ID == uint32(i) {
						t.Fatalf("vector %d is its own neighbour", i)
					}
					found[nb.ID] = nb.Similarity
				}
				for j, id := range truth[i] {
					total++
					if s, ok := found[id]; ok {
						hit++
						if s != sims[i][j] {
							t.Fatalf("vector %d: similarity to %d is %v, want %v", i, id, s, sims[i][j])
						}
					}
				}
			}
			recall := float64(hit) / float64(total)
			t.Logf("n=%d: %d true edges at or above %.2f, recall %.4f", n, total, line, recall)
			if total < n {
				t.Fatalf("only %d true edges above the line: the test data is too sparse", total)
			}
			if recall < tt.want {
				t.Errorf("edge recall %.4f, want >= %.2f", recall, tt.want)
			}
		})
	}
}

func TestKNNArguments(t *testing.T) {
	vectors, _ := faceLike(1, 50, 0, 8, 5)
	g, err := Build(context.Background(), vectors, 8, Config{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.KNN(context.Background(), 0, 10, 1); !errors.Is(err, ErrInvalidK) {
		t.Errorf("KNN(k=0) = %v, want ErrInvalidK", err)
	}
	if _, err := g.BaseKNN(context.Background(), 0, 1); !errors.Is(err, ErrInvalidK) {
		t.Errorf("BaseKNN(k=0) = %v, want ErrInvalidK", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := g.KNN(ctx, 5, 10, 1); !errors.Is(err, context.Canceled) {
		t.Errorf("KNN on a cancelled context = %v, want context.Canceled", err)
	}
	// More neighbours than the graph has: every other vector, once.
	lists, err := g.KNN(context.Background(), 100, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(lists[0]) != 49 {
		t.Errorf("k=100 over 50 vectors: %d neighbours, want 49", len(lists[0]))
	}
	empty, err := Build(context.Background(), nil, 8, Config{})
	if err != nil {
		t.Fatal(err)
	}
	if lists, err := empty.BaseKNN(context.Background(), 5, 0); err != nil || len(lists) != 0 {
		t.Errorf("empty graph: %d lists, %v", len(lists), err)
	}
}
