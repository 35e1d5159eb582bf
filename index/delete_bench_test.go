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
// gallery deletion or a reprocess switch. one-by-one is one Delete call per face (the purge up
// to issue 13).
func BenchmarkDeleteGallery(b *testing.B) {
	ctx := context.Background()
	for _, n := range []int{2_500, 5_000, 10_000, 20_000, 100_000} {
		b.Run(fmt.Sprintf("one-by-one/faces=%d", n), func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				ix, ids := openGallery(b, n)
				b.StartTimer()
				for _, id := range ids {
					if err := ix.Delete(ctx, id); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				ix.Close()
				b.StartTimer()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/face")
		})
	}
}
