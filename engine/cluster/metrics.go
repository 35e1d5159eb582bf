package cluster

import "math"

// Scores compares a clustering with the true identities, the ways face clustering papers do.
type Scores struct {
	Items             int     `json:"faces"`
	Identities        int     `json:"identities"`
	Clusters          int     `json:"clusters"`
	Singletons        int     `json:"singleton_clusters"`
	PairwisePrecision float64 `json:"pairwise_precision"` // of the pairs put together, the share that are one person
	PairwiseRecall    float64 `json:"pairwise_recall"`    // of the pairs of one person, the share put together
	PairwiseF         float64 `json:"pairwise_f"`
	BCubedPrecision   float64 `json:"bcubed_precision"` // per face: the share of its cluster that is its person, averaged
	BCubedRecall      float64 `json:"bcubed_recall"`    // per face: the share of its person in its cluster, averaged
	BCubedF           float64 `json:"bcubed_f"`
	NMI               float64 `json:"nmi"` // mutual information over the geometric mean of the entropies
}

// Score compares labels (a cluster per item) with truth (an identity per item).
func Score(labels []int, truth []string) Scores {
	n := len(labels)
	s := Scores{Items: n}
	if n == 0 {
		return s
	}
	type cell struct {
		c int
		t string
	}
	cells := map[cell]int{}
	clusters := map[int]int{}
	classes := map[string]int{}
	for i, l := range labels {
		cells[cell{l, truth[i]}]++
		clusters[l]++
		classes[truth[i]]++
	}
	s.Clusters, s.Identities = len(clusters), len(classes)
	for _, size := range clusters {
		if size == 1 {
			s.Singletons++
		}
	}
	pairs := func(k int) float64 { return float64(k) * float64(k-1) / 2 }
	var tp, predicted, actual float64
	for _, k := range cells {
		tp += pairs(k)
	}
	for _, k := range clusters {
		predicted += pairs(k)
	}
	for _, k := range classes {
		actual += pairs(k)
	}
	s.PairwisePrecision, s.PairwiseRecall = ratio(tp, predicted), ratio(tp, actual)
	s.PairwiseF = harmonic(s.PairwisePrecision, s.PairwiseRecall)
	var bp, br float64
	for c, k := range cells {
		// Each of the k faces in this cell has precision k/|cluster| and recall k/|class|.
		bp += float64(k) * float64(k) / float64(clusters[c.c])
		br += float64(k) * float64(k) / float64(classes[c.t])
	}
	s.BCubedPrecision, s.BCubedRecall = bp/float64(n), br/float64(n)
	s.BCubedF = harmonic(s.BCubedPrecision, s.BCubedRecall)
	entropy := func(sizes []int) float64 {
		h := 0.0
		for _, k := range sizes {
			p := float64(k) / float64(n)
			h -= p * math.Log(p)
		}
		return h
	}
	var cs, ts []int
	for _, k := range clusters {
		cs = append(cs, k)
	}
	for _, k := range classes {
		ts = append(ts, k)
	}
	mi := 0.0
	for c, k := range cells {
		pxy := float64(k) / float64(n)
		mi += pxy * math.Log(pxy*float64(n)*float64(n)/(float64(clusters[c.c])*float64(classes[c.t])))
	}
	if hc, ht := entropy(cs), entropy(ts); hc > 0 && ht > 0 {
		s.NMI = mi / math.Sqrt(hc*ht)
	} else if hc == 0 && ht == 0 {
		s.NMI = 1
	}
	return s
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 1 // nothing claimed (or nothing to find): nothing wrong
	}
	return a / b
}

func harmonic(p, r float64) float64 {
	if p+r == 0 {
		return 0
	}
	return 2 * p * r / (p + r)
}
