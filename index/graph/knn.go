package graph

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
)

// KNN is the graph's own k-nearest-neighbour graph: for each vector, its k most similar others
// in the segment, best first (a vector is never its own neighbour). Clustering reads faces
// through it instead of comparing every pair (quadratic: 12 minutes at 100,000 faces on two
// cores, about 20 hours at a million; bench/clusterbench).
//
// Each vector is searched for from itself: the search starts on the base layer at the vector's
// own node, which is already its best entry point, so the upper layers are skipped and ef
// candidates are explored around it (ef < k+1 is raised to k+1; 0 means the configured
// EfSearch). workers goroutines share the nodes (0: the build's default, every core). KNN
// checks ctx between nodes. The graph is read only, so KNN may run beside searches.
func (h *HNSW) KNN(ctx context.Context, k, ef, workers int) ([][]Neighbor, error) {
	if k < 1 {
		return nil, fmt.Errorf("%w, got %d", ErrInvalidK, k)
	}
	if ef < 0 {
		return nil, fmt.Errorf("graph: ef must not be negative, got %d", ef)
	}
	if ef == 0 {
		ef = h.efSearch
	}
	ef = max(ef, k+1)
	return h.eachNode(ctx, workers, func(i uint32, sc *searchCtx) []Neighbor {
		qv := h.vec(i)
		sc.reset()
		h.searchLayer(qv, cand{id: i, sim: dot(qv, qv)}, ef, 0, nil, sc)
		sc.drainResults()
		return topOthers(sc.sorted, i, k)
	})
}

// BaseKNN is a cheaper k-nearest-neighbour graph read from the base layer's adjacency lists,
// refined by one round of neighbour-of-neighbour exploration (the local join of NN-descent,
// Dong et al. 2011): each vector's candidates are its base-layer neighbours and theirs, and the
// k most similar are kept. The base layer alone is a poor k-NN graph for faces: the neighbour
// heuristic keeps one of several near-identical faces and drops the rest, which is what
// clustering needs most; their neighbours bring them back. Costs about (2M)² similarities a
// vector, against ef·2M or so for KNN. workers and ctx as for KNN.
func (h *HNSW) BaseKNN(ctx context.Context, k, workers int) ([][]Neighbor, error) {
	if k < 1 {
		return nil, fmt.Errorf("%w, got %d", ErrInvalidK, k)
	}
	return h.eachNode(ctx, workers, func(i uint32, sc *searchCtx) []Neighbor {
		qv := h.vec(i)
		sc.reset()
		sc.visited[i] = sc.gen
		sc.prune = sc.prune[:0]
		for _, a := range h.neighbors(i, 0, nil, nil) {
			if sc.visited[a] != sc.gen {
				sc.visited[a] = sc.gen
				sc.prune = append(sc.prune, cand{id: a, sim: dot(qv, h.vec(a))})
			}
			for _, b := range h.neighbors(a, 0, nil, nil) {
				if sc.visited[b] != sc.gen {
					sc.visited[b] = sc.gen
					sc.prune = append(sc.prune, cand{id: b, sim: dot(qv, h.vec(b))})
				}
			}
		}
		slices.SortFunc(sc.prune, func(a, b cand) int { return cmpSim(b.sim, a.sim) })
		return topOthers(sc.prune, i, k)
	})
}

// eachNode runs fn for every node on workers goroutines, each with its own scratch, and
// collects the lists.
func (h *HNSW) eachNode(ctx context.Context, workers int, fn func(i uint32, sc *searchCtx) []Neighbor) ([][]Neighbor, error) {
	if workers <= 0 {
		workers = Config{}.withDefaults().Workers
	}
	out := make([][]Neighbor, h.n)
	var next atomic.Uint32
	var wg sync.WaitGroup
	for range min(workers, max(h.n, 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sc := h.ctxPool.Get().(*searchCtx)
			defer h.ctxPool.Put(sc)
			for ctx.Err() == nil {
				i := next.Add(1) - 1
				if int(i) >= h.n {
					return
				}
				out[i] = fn(i, sc)
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("graph: k-nearest-neighbour graph cancelled: %w", err)
	}
	return out, nil
}

// topOthers is the first k of sorted (best first) other than self, in a slice of its own.
func topOthers(sorted []cand, self uint32, k int) []Neighbor {
	out := make([]Neighbor, 0, min(k, len(sorted)))
	for _, c := range sorted {
		if c.id == self {
			continue
		}
		if len(out) == k {
			break
		}
		out = append(out, Neighbor{ID: c.id, Similarity: c.sim})
	}
	return out
}
