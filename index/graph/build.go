package graph

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/facematch/facematch/index/quant"
)

// Build builds an HNSW graph over vectors, a contiguous row-major array of
// n×dim L2-normalised float32s (the segment's own array: the graph keeps a
// reference and never copies or writes it; the caller must not modify it
// afterwards). Similarity is the dot product.
//
// cfg.Workers goroutines insert nodes in parallel, as hnswlib does: each
// node's adjacency lists are guarded by that node's mutex (held only while
// a list is copied or rewritten, never across a distance computation), and
// a global mutex guards the entry point. Build checks ctx before each
// insertion and returns ctx.Err() promptly when it is cancelled.
//
// Levels are drawn up front from cfg.Seed, so the layer structure is
// reproducible; with Workers = 1 the whole graph is.
func Build(ctx context.Context, vectors []float32, dim int, cfg Config) (*HNSW, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	n, err := checkVectors(vectors, dim)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	h, err := newHNSW(vectors, dim, n, cfg, drawLevels(n, cfg.M, cfg.Seed))
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return h, nil
	}
	if err := runBuild(ctx, h, nil, cfg.Workers); err != nil {
		return nil, err
	}
	return h, nil
}

// runBuild inserts every node of h (allocated by newHNSW) on workers goroutines and connects
// what the heuristic stranded. With codes, similarities during construction are the codes'
// estimates (see BuildQuantized); without, the float32 dot product.
func runBuild(ctx context.Context, h *HNSW, codes *quant.Codes, workers int) error {
	n := h.n
	if n == 0 {
		return nil
	}
	h.entry, h.maxLevel = 0, int(h.levels[0])

	b := &builder{h: h, codes: codes, locks: make([]sync.Mutex, n)}
	b.next.Store(1) // node 0 is the initial entry point
	workers = min(workers, n)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b.work(ctx)
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("graph: build cancelled after %d of %d vectors: %w", b.done.Load(), n, err)
	}
	h.connect()
	return nil
}

// connect makes every node reachable from the entry point on the base layer. The neighbour
// heuristic can prune away every edge into a node (hnswlib has the same flaw); such a face
// would never be returned by any search, which for this index means a stored face that can
// never be found. Each unreachable node is linked from its most similar reachable neighbour
// (into a free slot, or replacing that neighbour's least similar link), and the check repeats
// until nothing is left out, since a replaced link can strand another node.
func (h *HNSW) connect() {
	for round := 0; round < 8; round++ {
		reached := make([]bool, h.n)
		reached[h.entry] = true
		queue := []uint32{h.entry}
		for len(queue) > 0 {
			id := queue[0]
			queue = queue[1:]
			for _, nb := range h.neighbors(id, 0, nil, nil) {
				if !reached[nb] {
					reached[nb] = true
					queue = append(queue, nb)
				}
			}
		}
		stranded := 0
		for u := range reached {
			if reached[u] {
				continue
			}
			stranded++
			h.linkFromReachable(uint32(u), reached)
		}
		if stranded == 0 {
			return
		}
	}
}

// linkFromReachable adds an edge to u from the reachable node most similar to it.
func (h *HNSW) linkFromReachable(u uint32, reached []bool) {
	uv := h.vec(u)
	best, bestSim := uint32(0), float32(-2)
	found := false
	// Candidates: u's own neighbours (near it by construction), else a scan.
	for _, v := range h.neighbors(u, 0, nil, nil) {
		if s := dot(uv, h.vec(v)); reached[v] && s > bestSim {
			best, bestSim, found = v, s, true
		}
	}
	if !found {
		for v := range reached {
			if s := dot(uv, h.vec(uint32(v))); reached[v] && uint32(v) != u && s > bestSim {
				best, bestSim, found = uint32(v), s, true
			}
		}
	}
	if !found {
		return
	}
	blk := h.block(best, 0)
	cnt := int(blk[0])
	if cnt < h.m0 {
		blk[1+cnt] = u
		blk[0]++
		return
	}
	bv := h.vec(best)
	worst, worstSim := 1, float32(2)
	for j := 1; j <= cnt; j++ {
		if s := dot(bv, h.vec(blk[j])); s < worstSim {
			worst, worstSim = j, s
		}
	}
	blk[worst] = u
}

// drawLevels draws each node's top layer from the exponential distribution
// of the HNSW paper with mL = 1/ln(M), as hnswlib does.
func drawLevels(n, m int, seed int64) []uint8 {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15))
	ml := 1 / math.Log(float64(m))
	levels := make([]uint8, n)
	for i := range levels {
		u := 1 - rng.Float64() // (0, 1]
		levels[i] = uint8(min(int(-math.Log(u)*ml), maxLevels))
	}
	return levels
}

// builder is the shared state of one parallel build.
type builder struct {
	h *HNSW
	// codes, when set, stand in for the vectors while the graph is built (BuildQuantized): the
	// node being inserted is prepared as an int8 query (sc.query) and compared with the codes,
	// and the neighbour heuristic compares codes with codes. Nil builds on float32.
	codes *quant.Codes
	locks []sync.Mutex // locks[i] guards node i's adjacency blocks on every layer
	// epMu guards h.entry and h.maxLevel. A node that raises the top level
	// holds it for its whole insertion (rare: ~1 in M^level), as hnswlib does.
	epMu sync.Mutex
	next atomic.Uint32 // next node to insert
	done atomic.Uint32 // nodes inserted, for the cancellation error
}

func (b *builder) work(ctx context.Context) {
	h := b.h
	sc := h.ctxPool.Get().(*searchCtx)
	defer h.ctxPool.Put(sc)
	for ctx.Err() == nil {
		i := b.next.Add(1) - 1
		if int(i) >= h.n {
			return
		}
		b.insert(i, sc)
		b.done.Add(1)
	}
}

// insert is INSERT (algorithm 1) with SELECT-NEIGHBORS-HEURISTIC
// (algorithm 4) on both the new node and the lists it overflows.
func (b *builder) insert(q uint32, sc *searchCtx) {
	h := b.h
	level := int(h.levels[q])

	b.epMu.Lock()
	ep, maxLevel := h.entry, h.maxLevel
	if level <= maxLevel {
		b.epMu.Unlock()
	} else {
		defer func() {
			h.entry, h.maxLevel = q, level
			b.epMu.Unlock()
		}()
	}

	qv := h.vec(q)
	if b.codes != nil {
		// The vector is finite and of the right length (checkVectors), so Prepare cannot fail.
		_ = b.codes.Quantizer().Prepare(&sc.query, qv)
	}
	cur := cand{id: ep, sim: b.simTo(qv, ep, sc)}
	for l := maxLevel; l > level; l-- {
		cur = b.greedy(qv, cur, l, sc)
	}
	// Choose q's neighbours on every layer first, then publish the links bottom-up. Publishing
	// top-down (the paper's order) lets another worker reach q on an upper layer while q's base
	// list is still empty; it then descends into a dead end and links its node to q alone, which
	// can leave a small clique that no search reaches.
	top := min(level, maxLevel)
	sc.layerSel = slices.Grow(sc.layerSel[:0], top+1)[:top+1]
	for l := top; l >= 0; l-- {
		sc.reset()
		sc.visited[q] = sc.gen // never link q to itself
		b.searchLayer(qv, cur, h.efConstruction, l, sc)
		sc.drainResults()
		cur = sc.sorted[0]
		b.selectHeuristic(sc.sorted, h.m, &sc.sel)
		sc.layerSel[l] = append(sc.layerSel[l][:0], sc.sel...)
	}
	for l := 0; l <= top; l++ {
		sel := sc.layerSel[l]
		blk := h.block(q, l)
		b.locks[q].Lock()
		blk[0] = uint32(len(sel))
		for j, c := range sel {
			blk[1+j] = c.id
		}
		b.locks[q].Unlock()
		for _, c := range sel {
			b.link(c.id, q, c.sim, l, sc)
		}
	}
}

// link adds q (at similarity s) to e's list on layer l, re-selecting e's
// neighbours with the heuristic when the list is full.
func (b *builder) link(e, q uint32, s float32, l int, sc *searchCtx) {
	h := b.h
	mmax := h.maxNeighbors(l)
	blk := h.block(e, l)
	b.locks[e].Lock()
	defer b.locks[e].Unlock()
	cnt := int(blk[0])
	if cnt < mmax {
		blk[1+cnt] = q
		blk[0]++
		return
	}
	sc.prune = append(sc.prune[:0], cand{id: q, sim: s})
	for _, nb := range blk[1 : 1+cnt] {
		sc.prune = append(sc.prune, cand{id: nb, sim: b.between(e, nb)})
	}
	slices.SortFunc(sc.prune, func(a, b cand) int { return cmpSim(b.sim, a.sim) })
	b.selectHeuristic(sc.prune, mmax, &sc.psel)
	blk[0] = uint32(len(sc.psel))
	for j, c := range sc.psel {
		blk[1+j] = c.id
	}
}

// selectHeuristic keeps up to m of cands (sorted best first by similarity to
// the base node) such that each kept candidate is more similar to the base
// than to any candidate kept before it. This spreads edges across clusters,
// which is what lets a greedy search leave a dense cluster (the paper's
// algorithm 4 without extendCandidates/keepPrunedConnections, as in
// hnswlib). Fewer than m candidates are kept as they are.
func (b *builder) selectHeuristic(cands []cand, m int, out *[]cand) {
	sel := (*out)[:0]
	if len(cands) <= m {
		*out = append(sel, cands...)
		return
	}
	for _, c := range cands {
		if len(sel) >= m {
			break
		}
		good := true
		for _, r := range sel {
			if b.between(c.id, r.id) > c.sim {
				good = false
				break
			}
		}
		if good {
			sel = append(sel, c)
		}
	}
	*out = sel
}

// drainResults empties the result heap into sc.sorted, best first.
func (sc *searchCtx) drainResults() {
	n := len(sc.results)
	sc.sorted = slices.Grow(sc.sorted[:0], n)[:n]
	for i := n - 1; i >= 0; i-- {
		sc.sorted[i] = sc.results.pop()
	}
}

func cmpSim(a, b float32) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// simTo is the similarity of the node being inserted (vector qv, prepared in sc.query when
// building on codes) to node id.
func (b *builder) simTo(qv []float32, id uint32, sc *searchCtx) float32 {
	if b.codes != nil {
		return b.codes.Similarity(&sc.query, int(id))
	}
	return dot(qv, b.h.vec(id))
}

// between is the similarity of two nodes already in the graph.
func (b *builder) between(x, y uint32) float32 {
	if b.codes != nil {
		return b.codes.SimilarityBetween(int(x), int(y))
	}
	return dot(b.h.vec(x), b.h.vec(y))
}

// greedy walks layer l from ep to a local maximum of similarity to the node being inserted
// (ef = 1), reading adjacency lists under their locks.
func (b *builder) greedy(qv []float32, ep cand, l int, sc *searchCtx) cand {
	for changed := true; changed; {
		changed = false
		for _, nb := range b.h.neighbors(ep.id, l, b.locks, sc) {
			if s := b.simTo(qv, nb, sc); s > ep.sim {
				ep = cand{id: nb, sim: s}
				changed = true
			}
		}
	}
	return ep
}

// searchLayer is the build's SEARCH-LAYER: HNSW.searchLayer with the builder's similarity and
// the adjacency lists read under their locks. The caller resets sc and may pre-mark nodes.
func (b *builder) searchLayer(qv []float32, ep cand, ef, l int, sc *searchCtx) {
	visited, gen := sc.visited, sc.gen
	visited[ep.id] = gen
	cands, results := sc.cands, sc.results
	cands.push(ep)
	results.push(ep)
	for len(cands) > 0 {
		c := cands.pop()
		if len(results) >= ef && c.sim < results[0].sim {
			break
		}
		for _, nb := range b.h.neighbors(c.id, l, b.locks, sc) {
			if visited[nb] == gen {
				continue
			}
			visited[nb] = gen
			s := b.simTo(qv, nb, sc)
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
