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
}

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
		for a := 0; a < len(members); a++ {
			for b := a + 1; b < len(members); b++ {
				s := face.Dot(items[members[a]].Vector, items[members[b]].Vector)
				r.Pairs++
				for l, line := range lines {
					if s >= line {
						above[l]++
					}
				}
			}
		}
		for l := range lines {
			if r.Pairs > 0 {
				r.FMR[l] = float64(above[l]) / float64(r.Pairs)
			}
		}
		out = append(out, r)
	}
	return out
}
