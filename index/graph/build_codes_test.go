package graph

import (
	"context"
	"errors"
	"testing"
)

// A graph built on codes must be as good as one built on float32: the quantized walk over each,
// on the same face-shaped set, finds the same share of true neighbours (within 0.01) and of
// mates (within 0.02: 4 of the 200 queries, about what two float32 builds with different seeds
// differ by) at every breadth.
func TestBuildQuantizedRecall(t *testing.T) {
	s := quantTestSet(t)
	_, fromFloat := buildQuantized(t, s.vectors, s.dim, QuantConfig{})
	q, err := NewQuantizer(s.dim)
	if err != nil {
		t.Fatal(err)
	}
	onCodes, err := BuildQuantized(context.Background(), s.vectors, s.dim, Config{Seed: 1}, q, QuantConfig{})
	if err != nil {
		t.Fatal(err)
	}
	gt := groundTruth(s.vectors, s.queries, s.dim, 10)
	for _, ef := range []int{32, 64, 128} {
		rf, rc := recallAt(t, fromFloat, s.queries, s.dim, 10, ef, gt), recallAt(t, onCodes, s.queries, s.dim, 10, ef, gt)
		mf, mc := s.mateRecall(t, fromFloat, ef), s.mateRecall(t, onCodes, ef)
		t.Logf("ef %d: recall@10 built on float32 %.4f, on codes %.4f; mate recall %.4f, %.4f", ef, rf, rc, mf, mc)
		if rc < rf-0.01 || mc < mf-0.02 {
			t.Errorf("ef %d: built on codes recall@10 %.4f and mate recall %.4f, on float32 %.4f and %.4f: too much lower",
				ef, rc, mc, rf, mf)
		}
	}
	// The float32 search of the same graph works too (the graph is an ordinary HNSW), and
	// every similarity the quantized walk returns is the exact dot product.
	res, err := onCodes.Search(s.queries[:s.dim], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	for _, nb := range res {
		if want := dot(s.queries[:s.dim], onCodes.HNSW().vec(nb.ID)); nb.Similarity != want {
			t.Fatalf("node %d: similarity %v, exact %v", nb.ID, nb.Similarity, want)
		}
	}
	if r := recallAt(t, onCodes.HNSW(), s.queries, s.dim, 10, 128, gt); r < 0.5 {
		t.Errorf("float32 walk of the graph built on codes: recall@10 %.4f", r)
	}
}

func TestBuildQuantizedArguments(t *testing.T) {
	vectors, _ := faceLike(3, 300, 0, 64, 3)
	q64, err := NewQuantizer(64)
	if err != nil {
		t.Fatal(err)
	}
	q32, err := NewQuantizer(32)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	tests := []struct {
		name    string
		ctx     context.Context
		vectors []float32
		cfg     Config
		q       QuantConfig
		quant32 bool
		want    error
	}{
		{"quantizer of another dimension", ctx, vectors, Config{}, QuantConfig{}, true, ErrDimension},
		{"ragged vectors", ctx, vectors[:100], Config{}, QuantConfig{}, false, ErrDimension},
		{"negative Rescore", ctx, vectors, Config{}, QuantConfig{Rescore: -1}, false, nil},
		{"negative M", ctx, vectors, Config{M: -1}, QuantConfig{}, false, nil},
		{"cancelled", cancelled, vectors, Config{}, QuantConfig{}, false, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := q64
			if tt.quant32 {
				q = q32
			}
			_, err := BuildQuantized(tt.ctx, tt.vectors, 64, tt.cfg, q, tt.q)
			if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Errorf("err %v, want %v", err, tt.want)
			}
		})
	}
	g, err := BuildQuantized(ctx, nil, 64, Config{}, q64, QuantConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if res, err := g.Search(vectors[:64], 5, 0); err != nil || len(res) != 0 {
		t.Errorf("empty graph: %v, %v", res, err)
	}
	g, err = BuildQuantized(ctx, vectors, 64, Config{Seed: 1}, q64, QuantConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if g.Len() != 300 || g.CodeBytes() != 300*(64+12) {
		t.Errorf("Len %d, CodeBytes %d", g.Len(), g.CodeBytes())
	}
}
