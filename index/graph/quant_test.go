package graph

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/facematch/facematch/bench/synth"
)

// synthSet is a seeded face-shaped set from bench/synth: a gallery of two photos per identity
// (2i and 2i+1) and queries that are a third photo of one identity.
type synthSet struct {
	dim     int
	vectors []float32
	queries []float32
	mates   [][2]uint32
}

var (
	synthOnce sync.Once
	synthData *synthSet
)

// quantTestSet is built once per process: 6,000 256-d vectors and 200 queries (512-d costs
// seconds more to fit and calibrate; the 512-d and 640-d measurement is quant_eval_test.go).
func quantTestSet(t testing.TB) *synthSet {
	synthOnce.Do(func() { synthData = makeSynthSet(t, 256, 6000, 200, 1) })
	return synthData
}

// makeSynthSet fits synth to random anisotropic identities (a stand-in for real embeddings, as
// index/quant's quick evaluation does) and draws the set from it.
func makeSynthSet(t testing.TB, dim, n, nq int, seed uint64) *synthSet {
	r := rand.New(rand.NewPCG(seed, 2))
	var embs [][]float32
	var labels []string
	for id := range dim + dim/2 {
		c := make([]float64, dim)
		for i := range c {
			c[i] = r.NormFloat64() / math.Sqrt(float64(i+1))
		}
		for range 3 {
			v := make([]float32, dim)
			for i := range v {
				v[i] = float32(c[i] + 0.3*r.NormFloat64()/math.Sqrt(float64(i+1)))
			}
			embs = append(embs, unit(v))
			labels = append(labels, strconv.Itoa(id))
		}
	}
	m, err := synth.Fit(embs, labels)
	if err != nil {
		t.Fatal(err)
	}
	m.Calibrate(0.62)
	sizes := make([]int, n/2)
	for i := range sizes {
		sizes[i] = 2
	}
	s := &synthSet{dim: dim, vectors: make([]float32, n/2*2*dim), queries: make([]float32, nq*dim)}
	m.Generate(s.vectors, sizes, seed, runtime.GOMAXPROCS(0))
	for j := range nq {
		id := r.IntN(n / 2)
		m.SampleOf(seed, id, uint64(j), s.queries[j*dim:(j+1)*dim])
		s.mates = append(s.mates, [2]uint32{uint32(2 * id), uint32(2*id + 1)})
	}
	return s
}

func unit(v []float32) []float32 {
	var ss float64
	for _, x := range v {
		ss += float64(x) * float64(x)
	}
	for i := range v {
		v[i] = float32(float64(v[i]) / math.Sqrt(ss))
	}
	return v
}

func buildQuantized(t testing.TB, vectors []float32, dim int, cfg QuantConfig) (*HNSW, *Quantized) {
	t.Helper()
	h, err := Build(context.Background(), vectors, dim, Config{Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	q, err := NewQuantizer(dim)
	if err != nil {
		t.Fatal(err)
	}
	g, err := Quantize(h, q, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return h, g
}

// TestQuantizedExactSimilarities: whatever the walk estimated, every similarity returned is the
// float32 dot product of the query and the stored vector, bit for bit the one HNSW.Search
// returns, and results are sorted and distinct.
func TestQuantizedExactSimilarities(t *testing.T) {
	s := quantTestSet(t)
	h, g := buildQuantized(t, s.vectors, s.dim, QuantConfig{})
	q, err := NewQuantizer(s.dim)
	if err != nil {
		t.Fatal(err)
	}
	g3, err := Quantize(h, q, QuantConfig{Rescore: 3})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		g     *Quantized
		k, ef int
	}{
		{"k1", g, 1, 0},
		{"k10 ef16", g, 10, 16},
		{"k10 ef512", g, 10, 512},
		{"k50 ef32: ef raised to k", g, 50, 32},
		{"rescore below k", g3, 10, 64},
		{"k beyond n", g, 7000, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i := range 20 {
				q := s.queries[i*s.dim : (i+1)*s.dim]
				res, err := tt.g.Search(q, tt.k, tt.ef)
				if err != nil {
					t.Fatal(err)
				}
				if want := min(tt.k, len(s.vectors)/s.dim); len(res) != want {
					t.Fatalf("query %d: %d results, want %d", i, len(res), want)
				}
				checkSorted(t, res, len(s.vectors)/s.dim)
				for _, nb := range res {
					o := int(nb.ID) * s.dim
					if want := dot(q, s.vectors[o:o+s.dim]); nb.Similarity != want {
						t.Fatalf("query %d, id %d: similarity %v, float32 dot product %v", i, nb.ID, nb.Similarity, want)
					}
				}
			}
		})
	}
}

// TestQuantizedRecall holds the quantized walk to the float32 walk on the same graph: recall@10
// against exact search and mate recall within 0.01 of float32's at each ef.
func TestQuantizedRecall(t *testing.T) {
	s := quantTestSet(t)
	h, g := buildQuantized(t, s.vectors, s.dim, QuantConfig{})
	gt := groundTruth(s.vectors, s.queries, s.dim, 10)
	for _, ef := range []int{32, 64, 128} {
		rf, rq := recallAt(t, h, s.queries, s.dim, 10, ef, gt), recallAt(t, g, s.queries, s.dim, 10, ef, gt)
		mf, mq := s.mateRecall(t, h, ef), s.mateRecall(t, g, ef)
		t.Logf("ef %d: recall@10 float32 %.4f, quantized %.4f; mate recall %.4f, %.4f", ef, rf, rq, mf, mq)
		if rq < rf-0.01 || mq < mf-0.01 {
			t.Errorf("ef %d: quantized recall@10 %.4f and mate recall %.4f, float32 %.4f and %.4f: more than 0.01 lower",
				ef, rq, mq, rf, mf)
		}
	}
}

func TestQuantizedArguments(t *testing.T) {
	vectors, _ := faceLike(3, 300, 0, 64, 3)
	h, err := Build(context.Background(), vectors, 64, Config{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	q64, err := NewQuantizer(64)
	if err != nil {
		t.Fatal(err)
	}
	q32, err := NewQuantizer(32)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Quantize(h, q32, QuantConfig{}); !errors.Is(err, ErrDimension) {
		t.Errorf("quantizer of another dimension: %v, want ErrDimension", err)
	}
	if _, err := Quantize(h, q64, QuantConfig{Rescore: -1}); err == nil {
		t.Error("negative Rescore accepted")
	}
	g, err := Quantize(h, q64, QuantConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if g.Len() != 300 || g.CodeBytes() != 300*(64+12) {
		t.Errorf("Len %d, CodeBytes %d", g.Len(), g.CodeBytes())
	}
	tests := []struct {
		name  string
		query []float32
		k, ef int
		want  error
	}{
		{"short query", make([]float32, 63), 1, 0, ErrDimension},
		{"k 0", vectors[:64], 0, 0, ErrInvalidK},
		{"negative ef", vectors[:64], 1, -1, nil},
		{"NaN", append([]float32{float32(math.NaN())}, vectors[1:64]...), 1, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := g.Search(tt.query, tt.k, tt.ef)
			if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Errorf("err %v, want %v", err, tt.want)
			}
		})
	}

	empty, err := Build(context.Background(), nil, 64, Config{})
	if err != nil {
		t.Fatal(err)
	}
	ge, err := Quantize(empty, q64, QuantConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if res, err := ge.Search(vectors[:64], 5, 0); err != nil || len(res) != 0 {
		t.Errorf("empty graph: %v, %v", res, err)
	}
}

// TestQuantizedConcurrent searches from several goroutines at once (under -race in the race
// pass): each search prepares its query in its own pooled scratch.
func TestQuantizedConcurrent(t *testing.T) {
	vectors, queries := faceLike(5, 2000, 64, 128, 4)
	_, g := buildQuantized(t, vectors, 128, QuantConfig{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < 64; i += 4 {
				q := queries[i*128 : (i+1)*128]
				a, err := g.Search(q, 10, 64)
				if err != nil {
					t.Error(err)
					return
				}
				b, err := g.Search(q, 10, 64)
				if err != nil || !slices.Equal(a, b) {
					t.Errorf("query %d: repeated search differs: %v, %v (%v)", i, a, b, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// mateRecall is the share of s's queries whose top 10 by g at ef holds one of their mates.
func (s *synthSet) mateRecall(t testing.TB, g Graph, ef int) float64 {
	t.Helper()
	found := 0
	for i, m := range s.mates {
		res, err := g.Search(s.queries[i*s.dim:(i+1)*s.dim], 10, ef)
		if err != nil {
			t.Fatal(err)
		}
		if slices.ContainsFunc(res, func(nb Neighbor) bool { return nb.ID == m[0] || nb.ID == m[1] }) {
			found++
		}
	}
	return float64(found) / float64(len(s.mates))
}
