package index

import (
	"context"
	"io"
	"runtime"

	"github.com/facematch/facematch/index/graph"
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
	}
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
