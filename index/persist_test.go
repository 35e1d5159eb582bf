package index

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/facematch/facematch/internal/blob"
	"github.com/facematch/facematch/internal/blob/local"
)

// lostReplyStore stores a manifest and then reports the store unavailable: the server wrote the
// object, but the connection dropped before its reply arrived (seen with versitygw killed while
// a manifest was being written).
type lostReplyStore struct {
	ObjectStore
	lose atomic.Int32 // how many more manifest writes lose their reply
}

func (s *lostReplyStore) PutIfAbsent(ctx context.Context, key string, r io.Reader, size int64) error {
	err := s.ObjectStore.PutIfAbsent(ctx, key, r, size)
	if err == nil && strings.Contains(key, "/manifests/") && s.lose.Add(-1) >= 0 {
		return fmt.Errorf("test: reply to the put of %s lost: %w", key, blob.ErrUnavailable)
	}
	return err
}

// TestManifestStoredButReplyLost: a manifest write that reached the store although the caller
// saw an error is the index's own, not another writer's. The retry must recognise it instead
// of failing with ErrConcurrentWriter forever (for a segment's manifest: Flush never succeeds
// again; for a compaction's: the deleted faces' old segment objects are never removed).
func TestManifestStoredButReplyLost(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	base, err := local.Open(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	store := &lostReplyStore{ObjectStore: base}
	store.lose.Store(1)
	cfg := Config{Dir: filepath.Join(dir, "wal"), Store: store, Prefix: "index/test", Model: testModel, Dim: 32, SegmentSize: 50,
		CompactAfter: -1} // the test counts the store's calls
	ix, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ix.Close() })
	es := entries(rand.New(rand.NewPCG(21, 22)), 0, 120, 0)
	if err := ix.Add(ctx, testModel, es); err != nil {
		t.Fatal(err)
	}
	fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := ix.Flush(fctx); err != nil {
		t.Fatalf("Flush after a manifest's reply was lost: %v", err)
	}

	victim := es[7]
	if err := ix.Delete(ctx, victim.ID); err != nil {
		t.Fatal(err)
	}
	store.lose.Store(1)
	if err := ix.Compact(ctx); !errors.Is(err, blob.ErrUnavailable) {
		t.Fatalf("Compact whose manifest reply is lost = %v, want ErrUnavailable", err)
	}
	if err := ix.Compact(ctx); err != nil {
		t.Fatalf("Compact retried after its manifest's reply was lost: %v", err)
	}
	if storeHolds(t, base, floatBytes(victim.Vector)) {
		t.Fatal("a deleted face's vector is still in object storage after the retried compaction")
	}
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	checkManifests(t, base, cfg.Prefix, false)
	cfg.Store = base
	re, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { re.Close() })
	present := map[uint64][]float32{}
	re.ForEach(func(id, _ uint64, v []float32) { present[id] = append([]float32(nil), v...) })
	for _, e := range es {
		v, ok := present[e.ID]
		if ok != (e.ID != victim.ID) || ok && !slices.Equal(v, e.Vector) {
			t.Fatalf("after reopen face %d: present %v (victim %d)", e.ID, ok, victim.ID)
		}
	}
	if re.Len() != len(es)-1 {
		t.Fatalf("after reopen Len = %d, want %d", re.Len(), len(es)-1)
	}
}
