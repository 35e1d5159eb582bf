package graph

import (
	"context"
	"fmt"

	"github.com/facematch/facematch/index/quant"
)

// BuildQuantized builds an HNSW graph over vectors as Build does, but measures similarity on
// the vectors' 8-bit codes while it builds, and returns the graph walked on those codes
// (Quantized). A build reads the vectors of every node it compares; at a million face vectors
// the float32 array (2 GiB at 512-d) no longer fits any cache, and the codes are a quarter of
// it. The node being inserted is prepared as an int8 query, so its search for neighbours uses
// the same estimate a quantized search does; the neighbour heuristic compares two stored nodes
// by their codes alone. The graph is the same structure as Build's (same file format, same
// float32 search) and the vectors stay the record: Quantized rescores with them.
//
// q must be of dimension dim; the codes are encoded on cfg.Workers goroutines first.
func BuildQuantized(ctx context.Context, vectors []float32, dim int, cfg Config, q *quant.Quantizer, qcfg QuantConfig) (*Quantized, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if q.Config().Dim != dim {
		return nil, fmt.Errorf("%w: quantizer has %d dimensions, vectors have %d", ErrDimension, q.Config().Dim, dim)
	}
	n, err := checkVectors(vectors, dim)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	codes, err := q.EncodeAllParallel(ctx, vectors[:n*dim], cfg.Workers)
	if err != nil {
		return nil, fmt.Errorf("graph: encode vectors: %w", err)
	}
	h, err := newHNSW(vectors, dim, n, cfg, drawLevels(n, cfg.M, cfg.Seed))
	if err != nil {
		return nil, err
	}
	if err := runBuild(ctx, h, codes, cfg.Workers); err != nil {
		return nil, err
	}
	return withCodes(h, codes, qcfg)
}

// withCodes returns h walked on codes, which must be h's vectors' codes in order.
func withCodes(h *HNSW, codes *quant.Codes, cfg QuantConfig) (*Quantized, error) {
	if cfg.Rescore < 0 || cfg.Rescore > maxEf {
		return nil, fmt.Errorf("graph: Rescore must be in [0, %d], got %d", maxEf, cfg.Rescore)
	}
	if codes.Len() != h.n || codes.Config().Dim != h.dim {
		return nil, fmt.Errorf("%w: %d codes of %d dimensions for a graph of %d vectors of %d", ErrDimension, codes.Len(), codes.Config().Dim, h.n, h.dim)
	}
	if cfg.Rescore == 0 {
		cfg.Rescore = DefaultRescore
	}
	return &Quantized{h: h, codes: codes, rescore: cfg.Rescore}, nil
}
