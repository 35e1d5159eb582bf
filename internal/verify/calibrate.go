package verify

import (
	"fmt"
	"math"
)

// ridgePerPair is the L2 penalty on the slope of the standardised scores,
// per pair. It only matters when the classes are separable, where the
// unpenalised slope diverges; on real data it moves the estimate far less
// than its standard error.
const ridgePerPair = 1e-6

// FitLogistic fits P(same | s) = σ(a·s + b) by maximum likelihood, with a
// tiny L2 ridge on a so that separable data still give a finite answer.
// The ridge applies to the slope of the standardised scores, so the result
// does not depend on the scale of the scores; constant scores give a = 0.
//
// a·s + b is the posterior log-odds of "same": the log-likelihood ratio
// plus the log prior odds of the calibration set, log(#same/#different).
// Calibrated scores of several recognizers can therefore be fused by
// summing them; subtract the prior log-odds from each term to get a pure
// fused log-likelihood ratio (a constant shift, so it does not change any
// ranking or TAR@FAR, only the meaning of a threshold).
//
// It returns an error when the lengths differ, a score is NaN or infinite,
// or only one class is present.
func FitLogistic(scores []float64, labels []bool) (a, b float64, err error) {
	if len(scores) != len(labels) {
		return 0, 0, fmt.Errorf("verify: fit logistic: %d scores for %d labels", len(scores), len(labels))
	}
	pos := 0
	for i, s := range scores {
		if math.IsNaN(s) || math.IsInf(s, 0) {
			return 0, 0, fmt.Errorf("verify: fit logistic: score %d is %v", i, s)
		}
		if labels[i] {
			pos++
		}
	}
	n := len(scores)
	if pos == 0 || pos == n {
		return 0, 0, fmt.Errorf("verify: fit logistic: need both classes, got %d same and %d different", pos, n-pos)
	}
	prior := math.Log(float64(pos) / float64(n-pos))

	// Fit on standardised scores so that the ridge and the convergence
	// test mean the same for cosines in [-1, 1] and for raw logits.
	var mean, sd float64
	for _, s := range scores {
		mean += s
	}
	mean /= float64(n)
	for _, s := range scores {
		sd += (s - mean) * (s - mean)
	}
	sd = math.Sqrt(sd / float64(n))
	if !(sd > 0) || mean+sd == mean {
		return 0, prior, nil // no spread in the scores: only the prior is known
	}
	z := make([]float64, n)
	for i, s := range scores {
		z[i] = (s - mean) / sd
	}
	az, bz, err := fitStandardised(z, labels, prior, ridgePerPair*float64(n))
	if err != nil {
		return 0, 0, err
	}
	return az / sd, bz - az*mean/sd, nil
}

// fitStandardised runs Newton's method on standardised scores.
func fitStandardised(scores []float64, labels []bool, prior, lambda float64) (a, b float64, err error) {
	// The objective is convex, so Newton's method with a backtracking line
	// search converges from anywhere; starting at the prior log-odds makes
	// the first step already sensible.
	a, b = 0, prior
	f := logisticLoss(scores, labels, a, b, lambda)
	for iter := 0; iter < 100; iter++ {
		var ga, gb, haa, hab, hbb float64
		for i, s := range scores {
			p := sigmoid(a*s + b)
			y := 0.0
			if labels[i] {
				y = 1
			}
			w := p * (1 - p)
			ga += (p - y) * s
			gb += p - y
			haa += w * s * s
			hab += w * s
			hbb += w
		}
		ga += lambda * a
		haa += lambda
		det := haa*hbb - hab*hab
		if !(det > 0) {
			return 0, 0, fmt.Errorf("verify: fit logistic: singular Hessian at iteration %d", iter)
		}
		da := -(hbb*ga - hab*gb) / det
		db := -(haa*gb - hab*ga) / det

		// Converged once the Newton step is negligible; near the optimum
		// the loss is flat to rounding, so comparing losses would not do.
		if math.Abs(da) <= 1e-9*(1+math.Abs(a)) && math.Abs(db) <= 1e-9*(1+math.Abs(b)) {
			return a + da, b + db, nil
		}
		for step := 1.0; step >= 1e-10; step /= 2 {
			na, nb := a+step*da, b+step*db
			if nf := logisticLoss(scores, labels, na, nb, lambda); nf <= f {
				a, b, f = na, nb, nf
				break
			}
		}
	}
	return 0, 0, fmt.Errorf("verify: fit logistic: no convergence after 100 Newton steps")
}

// logisticLoss is the penalised negative log-likelihood.
func logisticLoss(scores []float64, labels []bool, a, b, lambda float64) float64 {
	loss := lambda * a * a / 2
	for i, s := range scores {
		z := a*s + b
		// -log σ(z) for positives and -log σ(-z) for negatives.
		if labels[i] {
			z = -z
		}
		loss += softplus(z)
	}
	return loss
}

// softplus is log(1 + e^z), computed without overflow.
func softplus(z float64) float64 {
	if z > 0 {
		return z + math.Log1p(math.Exp(-z))
	}
	return math.Log1p(math.Exp(z))
}

func sigmoid(z float64) float64 {
	if z >= 0 {
		return 1 / (1 + math.Exp(-z))
	}
	e := math.Exp(z)
	return e / (1 + e)
}
