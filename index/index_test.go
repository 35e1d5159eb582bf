package index

import (
	"bytes"
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"testing"

	"github.com/facematch/facematch/internal/blob/blobtest"
	"github.com/facematch/facematch/internal/blob/local"
)

const testModel = "test-model@000000000000"

func unitVector(r *rand.Rand, dim int) []float32 {
	v := make([]float32, dim)
	var ss float64
	for i := range v {
		x := r.NormFloat64()
		v[i] = float32(x)
		ss += x * x
	}
	inv := float32(1 / math.Sqrt(ss))
	for i := range v {
		v[i] *= inv
	}
	return v
}

type testIndex struct {
	*Index
	cfg Config
}

// opener opens (or reopens) the test index kept under dir; the tests that take one run against
// every store (openTest: a local directory; s3_integration_test.go: a versioned S3 bucket).
type opener func(t *testing.T, dir string, segmentSize int, graph *GraphKind) *testIndex

func openTest(t *testing.T, dir string, segmentSize int, graph *GraphKind) *testIndex {
	t.Helper()
	store, err := local.Open(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Dir: filepath.Join(dir, "wal"), Store: store, Prefix: "index/test", Model: testModel, Dim: 32,
		SegmentSize: segmentSize, Graph: graph}
	ix, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ix.Close() })
	return &testIndex{ix, cfg}
}

func entries(r *rand.Rand, from, n int, gallery uint64) []Entry {
	out := make([]Entry, n)
	for i := range out {
		out[i] = Entry{ID: uint64(from + i), Gallery: gallery, Vector: unitVector(r, 32)}
	}
	return out
}

// addBatches adds batches of size random faces, batch b in gallery(b) with IDs from b*size, and
// returns every face added by ID.
func addBatches(t *testing.T, ix *testIndex, r *rand.Rand, batches, size int, gallery func(b int) uint64) map[uint64]Entry {
	t.Helper()
	all := map[uint64]Entry{}
	for b := 0; b < batches; b++ {
		es := entries(r, b*size, size, gallery(b))
		if err := ix.Add(context.Background(), testModel, es); err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			all[e.ID] = e
		}
	}
	return all
}

// deleteFaces deletes ids from the index and from all.
func deleteFaces(t *testing.T, ix *testIndex, all map[uint64]Entry, ids ...uint64) {
	t.Helper()
	if err := ix.Delete(context.Background(), ids...); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		delete(all, id)
	}
}

// exactTop is the brute-force answer the index must match.
func exactTop(all map[uint64]Entry, q []float32, k int, galleries ...uint64) []uint64 {
	type scored struct {
		id  uint64
		sim float32
	}
	var s []scored
	for id, e := range all {
		if len(galleries) > 0 && e.Gallery != galleries[0] {
			continue
		}
		s = append(s, scored{id, dot(q, e.Vector)})
	}
	sort.Slice(s, func(i, j int) bool {
		if s[i].sim != s[j].sim {
			return s[i].sim > s[j].sim
		}
		return s[i].id < s[j].id
	})
	var ids []uint64
	for i := 0; i < k && i < len(s); i++ {
		ids = append(ids, s[i].id)
	}
	return ids
}

func hitIDs(h []Hit) []uint64 {
	var ids []uint64
	for _, x := range h {
		ids = append(ids, x.ID)
	}
	return ids
}

func TestAddSearchDeleteExact(t *testing.T) {
	ctx := context.Background()
	ix := openTest(t, t.TempDir(), 50, nil)
	r := rand.New(rand.NewPCG(1, 2))
	all := addBatches(t, ix, r, 6, 40, func(b int) uint64 { return uint64(b % 2) })
	deleteFaces(t, ix, all, 3, 77, 199)
	if ix.Len() != len(all) {
		t.Fatalf("Len = %d, want %d", ix.Len(), len(all))
	}
	for q := 0; q < 20; q++ {
		query := unitVector(r, 32)
		hits, err := ix.Search(ctx, testModel, query, 10, Filter{})
		if err != nil {
			t.Fatal(err)
		}
		if want := exactTop(all, query, 10); !slices.Equal(hitIDs(hits), want) {
			t.Fatalf("query %d: got %v, want %v", q, hitIDs(hits), want)
		}
		hits, err = ix.Search(ctx, testModel, query, 5, Filter{Galleries: []uint64{1}})
		if err != nil {
			t.Fatal(err)
		}
		if want := exactTop(all, query, 5, 1); !slices.Equal(hitIDs(hits), want) {
			t.Fatalf("gallery 1: got %v, want %v", hitIDs(hits), want)
		}
	}
	// The face itself is its own best match, with similarity 1.
	hits, err := ix.Search(ctx, testModel, all[5].Vector, 1, Filter{})
	if err != nil || hits[0].ID != 5 || math.Abs(float64(hits[0].Similarity)-1) > 1e-5 {
		t.Fatalf("self search = %+v, %v", hits, err)
	}
}

func TestRefusals(t *testing.T) {
	ctx := context.Background()
	ix := openTest(t, t.TempDir(), 100, nil)
	r := rand.New(rand.NewPCG(3, 4))
	if err := ix.Add(ctx, testModel, entries(r, 0, 3, 0)); err != nil {
		t.Fatal(err)
	}
	nan := unitVector(r, 32)
	nan[4] = float32(math.NaN())
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"other model", ix.Add(ctx, "other@1", entries(r, 10, 1, 0)), ErrModelMismatch},
		{"wrong dimension", ix.Add(ctx, testModel, []Entry{{ID: 11, Vector: make([]float32, 31)}}), ErrDimension},
		{"NaN", ix.Add(ctx, testModel, []Entry{{ID: 12, Vector: nan}}), ErrInvalidVector},
		{"duplicate id", ix.Add(ctx, testModel, entries(r, 1, 1, 0)), ErrExists},
		{"duplicate in batch", ix.Add(ctx, testModel, []Entry{{ID: 20, Vector: nan[:0]}}), ErrDimension},
		{"delete unknown", ix.Delete(ctx, 999), ErrNotFound},
		{"search other model", func() error { _, err := ix.Search(ctx, "other@1", unitVector(r, 32), 1, Filter{}); return err }(), ErrModelMismatch},
		{"search wrong dim", func() error { _, err := ix.Search(ctx, testModel, make([]float32, 8), 1, Filter{}); return err }(), ErrDimension},
	}
	for _, tc := range tests {
		if !errors.Is(tc.err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, tc.err, tc.want)
		}
	}
	// A refused batch adds nothing.
	bad := entries(r, 30, 2, 0)
	bad[1].Vector = nan
	if err := ix.Add(ctx, testModel, bad); err == nil || ix.Len() != 3 {
		t.Fatalf("half-bad batch: err %v, Len %d; want an error and 3", err, ix.Len())
	}
	// A deleted id cannot come back.
	if err := ix.Delete(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if err := ix.Add(ctx, testModel, entries(r, 0, 1, 0)); !errors.Is(err, ErrExists) {
		t.Fatalf("re-adding a deleted id: %v", err)
	}
}

// TestRestartKeepsEverything: sealed segments go to object storage, the rest is replayed from
// the WAL; after a restart the index answers exactly as before.
func TestRestartKeepsEverything(t *testing.T) { testRestartKeepsEverything(t, openTest) }

func testRestartKeepsEverything(t *testing.T, open opener) {
	ctx := context.Background()
	dir := t.TempDir()
	ix := open(t, dir, 64, nil)
	r := rand.New(rand.NewPCG(5, 6))
	all := addBatches(t, ix, r, 5, 50, func(int) uint64 { return 7 })
	deleteFaces(t, ix, all, 10, 130, 249)
	if err := ix.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	queries := make([][]float32, 10)
	before := make([][]uint64, 10)
	for i := range queries {
		queries[i] = unitVector(r, 32)
		h, err := ix.Search(ctx, testModel, queries[i], 10, Filter{})
		if err != nil {
			t.Fatal(err)
		}
		before[i] = hitIDs(h)
	}
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	re := open(t, dir, 64, nil)
	if re.Len() != len(all) {
		t.Fatalf("after restart Len = %d, want %d", re.Len(), len(all))
	}
	for i, q := range queries {
		h, err := re.Search(ctx, testModel, q, 10, Filter{})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(hitIDs(h), before[i]) || !slices.Equal(hitIDs(h), exactTop(all, q, 10)) {
			t.Fatalf("query %d after restart: %v, before %v", i, hitIDs(h), before[i])
		}
	}
}

func TestTornWALTailIsIgnored(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	ix := openTest(t, dir, 1000, nil)
	r := rand.New(rand.NewPCG(7, 8))
	if err := ix.Add(ctx, testModel, entries(r, 0, 20, 0)); err != nil {
		t.Fatal(err)
	}
	ix.Close()
	nums, err := walFiles(filepath.Join(dir, "wal"))
	if err != nil || len(nums) == 0 {
		t.Fatal(nums, err)
	}
	// A crash in the middle of writing a record leaves a partial record at the end.
	f, err := os.OpenFile(filepath.Join(dir, "wal", walName(nums[len(nums)-1])), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte{200, 0, 0, 0, 1, 2, 3, 4, 1, 9, 9})
	f.Close()
	re := openTest(t, dir, 1000, nil)
	if re.Len() != 20 {
		t.Fatalf("after torn tail: Len = %d, want 20", re.Len())
	}
	if err := re.Add(ctx, testModel, entries(r, 20, 5, 0)); err != nil {
		t.Fatal(err)
	}
	re.Close()
	if again := openTest(t, dir, 1000, nil); again.Len() != 25 {
		t.Fatalf("after appending past a torn tail: Len = %d, want 25", again.Len())
	}
}

// TestCompactionRemovesDeletedVectors: after Compact, no object in the store holds the bytes of
// a deleted face's vector.
func TestCompactionRemovesDeletedVectors(t *testing.T) {
	testCompactionRemovesDeletedVectors(t, openTest, func(t *testing.T, ix *testIndex, needle []byte) bool {
		return storeHolds(t, ix.cfg.Store, needle)
	})
}

// testCompactionRemovesDeletedVectors runs the compaction test on the index that open opens;
// holds reports whether anything in its object storage contains needle.
func testCompactionRemovesDeletedVectors(t *testing.T, open opener, holds func(t *testing.T, ix *testIndex, needle []byte) bool) {
	ctx := context.Background()
	dir := t.TempDir()
	ix := open(t, dir, 40, nil)
	r := rand.New(rand.NewPCG(9, 10))
	es := entries(r, 0, 120, 0)
	if err := ix.Add(ctx, testModel, es); err != nil {
		t.Fatal(err)
	}
	if err := ix.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	victim := es[5]
	if !holds(t, ix, floatBytes(victim.Vector)) {
		t.Fatal("the vector is not in the store before deletion: the test would prove nothing")
	}
	if err := ix.Delete(ctx, victim.ID); err != nil {
		t.Fatal(err)
	}
	if err := ix.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	if holds(t, ix, floatBytes(victim.Vector)) {
		t.Fatal("a deleted face's vector is still in object storage after compaction")
	}
	h, err := ix.Search(ctx, testModel, victim.Vector, 3, Filter{})
	if err != nil || h[0].ID == victim.ID {
		t.Fatalf("deleted face returned: %v %v", h, err)
	}
	ix.Close()
	if re := open(t, dir, 40, nil); re.Len() != 119 {
		t.Fatalf("after compaction and restart Len = %d, want 119", re.Len())
	}
}

func storeHolds(t *testing.T, store ObjectStore, needle []byte) bool {
	t.Helper()
	return blobtest.Holds(t, store, needle)
}

// TestConcurrentAddSearchDelete runs under the race detector in scripts/test.
func TestConcurrentAddSearchDelete(t *testing.T) {
	ctx := context.Background()
	ix := openTest(t, t.TempDir(), 100, nil)
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 11))
			for i := 0; i < 20; i++ {
				es := entries(r, w*10_000+i*10, 10, uint64(w))
				if err := ix.Add(ctx, testModel, es); err != nil {
					t.Error(err)
					return
				}
				if i%3 == 0 {
					if err := ix.Delete(ctx, es[0].ID); err != nil {
						t.Error(err)
						return
					}
				}
				if _, err := ix.Search(ctx, testModel, unitVector(r, 32), 5, Filter{Galleries: []uint64{uint64(w)}}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := ix.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if want := 4 * (200 - 7); ix.Len() != want {
		t.Fatalf("Len = %d, want %d", ix.Len(), want)
	}
}

func TestCheckpointMovesEverythingToTheStore(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	ix := openTest(t, dir, 1000, nil)
	r := rand.New(rand.NewPCG(12, 13))
	if err := ix.Add(ctx, testModel, entries(r, 0, 30, 2)); err != nil {
		t.Fatal(err)
	}
	if err := ix.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	segs, err := ix.cfg.Store.List(ctx, "index/test/segments/")
	if err != nil || len(segs) != 1 {
		t.Fatalf("segments in store: %v, %v; want 1", segs, err)
	}
	ix.Close()
	// Only the (empty) file opened after the checkpoint may remain: nothing left to replay.
	nums, _ := walFiles(filepath.Join(dir, "wal"))
	for _, n := range nums {
		if fi, err := os.Stat(filepath.Join(dir, "wal", walName(n))); err != nil || fi.Size() != 0 {
			t.Fatalf("wal file %d still holds %d bytes after a checkpoint", n, fi.Size())
		}
	}
	if re := openTest(t, dir, 1000, nil); re.Len() != 30 {
		t.Fatalf("after checkpoint and restart Len = %d, want 30", re.Len())
	}
}

// TestOrphanedSegmentsAreRemoved: a segment uploaded for a manifest that was never published (a
// crash between the two writes) is deleted once a later manifest is published.
func TestOrphanedSegmentsAreRemoved(t *testing.T) {
	ctx := context.Background()
	ix := openTest(t, t.TempDir(), 1000, nil)
	r := rand.New(rand.NewPCG(14, 15))
	if err := ix.Add(ctx, testModel, entries(r, 0, 30, 0)); err != nil {
		t.Fatal(err)
	}
	if err := ix.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	orphan := segmentKey(ix.cfg.Prefix, 99, ix.persisted.Generation)
	if err := ix.cfg.Store.Put(ctx, orphan, bytes.NewReader([]byte("vectors")), 7); err != nil {
		t.Fatal(err)
	}
	if err := ix.Add(ctx, testModel, entries(r, 30, 30, 0)); err != nil {
		t.Fatal(err)
	}
	if err := ix.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	segs, err := ix.cfg.Store.List(ctx, "index/test/segments/")
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range segs {
		if o.Key == orphan {
			t.Fatal("orphaned segment still in the store after a later manifest")
		}
	}
	if len(segs) != 2 {
		t.Fatalf("%d segments in the store, want the 2 the manifest names", len(segs))
	}
	ix.Close()
	if re := openTest(t, ix.cfg.Dir[:len(ix.cfg.Dir)-len("/wal")], 1000, nil); re.Len() != 60 {
		t.Fatalf("after restart Len = %d, want 60", re.Len())
	}
}
