package hnswlib

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestWriteVectorsFormat(t *testing.T) {
	p := filepath.Join(t.TempDir(), "v")
	vecs := []float32{1, -2.5, 3, 0.25, 5, 6}
	if err := WriteVectors(p, 3, vecs); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 20+4*len(vecs) || string(b[:8]) != "FMVEC001" ||
		binary.LittleEndian.Uint32(b[8:]) != 3 || binary.LittleEndian.Uint64(b[12:]) != 2 {
		t.Fatalf("bad header/size: % x", b[:20])
	}
	for i, v := range vecs {
		if got := math.Float32frombits(binary.LittleEndian.Uint32(b[20+4*i:])); got != v {
			t.Fatalf("float %d = %v, want %v", i, got, v)
		}
	}
	if err := WriteVectors(p, 4, vecs); err == nil {
		t.Fatal("WriteVectors accepted 6 floats with dim 4")
	}
	if err := WriteVectors(p, 0, nil); err == nil {
		t.Fatal("WriteVectors accepted dim 0")
	}
}

func TestWriteTruthFormat(t *testing.T) {
	p := filepath.Join(t.TempDir(), "t")
	ids := [][]uint32{{7, 8}, {1 << 31, 0}, {3, 4}}
	if err := WriteTruth(p, 2, ids); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 20+4*6 || string(b[:8]) != "FMGT0001" ||
		binary.LittleEndian.Uint32(b[8:]) != 2 || binary.LittleEndian.Uint64(b[12:]) != 3 {
		t.Fatalf("bad header/size: % x", b[:20])
	}
	for q, row := range ids {
		for j, id := range row {
			if got := binary.LittleEndian.Uint32(b[20+4*(2*q+j):]); got != id {
				t.Fatalf("id [%d][%d] = %d, want %d", q, j, got, id)
			}
		}
	}
	if err := WriteTruth(p, 3, ids); err == nil {
		t.Fatal("WriteTruth accepted rows shorter than k")
	}
}

func TestExactTopK(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const dim, n, nq, k = 8, 300, 20, 5
	base, queries := randomUnit(rng, n, dim), randomUnit(rng, nq, dim)
	got := ExactTopK(dim, base, queries, k, 3)
	for q := 0; q < nq; q++ {
		// Brute force by full sort.
		all := make([]scored, n)
		for j := range all {
			all[j] = scored{dot(queries[q*dim:(q+1)*dim], base[j*dim:(j+1)*dim]), uint32(j)}
		}
		for a := 0; a < k; a++ { // selection of the k best
			for b := a + 1; b < n; b++ {
				if better(all[b], all[a]) {
					all[a], all[b] = all[b], all[a]
				}
			}
			if got[q][a] != all[a].id {
				t.Fatalf("query %d rank %d: id %d, want %d", q, a, got[q][a], all[a].id)
			}
		}
	}
}

func TestArgsDefaults(t *testing.T) {
	argv, err := Args{Base: "b", Queries: "q", Truth: "t"}.argv()
	if err != nil {
		t.Fatal(err)
	}
	want := "--base b --queries q --truth t --M 16 --efc 200 --threads 2 --ef 16,32,64,128,256 --k 10 --seed 100"
	if got := strings.Join(argv, " "); got != want {
		t.Fatalf("argv = %q\nwant   %q", got, want)
	}
	if _, err := (Args{Base: "b", Queries: "q", Truth: "t", SaveIndex: "s", LoadIndex: "l"}).argv(); err == nil {
		t.Fatal("argv accepted both SaveIndex and LoadIndex")
	}
	if _, err := (Args{Base: "b"}).argv(); err == nil {
		t.Fatal("argv accepted missing Queries/Truth")
	}
}

// TestHnswlib compiles the baseline and runs it on 2,000 random unit 64-d vectors. It needs
// g++ and libhnswlib-dev: without them it fails (run bench/hnswlib/install) rather than skips,
// so that a benchmark machine missing them is noticed. -short skips it.
func TestHnswlib(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the hnswlib build and run")
	}
	if _, err := exec.LookPath("g++"); err != nil {
		t.Fatalf("g++ not found: run bench/hnswlib/install (%v)", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bin, err := Build(ctx)
	if errors.Is(err, ErrNotInstalled) {
		t.Fatalf("hnswlib headers missing: run bench/hnswlib/install (as root): %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	// A second Build with the same source must reuse the binary, not recompile it.
	st1, err := os.Stat(bin)
	if err != nil {
		t.Fatal(err)
	}
	bin2, err := Build(ctx)
	if err != nil || bin2 != bin {
		t.Fatalf("second Build: %q, %v", bin2, err)
	}
	if st2, err := os.Stat(bin); err != nil || !st2.ModTime().Equal(st1.ModTime()) {
		t.Fatalf("second Build recompiled the binary (%v)", err)
	}

	rng := rand.New(rand.NewPCG(42, 7))
	const dim, n, nq, k = 64, 2000, 50, 10
	base := randomUnit(rng, n, dim)
	// Queries are noisy copies of random base vectors, so each has a known true mate.
	queries := make([]float32, nq*dim)
	mates := make([][]uint32, nq)
	for q := 0; q < nq; q++ {
		m := rng.IntN(n)
		// The last 10 queries have no mate: they must be left out of mate recall, which could
		// otherwise not exceed 0.8.
		mates[q] = []uint32{uint32(m), NoMate}
		if q >= nq-10 {
			mates[q] = []uint32{NoMate, NoMate}
		}
		for d := 0; d < dim; d++ {
			queries[q*dim+d] = base[m*dim+d] + 0.08*float32(rng.NormFloat64())
		}
		normalize(queries[q*dim : (q+1)*dim])
	}
	truth := ExactTopK(dim, base, queries, k, 0)

	dir := t.TempDir()
	files := map[string]string{}
	for _, name := range []string{"base", "queries", "truth", "mates"} {
		files[name] = filepath.Join(dir, name)
	}
	for _, err := range []error{
		WriteVectors(files["base"], dim, base),
		WriteVectors(files["queries"], dim, queries),
		WriteTruth(files["truth"], k, truth[:30]), // recall over the first 30 queries only
		WriteTruth(files["mates"], 2, mates),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	var stderr bytes.Buffer
	res, err := Run(ctx, bin, Args{
		Base: files["base"], Queries: files["queries"], Truth: files["truth"], Mates: files["mates"],
		M: 16, EfConstruction: 200, Threads: 2, Ef: []int{16, 64}, K: k, Stderr: &stderr,
	})
	if err != nil {
		t.Fatal(err)
	}
	js, _ := json.Marshal(res)
	t.Logf("%s", js)
	if res.N != n || res.Dim != dim || res.NQ != nq || res.K != k || res.M != 16 ||
		res.EfConstruction != 200 || res.Threads != 2 || res.QPSThreads != 1 {
		t.Fatalf("result echoes the wrong parameters: %s", js)
	}
	if res.IndexBytesSource != "saveIndex" || res.IndexBytes < int64(n*dim*4) ||
		res.BytesPerVectorBeyondVector <= 0 || res.BytesPerVectorBeyondVector > 1000 {
		t.Fatalf("implausible index size: %s", js)
	}
	at64 := res.Results[1]
	if at64.Ef != 64 {
		t.Fatalf("second result has ef %d, want 64", at64.Ef)
	}
	if at64.RecallAt10 < 0.9 {
		t.Fatalf("recall@10 at ef=64 is %.3f, want >= 0.9", at64.RecallAt10)
	}
	if at64.MateRecallAt10 == nil || *at64.MateRecallAt10 < 0.9 {
		t.Fatalf("mate recall at ef=64 missing or < 0.9: %s", js)
	}
	if at64.QPS1Thread <= 0 || at64.P50Ms <= 0 || at64.P99Ms < at64.P50Ms {
		t.Fatalf("implausible timings: %s", js)
	}
	if e, ok := res.AtRecall(0.9, 0.9); !ok || e.RecallAt10 < 0.9 {
		t.Fatalf("AtRecall(0.9, 0.9) = %+v, %v", e, ok)
	}

	// RunReusing builds and saves once, then loads: same answers, the saved build rate.
	args := Args{Base: files["base"], Queries: files["queries"], Truth: files["truth"], Mates: files["mates"], Ef: []int{64}, K: k}
	saveDir := filepath.Join(dir, "saved")
	first, err := RunReusing(ctx, bin, args, saveDir)
	if err != nil {
		t.Fatal(err)
	}
	second, err := RunReusing(ctx, bin, args, saveDir)
	if err != nil {
		t.Fatal(err)
	}
	if first.Reused || !second.Reused || second.BuildVectorsPerS != first.BuildVectorsPerS ||
		second.Results[0].RecallAt10 != first.Results[0].RecallAt10 || second.IndexBytes != first.IndexBytes {
		t.Fatalf("reuse: first %+v\nsecond %+v", first, second)
	}
	args.M = 8 // other parameters: built anew
	if third, err := RunReusing(ctx, bin, args, saveDir); err != nil || third.Reused {
		t.Fatalf("RunReusing with M 8: reused %v, %v", third != nil && third.Reused, err)
	}

	// Mismatched inputs are refused with the program's message in the error.
	_, err = Run(ctx, bin, Args{Base: files["base"], Queries: files["queries"], Truth: files["mates"]})
	if err == nil || !strings.Contains(err.Error(), "truth has k=2") {
		t.Fatalf("Run with a k=2 truth file: %v", err)
	}
}

func randomUnit(rng *rand.Rand, n, dim int) []float32 {
	v := make([]float32, n*dim)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	for i := 0; i < n; i++ {
		normalize(v[i*dim : (i+1)*dim])
	}
	return v
}

func normalize(v []float32) {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	inv := float32(1 / math.Sqrt(s))
	for i := range v {
		v[i] *= inv
	}
}
