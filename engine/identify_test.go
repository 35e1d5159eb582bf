package engine

import (
	"math"
	"testing"
)

func unit(v ...float32) []float32 {
	var n float64
	for _, x := range v {
		n += float64(x) * float64(x)
	}
	for i := range v {
		v[i] /= float32(math.Sqrt(n))
	}
	return v
}

func TestThresholdAtFPIR(t *testing.T) {
	strangers := make([]float64, 200)
	for i := range strangers {
		strangers[i] = float64(i) / 200 // 0 … 0.995
	}
	// 1e-2 of 200 allows 2 strangers at or above: just above the 3rd highest (0.985).
	if got := thresholdAtFPIR(strangers, 1e-2); got <= 0.985 || got > 0.98500001 {
		t.Errorf("FPIR 1e-2: %v, want just above 0.985", got)
	}
	// 1e-3 of 200 allows none: just above the highest.
	if got := thresholdAtFPIR(strangers, 1e-3); got <= 0.995 || got > 0.99500001 {
		t.Errorf("FPIR 1e-3: %v, want just above 0.995", got)
	}
	if got := thresholdAtFPIR(nil, 1e-2); got != -1 {
		t.Errorf("no stranger: %v", got)
	}
}

// TestIdentify on a gallery small enough to score by hand: A and B with one photo each, C with
// two; one probe of each of A and B, and strangers.
func TestIdentify(t *testing.T) {
	e1, e2, e3 := unit(1, 0, 0), unit(0, 1, 0), unit(0, 0, 1)
	gallery := []IdentityPhoto{{"A", e1}, {"B", e2}, {"C", e3}, {"C", unit(1, 0, 1)}}
	probes := []IdentityPhoto{
		{"A", e1},                // A 1, C max 0.707: rank 1
		{"B", unit(0, 0.6, 0.8)}, // B 0.6, C max 0.8 (template 0.74): rank 2
		{"stranger1", unit(0.3, 0.3, -0.9)},
		{"stranger2", unit(-1, -1, -1)},
	}
	for _, scoring := range Scorings {
		r, err := Identify(gallery, probes, scoring)
		if err != nil {
			t.Fatal(err)
		}
		if r.GallerySize != 3 || r.GalleryPhotos != 4 || r.MatedProbes != 2 || r.NonMatedProbes != 2 || r.Rank1 != 0.5 {
			t.Errorf("%s: %+v", scoring, r)
		}
		// Two strangers: FPIR 1e-2 allows none, so the threshold is just above the higher of
		// their best scores (stranger1: 0.3015 against A or B); both mates score above it.
		if r.ThresholdAtFPIR1e2 <= 0.3015 || r.ThresholdAtFPIR1e2 > 0.3016 || r.FNIRAtFPIR1e2 != 0 {
			t.Errorf("%s: threshold %v, FNIR %v", scoring, r.ThresholdAtFPIR1e2, r.FNIRAtFPIR1e2)
		}
	}
	// A mate found below the threshold is a miss: with a stranger scoring 0.9, B's 0.6 is.
	r, err := Identify(gallery, append(probes, IdentityPhoto{"stranger3", unit(0, 0.9, 0.1)}), ScoreMax)
	if err != nil || r.FNIRAtFPIR1e2 != 0.5 {
		t.Errorf("FNIR with a close stranger: %+v, %v; want 0.5 (B missed)", r, err)
	}
	if _, err := Identify(gallery, probes, "median"); err == nil {
		t.Error("an unknown scoring was accepted")
	}
	if _, err := Identify(nil, probes, ScoreMax); err == nil {
		t.Error("an empty gallery was accepted")
	}
}
