package face

import (
	"fmt"
	"math"
)

// Calibration maps a recognizer's cosine similarity s to a log-likelihood ratio a·s + b
// (logistic regression of same/different on s). Fitted by `facematch eval calibrate`.
type Calibration struct {
	A, B float64
}

// FusedName selects the score-level fusion of Faceplugin512 and Dlib128.
const FusedName = "fused"

// Calibrations of each recognizer's cosine similarity, fitted by logistic regression on every
// image pair of LFW folds 1-5 (4,414 genuine, 7.26 million impostor; `facematch eval verify
// --all-pairs`, see bench/RESULTS.md). Keyed by model name. Changing them changes the fused
// identity, so vectors fused with other weights are never compared.
var Calibrations = map[string]Calibration{
	Faceplugin512: {A: 34.100, B: -16.195},
	Dlib128:       {A: 186.619, B: -176.187},
}

// FusionWeights are the weights [√(a₁/(a₁+a₂)), √(a₂/(a₁+a₂))] each part's unit vector is scaled
// by in a fused embedding, so that the fused cosine is (a₁s₁ + a₂s₂)/(a₁+a₂).
func FusionWeights(ca, cb Calibration) [2]float32 {
	sum := ca.A + cb.A
	return [2]float32{float32(math.Sqrt(ca.A / sum)), float32(math.Sqrt(cb.A / sum))}
}

// FusedIdentityOf names a fusion by its parts' identities and weights, so a change of
// calibration changes the identity.
func FusedIdentityOf(a, b string, w [2]float32) string {
	return fmt.Sprintf("fused(%s*%.4f,%s*%.4f)", a, w[0], b, w[1])
}

// FusedIdentity is the identity of the built-in fusion (Faceplugin512 + Dlib128, without flip),
// known without opening any model.
func FusedIdentity() string {
	return FusedIdentityOf(Builtin[Faceplugin512].Identity(), Builtin[Dlib128].Identity(),
		FusionWeights(Calibrations[Faceplugin512], Calibrations[Dlib128]))
}
