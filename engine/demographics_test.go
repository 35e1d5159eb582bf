package engine

import "testing"

// TestGroupImpostorRates on vectors placed by hand: the minors' two photos score 0.9 together,
// the adults' pairs 0 and 0.5.
func TestGroupImpostorRates(t *testing.T) {
	items := []LabelledEmbedding{
		{map[string]string{"age": "minor", "sex": "f"}, unit(1, 0, 0)},
		{map[string]string{"age": "minor", "sex": "m"}, unit(0.9, 0.43589, 0)},
		{map[string]string{"age": "adult", "sex": "f"}, unit(0, 0, 1)},
		{map[string]string{"age": "adult", "sex": "m"}, unit(0, 0.8660254, 0.5)},
	}
	got := map[string]GroupFMR{}
	for _, g := range GroupImpostorRates(items, []float32{0.4, 0.85}) {
		got[g.Dimension+"/"+g.Group] = g
	}
	for key, want := range map[string]struct {
		photos, pairs int
		fmr           [2]float64
	}{
		"all/all":   {4, 6, [2]float64{2.0 / 6, 1.0 / 6}},
		"age/minor": {2, 1, [2]float64{1, 1}},
		"age/adult": {2, 1, [2]float64{1, 0}},
		"sex/f":     {2, 1, [2]float64{0, 0}},
	} {
		g := got[key]
		if g.Photos != want.photos || g.Pairs != want.pairs || g.FMR[0] != want.fmr[0] || g.FMR[1] != want.fmr[1] {
			t.Errorf("%s: %+v, want %d photos, %d pairs, FMR %v", key, g, want.photos, want.pairs, want.fmr)
		}
	}
}

// TestHistogramTail: 10,000 pairs spread evenly over [0, 1): the line at FMR 1e-2 keeps 100
// pairs at or above it, within a bin; rates with fewer than ten pairs above are not read.
func TestHistogramTail(t *testing.T) {
	hist := make([]int, int(2/histogramBin)+1)
	for i := range 10_000 {
		s := float64(i) / 10_000
		hist[int((s+1)/histogramBin)]++
	}
	tail := histogramTail(hist, 10_000)
	if len(tail) != 4 || tail[0].FMR != 1e-2 || tail[3].FMR != 1e-3 { // 1e-2, 5e-3, 2e-3, 1e-3
		t.Fatalf("tail %+v, want the rates from 1e-2 to 1e-3", tail)
	}
	for _, p := range tail {
		above := 0
		for i := range 10_000 {
			if float64(i)/10_000 >= p.Threshold {
				above++
			}
		}
		if want := int(p.FMR * 10_000); above > want || above < want-int(histogramBin*10_000)-1 {
			t.Errorf("line %g for FMR %g: %d pairs at or above, want at most %d and within a bin", p.Threshold, p.FMR, above, want)
		}
	}
}
