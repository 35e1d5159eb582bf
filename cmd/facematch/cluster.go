package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/facematch/facematch/engine/cluster"
)

// clusterRun is one method at one setting on one set.
type clusterRun struct {
	Set     string  `json:"set"`
	Method  string  `json:"method"`
	K       int     `json:"k"`
	Line    float32 `json:"line"`
	Overlap float32 `json:"overlap,omitempty"`
	Seconds float64 `json:"seconds"`
	cluster.Scores
}

// clusterJSON is `facematch eval cluster --json`: the chosen method's scores on all the roots
// together at the top (images, faces, identities, clusters, pairwise_*, bcubed_*, nmi,
// singleton_clusters, faces_per_s are the documented keys), every run under runs.
type clusterJSON struct {
	Images   int     `json:"images"`
	Unusable int     `json:"unusable"`
	Model    string  `json:"model"`
	FacesPS  float64 `json:"faces_per_s"` // embedding and clustering, per face
	clusterRun
	Runs []clusterRun `json:"runs"`
}

// Methods compared and the settings each is tried at; the chosen one is the default.
var (
	clusterLines    = []float32{0.70, 0.74, 0.78, 0.80, 0.82, 0.84, 0.86, 0.88, 0.90}
	clusterOverlaps = []float32{0.1, 0.2, 0.3, 0.4, 0.5}
)

// runEvalCluster clusters the largest face of every photo under the roots (one folder per
// identity, photos anywhere below it) with each method over a grid of settings, and scores
// every run against the identities, on each root alone and on all of them together.
func (m *Main) runEvalCluster(ctx context.Context, args []string) error {
	fset := flag.NewFlagSet("eval cluster", flag.ContinueOnError)
	fset.SetOutput(m.Stderr)
	var cfg Config
	cfg.bindModelFlags(fset, m.Getenv)
	roots := fset.String("root", "", "comma-separated folders of identities (one folder per person, photos anywhere below)")
	ks := fset.String("k", "20,50", "neighbours per face in the graph (each tried)")
	// The chosen operating point, picked on LFW and CFP leading with precision (bench/RESULTS.md
	// "Clustering"): pairwise precision 0.996 on both.
	chosenMethod := fset.String("method", "whispers", "the chosen method reported at the top: components, whispers or shared")
	line := fset.Float64("line", 0.88, "the chosen method's edge line")
	overlap := fset.Float64("overlap", 0.2, "the chosen shared-neighbours overlap")
	chosenK := fset.Int("chosen-k", 20, "the chosen method's k")
	asJSON := fset.Bool("json", false, "print one JSON object")
	workers := fset.Int("workers", runtime.GOMAXPROCS(0), "images processed in parallel")
	if err := fset.Parse(args); err != nil {
		return errUsage
	}
	if *roots == "" || fset.NArg() > 0 {
		fmt.Fprintln(m.Stderr, "usage: facematch eval cluster --root DIR[,DIR] [--k 20,50] [--json]")
		return errUsage
	}
	var kList []int
	for _, v := range strings.Split(*ks, ",") {
		var k int
		if _, err := fmt.Sscan(strings.TrimSpace(v), &k); err != nil || k < 1 || k > 200 {
			return fmt.Errorf("k must be integers in [1, 200], got %q", v)
		}
		kList = append(kList, k)
	}
	if *chosenMethod != "components" && *chosenMethod != "whispers" && *chosenMethod != "shared" {
		return fmt.Errorf("method must be components, whispers or shared, got %q", *chosenMethod)
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	p, err := cfg.buildForEval(*workers)
	if err != nil {
		return err
	}
	defer p.Close()

	start := time.Now()
	var vectors [][]float32
	var truth, sets []string
	out := clusterJSON{Model: p.Embedder.Identity()}
	rootList := strings.Split(*roots, ",")
	for _, root := range rootList {
		files, err := photoTree(root)
		if err != nil {
			return err
		}
		embs, err := p.EmbedPrimaries(ctx, root, files, *workers, nil)
		if err != nil {
			return err
		}
		out.Images += len(files)
		set := filepath.Base(filepath.Clean(root))
		for _, e := range embs {
			if e.Embedding == nil {
				out.Unusable++
				continue
			}
			vectors = append(vectors, e.Embedding.Vector)
			truth = append(truth, set+"/"+identityOfPath(e.Path))
			sets = append(sets, set)
		}
	}
	maxK := 0
	for _, k := range kList {
		maxK = max(maxK, k)
	}
	subsets := map[string][]int{}
	var setNames []string
	for i, s := range sets {
		if _, ok := subsets[s]; !ok {
			setNames = append(setNames, s)
		}
		subsets[s] = append(subsets[s], i)
	}
	if len(setNames) > 1 {
		all := make([]int, len(sets))
		for i := range all {
			all[i] = i
		}
		subsets["all"] = all
		setNames = append(setNames, "all")
	}
	for _, set := range setNames {
		idx := subsets[set]
		vs := make([][]float32, len(idx))
		ts := make([]string, len(idx))
		for j, i := range idx {
			vs[j], ts[j] = vectors[i], truth[i]
		}
		full := cluster.KNN(vs, maxK)
		for _, k := range kList {
			g := truncate(full, k)
			try := func(method string, l, o float32, run func() []int) {
				t := time.Now()
				labels := run()
				r := clusterRun{Set: set, Method: method, K: k, Line: l, Overlap: o, Seconds: time.Since(t).Seconds(), Scores: cluster.Score(labels, ts)}
				out.Runs = append(out.Runs, r)
				if set == setNames[len(setNames)-1] && method == *chosenMethod && k == *chosenK && near32(l, float32(*line)) && (method != "shared" || near32(o, float32(*overlap))) {
					out.clusterRun = r
				}
			}
			for _, l := range clusterLines {
				try("components", l, 0, func() []int { return cluster.Components(g, l) })
				try("whispers", l, 0, func() []int { return cluster.ChineseWhispers(g, l, 30, 1) })
				for _, o := range clusterOverlaps {
					try("shared", l, o, func() []int { return cluster.SharedNeighbours(g, l, o) })
				}
			}
		}
	}
	if len(vectors) > 0 {
		out.FacesPS = float64(len(vectors)) / time.Since(start).Seconds()
	}
	if *asJSON {
		return json.NewEncoder(m.Stdout).Encode(out)
	}
	w := m.Stdout
	fmt.Fprintf(w, "%d images, %d without a usable face; model %s\n", out.Images, out.Unusable, out.Model)
	best := map[string]clusterRun{}
	for _, r := range out.Runs {
		key := r.Set + " " + r.Method
		if b, ok := best[key]; !ok || r.BCubedF > b.BCubedF {
			best[key] = r
		}
	}
	keys := make([]string, 0, len(best))
	for k := range best {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fmt.Fprintln(w, "best BCubed F of each method on each set (the setting picked on that set):")
	for _, key := range keys {
		r := best[key]
		fmt.Fprintf(w, "  %-22s k=%-3d line %.2f overlap %.1f: BCubed F %.4f (P %.4f R %.4f), pairwise F %.4f (P %.4f R %.4f), %d clusters for %d people\n",
			key, r.K, r.Line, r.Overlap, r.BCubedF, r.BCubedPrecision, r.BCubedRecall, r.PairwiseF, r.PairwisePrecision, r.PairwiseRecall, r.Clusters, r.Identities)
	}
	c := out.clusterRun
	fmt.Fprintf(w, "chosen: %s k=%d line %.2f overlap %.1f on %s: BCubed F %.4f, pairwise precision %.4f, F %.4f\n", c.Method, c.K, c.Line, c.Overlap, c.Set, c.BCubedF, c.PairwisePrecision, c.PairwiseF)
	return nil
}

func near32(a, b float32) bool { return a-b < 1e-6 && b-a < 1e-6 }

// truncate keeps each node's k nearest neighbours of g.
func truncate(g cluster.Graph, k int) cluster.Graph {
	adj := make([][]cluster.Edge, len(g.Adj))
	for i, es := range g.Adj {
		adj[i] = es[:min(k, len(es))]
	}
	return cluster.Graph{Adj: adj}
}

// photoTree lists the photos under root as identity/.../file paths, sorted.
func photoTree(root string) ([]string, error) {
	var files []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.HasPrefix(d.Name(), ".") && path != root {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		if d.Type().IsRegular() && strings.Contains(rel, string(filepath.Separator)) && isPhotoName(d.Name()) {
			files = append(files, rel)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s holds no identity folders with photos", root)
	}
	sort.Strings(files)
	return files, nil
}

func isPhotoName(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp":
		return true
	}
	return false
}

// identityOfPath is a relative path's first element: its identity folder.
func identityOfPath(path string) string {
	path = filepath.ToSlash(path)
	if i := strings.IndexByte(path, '/'); i >= 0 {
		return path[:i]
	}
	return path
}
