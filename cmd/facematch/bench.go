package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/facematch/facematch/bench/indexbench"
	"github.com/facematch/facematch/models"
)

func (m *Main) runBenchIndex(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bench index", flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	var cfg Config
	cfg.bindModelFlags(fs, m.Getenv)
	n := fs.Int("n", 100_000, "gallery size")
	queries := fs.Int("queries", 1000, "synthetic mated queries")
	truth := fs.Int("truth", 300, "queries checked against exact search")
	segment := fs.Int("segment", 100_000, "index segment size")
	graphName := fs.String("graph", "hnsw", "graph for sealed segments: "+graphNames())
	lfw := fs.String("lfw", "../shared/data/lfw", "LFW photos: the synthetic distribution is fitted to their embeddings")
	cache := fs.String("cache", "bench/out/lfw-embeddings.gob", "cache of the LFW embeddings")
	dir := fs.String("dir", "", "scratch directory (default: a new temporary directory, removed afterwards)")
	asJSON := fs.Bool("json", false, "print one JSON object")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if *n < 1000 || *queries < 1 {
		return fmt.Errorf("n must be >= 1000 and queries >= 1")
	}
	graph, err := graphKind(*graphName)
	if err != nil {
		return err
	}
	// The index benchmark is about 512-d vectors: the default recognizer's single model.
	if cfg.Recognizer == models.FusedName {
		cfg.Recognizer = models.Faceplugin512
	}
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
	real, err := indexbench.LoadOrEmbed(ctx, p.Pipeline, *lfw, *cache, runtime.GOMAXPROCS(0), progress)
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
		Graph: graph, Dir: filepath.Join(scratch, "index"), Seed: 1, Log: logf})
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
