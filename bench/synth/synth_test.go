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
