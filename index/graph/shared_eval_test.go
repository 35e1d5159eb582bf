package graph

// The measurement behind the shared bound and ef by graph size (issue 17; notes: qsearch.md):
// a face-shaped gallery (bench/synth fitted to real embeddings, as quant_eval_test.go) split into
// equal graphs searched as the index searches its segments, one query at a time on one core,
// with and without the shared bound, and the same gallery in one graph.
//
//	FACEMATCH_QSEARCH_EVAL=lfw-embeddings.gob go test -run TestSharedBoundEval -v -timeout 60m ./index/graph/
//
// FACEMATCH_QSEARCH_N, _Q, _PARTS set the gallery size, the queries and the graphs (200,000,
// 500, 10); _EF the per-part ef sweep, _MERGED_EF the single graph's (empty: no single graph);
// _MARGINS the bound margins tried, _SPREAD synth's PhotoSpread (0.35 makes some mates hard, as
// `bench index` draws them). Times are the searching thread's CPU time, so that a machine shared
// with other work inflates them less.

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/facematch/facematch/bench/synth"
	"github.com/facematch/facematch/index/quant"
)

func TestSharedBoundEval(t *testing.T) {
	path := os.Getenv("FACEMATCH_QSEARCH_EVAL")
	if path == "" {
		t.Skip("FACEMATCH_QSEARCH_EVAL names no embedding file")
	}
	n, nq := evalEnvInt("FACEMATCH_QSEARCH_N", 200_000), evalEnvInt("FACEMATCH_QSEARCH_Q", 500)
	parts := evalEnvInt("FACEMATCH_QSEARCH_PARTS", 10)
	efs := evalEnvInts(t, "FACEMATCH_QSEARCH_EF", "64,128,256")
	mergedEfs := evalEnvInts(t, "FACEMATCH_QSEARCH_MERGED_EF", "")
	var margins []float32
	for _, m := range strings.Split(envOr("FACEMATCH_QSEARCH_MARGINS", "0.05,0.1,0.2"), ",") {
		v, err := strconv.ParseFloat(m, 32)
		if err != nil {
			t.Fatalf("FACEMATCH_QSEARCH_MARGINS: %q", m)
		}
		margins = append(margins, float32(v))
	}
	s := evalSynth(t, path, n, nq)
	gt := evalTruth(s, 10)
	start := time.Now()
	sg := newSegmented(t, s, parts)
	t.Logf("%d graphs of %d built in %v", parts, sg.per, time.Since(start).Round(time.Second))

	prev := runtime.GOMAXPROCS(1)
	t.Logf("\n%5s  %-22s %9s %8s %8s %8s %8s %8s (CPU time of the searching thread)", "ef", "walk", "recall@10", "mate", "QPS", "mean ms", "p50 ms", "p99 ms")
	var qq quant.Query
	for _, ef := range efs {
		row := func(name string, search func(query []float32) []Neighbor) {
			t.Log(evalRow(s, gt, ef, name, search))
		}
		row("parts, prepare each", func(query []float32) []Neighbor {
			var all []Neighbor
			for p, g := range sg.parts {
				res, err := g.Search(query, 10, ef)
				if err != nil {
					t.Fatal(err)
				}
				for _, nb := range res {
					all = append(all, Neighbor{ID: uint32(p*sg.per) + nb.ID, Similarity: nb.Similarity})
				}
			}
			slices.SortFunc(all, func(a, b Neighbor) int { return cmpSim(b.Similarity, a.Similarity) })
			return all[:min(10, len(all))]
		})
		row("parts, prepared once", func(query []float32) []Neighbor { return sg.search(t, &qq, query, 10, ef, false) })
		for _, m := range margins {
			walkMargin = m
			row(fmt.Sprintf("parts, bound %.2f", m), func(query []float32) []Neighbor { return sg.search(t, &qq, query, 10, ef, true) })
		}
		walkMargin = BoundMargin
	}
	runtime.GOMAXPROCS(prev)
	if len(mergedEfs) == 0 {
		return
	}
	start = time.Now()
	h, err := Build(context.Background(), s.vectors, s.dim, Config{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	g, err := Quantize(h, sg.q, QuantConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("one graph of %d built in %v", n, time.Since(start).Round(time.Second))
	runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(prev)
	for _, ef := range mergedEfs {
		t.Log(evalRow(s, gt, ef, "one graph", func(query []float32) []Neighbor {
			res, err := g.Search(query, 10, ef)
			if err != nil {
				t.Fatal(err)
			}
			return res
		}))
	}
}

// evalRow runs every query through search and formats recall@10, mate recall and latency.
func evalRow(s *synthSet, gt [][]uint32, ef int, name string, search func(query []float32) []Neighbor) string {
	nq, dim := len(s.mates), s.dim
	lat := make([]time.Duration, nq)
	var hit, mates int
	runtime.GC()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	t0 := threadCPU()
	for i := range nq {
		qs := threadCPU()
		res := search(s.queries[i*dim : (i+1)*dim])
		lat[i] = threadCPU() - qs
		found := false
		for _, nb := range res {
			hit += b2i(slices.Contains(gt[i], nb.ID))
			found = found || nb.ID == s.mates[i][0] || nb.ID == s.mates[i][1]
		}
		mates += b2i(found)
	}
	el := threadCPU() - t0
	slices.Sort(lat)
	return fmt.Sprintf("%5d  %-22s %9.4f %8.4f %8.0f %8.3f %8.3f %8.3f", ef, name, float64(hit)/float64(10*nq),
		float64(mates)/float64(nq), float64(nq)/el.Seconds(), ms(el)/float64(nq), ms(lat[nq/2]), ms(lat[nq*99/100]))
}

// evalSynth draws a gallery of n photos (two per identity) and nq mated queries from synth
// fitted to the embeddings in path, as TestQuantizedEval does.
func evalSynth(t *testing.T, path string, n, nq int) *synthSet {
	vs, labels, err := evalEmbeddings(path)
	if err != nil {
		t.Fatal(err)
	}
	m, err := synth.Fit(vs, labels)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := strconv.ParseFloat(os.Getenv("FACEMATCH_QSEARCH_SPREAD"), 64); err == nil {
		m.PhotoSpread = v
	}
	st := m.Calibrate(synth.GenuineMean(vs, labels))
	s := &synthSet{dim: m.Dim, vectors: make([]float32, n/2*2*m.Dim), queries: make([]float32, nq*m.Dim)}
	sizes := make([]int, n/2)
	for i := range sizes {
		sizes[i] = 2
	}
	m.Generate(s.vectors, sizes, 1, runtime.GOMAXPROCS(0))
	for j := range nq {
		id := (j*7919 + 13) % (n / 2)
		m.SampleOf(1, id, uint64(j), s.queries[j*m.Dim:(j+1)*m.Dim])
		s.mates = append(s.mates, [2]uint32{uint32(2 * id), uint32(2*id + 1)})
	}
	t.Logf("%s: %d-d, photo spread %g: synthetic genuine %.3f, impostor %.3f ± %.3f", path, m.Dim, m.PhotoSpread, st.GenuineMean, st.ImpostorMean, st.ImpostorStd)
	return s
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func evalEnvInts(t *testing.T, name, def string) []int {
	var out []int
	for _, f := range strings.Split(envOr(name, def), ",") {
		if f == "" {
			continue
		}
		v, err := strconv.Atoi(f)
		if err != nil || v < 1 {
			t.Fatalf("%s: %q", name, f)
		}
		out = append(out, v)
	}
	return out
}
