package main

import (
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/facematch/facematch/bench/indexbench"
	"github.com/facematch/facematch/face"
	"github.com/facematch/facematch/internal/testenv"
)

func TestBenchIndexRecognizerFor(t *testing.T) {
	tests := []struct {
		dim     int
		cache   string
		want    benchIndexRecognizer
		wantErr bool
	}{
		{512, "", benchIndexRecognizer{face.Faceplugin512, "bench/out/lfw-embeddings.gob", 0.62}, false},
		{640, "", benchIndexRecognizer{face.FusedName, "bench/out/lfw-embeddings-fused.gob", 0}, false},
		{640, "x.gob", benchIndexRecognizer{face.FusedName, "x.gob", 0}, false},
		{128, "", benchIndexRecognizer{}, true},
	}
	for _, tc := range tests {
		got, err := benchIndexRecognizerFor(tc.dim, tc.cache)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("benchIndexRecognizerFor(%d, %q) = %+v, %v; want %+v", tc.dim, tc.cache, got, err, tc.want)
		}
	}
}

// fakeFusedCache writes an LFW cache of the fused model with vectors shaped like faces (persons
// around random centres), so the bench commands' tests need not embed LFW.
func fakeFusedCache(t *testing.T, persons int) string {
	t.Helper()
	r := rand.New(rand.NewPCG(5, 6))
	emb := indexbench.RealEmbeddings{Model: face.FusedIdentity()}
	for p := range persons {
		centre := make([]float64, 640)
		for j := range centre {
			centre[j] = r.NormFloat64()
		}
		for k := range 3 {
			v := make([]float32, 640)
			var s float64
			for j := range v {
				v[j] = float32(centre[j] + 0.7*r.NormFloat64())
				s += float64(v[j]) * float64(v[j])
			}
			for j := range v {
				v[j] /= float32(math.Sqrt(s))
			}
			name := fmt.Sprintf("P%03d", p)
			emb.Labels, emb.Paths = append(emb.Labels, name), append(emb.Paths, fmt.Sprintf("%s/%s_%d.jpg", name, name, k))
			emb.Vectors = append(emb.Vectors, v)
		}
	}
	cache := filepath.Join(t.TempDir(), "fused.gob")
	if err := indexbench.WriteCache(cache, &emb); err != nil {
		t.Fatal(err)
	}
	return cache
}

// TestBenchIndexDim640 runs the index harness on the default fused embedding at a tiny N.
func TestBenchIndexDim640(t *testing.T) {
	testenv.RequireModels(t)
	cache := fakeFusedCache(t, 40)
	r := run(t, "bench", "index", "--dim", "640", "--cache", cache, "--n", "2000", "--queries", "50", "--truth", "20",
		"--ef", "16,64", "--hnswlib=false", "--json")
	if r.err != nil {
		t.Fatal(r)
	}
	out := decodeOne(t, r.stdout)
	if number(t, out, "dim") != 640 || number(t, out, "n") != 2000 || number(t, out, "real_lfw_mate_queries") != 40 ||
		!strings.Contains(out["synthetic"].(string), "fused(") {
		t.Errorf("report: %v", out)
	}
	if r := run(t, "bench", "index", "--dim", "128", "--cache", cache); r.err == nil || !strings.Contains(r.err.Error(), "want 512") {
		t.Errorf("--dim 128: %v", r.err)
	}
}

// TestBenchScale prepares a tiny data directory (3 real persons, 500 synthetic faces), measures
// searches through the served API, and measures again on the prepared directory.
func TestBenchScale(t *testing.T) {
	testenv.RequireModels(t)
	bin := buildBinary(t)
	cache := fakeFusedCache(t, 20)
	dir := filepath.Join(t.TempDir(), "scale")
	args := []string{"bench", "scale", "--bin", bin, "--data-dir", dir, "--cache", cache, "--photos", data("celebs"),
		"--n", "500", "--people", "3", "--searches", "6", "--json"}
	first := run(t, args...)
	if first.err != nil {
		t.Fatal(first)
	}
	out := decodeOne(t, first.stdout)
	if number(t, out, "n") != 500 || number(t, out, "dim") != 640 || out["prepared"] != true || number(t, out, "probes") != 3 ||
		number(t, out, "searches") != 6 || number(t, out, "p50_ms") <= 0 || number(t, out, "mate_found") < 0.5 {
		t.Errorf("first run: %v", out)
	}
	second := run(t, args...)
	if second.err != nil {
		t.Fatal(second)
	}
	if out := decodeOne(t, second.stdout); out["prepared"] != false || number(t, out, "restart_s") <= 0 {
		t.Errorf("second run: %v", out)
	}
	if r := run(t, "bench", "scale", "--bin", bin, "--data-dir", dir, "--cache", cache, "--photos", data("celebs"), "--n", "600", "--people", "3"); r.err == nil ||
		!strings.Contains(r.err.Error(), "was prepared with n 500") {
		t.Errorf("another n on the same directory: %v", r.err)
	}
}
