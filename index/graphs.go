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
	// quantize, when set, turns a graph of this kind into one walked on codes (Config.Quantized);
	// withCodes does the same with codes already made (read back, or copied by a merge).
	quantize  func(g annGraph, q *quant.Quantizer) (annGraph, error)
	withCodes func(g annGraph, c *quant.Codes) (annGraph, error)
	// buildOnCodes, when set, builds the graph on codes made by q (graph.BuildQuantized)
	// instead of building on float32 and encoding afterwards.
	buildOnCodes func(ctx context.Context, vectors []float32, dim int, q *quant.Quantizer) (annGraph, error)
	// buildWithCodes is buildOnCodes with the codes already made (copied by a merge).
	buildWithCodes func(ctx context.Context, vectors []float32, dim int, c *quant.Codes) (annGraph, error)
	// base and quantizer are set on a kind made by quantized: base builds and reads the graph
	// alone, so a segment's stored codes can be attached instead of encoded again.
	base      *GraphKind
	quantizer *quant.Quantizer
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
		withCodes: func(g annGraph, c *quant.Codes) (annGraph, error) {
			h, ok := g.(*graph.HNSW)
			if !ok {
				return nil, fmt.Errorf("index: quantized traversal needs an HNSW graph, got %T", g)
			}
			return graph.NewQuantized(h, c, graph.QuantConfig{})
		},
		// A build compares the node it inserts with hundreds of others; on codes those reads
		// are a quarter of the bytes, which is what bounds a build once the vectors outgrow the
		// caches (notes in graph.BuildQuantized).
		buildOnCodes: func(ctx context.Context, vectors []float32, dim int, q *quant.Quantizer) (annGraph, error) {
			return graph.BuildQuantized(ctx, vectors, dim, cfg, q, graph.QuantConfig{})
		},
		buildWithCodes: func(ctx context.Context, vectors []float32, dim int, c *quant.Codes) (annGraph, error) {
			return graph.BuildOnCodes(ctx, vectors, dim, cfg, c, graph.QuantConfig{})
		},
	}
}

// quantized returns k with codes made by q added to every graph it builds or reads. The graph's
// file format is unchanged: codes have a section of their own in the segment object (codec.go),
// and readSegment attaches them through base and withCodes.
func (k *GraphKind) quantized(q *quant.Quantizer) *GraphKind {
	qk := *k
	qk.Name = k.Name + "+" + q.Config().Kind.String()
	qk.base, qk.quantizer = k, q
	qk.Build = func(ctx context.Context, vectors []float32, dim int) (annGraph, error) {
		if k.buildOnCodes != nil {
			return k.buildOnCodes(ctx, vectors, dim, q)
		}
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

// buildFor builds a graph of kind k over vectors. A quantized kind builds it on codes: on the
// given ones when they fit (a merge's or compaction's copied codes, a segment's stored ones),
// else on codes it encodes itself. codes may be nil.
func (k *GraphKind) buildFor(ctx context.Context, vectors []float32, dim int, codes *quant.Codes) (annGraph, error) {
	if k.quantizer != nil && codes != nil && k.base.buildWithCodes != nil &&
		codes.Len()*dim == len(vectors) && codes.Config() == k.quantizer.Config() {
		return k.base.buildWithCodes(ctx, vectors, dim, codes)
	}
	return k.Build(ctx, vectors, dim)
}

// plain returns the kind that builds and reads the graph alone (k itself unless quantized).
func (k *GraphKind) plain() *GraphKind {
	if k.base != nil {
		return k.base
	}
	return k
}

// attachCodes makes g, a graph of k's plain kind, walk codes: c when it is usable (one code per
// vector under k's quantizer's configuration), else codes encoded from the vectors. It reports
// why c was not used ("" when it was, or when k does not quantize).
func (k *GraphKind) attachCodes(g annGraph, c *quant.Codes) (annGraph, string, error) {
	if k.quantizer == nil {
		return g, "", nil
	}
	if c != nil {
		qg, err := k.withCodes(g, c)
		if err == nil {
			return qg, "", nil
		}
		why := fmt.Sprintf("stored codes unusable: %v", err)
		qg, err = k.quantize(g, k.quantizer)
		return qg, why, err
	}
	qg, err := k.quantize(g, k.quantizer)
	return qg, "no stored codes", err
}

// codesOf returns the codes a graph walks, nil when it walks float32 vectors.
func codesOf(g annGraph) *quant.Codes {
	if q, ok := g.(*graph.Quantized); ok {
		return q.Codes()
	}
	return nil
}

// rebind returns g over vectors, the same values at a new address (a mapped file).
func rebind(g annGraph, vectors []float32) (annGraph, error) {
	switch g := g.(type) {
	case *graph.HNSW:
		return g.Rebind(vectors)
	case *graph.Quantized:
		return g.Rebind(vectors)
	}
	return nil, fmt.Errorf("index: a %T cannot move to other vectors", g)
}
