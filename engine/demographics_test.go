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
