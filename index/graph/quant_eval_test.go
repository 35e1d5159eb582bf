package graph

// The measurement behind quantized traversal (issue 17; notes: qtraverse.md): one HNSW built on
// float32 over face-shaped vectors (bench/synth fitted to real embeddings), searched by the
// float32 walk and by the walk on codes with several rescoring depths, on one core.
//
//	FACEMATCH_QTRAVERSE_EVAL=lfw-embeddings.gob,lfwcfp.vec go test -run TestQuantizedEval -v -timeout 30m ./index/graph/
//
// Each file is `bench index`'s LFW embedding cache (512-d) or `eval cluster`'s --vectors file
// (640-d, fused), named absolutely or relative to the package directory. FACEMATCH_QTRAVERSE_N
// and _Q change the gallery size and the number of queries (100,000 and 500), _EF the ef sweep,
// _SPREAD synth's PhotoSpread (0: every photo alike; 0.35 makes some mates hard).

import (
	"context"
	"encoding/binary"
	"encoding/gob"
	"fmt"
	"math"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/facematch/facematch/bench/synth"
)

func TestQuantizedEval(t *testing.T) {
	files := os.Getenv("FACEMATCH_QTRAVERSE_EVAL")
	if files == "" {
		t.Skip("FACEMATCH_QTRAVERSE_EVAL names no embedding files")
	}
	n, nq := evalEnvInt("FACEMATCH_QTRAVERSE_N", 100_000), evalEnvInt("FACEMATCH_QTRAVERSE_Q", 500)
	efs := []int{32, 64, 128, 256, 512}
	if s := os.Getenv("FACEMATCH_QTRAVERSE_EF"); s != "" {
		efs = nil
		for _, f := range strings.Split(s, ",") {
			v, err := strconv.Atoi(f)
			if err != nil || v < 1 {
				t.Fatalf("FACEMATCH_QTRAVERSE_EF: %q", f)
			}
			efs = append(efs, v)
		}
	}
	for _, path := range strings.Split(files, ",") {
		vs, labels, err := evalEmbeddings(path)
		if err != nil {
			t.Fatal(err)
		}
		m, err := synth.Fit(vs, labels)
		if err != nil {
			t.Fatal(err)
		}
		if v, err := strconv.ParseFloat(os.Getenv("FACEMATCH_QTRAVERSE_SPREAD"), 64); err == nil {
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
		t.Log("\n" + quantizedEval(t, s, efs))
	}
}

// quantizedEval builds the graph and sweeps ef for each method; it returns the table.
func quantizedEval(t *testing.T, s *synthSet, efs []int) string {
	dim, n, nq := s.dim, len(s.vectors)/s.dim, len(s.mates)
	var b strings.Builder
	start := time.Now()
	gt := evalTruth(s, 10)
	exactMates := 0
	for i, ids := range gt {
		if slices.Contains(ids, s.mates[i][0]) || slices.Contains(ids, s.mates[i][1]) {
			exactMates++
		}
	}
	fmt.Fprintf(&b, "n %d, dim %d, %d queries; exact search: mate recall %.4f (truth in %v)\n", n, dim, nq,
		float64(exactMates)/float64(nq), time.Since(start).Round(time.Millisecond))

	start = time.Now()
	h, err := Build(context.Background(), s.vectors, dim, Config{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	built := time.Since(start)
	q, err := NewQuantizer(dim)
	if err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	qg, err := Quantize(h, q, QuantConfig{})
	if err != nil {
		t.Fatal(err)
	}
	encoded := time.Since(start)
	graphB := float64(h.GraphBytes()) / float64(n)
	codeB := float64(qg.CodeBytes()) / float64(n)
	fmt.Fprintf(&b, "build %v (%.0f vectors/s, 2 cores), encode %v (%.1f µs/vector, 1 core)\n", built.Round(time.Millisecond),
		float64(n)/built.Seconds(), encoded.Round(time.Millisecond), float64(encoded.Microseconds())/float64(n))
	fmt.Fprintf(&b, "bytes/vector: float32 %d + graph %.1f = %.1f; quantized adds codes %.1f = %.1f (%.1f once the float32 vectors leave memory)\n",
		4*dim, graphB, float64(4*dim)+graphB, codeB, float64(4*dim)+graphB+codeB, graphB+codeB)

	type method struct {
		name string
		g    Graph
	}
	methods := []method{{"float32", h}}
	for _, r := range []int{10, 50, 100, maxEf} {
		g, err := Quantize(h, q, QuantConfig{Rescore: r})
		if err != nil {
			t.Fatal(err)
		}
		name := "quant rescore " + strconv.Itoa(r)
		if r == maxEf {
			name = "quant rescore ef"
		}
		methods = append(methods, method{name, g})
	}
	start = time.Now()
	onCodes, err := BuildQuantized(context.Background(), s.vectors, dim, Config{Seed: 1}, q, QuantConfig{})
	if err != nil {
		t.Fatal(err)
	}
	builtOnCodes := time.Since(start)
	fmt.Fprintf(&b, "built on codes (BuildQuantized, encoding included): %v (%.0f vectors/s, 2 cores)\n",
		builtOnCodes.Round(time.Millisecond), float64(n)/builtOnCodes.Seconds())
	methods = append(methods, method{"codes-built r100", onCodes})
	prev := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(prev)
	fmt.Fprintf(&b, "%5s  %-18s %9s %8s %8s %8s %8s\n", "ef", "method", "recall@10", "mate", "QPS", "p50 ms", "p99 ms")
	for _, ef := range efs {
		for _, m := range methods {
			lat := make([]time.Duration, nq)
			var hit, mates int
			runtime.GC()
			t0 := time.Now()
			for i := range nq {
				qs := time.Now()
				res, err := m.g.Search(s.queries[i*dim:(i+1)*dim], 10, ef)
				lat[i] = time.Since(qs)
				if err != nil {
					t.Fatal(err)
				}
				found := false
				for _, nb := range res {
					hit += b2i(slices.Contains(gt[i], nb.ID))
					found = found || nb.ID == s.mates[i][0] || nb.ID == s.mates[i][1]
				}
				mates += b2i(found)
			}
			el := time.Since(t0)
			slices.Sort(lat)
			fmt.Fprintf(&b, "%5d  %-18s %9.4f %8.4f %8.0f %8.3f %8.3f\n", ef, m.name, float64(hit)/float64(10*nq),
				float64(mates)/float64(nq), float64(nq)/el.Seconds(), ms(lat[nq/2]), ms(lat[nq*99/100]))
		}
	}
	var qq = &searchCtx{}
	t0 := time.Now()
	for i := range nq {
		if err := q.Prepare(&qq.query, s.queries[i*dim:(i+1)*dim]); err != nil {
			t.Fatal(err)
		}
	}
	fmt.Fprintf(&b, "query preparation (rotate, quantize): %.1f µs\n", float64(time.Since(t0).Microseconds())/float64(nq))
	return b.String()
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// evalTruth is the exact top k of every query, on every core.
func evalTruth(s *synthSet, k int) [][]uint32 {
	nq := len(s.mates)
	gt := make([][]uint32, nq)
	done := make(chan struct{})
	workers := runtime.GOMAXPROCS(0)
	for w := range workers {
		go func() {
			for i := w; i < nq; i += workers {
				gt[i] = exact(s.vectors, s.dim, s.queries[i*s.dim:(i+1)*s.dim], k)
			}
			done <- struct{}{}
		}()
	}
	for range workers {
		<-done
	}
	return gt
}

func evalEnvInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// evalEmbeddings reads either file kind named at the top of this file (as index/quant's
// measurement does).
func evalEmbeddings(path string) ([][]float32, []string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	var cache struct {
		Labels  []string
		Vectors [][]float32
	}
	if err := gob.NewDecoder(f).Decode(&cache); err == nil && len(cache.Vectors) > 0 {
		return cache.Vectors, cache.Labels, nil
	}
	if _, err := f.Seek(0, 0); err != nil {
		return nil, nil, err
	}
	var cluster struct {
		Dim     int
		Vectors []byte
		Truth   []string
	}
	if err := gob.NewDecoder(f).Decode(&cluster); err != nil {
		return nil, nil, fmt.Errorf("%s: neither embedding cache nor cluster vectors: %w", path, err)
	}
	if cluster.Dim < 1 || len(cluster.Vectors) != 4*cluster.Dim*len(cluster.Truth) {
		return nil, nil, fmt.Errorf("%s: %d bytes of vectors for %d faces of %d dims", path, len(cluster.Vectors), len(cluster.Truth), cluster.Dim)
	}
	vs := make([][]float32, len(cluster.Truth))
	for i := range vs {
		v := make([]float32, cluster.Dim)
		for j := range v {
			v[j] = math.Float32frombits(binary.LittleEndian.Uint32(cluster.Vectors[4*(i*cluster.Dim+j):]))
		}
		vs[i] = v
	}
	return vs, cluster.Truth, nil
}
