package indexbench

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/gob"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/facematch/facematch/bench/synth"
)

// fakeReal is a small labelled set shaped like real embeddings: identities around random
// centres, four photos each.
func fakeReal(ids, dim int, seed uint64) *RealEmbeddings {
	r := rand.New(rand.NewPCG(seed, 1))
	out := &RealEmbeddings{Model: "fake@" + strconv.Itoa(dim)}
	for id := 0; id < ids; id++ {
		c := make([]float64, dim)
		for j := range c {
			c[j] = r.NormFloat64()
		}
		for p := 0; p < 4; p++ {
			v := make([]float32, dim)
			for j := range v {
				v[j] = float32(c[j] + 0.6*r.NormFloat64())
			}
			unit(v)
			name := "person" + strconv.Itoa(id)
			out.Labels = append(out.Labels, name)
			out.Paths = append(out.Paths, name+"/"+strconv.Itoa(p)+".jpg")
			out.Vectors = append(out.Vectors, v)
		}
	}
	return out
}

func unit(v []float32) {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	for i := range v {
		v[i] /= float32(math.Sqrt(s))
	}
}

// writeClusterVectors writes what `eval cluster --vectors` writes, for two sets.
func writeClusterVectors(t *testing.T, path, model string, real *RealEmbeddings) {
	t.Helper()
	c := clusterVectors{Model: model, Dim: len(real.Vectors[0])}
	for i, v := range real.Vectors {
		for _, x := range v {
			c.Vectors = binary.LittleEndian.AppendUint32(c.Vectors, math.Float32bits(x))
		}
		set := "lfw"
		if i%2 == 1 {
			set = "cfp"
		}
		c.Sets = append(c.Sets, set)
		c.Truth = append(c.Truth, set+"/"+real.Labels[i])
		c.Paths = append(c.Paths, real.Paths[i])
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	if err := gob.NewEncoder(w).Encode(c); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

func TestFromClusterVectors(t *testing.T) {
	real := fakeReal(5, 8, 1)
	path := filepath.Join(t.TempDir(), "v.vec")
	writeClusterVectors(t, path, real.Model, real)
	tests := []struct {
		name, set, model string
		wantN            int
		wantErr          bool
	}{
		{"lfw", "lfw", real.Model, 10, false},
		{"cfp", "cfp", real.Model, 10, false},
		{"other model", "lfw", "other", 0, true},
		{"missing set", "celebs", real.Model, 0, true},
	}
	for _, tc := range tests {
		got, err := FromClusterVectors(path, tc.set, tc.model)
		if (err != nil) != tc.wantErr {
			t.Fatalf("%s: err %v", tc.name, err)
		}
		if err != nil {
			continue
		}
		if len(got.Vectors) != tc.wantN || got.Model != real.Model {
			t.Fatalf("%s: %d faces of %s", tc.name, len(got.Vectors), got.Model)
		}
		off := 0
		if tc.set == "cfp" {
			off = 1
		}
		if got.Labels[0] != real.Labels[off] || got.Vectors[1][3] != real.Vectors[2+off][3] {
			t.Fatalf("%s: faces out of order: %v", tc.name, got.Labels[:2])
		}
	}
	// The cache written from it is what LoadOrEmbed reads back without embedding.
	got, _ := FromClusterVectors(path, "lfw", real.Model)
	cache := filepath.Join(t.TempDir(), "out", "c.gob")
	if err := WriteCache(cache, got); err != nil {
		t.Fatal(err)
	}
	var back RealEmbeddings
	f, err := os.Open(cache)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := gob.NewDecoder(f).Decode(&back); err != nil || len(back.Vectors) != 10 {
		t.Fatalf("cache: %d faces, %v", len(back.Vectors), err)
	}
}

// TestRunTiny runs the whole harness at a tiny N on another dimension than 512 (the 640-d path
// is the same code): measured genuine mean, the sweep, and --reuse of both index and hnswlib.
func TestRunTiny(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	real := fakeReal(60, 48, 2)
	dir := t.TempDir()
	cfg := Config{N: 3000, Queries: 100, TruthQ: 60, SegmentSize: 2000, Ef: []int{16, 64}, Hnswlib: true, Reuse: true, Dir: dir, Seed: 1}
	first, err := Run(context.Background(), real, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if first.Dim != 48 || first.Reused || first.Hnswlib == nil || first.Hnswlib.Reused || first.BuildVectorsPerS <= 0 {
		t.Fatalf("first run: %+v", first)
	}
	if want := synth.GenuineMean(real.Vectors, real.Labels); math.Abs(first.GenuineMean-want) > 0.02 {
		t.Fatalf("synthetic genuine mean %.3f, calibrated to %.3f", first.GenuineMean, want)
	}
	second, err := Run(context.Background(), real, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !second.Reused || !second.Hnswlib.Reused || *second.HnswlibBuildVectorsPerS != *first.HnswlibBuildVectorsPerS {
		t.Fatalf("second run reused index %v, hnswlib %v", second.Reused, second.Hnswlib.Reused)
	}
	if second.Sweep[1].RecallAt10 != first.Sweep[1].RecallAt10 {
		t.Fatalf("reused index answers differently: %v vs %v", second.Sweep[1], first.Sweep[1])
	}
}
