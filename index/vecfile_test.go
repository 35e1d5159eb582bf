package index

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// lockedBuffer is a log destination the test reads while the index writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// openCached opens a quantized test index with segments of segmentSize faces, merging factor
// segments of a tier (negative: never) and compacting only when asked.
func openCached(t *testing.T, dir string, store ObjectStore, segmentSize, factor int, log io.Writer) *testIndex {
	t.Helper()
	if log == nil {
		log = io.Discard
	}
	cfg := Config{Dir: filepath.Join(dir, "wal"), Store: store, Prefix: "index/test", Model: testModel, Dim: 32,
		SegmentSize: segmentSize, Graph: mergeTestGraph(), Quantized: true, CompactAfter: -1, MergeFactor: factor,
		Logger: slog.New(slog.NewTextHandler(log, nil))}
	ix, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ix.Close() })
	return &testIndex{ix, cfg}
}

// cacheFiles lists the vector cache files under the index's directory.
func cacheFiles(t *testing.T, ix *testIndex) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(ix.cfg.Dir, vectorDir))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, filepath.Join(ix.cfg.Dir, vectorDir, e.Name()))
	}
	return out
}

// mappedFiles lists the cache files the index's sealed segments are mapped from; it fails the
// test when a persisted segment's vectors are in the heap.
func mappedFiles(t *testing.T, ix *testIndex) []string {
	t.Helper()
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	var out []string
	for _, s := range ix.sealed {
		if s.key == "" {
			continue
		}
		if s.vm == nil || s.vm.path == "" {
			t.Fatalf("persisted segment %d keeps its vectors in the heap", s.seq)
		}
		out = append(out, s.vm.path)
	}
	slices.Sort(out)
	return out
}

// answersOf runs the queries and returns their hits.
func answersOf(t *testing.T, ix *Index, queries [][]float32) [][]Hit {
	t.Helper()
	var out [][]Hit
	for _, q := range queries {
		h, err := ix.Search(context.Background(), testModel, q, 10, Filter{Ef: 64})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, h)
	}
	return out
}

// TestDamagedCodesRebuiltAtOpen: segment objects whose code section was damaged in the store
// open with their codes encoded again (a warning names the object), answer exactly as before,
// and are written again, after which they open without repair.
func TestDamagedCodesRebuiltAtOpen(t *testing.T) {
	if !linuxMapped() {
		t.Skip("vectors are mapped on linux only")
	}
	ctx := context.Background()
	dir := t.TempDir()
	store := localStore(t, dir)
	ix := openCached(t, dir, store, 100, -1, nil)
	r := rand.New(rand.NewPCG(45, 46))
	addBatches(t, ix, r, 3, 100, func(b int) uint64 { return uint64(b % 2) })
	if err := ix.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	queries := make([][]float32, 10)
	for i := range queries {
		queries[i] = unitVector(r, 32)
	}
	want := answersOf(t, ix.Index, queries)
	ix.Close()
	keys := segmentObjects(t, ix)
	for _, k := range keys {
		rc, err := store.Get(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		o := findSections(t, data, 32)
		data[o.codesBytes+o.codesLen/2] ^= 0x40
		if err := store.Put(ctx, k, bytes.NewReader(data), int64(len(data))); err != nil {
			t.Fatal(err)
		}
	}
	var log lockedBuffer
	re := openCached(t, dir, store, 100, -1, &log)
	if got := answersOf(t, re.Index, queries); !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatal("answers over repaired codes differ")
	}
	if n := strings.Count(log.String(), "level=WARN msg=\"segment object rebuilt in part"); n != len(keys) {
		t.Fatalf("%d warnings for %d damaged objects:\n%s", n, len(keys), log.String())
	}
	waitFor(t, "the repaired objects' rewrite", func() bool {
		now := segmentObjects(t, re)
		return len(now) == len(keys) && !slices.ContainsFunc(now, func(k string) bool { return slices.Contains(keys, k) })
	})
	re.Close()
	var again lockedBuffer
	third := openCached(t, dir, store, 100, -1, &again)
	if strings.Contains(again.String(), "level=WARN") {
		t.Fatalf("warnings after the rewrite:\n%s", again.String())
	}
	if got := answersOf(t, third.Index, queries); !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatal("answers after the rewrite differ")
	}
}

// TestVectorCacheHoldsNoDeletedFace: after faces are deleted and their segments compacted and
// merged, no cache file holds a deleted face's vector, every cache file is a live segment's, and
// Close leaves none. A file left by an earlier process is removed at Open.
func TestVectorCacheHoldsNoDeletedFace(t *testing.T) {
	if !linuxMapped() {
		t.Skip("vectors are mapped on linux only")
	}
	ctx := context.Background()
	dir := t.TempDir()
	store := localStore(t, dir)
	stale := filepath.Join(dir, "wal", vectorDir, "7-1"+vecSuffix)
	if err := os.MkdirAll(filepath.Dir(stale), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(stale, []byte("left by a crash"), 0o600); err != nil {
		t.Fatal(err)
	}
	ix := openCached(t, dir, store, 40, 3, nil)
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Fatalf("a stale cache file survived Open: %v", err)
	}
	r := rand.New(rand.NewPCG(47, 48))
	all := addBatches(t, ix, r, 3, 40, func(b int) uint64 { return uint64(b % 2) })
	waitMerges(t, ix, 1)
	var deleted [][]byte
	for id := uint64(0); id < 120; id += 7 {
		deleted = append(deleted, floatBytes(all[id].Vector))
		deleteFaces(t, ix, all, id)
	}
	holding := func() int {
		n := 0
		for _, f := range cacheFiles(t, ix) {
			data, err := os.ReadFile(f)
			if os.IsNotExist(err) {
				continue // replaced by a merge or compaction since it was listed: it holds nothing
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range deleted {
				if bytes.Contains(data, v) {
					n++
				}
			}
		}
		return n
	}
	if n := holding(); n != len(deleted) {
		t.Fatalf("before compaction %d deleted vectors found in cache files, want all %d (the check sees nothing)", n, len(deleted))
	}
	if err := ix.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	// Three more segments: a second merge, of the compacted segment's tier-mates.
	for b := range 6 {
		es := entries(r, 120+40*b, 40, uint64(b%2))
		if err := ix.Add(ctx, testModel, es); err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			all[e.ID] = e
		}
	}
	if err := ix.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	waitMerges(t, ix, 2)
	if n := holding(); n != 0 {
		t.Fatalf("%d deleted vectors still in cache files after compaction and merge", n)
	}
	waitFor(t, "the cache to hold only live segments", func() bool {
		return slices.Equal(sortedCopy(cacheFiles(t, ix)), mappedFiles(t, ix))
	})
	for _, f := range cacheFiles(t, ix) {
		if fi, err := os.Stat(f); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("cache file %s: %v, mode %v", f, err, fi.Mode())
		}
	}
	checkAnswers(t, ix.Index, all, 11)
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	if files := cacheFiles(t, ix); len(files) != 0 {
		t.Fatalf("cache files after Close: %v", files)
	}
}

func sortedCopy(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// TestMappingsReleased: mappings of replaced segments and, after Close, of all segments are
// unmapped once no search holds them.
func TestMappingsReleased(t *testing.T) {
	if !linuxMapped() {
		t.Skip("vectors are mapped on linux only")
	}
	dir := t.TempDir()
	ix := openCached(t, dir, localStore(t, dir), 40, 3, nil)
	addBatches(t, ix, rand.New(rand.NewPCG(49, 50)), 4, 40, func(int) uint64 { return 0 })
	waitMerges(t, ix, 1)
	if err := ix.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The merged segment and the fourth: the three inputs' mappings go with the last views.
	waitFor(t, "replaced segments' mappings to go", func() bool {
		runtime.GC()
		return ix.vecs.mapped.Load() == 2
	})
	ix.Close()
	waitFor(t, "Close's mappings to go", func() bool {
		runtime.GC()
		return ix.vecs.mapped.Load() == 0
	})
}

// TestSearchWhileSegmentsAreReplaced: searches run while compactions and merges replace the
// segments they read (and the collector runs, to unmap what is unreachable at once); every hit
// is a live face with its exact similarity. Run under -race.
func TestSearchWhileSegmentsAreReplaced(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	ix := openCached(t, dir, localStore(t, dir), 40, 3, nil)
	r := rand.New(rand.NewPCG(51, 52))
	vectors := map[uint64][]float32{}
	const total = 9 * 40
	pending := entries(r, 0, total, 0)
	for i := range pending {
		pending[i].Gallery = uint64(i % 3)
		vectors[pending[i].ID] = pending[i].Vector
	}
	stop := make(chan struct{})
	var searches atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, 8)
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 53))
			for {
				select {
				case <-stop:
					return
				default:
				}
				q := unitVector(r, 32)
				hits, err := ix.Search(ctx, testModel, q, 10, Filter{Ef: 32})
				if err != nil {
					errc <- err
					return
				}
				for _, h := range hits {
					if h.Similarity != dot(q, vectors[h.ID]) {
						t.Errorf("face %d: similarity %v, want %v", h.ID, h.Similarity, dot(q, vectors[h.ID]))
					}
				}
				searches.Add(1)
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
				runtime.GC()
			}
		}
	}()
	for round := range 3 {
		if err := ix.Add(ctx, testModel, pending[round*120:(round+1)*120]); err != nil {
			t.Fatal(err)
		}
		if err := ix.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		for id := uint64(round * 120); id < uint64((round+1)*120); id += 5 {
			if err := ix.Delete(ctx, id); err != nil {
				t.Fatal(err)
			}
		}
		if err := ix.Compact(ctx); err != nil {
			t.Fatal(err)
		}
		waitMerges(t, ix, int64(round+1))
	}
	close(stop)
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	if searches.Load() == 0 {
		t.Fatal("no search ran")
	}
}

// TestVersion1ObjectsOpen: an index whose objects are in format version 1 (written before
// issue 17's codes) opens, quantized, with the same answers, and its objects are written again
// in version 2 with their codes.
func TestVersion1ObjectsOpen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	store := localStore(t, dir)
	ix := openCached(t, dir, store, 100, -1, nil)
	r := rand.New(rand.NewPCG(55, 56))
	addBatches(t, ix, r, 2, 100, func(b int) uint64 { return uint64(b) })
	if err := ix.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	queries := make([][]float32, 10)
	for i := range queries {
		queries[i] = unitVector(r, 32)
	}
	want := answersOf(t, ix.Index, queries)
	ix.Close()
	keys := segmentObjects(t, ix)
	for _, k := range keys {
		rc, err := store.Get(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		s, err := readSegment(ctx, rc, readOptions{model: testModel, dim: 32, graph: mergeTestGraph()})
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		var v1 bytes.Buffer
		if err := writeSegmentV1(&v1, s, testModel); err != nil {
			t.Fatal(err)
		}
		if err := store.Put(ctx, k, bytes.NewReader(v1.Bytes()), int64(v1.Len())); err != nil {
			t.Fatal(err)
		}
	}
	re := openCached(t, dir, store, 100, -1, nil)
	if got := answersOf(t, re.Index, queries); !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatal("answers over version 1 objects differ")
	}
	waitFor(t, "the version 1 objects' rewrite", func() bool {
		now := segmentObjects(t, re)
		return len(now) == len(keys) && !slices.ContainsFunc(now, func(k string) bool { return slices.Contains(keys, k) })
	})
	for _, k := range segmentObjects(t, re) {
		rc, err := store.Get(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if v := binary.LittleEndian.Uint32(data[8:]); v != segmentVersion || findSections(t, data, 32).codesLen == 0 {
			t.Fatalf("rewritten object %s: version %d, or no codes", k, v)
		}
	}
}
