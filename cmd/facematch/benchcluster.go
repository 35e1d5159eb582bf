package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"runtime"
	"strings"
	"time"

	"github.com/facematch/facematch/bench/clusterbench"
	"github.com/facematch/facematch/bench/indexbench"
	"github.com/facematch/facematch/bench/synth"
	"github.com/facematch/facematch/face"
)

// runBenchCluster is `facematch bench cluster`: face clustering at 100,000 and 1,000,000
// synthetic faces (bench/clusterbench).
func (m *Main) runBenchCluster(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bench cluster", flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	var cfg Config
	cfg.bindModelFlags(fs, m.Getenv)
	n := fs.Int("n", 100_000, "faces")
	k := fs.Int("k", 20, "neighbours per face")
	line := fs.Float64("line", 0, fmt.Sprintf("edge line on Faceplugin512's similarity (default %.3f: the service's %.2f on the fused score, carried over by the calibrations)",
		clusterbench.EquivalentLine(clusterbench.ServiceLine), clusterbench.ServiceLine))
	rounds := fs.Int("rounds", 30, "Chinese Whispers rounds")
	graphM := fs.Int("m", 16, "HNSW M (the base layer keeps 2M)")
	efc := fs.Int("efc", 200, "HNSW efConstruction")
	ef := fs.Int("ef", 64, "search breadth of the search graph and of incremental assignment")
	graphs := fs.String("graphs", "search,base", "k-nearest-neighbour graphs to build, in order: search (at --ef; search:128 at 128), base, exact (quadratic)")
	sample := fs.Int("sample", 1000, "faces whose neighbours are checked against exact search")
	assign := fs.Int("assign", 1000, "new faces assigned incrementally (0: none)")
	lfw := fs.String("lfw", "../shared/data/lfw", "LFW photos: the synthetic distribution is fitted to their embeddings")
	cache := fs.String("cache", "bench/out/lfw-embeddings.gob", "cache of the LFW embeddings (shared with bench index)")
	asJSON := fs.Bool("json", false, "print one JSON object")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if *n < 1000 || *k < 1 || *sample < 1 || *assign < 0 {
		return fmt.Errorf("n must be >= 1000, k and sample >= 1, assign >= 0")
	}
	// Like bench index: 512-d vectors shaped like the default recognizer's single model.
	if cfg.Recognizer == face.FusedName {
		cfg.Recognizer = face.Faceplugin512
	}
	cfg.Threads = 1
	p, err := cfg.build()
	if err != nil {
		return err
	}
	p.EmbedRejected = true
	logf := func(format string, args ...any) {
		fmt.Fprintf(m.Stderr, "bench cluster: %s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
	}
	progress := func(done, total int, elapsed time.Duration) {
		logf("embedding LFW: %d/%d images", done, total)
	}
	real, err := indexbench.LoadOrEmbed(ctx, p.Pipeline, *lfw, *cache, runtime.GOMAXPROCS(0), progress)
	p.Close()
	if err != nil {
		return err
	}
	model, err := synth.Fit(real.Vectors, real.Labels)
	if err != nil {
		return err
	}
	model.PhotoSpread = clusterbench.PhotoSpread
	stats := model.Calibrate(clusterbench.GenuineMean)
	logf("synthetic model: genuine %.3f (10th-90th percentile %.3f-%.3f), impostor %.3f ± %.3f", stats.GenuineMean,
		stats.GenuineP10, stats.GenuineP90, stats.ImpostorMean, stats.ImpostorStd)
	res, err := clusterbench.Run(ctx, model, stats, clusterbench.Config{N: *n, K: *k, Line: float32(*line), Rounds: *rounds,
		M: *graphM, EfConstruction: *efc, Ef: *ef, Graphs: strings.Split(*graphs, ","), Sample: *sample, Assign: *assign,
		Seed: 1, Log: logf})
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
