package engine

import "fmt"

// FacePair is the most similar pair of accepted faces between two photos.
type FacePair struct {
	A, B       int // indexes into the two face lists
	Similarity float32
	Model      string
}

// BestPair compares every accepted face of a with every accepted face of b and returns the
// most similar pair. It fails when either side has no accepted face.
func BestPair(a, b []Face) (FacePair, error) {
	best := FacePair{A: -1, B: -1}
	for i, fa := range a {
		if !fa.Accepted() || fa.Embedding == nil {
			continue
		}
		for j, fb := range b {
			if !fb.Accepted() || fb.Embedding == nil {
				continue
			}
			s, err := fa.Embedding.Similarity(*fb.Embedding)
			if err != nil {
				return FacePair{}, err
			}
			if best.A < 0 || s > best.Similarity {
				best = FacePair{A: i, B: j, Similarity: s, Model: fa.Embedding.Model}
			}
		}
	}
	if best.A < 0 {
		return FacePair{}, fmt.Errorf("engine: %w on one side", ErrNoFace)
	}
	return best, nil
}
