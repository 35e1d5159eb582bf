package main

import (
	"math"
	"testing"

	"github.com/facematch/facematch/engine/cluster"
)

// TestMeasureIncremental: on well separated people, faces placed as they arrive end where
// clustering from scratch puts them.
func TestMeasureIncremental(t *testing.T) {
	var vs [][]float32
	var truth []string
	for p := range 20 {
		for v := range 5 {
			// Person p near axis p of a 40-dimensional space, each photo a little off it.
			x := make([]float32, 40)
			x[p] = 1
			x[20+(p+v)%20] = 0.2
			var n float64
			for _, c := range x {
				n += float64(c * c)
			}
			for d := range x {
				x[d] /= float32(math.Sqrt(n))
			}
			vs = append(vs, x)
			truth = append(truth, string(rune('A'+p)))
		}
	}
	r := measureIncremental(vs, truth, 10, 0.88, 0.5, 7, 1, func(g cluster.Graph) []int { return cluster.Infomap(g, 0.88, cluster.ExpWeight(0.88), 1) })
	if r.Faces != 100 || r.Arrived != 50 {
		t.Fatalf("faces %d, arrived %d", r.Faces, r.Arrived)
	}
	if r.Agreement.BCubedF != 1 || r.Incremental.BCubedF != 1 || r.Scratch.BCubedF != 1 {
		t.Errorf("agreement %+v, incremental %+v, scratch %+v: want all perfect on separated people", r.Agreement, r.Incremental, r.Scratch)
	}
}
