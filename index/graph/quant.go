package graph

import (
	"fmt"
	"io"
	"slices"

	"github.com/facematch/facematch/index/quant"
)

// QuantSeed is the rotation seed of every quantized graph. One constant, not a seed per graph,
// so that codes of every segment of an index (and of every index of one dimension) are made
// under one quant.Config: a query prepared once fits them all, and a merge can copy codes
// instead of re-encoding. The value is arbitrary ("FMQTRAV1"); changing it makes codes
// persisted under the old one need a query of their own.
const QuantSeed uint64 = 0x464d515452415631

// DefaultRescore is how many of a quantized walk's best candidates are rescored with float32
// when QuantConfig.Rescore is 0: a fixed count, not a multiple of ef, since what rescoring
// repairs is the order among near-equal estimates at the top, whatever ef the walk used.
// Measured at 100k face-shaped vectors (quant_eval_test.go): rescoring only k = 10 loses up to
// 0.012 of recall@10 at ef 512; 50 and 100 keep the float32 walk's recall@10 within 0.0014 at
// every ef from 32 to 512 (512-d and 640-d); rescoring all ef is slower for nothing. 100 leaves
// a margin for filtered searches, which ask for 4k.
const DefaultRescore = 100

// QuantConfig configures quantized traversal. The zero value means the defaults.
type QuantConfig struct {
	// Rescore is how many of the walk's best candidates (by estimate) are rescored with the
	// float32 vectors before the top k is taken: max(k, Rescore), at most ef. 0 means
	// DefaultRescore.
	Rescore int
}

// Quantized is an HNSW graph searched on 8-bit codes of its vectors (package index/quant,
// Rotated8 under QuantSeed): the walk estimates each visited node's similarity with an integer
// dot product on a quarter of the bytes, then the best candidates are rescored with the float32
// vectors, so every similarity Search returns is exact (the same dot product as HNSW.Search).
// The graph itself is the float32-built HNSW, unchanged; the codes are derived from its vectors
// and are not part of its file format (WriteTo writes the HNSW alone).
//
// Concurrency: immutable once made; Search is safe for concurrent use.
type Quantized struct {
	h       *HNSW
	codes   *quant.Codes
	rescore int
}

var _ Graph = (*Quantized)(nil)

// NewQuantizer returns the quantizer quantized graphs of dimension dim use.
func NewQuantizer(dim int) (*quant.Quantizer, error) {
	q, err := quant.New(quant.Config{Kind: quant.Rotated8, Dim: dim, Seed: QuantSeed})
	if err != nil {
		return nil, fmt.Errorf("graph: quantizer: %w", err)
	}
	return q, nil
}

// Quantize encodes h's vectors with q (about 7 µs a vector on one core) and returns h searched
// on the codes. q must be of h's dimension; one quantizer may serve any number of graphs.
func Quantize(h *HNSW, q *quant.Quantizer, cfg QuantConfig) (*Quantized, error) {
	if cfg.Rescore < 0 || cfg.Rescore > maxEf {
		return nil, fmt.Errorf("graph: Rescore must be in [0, %d], got %d", maxEf, cfg.Rescore)
	}
	if q.Config().Dim != h.dim {
		return nil, fmt.Errorf("%w: quantizer has %d dimensions, graph has %d", ErrDimension, q.Config().Dim, h.dim)
	}
	codes, err := q.EncodeAll(h.vectors[:h.n*h.dim])
	if err != nil {
		return nil, fmt.Errorf("graph: encode vectors: %w", err)
	}
	if cfg.Rescore == 0 {
		cfg.Rescore = DefaultRescore
	}
	return &Quantized{h: h, codes: codes, rescore: cfg.Rescore}, nil
}

// HNSW returns the graph the codes walk.
func (g *Quantized) HNSW() *HNSW { return g.h }

// Len returns the number of vectors in the graph.
func (g *Quantized) Len() int { return g.h.n }

// CodeBytes is the memory the codes hold (a byte per dimension and 12 bytes of parameters per
// vector), beyond the graph and the float32 vectors.
func (g *Quantized) CodeBytes() int64 { return int64(g.codes.Size()) }

// WriteTo writes the HNSW graph without codes or vectors: codes are rebuilt from the vectors.
func (g *Quantized) WriteTo(w io.Writer) (int64, error) { return g.h.WriteTo(w) }

// Search is HNSW.Search with the walk on codes: the query is prepared once (rotated and
// quantized to int8), ef candidates are explored by estimated similarity, the best
// min(ef, max(k, Rescore)) of them are rescored with the float32 vectors and the top k by exact
// similarity returned. Arguments and errors as HNSW.Search.
func (g *Quantized) Search(query []float32, k, ef int) ([]Neighbor, error) {
	return g.SearchBounded(query, k, ef, nil)
}

// SearchBounded is Search with the walk cut short by bound (BoundedSearcher): the walk compares
// estimates with it less BoundMargin, the rescored results with it exactly.
func (g *Quantized) SearchBounded(query []float32, k, ef int, bound *SharedBound) ([]Neighbor, error) {
	return g.search(nil, query, k, ef, bound)
}

// SearchPrepared is SearchBounded with qq prepared by the caller, once for every graph of its
// quantizer's Config (PreparedSearcher); a query of another Config is refused.
func (g *Quantized) SearchPrepared(qq *quant.Query, query []float32, k, ef int, bound *SharedBound) ([]Neighbor, error) {
	if err := g.checkPrepared(qq); err != nil {
		return nil, err
	}
	return g.search(qq, query, k, ef, bound)
}

// search prepares the query into the pooled scratch when qq is nil.
func (g *Quantized) search(qq *quant.Query, query []float32, k, ef int, bound *SharedBound) ([]Neighbor, error) {
	h := g.h
	if err := checkQuery(query, h.dim, k); err != nil {
		return nil, err
	}
	if ef < 0 {
		return nil, fmt.Errorf("graph: ef must not be negative, got %d", ef)
	}
	if h.n == 0 {
		return []Neighbor{}, nil
	}
	if ef == 0 {
		ef = h.efSearch
	}
	ef = max(ef, k)
	query = query[:h.dim:h.dim]

	sc := h.ctxPool.Get().(*searchCtx)
	defer h.ctxPool.Put(sc)
	if qq == nil {
		qq = &sc.query
		if err := g.codes.Quantizer().Prepare(qq, query); err != nil {
			return nil, fmt.Errorf("graph: prepare query: %w", err)
		}
	}

	ep := cand{id: h.entry, sim: g.codes.Similarity(qq, int(h.entry))}
	for l := h.maxLevel; l > 0; l-- {
		ep = g.greedy(qq, ep, l)
	}
	sc.reset()
	sc.bound, sc.margin = bound, walkMargin
	g.searchLayer(qq, ep, ef, sc)
	sc.bound = nil
	return g.rescoreTop(sc, query, k, bound.Load()), nil
}

// rescoreTop takes the walk's best candidates by estimate, those that may still reach lim, and
// returns the top k of them by exact similarity that are not below lim.
func (g *Quantized) rescoreTop(sc *searchCtx, query []float32, k int, lim float32) []Neighbor {
	sc.drainResults()
	cands := sc.sorted[:min(len(sc.sorted), max(k, g.rescore))]
	for len(cands) > 0 && cands[len(cands)-1].sim < lim-walkMargin {
		cands = cands[:len(cands)-1]
	}
	for i := range cands {
		cands[i].sim = dot(query, g.h.vec(cands[i].id))
	}
	slices.SortFunc(cands, func(a, b cand) int {
		if c := cmpSim(b.sim, a.sim); c != 0 {
			return c
		}
		return int(a.id) - int(b.id)
	})
	n := min(k, len(cands))
	for n > 0 && cands[n-1].sim < lim {
		n--
	}
	out := make([]Neighbor, n)
	for i := range out {
		out[i] = Neighbor{ID: cands[i].id, Similarity: cands[i].sim}
	}
	return out
}

// greedy and searchLayer are HNSW.greedy and HNSW.searchLayer with the code estimate in place of
// the float dot product, for a built graph (no locks). They are copies rather than one walk
// over a similarity function because the float walk is also the build's inner loop, which an
// indirect call per visited node would slow.

func (g *Quantized) greedy(qq *quant.Query, ep cand, l int) cand {
	h := g.h
	for changed := true; changed; {
		changed = false
		for _, nb := range h.neighbors(ep.id, l, nil, nil) {
			if s := g.codes.Similarity(qq, int(nb)); s > ep.sim {
				ep = cand{id: nb, sim: s}
				changed = true
			}
		}
	}
	return ep
}

func (g *Quantized) searchLayer(qq *quant.Query, ep cand, ef int, sc *searchCtx) {
	h := g.h
	visited, gen := sc.visited, sc.gen
	visited[ep.id] = gen
	cands, results := sc.cands, sc.results
	cands.push(ep)
	results.push(ep)
	for len(cands) > 0 {
		c := cands.pop()
		if len(results) >= ef && (c.sim < results[0].sim || sc.beaten(c.sim)) {
			break
		}
		for _, nb := range h.neighbors(c.id, 0, nil, nil) {
			if visited[nb] == gen {
				continue
			}
			visited[nb] = gen
			s := g.codes.Similarity(qq, int(nb))
			if len(results) < ef || s > results[0].sim {
				cands.push(cand{id: nb, sim: s})
				results.push(cand{id: nb, sim: s})
				if len(results) > ef {
					results.pop()
				}
			}
		}
	}
	sc.cands, sc.results = cands, results
}
