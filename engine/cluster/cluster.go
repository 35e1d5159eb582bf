// Package cluster groups faces into suggested persons: a k-nearest-neighbour graph of face
// vectors, then one of several methods over it, compared by `facematch eval cluster`
// (bench/RESULTS.md "Clustering"). Each method is written from its paper; none decides an
// identity: a cluster is a proposal for people to confirm.
//
// Pure Go, deterministic for the same input and seed.
package cluster

import (
	"cmp"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
)

// Edge is a neighbour of a node and their similarity.
type Edge struct {
	To  int32
	Sim float32
}

// Graph is a k-nearest-neighbour graph: Adj[i] holds i's neighbours, most similar first.
type Graph struct {
	Adj [][]Edge
}

// N is the number of nodes.
func (g Graph) N() int { return len(g.Adj) }

// KNN builds the graph of each vector's k most similar others (dot product of unit vectors)
// by brute force over every pair, on every core: exact, for evaluations and batches of tens of
// thousands; the service builds its graph from the index instead.
func KNN(vectors [][]float32, k int) Graph {
	n := len(vectors)
	adj := make([][]Edge, n)
	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	next := make(chan int, workers)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				adj[i] = Nearest(vectors, i, k)
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return Graph{Adj: adj}
}

// Nearest is vector i's k most similar others among vectors, best first (ties by index), by
// brute force.
func Nearest(vectors [][]float32, i, k int) []Edge {
	top := make([]Edge, 0, k+1)
	q := vectors[i]
	for j, v := range vectors {
		if j == i {
			continue
		}
		var s float32
		for d := range q {
			s += q[d] * v[d]
		}
		if len(top) == k && s <= top[k-1].Sim {
			continue
		}
		at, _ := slices.BinarySearchFunc(top, s, func(e Edge, s float32) int { return cmp.Compare(s, e.Sim) })
		top = slices.Insert(top, at, Edge{To: int32(j), Sim: s})
		if len(top) > k {
			top = top[:k]
		}
	}
	return top
}

// Components labels the connected components of the graph's edges at or above line (the
// baseline: one weak link merges two people).
func Components(g Graph, line float32) []int {
	u := newUnionFind(g.N())
	for i, es := range g.Adj {
		for _, e := range es {
			if e.Sim >= line {
				u.union(i, int(e.To))
			}
		}
	}
	return u.labels()
}

// ChineseWhispers is Biemann's (2006) label propagation: every node starts alone; in a random
// order each node takes the label with the largest summed similarity among its neighbours above
// line (edges made symmetric), until no label changes or iterations run out.
func ChineseWhispers(g Graph, line float32, iterations int, seed uint64) []int {
	n := g.N()
	sym := symmetric(g, line)
	labels := make([]int, n)
	for i := range labels {
		labels[i] = i
	}
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	weight := map[int]float32{}
	for range iterations {
		r.Shuffle(n, func(a, b int) { order[a], order[b] = order[b], order[a] })
		changed := 0
		for _, i := range order {
			if len(sym[i]) == 0 {
				continue
			}
			clear(weight)
			for _, e := range sym[i] {
				weight[labels[e.To]] += e.Sim
			}
			best, bestW := labels[i], float32(-1)
			for l, w := range weight {
				if w > bestW || (w == bestW && l < best) {
					best, bestW = l, w
				}
			}
			if best != labels[i] {
				labels[i] = best
				changed++
			}
		}
		if changed == 0 {
			break
		}
	}
	return compact(labels)
}

// SharedNeighbours re-scores each edge above line by how much the two nodes' neighbourhoods
// agree (the Jaccard overlap of their k-nearest-neighbour sets, each node counted in its own
// set), as in the neighbour-overlap edge scoring of clustering by shared nearest neighbours
// (Jarvis and Patrick 1973; FC-ES, Liu et al. 2021): two faces of one person share most of their
// neighbours, while a stranger who happens to look alike shares few. Edges whose overlap
// reaches minOverlap are kept, and their connected components are the clusters.
func SharedNeighbours(g Graph, line, minOverlap float32) []int {
	n := g.N()
	sets := make([]map[int32]bool, n)
	for i, es := range g.Adj {
		s := make(map[int32]bool, len(es)+1)
		s[int32(i)] = true
		for _, e := range es {
			if e.Sim >= line {
				s[e.To] = true
			}
		}
		sets[i] = s
	}
	u := newUnionFind(n)
	for i, es := range g.Adj {
		for _, e := range es {
			if e.Sim < line {
				break
			}
			if jaccard(sets[i], sets[e.To]) >= minOverlap {
				u.union(i, int(e.To))
			}
		}
	}
	return u.labels()
}

func jaccard(a, b map[int32]bool) float32 {
	if len(a) > len(b) {
		a, b = b, a
	}
	inter := 0
	for x := range a {
		if b[x] {
			inter++
		}
	}
	return float32(inter) / float32(len(a)+len(b)-inter)
}

// symmetric is the graph's edges at or above line in both directions, once each.
func symmetric(g Graph, line float32) [][]Edge {
	n := g.N()
	seen := make([]map[int32]bool, n)
	out := make([][]Edge, n)
	add := func(a, b int32, s float32) {
		if seen[a] == nil {
			seen[a] = map[int32]bool{}
		}
		if seen[a][b] {
			return
		}
		seen[a][b] = true
		out[a] = append(out[a], Edge{To: b, Sim: s})
	}
	for i, es := range g.Adj {
		for _, e := range es {
			if e.Sim >= line {
				add(int32(i), e.To, e.Sim)
				add(e.To, int32(i), e.Sim)
			}
		}
	}
	return out
}

// compact renumbers labels 0, 1, ... in order of first appearance.
func compact(labels []int) []int {
	ids := map[int]int{}
	out := make([]int, len(labels))
	for i, l := range labels {
		id, ok := ids[l]
		if !ok {
			id = len(ids)
			ids[l] = id
		}
		out[i] = id
	}
	return out
}

type unionFind struct{ parent []int }

func newUnionFind(n int) *unionFind {
	u := &unionFind{parent: make([]int, n)}
	for i := range u.parent {
		u.parent[i] = i
	}
	return u
}

func (u *unionFind) find(x int) int {
	for u.parent[x] != x {
		u.parent[x] = u.parent[u.parent[x]]
		x = u.parent[x]
	}
	return x
}

func (u *unionFind) union(a, b int) {
	ra, rb := u.find(a), u.find(b)
	if ra == rb {
		return
	}
	if ra > rb {
		ra, rb = rb, ra
	}
	u.parent[rb] = ra
}

func (u *unionFind) labels() []int {
	out := make([]int, len(u.parent))
	for i := range out {
		out[i] = u.find(i)
	}
	return compact(out)
}
