package indexbench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/facematch/facematch/bench/procstat"

	"github.com/facematch/facematch/bench/hnswlib"
	"github.com/facematch/facematch/bench/synth"
	"github.com/facematch/facematch/index"
	"github.com/facematch/facematch/internal/blob/local"
)

// Config says what to measure.
type Config struct {
	N           int // gallery size
	Queries     int // synthetic mated queries (default 1000); every real LFW mate is a query too
	TruthQ      int // queries checked against exact search, half synthetic, half real (default 500)
	SegmentSize int // index segment size (default 100,000)
	Graph       *index.GraphKind
	Quantized   bool // walk sealed segments on 8-bit codes, rescoring with float32 (index.Config.Quantized)
	// M and EfConstruction are the graph's (for the report) and hnswlib's (defaults 16, 200).
	M, EfConstruction int
	// Ef is the search-breadth sweep (default DefaultEf). The reported operating point is the
	// cheapest ef that reaches TargetMateRecall (default 0.99) and TargetRecall (default 0: no
	// recall@10 target). Issue 17 states its bars against mate recall, the share of queries
	// whose other photo of the same person is in the top 10: recall@10 on face embeddings sits in
	// a floor of near-equal impostor similarities, which no investigator needs ordered.
	Ef                             []int
	TargetRecall, TargetMateRecall float64
	// Hnswlib runs the hnswlib baseline on the same vectors, queries and truth.
	Hnswlib bool
	// GenuineMean is the mean similarity synthetic mates are calibrated to; 0 measures it on
	// the real embeddings' same-identity pairs (synth.GenuineMean).
	GenuineMean float64
	// Reuse opens the index a previous run with the same N, Seed and segment size left in Dir
	// instead of building it (the vectors are regenerated from the seed, so queries and truth
	// match): a longer ef sweep at 1M need not pay the build again. Build figures are then 0.
	// hnswlib's index is saved in Dir too and loaded when built from the same vectors and
	// parameters (hnswlib.RunReusing); its build rate is then the saved one.
	Reuse bool
	Dir   string // scratch directory (WAL, blobs, baseline files)
	Seed  uint64
	Log   func(format string, args ...any)
}

// DefaultEf is the ef sweep, for both the index and hnswlib.
var DefaultEf = []int{16, 32, 64, 128, 256, 384, 512, 768, 1024}

// Point is one ef of the sweep; recalls are at k = 10, timings on one core.
type Point struct {
	Ef             int     `json:"ef"`
	RecallAt10     float64 `json:"recall_at_10"`
	MateRecall     float64 `json:"mate_recall"`
	RealMateRecall float64 `json:"real_lfw_mate_recall"`
	QPS            float64 `json:"qps"`
	P50ms          float64 `json:"p50_ms"`
	P99ms          float64 `json:"p99_ms"`
}

// Result is what `facematch bench index --json` prints. QPS are per core (queries one after
// another with GOMAXPROCS=1); latencies at the operating point are measured twice: on one core,
// and on every core as a server answers one query (the index fans segments out).
type Result struct {
	N            int     `json:"n"`
	Dim          int     `json:"dim"`
	Graph        string  `json:"graph"`
	Quantized    bool    `json:"quantized"`
	SegmentSize  int     `json:"segment_size"`
	M            int     `json:"M"`
	EfConstr     int     `json:"ef_construction"`
	Segments     int     `json:"segments"`
	Synthetic    string  `json:"synthetic"`
	GenuineMean  float64 `json:"synthetic_genuine_mean"`
	ImpostorMean float64 `json:"synthetic_impostor_mean"`
	ImpostorStd  float64 `json:"synthetic_impostor_std"`
	Queries      int     `json:"queries"`       // synthetic + real
	TruthQueries int     `json:"truth_queries"` // checked against exact search

	BuildVectorsPerS float64 `json:"build_vectors_per_s"` // add + graph + persist, all cores
	AddVectorsPerS   float64 `json:"add_vectors_per_s"`   // acknowledged (WAL) inserts alone
	RSSMiB           float64 `json:"rss_mib"`
	BytesPerVector   float64 `json:"bytes_per_vector"` // RSS growth per vector beyond its 4*dim bytes
	// ResidentBytesPerVector is the growth of anonymous memory (RssAnon) per vector: what the
	// index holds that the kernel cannot drop (graph, codes, ids; the float32 vectors too when
	// they are not in mapped files). MappedMiB is the mapped files' resident pages (RssFile):
	// page cache, reclaimable.
	ResidentBytesPerVector float64 `json:"resident_bytes_per_vector"`
	MappedMiB              float64 `json:"mapped_mib"`

	Ef                  int     `json:"ef"`         // operating point
	TargetMet           bool    `json:"target_met"` // some ef reached both recall targets
	RecallAt10          float64 `json:"recall_at_10"`
	MateRecall          float64 `json:"mate_recall"` // synthetic mated queries
	RealMateRecall      float64 `json:"real_lfw_mate_recall"`
	RealMateQueries     int     `json:"real_lfw_mate_queries"`
	QPS                 float64 `json:"qps"`
	P50ms               float64 `json:"p50_ms"`
	P99ms               float64 `json:"p99_ms"`
	P50msAllCores       float64 `json:"p50_ms_all_cores"`
	P99msAllCores       float64 `json:"p99_ms_all_cores"`
	ExactQPS            float64 `json:"exact_qps"`
	ExactMateRecall     float64 `json:"exact_mate_recall"`          // the ceiling, on the truth queries
	ExactRealMateRecall float64 `json:"exact_real_lfw_mate_recall"` // the ceiling, on the truth queries
	SpeedupVsExact      float64 `json:"speedup_vs_exact"`

	SnapshotBytes int64 `json:"snapshot_bytes"`
	// Segment objects (vectors, ids, graph, checksums) written and read through the blob store
	// (a local directory here), encoding and decoding included.
	SnapshotWriteMBps float64 `json:"snapshot_write_mb_per_s"`
	SnapshotReadMBps  float64 `json:"snapshot_read_mb_per_s"`
	RestartSeconds    float64 `json:"restart_s"`

	Sweep  []Point `json:"sweep"`
	Reused bool    `json:"reused_index,omitempty"` // build figures are from the run that built it

	HnswlibQPS              *float64        `json:"hnswlib_qps"` // at the same targets; null if not run or never reached
	HnswlibEf               *int            `json:"hnswlib_ef"`
	HnswlibBuildVectorsPerS *float64        `json:"hnswlib_build_vectors_per_s"`
	HnswlibBytesPerVector   *float64        `json:"hnswlib_bytes_per_vector"`
	QPSRatioVsHnswlib       *float64        `json:"qps_ratio_vs_hnswlib"`
	Hnswlib                 *hnswlib.Result `json:"hnswlib,omitempty"`
}

// query is one search with its mates (gallery ids; either counts) and whether it is real.
type query struct {
	vec   []float32
	mates [2]uint64
	real  bool
}

// Run builds the gallery, the index, and measures.
func Run(ctx context.Context, real *RealEmbeddings, cfg Config) (*Result, error) {
	if cfg.Queries == 0 {
		cfg.Queries = 1000
	}
	if cfg.TruthQ == 0 {
		cfg.TruthQ = 500
	}
	if cfg.SegmentSize == 0 {
		cfg.SegmentSize = 100_000
	}
	if cfg.M == 0 {
		cfg.M = 16
	}
	if cfg.EfConstruction == 0 {
		cfg.EfConstruction = 200
	}
	if len(cfg.Ef) == 0 {
		cfg.Ef = DefaultEf
	}
	if cfg.TargetMateRecall == 0 {
		cfg.TargetMateRecall = 0.99
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
	genuine := cfg.GenuineMean
	if genuine == 0 {
		genuine = synth.GenuineMean(real.Vectors, real.Labels)
	}
	stats := model.Calibrate(genuine)
	logf("synthetic model: genuine %.3f, impostor %.3f ± %.3f", stats.GenuineMean, stats.ImpostorMean, stats.ImpostorStd)
	res := &Result{N: cfg.N, Dim: dim, Synthetic: "gaussian fitted to LFW " + real.Model, GenuineMean: stats.GenuineMean,
		ImpostorMean: stats.ImpostorMean, ImpostorStd: stats.ImpostorStd, Graph: "exact", SegmentSize: cfg.SegmentSize,
		M: cfg.M, EfConstr: cfg.EfConstruction, Quantized: cfg.Quantized}
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
	// Memory baseline before the gallery exists: after the build the gallery is freed, so RSS
	// growth is the index's (plus the query set, subtracted below).
	runtime.GC()
	debug.FreeOSMemory()
	rssBefore, anonBefore := procstat.RSS(), procstat.RSSAnon()

	// Synthetic gallery: two photos per identity; mated queries are a third photo of one.
	logf("generating %d synthetic vectors", nSynth)
	gallery := make([]float32, cfg.N*dim)
	centres := generate(model, gallery[:nSynth*dim], nSynth, cfg.Seed)
	for j, i := range realGallery {
		copy(gallery[(nSynth+j)*dim:], real.Vectors[i])
	}
	r := rand.New(rand.NewPCG(cfg.Seed, 3))
	var synthQ, realQ []query
	for q := 0; q < cfg.Queries; q++ {
		id := r.IntN(len(centres))
		v := make([]float32, dim)
		model.Sample(r, centres[id], v)
		m2 := uint64(2*id + 1)
		if int(m2) >= nSynth {
			m2 = uint64(2 * id)
		}
		synthQ = append(synthQ, query{vec: v, mates: [2]uint64{uint64(2 * id), m2}})
	}
	for j, i := range realQueries {
		realQ = append(realQ, query{vec: real.Vectors[i], mates: [2]uint64{uint64(nSynth + j), uint64(nSynth + j)}, real: true})
	}
	// The truth queries come first (hnswbench checks recall on a prefix), half of each kind.
	nt := min(cfg.TruthQ/2, len(synthQ)) + min(cfg.TruthQ-cfg.TruthQ/2, len(realQ))
	ts := min(cfg.TruthQ/2, len(synthQ))
	queries := append(append(append([]query{}, synthQ[:ts]...), realQ[:nt-ts]...), append(synthQ[ts:], realQ[nt-ts:]...)...)
	res.Queries, res.TruthQueries, res.RealMateQueries = len(queries), nt, len(realQ)

	// Exact ground truth for the truth queries, on every core; exact QPS timed on one core.
	qflat := make([]float32, len(queries)*dim)
	for i, q := range queries {
		copy(qflat[i*dim:], q.vec)
	}
	logf("exact search for %d truth queries over %d vectors", nt, cfg.N)
	truth := hnswlib.ExactTopK(dim, gallery, qflat[:nt*dim], 10, 0)
	timed := min(nt, max(20, 2_000_000/cfg.N))
	estart := time.Now()
	hnswlib.ExactTopK(dim, gallery, qflat[:timed*dim], 10, 1)
	res.ExactQPS = float64(timed) / time.Since(estart).Seconds()
	var exSyn, exReal, nSyn, nReal int
	for i := 0; i < nt; i++ {
		found := idsHaveMate(truth[i], queries[i].mates)
		if queries[i].real {
			nReal++
			exReal += b2i(found)
		} else {
			nSyn++
			exSyn += b2i(found)
		}
	}
	res.ExactMateRecall, res.ExactRealMateRecall = ratio(exSyn, nSyn), ratio(exReal, nReal)

	if cfg.Hnswlib {
		// The baseline's inputs are written now, while the gallery is in memory; it runs after
		// the index is closed so the two never compete for cores or memory.
		if err := writeBaselineInputs(cfg.Dir, dim, gallery, qflat, truth, queries); err != nil {
			return nil, err
		}
	}

	// Build.
	store, err := local.Open(filepath.Join(cfg.Dir, "blobs"))
	if err != nil {
		return nil, err
	}
	icfg := index.Config{Dir: filepath.Join(cfg.Dir, "wal"), Store: store, Prefix: "bench", Model: real.Model, Dim: dim,
		SegmentSize: cfg.SegmentSize, Graph: cfg.Graph, Quantized: cfg.Quantized}
	reuse := false
	if cfg.Reuse {
		if ms, _ := store.List(ctx, "bench/manifests/"); len(ms) > 0 {
			reuse = true
		}
	}
	ix, err := index.Open(ctx, icfg)
	if err != nil {
		return nil, err
	}
	defer func() {
		if ix != nil {
			ix.Close()
		}
	}()
	if reuse && ix.Len() != cfg.N {
		return nil, fmt.Errorf("indexbench: --reuse: the index in %s holds %d faces, want %d", cfg.Dir, ix.Len(), cfg.N)
	}
	res.Reused = reuse
	start := time.Now()
	const batch = 1000
	for from := 0; from < cfg.N && !reuse; from += batch {
		to := min(from+batch, cfg.N)
		es := make([]index.Entry, 0, to-from)
		for i := from; i < to; i++ {
			es = append(es, index.Entry{ID: uint64(i), Gallery: 1, Vector: gallery[i*dim : (i+1)*dim]})
		}
		if err := ix.Add(ctx, real.Model, es); err != nil {
			return nil, err
		}
	}
	addDur := time.Since(start)
	if err := ix.Checkpoint(ctx); err != nil {
		return nil, err
	}
	buildDur := time.Since(start)
	if !reuse {
		res.AddVectorsPerS = float64(cfg.N) / addDur.Seconds()
		res.BuildVectorsPerS = float64(cfg.N) / buildDur.Seconds()
	}
	gallery = nil // the index holds its own copy; let the RSS reading see only that
	runtime.GC()
	debug.FreeOSMemory()
	rss := procstat.RSS()
	res.RSSMiB = float64(rss) / (1 << 20)
	queryBytes := int64(4 * (len(qflat) + len(synthQ)*dim))
	res.BytesPerVector = float64(rss-rssBefore-queryBytes)/float64(cfg.N) - float64(4*dim)
	res.ResidentBytesPerVector = float64(procstat.RSSAnon()-anonBefore-queryBytes) / float64(cfg.N)
	res.MappedMiB = float64(procstat.RSSFile()) / (1 << 20)
	logf("built %d vectors: %.0f vectors/s (add %.0f/s), RSS %.0f MiB (anonymous %.0f B/vector, mapped files %.0f MiB)", cfg.N,
		res.BuildVectorsPerS, res.AddVectorsPerS, res.RSSMiB, res.ResidentBytesPerVector, res.MappedMiB)

	// The sweep, on one core.
	prev := runtime.GOMAXPROCS(1)
	for _, ef := range cfg.Ef {
		p, err := measure(ctx, ix, real.Model, queries, truth, ef)
		if err != nil {
			runtime.GOMAXPROCS(prev)
			return nil, err
		}
		logf("ef %3d: recall@10 %.4f, mate recall %.4f (real %.4f), %.0f QPS/core, p99 %.2f ms",
			ef, p.RecallAt10, p.MateRecall, p.RealMateRecall, p.QPS, p.P99ms)
		res.Sweep = append(res.Sweep, p)
	}
	runtime.GOMAXPROCS(prev)
	op, met := pick(res.Sweep, cfg.TargetRecall, cfg.TargetMateRecall)
	res.Ef, res.TargetMet = op.Ef, met
	res.RecallAt10, res.MateRecall, res.RealMateRecall = op.RecallAt10, op.MateRecall, op.RealMateRecall
	res.QPS, res.P50ms, res.P99ms = op.QPS, op.P50ms, op.P99ms
	res.SpeedupVsExact = res.QPS / res.ExactQPS
	all, err := measure(ctx, ix, real.Model, queries, nil, op.Ef)
	if err != nil {
		return nil, err
	}
	res.P50msAllCores, res.P99msAllCores = all.P50ms, all.P99ms

	st := ix.Stats()
	if st.WriteTime > 0 {
		res.SnapshotWriteMBps = float64(st.BytesWritten) / (1 << 20) / st.WriteTime.Seconds()
	}
	// Restart from the store (the checkpoint left nothing in the WAL).
	err = ix.Close()
	ix = nil
	if err != nil {
		return nil, err
	}
	objs, err := store.List(ctx, "bench/segments/")
	if err != nil {
		return nil, err
	}
	for _, o := range objs {
		res.SnapshotBytes += o.Size
	}
	res.Segments = len(objs)
	runtime.GC()
	debug.FreeOSMemory()
	rstart := time.Now()
	ix2, err := index.Open(ctx, icfg)
	if err != nil {
		return nil, err
	}
	res.RestartSeconds = time.Since(rstart).Seconds()
	if rst := ix2.Stats(); rst.ReadTime > 0 {
		res.SnapshotReadMBps = float64(rst.BytesRead) / (1 << 20) / rst.ReadTime.Seconds()
	}
	n2 := ix2.Len()
	if err := ix2.Close(); err != nil {
		return nil, err
	}
	if n2 != cfg.N {
		return nil, fmt.Errorf("indexbench: restart found %d faces, want %d", n2, cfg.N)
	}
	logf("operating point ef %d: recall@10 %.4f, mate recall %.4f (real %.4f; exact %.4f / %.4f), %.0f QPS/core (%.0fx exact), p99 %.2f ms (all cores %.2f), restart %.1f s",
		res.Ef, res.RecallAt10, res.MateRecall, res.RealMateRecall, res.ExactMateRecall, res.ExactRealMateRecall,
		res.QPS, res.SpeedupVsExact, res.P99ms, res.P99msAllCores, res.RestartSeconds)

	if cfg.Hnswlib {
		if err := runBaseline(ctx, cfg, res, logf); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// measure runs every query at ef and scores the answers: recall@10 on the first len(truth)
// queries, mate recall on all, latency percentiles.
func measure(ctx context.Context, ix *index.Index, model string, queries []query, truth [][]uint32, ef int) (Point, error) {
	p := Point{Ef: ef}
	lat := make([]time.Duration, len(queries))
	var overlap, total, syn, synFound, rl, rlFound int
	start := time.Now()
	for i, q := range queries {
		t0 := time.Now()
		hits, err := ix.Search(ctx, model, q.vec, 10, index.Filter{Ef: ef})
		if err != nil {
			return p, err
		}
		lat[i] = time.Since(t0)
		ids := make([]uint32, len(hits))
		for j, h := range hits {
			ids[j] = uint32(h.ID)
		}
		if i < len(truth) {
			for _, id := range truth[i] {
				overlap += b2i(slices.Contains(ids, id))
			}
			total += len(truth[i])
		}
		found := idsHaveMate(ids, q.mates)
		if q.real {
			rl++
			rlFound += b2i(found)
		} else {
			syn++
			synFound += b2i(found)
		}
	}
	p.QPS = float64(len(queries)) / time.Since(start).Seconds()
	p.RecallAt10 = ratio(overlap, total)
	p.MateRecall, p.RealMateRecall = ratio(synFound, syn), ratio(rlFound, rl)
	slices.Sort(lat)
	p.P50ms = float64(lat[len(lat)/2]) / 1e6
	p.P99ms = float64(lat[len(lat)*99/100]) / 1e6
	return p, nil
}

// pick returns the fastest point that reaches both targets, or the one with the best mate
// recall (then recall@10), and false, when none does.
func pick(sweep []Point, recall, mate float64) (Point, bool) {
	var best Point
	met := false
	for _, p := range sweep {
		if p.RecallAt10 >= recall && p.MateRecall >= mate {
			if !met || p.QPS > best.QPS {
				best, met = p, true
			}
		} else if !met && (best.Ef == 0 || p.MateRecall > best.MateRecall ||
			(p.MateRecall == best.MateRecall && p.RecallAt10 > best.RecallAt10)) {
			best = p
		}
	}
	return best, met
}

func writeBaselineInputs(dir string, dim int, gallery, qflat []float32, truth [][]uint32, queries []query) error {
	if err := os.MkdirAll(filepath.Join(dir, "hnswlib"), 0o755); err != nil {
		return err
	}
	mates := make([][]uint32, len(queries))
	for i, q := range queries {
		mates[i] = []uint32{uint32(q.mates[0]), uint32(q.mates[1])}
		if q.real {
			// hnswlib's mate recall is the synthetic one, as the index's is.
			mates[i] = []uint32{hnswlib.NoMate, hnswlib.NoMate}
		}
	}
	p := func(name string) string { return filepath.Join(dir, "hnswlib", name) }
	return errors.Join(
		hnswlib.WriteVectors(p("base"), dim, gallery),
		hnswlib.WriteVectors(p("queries"), dim, qflat),
		hnswlib.WriteTruth(p("truth"), 10, truth),
		hnswlib.WriteTruth(p("mates"), 2, mates),
	)
}

// runBaseline runs hnswlib (M=16, efConstruction=200, 2 build threads, the same ef sweep) and
// compares it with the index at the same targets.
func runBaseline(ctx context.Context, cfg Config, res *Result, logf func(string, ...any)) error {
	bin, err := hnswlib.Build(ctx)
	if err != nil {
		return err
	}
	p := func(name string) string { return filepath.Join(cfg.Dir, "hnswlib", name) }
	args := hnswlib.Args{Base: p("base"), Queries: p("queries"), Truth: p("truth"), Mates: p("mates"),
		M: cfg.M, EfConstruction: cfg.EfConstruction, Threads: runtime.GOMAXPROCS(0), Ef: cfg.Ef, K: 10, NoSave: true}
	var hr *hnswlib.Result
	if cfg.Reuse {
		// Kept beside the index's own files, so --reuse skips both builds.
		logf("hnswlib: loading or building (and saving) over %d vectors", res.N)
		hr, err = hnswlib.RunReusing(ctx, bin, args, p("saved"))
	} else {
		logf("hnswlib: building over %d vectors", res.N)
		hr, err = hnswlib.Run(ctx, bin, args)
	}
	if err != nil {
		return err
	}
	if hr.Reused {
		logf("hnswlib: reused the saved index (built at %.0f vectors/s)", hr.BuildVectorsPerS)
	}
	res.Hnswlib = hr
	res.HnswlibBuildVectorsPerS = &hr.BuildVectorsPerS
	res.HnswlibBytesPerVector = &hr.MemoryBytesPerVectorBeyondVector
	for _, e := range hr.Results {
		logf("hnswlib ef %3d: recall@10 %.4f, mate recall %.4f, %.0f QPS/core, p99 %.2f ms", e.Ef, e.RecallAt10, deref(e.MateRecallAt10), e.QPS1Thread, e.P99Ms)
	}
	if e, ok := hr.AtRecall(cfg.TargetRecall, cfg.TargetMateRecall); ok {
		qps, ef := e.QPS1Thread, e.Ef
		res.HnswlibQPS, res.HnswlibEf = &qps, &ef
		if res.TargetMet {
			r := res.QPS / qps
			res.QPSRatioVsHnswlib = &r
		}
		logf("hnswlib at the targets: ef %d, %.0f QPS/core; index/hnswlib QPS ratio %s", ef, qps, fmtPtr(res.QPSRatioVsHnswlib))
	} else {
		logf("hnswlib never reached the targets in the sweep")
	}
	return nil
}

func idsHaveMate[T uint32 | uint64](ids []T, mates [2]uint64) bool {
	for _, id := range ids {
		if uint64(id) == mates[0] || uint64(id) == mates[1] {
			return true
		}
	}
	return false
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func deref(p *float64) float64 {
	if p == nil {
		return 0
	}
	return *p
}

func fmtPtr(p *float64) string {
	if p == nil {
		return "n/a"
	}
	return strconv.FormatFloat(*p, 'f', 2, 64)
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
