package quant

// The measurement behind the package's choices: on face-shaped vectors (bench/synth, fitted to
// real embeddings), how far each code's estimated similarity is from the exact one, and what
// recall brute-force ranking by the estimate keeps after rescoring its best candidates with the
// float32 originals.
//
//	FACEMATCH_QUANT_EVAL=lfw-embeddings.gob,lfwcfp.vec go test -run TestEval -v ./index/quant/
//
// (go test runs in the package directory: name the files absolutely or relative to it). Each
// file is either `bench index`'s LFW embedding cache (512-d) or `eval cluster`'s
// --vectors file (640-d with the fused recognizer); FACEMATCH_QUANT_EVAL_N and _Q change the
// gallery size and the number of queries (100,000 and 500), and FACEMATCH_QUANT_EVAL_SPREAD
// sets synth's PhotoSpread (0: every photo alike; clustering's benchmark uses 0.35), which
// makes some mates hard to find. TestEvalSmall runs the same code on a toy distribution in the
// quick tier.

import (
	"container/heap"
	"encoding/binary"
	"encoding/gob"
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/facematch/facematch/bench/synth"
)

// evalSet is a gallery of unit vectors, two per identity (2i and 2i+1), and queries that are a
// third photo of one of them.
type evalSet struct {
	dim     int
	n       int
	gallery []float32
	queries [][]float32
	mates   [][2]int
}

func makeEvalSet(m *synth.Model, n, nq int, seed uint64) *evalSet {
	n &^= 1
	sizes := make([]int, n/2)
	for i := range sizes {
		sizes[i] = 2
	}
	s := &evalSet{dim: m.Dim, n: n, gallery: make([]float32, n*m.Dim)}
	m.Generate(s.gallery, sizes, seed, runtime.GOMAXPROCS(0))
	r := rand.New(rand.NewPCG(seed, 99))
	for j := range nq {
		id := r.IntN(n / 2)
		v := make([]float32, m.Dim)
		m.SampleOf(seed, id, uint64(j), v)
		s.queries = append(s.queries, v)
		s.mates = append(s.mates, [2]int{2 * id, 2*id + 1})
	}
	return s
}

func (s *evalSet) vector(i int) []float32 { return s.gallery[i*s.dim : (i+1)*s.dim] }

// evalMethod estimates a query's similarity to every gallery vector.
type evalMethod struct {
	name  string
	bytes int // per vector, as stored
	// prepare returns the scorer of one query; scorers of different queries run concurrently.
	prepare func(query []float32) func(out []float32)
}

// codesMethod encodes the gallery under cfg with the given levels and rule (and, when pad is
// above the dimension, zero-padded to pad), and scores with the int8 or the float query.
func codesMethod(t testing.TB, s *evalSet, name string, cfg Config, levels int, encodeWith func(dst []uint8, y []float32) Params, float bool) evalMethod {
	q := mustNew(t, cfg)
	c := &Codes{q: q, params: make([]Params, s.n), data: make([]uint8, s.n*cfg.Dim)}
	y := make([]float32, cfg.Dim)
	for i := range s.n {
		clear(y)
		copy(y, s.vector(i))
		q.transform(y, y)
		c.params[i] = encodeWith(c.data[i*cfg.Dim:(i+1)*cfg.Dim], y)
	}
	bytesPer := cfg.Dim + paramsSize
	if levels == 15 {
		bytesPer = (cfg.Dim+1)/2 + paramsSize
	}
	return evalMethod{name: name, bytes: bytesPer, prepare: func(query []float32) func([]float32) {
		padded := make([]float32, cfg.Dim)
		copy(padded, query)
		var qq Query
		if err := q.Prepare(&qq, padded); err != nil {
			t.Fatal(err)
		}
		return func(out []float32) {
			for i := range out {
				code, p := c.Code(i)
				if float {
					out[i] = qq.SimilarityFloat(code, p)
				} else {
					out[i] = qq.Similarity(code, p)
				}
			}
		}
	}}
}

// clippedEncoder quantizes with the range cut to the best of a few fractions of min..max (by
// squared error, after the least-squares refit): what 4 bits would need, measured here.
func clippedEncoder(levels int) func([]uint8, []float32) Params {
	return func(dst []uint8, y []float32) Params {
		lo, hi := slices.Min(y), slices.Max(y)
		mid, half := (lo+hi)/2, (hi-lo)/2
		tmp := make([]uint8, len(dst))
		best := math.Inf(1)
		var bestP Params
		for _, f := range []float32{1, 0.9, 0.8, 0.7, 0.6, 0.5} {
			l, h := mid-f*half, mid+f*half
			if h == l {
				clear(dst)
				return Params{Offset: l}
			}
			scale := (h - l) / float32(levels)
			var sum uint32
			for i, x := range y {
				c := uint8(min(float32(levels), max(0, (x-l)/scale+0.5)))
				tmp[i] = c
				sum += uint32(c)
			}
			p := Params{Scale: scale, Offset: l, Sum: sum}
			p.Scale, p.Offset = refit(tmp, y, p)
			var sse float64
			for i, x := range y {
				d := float64(x - p.Offset - p.Scale*float32(tmp[i]))
				sse += d * d
			}
			if sse < best {
				best, bestP = sse, p
				copy(dst, tmp)
			}
		}
		return bestP
	}
}

func ruleEncoder(levels int, rule encodeRule) func([]uint8, []float32) Params {
	return func(dst []uint8, y []float32) Params { return encode(dst, y, levels, rule) }
}

// evalMethods are the codes compared at s's dimension.
func evalMethods(t testing.TB, s *evalSet) []evalMethod {
	rot := Config{Kind: Rotated8, Dim: s.dim, Seed: 17}
	plain := Config{Kind: Plain8, Dim: s.dim}
	ms := []evalMethod{
		codesMethod(t, s, "rotated8 (default)", rot, 255, ruleEncoder(255, ruleLSQ), false),
		codesMethod(t, s, "rotated8 float query", rot, 255, ruleEncoder(255, ruleLSQ), true),
		codesMethod(t, s, "rotated8 min/max", rot, 255, ruleEncoder(255, ruleMinMax), false),
		codesMethod(t, s, "plain8", plain, 255, ruleEncoder(255, ruleLSQ), false),
		codesMethod(t, s, "plain8 min/max", plain, 255, ruleEncoder(255, ruleMinMax), false),
	}
	if pow := 1 << bits.Len(uint(s.dim-1)); pow != s.dim {
		ms = append(ms, codesMethod(t, s, fmt.Sprintf("rotated8 padded to %d", pow), Config{Kind: Rotated8, Dim: pow, Seed: 17}, 255, ruleEncoder(255, ruleLSQ), false))
	}
	return append(ms,
		codesMethod(t, s, "rotated4", rot, 15, ruleEncoder(15, ruleLSQ), false),
		codesMethod(t, s, "rotated4 clipped", rot, 15, clippedEncoder(15), false),
		codesMethod(t, s, "plain4 clipped", plain, 15, clippedEncoder(15), false),
	)
}

// histogram of absolute errors in steps of 1e-5 up to 0.1 (beyond: the last bin).
type histogram struct {
	bins  []uint64
	sum   float64
	count uint64
}

const histStep = 1e-5

func newHistogram() *histogram { return &histogram{bins: make([]uint64, 10001)} }

func (h *histogram) add(e float64) {
	h.bins[min(len(h.bins)-1, int(e/histStep))]++
	h.sum += e
	h.count++
}

func (h *histogram) merge(o *histogram) {
	for i, b := range o.bins {
		h.bins[i] += b
	}
	h.sum += o.sum
	h.count += o.count
}

func (h *histogram) mean() float64 { return h.sum / float64(max(h.count, 1)) }

func (h *histogram) quantile(p float64) float64 {
	want := uint64(math.Ceil(p * float64(h.count)))
	var seen uint64
	for i, b := range h.bins {
		seen += b
		if seen >= want {
			return float64(i+1) * histStep
		}
	}
	return math.Inf(1)
}

// minHeap keeps the k best (index, score) pairs seen.
type scored struct {
	i int
	s float32
}
type minHeap []scored

func (h minHeap) Len() int           { return len(h) }
func (h minHeap) Less(i, j int) bool { return h[i].s < h[j].s }
func (h minHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *minHeap) Push(x any)        { *h = append(*h, x.(scored)) }
func (h *minHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// top returns the indices of the k highest scores, highest first.
func top(scores []float32, k int) []int {
	h := make(minHeap, 0, k+1)
	for i, s := range scores {
		if len(h) < k {
			heap.Push(&h, scored{i, s})
		} else if s > h[0].s {
			h[0] = scored{i, s}
			heap.Fix(&h, 0)
		}
	}
	slices.SortFunc(h, func(a, b scored) int {
		if a.s != b.s {
			if a.s > b.s {
				return -1
			}
			return 1
		}
		return a.i - b.i
	})
	out := make([]int, len(h))
	for j, x := range h {
		out[j] = x.i
	}
	return out
}

// rescoredTop10 reranks candidates by the exact similarity and keeps ten.
func rescoredTop10(candidates []int, exact []float32) []int {
	c := slices.Clone(candidates)
	slices.SortFunc(c, func(a, b int) int {
		if exact[a] != exact[b] {
			if exact[a] > exact[b] {
				return -1
			}
			return 1
		}
		return a - b
	})
	return c[:min(10, len(c))]
}

var rescoreDepths = []int{10, 50, 100}

// evalResult is one method's figures over all queries.
type evalResult struct {
	name        string
	bytes       int
	all, near   *histogram // errors over every pair, and over each query's exact top 100
	recall      []float64  // recall of the exact top 10 after rescoring the top rescoreDepths[j]
	mate        []float64  // fraction of mates in the final top 10, likewise
	nsPerVector float64
}

type evalReport struct {
	dim, n, queries int
	exactMate       float64 // mates in the exact top 10
	exactNs         float64
	results         []evalResult
}

// runEval scores every query against the whole gallery with every method.
func runEval(t testing.TB, s *evalSet) evalReport {
	methods := evalMethods(t, s)
	rep := evalReport{dim: s.dim, n: s.n, queries: len(s.queries)}
	res := make([]evalResult, len(methods))
	for j, m := range methods {
		res[j] = evalResult{name: m.name, bytes: m.bytes, all: newHistogram(), near: newHistogram(),
			recall: make([]float64, len(rescoreDepths)), mate: make([]float64, len(rescoreDepths))}
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	next := make(chan int)
	var exactTime time.Duration
	methodTime := make([]time.Duration, len(methods))
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			exact := make([]float32, s.n)
			est := make([]float32, s.n)
			local := make([]evalResult, len(methods))
			for j := range local {
				local[j] = evalResult{all: newHistogram(), near: newHistogram(), recall: make([]float64, len(rescoreDepths)), mate: make([]float64, len(rescoreDepths))}
			}
			var localExact time.Duration
			localTimes := make([]time.Duration, len(methods))
			var mates float64
			for qi := range next {
				query := s.queries[qi]
				start := time.Now()
				for i := range exact {
					exact[i] = DotFloat32(query, s.vector(i))
				}
				localExact += time.Since(start)
				truth := top(exact, 100)
				truth10 := truth[:10]
				for _, mt := range s.mates[qi] {
					if slices.Contains(truth10, mt) {
						mates += 0.5
					}
				}
				for j, m := range methods {
					score := m.prepare(query)
					start := time.Now()
					score(est)
					localTimes[j] += time.Since(start)
					r := &local[j]
					for i := range est {
						r.all.add(math.Abs(float64(est[i] - exact[i])))
					}
					for _, i := range truth {
						r.near.add(math.Abs(float64(est[i] - exact[i])))
					}
					cands := top(est, rescoreDepths[len(rescoreDepths)-1])
					for d, depth := range rescoreDepths {
						got := rescoredTop10(cands[:depth], exact)
						for _, i := range got {
							if slices.Contains(truth10, i) {
								r.recall[d] += 0.1
							}
						}
						for _, mt := range s.mates[qi] {
							if slices.Contains(got, mt) {
								r.mate[d] += 0.5
							}
						}
					}
				}
			}
			mu.Lock()
			defer mu.Unlock()
			rep.exactMate += mates
			exactTime += localExact
			for j := range local {
				res[j].all.merge(local[j].all)
				res[j].near.merge(local[j].near)
				for d := range rescoreDepths {
					res[j].recall[d] += local[j].recall[d]
					res[j].mate[d] += local[j].mate[d]
				}
				methodTime[j] += localTimes[j]
			}
		}()
	}
	for qi := range s.queries {
		next <- qi
	}
	close(next)
	wg.Wait()
	nq := float64(len(s.queries))
	pairs := nq * float64(s.n)
	rep.exactMate /= nq
	rep.exactNs = float64(exactTime.Nanoseconds()) / pairs
	for j := range res {
		for d := range rescoreDepths {
			res[j].recall[d] /= nq
			res[j].mate[d] /= nq
		}
		res[j].nsPerVector = float64(methodTime[j].Nanoseconds()) / pairs
	}
	rep.results = res
	return rep
}

func (r evalReport) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "dim %d, %d gallery vectors (2 per identity), %d queries (a third photo of one); exact float32: %d bytes/vector, mates in top 10 %.3f, %.1f ns/vector\n",
		r.dim, r.n, r.queries, 4*r.dim, r.exactMate, r.exactNs)
	fmt.Fprintf(&b, "%-24s %6s %10s %10s %10s %10s", "method", "bytes", "mean|err|", "p99|err|", "top100 mean", "top100 p99")
	for _, d := range rescoreDepths {
		fmt.Fprintf(&b, " %8s", fmt.Sprintf("R@10/%d", d))
	}
	for _, d := range rescoreDepths {
		fmt.Fprintf(&b, " %8s", fmt.Sprintf("mate/%d", d))
	}
	fmt.Fprintf(&b, " %6s\n", "ns/vec")
	for _, x := range r.results {
		fmt.Fprintf(&b, "%-24s %6d %10.5f %10.5f %11.5f %10.5f", x.name, x.bytes, x.all.mean(), x.all.quantile(0.99), x.near.mean(), x.near.quantile(0.99))
		for _, v := range x.recall {
			fmt.Fprintf(&b, " %8.4f", v)
		}
		for _, v := range x.mate {
			fmt.Fprintf(&b, " %8.4f", v)
		}
		fmt.Fprintf(&b, " %6.1f\n", x.nsPerVector)
	}
	return b.String()
}

// toyModel is a synth model fitted to random identities with an anisotropic spectrum: a stand-in
// for real embeddings when none are at hand (the quick tier).
func toyModel(t testing.TB, dim int) *synth.Model {
	r := rand.New(rand.NewPCG(1, 2))
	var embs [][]float32
	var labels []string
	for id := range 3 * dim {
		c := make([]float64, dim)
		for i := range c {
			c[i] = r.NormFloat64() * (1 + float64(i%4))
		}
		for range 3 {
			v := make([]float32, dim)
			for i := range v {
				v[i] = float32(c[i] + 0.8*r.NormFloat64())
			}
			embs = append(embs, normalised(v))
			labels = append(labels, strconv.Itoa(id))
		}
	}
	m, err := synth.Fit(embs, labels)
	if err != nil {
		t.Fatal(err)
	}
	m.Calibrate(0.62)
	return m
}

func normalised(v []float32) []float32 {
	var ss float64
	for _, x := range v {
		ss += float64(x) * float64(x)
	}
	for i := range v {
		v[i] = float32(float64(v[i]) / math.Sqrt(ss))
	}
	return v
}

// TestEvalSmall runs the measurement on a toy distribution and holds the default codes to the
// figures the package promises: tiny errors, and the exact top 10 after rescoring 50.
func TestEvalSmall(t *testing.T) {
	s := makeEvalSet(toyModel(t, 96), 4000, 40, 3)
	rep := runEval(t, s)
	t.Log("\n" + rep.String())
	def := rep.results[0]
	if def.all.mean() > 0.002 || def.recall[1] < 0.99 || def.mate[1] < rep.exactMate-0.02 {
		t.Errorf("rotated8: mean error %.5f, recall after rescoring 50 %.3f, mates %.3f (exact %.3f)",
			def.all.mean(), def.recall[1], def.mate[1], rep.exactMate)
	}
}

// realEmbeddings reads either file kind named in the package comment.
func realEmbeddings(path string) ([][]float32, []string, error) {
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

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// TestEval is the full measurement (see the top of this file); without FACEMATCH_QUANT_EVAL it
// is skipped.
func TestEval(t *testing.T) {
	files := os.Getenv("FACEMATCH_QUANT_EVAL")
	if files == "" {
		t.Skip("FACEMATCH_QUANT_EVAL names no embedding files")
	}
	n, nq := envInt("FACEMATCH_QUANT_EVAL_N", 100_000), envInt("FACEMATCH_QUANT_EVAL_Q", 500)
	for _, path := range strings.Split(files, ",") {
		vs, labels, err := realEmbeddings(path)
		if err != nil {
			t.Fatal(err)
		}
		m, err := synth.Fit(vs, labels)
		if err != nil {
			t.Fatal(err)
		}
		if v, err := strconv.ParseFloat(os.Getenv("FACEMATCH_QUANT_EVAL_SPREAD"), 64); err == nil {
			m.PhotoSpread = v
		}
		// The fused recognizer's genuine scores sit higher than the single model's: each set is
		// calibrated to its own level.
		genuine := synth.GenuineMean(vs, labels)
		st := m.Calibrate(genuine)
		start := time.Now()
		s := makeEvalSet(m, n, nq, 1)
		t.Logf("%d-d fitted to %d embeddings (real genuine pairs %.3f), photo spread %g: synthetic genuine %.3f (10th-90th percentile %.3f-%.3f), impostor %.3f ± %.3f; generated in %v",
			m.Dim, len(vs), genuine, m.PhotoSpread, st.GenuineMean, st.GenuineP10, st.GenuineP90, st.ImpostorMean, st.ImpostorStd, time.Since(start).Round(time.Second))
		start = time.Now()
		rep := runEval(t, s)
		t.Logf("measured in %v\n%s", time.Since(start).Round(time.Second), rep)
	}
}
