package graph

import (
	"fmt"

	"github.com/facematch/facematch/index/quant"
)

// NewQuantized returns h searched on codes already made (read back from storage, or copied
// from merged graphs' codes) instead of encoding them again. codes must hold one code per
// vector of h, in h's order, made under the quantizer NewQuantizer(h.Dim()) returns: codes of
// another configuration would estimate against a query prepared differently.
func NewQuantized(h *HNSW, codes *quant.Codes, cfg QuantConfig) (*Quantized, error) {
	if cfg.Rescore < 0 || cfg.Rescore > maxEf {
		return nil, fmt.Errorf("graph: Rescore must be in [0, %d], got %d", maxEf, cfg.Rescore)
	}
	if codes.Len() != h.n {
		return nil, fmt.Errorf("%w: %d codes for a graph of %d vectors", ErrDimension, codes.Len(), h.n)
	}
	q, err := NewQuantizer(h.dim)
	if err != nil {
		return nil, err
	}
	if got, want := codes.Config(), q.Config(); got != want {
		return nil, fmt.Errorf("%w: codes made under %+v, graphs of %d dimensions use %+v", ErrDimension, got, h.dim, want)
	}
	if cfg.Rescore == 0 {
		cfg.Rescore = DefaultRescore
	}
	return &Quantized{h: h, codes: codes, rescore: cfg.Rescore}, nil
}

// Codes returns the codes the graph walks (shared, not copied: they must not be appended to).
func (g *Quantized) Codes() *quant.Codes { return g.codes }

// Rebind returns a graph with h's structure over vectors, which must hold the same values at
// another address (the index moves a segment's vectors into a mapped file). The adjacency is
// shared, not copied; h stays valid for searches already under way.
func (h *HNSW) Rebind(vectors []float32) (*HNSW, error) {
	if len(vectors) != h.n*h.dim {
		return nil, fmt.Errorf("%w: %d floats for %d vectors of %d dimensions", ErrDimension, len(vectors), h.n, h.dim)
	}
	nh := &HNSW{
		vectors: vectors, dim: h.dim, n: h.n, m: h.m, m0: h.m0,
		efConstruction: h.efConstruction, efSearch: h.efSearch, seed: h.seed,
		entry: h.entry, maxLevel: h.maxLevel,
		levels: h.levels, base: h.base, upperOff: h.upperOff, upper: h.upper,
	}
	nh.initPool()
	return nh, nil
}

// Rebind returns g over vectors at a new address, as HNSW.Rebind; the codes are shared.
func (g *Quantized) Rebind(vectors []float32) (*Quantized, error) {
	h, err := g.h.Rebind(vectors)
	if err != nil {
		return nil, err
	}
	return &Quantized{h: h, codes: g.codes, rescore: g.rescore}, nil
}
