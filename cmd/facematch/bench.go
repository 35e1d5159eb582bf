package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/facematch/facematch/bench/indexbench"
	"github.com/facematch/facematch/face"
	"github.com/facematch/facematch/index/graph"
)

func (m *Main) runBenchIndex(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bench index", flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	var cfg Config
	cfg.bindModelFlags(fs, m.Getenv)
	n := fs.Int("n", 100_000, "gallery size")
	queries := fs.Int("queries", 1000, "synthetic mated queries")
	truth := fs.Int("truth", 500, "queries checked against exact search (half synthetic, half real)")
	efList := fs.String("ef", "", "comma-separated search-breadth sweep (default "+joinInts(indexbench.DefaultEf)+")")
	baseline := fs.Bool("hnswlib", true, "run the hnswlib baseline on the same vectors (needs bench/hnswlib/install)")
	segment := fs.Int("segment", 100_000, "index segment size")
	graphName := fs.String("graph", "hnsw", "graph for sealed segments: "+graphNames())
	quantized := fs.Bool("quantized", false, "walk sealed segments' graphs on 8-bit codes and rescore with float32 (index Config.Quantized; hnsw only)")
	graphM := fs.Int("m", 16, "graph M (neighbours per node; the base layer keeps 2M), for the graph and hnswlib alike")
	efc := fs.Int("efc", 200, "graph efConstruction, for the graph and hnswlib alike")
	lfw := fs.String("lfw", "../shared/data/lfw", "LFW photos: the synthetic distribution is fitted to their embeddings")
	cache := fs.String("cache", "", "cache of the LFW embeddings (default bench/out/lfw-embeddings.gob, -fused.gob at --dim 640)")
	dim := fs.Int("dim", 512, "embedding: 512 (the faceplugin512 recognizer alone) or 640 (the default fused recognizer)")
	vectors := fs.String("vectors", "", "an `eval cluster --vectors` file made with the same recognizer: when --cache is missing, its --lfw set's faces fill it instead of embedding LFW again")
	dir := fs.String("dir", "", "scratch directory (default: a new temporary directory, removed afterwards)")
	asJSON := fs.Bool("json", false, "print one JSON object")
	targetMate := fs.Float64("target-mate", 0.99, "operating point: the cheapest ef whose mate recall reaches this")
	targetRecall := fs.Float64("target-recall", 0, "operating point: also needs this recall@10 against exact search (0: none)")
	reuse := fs.Bool("reuse", false, "with --dir: open the index a previous run with the same --n left there instead of building it, and load hnswlib's index saved there for the same vectors, M and efc (its original build rate is reported)")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if *n < 1000 || *queries < 1 {
		return fmt.Errorf("n must be >= 1000 and queries >= 1")
	}
	if !(*targetMate >= 0 && *targetMate <= 1 && *targetRecall >= 0 && *targetRecall <= 1) {
		return fmt.Errorf("--target-mate and --target-recall must be in [0,1], got %g and %g", *targetMate, *targetRecall)
	}
	kind, err := graphKind(*graphName, graph.Config{M: *graphM, EfConstruction: *efc})
	if err != nil {
		return err
	}
	efs, err := parseInts(*efList)
	if err != nil {
		return fmt.Errorf("--ef: %w", err)
	}
	rec, err := benchIndexRecognizerFor(*dim, *cache)
	if err != nil {
		return err
	}
	cfg.Recognizer = rec.name
	cfg.Threads = 1
	p, err := cfg.build()
	if err != nil {
		return err
	}
	p.EmbedRejected = true
	logf := func(format string, args ...any) {
		fmt.Fprintf(m.Stderr, "bench index: "+format+"\n", args...)
	}
	progress := func(done, total int, elapsed time.Duration) {
		logf("embedding LFW: %d/%d images", done, total)
	}
	if err := seedCache(rec.cache, *vectors, filepath.Base(filepath.Clean(*lfw)), p.Embedder.Identity()); err != nil {
		p.Close()
		return err
	}
	real, err := indexbench.LoadOrEmbed(ctx, p.Pipeline, *lfw, rec.cache, runtime.GOMAXPROCS(0), progress)
	p.Close()
	if err != nil {
		return err
	}
	scratch := *dir
	if scratch == "" {
		if scratch, err = os.MkdirTemp("", "facematch-bench-index-"); err != nil {
			return err
		}
		defer os.RemoveAll(scratch)
	}
	res, err := indexbench.Run(ctx, real, indexbench.Config{N: *n, Queries: *queries, TruthQ: *truth, SegmentSize: *segment,
		Graph: kind, Quantized: *quantized, GenuineMean: rec.genuineMean, M: *graphM, EfConstruction: *efc, Ef: efs, TargetMateRecall: *targetMate, TargetRecall: *targetRecall, Hnswlib: *baseline, Reuse: *reuse, Dir: filepath.Join(scratch, "index"), Seed: 1, Log: logf})
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(m.Stdout).Encode(res)
	}
	out, _ := json.MarshalIndent(res, "", "  ")
	fmt.Fprintln(m.Stdout, string(out))
	return nil
}

// benchIndexRecognizer is what --dim selects: the recognizer, the LFW cache, and the genuine
// mean synthetic mates are calibrated to.
type benchIndexRecognizer struct {
	name, cache string
	genuineMean float64
}

func benchIndexRecognizerFor(dim int, cache string) (benchIndexRecognizer, error) {
	var r benchIndexRecognizer
	switch dim {
	case 512:
		// 0.62: LFW's genuine mean for faceplugin512, fixed so RESULTS.md's 512-d series stays comparable.
		r = benchIndexRecognizer{name: face.Faceplugin512, cache: "bench/out/lfw-embeddings.gob", genuineMean: 0.62}
	case 640:
		// 0: measured on the fused LFW embeddings (0.903; 0.909 with CFP too).
		r = benchIndexRecognizer{name: face.FusedName, cache: "bench/out/lfw-embeddings-fused.gob"}
	default:
		return r, fmt.Errorf("--dim %d: want 512 (faceplugin512) or 640 (fused)", dim)
	}
	if cache != "" {
		r.cache = cache
	}
	return r, nil
}

// seedCache fills a missing LFW cache from an `eval cluster --vectors` file's faces of set.
func seedCache(cache, vectors, set, model string) error {
	if vectors == "" {
		return nil
	}
	if _, err := os.Stat(cache); err == nil {
		return nil
	}
	r, err := indexbench.FromClusterVectors(vectors, set, model)
	if err != nil {
		return fmt.Errorf("--vectors: %w", err)
	}
	return indexbench.WriteCache(cache, r)
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ",")
}

// parseInts parses "16,32,64" (empty: nil); every value must be positive.
func parseInts(s string) ([]int, error) {
	if s == "" {
		return nil, nil
	}
	var out []int
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || v < 1 {
			return nil, fmt.Errorf("%q is not a positive integer", f)
		}
		out = append(out, v)
	}
	return out, nil
}
