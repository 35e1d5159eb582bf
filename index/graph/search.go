package graph

import (
	"fmt"
	"sync"

	"github.com/facematch/facematch/index/quant"
)

// cand is a node and its similarity to the current query.
type cand struct {
	sim float32
	id  uint32
}

// maxHeap orders by similarity, best on top: the frontier still to expand.
type maxHeap []cand

func (h *maxHeap) push(c cand) {
	s := append(*h, c)
	i := len(s) - 1
	for i > 0 {
		p := (i - 1) / 2
		if s[p].sim >= s[i].sim {
			break
		}
		s[p], s[i] = s[i], s[p]
		i = p
	}
	*h = s
}

func (h *maxHeap) pop() cand {
	s := *h
	top := s[0]
	last := len(s) - 1
	s[0] = s[last]
	s = s[:last]
	i := 0
	for {
		l := 2*i + 1
		if l >= len(s) {
			break
		}
		if r := l + 1; r < len(s) && s[r].sim > s[l].sim {
			l = r
		}
		if s[i].sim >= s[l].sim {
			break
		}
		s[i], s[l] = s[l], s[i]
		i = l
	}
	*h = s
	return top
}

// minHeap orders by similarity, worst on top: the ef best results so far,
// so the one to evict is at [0].
type minHeap []cand

func (h *minHeap) push(c cand) {
	s := append(*h, c)
	i := len(s) - 1
	for i > 0 {
		p := (i - 1) / 2
		if s[p].sim <= s[i].sim {
			break
		}
		s[p], s[i] = s[i], s[p]
		i = p
	}
	*h = s
}

func (h *minHeap) pop() cand {
	s := *h
	top := s[0]
	last := len(s) - 1
	s[0] = s[last]
	s = s[:last]
	i := 0
	for {
		l := 2*i + 1
		if l >= len(s) {
			break
		}
		if r := l + 1; r < len(s) && s[r].sim < s[l].sim {
			l = r
		}
		if s[i].sim <= s[l].sim {
			break
		}
		s[i], s[l] = s[l], s[i]
		i = l
	}
	*h = s
	return top
}

// searchCtx is per-goroutine scratch for one search or one insertion. It is
// never shared: Search takes one from the graph's pool and returns it.
type searchCtx struct {
	// visited[i] == gen marks node i as seen in the current search; bumping
	// gen clears all marks in O(1) (a full clear only every 65535 searches).
	visited []uint16
	gen     uint16
	cands   maxHeap
	results minHeap
	nbuf    []uint32 // copy of one adjacency block (build reads under lock)
	sorted  []cand   // results drained best-first
	sel     []cand   // heuristic selection output
	prune   []cand   // candidates when pruning a full neighbour list
	psel    []cand   // heuristic selection output when pruning a list
	// layerSel[l] is the node being inserted's chosen neighbours on layer l, kept until they
	// are published.
	layerSel [][]cand
	// query is the prepared query of a quantized search (Quantized.Search); its buffers are
	// allocated on first use and reused.
	query quant.Query
	// bound and margin, set for one bounded search (SearchBounded, SearchPrepared), stop the
	// base-layer walk once its best candidate is below bound - margin; nil during builds.
	bound  *SharedBound
	margin float32
}

func (h *HNSW) initPool() {
	n, m0 := h.n, h.m0
	h.ctxPool.New = func() any {
		return &searchCtx{
			visited: make([]uint16, n),
			nbuf:    make([]uint32, 0, m0+1),
		}
	}
}

// reset starts a new search: all nodes become unvisited.
func (sc *searchCtx) reset() {
	sc.gen++
	if sc.gen == 0 {
		clear(sc.visited)
		sc.gen = 1
	}
	sc.cands = sc.cands[:0]
	sc.results = sc.results[:0]
}

// Search returns the k nearest neighbours of query by dot product, best
// first, exploring ef candidates on the base layer (ef = 0 means the
// configured EfSearch; ef < k is raised to k). An empty graph yields no
// neighbours. It returns ErrDimension when len(query) != Dim() and
// ErrInvalidK when k < 1.
//
// Search is safe for concurrent use: the graph is immutable and each call
// takes private scratch space from a sync.Pool.
func (h *HNSW) Search(query []float32, k, ef int) ([]Neighbor, error) {
	return h.SearchBounded(query, k, ef, nil)
}

// SearchBounded is Search with the walk cut short by bound, less BoundMargin (BoundedSearcher).
func (h *HNSW) SearchBounded(query []float32, k, ef int, bound *SharedBound) ([]Neighbor, error) {
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

	ep := cand{id: h.entry, sim: dot(query, h.vec(h.entry))}
	for l := h.maxLevel; l > 0; l-- {
		ep = h.greedy(query, ep, l, nil, sc)
	}
	sc.reset()
	sc.bound, sc.margin = bound, walkMargin
	h.searchLayer(query, ep, ef, 0, nil, sc)
	sc.bound = nil

	res := sc.results
	for len(res) > k {
		res.pop()
	}
	lim := bound.Load()
	for len(res) > 0 && res[0].sim < lim {
		res.pop()
	}
	out := make([]Neighbor, len(res))
	for i := len(out) - 1; i >= 0; i-- {
		c := res.pop()
		out[i] = Neighbor{ID: c.id, Similarity: c.sim}
	}
	sc.results = res
	return out, nil
}

// neighbors copies node id's list on layer l into sc.nbuf. During the build
// (locks != nil) the copy is taken under the node's lock, since other
// workers rewrite lists; after the build no lock is needed.
func (h *HNSW) neighbors(id uint32, l int, locks []sync.Mutex, sc *searchCtx) []uint32 {
	b := h.block(id, l)
	if locks == nil {
		return b[1 : 1+b[0]]
	}
	locks[id].Lock()
	sc.nbuf = append(sc.nbuf[:0], b[1:1+b[0]]...)
	locks[id].Unlock()
	return sc.nbuf
}

// greedy walks layer l from ep to a local maximum of similarity (ef = 1).
func (h *HNSW) greedy(q []float32, ep cand, l int, locks []sync.Mutex, sc *searchCtx) cand {
	for changed := true; changed; {
		changed = false
		for _, nb := range h.neighbors(ep.id, l, locks, sc) {
			if s := dot(q, h.vec(nb)); s > ep.sim {
				ep = cand{id: nb, sim: s}
				changed = true
			}
		}
	}
	return ep
}

// searchLayer is the HNSW paper's SEARCH-LAYER (algorithm 2): a best-first
// expansion from ep on layer l keeping the ef most similar nodes in
// sc.results (a min-heap). The caller resets sc and may pre-mark nodes. With sc.bound set it
// also stops, once ef results are held, at a best candidate below the bound less sc.margin.
func (h *HNSW) searchLayer(q []float32, ep cand, ef, l int, locks []sync.Mutex, sc *searchCtx) {
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
		for _, nb := range h.neighbors(c.id, l, locks, sc) {
			if visited[nb] == gen {
				continue
			}
			visited[nb] = gen
			s := dot(q, h.vec(nb))
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

// beaten reports whether a walk's best unexplored candidate, of similarity sim, cannot beat the
// shared bound. It is checked only once a walk holds ef results: before that the walk may still
// be climbing towards the query through worse nodes (as Lucene's multi-segment collector waits
// for a full local queue before it applies the global one).
func (sc *searchCtx) beaten(sim float32) bool {
	return sc.bound != nil && sim < sc.bound.Load()-sc.margin
}
