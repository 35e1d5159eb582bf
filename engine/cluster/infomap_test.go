package cluster

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func sim(s float32) float64 { return float64(s) }

// ringOfCliques is count groups of size nodes, every pair within a group at 0.9, and group g's
// first node joined to group g+1's last (around the ring) at 0.9 too: the case where
// modularity's resolution limit merges neighbouring groups and the map equation does not.
func ringOfCliques(count, size int) (Graph, []string) {
	n := count * size
	adj := make([][]Edge, n)
	truth := make([]string, n)
	for i := range n {
		truth[i] = string(rune('a' + i/size))
		for j := range n {
			if i != j && i/size == j/size {
				adj[i] = append(adj[i], Edge{To: int32(j), Sim: 0.9})
			}
		}
	}
	for c := range count {
		a, b := c*size, ((c+1)%count)*size+size-1
		adj[a] = append(adj[a], Edge{To: int32(b), Sim: 0.9})
		adj[b] = append(adj[b], Edge{To: int32(a), Sim: 0.9})
	}
	return Graph{Adj: adj}, truth
}

func TestInfomap(t *testing.T) {
	ring, ringTruth := ringOfCliques(12, 5)
	for _, tc := range []struct {
		name  string
		g     Graph
		line  float32
		want  []int // labels, compacted
		truth []string
	}{
		{"empty graph", Graph{}, 0.8, []int{}, nil},
		{"single node", Graph{Adj: [][]Edge{nil}}, 0.8, []int{0}, nil},
		{"two nodes below the line", Graph{Adj: [][]Edge{{{To: 1, Sim: 0.5}}, {{To: 0, Sim: 0.5}}}}, 0.8, []int{0, 1}, nil},
		{"two nodes above the line", Graph{Adj: [][]Edge{{{To: 1, Sim: 0.9}}, nil}}, 0.8, []int{0, 0}, nil},
		{"two cliques, weak bridge", cliques(0.5), 0.8, []int{0, 0, 0, 0, 0, 1, 1, 1, 1, 1}, nil},
		// The bridge is above the line, yet a walker seldom crosses it: still two people.
		{"two cliques, strong bridge", cliques(0.95), 0.8, []int{0, 0, 0, 0, 0, 1, 1, 1, 1, 1}, nil},
		{"ring of cliques", ring, 0.8, nil, ringTruth},
	} {
		got := Infomap(tc.g, tc.line, sim, 1)
		if tc.truth != nil {
			if s := Score(got, tc.truth); s.BCubedF != 1 {
				t.Errorf("%s: %v, scores %+v", tc.name, got, s)
			}
			continue
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestInfomapDeterministicPerSeed(t *testing.T) {
	// Noisy groups: 30 people of 6 faces around random centres, in 16 dimensions.
	r := rand.New(rand.NewPCG(3, 4))
	var vs [][]float32
	for range 30 {
		centre := make([]float64, 16)
		for d := range centre {
			centre[d] = r.NormFloat64()
		}
		for range 6 {
			v := make([]float32, 16)
			var norm float64
			for d := range v {
				x := centre[d] + 0.6*r.NormFloat64()
				v[d], norm = float32(x), norm+x*x
			}
			for d := range v {
				v[d] /= float32(math.Sqrt(norm))
			}
			vs = append(vs, v)
		}
	}
	g := KNN(vs, 10)
	a, b := Infomap(g, 0.3, sim, 7), Infomap(g, 0.3, sim, 7)
	if !slices.Equal(a, b) {
		t.Errorf("one seed, two answers:\n%v\n%v", a, b)
	}
	if groups(a) < 10 || groups(a) > 60 {
		t.Errorf("%d clusters for 30 people", groups(a))
	}
}

// TestCodeLength checks the map equation on two triangles joined by one edge, every weight 1
// (7 edges, 2W = 14): the nodes' visit rates are their degrees over 14 (2, 2, 3 | 3, 2, 2).
func TestCodeLength(t *testing.T) {
	adj := make([][]Edge, 6)
	link := func(a, b int32) {
		adj[a] = append(adj[a], Edge{To: b, Sim: 1})
		adj[b] = append(adj[b], Edge{To: a, Sim: 1})
	}
	link(0, 1)
	link(0, 2)
	link(1, 2)
	link(3, 4)
	link(3, 5)
	link(4, 5)
	link(2, 3)
	fg := newFlowGraph(Graph{Adj: adj}, 0.5, sim)
	var h float64 // the entropy of the visit rates, H(P) = 2.5567 bits
	for _, d := range []float64{2, 2, 3, 3, 2, 2} {
		h -= d / 14 * math.Log2(d/14)
	}
	for _, tc := range []struct {
		name    string
		modules []int32
		want    float64
	}{
		// One module: no exits, the walk is coded by the visit rates alone.
		{"one module", []int32{0, 0, 0, 0, 0, 0}, h},
		// Two triangles, each left at rate 1/14 (q = 1/7), each holding half the flow:
		// q log q − 2·2·(1/14) log(1/14) + H(P) + 2·(1/14 + 1/2) log(1/14 + 1/2) = 2.3207 bits.
		{"two triangles", []int32{0, 0, 0, 1, 1, 1}, 2.3207303568337903},
		// Every node alone: q_m = p_m, so H(P) + Σ 2p log 2p − Σ 2p log p + 1·log 1 = H(P) + 2.
		{"all alone", []int32{0, 1, 2, 3, 4, 5}, h + 2},
	} {
		if got := fg.codeLength(tc.modules); math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("%s: %.10f bits, want %.10f", tc.name, got, tc.want)
		}
	}
	if got := Infomap(Graph{Adj: adj}, 0.5, sim, 1); !slices.Equal(got, []int{0, 0, 0, 1, 1, 1}) {
		t.Errorf("Infomap on two triangles: %v", got)
	}
}
