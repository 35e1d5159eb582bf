package cluster

import (
	"slices"
	"testing"
)

func TestApply(t *testing.T) {
	pairs := func(ps ...[2]int) func(a, b int) bool {
		return func(a, b int) bool {
			for _, p := range ps {
				if p == [2]int{a, b} || p == [2]int{b, a} {
					return true
				}
			}
			return false
		}
	}
	flat := []float32{1, 1, 1, 1, 1, 1}
	for _, tc := range []struct {
		name     string
		labels   []int
		priority []float32
		c        Constraints
		want     []int
	}{
		{"nothing to honour", []int{0, 0, 1, 1}, flat[:4], Constraints{}, []int{0, 0, 1, 1}},
		{"a must-link joins two clusters", []int{0, 0, 1, 1}, flat[:4], Constraints{Must: [][2]int{{1, 2}}}, []int{0, 0, 0, 0}},
		{"a cannot-link sends the weaker node away", []int{0, 0, 0}, []float32{0.9, 0.5, 0.8}, Constraints{Cannot: pairs([2]int{0, 1})}, []int{0, 1, 0}},
		{"the weaker node joins a part it may share", []int{0, 0, 0, 0}, []float32{0.9, 0.8, 0.7, 0.6},
			Constraints{Cannot: pairs([2]int{0, 1}, [2]int{0, 3})}, []int{0, 1, 0, 1}},
		{"must-linked nodes move together", []int{0, 0, 0, 1}, []float32{0.9, 0.8, 0.1, 0.5},
			Constraints{Must: [][2]int{{2, 3}}, Cannot: pairs([2]int{1, 3})}, []int{0, 0, 1, 1}},
		{"a must-link chain across a forbidden pair is placed node by node", []int{0, 1, 2}, []float32{0.9, 0.8, 0.7},
			Constraints{Must: [][2]int{{0, 1}, {1, 2}}, Cannot: pairs([2]int{0, 2})}, []int{0, 0, 1}},
		{"out-of-range must-links are ignored", []int{0, 1}, flat[:2], Constraints{Must: [][2]int{{0, 9}, {-1, 1}}}, []int{0, 1}},
		{"no nodes", nil, nil, Constraints{Cannot: pairs()}, []int{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Apply(tc.labels, tc.priority, tc.c)
			if !slices.Equal(got, tc.want) {
				t.Errorf("Apply = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestAssign(t *testing.T) {
	// Old nodes 0-2 in cluster 0 and 3-4 in cluster 1; new nodes 5-8.
	labels := []int{0, 0, 0, 1, 1, -1, -1, -1, -1}
	neighbours := make([][]Edge, 9)
	neighbours[5] = []Edge{{To: 0, Sim: 0.9}, {To: 1, Sim: 0.9}, {To: 3, Sim: 0.95}} // cluster 0 wins by sum
	neighbours[6] = []Edge{{To: 3, Sim: 0.92}, {To: 0, Sim: 0.5}}                    // below the line for 0
	neighbours[7] = []Edge{{To: 8, Sim: 0.9}}                                        // only a later new node
	neighbours[8] = []Edge{{To: 7, Sim: 0.9}, {To: 2, Sim: 0.6}}
	got := Assign(labels, neighbours, 0.8, nil)
	want := []int{0, 0, 0, 1, 1, 0, 1, 2, 2}
	if !slices.Equal(got, want) {
		t.Errorf("Assign = %v, want %v", got, want)
	}
	if labels[5] != -1 {
		t.Error("Assign changed its input")
	}

	// A constraint sends 5 to the next best cluster, and 6 (forbidden the only one) alone.
	cannot := func(a, b int) bool {
		return a == 5 && b == 1 || a == 1 && b == 5 || (a == 6 || b == 6) && (a == 3 || b == 3)
	}
	got = Assign(labels, neighbours, 0.8, cannot)
	want = []int{0, 0, 0, 1, 1, 1, 2, 3, 3}
	if !slices.Equal(got, want) {
		t.Errorf("Assign with constraints = %v, want %v", got, want)
	}
}
