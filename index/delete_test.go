package index

import (
	"context"
	"errors"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
)

// TestDeleteBatch: a batch deletes exactly its live ids, reports the rest in the order given,
// costs one WAL append (one fsync), and is still in force after a reopen replays the WAL.
func TestDeleteBatch(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	ix := openTest(t, dir, 50, nil)
	r := rand.New(rand.NewPCG(13, 14))
	all := addBatches(t, ix, r, 6, 40, func(b int) uint64 { return uint64(b % 3) })
	// Some faces are in persisted segments, the rest in sealed-but-pending and growing ones.
	if err := ix.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	deleteFaces(t, ix, all, 7)

	tests := []struct {
		name        string
		ids         []uint64
		wantMissing []uint64
		wantSyncs   int64
	}{
		{"live, deleted, unknown and repeated", []uint64{3, 7, 999, 120, 3, 239, 1000}, []uint64{7, 999, 1000}, 1},
		{"a whole gallery", galleryIDs(all, 1), nil, 1},
		{"nothing left to delete", []uint64{3, 120, 5000}, []uint64{3, 120, 5000}, 0},
		{"empty", nil, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := ix.Stats()
			missing, err := ix.DeleteBatch(ctx, tt.ids)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(missing, tt.wantMissing) {
				t.Errorf("missing = %v, want %v", missing, tt.wantMissing)
			}
			for _, id := range tt.ids {
				delete(all, id)
			}
			if got := ix.Stats().WALSyncs - before.WALSyncs; got != tt.wantSyncs {
				t.Errorf("%d WAL fsyncs, want %d", got, tt.wantSyncs)
			}
			checkHolds(t, ix, all)
		})
	}
	ix.Close()
	checkHolds(t, openTest(t, dir, 50, nil), all)
}

// TestDeleteBatchOverRecordLimit: a batch larger than one WAL record holds is still one fsync,
// and replays whole.
func TestDeleteBatchOverRecordLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("adds 70,000 faces")
	}
	ctx := context.Background()
	dir := t.TempDir()
	ix := openTest(t, dir, 1<<20, nil)
	r := rand.New(rand.NewPCG(15, 16))
	const n = 70_000 // above maxBatchIDs
	all := addBatches(t, ix, r, n/1000, 1000, func(int) uint64 { return 1 })
	ids := make([]uint64, 0, n-10)
	for id := range uint64(n - 10) {
		ids = append(ids, id)
	}
	before := ix.Stats()
	if missing, err := ix.DeleteBatch(ctx, ids); err != nil || len(missing) != 0 {
		t.Fatalf("DeleteBatch: %d missing, err %v", len(missing), err)
	}
	st := ix.Stats()
	if st.WALSyncs-before.WALSyncs != 1 || st.WALRecords-before.WALRecords != 2 {
		t.Fatalf("%d fsyncs and %d records, want 1 and 2", st.WALSyncs-before.WALSyncs, st.WALRecords-before.WALRecords)
	}
	for _, id := range ids {
		delete(all, id)
	}
	checkHolds(t, ix, all)
	ix.Close()
	checkHolds(t, openTest(t, dir, 1<<20, nil), all)
}

// TestDeleteKeepsAllOrNothing: Delete, unlike DeleteBatch, refuses a batch with an unknown id
// and deletes none of it.
func TestDeleteKeepsAllOrNothing(t *testing.T) {
	ctx := context.Background()
	ix := openTest(t, t.TempDir(), 100, nil)
	r := rand.New(rand.NewPCG(17, 18))
	all := addBatches(t, ix, r, 1, 10, func(int) uint64 { return 0 })
	if err := ix.Delete(ctx, 1, 2, 42); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Delete with an unknown id: %v, want ErrNotFound", err)
	}
	checkHolds(t, ix, all)
	if err := ix.Delete(ctx); err != nil {
		t.Fatalf("Delete of nothing: %v", err)
	}
}

// TestReplayOfSingleDeleteRecords: a WAL written before issue 13 logs one record per deleted
// face; replay still applies them.
func TestReplayOfSingleDeleteRecords(t *testing.T) {
	dir := t.TempDir()
	ix := openTest(t, dir, 100, nil)
	r := rand.New(rand.NewPCG(19, 20))
	all := addBatches(t, ix, r, 2, 10, func(int) uint64 { return 0 })
	ix.Close()
	walDir := filepath.Join(dir, "wal")
	nums, err := walFiles(walDir)
	if err != nil {
		t.Fatal(err)
	}
	w, err := openWAL(walDir, nums[len(nums)-1]+1, 32)
	if err != nil {
		t.Fatal(err)
	}
	// Adds logged LSNs 1..20; the old deletes follow, then an insert after them.
	var recs []record
	for i, id := range []uint64{4, 15, 9} {
		recs = append(recs, record{kind: recDelete, lsn: 21 + uint64(i), id: id})
		delete(all, id)
	}
	e := entries(r, 100, 1, 0)[0]
	recs = append(recs, record{kind: recInsert, lsn: 24, id: e.ID, gallery: e.Gallery, vector: e.Vector})
	all[e.ID] = e
	if err := w.append(recs); err != nil {
		t.Fatal(err)
	}
	w.close()
	checkHolds(t, openTest(t, dir, 100, nil), all)
}

// checkHolds fails unless ix holds exactly the faces of all, and searches find only them.
func checkHolds(t *testing.T, ix *testIndex, all map[uint64]Entry) {
	t.Helper()
	if ix.Len() != len(all) {
		t.Fatalf("Len = %d, want %d", ix.Len(), len(all))
	}
	var got []uint64
	ix.ForEach(func(id, _ uint64, _ []float32) { got = append(got, id) })
	want := make([]uint64, 0, len(all))
	for id := range all {
		want = append(want, id)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("index holds %d faces, want %d (first: %v vs %v)", len(got), len(want), got[:min(5, len(got))], want[:min(5, len(want))])
	}
	r := rand.New(rand.NewPCG(21, 22))
	for range 5 {
		q := unitVector(r, 32)
		h, err := ix.Search(context.Background(), testModel, q, 10, Filter{})
		if err != nil {
			t.Fatal(err)
		}
		if w := exactTop(all, q, 10); !slices.Equal(hitIDs(h), w) {
			t.Fatalf("search: %v, want %v", hitIDs(h), w)
		}
	}
}

func galleryIDs(all map[uint64]Entry, gallery uint64) []uint64 {
	var ids []uint64
	for id, e := range all {
		if e.Gallery == gallery {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}
