package cluster

import (
	"math"
	"math/rand/v2"
	"slices"
)

// Infomap is Rosvall and Bergstrom's (2008) map equation, minimised: the clusters are the
// partition under which a random walker on the graph is described most briefly, with one
// codebook naming the clusters it enters and one per cluster naming the faces it visits
// inside. A group of faces the walker rarely leaves is worth a cluster; a weak bridge between
// two groups is not enough to merge them, while a long chain of strong links is (the walker
// stays in it). The graph is the kNN edges at or above line, made undirected, each weighted
// by weight(similarity); on an undirected graph the walker's flow through a face is its share
// of the total weight, so no teleportation is needed.
//
// The search is the paper's greedy core, in the manner of Louvain: in a random order (from
// seed) each node moves to the neighbouring cluster (or a new one) that shortens the code
// most, until no move helps; the clusters then become the nodes of a smaller graph and the
// moves repeat, until nothing moves. Then single faces are moved again between the clusters
// found (the paper's fine tuning) and the clusters re-aggregated, while that shortens the code.
// Faces without an edge at or above line stay alone. Deterministic for a graph and seed.
func Infomap(g Graph, line float32, weight func(sim float32) float64, seed uint64) []int {
	fg := newFlowGraph(g, line, weight)
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	labels := fg.coarsen(identity(fg.n()), r)
	best := fg.codeLength(labels)
	for range 10 {
		tuned := slices.Clone(labels)
		if !fg.optimise(tuned, r) {
			break
		}
		tuned = fg.coarsen(tuned, r)
		l := fg.codeLength(tuned)
		if l >= best-1e-10 {
			break
		}
		labels, best = tuned, l
	}
	out := make([]int, len(labels))
	for i, l := range labels {
		out[i] = int(l)
	}
	return compact(out)
}

// flowGraph is an undirected graph as a random walker's flow: the share of steps spent at each
// node, the share of steps that leave it for another node, and the flow along each link (each
// way; an undirected link of weight w carries w/2W each way, W the total weight).
type flowGraph struct {
	flow  []float64    // p: the walker's visit rate of each node
	exit  []float64    // the rate at which the walker steps from the node to another
	links [][]flowLink // to other nodes, both ways, each pair once a way
}

type flowLink struct {
	to   int32
	flow float64
}

func (fg *flowGraph) n() int { return len(fg.flow) }

// newFlowGraph is g's edges at or above line, undirected, as flow.
func newFlowGraph(g Graph, line float32, weight func(float32) float64) *flowGraph {
	sym := symmetric(g, line)
	fg := &flowGraph{flow: make([]float64, len(sym)), exit: make([]float64, len(sym)), links: make([][]flowLink, len(sym))}
	var total float64 // 2W: every link counted both ways
	for i, es := range sym {
		fg.links[i] = make([]flowLink, 0, len(es))
		for _, e := range es {
			w := weight(e.Sim)
			if w <= 0 || int(e.To) == i {
				continue
			}
			fg.links[i] = append(fg.links[i], flowLink{to: e.To, flow: w})
			total += w
		}
	}
	if total == 0 {
		return fg
	}
	for i, ls := range fg.links {
		for j := range ls {
			ls[j].flow /= total
			fg.flow[i] += ls[j].flow
		}
		fg.exit[i] = fg.flow[i]
	}
	return fg
}

// plogp is p log2 p, 0 at 0.
func plogp(p float64) float64 {
	if p <= 0 {
		return 0
	}
	return p * math.Log2(p)
}

// codeLength is the map equation's two-level description length, in bits per step, of the
// walk on fg with modules (a module per node):
//
//	L = q log q − 2 Σ q_m log q_m − Σ p_α log p_α + Σ (q_m + p_m) log(q_m + p_m)
//
// where q_m is the rate at which the walker leaves module m, q = Σ q_m, p_α a node's visit
// rate and p_m the sum of its module's.
func (fg *flowGraph) codeLength(modules []int32) float64 {
	q := map[int32]float64{}
	p := map[int32]float64{}
	var nodes float64
	for i, m := range modules {
		p[m] += fg.flow[i]
		nodes += plogp(fg.flow[i])
		q[m] += fg.exit[i]
		for _, l := range fg.links[i] {
			if modules[l.to] == m {
				q[m] -= l.flow
			}
		}
	}
	var total, exits, enclosed float64
	for _, m := range sortedKeys(p) {
		total += q[m]
		exits += plogp(q[m])
		enclosed += plogp(q[m] + p[m])
	}
	return plogp(total) - 2*exits - nodes + enclosed
}

func sortedKeys(m map[int32]float64) []int32 {
	keys := make([]int32, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// coarsen improves a partition of fg's nodes (a module id in [0, n) per node) by node moves,
// then by moves of whole modules as the nodes of the aggregated graph, until nothing moves; it
// returns the partition found, renumbered.
func (fg *flowGraph) coarsen(modules []int32, r *rand.Rand) []int32 {
	nodeOf := identity(fg.n()) // each of fg's nodes' node in cur
	cur, modules := fg, slices.Clone(modules)
	for level := 0; ; level++ {
		if moved := cur.optimise(modules, r); level > 0 && !moved {
			return nodeOf
		}
		next, renumbered := cur.aggregate(modules)
		for i, v := range nodeOf {
			nodeOf[i] = renumbered[modules[v]]
		}
		if next.n() == cur.n() {
			return nodeOf
		}
		cur, modules = next, identity(next.n())
	}
}

func identity(n int) []int32 {
	out := make([]int32, n)
	for i := range out {
		out[i] = int32(i)
	}
	return out
}

// optimise moves fg's nodes, one at a time in random orders, each to the neighbouring module
// (or an empty one) that shortens the code length most, until a round moves none. modules
// (a module id in [0, n) per node) is updated in place; it reports whether any node moved.
func (fg *flowGraph) optimise(modules []int32, r *rand.Rand) bool {
	n := fg.n()
	exit := make([]float64, n) // q_m
	flow := make([]float64, n) // p_m
	members := make([]int, n)
	for i, m := range modules {
		flow[m] += fg.flow[i]
		exit[m] += fg.exit[i]
		members[m]++
		for _, l := range fg.links[i] {
			if modules[l.to] == m {
				exit[m] -= l.flow
			}
		}
	}
	var total float64 // q
	var empty []int32
	for m := range n {
		total += exit[m]
		if members[m] == 0 {
			empty = append(empty, int32(m))
		}
	}
	order := identity(n)
	toModule := make([]float64, n) // flow from the node to each module, for the ones in touched
	inTouched := make([]bool, n)
	var touched []int32
	moved := false
	for range 200 {
		r.Shuffle(n, func(a, b int) { order[a], order[b] = order[b], order[a] })
		moves := 0
		for _, i := range order {
			if len(fg.links[i]) == 0 {
				continue
			}
			a := modules[i]
			touched = append(touched[:0], a)
			inTouched[a] = true
			for _, l := range fg.links[i] {
				m := modules[l.to]
				if !inTouched[m] {
					inTouched[m] = true
					touched = append(touched, m)
				}
				toModule[m] += l.flow
			}
			pi, oi := fg.flow[i], fg.exit[i]
			// Module a without node i: its links into a become exits, its other exits are gone.
			qa, pa := exit[a]-oi+2*toModule[a], flow[a]-pi
			leave := -2*(plogp(qa)-plogp(exit[a])) + plogp(qa+pa) - plogp(exit[a]+flow[a])
			delta := func(b int32) (float64, float64) {
				qb := exit[b] + oi - 2*toModule[b]
				q := total + qa - exit[a] + qb - exit[b]
				return plogp(q) - plogp(total) + leave - 2*(plogp(qb)-plogp(exit[b])) + plogp(qb+flow[b]+pi) - plogp(exit[b]+flow[b]), qb
			}
			best, bestDelta, bestExit := a, -1e-12, 0.0
			for _, b := range touched[1:] {
				if d, qb := delta(b); d < bestDelta {
					best, bestDelta, bestExit = b, d, qb
				}
			}
			if members[a] > 1 && len(empty) > 0 {
				b := empty[len(empty)-1]
				if d, qb := delta(b); d < bestDelta {
					best, bestDelta, bestExit = b, d, qb
				}
			}
			for _, m := range touched {
				inTouched[m], toModule[m] = false, 0
			}
			if best == a {
				continue
			}
			if members[best] == 0 {
				empty = empty[:len(empty)-1]
			}
			total += qa - exit[a] + bestExit - exit[best]
			exit[a], flow[a] = qa, pa
			exit[best], flow[best] = bestExit, flow[best]+pi
			members[a]--
			members[best]++
			if members[a] == 0 {
				exit[a], flow[a] = 0, 0
				empty = append(empty, a)
			}
			modules[i] = best
			moves++
		}
		if moves == 0 {
			break
		}
		moved = true
	}
	return moved
}

// aggregate is the graph whose nodes are fg's modules (numbered in order of first appearance)
// with the flow between them, and each module's new number.
func (fg *flowGraph) aggregate(modules []int32) (*flowGraph, []int32) {
	renumbered := make([]int32, fg.n())
	for i := range renumbered {
		renumbered[i] = -1
	}
	var count int32
	for _, m := range modules {
		if renumbered[m] < 0 {
			renumbered[m] = count
			count++
		}
	}
	next := &flowGraph{flow: make([]float64, count), exit: make([]float64, count), links: make([][]flowLink, count)}
	between := make([]map[int32]float64, count)
	for i, m := range modules {
		a := renumbered[m]
		next.flow[a] += fg.flow[i]
		for _, l := range fg.links[i] {
			b := renumbered[modules[l.to]]
			if b == a {
				continue
			}
			if between[a] == nil {
				between[a] = map[int32]float64{}
			}
			between[a][b] += l.flow
		}
	}
	for a, to := range between {
		for _, b := range sortedKeys(to) {
			next.links[a] = append(next.links[a], flowLink{to: b, flow: to[b]})
			next.exit[a] += to[b]
		}
	}
	return next, renumbered
}

// ExpWeight is the edge weight chosen for Infomap (bench/RESULTS.md "Clustering"):
// e^((s − line)/0.05), so that an edge 0.05 more similar carries e times the flow, and a pair
// just over the line, most often two strangers who look alike, carries little of it.
func ExpWeight(line float32) func(sim float32) float64 {
	return func(s float32) float64 { return math.Exp(float64(s-line) / 0.05) }
}
