package index

import (
	"math"
	"sync"

	"github.com/facematch/facematch/index/graph"
	"github.com/facematch/facematch/index/quant"
)

// efExponent is how a graph's search breadth grows with its size at an equal recall: ef ∝ n^0.78.
// Measured on face-shaped 512-d vectors: mate recall 0.994-0.995 at ef 256 over 100k and ef 1536
// over 1M (6× for 10×, 10^0.78 = 6.0), recall@10 0.93 at ef 512 and ef 3072 likewise
// (bench/RESULTS.md, "1,000,000 vectors"); and mate recall 0.994 at ef 64 over ten graphs of 10k
// and at ef 384 over one of 100k (shared_eval_test.go in index/graph; notes: qsearch.md). At
// recall@10 above 0.98 one merged graph needs more, up to 8-9× for 10×.
const efExponent = 0.78

// minScaledEf is the least ef a small segment (a compacted one) is searched with: below it the
// walk costs too little for savings to matter and its recall drops fast.
const minScaledEf = 64

// segmentEf is the search breadth for a graph of n vectors when ef is the breadth wanted at
// size, the configured SegmentSize: merged segments get more, compacted ones less, so the index
// keeps one operating point whether a gallery is in many segments or merged into few.
func segmentEf(ef, n, size int) int {
	if n == size || n < 1 || size < 1 {
		return ef
	}
	e := math.Ceil(float64(ef) * math.Pow(float64(n)/float64(size), efExponent))
	return int(min(max(e, float64(min(ef, minScaledEf))), maxSegmentEf))
}

// maxSegmentEf is graph's limit on ef (1<<16).
const maxSegmentEf = 1 << 16

// querySearch is what the walks of one query over every segment share: the query prepared once
// for the quantized walks (nil when no segment walks codes) and the top-k threshold.
type querySearch struct {
	qq    *quant.Query
	bound *graph.SharedBound // nil: every walk runs in full (Config.searchUnbounded)
}

// queryPool recycles prepared queries (a rotated float copy and int8 codes of the query).
var queryPool = sync.Pool{New: func() any { return new(quant.Query) }}

// prepareQuery prepares query for the first segment that walks codes; every quantized graph of
// the index shares one quant.Config (graph.QuantSeed), so one prepared query fits them all and
// each walk saves the preparation (~8 µs at 512-d). release returns the query to the pool.
func prepareQuery(views []*segment, query []float32) (qq *quant.Query, release func(), err error) {
	for _, s := range views {
		h := s.graph.Load()
		if h == nil {
			continue
		}
		g, ok := h.g.(*graph.Quantized)
		if !ok {
			continue
		}
		qq := queryPool.Get().(*quant.Query)
		if err := g.Quantizer().Prepare(qq, query); err != nil {
			queryPool.Put(qq)
			return nil, func() {}, err
		}
		return qq, func() { queryPool.Put(qq) }, nil
	}
	return nil, func() {}, nil
}

// searchGraph walks g with what the query shares, through the graph's optional capabilities.
func (qs *querySearch) searchGraph(g annGraph, query []float32, k, ef int) ([]graph.Neighbor, error) {
	if p, ok := g.(graph.PreparedSearcher); ok && qs.qq != nil {
		return p.SearchPrepared(qs.qq, query, k, ef, qs.bound)
	}
	if b, ok := g.(graph.BoundedSearcher); ok && qs.bound != nil {
		return b.SearchBounded(query, k, ef, qs.bound)
	}
	return g.Search(query, k, ef)
}

// publish raises the shared threshold to a finished segment's k-th accepted hit: the query's
// top k holds at least these k, so nothing below the k-th can enter it. Less boundSlack, since
// the graphs compute their dot products in another summation order than dot, and a neighbour
// level with the k-th by one must not be cut by a rounding difference.
func (qs *querySearch) publish(hits []Hit, k int) {
	if qs.bound != nil && len(hits) >= k {
		qs.bound.Raise(hits[k-1].Similarity - boundSlack)
	}
}

// boundSlack exceeds the difference between two float32 summation orders of a 4096-d dot
// product of unit vectors (a few 1e-7) many times over, and is far below any gap that matters.
const boundSlack = 1e-5

// cutByBound reports whether a graph's short answer (fewer than want neighbours) may be the
// shared bound's doing: then the missing ones could not have entered the top k, and a filter
// that emptied the answer does not call for an exact scan.
func (qs *querySearch) cutByBound() bool {
	return qs.bound != nil && !math.IsInf(float64(qs.bound.Load()), -1)
}
