package index

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/facematch/facematch/internal/blob/local"
)

// openGallery opens an index in a fresh directory holding one gallery of n faces (128-d), all in
// the growing segment: the segment size is above n, so no seal or upload runs during the timing.
func openGallery(b *testing.B, n int) (*Index, []uint64) {
	b.Helper()
	dir := b.TempDir()
	store, err := local.Open(filepath.Join(dir, "blobs"))
	if err != nil {
		b.Fatal(err)
	}
	const dim = 128
	ix, err := Open(context.Background(), Config{Dir: filepath.Join(dir, "wal"), Store: store, Prefix: "index/bench",
		Model: testModel, Dim: dim, SegmentSize: 1 << 20, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ix.Close() })
	r := rand.New(rand.NewPCG(1, 2))
	ids := make([]uint64, 0, n)
	for from := 0; from < n; from += 1000 {
		batch := make([]Entry, 0, 1000)
		for id := from; id < min(from+1000, n); id++ {
			batch = append(batch, Entry{ID: uint64(id), Gallery: 1, Vector: unitVector(r, dim)})
			ids = append(ids, uint64(id))
		}
		if err := ix.Add(context.Background(), testModel, batch); err != nil {
			b.Fatal(err)
		}
	}
	return ix, ids
}

// BenchmarkDeleteGallery deletes every face of a gallery, as the engine's purge does after a
// gallery deletion or a reprocess switch: one-by-one is one Delete call per face (the purge up to
// issue 13), batch is one DeleteBatch call (the purge since).
//
//	go test -run '^$' -bench BenchmarkDeleteGallery -benchtime 1x -count 3 ./index/
func BenchmarkDeleteGallery(b *testing.B) {
	ctx := context.Background()
	ways := []struct {
		name  string
		sizes []int
		del   func(ix *Index, ids []uint64) error
	}{
		{"one-by-one", []int{2_500, 5_000, 10_000, 20_000, 100_000}, func(ix *Index, ids []uint64) error {
			for _, id := range ids {
				if err := ix.Delete(ctx, id); err != nil {
					return err
				}
			}
			return nil
		}},
		{"batch", []int{10_000, 100_000}, func(ix *Index, ids []uint64) error {
			missing, err := ix.DeleteBatch(ctx, ids)
			if err == nil && len(missing) > 0 {
				err = fmt.Errorf("%d faces missing", len(missing))
			}
			return err
		}},
	}
	for _, w := range ways {
		for _, n := range w.sizes {
			b.Run(fmt.Sprintf("%s/faces=%d", w.name, n), func(b *testing.B) {
				var syncs int64
				for range b.N {
					b.StopTimer()
					ix, ids := openGallery(b, n)
					before := ix.Stats().WALSyncs
					b.StartTimer()
					if err := w.del(ix, ids); err != nil {
						b.Fatal(err)
					}
					b.StopTimer()
					syncs += ix.Stats().WALSyncs - before
					if ix.Len() != 0 {
						b.Fatalf("%d faces left", ix.Len())
					}
					ix.Close()
					b.StartTimer()
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/face")
				b.ReportMetric(float64(syncs)/float64(b.N), "fsyncs/op")
			})
		}
	}
}
