package catalog

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/facematch/facematch/engine"
	"github.com/facematch/facematch/engine/neardup"
)

// BenchmarkRepostLookup measures a photo's repost look-up in SQL (the engine's eight band
// queries: its whole and mirror hashes against every stored variant, its crops against the
// stored whole and mirror hashes, radius 11) among FACEMATCH_BENCH_HASHES stored hashes (default
// 1,000,000: 83,334 photos × 12). The stored hashes are random, so few keys collide: a lower
// bound for real photos, whose hashes cluster (bench/RESULTS.md "Near-duplicate photos").
func BenchmarkRepostLookup(b *testing.B) {
	total := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("FACEMATCH_BENCH_HASHES")); err == nil && v > 0 {
		total = v
	}
	ctx := context.Background()
	d, _ := openTest(b)
	g, err := d.CreateGallery(ctx, engine.Gallery{Name: "ads", Kind: engine.Collection, Model: "m"})
	if err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	photos := total / 12
	start := time.Now()
	err = d.tx(ctx, func(tx *sql.Tx) error {
		for i := range photos {
			res, err := tx.ExecContext(ctx, `INSERT INTO images (gallery_id, sha256, format, bytes, width, height, blob_key, created_at, created_by)
				VALUES (?, ?, 'jpeg', 1, 1, 1, 'k', '2026-01-01T00:00:00Z', 'bench')`, g.ID, fmt.Sprint(i))
			if err != nil {
				return err
			}
			id, _ := res.LastInsertId()
			hs := make([]uint64, neardup.MirrorVariant+1)
			for v := range hs {
				hs[v] = r.Uint64()
			}
			if err := insertHashes(ctx, tx, engine.Image{ID: id, Hashes: hs}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("%d hashes of %d photos stored in %v", photos*12, photos, time.Since(start).Round(time.Millisecond))
	queries := make([][]uint64, 64)
	for i := range queries {
		queries[i] = make([]uint64, neardup.MirrorVariant+1)
		for v := range queries[i] {
			queries[i][v] = r.Uint64()
		}
	}
	allVariants := make([]int, neardup.MirrorVariant)
	for v := range allVariants {
		allVariants[v] = v
	}
	found := 0
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		hs := queries[i%len(queries)]
		probe := func(qs []uint64, variants []int) {
			for band := range neardup.Bands {
				keys := map[uint16]bool{}
				for _, q := range qs {
					neardup.Within(neardup.Hash(q), band, engine.RepostRadius/neardup.Bands, func(k uint16) { keys[k] = true })
				}
				list := make([]uint16, 0, len(keys))
				for k := range keys {
					list = append(list, k)
				}
				got, err := d.HashCandidates(ctx, band, list, variants)
				if err != nil {
					b.Fatal(err)
				}
				found += len(got)
			}
		}
		probe([]uint64{hs[0], hs[neardup.MirrorVariant]}, allVariants)
		probe(hs[:neardup.MirrorVariant], []int{0, neardup.MirrorVariant})
	}
	b.ReportMetric(float64(found)/float64(b.N), "candidates/op")
}
