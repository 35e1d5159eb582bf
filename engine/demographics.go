package engine

import (
	"sort"

	"github.com/facematch/facematch/face"
)

// LabelledEmbedding is one photo's vector with its labels by dimension, e.g. {"age": "0-17",
// "sex": "female"}, for a per-group evaluation.
type LabelledEmbedding struct {
	Labels map[string]string
	Vector []float32
}

// GroupFMR is the false-match rate of impostor pairs within one group: every pair of two
// photos in the group taken as two different people, the share scoring at or above each line.
type GroupFMR struct {
	Dimension string    `json:"dimension"` // "all" for every photo
	Group     string    `json:"group"`
	Photos    int       `json:"photos"`
	Pairs     int       `json:"pairs"`
	Lines     []float32 `json:"lines"`
	FMR       []float64 `json:"fmr"` // per line
	// Tail is the group's similarity at each false-match rate its pairs resolve (ten pairs
	// above the line at least), read to histogramBin: what a group's own line is set from.
	Tail []TailPoint `json:"tail"`
}

// histogramBin is the resolution of a group's tail: similarities are counted in bins of this
// width, so that a group of many photos needs no list of its millions of pair scores.
const histogramBin = 0.0005

// GroupImpostorRates measures, for every dimension's every group and for all photos together,
// how many within-group pairs reach each line. Sets of distinct people make every pair an
// impostor pair; where a set may repeat a person, the rates are upper bounds.
func GroupImpostorRates(items []LabelledEmbedding, lines []float32) []GroupFMR {
	groups := map[[2]string][]int{{"all", "all"}: nil}
	for i, it := range items {
		groups[[2]string{"all", "all"}] = append(groups[[2]string{"all", "all"}], i)
		for dim, g := range it.Labels {
			if g != "" {
				groups[[2]string{dim, g}] = append(groups[[2]string{dim, g}], i)
			}
		}
	}
	keys := make([][2]string, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(a, b int) bool {
		if keys[a][0] != keys[b][0] {
			return keys[a][0] == "all" || (keys[b][0] != "all" && keys[a][0] < keys[b][0])
		}
		return keys[a][1] < keys[b][1]
	})
	out := make([]GroupFMR, 0, len(keys))
	for _, k := range keys {
		members := groups[k]
		r := GroupFMR{Dimension: k[0], Group: k[1], Photos: len(members), Lines: lines, FMR: make([]float64, len(lines))}
		above := make([]int, len(lines))
		hist := make([]int, int(2/histogramBin)+1)
		for a := 0; a < len(members); a++ {
			for b := a + 1; b < len(members); b++ {
				s := face.Dot(items[members[a]].Vector, items[members[b]].Vector)
				r.Pairs++
				for l, line := range lines {
					if s >= line {
						above[l]++
					}
				}
				hist[min(len(hist)-1, max(0, int((float64(s)+1)/histogramBin)))]++
			}
		}
		for l := range lines {
			if r.Pairs > 0 {
				r.FMR[l] = float64(above[l]) / float64(r.Pairs)
			}
		}
		r.Tail = histogramTail(hist, r.Pairs)
		out = append(out, r)
	}
	return out
}

// histogramTail reads the similarity at each standard false-match rate from a histogram of
// pairs pair scores: the upper edge of the bin where the count from the top passes the rate,
// so at most that share of pairs reaches it (conservative by one bin at most), for the rates
// with ten pairs or more above.
func histogramTail(hist []int, pairs int) []TailPoint {
	var out []TailPoint
	for _, fmr := range tailFMRs {
		k := int(fmr * float64(pairs))
		if k < 10 {
			break
		}
		above := 0
		for b := len(hist) - 1; b >= 0; b-- {
			above += hist[b]
			if above > k {
				out = append(out, TailPoint{FMR: fmr, Threshold: float64(b+1)*histogramBin - 1})
				break
			}
		}
	}
	return out
}
