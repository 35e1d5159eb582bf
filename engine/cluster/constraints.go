package cluster

import (
	"cmp"
	"slices"
)

// Constraints are what a clustering must honour whatever the similarities say: reviewers'
// "same person" (must-links) and "not the same person" (cannot-links, which also hold between
// two faces of one photo).
type Constraints struct {
	// Must lists pairs of nodes a reviewer judged one person.
	Must [][2]int
	// Cannot reports whether two nodes may never be in one cluster; nil: no such pairs.
	Cannot func(a, b int) bool
}

// Apply makes labels honour c: clusters joined by a must-link are merged, then every cluster
// holding a forbidden pair is split greedily. Units (nodes tied by must-links) are placed in
// order of priority, highest first, each into the first part of its cluster it does not
// conflict with, else into a part of its own; a unit that conflicts with itself (a must-link
// chain across a forbidden pair, which the service refuses to record) is placed node by node.
// The result is renumbered like every method's labels.
func Apply(labels []int, priority []float32, c Constraints) []int {
	n := len(labels)
	merged := newUnionFind(n)
	first := map[int]int{}
	for i, l := range labels {
		if f, ok := first[l]; ok {
			merged.union(i, f)
		} else {
			first[l] = i
		}
	}
	units := newUnionFind(n)
	for _, p := range c.Must {
		a, b := p[0], p[1]
		if a < 0 || b < 0 || a >= n || b >= n {
			continue
		}
		merged.union(a, b)
		units.union(a, b)
	}
	if c.Cannot == nil {
		return merged.labels()
	}
	byCluster := map[int][]int{}
	for i := range n {
		r := merged.find(i)
		byCluster[r] = append(byCluster[r], i)
	}
	out := make([]int, n)
	next := 0
	roots := make([]int, 0, len(byCluster))
	for r := range byCluster {
		roots = append(roots, r)
	}
	slices.Sort(roots)
	for _, r := range roots {
		members := byCluster[r]
		// Units of this cluster, each ordered by priority, units by their best member.
		byUnit := map[int][]int{}
		for _, m := range members {
			u := units.find(m)
			byUnit[u] = append(byUnit[u], m)
		}
		var us [][]int
		for _, u := range byUnit {
			slices.SortFunc(u, func(a, b int) int { return byPriority(priority, a, b) })
			us = append(us, u)
		}
		slices.SortFunc(us, func(a, b []int) int { return byPriority(priority, a[0], b[0]) })
		var parts [][]int
		place := func(unit []int) {
			for pi, part := range parts {
				if !conflicts(unit, part, c.Cannot) {
					parts[pi] = append(part, unit...)
					return
				}
			}
			parts = append(parts, slices.Clone(unit))
		}
		for _, u := range us {
			if conflicts(u, u, c.Cannot) {
				for _, m := range u {
					place([]int{m})
				}
				continue
			}
			place(u)
		}
		for _, part := range parts {
			for _, m := range part {
				out[m] = next
			}
			next++
		}
	}
	return compact(out)
}

func byPriority(priority []float32, a, b int) int {
	if c := cmp.Compare(priority[b], priority[a]); c != 0 {
		return c
	}
	return cmp.Compare(a, b)
}

// conflicts reports whether any node of a may not share a cluster with any node of b.
func conflicts(a, b []int, cannot func(x, y int) bool) bool {
	for _, x := range a {
		for _, y := range b {
			if x != y && cannot(x, y) {
				return true
			}
		}
	}
	return false
}
