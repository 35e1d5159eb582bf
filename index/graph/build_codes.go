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
	return buildOn(ctx, vectors, dim, n, cfg, codes, qcfg)
}

// BuildOnCodes is BuildQuantized with the vectors' codes already made (copied from the
// segments a merge or compaction joins): codes[i] must be the code of vector i.
func BuildOnCodes(ctx context.Context, vectors []float32, dim int, cfg Config, codes *quant.Codes, qcfg QuantConfig) (*Quantized, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	n, err := checkVectors(vectors, dim)
	if err != nil {
		return nil, err
	}
	if codes.Len() != n || codes.Config().Dim != dim {
		return nil, fmt.Errorf("%w: %d codes of %d dimensions for %d vectors of %d", ErrDimension, codes.Len(), codes.Config().Dim, n, dim)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return buildOn(ctx, vectors, dim, n, cfg, codes, qcfg)
}

func buildOn(ctx context.Context, vectors []float32, dim, n int, cfg Config, codes *quant.Codes, qcfg QuantConfig) (*Quantized, error) {
	h, err := newHNSW(vectors, dim, n, cfg, drawLevels(n, cfg.M, cfg.Seed))
	if err != nil {
		return nil, err
	}
	if err := runBuild(ctx, h, codes, cfg.Workers); err != nil {
		return nil, err
	}
	return NewQuantized(h, codes, qcfg)
}
