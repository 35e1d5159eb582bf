package index

import (
	"container/heap"
	"sync/atomic"

	"github.com/facematch/facematch/index/quant"
)

// segment holds faces in insertion order: ids[i], galleries[i] and vectors[i*dim:(i+1)*dim]
// describe face i. A growing segment is appended to under the Index's write lock; readers work on
// a view taken under the read lock, which stays valid because appends never modify what a view
// covers. A sealed segment never changes.
type segment struct {
	seq       uint64
	dim       int
	ids       []uint64
	galleries []uint64
	vectors   []float32

	graph atomic.Pointer[graphHandle] // nil until the background build finishes (sealed only)
	// key is the segment's object key once persisted; empty before.
	key string
	// vm holds vectors when they are in a mapped cache file (vecfile.go); views share it, which
	// keeps the mapping alive while they are searched.
	vm *vecMap
	// rewrite says why the object at key should be written again (a damaged graph or code
	// section was rebuilt at load, or the codes were missing); nil when it is fine. Set before
	// the segment is shared, cleared by the persister under the Index's lock.
	rewrite error
	// codes, when set, are the segment's codes copied from the segments it was made from (a
	// compaction, a merge), for the graph build to attach instead of encoding them again.
	codes *quant.Codes
}

// graphHandle wraps a built graph so it can sit behind an atomic pointer.
type graphHandle struct{ g annGraph }

func newSegment(seq uint64, dim int) *segment { return &segment{seq: seq, dim: dim} }

func (s *segment) len() int { return len(s.ids) }

func (s *segment) add(id, gallery uint64, v []float32) {
	s.ids = append(s.ids, id)
	s.galleries = append(s.galleries, gallery)
	s.vectors = append(s.vectors, v...)
}

// view returns a read-only copy of the slice headers, safe to search after the lock is released.
func (s *segment) view() *segment {
	v := &segment{seq: s.seq, dim: s.dim, ids: s.ids[:len(s.ids):len(s.ids)], galleries: s.galleries[:len(s.galleries):len(s.galleries)],
		vectors: s.vectors[:len(s.vectors):len(s.vectors)], key: s.key, vm: s.vm}
	v.graph.Store(s.graph.Load())
	return v
}

// Hit is one search result.
type Hit struct {
	ID         uint64
	Gallery    uint64
	Similarity float32 // cosine similarity (dot product of unit vectors), higher is more similar
}

// accept filters candidates: nil means every face.
type accept func(id, gallery uint64) bool

// searchExact scans every face of the segment; cost is one dot product per face.
func (s *segment) searchExact(query []float32, k int, ok accept) []Hit {
	h := make(topK, 0, k+1)
	dim := s.dim
	for i, id := range s.ids {
		if ok != nil && !ok(id, s.galleries[i]) {
			continue
		}
		sim := dot(query, s.vectors[i*dim:(i+1)*dim])
		if len(h) < k {
			heap.Push(&h, Hit{ID: id, Gallery: s.galleries[i], Similarity: sim})
		} else if sim > h[0].Similarity {
			h[0] = Hit{ID: id, Gallery: s.galleries[i], Similarity: sim}
			heap.Fix(&h, 0)
		}
	}
	return h.sorted()
}

// topK is a min-heap on similarity: the root is the worst of the best k.
type topK []Hit

func (h topK) Len() int           { return len(h) }
func (h topK) Less(i, j int) bool { return h[i].Similarity < h[j].Similarity }
func (h topK) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *topK) Push(x any)        { *h = append(*h, x.(Hit)) }
func (h *topK) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// sorted empties the heap into a slice ordered by similarity, best first.
func (h *topK) sorted() []Hit {
	out := make([]Hit, h.Len())
	for i := len(out) - 1; i >= 0; i-- {
		out[i] = heap.Pop(h).(Hit)
	}
	return out
}

// dot is the dot product of two equal-length vectors, unrolled 8 ways so the compiler keeps
// independent accumulators in registers.
func dot(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3, s4, s5, s6, s7 float32
	i := 0
	for ; i+8 <= len(a); i += 8 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
		s4 += a[i+4] * b[i+4]
		s5 += a[i+5] * b[i+5]
		s6 += a[i+6] * b[i+6]
		s7 += a[i+7] * b[i+7]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3) + (s4 + s5) + (s6 + s7)
}
