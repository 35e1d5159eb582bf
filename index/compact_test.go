package index

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/facematch/facematch/internal/blob/local"
)

// openCompacting opens a test index that compacts on its own after the given delay.
func openCompacting(t *testing.T, after time.Duration) *testIndex {
	t.Helper()
	dir := t.TempDir()
	store, err := local.Open(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Dir: filepath.Join(dir, "wal"), Store: store, Prefix: "index/test", Model: testModel, Dim: 32,
		SegmentSize: 40, CompactAfter: after}
	ix, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ix.Close() })
	return &testIndex{ix, cfg}
}

// addAndDeleteOne adds 80 faces, flushes them to the store and deletes one.
func addAndDeleteOne(t *testing.T, ix *testIndex) {
	t.Helper()
	ctx := context.Background()
	es := entries(rand.New(rand.NewPCG(5, 6)), 0, 80, 0)
	if err := ix.Add(ctx, testModel, es); err != nil {
		t.Fatal(err)
	}
	if err := ix.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := ix.Delete(ctx, es[3].ID); err != nil {
		t.Fatal(err)
	}
}

// TestDeletionsCompactOnTheirOwn: a burst of deletions, one call per face as a careless caller
// would, is followed by one compaction after CompactAfter, which takes every deleted vector out
// of object storage with nobody calling Compact.
func TestDeletionsCompactOnTheirOwn(t *testing.T) {
	ctx := context.Background()
	// One second: twenty deletions, an fsync each, fit in it even under -race on loaded cores
	// (at 200 ms they sometimes did not, and made two bursts).
	ix := openCompacting(t, time.Second)
	es := entries(rand.New(rand.NewPCG(3, 4)), 0, 120, 0)
	if err := ix.Add(ctx, testModel, es); err != nil {
		t.Fatal(err)
	}
	if err := ix.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	victims := es[10:30]
	for _, v := range victims {
		if !storeHolds(t, ix.cfg.Store, floatBytes(v.Vector)) {
			t.Fatal("a vector is not in the store before deletion: the test would prove nothing")
		}
		if err := ix.Delete(ctx, v.ID); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for ix.Stats().Compactions == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no compaction 10 s after the deletions")
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(1500 * time.Millisecond) // long enough for a second compaction, if the burst caused one
	if n := ix.Stats().Compactions; n != 1 {
		t.Errorf("%d compactions after one burst of deletions, want 1", n)
	}
	for _, v := range victims {
		if storeHolds(t, ix.cfg.Store, floatBytes(v.Vector)) {
			t.Fatalf("face %d's vector is still in object storage after the compaction", v.ID)
		}
	}
	if st := ix.Stats(); st.Tombstones != 0 || st.Faces != 100 {
		t.Errorf("after compaction: %+v, want 100 faces and no tombstones", st)
	}
}

// TestCloseWithCompactionDue: closing while a compaction waits does not wait for it, and the
// deletion survives the restart (the WAL and the manifest's tombstones hold it).
func TestCloseWithCompactionDue(t *testing.T) {
	ctx := context.Background()
	ix := openCompacting(t, time.Hour)
	addAndDeleteOne(t, ix)
	start := time.Now()
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Close took %s with a compaction an hour away", d)
	}
	re, err := Open(ctx, ix.cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer re.Close()
	if re.Len() != 79 || re.Stats().Compactions != 0 {
		t.Fatalf("after restart: %d faces, %d compactions; want 79 and none", re.Len(), re.Stats().Compactions)
	}
}

// TestNegativeCompactAfterNeverCompacts: the owner compacts by hand.
func TestNegativeCompactAfterNeverCompacts(t *testing.T) {
	ctx := context.Background()
	ix := openCompacting(t, -1)
	addAndDeleteOne(t, ix)
	time.Sleep(300 * time.Millisecond)
	if n := ix.Stats().Compactions; n != 0 {
		t.Fatalf("%d compactions with CompactAfter < 0", n)
	}
	if err := ix.Compact(ctx); err != nil || ix.Stats().Compactions != 1 {
		t.Fatalf("Compact: %v, %d compactions", err, ix.Stats().Compactions)
	}
}
