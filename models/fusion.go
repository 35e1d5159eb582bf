package models

import (
	"context"
	"errors"
	"fmt"
	"image"
	"math"
)

// Calibration maps a recognizer's cosine similarity s to a log-likelihood ratio a·s + b
// (logistic regression of same/different on s). Fitted by `facematch eval calibrate`.
type Calibration struct {
	A, B float64
}

// Fused combines two recognizers at score level: each cosine similarity is calibrated to a
// log-likelihood ratio and the two are added. Because each calibration is affine, the fused
// score is itself a cosine: the embedding is the concatenation [√a₁·v₁, √a₂·v₂] / √(a₁+a₂), so
// its dot product is (a₁s₁ + a₂s₂)/(a₁+a₂), an increasing affine function of the summed
// log-likelihood ratio. An index built for cosine similarity serves it unchanged.
//
// Fused is safe for concurrent use.
type Fused struct {
	parts [2]*Recognizer
	cal   [2]Calibration
	w     [2]float32
}

// NewFused builds the fusion of two recognizers with their calibrations.
func NewFused(a, b *Recognizer, ca, cb Calibration) (*Fused, error) {
	if ca.A <= 0 || cb.A <= 0 {
		return nil, errors.New("models: fusion calibration slopes must be positive")
	}
	return &Fused{parts: [2]*Recognizer{a, b}, cal: [2]Calibration{ca, cb}, w: fusionWeights(ca, cb)}, nil
}

// Identity names both parts and the weights, so a change of calibration changes the identity.
func (f *Fused) Identity() string {
	return fusedIdentity(f.parts[0].Identity(), f.parts[1].Identity(), f.w)
}

func fusedIdentity(a, b string, w [2]float32) string {
	return fmt.Sprintf("fused(%s*%.4f,%s*%.4f)", a, w[0], b, w[1])
}

func fusionWeights(ca, cb Calibration) [2]float32 {
	sum := ca.A + cb.A
	return [2]float32{float32(math.Sqrt(ca.A / sum)), float32(math.Sqrt(cb.A / sum))}
}

// FusedIdentity is the identity of the built-in fusion (Faceplugin512 + Dlib128, without flip),
// known without opening any model.
func FusedIdentity() string {
	return fusedIdentity(Builtin[Faceplugin512].Identity(), Builtin[Dlib128].Identity(),
		fusionWeights(Calibrations[Faceplugin512], Calibrations[Dlib128]))
}

// Dim is the sum of both parts' dimensions.
func (f *Fused) Dim() int { return f.parts[0].Dim() + f.parts[1].Dim() }

// LogLikelihoodRatio turns a fused cosine back into the summed calibrated score.
func (f *Fused) LogLikelihoodRatio(cos float64) float64 {
	return cos*(f.cal[0].A+f.cal[1].A) + f.cal[0].B + f.cal[1].B
}

// Embed embeds every face with both recognizers and concatenates the weighted vectors.
func (f *Fused) Embed(ctx context.Context, img *image.NRGBA, faces []Landmarks) ([]Embedding, error) {
	var parts [2][]Embedding
	for i, r := range f.parts {
		e, err := r.Embed(ctx, img, faces)
		if err != nil {
			return nil, err
		}
		parts[i] = e
	}
	id := f.Identity()
	out := make([]Embedding, len(faces))
	for i := range faces {
		v := make([]float32, 0, f.Dim())
		for p := range parts {
			for _, x := range parts[p][i].Vector {
				v = append(v, x*f.w[p])
			}
		}
		// Both parts are unit vectors and the squared weights sum to 1, so v is unit length;
		// normalising again only removes rounding.
		normalize(v)
		out[i] = Embedding{Model: id, Vector: v}
	}
	return out, nil
}

// FaceEmbedder is what a single [Recognizer] and a [Fused] pair have in common.
type FaceEmbedder interface {
	Identity() string
	Dim() int
	Embed(ctx context.Context, img *image.NRGBA, faces []Landmarks) ([]Embedding, error)
}

var (
	_ FaceEmbedder = (*Recognizer)(nil)
	_ FaceEmbedder = (*Fused)(nil)
)

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

// Embedder opens a recognizer by name: Faceplugin512, Dlib128 or FusedName.
func (r *Runtime) Embedder(name string, cfg RecognizerConfig) (FaceEmbedder, error) {
	if name != FusedName {
		return r.Recognizer(name, cfg)
	}
	a, err := r.Recognizer(Faceplugin512, cfg)
	if err != nil {
		return nil, err
	}
	b, err := r.Recognizer(Dlib128, cfg)
	if err != nil {
		return nil, err
	}
	return NewFused(a, b, Calibrations[Faceplugin512], Calibrations[Dlib128])
}
