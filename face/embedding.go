package face

import (
	"errors"
	"fmt"
	"math"
)

// ErrModelMismatch means two embeddings from different models were compared.
var ErrModelMismatch = errors.New("embeddings come from different models")

// Embedding is an L2-normalised face vector and the identity of the model that made it.
type Embedding struct {
	Model  string // Manifest.Identity of the recognizer (with its options)
	Vector []float32
}

// Similarity is the cosine similarity of two embeddings from the same model, in [−1, 1].
func (e Embedding) Similarity(o Embedding) (float32, error) {
	if e.Model != o.Model || len(e.Vector) != len(o.Vector) {
		return 0, fmt.Errorf("face: %w: %s (%d-d) vs %s (%d-d)", ErrModelMismatch, e.Model, len(e.Vector), o.Model, len(o.Vector))
	}
	return Dot(e.Vector, o.Vector), nil
}

// Dot is the dot product of two equal-length vectors.
func Dot(a, b []float32) float32 {
	var s0, s1, s2, s3 float32
	n := len(a) &^ 3
	for i := 0; i < n; i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for i := n; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return s0 + s1 + s2 + s3
}

// Normalize scales v to unit length in place; a zero vector stays zero.
func Normalize(v []float32) {
	var ss float64
	for _, x := range v {
		ss += float64(x) * float64(x)
	}
	if ss == 0 {
		return
	}
	inv := float32(1 / math.Sqrt(ss))
	for i := range v {
		v[i] *= inv
	}
}
