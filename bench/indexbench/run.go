package indexbench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/facematch/facematch/bench/synth"
	"github.com/facematch/facematch/index"
	"github.com/facematch/facematch/internal/blob/local"
)

// Config says what to measure.
type Config struct {
	N           int // gallery size
	Queries     int // synthetic mated queries (default 1000)
	TruthQ      int // queries checked against exact search (default min(Queries, 300))
	SegmentSize int // index segment size (default 100,000)
	Graph       *index.GraphKind
	Dir         string // scratch directory (WAL, blobs)
	Seed        uint64
	Log         func(format string, args ...any)
}

// Result is what `facematch bench index --json` prints.
type Result struct {
	N                 int      `json:"n"`
	Dim               int      `json:"dim"`
	Graph             string   `json:"graph"`
	Synthetic         string   `json:"synthetic"`
	GenuineMean       float64  `json:"synthetic_genuine_mean"`
	ImpostorMean      float64  `json:"synthetic_impostor_mean"`
	ImpostorStd       float64  `json:"synthetic_impostor_std"`
	BuildVectorsPerS  float64  `json:"build_vectors_per_s"`
	AddVectorsPerS    float64  `json:"add_vectors_per_s"`
	BytesPerVector    float64  `json:"bytes_per_vector"` // RSS growth per vector beyond the vector itself
	RSSMiB            float64  `json:"rss_mib"`
	RecallAt10        float64  `json:"recall_at_10"`
	MateRecall        float64  `json:"mate_recall"`
	RealMateRecall    float64  `json:"real_lfw_mate_recall"`
	RealMateQueries   int      `json:"real_lfw_mate_queries"`
	QPS               float64  `json:"qps"` // per core: queries one after another with GOMAXPROCS=1
	P50ms             float64  `json:"p50_ms"`
	P99ms             float64  `json:"p99_ms"`
	ExactQPS          float64  `json:"exact_qps"` // per core, brute force over the gallery
	SnapshotWriteMBps float64  `json:"snapshot_write_mb_per_s"`
	RestartSeconds    float64  `json:"restart_s"`
	HnswlibQPS        *float64 `json:"hnswlib_qps"`
}

// Run builds the gallery, the index, and measures.
func Run(ctx context.Context, real *RealEmbeddings, cfg Config) (*Result, error) {
	if cfg.Queries == 0 {
		cfg.Queries = 1000
	}
	if cfg.TruthQ == 0 {
		cfg.TruthQ = min(cfg.Queries, 300)
	}
	if cfg.SegmentSize == 0 {
		cfg.SegmentSize = 100_000
	}
	logf := cfg.Log
	if logf == nil {
		logf = func(string, ...any) {}
	}
	dim := len(real.Vectors[0])
	model, err := synth.Fit(real.Vectors, real.Labels)
	if err != nil {
		return nil, err
	}
	stats := model.Calibrate(0.62)
	logf("synthetic model: genuine %.3f, impostor %.3f ± %.3f", stats.GenuineMean, stats.ImpostorMean, stats.ImpostorStd)
	res := &Result{N: cfg.N, Dim: dim, Synthetic: "gaussian fitted to LFW " + real.Model, GenuineMean: stats.GenuineMean,
		ImpostorMean: stats.ImpostorMean, ImpostorStd: stats.ImpostorStd, Graph: "exact"}
	if cfg.Graph != nil {
		res.Graph = cfg.Graph.Name
	}

	// Real mates: the first photo of each LFW person with two or more goes into the gallery, the
	// second becomes a query.
	byLabel := map[string][]int{}
	for i, l := range real.Labels {
		byLabel[l] = append(byLabel[l], i)
	}
	var realGallery, realQueries []int
	labels := make([]string, 0, len(byLabel))
	for l := range byLabel {
		labels = append(labels, l)
	}
	sort.Strings(labels)
	for _, l := range labels {
		if idx := byLabel[l]; len(idx) >= 2 {
			realGallery = append(realGallery, idx[0])
			realQueries = append(realQueries, idx[1])
		}
	}
	nSynth := cfg.N - len(realGallery)
	if nSynth < 2 {
		return nil, fmt.Errorf("indexbench: n must exceed %d (the real LFW gallery)", len(realGallery))
	}
	// Synthetic gallery: two photos per identity; mated queries are a third photo of one.
	logf("generating %d synthetic vectors", nSynth)
	gallery := make([]float32, cfg.N*dim)
	centres := generate(model, gallery[:nSynth*dim], nSynth, cfg.Seed)
	for j, i := range realGallery {
		copy(gallery[(nSynth+j)*dim:], real.Vectors[i])
	}
	queries := make([]float32, (cfg.Queries+len(realQueries))*dim)
	mates := make([]uint64, cfg.Queries+len(realQueries))
	r := rand.New(rand.NewPCG(cfg.Seed, 3))
	for q := 0; q < cfg.Queries; q++ {
		id := r.IntN(len(centres))
		model.Sample(r, centres[id], queries[q*dim:(q+1)*dim])
		mates[q] = uint64(2 * id) // either of the identity's two gallery photos counts; see mateFound
	}
	for j, i := range realQueries {
		copy(queries[(cfg.Queries+j)*dim:], real.Vectors[i])
		mates[cfg.Queries+j] = uint64(nSynth + j)
	}

	// Build.
	store, err := local.Open(filepath.Join(cfg.Dir, "blobs"))
	if err != nil {
		return nil, err
	}
	icfg := index.Config{Dir: filepath.Join(cfg.Dir, "wal"), Store: store, Prefix: "bench", Model: real.Model, Dim: dim,
		SegmentSize: cfg.SegmentSize, Graph: cfg.Graph}
	rssBefore := rssBytes()
	ix, err := index.Open(ctx, icfg)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	const batch = 1000
	for from := 0; from < cfg.N; from += batch {
		to := min(from+batch, cfg.N)
		es := make([]index.Entry, 0, to-from)
		for i := from; i < to; i++ {
			es = append(es, index.Entry{ID: uint64(i), Gallery: 1, Vector: gallery[i*dim : (i+1)*dim]})
		}
		if err := ix.Add(ctx, real.Model, es); err != nil {
			ix.Close()
			return nil, err
		}
	}
	addDur := time.Since(start)
	if err := ix.Checkpoint(ctx); err != nil {
		ix.Close()
		return nil, err
	}
	buildDur := time.Since(start)
	res.AddVectorsPerS = float64(cfg.N) / addDur.Seconds()
	res.BuildVectorsPerS = float64(cfg.N) / buildDur.Seconds()
	gallery = nil // the index holds its own copy; let the RSS reading see only that
	runtime.GC()
	rss := rssBytes()
	res.RSSMiB = float64(rss) / (1 << 20)
	res.BytesPerVector = float64(rss-rssBefore)/float64(cfg.N) - float64(4*dim)
	logf("built %d vectors: %.0f vectors/s (add %.0f/s), RSS %.0f MiB", cfg.N, res.BuildVectorsPerS, res.AddVectorsPerS, res.RSSMiB)

	// Search speed per core, recall and mate recall.
	nq := len(mates)
	hits := make([][]index.Hit, nq)
	lat := make([]time.Duration, nq)
	prev := runtime.GOMAXPROCS(1)
	qstart := time.Now()
	for q := 0; q < nq; q++ {
		t0 := time.Now()
		h, err := ix.Search(ctx, real.Model, queries[q*dim:(q+1)*dim], 10, index.Filter{})
		if err != nil {
			runtime.GOMAXPROCS(prev)
			ix.Close()
			return nil, err
		}
		lat[q] = time.Since(t0)
		hits[q] = h
	}
	res.QPS = float64(nq) / time.Since(qstart).Seconds()
	runtime.GOMAXPROCS(prev)
	// Latency percentiles on all cores, as a server would answer.
	for q := 0; q < nq; q++ {
		t0 := time.Now()
		if _, err := ix.Search(ctx, real.Model, queries[q*dim:(q+1)*dim], 10, index.Filter{}); err != nil {
			ix.Close()
			return nil, err
		}
		lat[q] = time.Since(t0)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	res.P50ms = float64(lat[nq/2]) / 1e6
	res.P99ms = float64(lat[nq*99/100]) / 1e6

	found := 0
	for q := 0; q < cfg.Queries; q++ {
		if mateFound(hits[q], mates[q], mates[q]+1) {
			found++
		}
	}
	res.MateRecall = float64(found) / float64(cfg.Queries)
	found = 0
	for q := cfg.Queries; q < nq; q++ {
		if mateFound(hits[q], mates[q], mates[q]) {
			found++
		}
	}
	res.RealMateQueries = nq - cfg.Queries
	if res.RealMateQueries > 0 {
		res.RealMateRecall = float64(found) / float64(res.RealMateQueries)
	}

	// Exact ground truth for a subset, timed on one core for exact QPS.
	vecs := exportVectors(ix, cfg.N, dim)
	tq := min(cfg.TruthQ, nq)
	step := max(1, nq/tq)
	var overlap, total int
	estart := time.Now()
	checked := 0
	for q := 0; q < nq && checked < tq; q += step {
		truth := exactTop10(vecs, dim, queries[q*dim:(q+1)*dim])
		checked++
		got := map[uint64]bool{}
		for _, h := range hits[q] {
			got[h.ID] = true
		}
		for _, id := range truth {
			if got[id] {
				overlap++
			}
		}
		total += len(truth)
	}
	res.ExactQPS = float64(checked) / time.Since(estart).Seconds()
	res.RecallAt10 = float64(overlap) / float64(total)

	// Restart from the store and the WAL.
	if err := ix.Close(); err != nil {
		return nil, err
	}
	objs, _ := store.List(ctx, "bench/segments/")
	var segBytes int64
	for _, o := range objs {
		segBytes += o.Size
	}
	if buildDur > 0 {
		res.SnapshotWriteMBps = float64(segBytes) / (1 << 20) / buildDur.Seconds()
	}
	rstart := time.Now()
	ix2, err := index.Open(ctx, icfg)
	if err != nil {
		return nil, err
	}
	res.RestartSeconds = time.Since(rstart).Seconds()
	if ix2.Len() != cfg.N {
		ix2.Close()
		return nil, fmt.Errorf("indexbench: restart found %d faces, want %d", ix2.Len(), cfg.N)
	}
	ix2.Close()
	logf("recall@10 %.4f, mate recall %.4f (real %.4f), %.0f QPS/core, p99 %.2f ms, exact %.1f QPS/core, restart %.1f s",
		res.RecallAt10, res.MateRecall, res.RealMateRecall, res.QPS, res.P99ms, res.ExactQPS, res.RestartSeconds)
	return res, nil
}

func mateFound(hits []index.Hit, lo, hi uint64) bool {
	for _, h := range hits {
		if h.ID >= lo && h.ID <= hi {
			return true
		}
	}
	return false
}

// generate fills out with n unit vectors, two per identity, in parallel; it returns the centres.
func generate(m *synth.Model, out []float32, n int, seed uint64) [][]float64 {
	dim := m.Dim
	ids := (n + 1) / 2
	centres := make([][]float64, ids)
	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := w; id < ids; id += workers {
				r := rand.New(rand.NewPCG(seed, uint64(id)))
				centres[id] = m.Centre(r)
				for k := 0; k < 2 && 2*id+k < n; k++ {
					i := 2*id + k
					m.Sample(r, centres[id], out[i*dim:(i+1)*dim])
				}
			}
		}()
	}
	wg.Wait()
	return centres
}

func exportVectors(ix *index.Index, n, dim int) []float32 {
	out := make([]float32, n*dim)
	ix.ForEach(func(id, _ uint64, v []float32) { copy(out[int(id)*dim:], v) })
	return out
}

func exactTop10(vecs []float32, dim int, q []float32) []uint64 {
	type s struct {
		id  uint64
		sim float32
	}
	best := make([]s, 0, 11)
	for i := 0; i*dim < len(vecs); i++ {
		var d float32
		v := vecs[i*dim : (i+1)*dim]
		for j := range q {
			d += q[j] * v[j]
		}
		if len(best) < 10 || d > best[len(best)-1].sim {
			best = append(best, s{uint64(i), d})
			sort.Slice(best, func(a, b int) bool { return best[a].sim > best[b].sim })
			if len(best) > 10 {
				best = best[:10]
			}
		}
	}
	ids := make([]uint64, len(best))
	for i, b := range best {
		ids[i] = b.id
	}
	return ids
}

func rssBytes() int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			f := strings.Fields(line)
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb * 1024
		}
	}
	return 0
}
