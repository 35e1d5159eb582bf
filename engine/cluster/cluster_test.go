package cluster

import (
	"math"
	"slices"
	"testing"
)

// cliques is two groups of five nodes, every pair within a group at 0.9, and one bridge edge
// between node 0 and node 5 at bridge: the case where one look-alike pair joins two people.
func cliques(bridge float32) Graph {
	adj := make([][]Edge, 10)
	for i := range 10 {
		for j := range 10 {
			if i != j && i/5 == j/5 {
				adj[i] = append(adj[i], Edge{To: int32(j), Sim: 0.9})
			}
		}
	}
	adj[0] = append([]Edge{{To: 5, Sim: bridge}}, adj[0]...)
	adj[5] = append([]Edge{{To: 0, Sim: bridge}}, adj[5]...)
	return Graph{Adj: adj}
}

func groups(labels []int) int {
	seen := map[int]bool{}
	for _, l := range labels {
		seen[l] = true
	}
	return len(seen)
}

func TestMethodsOnTwoCliquesWithABridge(t *testing.T) {
	for _, tc := range []struct {
		name   string
		method func(Graph) []int
		weak   int // clusters with a bridge below the line
		strong int // with a bridge above it
	}{
		{"components", func(g Graph) []int { return Components(g, 0.8) }, 2, 1},
		{"chinese whispers", func(g Graph) []int { return ChineseWhispers(g, 0.8, 20, 1) }, 2, 2},
		{"shared neighbours", func(g Graph) []int { return SharedNeighbours(g, 0.8, 0.3) }, 2, 2},
	} {
		if got := groups(tc.method(cliques(0.5))); got != tc.weak {
			t.Errorf("%s, weak bridge: %d clusters, want %d", tc.name, got, tc.weak)
		}
		if got := groups(tc.method(cliques(0.95))); got != tc.strong {
			t.Errorf("%s, strong bridge: %d clusters, want %d", tc.name, got, tc.strong)
		}
	}
	// The same seed gives the same answer.
	if a, b := ChineseWhispers(cliques(0.95), 0.8, 20, 7), ChineseWhispers(cliques(0.95), 0.8, 20, 7); !slices.Equal(a, b) {
		t.Errorf("Chinese Whispers differs between runs with one seed: %v, %v", a, b)
	}
}

func TestKNN(t *testing.T) {
	unit := func(a float64) []float32 { return []float32{float32(math.Cos(a)), float32(math.Sin(a))} }
	vs := [][]float32{unit(0), unit(0.1), unit(0.3), unit(3)}
	g := KNN(vs, 2)
	if len(g.Adj[0]) != 2 || g.Adj[0][0].To != 1 || g.Adj[0][1].To != 2 || g.Adj[0][0].Sim < g.Adj[0][1].Sim {
		t.Errorf("neighbours of 0: %+v, want 1 then 2", g.Adj[0])
	}
	if g.Adj[3][0].To != 2 {
		t.Errorf("neighbours of 3: %+v, want 2 first", g.Adj[3])
	}
}

func TestScore(t *testing.T) {
	truth := []string{"a", "a", "a", "b", "b", "c"}
	for _, tc := range []struct {
		name   string
		labels []int
		want   Scores
	}{
		{"perfect", []int{0, 0, 0, 1, 1, 2}, Scores{Items: 6, Identities: 3, Clusters: 3, Singletons: 1, PairwisePrecision: 1, PairwiseRecall: 1, PairwiseF: 1, BCubedPrecision: 1, BCubedRecall: 1, BCubedF: 1, NMI: 1}},
		// One cluster: 4 of its 15 pairs are one person's; every true pair found.
		{"all in one", []int{0, 0, 0, 0, 0, 0}, Scores{Items: 6, Identities: 3, Clusters: 1, PairwisePrecision: 4.0 / 15, PairwiseRecall: 1, PairwiseF: 2 * (4.0 / 15) / (4.0/15 + 1),
			BCubedPrecision: (3*3.0/6 + 2*2.0/6 + 1.0/6) / 6, BCubedRecall: 1, NMI: 0}},
		// Singletons claim no pair: precision 1 by convention, recall 0.
		{"singletons", []int{0, 1, 2, 3, 4, 5}, Scores{Items: 6, Identities: 3, Clusters: 6, Singletons: 6, PairwisePrecision: 1, PairwiseRecall: 0, PairwiseF: 0,
			BCubedPrecision: 1, BCubedRecall: (3*1.0/3 + 2*1.0/2 + 1) / 6}},
	} {
		got := Score(tc.labels, truth)
		tc.want.BCubedF = harmonic(tc.want.BCubedPrecision, tc.want.BCubedRecall)
		if tc.name == "singletons" {
			got.NMI, tc.want.NMI = 0, 0 // checked by the others
		}
		near := func(a, b float64) bool { return math.Abs(a-b) < 1e-9 }
		if got.Items != tc.want.Items || got.Identities != tc.want.Identities || got.Clusters != tc.want.Clusters || got.Singletons != tc.want.Singletons ||
			!near(got.PairwisePrecision, tc.want.PairwisePrecision) || !near(got.PairwiseRecall, tc.want.PairwiseRecall) || !near(got.PairwiseF, tc.want.PairwiseF) ||
			!near(got.BCubedPrecision, tc.want.BCubedPrecision) || !near(got.BCubedRecall, tc.want.BCubedRecall) || !near(got.BCubedF, tc.want.BCubedF) || !near(got.NMI, tc.want.NMI) {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.name, got, tc.want)
		}
	}
}
