package graph

import (
	"context"
	"testing"
	"time"
)

func TestRecall(t *testing.T) {
	n := 5000
	if raceEnabled || testing.Short() {
		n = 1500 // the coder build alone would take minutes under -race
	}
	const dim, k, ef = 512, 10, 64
	vectors, queries := faceLike(1, n, 200, dim, 5)
	gt := groundTruth(vectors, queries, dim, k)
	for _, im := range impls {
		t.Run(im.name, func(t *testing.T) {
			start := time.Now()
			g, err := im.build(context.Background(), vectors, dim, Config{Seed: 42})
			if err != nil {
				t.Fatal(err)
			}
			built := time.Since(start)
			r := recallAt(t, g, queries, dim, k, ef, gt)
			t.Logf("n=%d build %v (%.0f vectors/s), recall@10 at ef=%d: %.4f", n, built, float64(n)/built.Seconds(), ef, r)
			if r < 0.95 {
				t.Errorf("recall@10 = %.4f at ef=%d, want >= 0.95", r, ef)
			}
		})
	}
}
