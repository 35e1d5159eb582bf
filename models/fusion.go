package models

import (
	"context"
	"errors"
	"image"

	"github.com/facematch/facematch/face"
)

// Fused combines two recognizers at score level: each cosine similarity is calibrated to a
// log-likelihood ratio and the two are added. Because each calibration is affine, the fused
// score is itself a cosine: the embedding is the concatenation [√a₁·v₁, √a₂·v₂] / √(a₁+a₂), so
// its dot product is (a₁s₁ + a₂s₂)/(a₁+a₂), an increasing affine function of the summed
// log-likelihood ratio. An index built for cosine similarity serves it unchanged.
//
// Fused is safe for concurrent use.
type Fused struct {
	parts [2]*Recognizer
	cal   [2]face.Calibration
	w     [2]float32
}

// NewFused builds the fusion of two recognizers with their calibrations.
func NewFused(a, b *Recognizer, ca, cb face.Calibration) (*Fused, error) {
	if ca.A <= 0 || cb.A <= 0 {
		return nil, errors.New("models: fusion calibration slopes must be positive")
	}
	return &Fused{parts: [2]*Recognizer{a, b}, cal: [2]face.Calibration{ca, cb}, w: face.FusionWeights(ca, cb)}, nil
}

// Identity names both parts and the weights, so a change of calibration changes the identity.
func (f *Fused) Identity() string {
	return face.FusedIdentityOf(f.parts[0].Identity(), f.parts[1].Identity(), f.w)
}

// Dim is the sum of both parts' dimensions.
func (f *Fused) Dim() int { return f.parts[0].Dim() + f.parts[1].Dim() }

// LogLikelihoodRatio turns a fused cosine back into the summed calibrated score.
func (f *Fused) LogLikelihoodRatio(cos float64) float64 {
	return cos*(f.cal[0].A+f.cal[1].A) + f.cal[0].B + f.cal[1].B
}

// Embed embeds every face with both recognizers and concatenates the weighted vectors.
func (f *Fused) Embed(ctx context.Context, img *image.NRGBA, faces []face.Landmarks) ([]face.Embedding, error) {
	var parts [2][]face.Embedding
	for i, r := range f.parts {
		e, err := r.Embed(ctx, img, faces)
		if err != nil {
			return nil, err
		}
		parts[i] = e
	}
	id := f.Identity()
	out := make([]face.Embedding, len(faces))
	for i := range faces {
		v := make([]float32, 0, f.Dim())
		for p := range parts {
			for _, x := range parts[p][i].Vector {
				v = append(v, x*f.w[p])
			}
		}
		// Both parts are unit vectors and the squared weights sum to 1, so v is unit length;
		// normalising again only removes rounding.
		face.Normalize(v)
		out[i] = face.Embedding{Model: id, Vector: v}
	}
	return out, nil
}

// FaceEmbedder is what a single [Recognizer] and a [Fused] pair have in common.
type FaceEmbedder interface {
	Identity() string
	Dim() int
	Embed(ctx context.Context, img *image.NRGBA, faces []face.Landmarks) ([]face.Embedding, error)
}

var (
	_ FaceEmbedder = (*Recognizer)(nil)
	_ FaceEmbedder = (*Fused)(nil)
)

// Embedder opens a recognizer by name: face.Faceplugin512, face.Dlib128 or face.FusedName.
func (r *Runtime) Embedder(name string, cfg RecognizerConfig) (FaceEmbedder, error) {
	if name != face.FusedName {
		return r.Recognizer(name, cfg)
	}
	a, err := r.Recognizer(face.Faceplugin512, cfg)
	if err != nil {
		return nil, err
	}
	b, err := r.Recognizer(face.Dlib128, cfg)
	if err != nil {
		return nil, err
	}
	return NewFused(a, b, face.Calibrations[face.Faceplugin512], face.Calibrations[face.Dlib128])
}
