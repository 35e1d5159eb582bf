package graph

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr []string // substrings, all must appear
	}{
		{"zero means defaults", Config{}, nil},
		{"explicit", Config{M: 16, EfConstruction: 200, EfSearch: 64, Seed: -3, Workers: 2}, nil},
		{"M too small", Config{M: 1}, []string{"M must be"}},
		{"M too large", Config{M: maxM + 1}, []string{"M must be"}},
		{"negative ef construction", Config{EfConstruction: -1}, []string{"EfConstruction"}},
		{"negative ef search", Config{EfSearch: -1}, []string{"EfSearch"}},
		{"negative workers", Config{Workers: -1}, []string{"Workers"}},
		{"lists every problem", Config{M: 1, EfConstruction: -1, EfSearch: maxEf + 1, Workers: -2},
			[]string{"M must be", "EfConstruction", "EfSearch", "Workers"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate() = nil, want error")
			}
			for _, s := range tt.wantErr {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("Validate() = %q, missing %q", err, s)
				}
			}
		})
	}
	for _, im := range impls {
		if _, err := im.build(context.Background(), nil, 4, Config{M: 1}); err == nil {
			t.Errorf("%s: build with invalid config succeeded", im.name)
		}
	}
}

func TestSearchArguments(t *testing.T) {
	const dim = 16
	vectors, _ := faceLike(2, 100, 0, dim, 5)
	for _, im := range impls {
		g, err := im.build(context.Background(), vectors, dim, Config{Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name    string
			query   []float32
			k, ef   int
			wantErr error
		}{
			{"ok", make([]float32, dim), 5, 0, nil},
			{"short query", make([]float32, dim-1), 5, 0, ErrDimension},
			{"long query", make([]float32, dim+1), 5, 0, ErrDimension},
			{"nil query", nil, 5, 0, ErrDimension},
			{"k zero", make([]float32, dim), 0, 0, ErrInvalidK},
			{"k negative", make([]float32, dim), -1, 0, ErrInvalidK},
		}
		for _, tt := range tests {
			t.Run(im.name+"/"+tt.name, func(t *testing.T) {
				_, err := g.Search(tt.query, tt.k, tt.ef)
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Search error = %v, want %v", err, tt.wantErr)
				}
			})
		}
		t.Run(im.name+"/negative ef", func(t *testing.T) {
			if _, err := g.Search(make([]float32, dim), 1, -1); err == nil {
				t.Fatal("negative ef accepted")
			}
		})
	}
}

func TestBuildArguments(t *testing.T) {
	tests := []struct {
		name    string
		vectors []float32
		dim     int
	}{
		{"not a multiple of dim", make([]float32, 10), 3},
		{"zero dim", make([]float32, 10), 0},
		{"negative dim", nil, -1},
	}
	for _, im := range impls {
		for _, tt := range tests {
			t.Run(im.name+"/"+tt.name, func(t *testing.T) {
				if _, err := im.build(context.Background(), tt.vectors, tt.dim, Config{}); !errors.Is(err, ErrDimension) {
					t.Fatalf("build error = %v, want ErrDimension", err)
				}
			})
		}
	}
}

// TestSmall covers n = 0, 1, 2 and k larger than n.
func TestSmall(t *testing.T) {
	const dim = 8
	for _, im := range impls {
		for _, n := range []int{0, 1, 2, 3, 17} {
			for _, k := range []int{1, 2, 5, 100} {
				t.Run(fmt.Sprintf("%s/n=%d/k=%d", im.name, n, k), func(t *testing.T) {
					vectors, queries := faceLike(3, n, 4, dim, 1)
					g, err := im.build(context.Background(), vectors, dim, Config{Seed: 5})
					if err != nil {
						t.Fatal(err)
					}
					if g.Len() != n {
						t.Fatalf("Len() = %d, want %d", g.Len(), n)
					}
					for qi := range 4 {
						q := queries[qi*dim : (qi+1)*dim]
						res, err := g.Search(q, k, 0)
						if err != nil {
							t.Fatal(err)
						}
						if want := min(k, n); len(res) != want {
							t.Fatalf("got %d results, want %d", len(res), want)
						}
						checkSorted(t, res, n)
						// On so few nodes every search is exhaustive.
						want := exact(vectors, dim, q, k)
						for i := range res {
							if res[i].ID != want[i] {
								t.Fatalf("result %d = %d, want %d", i, res[i].ID, want[i])
							}
							if s := dot(q, vectors[int(want[i])*dim:(int(want[i])+1)*dim]); res[i].Similarity != s {
								t.Fatalf("similarity %v, want exact dot %v", res[i].Similarity, s)
							}
						}
					}
					var buf bytes.Buffer
					if _, err := g.WriteTo(&buf); err != nil {
						t.Fatal(err)
					}
					g2, err := im.read(&buf, vectors, dim)
					if err != nil {
						t.Fatal(err)
					}
					if g2.Len() != n {
						t.Fatalf("read Len() = %d, want %d", g2.Len(), n)
					}
				})
			}
		}
	}
}

// TestSearchFindsItself: a stored vector's nearest neighbour is itself.
func TestSearchFindsItself(t *testing.T) {
	const n, dim = 1000, 64
	vectors, _ := faceLike(4, n, 0, dim, 5)
	for _, im := range impls {
		t.Run(im.name, func(t *testing.T) {
			g, err := im.build(context.Background(), vectors, dim, Config{Seed: 9})
			if err != nil {
				t.Fatal(err)
			}
			miss := 0
			for i := range n {
				res, err := g.Search(vectors[i*dim:(i+1)*dim], 1, 32)
				if err != nil {
					t.Fatal(err)
				}
				if res[0].ID != uint32(i) {
					miss++
				}
			}
			if miss > n/100 {
				t.Errorf("%d of %d vectors not their own nearest neighbour", miss, n)
			}
		})
	}
}

func TestConcurrentSearch(t *testing.T) {
	const n, dim, nq = 1000, 64, 64
	vectors, queries := faceLike(5, n, nq, dim, 5)
	for _, im := range impls {
		t.Run(im.name, func(t *testing.T) {
			g, err := im.build(context.Background(), vectors, dim, Config{Seed: 3})
			if err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			errs := make(chan error, 8)
			for w := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range nq {
						ef := 16 << ((w + i) % 3) // mixed ef exercises Coder's write-lock path
						res, err := g.Search(queries[i*dim:(i+1)*dim], 10, ef)
						if err != nil {
							errs <- err
							return
						}
						if len(res) != 10 {
							errs <- fmt.Errorf("got %d results", len(res))
							return
						}
						if w == 0 && i%16 == 0 {
							var buf bytes.Buffer
							if _, err := g.WriteTo(&buf); err != nil {
								errs <- err
								return
							}
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
		})
	}
}

// TestConcurrentSearchDeterministic: HNSW searches are pure functions of
// the graph, so concurrent results equal serial ones.
func TestConcurrentSearchDeterministic(t *testing.T) {
	const n, dim, nq = 2000, 32, 100
	vectors, queries := faceLike(6, n, nq, dim, 5)
	g, err := Build(context.Background(), vectors, dim, Config{Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	want := make([][]Neighbor, nq)
	for i := range nq {
		if want[i], err = g.Search(queries[i*dim:(i+1)*dim], 10, 40); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range nq {
				i := (j + w*13) % nq
				got, err := g.Search(queries[i*dim:(i+1)*dim], 10, 40)
				if err != nil {
					t.Error(err)
					return
				}
				if fmt.Sprint(got) != fmt.Sprint(want[i]) {
					t.Errorf("query %d: concurrent %v, serial %v", i, got, want[i])
					return
				}
			}
		}()
	}
	wg.Wait()
}

// TestBuildDeterministic: a single-worker HNSW build is a function of the
// vectors and the seed. (Not so for coder/hnsw: its layers enter the graph
// at "the first node in map iteration", which Go randomises, so even a
// seeded Rng does not make its builds or searches repeatable.)
func TestBuildDeterministic(t *testing.T) {
	const n, dim = 800, 32
	vectors, _ := faceLike(7, n, 0, dim, 5)
	for _, im := range impls[:1] {
		t.Run(im.name, func(t *testing.T) {
			var out [2][]byte
			for i := range out {
				g, err := im.build(context.Background(), vectors, dim, Config{Seed: 11, Workers: 1})
				if err != nil {
					t.Fatal(err)
				}
				var buf bytes.Buffer
				if _, err := g.WriteTo(&buf); err != nil {
					t.Fatal(err)
				}
				out[i] = buf.Bytes()
			}
			if !bytes.Equal(out[0], out[1]) {
				t.Fatal("two single-worker builds with the same seed differ")
			}
		})
	}
}

func TestBuildCancel(t *testing.T) {
	const dim = 64
	n := 20000
	if raceEnabled {
		n = 5000
	}
	vectors, _ := faceLike(8, n, 0, dim, 5)
	for _, im := range impls {
		t.Run(im.name+"/before", func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			if _, err := im.build(ctx, vectors, dim, Config{}); !errors.Is(err, context.Canceled) {
				t.Fatalf("build error = %v, want context.Canceled", err)
			}
		})
		t.Run(im.name+"/during", func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(50*time.Millisecond, cancel)
			start := time.Now()
			_, err := im.build(ctx, vectors, dim, Config{})
			took := time.Since(start)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("build error = %v after %v, want context.Canceled", err, took)
			}
			if took > 2*time.Second {
				t.Errorf("build took %v to stop after cancel at 50ms", took)
			}
		})
	}
}

// TestGraphWellFormed checks structural invariants of parallel builds: no node lists itself or a
// neighbour twice, and every node can be reached from the entry point on the base layer. Two
// bugs broke these: pruning a full list clobbered the selection being linked (self-links), and
// publishing links top-down let concurrent inserts reach a node whose base list was still
// empty, leaving small cliques no search could find. And the heuristic alone can prune every
// edge into a node (hnswlib's flaw too): Build's connect pass links such nodes back.
func TestGraphWellFormed(t *testing.T) {
	for _, workers := range []int{1, 2, 4} {
		for seed := int64(0); seed < 8; seed++ {
			n := 150 + int(seed)*50
			vectors, _ := faceLike(uint64(seed)+100, n, 0, 32, 1)
			g, err := Build(context.Background(), vectors, 32, Config{Seed: seed, Workers: workers, M: 8})
			if err != nil {
				t.Fatal(err)
			}
			reached := make([]bool, n)
			reached[g.entry] = true
			queue := []uint32{g.entry}
			for len(queue) > 0 {
				id := queue[0]
				queue = queue[1:]
				nbs := g.neighbors(id, 0, nil, nil)
				for j, nb := range nbs {
					if nb == id || slices.Contains(nbs[:j], nb) {
						t.Fatalf("workers %d seed %d: node %d lists %v", workers, seed, id, nbs)
					}
					if !reached[nb] {
						reached[nb] = true
						queue = append(queue, nb)
					}
				}
			}
			if unreached := n - countTrue(reached); unreached > 0 {
				t.Errorf("workers %d seed %d: %d of %d nodes unreachable on the base layer", workers, seed, unreached, n)
			}
			// Every node is found from the entry point by a beam wide enough to visit all it
			// can reach; with the usual beam (64), a parallel build's order may leave the odd
			// node in a local minimum (seen once in CI under -race: 1 of 200), so up to 1 % may be
			// missed there, which is a recall matter, not a structural one.
			missed := 0
			for i := range n {
				if res, _ := g.Search(vectors[i*32:(i+1)*32], 1, n); res[0].ID != uint32(i) {
					t.Errorf("workers %d seed %d: node %d not its own nearest neighbour with a full beam (%v)", workers, seed, i, res)
				}
				if res, _ := g.Search(vectors[i*32:(i+1)*32], 1, 64); res[0].ID != uint32(i) {
					missed++
				}
			}
			if missed > n/100 {
				t.Errorf("workers %d seed %d: %d of %d nodes not their own nearest neighbour with ef 64", workers, seed, missed, n)
			}
		}
	}
}

func countTrue(b []bool) int {
	n := 0
	for _, x := range b {
		if x {
			n++
		}
	}
	return n
}
