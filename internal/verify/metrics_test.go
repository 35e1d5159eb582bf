package verify

import (
	"math"
	"slices"
	"strings"
	"testing"
)

const eps = 1e-12

func near(a, b float64) bool { return math.Abs(a-b) <= eps || (math.IsNaN(a) && math.IsNaN(b)) }

// handSet is small enough to evaluate on paper:
//
//	fold 0: 0.9 same, 0.7 same, 0.4 diff, 0.2 diff
//	fold 1: 0.8 same, NaN same, 0.6 diff, 0.75 diff
//
// Fold 0 is scored at the threshold from fold 1: scores 0.6d 0.75d 0.8s give
// 1, 2, 3, 2 correct on (-inf,.6), [.6,.75), [.75,.8), [.8,inf), so t = 0.775
// and fold 0 gets 0.9 right, 0.7 wrong, 0.4 and 0.2 right: 3/4.
// Fold 1 is scored at the threshold from fold 0: 0.2d 0.4d 0.7s 0.9s is best
// on [0.4, 0.7), t = 0.55; fold 1 gets 0.8 right, NaN wrong, 0.6 and 0.75
// wrong: 1/4. Mean 0.5, population std 0.25.
// On all scored pairs (0.2d 0.4d 0.6d 0.7s 0.75d 0.8s 0.9s) the counts are
// 3 4 5 6 5 6 5 4: [0.6, 0.7) and [0.75, 0.8) tie and the lower wins, 0.65.
// AUC: genuine 0.7, 0.8, 0.9 beat 3, 4, 4 of the 4 impostors = 11/12.
// TAR at FAR 1e-3 with 4 impostors is at t = 0.75: 0.8 and 0.9 pass, 2/3.
var (
	handSet = &PairSet{Folds: 2, Format: FormatTSV, Pairs: []Pair{
		{A: "a", B: "b", Same: true, Fold: 0},
		{A: "a", B: "c", Same: true, Fold: 0},
		{A: "a", B: "d", Same: false, Fold: 0},
		{A: "a", B: "e", Same: false, Fold: 0},
		{A: "f", B: "g", Same: true, Fold: 1},
		{A: "f", B: "h", Same: true, Fold: 1},
		{A: "f", B: "i", Same: false, Fold: 1},
		{A: "f", B: "j", Same: false, Fold: 1},
	}}
	handScores = []float64{0.9, 0.7, 0.4, 0.2, 0.8, math.NaN(), 0.6, 0.75}
)

func TestEvaluateByHand(t *testing.T) {
	got, err := Evaluate(handSet, handScores)
	if err != nil {
		t.Fatal(err)
	}
	want := Report{
		Pairs: 8, Unscored: 1,
		Accuracy: 0.5, AccuracyStd: 0.25,
		Threshold:   0.65,
		TARAtFAR1e3: 2.0 / 3, TARAtFAR1e4: 2.0 / 3,
		ImpostorPairs: 4, GenuinePairs: 3,
		AUC: 11.0 / 12,
	}
	if got.Pairs != want.Pairs || got.Unscored != want.Unscored ||
		got.ImpostorPairs != want.ImpostorPairs || got.GenuinePairs != want.GenuinePairs ||
		!near(got.Accuracy, want.Accuracy) || !near(got.AccuracyStd, want.AccuracyStd) ||
		!near(got.Threshold, want.Threshold) || !near(got.AUC, want.AUC) ||
		!near(got.TARAtFAR1e3, want.TARAtFAR1e3) || !near(got.TARAtFAR1e4, want.TARAtFAR1e4) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	if got.MinResolvableFAR() != 0.25 {
		t.Errorf("MinResolvableFAR = %v, want 0.25", got.MinResolvableFAR())
	}
}

func TestEvaluatePerfect(t *testing.T) {
	// Perfectly separated scores: every fold is right, AUC is 1, and the
	// threshold is the midpoint of the gap between the classes.
	set, err := ReadPairs(strings.NewReader(tsvOf(20, 30)))
	if err != nil {
		t.Fatal(err)
	}
	scores := make([]float64, len(set.Pairs))
	for i, p := range set.Pairs {
		scores[i] = float64(i%7) / 10 // impostors in [0, 0.6]
		if p.Same {
			scores[i] += 1 // genuine in [1, 1.6]
		}
	}
	got, err := Evaluate(set, scores)
	if err != nil {
		t.Fatal(err)
	}
	if got.Accuracy != 1 || got.AccuracyStd != 0 || got.AUC != 1 || got.TARAtFAR1e3 != 1 || got.Unscored != 0 {
		t.Errorf("got %+v", got)
	}
	if !near(got.Threshold, 0.8) {
		t.Errorf("threshold = %v, want 0.8", got.Threshold)
	}
}

func TestEvaluateErrors(t *testing.T) {
	nan := math.NaN()
	two := func(folds int, pairs ...Pair) *PairSet { return &PairSet{Folds: folds, Pairs: pairs} }
	g0, i0, g1, i1 := Pair{Same: true}, Pair{}, Pair{Same: true, Fold: 1}, Pair{Fold: 1}
	tests := []struct {
		name    string
		set     *PairSet
		scores  []float64
		wantErr string
	}{
		{"nil set", nil, nil, "nil pair set"},
		{"length mismatch", two(2, g0, i1), []float64{1}, "1 scores for 2 pairs"},
		{"one fold", two(1, g0, i0), []float64{1, 0}, "at least 2 folds"},
		{"fold out of range", two(2, g0, Pair{Fold: 2}), []float64{1, 0}, "pair 1: fold 2"},
		{"infinite", two(2, g0, i1), []float64{math.Inf(1), 0}, "pair 0: infinite"},
		{"no impostor scored", two(2, g0, i1), []float64{1, nan}, "got 1 and 0"},
		{"no genuine", two(2, i0, i1), []float64{1, 0}, "got 0 and 2"},
		{"fold without training data", two(2, g0, i0, g1, i1), []float64{1, 0, nan, nan}, "outside fold 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Evaluate(tt.set, tt.scores)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestBestThreshold(t *testing.T) {
	const g, i = true, false
	tests := []struct {
		name   string
		scores []float64
		same   []bool
		want   float64
	}{
		{"separable", []float64{0.1, 0.3, 0.5, 0.9}, []bool{i, i, g, g}, 0.4},
		{"balanced tie merges intervals", []float64{0.1, 0.5, 0.5, 0.9}, []bool{i, i, g, g}, 0.5},
		{"disjoint ties take the lowest", []float64{1, 2, 3, 4}, []bool{i, g, i, g}, 1.5},
		{"all genuine accepts all", []float64{0.2, 0.4}, []bool{g, g}, math.Nextafter(0.2, -1)},
		{"all impostor rejects all", []float64{0.2, 0.4}, []bool{i, i}, 0.4},
		{"every threshold equal", []float64{0.2, 0.2, 0.6, 0.6}, []bool{i, g, g, i}, 0.4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ps []scored
			for k, s := range tt.scores {
				ps = append(ps, scored{score: s, same: tt.same[k]})
			}
			if got := bestThreshold(ps); !near(got, tt.want) {
				t.Errorf("bestThreshold = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestTARAtFAR(t *testing.T) {
	nan := math.NaN()
	oneTo100 := make([]float64, 100)
	for k := range oneTo100 {
		oneTo100[k] = float64(k + 1)
	}
	tenImp := []float64{0.9, 0.8, 0.8, 0.7, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1}
	tests := []struct {
		name          string
		gen, imp      []float64
		far           float64
		wantTAR, want float64 // want is the threshold
	}{
		{"far*N < 1 rejects every impostor", []float64{0.6, 0.5, 0.4}, []float64{0.1, 0.5, 0.3}, 0.1, 1.0 / 3, 0.5},
		{"k-th largest", []float64{0.85, 0.75, 0.95, 0.5}, tenImp, 0.1, 0.5, 0.8},
		{"ties at threshold accept fewer impostors", []float64{0.85, 0.8, 0.95, 0.5}, tenImp, 0.2, 0.5, 0.8},
		{"rounding of far*N", []float64{71.5}, oneTo100, 0.29, 1, 71},
		{"all genuine above", []float64{2, 3}, []float64{0, 1}, 0, 1, 1},
		{"all genuine below", []float64{-2, -3}, []float64{0, 1}, 1e-3, 0, 1},
		{"far 1 accepts all", []float64{-2, -3}, []float64{0, 1}, 1, 1, math.Inf(-1)},
		{"NaNs ignored", []float64{nan, 2, 0}, []float64{1, nan}, 0, 0.5, 1},
		{"no impostors", []float64{1}, []float64{nan}, 0.1, nan, nan},
		{"no genuine", nil, []float64{1}, 0.1, nan, nan},
		{"negative far", []float64{1}, []float64{1}, -0.1, nan, nan},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gen, imp := slices.Clone(tt.gen), slices.Clone(tt.imp)
			tar, th := TARAtFAR(gen, imp, tt.far)
			if !near(tar, tt.wantTAR) || !(near(th, tt.want) || th == tt.want) {
				t.Errorf("TARAtFAR = %v, %v; want %v, %v", tar, th, tt.wantTAR, tt.want)
			}
			if !slices.EqualFunc(gen, tt.gen, near) || !slices.EqualFunc(imp, tt.imp, near) {
				t.Error("inputs were modified")
			}
		})
	}
}

func TestAUC(t *testing.T) {
	tests := []struct {
		name     string
		gen, imp []float64
		want     float64
	}{
		{"perfect", []float64{2, 3}, []float64{0, 1}, 1},
		{"inverted", []float64{0, 1}, []float64{2, 3}, 0},
		{"all tied", []float64{1, 1}, []float64{1, 1, 1}, 0.5},
		{"partial ties", []float64{1, 2}, []float64{1, 0}, 0.875}, // (1.5 + 2) / 4
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := auc(tt.gen, tt.imp); !near(got, tt.want) {
				t.Errorf("auc = %v, want %v", got, tt.want)
			}
		})
	}
}
