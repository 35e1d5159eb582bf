package index

import (
	"context"
	"fmt"
	"io"
	"runtime"

	"github.com/facematch/facematch/index/graph"
	"github.com/facematch/facematch/index/quant"
)

// GraphKind says how sealed segments get their graph: how to build one, how to read one back,
// and how many segments to build at once.
type GraphKind struct {
	Name  string
	Build func(ctx context.Context, vectors []float32, dim int) (annGraph, error)
	Read  graphReader
	// Parallel is how many pending segments are built at the same time. A builder that uses
	// every core itself wants 1; a single-threaded one wants a build per core.
	Parallel int
	// quantize, when set, turns a graph of this kind into one walked on codes (Config.Quantized).
	quantize func(g annGraph, q *quant.Quantizer) (annGraph, error)
}

type graphReader func(r io.Reader, vectors []float32, dim int) (annGraph, error)

// HNSWGraph is the index's own HNSW (package index/graph): a parallel build over every core,
// flat neighbour arrays, and hnswlib's neighbour-selection heuristic. It is the default.
func HNSWGraph(cfg graph.Config) *GraphKind {
	return &GraphKind{
		Name: "hnsw",
		Build: func(ctx context.Context, vectors []float32, dim int) (annGraph, error) {
			return graph.Build(ctx, vectors, dim, cfg)
		},
		Read: func(r io.Reader, vectors []float32, dim int) (annGraph, error) {
			return graph.Read(r, vectors, dim)
		},
		Parallel: 1,
		quantize: func(g annGraph, q *quant.Quantizer) (annGraph, error) {
			h, ok := g.(*graph.HNSW)
			if !ok {
				return nil, fmt.Errorf("index: quantized traversal needs an HNSW graph, got %T", g)
			}
			return graph.Quantize(h, q, graph.QuantConfig{})
		},
	}
}

// quantized returns k with codes made by q added to every graph it builds or reads. The graph's
// file format is unchanged: codes are derived from the segment's vectors at load.
func (k *GraphKind) quantized(q *quant.Quantizer) *GraphKind {
	qk := *k
	qk.Name = k.Name + "+" + q.Config().Kind.String()
	qk.Build = func(ctx context.Context, vectors []float32, dim int) (annGraph, error) {
		g, err := k.Build(ctx, vectors, dim)
		if err != nil {
			return nil, err
		}
		return k.quantize(g, q)
	}
	qk.Read = func(r io.Reader, vectors []float32, dim int) (annGraph, error) {
		g, err := k.Read(r, vectors, dim)
		if err != nil {
			return nil, err
		}
		return k.quantize(g, q)
	}
	return &qk
}

// CoderGraph is the named library github.com/coder/hnsw behind its adapter in index/graph (a
// lock, a dimension check, the same checksummed format): a comparison for the benchmarks
// (`--graph coder`), never what the service builds. The library inserts on one goroutine, so
// segments are built one per core instead.
func CoderGraph(cfg graph.Config) *GraphKind {
	return &GraphKind{
		Name: "coder",
		Build: func(ctx context.Context, vectors []float32, dim int) (annGraph, error) {
			return graph.BuildCoder(ctx, vectors, dim, cfg)
		},
		Read: func(r io.Reader, vectors []float32, dim int) (annGraph, error) {
			return graph.ReadCoder(r, vectors, dim)
		},
		Parallel: runtime.GOMAXPROCS(0),
	}
}
