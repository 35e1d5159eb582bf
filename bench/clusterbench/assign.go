package clusterbench

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/facematch/facematch/bench/synth"
	"github.com/facematch/facematch/engine/cluster"
	"github.com/facematch/facematch/index/graph"
	"github.com/viterin/vek/vek32"
)

// assign draws cfg.Assign new faces like the set's (a new photo is of an existing person chosen
// in proportion to their photos, or, as often as the set's faces are singletons, of someone
// new), assigns each to a cluster through the index, and clusters the grown set from scratch to
// compare.
//
// Incremental assignment: search the HNSW graph for the face's k nearest neighbours (ef as the
// graph's), and exactly the new faces assigned before it (the index's growing segment); the
// neighbours at or above the line vote for their cluster with their similarity; the heaviest
// cluster takes the face, and with no vote it starts its own.
func assign(h *graph.HNSW, vectors []float32, dim int, ids []int32, sizes []int, g cluster.Graph, labels []int,
	model *synth.Model, cfg Config, workers int) (*AssignResult, error) {
	n, na := len(ids), cfg.Assign
	singleFaces := 0
	for _, s := range sizes {
		if s == 1 {
			singleFaces++
		}
	}
	r := rand.New(rand.NewPCG(cfg.Seed, 0xa55))
	newVecs := make([]float32, na*dim)
	newIDs := make([]int32, na)
	res := &AssignResult{Faces: na}
	for j := range na {
		id := int(ids[r.IntN(n)])
		if r.Float64() < float64(singleFaces)/float64(n) {
			id = len(sizes) + j
			res.NewPersons++
		}
		newIDs[j] = int32(id)
		model.SampleOf(cfg.Seed, id, uint64(j), newVecs[j*dim:(j+1)*dim])
	}

	// Incremental, one face after another on one goroutine.
	next := slices.Max(labels) + 1
	newLabels := make([]int, na)
	weight := map[int]float32{}
	start, startCPU := time.Now(), cpuSeconds()
	for j := range na {
		v := newVecs[j*dim : (j+1)*dim]
		hits, err := h.Search(v, cfg.K, cfg.Ef)
		if err != nil {
			return nil, err
		}
		clear(weight)
		for _, nb := range hits {
			if nb.Similarity >= cfg.Line {
				weight[labels[nb.ID]] += nb.Similarity
			}
		}
		for o := range j {
			if s := vek32.Dot(v, newVecs[o*dim:(o+1)*dim]); s >= cfg.Line {
				weight[newLabels[o]] += s
			}
		}
		best, bestW := -1, float32(0)
		for l, w := range weight {
			if w > bestW || (w == bestW && l < best) {
				best, bestW = l, w
			}
		}
		if best < 0 {
			best = next
			next++
		} else {
			res.Joined++
		}
		newLabels[j] = best
	}
	res.MsPerFace = time.Since(start).Seconds() * 1000 / float64(na)
	res.CPUMsPerFace = (cpuSeconds() - startCPU) * 1000 / float64(na)
	res.OfIngest = res.CPUMsPerFace / IngestMsPerPhoto
	incremental := append(slices.Clone(labels), newLabels...)

	// From scratch: the grown set's graph (the old lists with the new faces merged in exactly,
	// the new faces' lists exact), clustered again.
	start = time.Now()
	grown := growGraph(g, vectors, newVecs, dim, cfg.K, workers)
	scratch := Methods[0].Run(grown, cfg.Line, cfg.Rounds, 1)
	res.ScratchSecs = time.Since(start).Seconds()

	truth := make([]string, n+na)
	for i, id := range ids {
		truth[i] = strconv.Itoa(int(id))
	}
	for j, id := range newIDs {
		truth[n+j] = strconv.Itoa(int(id))
	}
	scratchNames := make([]string, len(scratch))
	for i, l := range scratch {
		scratchNames[i] = strconv.Itoa(l)
	}
	res.Agreement = cluster.Score(incremental, scratchNames)
	res.Incremental = cluster.Score(incremental, truth)
	res.Scratch = cluster.Score(scratch, truth)
	res.JoinPrecision, res.JoinRecall = joins(incremental, truth, n)
	res.ScratchJoinPrecision, res.ScratchJoinRecall = joins(scratch, truth, n)
	return res, nil
}

// joins scores the new faces (from index n on): of those put with other faces, the share whose
// cluster is mostly their own person (precision); of those whose person has other faces in
// the set, the share put with one of them (recall).
func joins(labels []int, truth []string, n int) (precision, recall float64) {
	members := map[int]map[string]int{}
	for i, l := range labels {
		if members[l] == nil {
			members[l] = map[string]int{}
		}
		members[l][truth[i]]++
	}
	byPerson := map[string]int{}
	for _, t := range truth {
		byPerson[t]++
	}
	var joined, right, known, found int
	for i := n; i < len(labels); i++ {
		m := members[labels[i]]
		size := 0
		for _, c := range m {
			size += c
		}
		own := m[truth[i]]
		if byPerson[truth[i]] > 1 {
			known++
			if own > 1 {
				found++
			}
		}
		if size > 1 {
			joined++
			if 2*own > size {
				right++
			}
		}
	}
	return ratio(right, joined), ratio(found, known)
}

// growGraph is g with the new vectors appended: each new face's k nearest among all, and each
// old face's list with the new faces that beat its last neighbour merged in.
func growGraph(g cluster.Graph, vectors, newVecs []float32, dim, k, workers int) cluster.Graph {
	n, na := len(vectors)/dim, len(newVecs)/dim
	type hit struct {
		old int
		e   cluster.Edge
	}
	newAdj := make([][]cluster.Edge, na)
	found := make([][]hit, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := w; j < na; j += workers {
				v := newVecs[j*dim : (j+1)*dim]
				var top []cluster.Edge
				consider := func(to int, s float32) {
					if len(top) == k && s <= top[k-1].Sim {
						return
					}
					at, _ := slices.BinarySearchFunc(top, s, func(e cluster.Edge, s float32) int {
						if s > e.Sim {
							return 1
						}
						return -1
					})
					top = slices.Insert(top, at, cluster.Edge{To: int32(to), Sim: s})
					if len(top) > k {
						top = top[:k]
					}
				}
				for o := range n {
					s := vek32.Dot(v, vectors[o*dim:(o+1)*dim])
					consider(o, s)
					if l := g.Adj[o]; len(l) < k || s > l[len(l)-1].Sim {
						found[w] = append(found[w], hit{old: o, e: cluster.Edge{To: int32(n + j), Sim: s}})
					}
				}
				for o := range na {
					if o != j {
						consider(n+o, vek32.Dot(v, newVecs[o*dim:(o+1)*dim]))
					}
				}
				newAdj[j] = top
			}
		}()
	}
	wg.Wait()
	adj := make([][]cluster.Edge, n+na)
	copy(adj, g.Adj)
	copy(adj[n:], newAdj)
	for _, hs := range found {
		for _, h := range hs {
			l := append(slices.Clone(adj[h.old]), h.e)
			slices.SortStableFunc(l, func(a, b cluster.Edge) int {
				switch {
				case a.Sim > b.Sim:
					return -1
				case a.Sim < b.Sim:
					return 1
				}
				return 0
			})
			adj[h.old] = l[:min(len(l), k)]
		}
	}
	return cluster.Graph{Adj: adj}
}
