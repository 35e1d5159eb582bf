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
	"github.com/facematch/facematch/bench/scalebench"
)

// benchScaleHelp is printed with the flags: the runs issue 17 asks for.
const benchScaleHelp = `usage: facematch bench scale --data-dir DIR --n N [flags]

Search latency through the REST API at N enrolled faces: prepares DIR once (real LFW photos
enrolled through the API, N synthetic face-shaped vectors stored through the catalog, indexed by
the service itself at its next start), then starts facematch serve on it and times real photo
searches one after another. Later runs on DIR only measure. Compare two N; the difference is the
index's share. Issue 17's run (1M; the build needs hours on 2 cores and ~6 GiB of memory):

  go build -o bin/facematch ./cmd/facematch
  bin/facematch bench scale --bin bin/facematch --data-dir bench/out/scale-1m --n 1000000 \
    --vectors ../notes/lfwcfp.vec --json > bench/out/scale-1m.json
  bin/facematch bench scale --bin bin/facematch --data-dir bench/out/scale-0 --n 0 --json > bench/out/scale-0.json

flags:
`

// runBenchScale is `facematch bench scale`.
func (m *Main) runBenchScale(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bench scale", flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	fs.Usage = func() {
		fmt.Fprint(m.Stderr, benchScaleHelp)
		fs.PrintDefaults()
	}
	n := fs.Int("n", 20_000, "synthetic faces in the collection (0: only the real ones)")
	dataDir := fs.String("data-dir", "", "data directory: prepared on the first run (must be empty or absent), reused after")
	bin := fs.String("bin", "", "the facematch binary to serve with (default: this one)")
	photos := fs.String("photos", "../shared/data/lfw", "LFW photos: persons enrolled and searched, and the synthetic distribution's source")
	people := fs.Int("people", 100, "LFW persons enrolled (first photo) and searched (second photo)")
	searches := fs.Int("searches", 200, "timed searches, one after another")
	cache := fs.String("cache", "bench/out/lfw-embeddings-fused.gob", "cache of the LFW embeddings of the service's model (as bench index --dim 640)")
	vectors := fs.String("vectors", "", "an `eval cluster --vectors` file of the service's model: fills a missing --cache")
	budget := fs.String("memory-budget", "", "the service's --memory-budget (default its own)")
	readyTimeout := fs.Duration("ready-timeout", 4*time.Hour, "how long the service may take to start (at 1M it builds the index)")
	asJSON := fs.Bool("json", false, "print one JSON object")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if *dataDir == "" || *n < 0 || *people < 1 || *searches < 1 {
		fs.Usage()
		return errUsage
	}
	if *bin == "" {
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		*bin = exe
	}
	logf := func(format string, args ...any) { fmt.Fprintf(m.Stderr, "bench scale: "+format+"\n", args...) }
	real, err := m.serviceEmbeddings(ctx, *photos, *cache, *vectors, logf)
	if err != nil {
		return err
	}
	abs, err := filepath.Abs(*dataDir)
	if err != nil {
		return err
	}
	var env []string
	if a := m.Getenv("FACEMATCH_ASSETS"); a != "" {
		env = append(env, "FACEMATCH_ASSETS="+a)
	}
	res, err := scalebench.Run(ctx, scalebench.Config{Bin: *bin, Env: env, DataDir: abs, MemoryBudget: *budget, N: *n, People: *people,
		Searches: *searches, Photos: *photos, Real: real, ReadyTimeout: *readyTimeout, Log: logf})
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

// serviceEmbeddings are the LFW embeddings of the model the service runs by default (its
// environment applies to both), from the cache, a cluster vectors file, or embedded once.
func (m *Main) serviceEmbeddings(ctx context.Context, photos, cache, vectors string, logf func(string, ...any)) (*indexbench.RealEmbeddings, error) {
	var cfg Config
	defaults := flag.NewFlagSet("", flag.ContinueOnError)
	cfg.bindModelFlags(defaults, m.Getenv)
	if err := defaults.Parse(nil); err != nil {
		return nil, err
	}
	cfg.Threads = 1
	p, err := cfg.build()
	if err != nil {
		return nil, err
	}
	defer p.Close()
	p.EmbedRejected = true
	if err := seedCache(cache, vectors, filepath.Base(filepath.Clean(photos)), p.Embedder.Identity()); err != nil {
		return nil, err
	}
	progress := func(done, total int, _ time.Duration) { logf("embedding LFW: %d/%d images", done, total) }
	return indexbench.LoadOrEmbed(ctx, p.Pipeline, photos, cache, runtime.GOMAXPROCS(0), progress)
}
