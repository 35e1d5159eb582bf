package indexbench

import (
	"context"
	"encoding/gob"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/facematch/facematch/bench/hnswlib"
	"github.com/facematch/facematch/bench/procstat"
	"github.com/facematch/facematch/bench/synth"
	"github.com/facematch/facematch/index"
	"github.com/facematch/facematch/index/graph"
	"github.com/facematch/facematch/internal/blob/local"
)

// TestMergeEffect measures what merging sealed segments does (issue 17): graph walks per query,
// QPS on one core, recall@10 and mate recall before and after, and the merge's time and peak
// memory. It needs the LFW embeddings cache that `facematch bench index` writes (to fit the
// face-shaped generator) and runs only when asked:
//
//	FACEMATCH_MERGEBENCH=../out/lfw-embeddings.gob go test -run TestMergeEffect -v -timeout 30m ./bench/indexbench/
//
// FACEMATCH_MERGEBENCH_N (default 100,000) and _SEGMENT (10,000) size the gallery and the
// sealed segments; the merge factor is N/SEGMENT, so the whole gallery becomes one segment.
func TestMergeEffect(t *testing.T) {
	cache := os.Getenv("FACEMATCH_MERGEBENCH")
	if cache == "" {
		t.Skip("set FACEMATCH_MERGEBENCH to the LFW embeddings cache to run the merge benchmark")
	}
	n, seg := envInt(t, "FACEMATCH_MERGEBENCH_N", 100_000), envInt(t, "FACEMATCH_MERGEBENCH_SEGMENT", 10_000)
	f, err := os.Open(cache)
	if err != nil {
		t.Fatal(err)
	}
	var real RealEmbeddings
	err = gob.NewDecoder(f).Decode(&real)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	model, err := synth.Fit(real.Vectors, real.Labels)
	if err != nil {
		t.Fatal(err)
	}
	model.Calibrate(0.62)
	dim := model.Dim
	gallery := make([]float32, n*dim)
	centres := generate(model, gallery, n, 17)
	r := rand.New(rand.NewPCG(17, 3))
	queries := make([]query, 300)
	qflat := make([]float32, len(queries)*dim)
	for i := range queries {
		id := r.IntN(len(centres))
		v := qflat[i*dim : (i+1)*dim]
		model.Sample(r, centres[id], v)
		queries[i] = query{vec: v, mates: [2]uint64{uint64(2 * id), uint64(min(2*id+1, n-1))}}
	}
	truth := hnswlib.ExactTopK(dim, gallery, qflat, 10, 0)

	dir := t.TempDir()
	store, err := local.Open(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := index.Config{Dir: filepath.Join(dir, "wal"), Store: store, Prefix: "bench", Model: real.Model, Dim: dim,
		SegmentSize: seg, Graph: index.HNSWGraph(graph.Config{M: 16, EfConstruction: 200}), MergeFactor: -1,
		CompactAfter: -1, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	ctx := context.Background()
	ix, err := index.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for from := 0; from < n; from += 1000 {
		es := make([]index.Entry, 0, 1000)
		for i := from; i < min(from+1000, n); i++ {
			es = append(es, index.Entry{ID: uint64(i), Gallery: 1, Vector: gallery[i*dim : (i+1)*dim]})
		}
		if err := ix.Add(ctx, real.Model, es); err != nil {
			t.Fatal(err)
		}
	}
	if err := ix.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d face-shaped %d-d vectors in %d segments of %d: built and stored in %s", n, dim, ix.Stats().Segments, seg, time.Since(start).Round(time.Second))
	efs := []int{32, 64, 128, 256, 512, 1024}
	sweep := func(ix *index.Index, when string) {
		prev := runtime.GOMAXPROCS(1)
		defer runtime.GOMAXPROCS(prev)
		st := ix.Stats()
		walks := st.Segments
		if st.Growing > 0 {
			walks++
		}
		for _, ef := range efs {
			p, err := measure(ctx, ix, real.Model, queries, truth, ef)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: %2d graph walks/query, ef %3d: recall@10 %.4f, mate recall %.4f, %6.0f QPS/core, p50 %.2f ms, p99 %.2f ms",
				when, walks, ef, p.RecallAt10, p.MateRecall, p.QPS, p.P50ms, p.P99ms)
		}
	}
	sweep(ix, "before")
	gallery = nil
	heapBefore, rssBefore := settledMemory()
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}

	// Reopen with merging on; sample memory while the persister merges.
	var peakRSS, peakHeap atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		var m runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			if rss := uint64(procstat.RSS()); rss > peakRSS.Load() {
				peakRSS.Store(rss)
			}
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peakHeap.Load() {
				peakHeap.Store(m.HeapInuse)
			}
		}
	})
	cfg.MergeFactor = n / seg
	ix, err = index.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	for ix.Stats().Merges == 0 {
		time.Sleep(50 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	st := ix.Stats()
	heapAfter, rssAfter := settledMemory()
	t.Logf("merge of %d segments (factor %d) into one of %d faces: %s (copy, graph build, upload, read-back, manifest)",
		n/seg, cfg.MergeFactor, ix.Len(), st.MergeTime.Round(100*time.Millisecond))
	t.Logf("memory, MiB: Go heap in use %d with %d segments, peak %d during the merge, %d after; RSS %d, peak %d, %d after",
		heapBefore>>20, n/seg, peakHeap.Load()>>20, heapAfter>>20, rssBefore>>20, peakRSS.Load()>>20, rssAfter>>20)
	sweep(ix, "after ")
}

// settledMemory collects garbage, returns it to the OS, and reads the heap in use and the RSS.
func settledMemory() (heap, rss uint64) {
	runtime.GC()
	debug.FreeOSMemory()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse, uint64(procstat.RSS())
}

func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < 1 {
		t.Fatalf("%s=%q: want a positive integer", name, s)
	}
	return v
}
