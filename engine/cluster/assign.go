package cluster

import "slices"

// Assign places new nodes among existing clusters without clustering again: what an ingest job
// does with the faces it adds. labels holds each node's cluster, -1 for a new node;
// neighbours[i] lists new node i's nearest nodes (old or new, most similar first; other nodes'
// lists are not read).
//
// New nodes are placed in order. Each joins the cluster with the largest summed similarity
// among its neighbours at or above line whose cluster is known (old nodes and new nodes placed
// before it), the vote label propagation takes, unless cannot forbids it a member of that
// cluster (then the next best); with no such cluster it starts one of its own. A second pass
// lets a node that started alone join a cluster its later neighbours made. New clusters are
// numbered after the largest label given; old nodes keep theirs.
func Assign(labels []int, neighbours [][]Edge, line float32, cannot func(a, b int) bool) []int {
	out := slices.Clone(labels)
	next := 0
	members := map[int][]int{}
	var fresh []int
	for i, l := range out {
		if l < 0 {
			fresh = append(fresh, i)
			continue
		}
		members[l] = append(members[l], i)
		next = max(next, l+1)
	}
	allowed := func(i, l int) bool {
		if cannot == nil {
			return true
		}
		for _, m := range members[l] {
			if m != i && cannot(i, m) {
				return false
			}
		}
		return true
	}
	// vote returns the best cluster for node i other than its own, or -1.
	vote := func(i int) int {
		weight := map[int]float32{}
		var order []int
		for _, e := range neighbours[i] {
			if e.Sim < line || int(e.To) == i || int(e.To) >= len(out) {
				continue
			}
			l := out[e.To]
			if l < 0 || l == out[i] {
				continue
			}
			if _, ok := weight[l]; !ok {
				order = append(order, l)
			}
			weight[l] += e.Sim
		}
		slices.SortStableFunc(order, func(a, b int) int {
			switch {
			case weight[a] > weight[b]:
				return -1
			case weight[a] < weight[b]:
				return 1
			}
			return a - b
		})
		for _, l := range order {
			if allowed(i, l) {
				return l
			}
		}
		return -1
	}
	for _, i := range fresh {
		if l := vote(i); l >= 0 {
			out[i] = l
		} else {
			out[i] = next
			next++
		}
		members[out[i]] = append(members[out[i]], i)
	}
	for _, i := range fresh {
		if len(members[out[i]]) != 1 {
			continue
		}
		if l := vote(i); l >= 0 {
			delete(members, out[i])
			out[i] = l
			members[l] = append(members[l], i)
		}
	}
	return out
}
