package verify

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestFitLogisticRecovers(t *testing.T) {
	tests := []struct {
		name string
		a, b float64
		// scale and offset of the score distribution, to check that the
		// fit does not depend on scores being near zero
		scale, offset float64
	}{
		{"cosine-like", 12, -5, 0.2, 0.35},
		{"unit scores", 2, 0.5, 1, 0},
		{"rare positives", 3, -4, 1, 0},
		{"large scale", 0.004, -20, 1000, 5000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			const n = 20000
			scores, labels := make([]float64, n), make([]bool, n)
			for i := range n {
				s := tt.offset + tt.scale*rng.NormFloat64()
				scores[i] = s
				labels[i] = rng.Float64() < sigmoid(tt.a*s+tt.b)
			}
			a, b, err := FitLogistic(scores, labels)
			if err != nil {
				t.Fatal(err)
			}
			// With 20000 samples the standard errors are a few percent of
			// the parameters, so 10% is several of them.
			if math.Abs(a-tt.a) > 0.1*math.Abs(tt.a) || math.Abs(b-tt.b) > 0.1*math.Abs(tt.b)+0.1 {
				t.Errorf("fit a=%.4f b=%.4f, want a=%v b=%v", a, b, tt.a, tt.b)
			}
		})
	}
}

func TestFitLogisticSeparable(t *testing.T) {
	// Without the ridge the slope would diverge; it must stay finite, put
	// the boundary between the classes and keep the classes ordered.
	scores := []float64{0.1, 0.2, 0.3, 0.7, 0.8, 0.9}
	labels := []bool{false, false, false, true, true, true}
	a, b, err := FitLogistic(scores, labels)
	if err != nil {
		t.Fatal(err)
	}
	if math.IsInf(a, 0) || math.IsNaN(a) || a <= 0 {
		t.Fatalf("a = %v, want finite and positive", a)
	}
	if boundary := -b / a; math.Abs(boundary-0.5) > 1e-6 {
		t.Errorf("boundary = %v, want 0.5", boundary)
	}
}

func TestFitLogisticConstantScores(t *testing.T) {
	// Uninformative scores: the slope is zero and b is the prior log-odds.
	a, b, err := FitLogistic([]float64{0.5, 0.5, 0.5, 0.5}, []bool{true, false, false, false})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(a) > 1e-9 || math.Abs(b-math.Log(1.0/3)) > 1e-9 {
		t.Errorf("a=%v b=%v, want 0 and log(1/3)", a, b)
	}
}

func TestFitLogisticErrors(t *testing.T) {
	tests := []struct {
		name    string
		scores  []float64
		labels  []bool
		wantErr string
	}{
		{"empty", nil, nil, "need both classes"},
		{"length mismatch", []float64{1}, []bool{true, false}, "1 scores for 2 labels"},
		{"one class", []float64{1, 2}, []bool{true, true}, "need both classes"},
		{"NaN", []float64{1, math.NaN()}, []bool{true, false}, "score 1 is NaN"},
		{"Inf", []float64{math.Inf(-1), 1}, []bool{true, false}, "score 0 is -Inf"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := FitLogistic(tt.scores, tt.labels)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}
