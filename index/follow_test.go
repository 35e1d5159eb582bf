package index

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/facematch/facematch/internal/blob/s3/s3test"
)

// countingStore records the calls that write to the store, and can run a hook before a Get.
type countingStore struct {
	ObjectStore
	mu     sync.Mutex
	writes []string // "op key err"
	// beforeGet, when set, runs before every Get (the race test deletes objects in it).
	beforeGet func(key string)
}

func (s *countingStore) note(op, key string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := "ok"
	if err != nil {
		e = err.Error()
	}
	s.writes = append(s.writes, op+" "+key+" "+e)
}

func (s *countingStore) written() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.writes)
}

func (s *countingStore) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	err := s.ObjectStore.Put(ctx, key, r, size)
	s.note("put", key, err)
	return err
}

func (s *countingStore) PutIfAbsent(ctx context.Context, key string, r io.Reader, size int64) error {
	err := s.ObjectStore.PutIfAbsent(ctx, key, r, size)
	s.note("putifabsent", key, err)
	return err
}

func (s *countingStore) Delete(ctx context.Context, key string) error {
	err := s.ObjectStore.Delete(ctx, key)
	s.note("delete", key, err)
	return err
}

// AbortIncompleteUploads is counted as a write: it removes what a writer uploaded.
func (s *countingStore) AbortIncompleteUploads(ctx context.Context, prefix string) (int, error) {
	s.note("abort", prefix, nil)
	if a, ok := s.ObjectStore.(incompleteUploadAborter); ok {
		return a.AbortIncompleteUploads(ctx, prefix)
	}
	return 0, nil
}

func (s *countingStore) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if s.beforeGet != nil {
		s.beforeGet(key)
	}
	return s.ObjectStore.Get(ctx, key)
}

// openShared opens a shared-log index (writer, or follower) in dir over store: segments of 40
// faces with a graph, no compaction or merge of its own unless factor says so.
func openShared(t *testing.T, dir string, store ObjectStore, follower bool, factor int, hook func(string)) *testIndex {
	t.Helper()
	cfg := Config{Dir: filepath.Join(dir, "wal"), Store: store, Prefix: "index/test", Model: testModel, Dim: 32,
		SegmentSize: 40, Graph: mergeTestGraph(), CompactAfter: -1, MergeFactor: factor, mergeHook: hook,
		SharedLog: true, Follower: follower}
	ix, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ix.Close() })
	return &testIndex{ix, cfg}
}

// opLog is a shared log for tests: ops in sequence order, and the faces live after them.
type opLog struct {
	r    *rand.Rand
	ops  []Op
	live map[uint64]Entry
	next uint64 // next face ID
}

func newOpLog(seed uint64) *opLog {
	return &opLog{r: rand.New(rand.NewPCG(seed, 18)), live: map[uint64]Entry{}, next: 1}
}

// add appends n adds (galleries 1 and 2 in turn) and returns them.
func (l *opLog) add(n int) []Op {
	from := len(l.ops)
	for range n {
		e := Entry{ID: l.next, Gallery: 1 + l.next%2, Vector: unitVector(l.r, 32)}
		l.next++
		l.live[e.ID] = e
		l.ops = append(l.ops, Op{Seq: uint64(len(l.ops)) + 1, Entry: e})
	}
	return l.ops[from:]
}

// del appends deletes of ids and returns them.
func (l *opLog) del(ids ...uint64) []Op {
	from := len(l.ops)
	for _, id := range ids {
		delete(l.live, id)
		l.ops = append(l.ops, Op{Seq: uint64(len(l.ops)) + 1, Delete: true, Entry: Entry{ID: id}})
	}
	return l.ops[from:]
}

func applyAll(t *testing.T, ops []Op, ixs ...*testIndex) {
	t.Helper()
	for _, ix := range ixs {
		if err := ix.Apply(context.Background(), testModel, ops); err != nil {
			t.Fatal(err)
		}
	}
}

// sameAnswers checks that every index answers a few queries exactly as brute force over live
// does (so all of them answer alike), with and without a gallery filter.
func sameAnswers(t *testing.T, live map[uint64]Entry, seed uint64, ixs ...*testIndex) {
	t.Helper()
	for _, ix := range ixs {
		checkAnswers(t, ix.Index, live, seed)
	}
	r := rand.New(rand.NewPCG(seed, 3))
	for range 5 {
		q := unitVector(r, 32)
		var first []Hit
		for i, ix := range ixs {
			h, err := ix.Search(context.Background(), testModel, q, 10, Filter{})
			if err != nil {
				t.Fatal(err)
			}
			if i == 0 {
				first = h
			} else if !slices.Equal(h, first) {
				t.Fatalf("index %d answers %v, index 0 %v", i, h, first)
			}
		}
	}
}

// sourceSeq is the SourceSeq of the manifest ix holds.
func sourceSeq(ix *testIndex) uint64 {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.persisted.SourceSeq
}

func refresh(t *testing.T, ix *testIndex, wantChanged bool) {
	t.Helper()
	changed, err := ix.Refresh(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if changed != wantChanged {
		t.Fatalf("Refresh changed = %v, want %v", changed, wantChanged)
	}
}

func noWrites(t *testing.T, name string, s *countingStore) {
	t.Helper()
	if w := s.written(); len(w) > 0 {
		t.Fatalf("%s wrote to the store: %q", name, w)
	}
}

func TestSharedLogFollowersMatchWriter(t *testing.T) {
	testFollowersMatchWriter(t, func(t *testing.T) ObjectStore { return localStore(t, t.TempDir()) })
}

// testFollowersMatchWriter: a writer and two followers fed the same op stream. A follower finds
// a face as soon as it applied its add; after the writer's Flush and the followers' Refresh
// every node answers alike and exactly, the followers hold the writer's segments and, in their
// tail, only the ops the manifest does not cover; deletes reach every node, and after Compact
// the deleted faces are in no answer and no segment. The followers write nothing to the store.
func testFollowersMatchWriter(t *testing.T, newStore func(t *testing.T) ObjectStore) {
	ctx := context.Background()
	store := newStore(t)
	dir := t.TempDir()
	w := openShared(t, filepath.Join(dir, "w"), store, false, -1, nil)
	fs1, fs2 := &countingStore{ObjectStore: store}, &countingStore{ObjectStore: store}
	f1 := openShared(t, filepath.Join(dir, "f1"), fs1, true, -1, nil)
	f2 := openShared(t, filepath.Join(dir, "f2"), fs2, true, -1, nil)
	log := newOpLog(1)

	ops := log.add(90)
	applyAll(t, ops, w, f1, f2)
	last := ops[len(ops)-1].Entry
	for _, f := range []*testIndex{f1, f2} {
		h, err := f.Search(ctx, testModel, last.Vector, 1, Filter{})
		if err != nil || len(h) != 1 || h[0].ID != last.ID {
			t.Fatalf("a follower does not find the face it just applied: %v, %v", h, err)
		}
		if st := f.Stats(); st.Growing != 90 || st.Segments != 0 || st.AppliedSeq != 90 || !st.Follower {
			t.Fatalf("follower before any manifest: %+v", st)
		}
	}
	sameAnswers(t, log.live, 1, w, f1, f2)

	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	ws := w.Stats()
	if ws.Segments != 2 || ws.Growing != 10 || ws.AppliedSeq != 90 || ws.ManifestGeneration != 2 || ws.Follower {
		t.Fatalf("writer after Flush: %+v", ws)
	}
	if got := sourceSeq(w); got != 80 {
		t.Fatalf("manifest SourceSeq = %d, want 80 (the second segment's last add)", got)
	}
	for _, f := range []*testIndex{f1, f2} {
		refresh(t, f, true)
		refresh(t, f, false)
		// The 80 faces the manifest covers left the tail; the 10 after it stayed.
		if st := f.Stats(); st.Segments != 2 || st.Growing != 10 || st.AppliedSeq != 90 || st.ManifestGeneration != 2 || st.Faces != 90 {
			t.Fatalf("follower after Refresh: %+v", st)
		}
	}
	sameAnswers(t, log.live, 2, w, f1, f2)

	// Deletes of sealed and tail faces, and adds after them; applied twice (a redelivery).
	ops = append(slices.Clone(log.del(3, 41, 85)), log.add(35)...)
	applyAll(t, ops, w, f1, f2)
	applyAll(t, ops, w, f1, f2)
	sameAnswers(t, log.live, 3, w, f1, f2)
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for _, f := range []*testIndex{f1, f2} {
		refresh(t, f, true)
	}
	ws = w.Stats()
	for _, f := range []*testIndex{f1, f2} {
		st := f.Stats()
		if st.Segments != ws.Segments || st.Growing != ws.Growing || st.AppliedSeq != 128 || st.Faces != len(log.live) {
			t.Fatalf("follower %+v, writer %+v", st, ws)
		}
	}
	sameAnswers(t, log.live, 4, w, f1, f2)

	// Compaction purges the deleted faces from the segments; the followers follow.
	deleted := []uint64{3, 41, 85}
	if err := w.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	for _, f := range []*testIndex{f1, f2} {
		refresh(t, f, true)
	}
	sameAnswers(t, log.live, 5, w, f1, f2)
	for _, ix := range []*testIndex{w, f1, f2} {
		for _, id := range deleted {
			v := findVector(t, id)
			h, err := ix.Search(ctx, testModel, v, 20, Filter{})
			if err != nil {
				t.Fatal(err)
			}
			if slices.Contains(hitIDs(h), id) {
				t.Fatalf("deleted face %d answered", id)
			}
		}
	}
	if st := f1.Stats(); st.Tombstones != 0 {
		t.Fatalf("follower keeps tombstones of purged faces: %+v", st)
	}
	noWrites(t, "follower 1", fs1)
	noWrites(t, "follower 2", fs2)
}

// findVector is the vector of face id of newOpLog(1): the deleted faces are gone from the log's
// live set, so it is generated again.
func findVector(t *testing.T, id uint64) []float32 {
	t.Helper()
	l := newOpLog(1)
	for _, op := range l.add(int(id)) {
		if op.Entry.ID == id {
			return op.Entry.Vector
		}
	}
	t.Fatalf("no face %d", id)
	return nil
}

// TestSharedLogStaleWALIgnored: a writer reopened over a Dir holding a WAL (an earlier term's)
// removes it without replaying it, resumes AppliedSeq at the manifest's SourceSeq, and the log
// re-applied from the start gives the index a writer fed it once has.
func TestSharedLogStaleWALIgnored(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	store := localStore(t, dir)
	log := newOpLog(2)
	w := openShared(t, filepath.Join(dir, "w"), store, false, -1, nil)
	applyAll(t, log.add(100), w)
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	w.Close()

	// A WAL that would add a face and delete face 1, were it replayed.
	walDir := filepath.Join(dir, "w", "wal")
	stale, err := openWAL(walDir, 7, 32)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(9, 9))
	if err := stale.append([]record{
		{kind: recInsert, lsn: 1000, id: 9999, gallery: 1, vector: unitVector(r, 32)},
		{kind: recDeleteBatch, lsn: 1001, ids: []uint64{1}},
	}); err != nil {
		t.Fatal(err)
	}
	stale.close()

	re := openShared(t, filepath.Join(dir, "w"), store, false, -1, nil)
	if nums, err := walFiles(walDir); err != nil || len(nums) != 0 {
		t.Fatalf("WAL files left: %v, %v", nums, err)
	}
	if got := re.AppliedSeq(); got != 80 {
		t.Fatalf("AppliedSeq = %d, want the manifest's SourceSeq 80", got)
	}
	if re.Len() != 80 {
		t.Fatalf("Len = %d, want the 80 faces of the manifest", re.Len())
	}
	applyAll(t, log.ops, re) // the whole log: the first 80 are skipped
	applyAll(t, log.add(30), re)

	ref := openShared(t, filepath.Join(dir, "ref"), localStore(t, filepath.Join(dir, "ref")), false, -1, nil)
	applyAll(t, log.ops, ref)
	sameAnswers(t, log.live, 6, re, ref)
	if re.AppliedSeq() != ref.AppliedSeq() || re.Len() != ref.Len() {
		t.Fatalf("reopened writer at %d with %d faces, reference at %d with %d", re.AppliedSeq(), re.Len(), ref.AppliedSeq(), ref.Len())
	}
	if err := re.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if got := sourceSeq(re); got != 130 {
		t.Fatalf("SourceSeq after Checkpoint = %d, want 130", got)
	}
}

// TestRefreshRacesMerge: the writer merges away the segments a follower's Refresh is about to
// read (its objects deleted between the follower's manifest read and its segment read); the
// Refresh goes on to the newest manifest and ends with the merged segment.
func TestRefreshRacesMerge(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	store := localStore(t, dir)
	release := make(chan struct{})
	var once sync.Once
	w := openShared(t, filepath.Join(dir, "w"), store, false, 2, func(stage string) {
		if stage == "built" {
			<-release // held until the follower has read the manifest naming the inputs
		}
	})
	fs := &countingStore{ObjectStore: store}
	f := openShared(t, filepath.Join(dir, "f"), fs, true, -1, nil)
	log := newOpLog(3)
	applyAll(t, log.add(85), w, f)
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	fs.beforeGet = func(key string) {
		if strings.Contains(key, "/segments/") {
			once.Do(func() {
				close(release)
				waitMerges(t, w, 1)
			})
		}
	}
	refresh(t, f, true)
	if st := f.Stats(); st.Segments != 1 || st.ManifestGeneration != w.Stats().ManifestGeneration || st.Growing != 5 {
		t.Fatalf("follower after a Refresh that raced a merge: %+v (writer %+v)", st, w.Stats())
	}
	sameAnswers(t, log.live, 7, w, f)
	noWrites(t, "follower", fs)
}

// TestFollowerOpenRacesMerge: as TestRefreshRacesMerge, for the segments a follower's Open reads.
func TestFollowerOpenRacesMerge(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	store := localStore(t, dir)
	release := make(chan struct{})
	var once sync.Once
	w := openShared(t, filepath.Join(dir, "w"), store, false, 2, func(stage string) {
		if stage == "built" {
			<-release
		}
	})
	log := newOpLog(9)
	applyAll(t, log.add(85), w)
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	fs := &countingStore{ObjectStore: store}
	fs.beforeGet = func(key string) {
		if strings.Contains(key, "/segments/") {
			once.Do(func() {
				close(release)
				waitMerges(t, w, 1)
			})
		}
	}
	f := openShared(t, filepath.Join(dir, "f"), fs, true, -1, nil)
	if st := f.Stats(); st.Segments != 1 || st.AppliedSeq != 80 {
		t.Fatalf("follower opened while a merge removed its segments: %+v", st)
	}
	applyAll(t, log.ops, f)
	sameAnswers(t, log.live, 12, w, f)
	noWrites(t, "follower", fs)
}

// TestSharedLogFencing: two writers on one prefix. The second one's manifest wins; the first
// one's next publish finds its generation taken: it is fenced, says so through Flush,
// Checkpoint and Compact, and writes nothing to the store after that failed publish.
func TestSharedLogFencing(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	store := localStore(t, dir)
	as := &countingStore{ObjectStore: store}
	a := openShared(t, filepath.Join(dir, "a"), as, false, -1, nil)
	log := newOpLog(4)
	applyAll(t, log.add(50), a)
	if err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	b := openShared(t, filepath.Join(dir, "b"), store, false, -1, nil)
	if b.AppliedSeq() != 40 {
		t.Fatalf("second writer starts at %d, want 40", b.AppliedSeq())
	}
	log.add(40)
	applyAll(t, log.ops, b) // from its AppliedSeq on
	if err := b.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	applyAll(t, log.ops[50:], a) // the first writer, not knowing, seals the same segment
	if err := a.Flush(ctx); !errors.Is(err, ErrFenced) {
		t.Fatalf("Flush of the overtaken writer: %v, want ErrFenced", err)
	}
	if !a.Fenced() || b.Fenced() {
		t.Fatalf("Fenced: first %v, second %v", a.Fenced(), b.Fenced())
	}
	applyAll(t, log.del(2, 45), a)
	applyAll(t, log.add(60), a)
	if err := a.Checkpoint(ctx); !errors.Is(err, ErrFenced) {
		t.Fatalf("Checkpoint: %v, want ErrFenced", err)
	}
	if err := a.Compact(ctx); !errors.Is(err, ErrFenced) {
		t.Fatalf("Compact: %v, want ErrFenced", err)
	}
	a.Close()
	writes := as.written()
	lastWrite := writes[len(writes)-1]
	if !strings.HasPrefix(lastWrite, "putifabsent "+manifestKey("index/test", 2)) || strings.HasSuffix(lastWrite, " ok") {
		t.Fatalf("the fenced writer's last write is %q, want its failed manifest of generation 2; all: %q", lastWrite, writes)
	}

	// The second writer's objects are whole, and it goes on.
	applyAll(t, log.ops, b)
	if err := b.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	f := openShared(t, filepath.Join(dir, "f"), store, true, -1, nil)
	if f.AppliedSeq() != uint64(len(log.ops)) {
		t.Fatalf("follower of the second writer at %d, want %d", f.AppliedSeq(), len(log.ops))
	}
	sameAnswers(t, log.live, 8, b, f)
}

// TestFencedByANewerManifest: the second writer has published so many manifests that the
// generation the first one takes next was deleted already, so its create-only put succeeds; the
// newer generation listed after it fences it all the same, before it deletes anything.
func TestFencedByANewerManifest(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	store := localStore(t, dir)
	as := &countingStore{ObjectStore: store}
	a := openShared(t, filepath.Join(dir, "a"), as, false, -1, nil)
	log := newOpLog(8)
	applyAll(t, log.add(40), a)
	if err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	b := openShared(t, filepath.Join(dir, "b"), store, false, -1, nil)
	for range 3 {
		log.add(40)
		applyAll(t, log.ops, b)
		if err := b.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if gens, err := manifestGenerations(ctx, store, "index/test"); err != nil || slices.Contains(gens, 2) {
		t.Fatalf("manifests %v (%v): generation 2 should be gone", gens, err)
	}
	applyAll(t, log.ops[40:80], a)
	if err := a.Flush(ctx); !errors.Is(err, ErrFenced) || !a.Fenced() {
		t.Fatalf("Flush: %v, want ErrFenced", err)
	}
	writes := as.written()
	if last := writes[len(writes)-1]; last != "putifabsent "+manifestKey("index/test", 2)+" ok" {
		t.Fatalf("the fenced writer's last write is %q, want its manifest of generation 2; all: %q", last, writes)
	}
	f := openShared(t, filepath.Join(dir, "f"), store, true, -1, nil)
	if st := f.Stats(); st.ManifestGeneration != 4 || st.AppliedSeq != 160 {
		t.Fatalf("a follower opened after: %+v", st)
	}
	applyAll(t, log.ops, f)
	sameAnswers(t, log.live, 11, b, f)
}

// TestFollowerPromotedByReopen: a follower closed and reopened on its Dir as the writer (its
// vector cache files cleaned at Open) resumes at the manifest's SourceSeq, applies the log from
// there and publishes manifests other followers follow.
func TestFollowerPromotedByReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	store := localStore(t, dir)
	log := newOpLog(5)
	old := openShared(t, filepath.Join(dir, "old"), store, false, -1, nil)
	f := openShared(t, filepath.Join(dir, "f"), store, true, -1, nil)
	g := openShared(t, filepath.Join(dir, "g"), store, true, -1, nil)
	applyAll(t, log.add(70), old, f, g)
	if err := old.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	refresh(t, f, true)
	refresh(t, g, true)
	applyAll(t, log.add(20), old, f, g) // the old writer holds these in memory only
	old.Close()
	f.Close()

	p := openShared(t, filepath.Join(dir, "f"), store, false, -1, nil)
	if p.AppliedSeq() != 40 {
		t.Fatalf("promoted writer at %d, want the manifest's 40", p.AppliedSeq())
	}
	files, err := os.ReadDir(filepath.Join(dir, "f", "wal", vectorDir))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 1 { // the one segment it loaded; the follower's were removed at Open
		t.Fatalf("vector cache after promotion holds %d files, want 1", len(files))
	}
	applyAll(t, log.ops, p)
	applyAll(t, append(slices.Clone(log.del(1, 50)), log.add(10)...), p, g)
	if err := p.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	refresh(t, g, true)
	if st := g.Stats(); st.Growing != 0 || st.AppliedSeq != uint64(len(log.ops)) {
		t.Fatalf("follower of the promoted writer: %+v", st)
	}
	sameAnswers(t, log.live, 9, p, g)
}

// TestSharedLogRefusals: the configuration and call contracts.
func TestSharedLogRefusals(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	store := localStore(t, dir)
	cfg := Config{Dir: dir, Store: store, Model: testModel, Dim: 32, Follower: true}
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "Follower needs SharedLog") {
		t.Fatalf("Validate: %v", err)
	}
	w := openShared(t, filepath.Join(dir, "w"), store, false, -1, nil)
	f := openShared(t, filepath.Join(dir, "f"), store, true, -1, nil)
	plain := openTest(t, filepath.Join(dir, "plain"), 40, nil)
	log := newOpLog(6)
	ops := log.add(3)
	if err := w.Add(ctx, testModel, []Entry{ops[0].Entry}); !errors.Is(err, ErrSharedLog) {
		t.Fatalf("Add with SharedLog: %v", err)
	}
	if _, err := w.DeleteBatch(ctx, []uint64{1}); !errors.Is(err, ErrSharedLog) {
		t.Fatalf("DeleteBatch with SharedLog: %v", err)
	}
	if err := plain.Apply(ctx, testModel, ops); err == nil {
		t.Fatal("Apply without SharedLog succeeded")
	}
	if err := w.Apply(ctx, testModel, []Op{ops[1], ops[0]}); err == nil {
		t.Fatal("Apply of decreasing seqs succeeded")
	}
	if err := f.Apply(ctx, "other-model", ops); !errors.Is(err, ErrModelMismatch) {
		t.Fatalf("Apply of another model: %v", err)
	}
	if _, err := w.Refresh(ctx); err == nil {
		t.Fatal("Refresh on a writer succeeded")
	}
	if err := f.Checkpoint(ctx); !errors.Is(err, ErrSharedLog) {
		t.Fatalf("Checkpoint on a follower: %v", err)
	}
	if err := f.Compact(ctx); !errors.Is(err, ErrSharedLog) {
		t.Fatalf("Compact on a follower: %v", err)
	}
	// An add of a face present and a delete of one absent are no-ops that still advance.
	applyAll(t, ops, f)
	again := []Op{{Seq: 10, Entry: ops[0].Entry}, {Seq: 11, Delete: true, Entry: Entry{ID: 777}}}
	applyAll(t, again, f)
	if st := f.Stats(); st.Faces != 3 || st.Growing != 3 || st.Tombstones != 0 || st.AppliedSeq != 11 {
		t.Fatalf("after no-op ops: %+v", st)
	}
	if keys := segmentObjectsOf(t, store); len(keys) != 0 {
		t.Fatalf("objects written: %v", keys)
	}
}

func segmentObjectsOf(t *testing.T, store ObjectStore) []string {
	t.Helper()
	objs, err := store.List(context.Background(), path.Join("index/test", "segments")+"/")
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range objs {
		keys = append(keys, o.Key)
	}
	return keys
}

// TestFollowerRefreshUnderLoad: searches run on a follower while it applies ops and refreshes
// to the manifests of a writer that seals, merges and compacts; none fails, and at the end the
// follower answers as the writer does. (Run it with -race.)
func TestFollowerRefreshUnderLoad(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	store := localStore(t, dir)
	w := openShared(t, filepath.Join(dir, "w"), store, false, 3, nil)
	f := openShared(t, filepath.Join(dir, "f"), store, true, -1, nil)
	log := newOpLog(7)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(i), 11))
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := f.Search(ctx, testModel, unitVector(r, 32), 10, Filter{}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for round := range 8 {
		ops := log.add(30)
		if round%2 == 1 {
			ops = append(slices.Clone(ops), log.del(uint64(round*30-5), uint64(round*30-20))...)
		}
		applyAll(t, ops, w, f)
		if err := w.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if round == 5 {
			if err := w.Compact(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := f.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	waitFor(t, "the writer's merges", func() bool { return w.Stats().Merges >= 2 })
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	sameAnswers(t, log.live, 10, w, f)
}

// TestS3FollowersMatchWriter runs testFollowersMatchWriter on a versioned bucket of a real S3
// server.
func TestS3FollowersMatchWriter(t *testing.T) {
	g := s3test.Start(t)
	testFollowersMatchWriter(t, func(t *testing.T) ObjectStore { return openS3Store(t, g.Config("index-follow", "")) })
}
