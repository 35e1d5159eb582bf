package verify

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
)

// Report is the outcome of [Evaluate]. Fractions are in [0, 1].
type Report struct {
	// Pairs is the number of pairs evaluated; Unscored of them had no
	// score (NaN) and count as wrong decisions in Accuracy.
	Pairs    int `json:"pairs"`
	Unscored int `json:"unscored"`

	// Accuracy is the mean over folds of the per-fold accuracy, each fold
	// scored at the threshold chosen on the other folds. AccuracyStd is the
	// population standard deviation (divide by the number of folds) of the
	// per-fold accuracies; LFW papers mix population and sample deviations
	// and with 10 folds they differ by about 5%.
	Accuracy    float64 `json:"accuracy"`
	AccuracyStd float64 `json:"accuracy_std"`

	// Threshold is the threshold chosen on all pairs, for information: it
	// is not the one used to score any fold.
	Threshold float64 `json:"threshold"`

	// TARAtFAR1e3 and TARAtFAR1e4 are true accept rates at false accept
	// rates 1e-3 and 1e-4 over all scored pairs (see [TARAtFAR]). Below
	// [Report.MinResolvableFAR] they are measured at FAR = 0 instead.
	TARAtFAR1e3 float64 `json:"tar_at_far_1e-3"`
	TARAtFAR1e4 float64 `json:"tar_at_far_1e-4"`

	// ImpostorPairs and GenuinePairs count the scored pairs of each class,
	// the populations behind TAR@FAR and AUC.
	ImpostorPairs int `json:"impostor_pairs"`
	GenuinePairs  int `json:"genuine_pairs"`

	// AUC is the area under the ROC curve over scored pairs, a
	// genuine/impostor tie counting one half.
	AUC float64 `json:"auc"`
}

// MinResolvableFAR returns 1/ImpostorPairs, the smallest non-zero false
// accept rate the report can measure. A TAR@FAR figure for a smaller FAR is
// really TAR at zero false accepts and should be labelled as such.
func (r Report) MinResolvableFAR() float64 {
	if r.ImpostorPairs == 0 {
		return math.Inf(1)
	}
	return 1 / float64(r.ImpostorPairs)
}

// scored is one pair with a score, for threshold search.
type scored struct {
	score float64
	same  bool
	fold  int
}

// Evaluate computes the verification metrics of set from one similarity
// per pair, scores[i] belonging to set.Pairs[i]. A NaN score marks a pair
// that could not be scored. It returns an error when the lengths differ, a
// score is infinite, a fold is out of range, there are fewer than two
// folds, or either class has no scored pair.
func Evaluate(set *PairSet, scores []float64) (Report, error) {
	if set == nil {
		return Report{}, errors.New("verify: evaluate: nil pair set")
	}
	if len(scores) != len(set.Pairs) {
		return Report{}, fmt.Errorf("verify: evaluate: %d scores for %d pairs", len(scores), len(set.Pairs))
	}
	if set.Folds < 2 {
		return Report{}, fmt.Errorf("verify: evaluate: cross-validation needs at least 2 folds, got %d", set.Folds)
	}
	rep := Report{Pairs: len(set.Pairs)}
	foldSize := make([]int, set.Folds)
	var all []scored
	var genuine, impostor []float64
	for i, p := range set.Pairs {
		s := scores[i]
		if p.Fold < 0 || p.Fold >= set.Folds {
			return Report{}, fmt.Errorf("verify: evaluate: pair %d: fold %d outside [0, %d)", i, p.Fold, set.Folds)
		}
		if math.IsInf(s, 0) {
			return Report{}, fmt.Errorf("verify: evaluate: pair %d: infinite score", i)
		}
		foldSize[p.Fold]++
		if math.IsNaN(s) {
			rep.Unscored++
			continue
		}
		all = append(all, scored{score: s, same: p.Same, fold: p.Fold})
		if p.Same {
			genuine = append(genuine, s)
		} else {
			impostor = append(impostor, s)
		}
	}
	if len(genuine) == 0 || len(impostor) == 0 {
		return Report{}, fmt.Errorf("verify: evaluate: need scored genuine and impostor pairs, got %d and %d", len(genuine), len(impostor))
	}
	// Sorting once lets every training subset below stay sorted.
	slices.SortFunc(all, func(x, y scored) int { return cmp.Compare(x.score, y.score) })

	var accs []float64
	train := make([]scored, 0, len(all))
	for fold := range set.Folds {
		if foldSize[fold] == 0 {
			continue // only hand-built sets have empty folds
		}
		train = train[:0]
		for _, s := range all {
			if s.fold != fold {
				train = append(train, s)
			}
		}
		if len(train) == 0 {
			return Report{}, fmt.Errorf("verify: evaluate: no scored pairs outside fold %d to choose a threshold", fold)
		}
		t := bestThreshold(train)
		correct := 0
		for _, s := range all {
			if s.fold == fold && (s.score > t) == s.same {
				correct++
			}
		}
		// Unscored pairs of the fold stay in the denominator: they are
		// failures at any threshold.
		accs = append(accs, float64(correct)/float64(foldSize[fold]))
	}
	rep.Accuracy, rep.AccuracyStd = meanStd(accs)
	rep.Threshold = bestThreshold(all)
	rep.GenuinePairs, rep.ImpostorPairs = len(genuine), len(impostor)
	rep.TARAtFAR1e3, _ = TARAtFAR(genuine, impostor, 1e-3)
	rep.TARAtFAR1e4, _ = TARAtFAR(genuine, impostor, 1e-4)
	rep.AUC = auc(genuine, impostor)
	return rep, nil
}

// meanStd returns the mean and population standard deviation of xs.
func meanStd(xs []float64) (mean, std float64) {
	for _, x := range xs {
		mean += x
	}
	mean /= float64(len(xs))
	for _, x := range xs {
		std += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(std / float64(len(xs)))
}

// bestThreshold returns the threshold with the best accuracy on pairs, which
// must be sorted by score and non-empty; a pair is accepted when its score
// is > threshold.
//
// Accuracy is constant between consecutive distinct scores, so the
// candidates are the intervals (-inf, s0), [s0, s1), ..., [sLast, +inf).
// Adjacent intervals with equal best accuracy merge into one range (this
// happens when a tied score holds as many genuine as impostor pairs), and
// the result is the midpoint of the best range. When disjoint ranges tie,
// the lowest one wins, which keeps the choice deterministic. A range open
// at one end yields its finite end, nudged inside the range; a range open
// at both ends (every threshold is as good) yields the middle of the scores.
func bestThreshold(pairs []scored) float64 {
	// Edges of the intervals: distinct scores, and the change in correct
	// decisions when the threshold moves past each one (an impostor there
	// becomes correct, a genuine pair wrong).
	var edges []float64
	var delta []int
	correct := 0 // at t = -inf everything is accepted
	for _, p := range pairs {
		if p.same {
			correct++
		}
		if len(edges) == 0 || p.score != edges[len(edges)-1] {
			edges = append(edges, p.score)
			delta = append(delta, 0)
		}
		if p.same {
			delta[len(delta)-1]--
		} else {
			delta[len(delta)-1]++
		}
	}
	// acc[j] is the number correct on interval j; interval 0 is
	// (-inf, edges[0]) and interval j > 0 is [edges[j-1], edges[j]).
	acc := make([]int, len(edges)+1)
	acc[0] = correct
	for j, d := range delta {
		acc[j+1] = acc[j] + d
	}
	best := slices.Max(acc)
	lo := slices.Index(acc, best)
	hi := lo
	for hi+1 < len(acc) && acc[hi+1] == best {
		hi++
	}
	switch {
	case lo == 0 && hi == len(edges):
		return edges[0]/2 + edges[len(edges)-1]/2
	case lo == 0:
		return math.Nextafter(edges[hi], math.Inf(-1))
	case hi == len(edges):
		return edges[lo-1]
	}
	a, b := edges[lo-1], edges[hi]
	// Halving first avoids overflow; the check keeps the midpoint of two
	// adjacent floats inside [a, b).
	if m := a/2 + b/2; m >= a && m < b {
		return m
	}
	return a
}

// TARAtFAR returns the true accept rate at false accept rate far, and the
// threshold it uses; a score is accepted when it is > threshold.
//
// With N impostor scores sorted in descending order, the threshold is the
// one at 0-based index k = floor(far·N), so at most k (≤ far·N) impostors
// score strictly above it; ties at the threshold make the measured FAR
// lower, never higher. When far·N < 1, k = 0 and the threshold is the
// largest impostor score: no impostor is accepted. Hence no FAR below 1/N
// can be resolved; see [Report.MinResolvableFAR]. When far ≥ 1 every score
// is accepted (threshold -Inf).
//
// NaN scores are ignored. The inputs are not modified. If either list is
// empty after dropping NaNs, or far is negative or NaN, both results are
// NaN.
func TARAtFAR(genuine, impostor []float64, far float64) (tar float64, threshold float64) {
	imp := dropNaN(impostor)
	gen := dropNaN(genuine)
	if len(imp) == 0 || len(gen) == 0 || !(far >= 0) {
		return math.NaN(), math.NaN()
	}
	// The epsilon keeps products such as 0.29*100 = 28.999999999999996 from
	// losing an impostor to rounding.
	k := math.Floor(far*float64(len(imp)) + 1e-9)
	if k >= float64(len(imp)) {
		threshold = math.Inf(-1)
	} else {
		slices.Sort(imp)
		threshold = imp[len(imp)-1-int(k)]
	}
	accepted := 0
	for _, g := range gen {
		if g > threshold {
			accepted++
		}
	}
	return float64(accepted) / float64(len(gen)), threshold
}

// dropNaN returns a copy of xs without NaNs.
func dropNaN(xs []float64) []float64 {
	out := make([]float64, 0, len(xs))
	for _, x := range xs {
		if !math.IsNaN(x) {
			out = append(out, x)
		}
	}
	return out
}

// auc is the Mann–Whitney estimate P(g > i) + P(g = i)/2. Counts are summed
// as integers and halves, so the result is exact up to the final division.
func auc(genuine, impostor []float64) float64 {
	imp := slices.Clone(impostor)
	slices.Sort(imp)
	var twice int64 // twice the number of wins, so ties stay integral
	for _, g := range genuine {
		below := sort.SearchFloat64s(imp, g)
		notAbove := sort.Search(len(imp), func(i int) bool { return imp[i] > g })
		twice += int64(2*below + (notAbove - below))
	}
	return float64(twice) / (2 * float64(len(genuine)) * float64(len(impostor)))
}
