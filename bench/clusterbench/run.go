// Package clusterbench measures face clustering at scale (`facematch bench cluster`, issue 15):
// a synthetic collection with identity structure (bench/synth: Gaussians fitted to real LFW
// embeddings, identity sizes from a power law), its k-nearest-neighbour graph read from the
// HNSW graph instead of compared pair by pair, each clustering method over it, and an
// incremental assignment of new faces through the index against re-clustering from scratch.
// Time, peak memory and scores (pairwise, BCubed, NMI against the synthetic identities).
package clusterbench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/facematch/facematch/bench/procstat"

	"github.com/facematch/facematch/bench/synth"
	"github.com/facematch/facematch/engine"
	"github.com/facematch/facematch/engine/cluster"
	"github.com/facematch/facematch/face"
	"github.com/facematch/facematch/index/graph"
	"github.com/viterin/vek/vek32"
)

// Method is one clustering method over a k-nearest-neighbour graph.
type Method struct {
	Name string
	Run  func(g cluster.Graph, line float32, rounds int, seed uint64) []int
}

// Methods are the methods the benchmark runs; adding one is one line.
var Methods = []Method{
	{"whispers", func(g cluster.Graph, line float32, rounds int, seed uint64) []int {
		return cluster.ChineseWhispers(g, line, rounds, seed)
	}},
	// The service's method. Its weight's scale (0.05) is on the fused score's: on one
	// recognizer's similarity it is a little steeper than the service's.
	{"infomap", func(g cluster.Graph, line float32, _ int, seed uint64) []int {
		return cluster.Infomap(g, line, cluster.ExpWeight(line), seed)
	}},
}

// Graph sources: how the k-nearest-neighbour graph is read from the HNSW graph.
const (
	// GraphSearch searches every vector from its own base-layer node (graph.HNSW.KNN) at
	// Config.Ef; "search:128" names another breadth, so one build serves a sweep.
	GraphSearch = "search"
	// GraphBase reads the base layer's lists and their neighbours' (graph.HNSW.BaseKNN).
	GraphBase = "base"
	// GraphExact compares every pair (quadratic; for comparison at 100,000 at most).
	GraphExact = "exact"
)

// Config says what to measure.
type Config struct {
	N      int     // faces
	K      int     // neighbours per face (default 20, the service's)
	Line   float32 // edge line of the methods (default EquivalentLine)
	Rounds int     // Chinese Whispers rounds (default 30)
	// M and EfConstruction build the HNSW graph (defaults 16 and 200, the index's).
	M, EfConstruction int
	Ef                int      // search breadth of GraphSearch (default 64)
	Graphs            []string // graph sources, in order (default search, base)
	Sample            int      // faces whose neighbours are checked against exact search (default 1000)
	Assign            int      // new faces assigned incrementally (default 1000; 0 skips)
	Seed              uint64
	Log               func(format string, args ...any)
}

// EquivalentLine is the service's clustering line (0.88 on the fused score of Faceplugin512 and
// Dlib128, engine/persons.go) carried to Faceplugin512's own similarity, which the synthetic
// vectors imitate: the Faceplugin512 similarity with the same calibrated log-likelihood ratio
// (face.Calibrations: the fused cosine f scores (a₁+a₂)f + b₁ + b₂; 0.88 → 1.85 → 0.529). At
// 0.88 itself hardly any genuine pair of Faceplugin512 (mean 0.62) would be an edge.
func EquivalentLine(fusedLine float64) float32 {
	a, b := face.Calibrations[face.Faceplugin512], face.Calibrations[face.Dlib128]
	llr := (a.A+b.A)*fusedLine + a.B + b.B
	return float32((llr - a.B) / a.A)
}

// ServiceLine is the service's line on the fused score.
const ServiceLine = engine.PersonLine

// Synthetic faces: calibrated as bench index's (genuine mean 0.62), with photos of one person
// unequally hard (synth.Model.PhotoSpread): 0.35 brings the genuine similarities' spread to
// LFW's (Faceplugin512, pairs of one person: 10th-90th percentile 0.50-0.80, 1st 0.22), where
// one noise scale for every photo leaves them at 0.54-0.69 and clustering trivially right.
const (
	GenuineMean = 0.62
	PhotoSpread = 0.35
)

// Run is one method on one graph, scored against the synthetic identities.
type RunResult struct {
	Graph   string  `json:"graph"`
	Method  string  `json:"method"`
	Seconds float64 `json:"seconds"`
	CPU     float64 `json:"cpu_seconds"`
	cluster.Scores
}

// GraphResult is one k-nearest-neighbour graph: its time and its edges against exact search on
// the sample.
type GraphResult struct {
	Source  string  `json:"source"`
	Seconds float64 `json:"seconds"`
	CPU     float64 `json:"cpu_seconds"`
	// EdgeRecall: of the sample's true k nearest neighbours at or above the line (the edges the
	// methods use), the share the graph has; RecallAtK counts every true neighbour.
	EdgeRecall float64 `json:"edge_recall_above_line"`
	RecallAtK  float64 `json:"recall_at_k"`
	TrueEdges  int     `json:"sample_true_edges_above_line"`
}

// AssignResult is the incremental assignment of new faces to the clusters of the first graph
// and method, through the index (a k-nearest-neighbour search of the HNSW graph, plus exact
// search over the new faces already assigned, as a growing segment would hold them).
type AssignResult struct {
	Faces        int     `json:"faces"`
	NewPersons   int     `json:"new_persons"`     // faces of identities not in the set
	MsPerFace    float64 `json:"ms_per_face"`     // one goroutine, search and vote, wall time
	CPUMsPerFace float64 `json:"cpu_ms_per_face"` // the same in CPU time
	// OfIngest is CPUMsPerFace over the ingest pipeline's CPU time per photo (IngestMsPerPhoto).
	OfIngest    float64 `json:"share_of_ingest_cpu"`
	Joined      int     `json:"joined"` // joined an existing cluster (the rest start their own)
	ScratchSecs float64 `json:"scratch_seconds"`
	// Agreement scores the incremental labels against re-clustering from scratch; Incremental
	// and Scratch score each against the identities, over all faces.
	Agreement   cluster.Scores `json:"agreement"`
	Incremental cluster.Scores `json:"incremental"`
	Scratch     cluster.Scores `json:"scratch"`
	// Of the new faces put with others, the share whose cluster is mostly their person
	// (precision); of those whose person had other faces, the share put with one (recall).
	JoinPrecision        float64 `json:"join_precision"`
	JoinRecall           float64 `json:"join_recall"`
	ScratchJoinPrecision float64 `json:"scratch_join_precision"`
	ScratchJoinRecall    float64 `json:"scratch_join_recall"`
}

// IngestMsPerPhoto is the ingest pipeline's CPU time per photo (decode, detect, align, embed,
// store: bench/RESULTS.md "Batch ingest"), the yardstick of incremental assignment's cost.
const IngestMsPerPhoto = 27.0

// Result is what `facematch bench cluster --json` prints. Seconds are wall time on every core
// (GOMAXPROCS) unless named per core; CPU seconds are the process's user and system time in the
// same span, which a machine shared with other work does not inflate.
type Result struct {
	N            int     `json:"n"`
	Dim          int     `json:"dim"`
	Identities   int     `json:"identities"`
	SingletonIDs int     `json:"singleton_identities"`
	LargestID    int     `json:"largest_identity"`
	K            int     `json:"k"`
	Line         float32 `json:"line"`
	Rounds       int     `json:"rounds"`
	Cores        int     `json:"cores"`
	GenuineMean  float64 `json:"synthetic_genuine_mean"`
	GenuineP10   float64 `json:"synthetic_genuine_p10"`
	GenuineP90   float64 `json:"synthetic_genuine_p90"`
	ImpostorMean float64 `json:"synthetic_impostor_mean"`
	ImpostorStd  float64 `json:"synthetic_impostor_std"`
	M            int     `json:"M"`
	EfConstr     int     `json:"ef_construction"`
	Ef           int     `json:"ef"`

	GenerateSeconds float64       `json:"generate_seconds"`
	BuildSeconds    float64       `json:"build_seconds"` // the HNSW graph (the service's index has it already)
	BuildCPU        float64       `json:"build_cpu_seconds"`
	Graphs          []GraphResult `json:"graphs"`
	Runs            []RunResult   `json:"runs"`
	// ClusterSeconds is build, the first graph and the first method: a collection clustered
	// from its vectors. TotalSeconds is the whole run, generation and checks included.
	ClusterSeconds float64       `json:"cluster_seconds"`
	ClusterCPU     float64       `json:"cluster_cpu_seconds"`
	Assign         *AssignResult `json:"assign,omitempty"`
	TotalSeconds   float64       `json:"total_seconds"`
	TotalCPU       float64       `json:"total_cpu_seconds"`
	PeakRSSMiB     float64       `json:"peak_rss_mib"`
}

// Run generates the set and measures.
func Run(ctx context.Context, model *synth.Model, stats synth.Stats, cfg Config) (*Result, error) {
	start, startCPU := time.Now(), cpuSeconds()
	cfg = withDefaults(cfg)
	logf := cfg.Log
	dim := model.Dim
	workers := runtime.GOMAXPROCS(0)
	res := &Result{N: cfg.N, Dim: dim, K: cfg.K, Line: cfg.Line, Rounds: cfg.Rounds, Cores: workers,
		GenuineMean: stats.GenuineMean, GenuineP10: stats.GenuineP10, GenuineP90: stats.GenuineP90, ImpostorMean: stats.ImpostorMean, ImpostorStd: stats.ImpostorStd,
		M: cfg.M, EfConstr: cfg.EfConstruction, Ef: cfg.Ef}

	sizes := synth.Sizes(cfg.N, cfg.Seed)
	res.Identities = len(sizes)
	for _, s := range sizes {
		if s == 1 {
			res.SingletonIDs++
		}
		res.LargestID = max(res.LargestID, s)
	}
	logf("generating %d faces of %d identities (%d once, largest %d)", cfg.N, len(sizes), res.SingletonIDs, res.LargestID)
	t := time.Now()
	vectors := make([]float32, cfg.N*dim)
	ids := model.Generate(vectors, sizes, cfg.Seed, workers)
	res.GenerateSeconds = time.Since(t).Seconds()
	truth := make([]string, cfg.N)
	for i, id := range ids {
		truth[i] = strconv.Itoa(int(id))
	}

	logf("building the HNSW graph (M %d, efConstruction %d)", cfg.M, cfg.EfConstruction)
	t, c := time.Now(), cpuSeconds()
	h, err := graph.Build(ctx, vectors, dim, graph.Config{M: cfg.M, EfConstruction: cfg.EfConstruction, Seed: 1})
	if err != nil {
		return nil, err
	}
	res.BuildSeconds, res.BuildCPU = time.Since(t).Seconds(), cpuSeconds()-c
	logf("built in %.0f s (%.0f vectors/s; %.0f CPU s)", res.BuildSeconds, float64(cfg.N)/res.BuildSeconds, res.BuildCPU)

	sample := pickSample(cfg.N, cfg.Sample, cfg.Seed)
	logf("exact neighbours of %d sampled faces", len(sample))
	exactSample := exactKNN(vectors, dim, cfg.K, sample, workers)

	var first cluster.Graph
	var firstLabels []int
	for gi, src := range cfg.Graphs {
		logf("k-nearest-neighbour graph: %s", src)
		t, c = time.Now(), cpuSeconds()
		g, err := neighbourGraph(ctx, h, vectors, dim, src, cfg, workers)
		if err != nil {
			return nil, err
		}
		gr := GraphResult{Source: src, Seconds: time.Since(t).Seconds(), CPU: cpuSeconds() - c}
		gr.EdgeRecall, gr.RecallAtK, gr.TrueEdges = edgeRecall(g, sample, exactSample, cfg.Line)
		res.Graphs = append(res.Graphs, gr)
		logf("%s graph in %.1f s (%.0f CPU s): edge recall above the line %.4f, recall@%d %.4f", src, gr.Seconds, gr.CPU, gr.EdgeRecall, cfg.K, gr.RecallAtK)
		for mi, m := range Methods {
			t, c = time.Now(), cpuSeconds()
			labels := m.Run(g, cfg.Line, cfg.Rounds, 1)
			rr := RunResult{Graph: src, Method: m.Name, Seconds: time.Since(t).Seconds(), CPU: cpuSeconds() - c}
			rr.Scores = cluster.Score(labels, truth)
			res.Runs = append(res.Runs, rr)
			logf("%s on %s: %.1f s, BCubed F %.4f, pairwise P %.4f R %.4f, %d clusters", m.Name, src, rr.Seconds,
				rr.BCubedF, rr.PairwisePrecision, rr.PairwiseRecall, rr.Clusters)
			if gi == 0 && mi == 0 {
				first, firstLabels = g, labels
				res.ClusterSeconds = res.BuildSeconds + gr.Seconds + rr.Seconds
				res.ClusterCPU = res.BuildCPU + gr.CPU + rr.CPU
			}
		}
	}

	if cfg.Assign > 0 && firstLabels != nil {
		logf("assigning %d new faces", cfg.Assign)
		a, err := assign(h, vectors, dim, ids, sizes, first, firstLabels, model, cfg, workers)
		if err != nil {
			return nil, err
		}
		res.Assign = a
		logf("assigned: %.3f ms a face, %d joined; against re-clustering from scratch (%.1f s): BCubed F %.4f, pairwise F %.4f",
			a.MsPerFace, a.Joined, a.ScratchSecs, a.Agreement.BCubedF, a.Agreement.PairwiseF)
	}
	res.TotalSeconds, res.TotalCPU = time.Since(start).Seconds(), cpuSeconds()-startCPU
	res.PeakRSSMiB = float64(procstat.PeakRSS()) / (1 << 20)
	return res, nil
}

func withDefaults(cfg Config) Config {
	if cfg.K == 0 {
		cfg.K = 20
	}
	if cfg.Line == 0 {
		cfg.Line = EquivalentLine(ServiceLine)
	}
	if cfg.Rounds == 0 {
		cfg.Rounds = 30
	}
	if cfg.M == 0 {
		cfg.M = 16
	}
	if cfg.EfConstruction == 0 {
		cfg.EfConstruction = 200
	}
	if cfg.Ef == 0 {
		cfg.Ef = 64
	}
	if len(cfg.Graphs) == 0 {
		cfg.Graphs = []string{GraphSearch, GraphBase}
	}
	if cfg.Sample == 0 {
		cfg.Sample = 1000
	}
	if cfg.Log == nil {
		cfg.Log = func(string, ...any) {}
	}
	return cfg
}

// neighbourGraph builds one k-nearest-neighbour graph as engine/cluster reads it.
func neighbourGraph(ctx context.Context, h *graph.HNSW, vectors []float32, dim int, src string, cfg Config, workers int) (cluster.Graph, error) {
	var lists [][]graph.Neighbor
	var err error
	ef := cfg.Ef
	if name, breadth, ok := strings.Cut(src, ":"); ok && name == GraphSearch {
		if ef, err = strconv.Atoi(breadth); err != nil || ef < 1 {
			return cluster.Graph{}, fmt.Errorf("clusterbench: graph %q: the breadth must be a positive integer", src)
		}
		src = name
	}
	switch src {
	case GraphSearch:
		lists, err = h.KNN(ctx, cfg.K, ef, workers)
	case GraphBase:
		lists, err = h.BaseKNN(ctx, cfg.K, workers)
	case GraphExact:
		all := make([]int, len(vectors)/dim)
		for i := range all {
			all[i] = i
		}
		lists = exactKNN(vectors, dim, cfg.K, all, workers)
	default:
		return cluster.Graph{}, fmt.Errorf("clusterbench: unknown graph %q (want %s, %s or %s)", src, GraphSearch, GraphBase, GraphExact)
	}
	if err != nil {
		return cluster.Graph{}, err
	}
	return toCluster(lists), nil
}

// toCluster converts neighbour lists into engine/cluster's graph, which knows no index.
func toCluster(lists [][]graph.Neighbor) cluster.Graph {
	total := 0
	for _, l := range lists {
		total += len(l)
	}
	flat := make([]cluster.Edge, 0, total) // one allocation: a million small slices cost the GC
	adj := make([][]cluster.Edge, len(lists))
	for i, l := range lists {
		from := len(flat)
		for _, nb := range l {
			flat = append(flat, cluster.Edge{To: int32(nb.ID), Sim: nb.Similarity})
		}
		adj[i] = flat[from:len(flat):len(flat)]
	}
	return cluster.Graph{Adj: adj}
}

// pickSample is up to n distinct faces, drawn with the seed.
func pickSample(total, n int, seed uint64) []int {
	r := rand.New(rand.NewPCG(seed, 0x5a))
	perm := r.Perm(total)
	return perm[:min(n, total)]
}

// exactKNN is the k most similar others of each of nodes, by comparing every vector.
func exactKNN(vectors []float32, dim, k int, nodes []int, workers int) [][]graph.Neighbor {
	n := len(vectors) / dim
	out := make([][]graph.Neighbor, len(nodes))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			top := make([]graph.Neighbor, 0, k+1)
			for {
				j := int(next.Add(1) - 1)
				if j >= len(nodes) {
					return
				}
				i := nodes[j]
				q := vectors[i*dim : (i+1)*dim]
				top = top[:0]
				for o := range n {
					if o == i {
						continue
					}
					s := vek32.Dot(q, vectors[o*dim:(o+1)*dim])
					if len(top) == k && s <= top[k-1].Similarity {
						continue
					}
					at, _ := slices.BinarySearchFunc(top, s, func(e graph.Neighbor, s float32) int {
						if s > e.Similarity {
							return 1
						}
						return -1
					})
					top = slices.Insert(top, at, graph.Neighbor{ID: uint32(o), Similarity: s})
					if len(top) > k {
						top = top[:k]
					}
				}
				out[j] = slices.Clone(top)
			}
		}()
	}
	wg.Wait()
	return out
}

// edgeRecall compares the graph's lists of the sample with their exact lists.
func edgeRecall(g cluster.Graph, sample []int, exact [][]graph.Neighbor, line float32) (aboveLine, atK float64, trueEdges int) {
	var hitLine, hitAll, all int
	for j, i := range sample {
		have := map[int32]bool{}
		for _, e := range g.Adj[i] {
			have[e.To] = true
		}
		for _, nb := range exact[j] {
			all++
			found := have[int32(nb.ID)]
			if found {
				hitAll++
			}
			if nb.Similarity >= line {
				trueEdges++
				if found {
					hitLine++
				}
			}
		}
	}
	return ratio(hitLine, trueEdges), ratio(hitAll, all), trueEdges
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// cpuSeconds is the process's user and system time so far.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}
