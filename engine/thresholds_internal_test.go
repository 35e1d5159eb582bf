package engine

import (
	"math"
	"strings"
	"testing"
)

var testTail = []TailPoint{{1e-2, 0.80}, {1e-3, 0.83}, {1e-4, 0.85}, {1e-5, 0.87}, {1e-6, 0.88}}

func TestThresholdAtAndRateAtInvertEachOther(t *testing.T) {
	for _, tc := range []struct {
		fmr      float64
		want     float64
		resolved bool
	}{
		{0.5, 0.80, true},      // above the tail: its first line, conservative
		{1e-2, 0.80, true},     // on a point
		{1e-3, 0.83, true},     // on a point
		{3.162e-4, 0.84, true}, // half-way in log
		{1e-6, 0.88, true},     // the last point
		{1e-7, 0.88, false},    // past the tail: its last line, not resolved
	} {
		got, resolved := thresholdAt(testTail, tc.fmr)
		if math.Abs(got-tc.want) > 1e-4 || resolved != tc.resolved {
			t.Errorf("thresholdAt(%g) = %g, %t; want %g, %t", tc.fmr, got, resolved, tc.want, tc.resolved)
		}
		if !tc.resolved || tc.fmr > 1e-2 {
			continue
		}
		if back, bound := rateAt(testTail, got); bound != 0 || math.Abs(math.Log10(back)-math.Log10(tc.fmr)) > 1e-3 {
			t.Errorf("rateAt(%g) = %g (bound %d), want %g", got, back, bound, tc.fmr)
		}
	}
	if _, bound := rateAt(testTail, 0.5); bound != -1 {
		t.Errorf("below the tail: bound %d, want -1", bound)
	}
	if _, bound := rateAt(testTail, 0.95); bound != 1 {
		t.Errorf("above the tail: bound %d, want +1", bound)
	}
}

// The FPIR of N faces and the pair rate that gives it are inverses, and FPIR ≈ N·FMR when small.
func TestPairAndSearchRates(t *testing.T) {
	for _, n := range []int{1, 15, 1000, 100_000} {
		fmr := pairRate(0.01, n)
		if got := searchRate(fmr, n); math.Abs(got-0.01) > 1e-12 {
			t.Errorf("n=%d: searchRate(pairRate(0.01)) = %g", n, got)
		}
		if n > 1 && math.Abs(fmr*float64(n)-0.01)/0.01 > 0.01 {
			t.Errorf("n=%d: pair rate %g, want about %g", n, fmr, 0.01/float64(n))
		}
	}
}

// A gallery's threshold rises as it grows and as its target falls (the pair rate is the
// target's over twice the size: searchMargin); a model without a tail has none; a gallery past
// the tail is flagged.
func TestOperatingPoint(t *testing.T) {
	s := &Service{cfg: ServiceConfig{Tails: map[string][]TailPoint{"m": testTail, "bare": {}}}}
	var last float32
	for _, n := range []int{1, 10, 100, 1000, 4000} {
		op := s.operatingPoint(Gallery{ID: 1, Model: "m", Faces: n})
		if op.Threshold == nil || *op.Threshold < last || !op.Resolved || op.TargetFPIR != DefaultTargetFPIR {
			t.Fatalf("%d faces: %+v (last threshold %g)", n, op, last)
		}
		last = *op.Threshold
	}
	op := s.operatingPoint(Gallery{ID: 1, Model: "m", Faces: 1000})
	if *op.Threshold != 0.873 || !strings.Contains(op.Meaning, "at or above 0.873") || !strings.Contains(op.Meaning, "1,000 faces") || !strings.Contains(op.Meaning, "1 in 100 searches of a stranger") {
		t.Errorf("1,000 faces at 1%%: %+v", op)
	}
	strict := s.operatingPoint(Gallery{ID: 1, Model: "m", Faces: 1000, TargetFPIR: 0.001})
	if *strict.Threshold <= *op.Threshold {
		t.Errorf("a stricter target: %g, want above %g", *strict.Threshold, *op.Threshold)
	}
	if huge := s.operatingPoint(Gallery{ID: 1, Model: "m", Faces: 10_000_000}); huge.Resolved || !strings.Contains(huge.Meaning, "larger than the measured impostor tail resolves") {
		t.Errorf("a gallery past the tail: %+v", huge)
	}
	if bare := s.operatingPoint(Gallery{ID: 1, Model: "bare", Faces: 10}); bare.Threshold != nil || !strings.Contains(bare.Meaning, "no measured impostor tail") {
		t.Errorf("a model without a tail: %+v", bare)
	}
}

func TestCandidateMeaning(t *testing.T) {
	s := &Service{cfg: ServiceConfig{Tails: map[string][]TailPoint{"m": testTail}}}
	for _, tc := range []struct {
		sim  float32
		n    int
		want string
	}{
		{0.85, 100, "About 1 in 50 searches of a stranger against this gallery (100 faces)"},
		{0.87, 15, "About 1 in 3,300 searches"},
		{0.84, 10_000, "Most searches of a stranger against this gallery (10,000 faces) return a candidate this similar"},
		{0.70, 1, "At least 1 in 50 searches of a stranger against this gallery (1 face)"},
		{0.95, 10, "Fewer than 1 in 50,000 searches"},
	} {
		if got := s.CandidateMeaning("m", false, tc.n, tc.sim); !strings.Contains(got, tc.want) {
			t.Errorf("CandidateMeaning(%g, %d) = %q, want %q", tc.sim, tc.n, got, tc.want)
		}
	}
	if got := s.CandidateMeaning("unknown", false, 10, 0.9); got != "" {
		t.Errorf("a model without a tail: %q", got)
	}
}
