package clusterbench

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/facematch/facematch/bench/synth"
)

// The fused line carried to Faceplugin512's similarity at the same calibrated log-likelihood
// ratio (face.Calibrations): 0.88 → 0.529, 0.87 (the service's) → 0.4645.
func TestEquivalentLine(t *testing.T) {
	for _, tc := range []struct{ fused, want float64 }{{0.88, 0.529}, {0.87, 0.4645}} {
		if got := EquivalentLine(tc.fused); math.Abs(float64(got)-tc.want) > 0.002 {
			t.Errorf("EquivalentLine(%v) = %.4f, want %v", tc.fused, got, tc.want)
		}
	}
}

// toyModel is a synthetic model fitted to 32-d toy embeddings (identities are random
// directions of an anisotropic spectrum, photos add noise).
func toyModel(t *testing.T) (*synth.Model, synth.Stats) {
	r := rand.New(rand.NewPCG(1, 2))
	var embs [][]float32
	var labels []string
	for id := range 200 {
		c := make([]float64, 32)
		for i := range c {
			c[i] = r.NormFloat64() * (1 + float64(i%4))
		}
		for range 3 {
			v := make([]float32, 32)
			var ss float64
			for i := range v {
				x := c[i] + 0.8*r.NormFloat64()
				v[i] = float32(x)
				ss += x * x
			}
			for i := range v {
				v[i] /= float32(math.Sqrt(ss))
			}
			embs = append(embs, v)
			labels = append(labels, fmt.Sprint(id))
		}
	}
	m, err := synth.Fit(embs, labels)
	if err != nil {
		t.Fatal(err)
	}
	m.PhotoSpread = PhotoSpread
	return m, m.Calibrate(0.75)
}

// TestRun runs the whole benchmark small: every graph, the method, the assignment.
func TestRun(t *testing.T) {
	m, st := toyModel(t)
	res, err := Run(context.Background(), m, st, Config{N: 3000, K: 10, Line: 0.5, Graphs: []string{GraphSearch, GraphBase, GraphExact, "search:20"},
		Sample: 200, Assign: 100, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Graphs) != 4 || len(res.Runs) != 4*len(Methods) || res.Assign == nil {
		t.Fatalf("result incomplete: %+v", res)
	}
	for _, g := range res.Graphs {
		if g.TrueEdges == 0 || g.EdgeRecall < 0.5 {
			t.Errorf("%s graph: edge recall %.3f over %d true edges", g.Source, g.EdgeRecall, g.TrueEdges)
		}
	}
	if res.Graphs[2].EdgeRecall != 1 || res.Graphs[2].RecallAtK != 1 {
		t.Errorf("the exact graph misses its own edges: %+v", res.Graphs[2])
	}
	for _, r := range res.Runs {
		if r.Items != 3000 || r.BCubedF < 0.5 {
			t.Errorf("%s on %s: %+v", r.Method, r.Graph, r.Scores)
		}
	}
	if a := res.Assign; a.Agreement.Items != 3100 || a.Agreement.BCubedF < 0.9 || a.MsPerFace <= 0 {
		t.Errorf("assignment: %+v", a)
	}
	if res.PeakRSSMiB <= 0 {
		t.Error("no peak RSS")
	}
}

// TestGrowGraph checks the grown graph against the exact graph of all the vectors.
func TestGrowGraph(t *testing.T) {
	m, _ := toyModel(t)
	const n, na, k = 500, 40, 8
	all := make([]float32, (n+na)*m.Dim)
	m.Generate(all, synth.Sizes(n+na, 1), 1, 2)
	old, added := all[:n*m.Dim], all[n*m.Dim:]
	nodes := make([]int, n)
	for i := range nodes {
		nodes[i] = i
	}
	g := toCluster(exactKNN(old, m.Dim, k, nodes, 2))
	grown := growGraph(g, old, added, m.Dim, k, 2)
	nodes = append(nodes, make([]int, na)...)
	for i := range nodes {
		nodes[i] = i
	}
	want := toCluster(exactKNN(all, m.Dim, k, nodes, 2))
	for i := range want.Adj {
		if len(grown.Adj[i]) != k {
			t.Fatalf("node %d: %d neighbours, want %d", i, len(grown.Adj[i]), k)
		}
		for j, e := range want.Adj[i] {
			if got := grown.Adj[i][j]; got.Sim != e.Sim {
				t.Fatalf("node %d neighbour %d: %+v, want %+v", i, j, got, e)
			}
		}
	}
}
