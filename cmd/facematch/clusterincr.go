package main

import (
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/facematch/facematch/engine/cluster"
)

// incrementalRun is how faces placed as they arrive (cluster.Assign, as an ingest job does)
// compare with clustering all of them from scratch.
type incrementalRun struct {
	Set     string  `json:"set"`
	First   float64 `json:"first_share"` // clustered from scratch before the rest arrived
	Batch   int     `json:"batch"`       // faces placed together, as one job batch
	Faces   int     `json:"faces"`
	Arrived int     `json:"arrived"`
	// Agreement scores the incremental labels against the from-scratch ones as if those were
	// the truth; Incremental and Scratch each against the identities.
	Agreement   cluster.Scores `json:"agreement"`
	Incremental cluster.Scores `json:"incremental"`
	Scratch     cluster.Scores `json:"scratch"`
	// AssignMsPerFace is the cost of the placing alone (the vote and the constraints), not of
	// finding each face's neighbours, which the service asks its index for.
	AssignMsPerFace float64 `json:"assign_ms_per_face"`
}

// measureIncremental clusters a random share first of the faces from scratch (method on the
// exact k-nearest-neighbour graph, as the service does), places the others in
// arrival order, batch by batch, with cluster.Assign (each batch's faces see the faces already
// present and each other, as the index shows them to an ingest job), and compares the result
// with clustering every face from scratch.
func measureIncremental(vectors [][]float32, truth []string, k int, line float32, first float64, batch int, seed uint64, method func(cluster.Graph) []int) incrementalRun {
	n := len(vectors)
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	rand.New(rand.NewPCG(seed, seed+1)).Shuffle(n, func(a, b int) { order[a], order[b] = order[b], order[a] })
	vs := make([][]float32, n)
	ts := make([]string, n)
	for j, i := range order {
		vs[j], ts[j] = vectors[i], truth[i]
	}
	scratch := method(cluster.KNN(vs, k))
	m := int(first * float64(n))
	labels := make([]int, n)
	for i := range labels {
		labels[i] = -1
	}
	copy(labels, method(cluster.KNN(vs[:m], k)))
	var assign time.Duration
	for lo := m; lo < n; lo += batch {
		hi := min(n, lo+batch)
		neighbours := make([][]cluster.Edge, hi)
		for i := lo; i < hi; i++ {
			neighbours[i] = cluster.Nearest(vs[:hi], i, k)
		}
		t := time.Now()
		placed := cluster.Assign(labels[:hi], neighbours, line, nil)
		assign += time.Since(t)
		copy(labels, placed)
	}
	run := incrementalRun{First: first, Batch: batch, Faces: n, Arrived: n - m,
		Agreement: cluster.Score(labels, labelStrings(scratch)), Incremental: cluster.Score(labels, ts), Scratch: cluster.Score(scratch, ts)}
	if n > m {
		run.AssignMsPerFace = float64(assign.Microseconds()) / 1000 / float64(n-m)
	}
	return run
}

func labelStrings(labels []int) []string {
	out := make([]string, len(labels))
	for i, l := range labels {
		out[i] = strconv.Itoa(l)
	}
	return out
}
