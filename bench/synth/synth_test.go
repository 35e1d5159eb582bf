package synth

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// toyEmbeddings makes unit vectors in 24-d: identities are random directions, photos add noise.
func toyEmbeddings(ids, per int) ([][]float32, []string) {
	r := rand.New(rand.NewPCG(1, 2))
	var embs [][]float32
	var labels []string
	for id := 0; id < ids; id++ {
		c := make([]float64, 24)
		for i := range c {
			c[i] = r.NormFloat64() * (1 + float64(i%4)) // an anisotropic spectrum
		}
		for p := 0; p < per; p++ {
			v := make([]float32, 24)
			var ss float64
			for i := range v {
				x := c[i] + 0.8*r.NormFloat64()
				v[i] = float32(x)
				ss += x * x
			}
			for i := range v {
				v[i] /= float32(math.Sqrt(ss))
			}
			embs = append(embs, v)
			labels = append(labels, fmt.Sprint(id))
		}
	}
	return embs, labels
}

func TestFitCalibrateGenerate(t *testing.T) {
	embs, labels := toyEmbeddings(300, 3)
	m, err := Fit(embs, labels)
	if err != nil {
		t.Fatal(err)
	}
	for _, target := range []float64{0.4, 0.62, 0.8} {
		st := m.Calibrate(target)
		if math.Abs(st.GenuineMean-target) > 0.03 {
			t.Errorf("calibrated to %.2f, measured genuine mean %.3f", target, st.GenuineMean)
		}
		if st.ImpostorMean >= st.GenuineMean-0.2 {
			t.Errorf("impostors (%.3f) not separated from genuine pairs (%.3f)", st.ImpostorMean, st.GenuineMean)
		}
	}
	out := make([]float32, 24)
	m.Sample(rand.New(rand.NewPCG(3, 4)), m.Centre(rand.New(rand.NewPCG(5, 6))), out)
	var ss float64
	for _, x := range out {
		ss += float64(x) * float64(x)
	}
	if math.Abs(ss-1) > 1e-5 {
		t.Fatalf("sample squared norm %g, want 1", ss)
	}
}

func TestFitRefusesBadInput(t *testing.T) {
	if _, err := Fit(nil, nil); err == nil {
		t.Error("empty input accepted")
	}
	if _, err := Fit([][]float32{{1, 0}, {0, 1}}, []string{"a", "b"}); err == nil {
		t.Error("no identity with two photos accepted")
	}
	if _, err := Fit([][]float32{{1, 0}, {0, 1, 0}}, []string{"a", "a"}); err == nil {
		t.Error("mixed dimensions accepted")
	}
}

func TestCholesky(t *testing.T) {
	a := []float64{4, 2, 2, 3}
	l, err := cholesky(a, 2)
	if err != nil {
		t.Fatal(err)
	}
	// L·Lᵀ reproduces a.
	for i := 0; i < 2; i++ {
		for j := 0; j < 2; j++ {
			var s float64
			for k := 0; k < 2; k++ {
				s += l[i*2+k] * l[j*2+k]
			}
			if math.Abs(s-a[i*2+j]) > 1e-12 {
				t.Fatalf("(LLᵀ)[%d][%d] = %g, want %g", i, j, s, a[i*2+j])
			}
		}
	}
	if _, err := cholesky([]float64{1, 2, 2, 1}, 2); err == nil {
		t.Fatal("indefinite matrix accepted")
	}
}

func TestSizes(t *testing.T) {
	const n = 200_000
	sizes := Sizes(n, 1)
	total, ones, big, largest := 0, 0, 0, 0
	for _, s := range sizes {
		if s < 1 || s > MaxIdentitySize {
			t.Fatalf("size %d outside 1..%d", s, MaxIdentitySize)
		}
		total += s
		if s == 1 {
			ones++
		}
		if s > 10 {
			big++
		}
		largest = max(largest, s)
	}
	if total != n {
		t.Fatalf("sizes add up to %d, want %d", total, n)
	}
	single := float64(ones) / float64(len(sizes))
	mean := float64(n) / float64(len(sizes))
	t.Logf("%d identities: %.3f singletons (%.3f of faces), %.3f above 10, mean %.2f, largest %d",
		len(sizes), single, float64(ones)/n, float64(big)/float64(len(sizes)), mean, largest)
	if math.Abs(single-0.608) > 0.01 || mean < 3.5 || mean > 5.5 || largest < 300 {
		t.Errorf("not the documented power law: %.3f singletons, mean %.2f, largest %d", single, mean, largest)
	}
	if again := Sizes(n, 1); len(again) != len(sizes) || again[7] != sizes[7] {
		t.Error("Sizes is not deterministic for a seed")
	}
}

func TestGenerate(t *testing.T) {
	embs, labels := toyEmbeddings(300, 3)
	m, err := Fit(embs, labels)
	if err != nil {
		t.Fatal(err)
	}
	m.Calibrate(0.62)
	sizes := []int{3, 1, 5, 2}
	out := make([]float32, 11*m.Dim)
	ids := m.Generate(out, sizes, 9, 3)
	want := []int32{0, 0, 0, 1, 2, 2, 2, 2, 2, 3, 3}
	for i := range want {
		if ids[i] != want[i] {
			t.Fatalf("labels %v, want %v", ids, want)
		}
		if n := dot(out[i*m.Dim:(i+1)*m.Dim], out[i*m.Dim:(i+1)*m.Dim]); math.Abs(n-1) > 1e-4 {
			t.Fatalf("vector %d has squared norm %v", i, n)
		}
	}
	one := make([]float32, 11*m.Dim)
	m.Generate(one, sizes, 9, 1)
	for i := range out {
		if out[i] != one[i] {
			t.Fatal("Generate depends on the number of workers")
		}
	}
	// A new photo of identity 2 is like its others, and unlike identity 0's.
	extra := make([]float32, m.Dim)
	m.SampleOf(9, 2, 0, extra)
	same, other := dot(extra, out[4*m.Dim:5*m.Dim]), dot(extra, out[0:m.Dim])
	if same < 0.4 || same <= other {
		t.Errorf("extra photo of identity 2: %.3f to its own, %.3f to another", same, other)
	}
}

func TestPhotoSpread(t *testing.T) {
	embs, labels := toyEmbeddings(300, 3)
	m, err := Fit(embs, labels)
	if err != nil {
		t.Fatal(err)
	}
	alike := m.Calibrate(0.62)
	m.PhotoSpread = 0.4
	spread := m.Calibrate(0.62)
	t.Logf("genuine 10th-90th percentile: %.3f-%.3f alike, %.3f-%.3f with spread", alike.GenuineP10, alike.GenuineP90, spread.GenuineP10, spread.GenuineP90)
	if math.Abs(spread.GenuineMean-0.62) > 0.03 {
		t.Errorf("calibrated to 0.62 with spread, measured %.3f", spread.GenuineMean)
	}
	if spread.GenuineP90-spread.GenuineP10 < 1.15*(alike.GenuineP90-alike.GenuineP10) {
		t.Errorf("PhotoSpread did not widen the genuine similarities: %+v vs %+v", spread, alike)
	}
}

func TestGenuineMean(t *testing.T) {
	a, b := []float32{1, 0}, []float32{0.6, 0.8}
	tests := []struct {
		name   string
		vs     [][]float32
		labels []string
		want   float64
	}{
		{"one pair", [][]float32{a, b}, []string{"x", "x"}, 0.6},
		{"impostors ignored", [][]float32{a, b, a}, []string{"x", "y", "x"}, 1},
		{"no pairs", [][]float32{a, b}, []string{"x", "y"}, 0},
	}
	for _, tc := range tests {
		if got := GenuineMean(tc.vs, tc.labels); math.Abs(got-tc.want) > 1e-6 {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
