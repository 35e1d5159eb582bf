package index

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
)

// NeighbourGraph is the k-nearest-neighbour graph of the live faces of f's galleries (every
// face when f names none), as clustering reads it: ids lists the faces in ForEach order, and
// lists[i] holds face ids[i]'s k most similar others among them, best first. Each face is
// searched for through the index (Search with f: each sealed segment's graph at f.Ef, the
// growing segment exactly), k+1 deep with the face itself dropped, on workers goroutines (0:
// every core): about a search's time per face, where comparing every pair grows with the
// square of the faces. Faces added meanwhile may be missed, never half seen; ctx is checked
// between faces.
func (ix *Index) NeighbourGraph(ctx context.Context, model string, f Filter, k, workers int) (ids []uint64, lists [][]Hit, err error) {
	if model != ix.cfg.Model {
		return nil, nil, fmt.Errorf("%w: got %s, index holds %s", ErrModelMismatch, model, ix.cfg.Model)
	}
	if k < 1 {
		return nil, nil, fmt.Errorf("index: k must be >= 1, got %d", k)
	}
	in := map[uint64]bool{}
	for _, g := range f.Galleries {
		in[g] = true
	}
	var vectors []float32
	ix.ForEach(func(id, gallery uint64, v []float32) {
		if len(in) == 0 || in[gallery] {
			ids = append(ids, id)
			vectors = append(vectors, v...)
		}
	})
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	dim := ix.cfg.Dim
	lists = make([][]Hit, len(ids))
	errs := make([]error, workers)
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil && errs[w] == nil {
				i := int(next.Add(1) - 1)
				if i >= len(ids) {
					return
				}
				hits, err := ix.Search(ctx, model, vectors[i*dim:(i+1)*dim], k+1, f)
				if err != nil {
					errs[w] = err
					return
				}
				hits = slices.DeleteFunc(hits, func(h Hit) bool { return h.ID == ids[i] })
				lists[i] = hits[:min(k, len(hits))]
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	for _, err := range errs {
		if err != nil {
			return nil, nil, fmt.Errorf("index: neighbour graph: %w", err)
		}
	}
	return ids, lists, nil
}
