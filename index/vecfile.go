package index

import (
	"bufio"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"unsafe"

	"github.com/facematch/facematch/index/quant"
)

// Sealed segments keep their float32 vectors in local cache files (<Dir>/vectors), mapped read
// only, rather than in the heap (issue 17): a quantized walk reads a vector only to rescore its
// ~100 best candidates, so the kernel's page cache holds the pages that are read and the rest
// costs no resident memory. The files are derived data (the object store holds the vectors),
// written without fsync and removed at every Open.
//
// Unmapping: a search reads a segment through a view taken under the Index's read lock and
// released by forgetting it, so there is no call to count readers on. Instead every holder of
// mapped vectors (the segment, its views) holds the *vecMap, and the mapping is unmapped by a
// runtime cleanup once the vecMap is unreachable: after the segment was replaced and the last
// view of it is gone. A reader must keep its view reachable while it reads the vectors, which
// the index's search does (it reads the view's ids after the graph walk and its vectors in the
// exact scan). The file itself is removed as soon as the segment is replaced or dropped, so a
// deleted face's vector stays on disk no longer than the compaction that purges it; the open
// mapping keeps the inode until then.

// vecSuffix names cache files; Open removes every file with it.
const vecSuffix = ".f32"

// vecCache is an index's directory of vector files.
type vecCache struct {
	dir  string
	next atomic.Uint64 // numbers files, so a rewritten segment never reuses a name
	// mapped counts the mappings not yet unmapped (tests check that replacements and Close
	// release them).
	mapped atomic.Int64
}

// openVecCache makes dir (0700) and removes every vector file in it: files are never reused
// across opens (a crash may have left one half written), and none left by a previous process
// may keep a deleted face's vector.
func openVecCache(dir string, log *slog.Logger) (*vecCache, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("index: vector cache: %w", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("index: vector cache: %w", err)
	}
	removed := 0
	for _, e := range entries {
		if e.Type().IsRegular() && strings.HasSuffix(e.Name(), vecSuffix) {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
				return nil, fmt.Errorf("index: vector cache: %w", err)
			}
			removed++
		}
	}
	if removed > 0 {
		log.Info("removed stale vector cache files", "count", removed)
	}
	return &vecCache{dir: dir}, nil
}

// vecWriter appends float32 vectors to a new cache file; finish maps it.
type vecWriter struct {
	c    *vecCache
	f    *os.File
	bw   *bufio.Writer
	path string
	n    int64 // bytes written
}

// create starts a cache file for segment seq.
func (c *vecCache) create(seq uint64) (*vecWriter, error) {
	p := filepath.Join(c.dir, fmt.Sprintf("%d-%d%s", seq, c.next.Add(1), vecSuffix))
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("index: vector cache: %w", err)
	}
	return &vecWriter{c: c, f: f, bw: bufio.NewWriterSize(f, 1<<20), path: p}, nil
}

// Write appends raw little-endian float32 bytes (readSegment streams a segment's vectors
// through it).
func (w *vecWriter) Write(p []byte) (int, error) {
	n, err := w.bw.Write(p)
	w.n += int64(n)
	return n, err
}

func (w *vecWriter) add(v []float32) error {
	_, err := w.Write(floatBytes(v))
	return err
}

// finish flushes and maps the file; the descriptor is closed (the mapping keeps the file).
func (w *vecWriter) finish() (*vecMap, error) {
	if w.n%4 != 0 {
		w.abort()
		return nil, fmt.Errorf("index: vector cache: %d bytes are not float32s", w.n)
	}
	if err := w.bw.Flush(); err != nil {
		w.abort()
		return nil, fmt.Errorf("index: vector cache: %w", err)
	}
	raw, keepFile, err := mapFile(w.f, w.n)
	cerr := w.f.Close()
	if err == nil {
		err = cerr
	}
	if err != nil {
		if raw != nil {
			unmapFile(raw)
		}
		_ = os.Remove(w.path)
		return nil, fmt.Errorf("index: vector cache: %w", err)
	}
	m := &vecMap{data: floatsOf(raw)}
	if keepFile {
		m.path = w.path
	} else {
		_ = os.Remove(w.path)
	}
	if len(raw) > 0 && keepFile {
		w.c.mapped.Add(1)
		runtime.AddCleanup(m, func(u unmapping) {
			unmapFile(u.raw)
			u.c.mapped.Add(-1)
		}, unmapping{raw, w.c})
	}
	return m, nil
}

// unmapping is what the cleanup of a vecMap needs (never the vecMap itself, which would keep it
// reachable).
type unmapping struct {
	raw []byte
	c   *vecCache
}

// abort closes and removes an unfinished file.
func (w *vecWriter) abort() {
	_ = w.f.Close()
	_ = os.Remove(w.path)
}

// vecMap is a segment's vectors in a mapped cache file (or in the heap where mapping is not
// supported). data is read only: writing to it faults.
type vecMap struct {
	data    []float32
	path    string // empty when the vectors are in the heap
	removed atomic.Bool
}

// remove deletes the file (the mapping stays valid until the cleanup unmaps it).
func (m *vecMap) remove(log *slog.Logger) {
	if m == nil || m.path == "" || m.removed.Swap(true) {
		return
	}
	if err := os.Remove(m.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		log.Warn("removing a vector cache file", "file", filepath.Base(m.path), "err", err)
	}
}

func floatsOf(b []byte) []float32 {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), len(b)/4)
}

// segmentBuilder collects a sealed segment (a compaction's, a merge's) with its vectors written
// to a cache file as they come, so a merged segment of millions of faces never has its vectors
// in the heap. Without a cache (tests reading objects alone) they go to the heap.
type segmentBuilder struct {
	s  *segment
	vw *vecWriter
	// codes collects the sources' codes (addFrom) while every source has them; nil once one
	// does not, or when the index does not walk codes.
	codes *quant.Codes
}

// newSegmentBuilder starts a segment of the index's: vectors in its cache, codes copied when
// the index walks them.
func (ix *Index) newSegmentBuilder(seq uint64, capacity int) (*segmentBuilder, error) {
	b, err := newSegmentBuilder(ix.vecs, seq, ix.cfg.Dim, capacity)
	if err != nil {
		return nil, err
	}
	if ix.cfg.Graph != nil && ix.cfg.Graph.quantizer != nil {
		b.codes = ix.cfg.Graph.quantizer.NewCodes(capacity)
	}
	return b, nil
}

// addFrom adds face i of src, with its code when src has codes.
func (b *segmentBuilder) addFrom(src *segment, i int) error {
	if b.codes != nil {
		var c *quant.Codes
		if h := src.graph.Load(); h != nil {
			c = codesOf(h.g)
		}
		if c == nil || b.codes.AppendFrom(c, i) != nil {
			b.codes = nil
		}
	}
	return b.add(src.ids[i], src.galleries[i], src.vectors[i*src.dim:(i+1)*src.dim])
}

func newSegmentBuilder(c *vecCache, seq uint64, dim, capacity int) (*segmentBuilder, error) {
	s := &segment{seq: seq, dim: dim, ids: make([]uint64, 0, capacity), galleries: make([]uint64, 0, capacity)}
	if c == nil {
		s.vectors = make([]float32, 0, capacity*dim)
		return &segmentBuilder{s: s}, nil
	}
	vw, err := c.create(seq)
	if err != nil {
		return nil, err
	}
	return &segmentBuilder{s: s, vw: vw}, nil
}

func (b *segmentBuilder) add(id, gallery uint64, v []float32) error {
	if b.vw == nil {
		b.s.add(id, gallery, v)
		return nil
	}
	b.s.ids = append(b.s.ids, id)
	b.s.galleries = append(b.s.galleries, gallery)
	return b.vw.add(v)
}

// finish returns the segment over its mapped vectors.
func (b *segmentBuilder) finish() (*segment, error) {
	if b.codes != nil {
		b.codes.Trim()
	}
	b.s.codes = b.codes
	if b.vw == nil {
		return b.s, nil
	}
	m, err := b.vw.finish()
	if err != nil {
		return nil, err
	}
	b.s.vectors, b.s.vm = m.data, m
	return b.s, nil
}

// abort drops an unfinished segment's file.
func (b *segmentBuilder) abort() {
	if b.vw != nil {
		b.vw.abort()
	}
}

// vectorDir is the cache's directory under Config.Dir.
const vectorDir = "vectors"

// retire removes the cache files of segments the index no longer serves (replaced by a
// compaction or a merge, a merge never published, or the index closed); their mappings go when
// the last view does.
func (ix *Index) retire(segs ...*segment) {
	for _, s := range segs {
		if s != nil {
			s.vm.remove(ix.log)
		}
	}
}

// mapVectors moves a sealed segment's vectors from the heap to a mapped cache file before its
// graph is built over them. Views taken before keep the heap array (the collector keeps it while
// they live). It runs on the persister goroutine, the only writer of a sealed segment's fields.
func (ix *Index) mapVectors(s *segment) error {
	if ix.vecs == nil || s.vm != nil || s.len() == 0 {
		return nil
	}
	b, err := newSegmentBuilder(ix.vecs, s.seq, s.dim, 0)
	if err != nil {
		return err
	}
	if err := b.vw.add(s.vectors); err != nil {
		b.abort()
		return fmt.Errorf("index: vector cache: %w", err)
	}
	m, err := b.vw.finish()
	if err != nil {
		return err
	}
	var g *graphHandle
	if h := s.graph.Load(); h != nil {
		rg, err := rebind(h.g, m.data)
		if err != nil {
			// A graph that cannot move keeps the heap vectors.
			m.remove(ix.log)
			return nil
		}
		g = &graphHandle{g: rg}
	}
	ix.mu.Lock()
	s.vectors, s.vm = m.data, m
	if g != nil {
		s.graph.Store(g)
	}
	ix.mu.Unlock()
	return nil
}
