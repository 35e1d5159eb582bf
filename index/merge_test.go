package index

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/facematch/facematch/index/graph"
	"github.com/facematch/facematch/internal/blob/local"
)

func TestTierOf(t *testing.T) {
	tests := []struct{ n, size, factor, want int }{
		{0, 100, 10, 0},
		{30, 100, 10, 0},   // compacted small segments stay at the bottom
		{100, 100, 10, 0},  // a sealed segment
		{316, 100, 10, 0},  // below 10^0.5
		{317, 100, 10, 1},  // above it
		{950, 100, 10, 1},  // ten segments that lost some faces still go up a tier
		{1000, 100, 10, 1}, // ten sealed segments
		{3200, 100, 10, 2},
		{10000, 100, 10, 2},
		{200, 100, 2, 1},
		{400, 100, 2, 2},
	}
	for _, tt := range tests {
		if got := tierOf(tt.n, tt.size, tt.factor); got != tt.want {
			t.Errorf("tierOf(%d, %d, %d) = %d, want %d", tt.n, tt.size, tt.factor, got, tt.want)
		}
	}
}

func TestPlanMerge(t *testing.T) {
	tests := []struct {
		name   string
		sizes  []int
		factor int
		want   []int
	}{
		{"none", nil, 3, nil},
		{"tier not full", []int{100, 100}, 3, nil},
		{"full tier", []int{100, 90, 100}, 3, []int{0, 1, 2}},
		{"the oldest of the tier", []int{100, 100, 100, 100}, 3, []int{0, 1, 2}},
		{"other tiers are skipped", []int{1000, 100, 1000, 100, 100}, 3, []int{1, 3, 4}},
		{"lowest full tier first", []int{1000, 1000, 1000, 100, 100, 100}, 3, []int{3, 4, 5}},
		{"a higher tier when the lowest is not full", []int{1000, 100, 1000, 1000}, 3, []int{0, 2, 3}},
		{"empty segments merge at the bottom", []int{0, 100, 12}, 3, []int{0, 1, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := planMerge(tt.sizes, 100, tt.factor); !slices.Equal(got, tt.want) {
				t.Errorf("planMerge(%v, 100, %d) = %v, want %v", tt.sizes, tt.factor, got, tt.want)
			}
		})
	}
}

func TestConfigMergeFactor(t *testing.T) {
	base := Config{Dir: "wal", Store: &lostReplyStore{}, Model: testModel, Dim: 32}
	for _, tt := range []struct {
		factor int
		ok     bool
	}{{0, true}, {-1, true}, {1, false}, {2, true}, {10, true}, {1000, true}, {1001, false}} {
		c := base
		c.MergeFactor = tt.factor
		if err := c.Validate(); (err == nil) != tt.ok {
			t.Errorf("MergeFactor %d: Validate = %v, want ok=%v", tt.factor, err, tt.ok)
		}
	}
}

// mergeTestGraph is small and deterministic enough for 32-d test vectors: with ef above the
// segment size its searches are exhaustive, so the answers can be compared with brute force.
func mergeTestGraph() *GraphKind { return HNSWGraph(graph.Config{M: 8, EfConstruction: 64, Seed: 1}) }

// openMerging opens a test index in dir (WAL under dir/wal, objects in store) with segments of
// 40 faces, a graph, no compaction of its own, and the given merge factor.
func openMerging(t *testing.T, dir string, store ObjectStore, factor int, hook func(string)) *testIndex {
	t.Helper()
	cfg := Config{Dir: filepath.Join(dir, "wal"), Store: store, Prefix: "index/test", Model: testModel, Dim: 32,
		SegmentSize: 40, Graph: mergeTestGraph(), CompactAfter: -1, MergeFactor: factor, mergeHook: hook}
	ix, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ix.Close() })
	return &testIndex{ix, cfg}
}

func localStore(t *testing.T, dir string) *local.Store {
	t.Helper()
	store, err := local.Open(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	return store
}

// waitMerges waits until ix has merged n times.
func waitMerges(t *testing.T, ix *testIndex, n int64) {
	t.Helper()
	waitFor(t, "merges", func() bool { return ix.Stats().Merges >= n })
}

// segmentObjects lists the segment objects in the index's store.
func segmentObjects(t *testing.T, ix *testIndex) []string {
	t.Helper()
	objs, err := ix.cfg.Store.List(context.Background(), path.Join(ix.cfg.Prefix, "segments")+"/")
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range objs {
		keys = append(keys, o.Key)
	}
	return keys
}

// checkAnswers compares searches (all galleries and gallery 1) with brute force over live.
func checkAnswers(t *testing.T, ix *Index, live map[uint64]Entry, seed uint64) {
	t.Helper()
	checkSearchExact(t, ix, live, seed)
	if ix.Len() != len(live) {
		t.Fatalf("Len = %d, want %d", ix.Len(), len(live))
	}
}

// TestMergeDropsDeletedFaces: four persisted segments, three of them with deleted faces, are
// merged into one that holds every live face and no deleted one; the store keeps the merged
// object only, no object holds a deleted face's vector, and a restart answers the same.
func TestMergeDropsDeletedFaces(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	store := localStore(t, dir)
	ix := openMerging(t, dir, store, -1, nil)
	all := addBatches(t, ix, rand.New(rand.NewPCG(31, 32)), 4, 40, func(b int) uint64 { return uint64(b % 2) })
	if err := ix.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	victims := []uint64{3, 47, 150}
	var needles [][]byte
	for _, id := range victims {
		needles = append(needles, floatBytes(all[id].Vector))
	}
	deleteFaces(t, ix, all, victims...)
	if n := len(segmentObjects(t, ix)); n != 4 {
		t.Fatalf("%d segment objects before the merge, want 4", n)
	}
	ix.Close()

	ix = openMerging(t, dir, store, 4, nil)
	waitMerges(t, ix, 1)
	if st := ix.Stats(); st.Segments != 1 || st.Faces != len(all) || st.Tombstones != 0 {
		t.Fatalf("after the merge: %+v; want 1 segment, %d faces, no tombstones", st, len(all))
	}
	if keys := segmentObjects(t, ix); len(keys) != 1 {
		t.Fatalf("segment objects after the merge: %v, want only the merged one", keys)
	}
	for i, n := range needles {
		if storeHolds(t, store, n) {
			t.Fatalf("face %d's vector is in object storage after the merge dropped it", victims[i])
		}
	}
	checkAnswers(t, ix.Index, all, 1)
	ix.Close()
	checkManifests(t, store, ix.cfg.Prefix, false)
	re := openMerging(t, dir, store, 4, nil)
	checkAnswers(t, re.Index, all, 2)
	if st := re.Stats(); st.Segments != 1 || st.SegmentsRead != 1 {
		t.Fatalf("after a restart: %+v; want the one merged segment read", st)
	}
}

// TestMergeTiers: with a factor of 2, eight sealed segments become one through three tiers
// (20 → 40 → 80 → 160 faces), and the gallery is answered exactly all along.
func TestMergeTiers(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	ix := openMerging(t, dir, localStore(t, dir), 2, nil)
	all := addBatches(t, ix, rand.New(rand.NewPCG(33, 34)), 8, 40, func(b int) uint64 { return uint64(b % 3) })
	if err := ix.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	waitMerges(t, ix, 7)
	waitFor(t, "one segment", func() bool { return ix.Stats().Segments == 1 })
	if n := ix.Stats().Merges; n != 7 {
		t.Fatalf("%d merges, want 7 (4 + 2 + 1)", n)
	}
	checkAnswers(t, ix.Index, all, 3)
}

// TestMergeDoesNotBlockSearchesOrWrites: while a merge waits between its stages, adds,
// deletes and searches go on and answer exactly; the merge then completes.
func TestMergeDoesNotBlockSearchesOrWrites(t *testing.T) {
	for _, stage := range []string{"built", "uploaded"} {
		t.Run(stage, func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			reached, release := make(chan struct{}), make(chan struct{})
			var once atomic.Bool
			hook := func(s string) {
				if s == stage && once.CompareAndSwap(false, true) {
					close(reached)
					<-release
				}
			}
			ix := openMerging(t, dir, localStore(t, dir), 3, hook)
			r := rand.New(rand.NewPCG(35, 36))
			all := addBatches(t, ix, r, 3, 40, func(b int) uint64 { return uint64(b % 2) })
			select {
			case <-reached:
			case <-time.After(30 * time.Second):
				t.Fatal("the merge never reached " + stage)
			}
			done := make(chan struct{})
			go func() {
				defer close(done)
				for i := range 4 {
					es := entries(r, 1000+40*i, 40, 1)
					if err := ix.Add(ctx, testModel, es); err != nil {
						t.Error(err)
						return
					}
					for _, e := range es {
						all[e.ID] = e
					}
				}
			}()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("Add blocked while a merge was in progress")
			}
			deleteFaces(t, ix, all, 5, 1001)
			checkAnswers(t, ix.Index, all, 4)
			close(release)
			waitMerges(t, ix, 1)
			if err := ix.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			checkAnswers(t, ix.Index, all, 5)
			ix.Close()
			checkAnswers(t, openMerging(t, dir, ix.cfg.Store, 3, nil).Index, all, 6)
		})
	}
}

// damagingStore damages the next merged segment it stores (an object of more faces than a
// sealed segment holds), once, and passes everything else through.
type damagingStore struct {
	ObjectStore
	damage func([]byte) []byte
	armed  atomic.Bool
}

func (s *damagingStore) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if !strings.Contains(key, "/segments/") {
		return s.ObjectStore.Put(ctx, key, r, size)
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if count := segmentCount(data); count > 40 && s.armed.CompareAndSwap(true, false) {
		data = s.damage(data)
	}
	return s.ObjectStore.Put(ctx, key, bytes.NewReader(data), int64(len(data)))
}

// segmentCount reads the face count from a segment object's header.
func segmentCount(data []byte) int {
	at := len(segmentMagic) + 8
	if len(data) < at+8 {
		return 0
	}
	return int(uint64(data[at]) | uint64(data[at+1])<<8 | uint64(data[at+2])<<16 | uint64(data[at+3])<<24)
}

var damages = []struct {
	name string
	fn   func([]byte) []byte
}{
	{"one bit flipped in a vector", func(d []byte) []byte {
		d = slices.Clone(d)
		d[len(d)/2] ^= 0x10
		return d
	}},
	{"truncated", func(d []byte) []byte { return d[:len(d)*2/3] }},
	{"checksum cut off", func(d []byte) []byte { return d[:len(d)-2] }},
	{"bytes appended", func(d []byte) []byte { return append(slices.Clone(d), 0, 0, 0, 0) }},
}

// TestMergeReadBackCatchesDamage: a merged segment that reaches the store damaged is caught by
// the read-back before any manifest names it: the inputs stay live (searches exact, no face
// lost), the damaged object is removed, and the merge is done again.
func TestMergeReadBackCatchesDamage(t *testing.T) {
	for _, d := range damages {
		t.Run(d.name, func(t *testing.T) {
			dir := t.TempDir()
			store := &damagingStore{ObjectStore: localStore(t, dir), damage: d.fn}
			store.armed.Store(true)
			var stages []string
			ix := openMerging(t, dir, store, 3, func(s string) { stages = append(stages, s) })
			all := addBatches(t, ix, rand.New(rand.NewPCG(37, 38)), 3, 40, func(b int) uint64 { return uint64(b % 2) })
			waitFor(t, "the damaged upload", func() bool { return !store.armed.Load() })
			checkAnswers(t, ix.Index, all, 7)
			waitMerges(t, ix, 1) // the retry, after the persister's backoff
			// The merge counter moves before the pass that made it clears the error.
			waitFor(t, "the retried merge's pass to clear the error", func() bool { return ix.lastErr.Load() == nil })
			// Built once: the retry uploads the same merged segment again.
			if !slices.Equal(stages, []string{"built", "uploaded", "published"}) {
				t.Fatalf("merge stages %v", stages)
			}
			if keys := segmentObjects(t, ix); len(keys) != 1 {
				t.Fatalf("segment objects after the retried merge: %v", keys)
			}
			checkAnswers(t, ix.Index, all, 8)
			ix.Close()
			checkAnswers(t, openMerging(t, dir, store, 3, nil).Index, all, 9)
		})
	}
}

// TestDamagedMergedSegmentIsATypedError: a merged segment whose body (header, ids, galleries,
// vectors) is damaged in the store afterwards fails Open with ErrCorrupt (a segment's faces
// exist nowhere else once its inputs are gone), never a quiet answer without its faces. Damage
// after the body (the graph or code section, bytes appended) is repaired from the vectors: the
// index opens with the same answers and writes the object again.
func TestDamagedMergedSegmentIsATypedError(t *testing.T) {
	for _, d := range damages {
		t.Run(d.name, func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			store := localStore(t, dir)
			ix := openMerging(t, dir, store, 3, nil)
			all := addBatches(t, ix, rand.New(rand.NewPCG(39, 40)), 3, 40, func(int) uint64 { return 0 })
			waitMerges(t, ix, 1)
			ix.Close()
			keys := segmentObjects(t, ix)
			if len(keys) != 1 {
				t.Fatalf("segment objects: %v", keys)
			}
			rc, err := store.Get(ctx, keys[0])
			if err != nil {
				t.Fatal(err)
			}
			data, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				t.Fatal(err)
			}
			bad := d.fn(data)
			if err := store.Put(ctx, keys[0], bytes.NewReader(bad), int64(len(bad))); err != nil {
				t.Fatal(err)
			}
			re, err := Open(ctx, ix.cfg)
			if firstDifference(data, bad) < segmentBodyEnd(data, 32) {
				if !errors.Is(err, ErrCorrupt) {
					if re != nil {
						re.Close()
					}
					t.Fatalf("Open over a damaged merged segment = %v, want ErrCorrupt", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Open over a segment damaged after its body: %v", err)
			}
			defer re.Close()
			checkAnswers(t, re, all, 10)
			waitFor(t, "the repaired object's rewrite", func() bool {
				k := segmentObjects(t, &testIndex{re, ix.cfg})
				return len(k) == 1 && k[0] != keys[0]
			})
			k := segmentObjects(t, &testIndex{re, ix.cfg})
			rc, err = store.Get(ctx, k[0])
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			if err := checkSegmentObject(rc, 32, len(all), 0); err != nil {
				t.Fatalf("the rewritten object: %v", err)
			}
		})
	}
}

// firstDifference is the first offset where a and b differ (the shorter length when one is a
// prefix of the other).
func firstDifference(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// segmentBodyEnd is the offset just past a version 2 object's body section and its checksum.
func segmentBodyEnd(d []byte, dim int) int {
	count := binary.LittleEndian.Uint64(d[16:])
	modelN := int(binary.LittleEndian.Uint16(d[32:]))
	return 34 + modelN + int(count)*(16+4*dim) + 4
}

// TestMergeManifestReplyLost: the merge's manifest reaches the store but its reply is lost. Until
// the retry, that manifest names the merged object, so the object must stay (a restart then
// reads it); the retry recognises the manifest as its own.
func TestMergeManifestReplyLost(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	base := localStore(t, dir)
	store := &holdingStore{lostReplyStore: lostReplyStore{ObjectStore: base}, release: make(chan struct{})}
	ix := openMerging(t, dir, store, 3, func(s string) {
		if s == "uploaded" && store.holding.CompareAndSwap(false, true) {
			store.lose.Store(1) // the next manifest write is the merge's; its retry's upload waits
		}
	})
	all := addBatches(t, ix, rand.New(rand.NewPCG(43, 44)), 3, 40, func(b int) uint64 { return uint64(b % 2) })
	waitFor(t, "the lost reply", func() bool { return store.holding.Load() && store.lose.Load() == 0 })
	checkManifests(t, base, ix.cfg.Prefix, false) // before the retry: the stored manifest's object is there
	close(store.release)
	waitMerges(t, ix, 1)
	if err := ix.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	ix.Close()
	checkManifests(t, base, ix.cfg.Prefix, false)
	re := openMerging(t, dir, base, 3, nil)
	checkAnswers(t, re.Index, all, 10)
	if st := re.Stats(); st.Segments != 1 {
		t.Fatalf("after a restart: %+v, want the merged segment alone", st)
	}
}

// holdingStore is a lostReplyStore whose segment uploads wait for release once holding is set.
type holdingStore struct {
	lostReplyStore
	holding atomic.Bool
	release chan struct{}
}

func (s *holdingStore) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if s.holding.Load() && strings.Contains(key, "/segments/") {
		select {
		case <-s.release:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return s.lostReplyStore.Put(ctx, key, r, size)
}
