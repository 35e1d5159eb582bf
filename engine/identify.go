package engine

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"

	"github.com/facematch/facematch/face"
)

// IdentityPhoto is one embedded photo of a named identity, for an identification evaluation.
type IdentityPhoto struct {
	Identity string
	Vector   []float32
}

// Subject scorings: how a gallery subject with several photos is scored against a probe.
const (
	ScoreMax      = "max"       // the best of its photos
	ScoreMeanTop2 = "mean_top2" // the mean of its two best photos (its one photo when alone)
	ScoreTemplate = "template"  // its photos' normalised mean vector
)

// Scorings are the subject scorings an evaluation compares.
var Scorings = []string{ScoreMax, ScoreMeanTop2, ScoreTemplate}

// CandidateListLength is the candidate list a search returns by default (k): a mate found at a
// rank within it and above the threshold counts as found, as NIST FRTE counts FNIR(N, T, R).
const CandidateListLength = 20

// IdentifyResult is a 1:N evaluation, the way one-to-many systems are judged (NIST FRTE): mated
// probes (their identity is in the gallery) and non-mated ones (strangers). FPIR(T) is the share
// of non-mated searches whose best score reaches T; FNIR(T) the share of mated searches whose
// mate is not among the first CandidateListLength candidates at or above T.
type IdentifyResult struct {
	Scoring        string  `json:"scoring"`
	GallerySize    int     `json:"gallery_size"` // identities
	GalleryPhotos  int     `json:"gallery_photos"`
	MatedProbes    int     `json:"mated_probes"`
	NonMatedProbes int     `json:"nonmated_probes"`
	Rank1          float64 `json:"rank1"`
	// Thresholds at which FPIR reaches 1e-2 and 1e-3, and FNIR there. With fewer than 1,000
	// non-mated probes the 1e-3 threshold is above every stranger's score: FPIR 0 measured, not
	// 1e-3.
	ThresholdAtFPIR1e2 float64 `json:"threshold_at_fpir_1e2"`
	FNIRAtFPIR1e2      float64 `json:"fnir_at_fpir_1e2"`
	ThresholdAtFPIR1e3 float64 `json:"threshold_at_fpir_1e3"`
	FNIRAtFPIR1e3      float64 `json:"fnir_at_fpir_1e3"`
	// Operating is the threshold the service would use for this gallery (a target FPIR of 1e-2
	// at its number of photos, from the model's impostor tail), and the FPIR and FNIR measured
	// there; absent when the model has no tail.
	Operating *MeasuredOperatingPoint `json:"operating,omitempty"`
}

// MeasuredOperatingPoint is a predicted operating threshold and what it did on a labelled set.
type MeasuredOperatingPoint struct {
	TargetFPIR float64 `json:"target_fpir"`
	Threshold  float64 `json:"threshold"`
	Resolved   bool    `json:"resolved"`
	FPIR       float64 `json:"fpir"`
	FNIR       float64 `json:"fnir"`
}

// OperatingThreshold is the threshold a gallery of faces photos of model gets for targetFPIR
// (rounded up as the service rounds it); ok is false for a model without a measured tail.
func OperatingThreshold(model string, targetFPIR float64, faces int) (t float64, resolved, ok bool) {
	tail := impostorTails[model]
	if len(tail) == 0 {
		return 0, false, false
	}
	t, resolved = operatingLine(tail, targetFPIR, faces)
	return t, resolved, true
}

// IdentifyAt is Identify that also measures FPIR and FNIR at the service's operating threshold
// for model at the gallery's size (targetFPIR).
func IdentifyAt(gallery, probes []IdentityPhoto, scoring, model string, targetFPIR float64) (IdentifyResult, error) {
	res, strangers, fnir, err := identify(gallery, probes, scoring)
	if err != nil {
		return res, err
	}
	// What a search compares the probe with: every photo (max, mean of two), or every
	// identity once (template), as the service does.
	units := len(gallery)
	if scoring == ScoreTemplate {
		units = res.GallerySize
	}
	if t, resolved, ok := OperatingThreshold(model, targetFPIR, units); ok {
		reached := 0
		for _, s := range strangers {
			if s >= t {
				reached++
			}
		}
		op := &MeasuredOperatingPoint{TargetFPIR: targetFPIR, Threshold: t, Resolved: resolved, FNIR: fnir(t)}
		if len(strangers) > 0 {
			op.FPIR = float64(reached) / float64(len(strangers))
		}
		res.Operating = op
	}
	return res, nil
}

// Identify evaluates probes against a gallery with one subject scoring. Every vector must have
// the same length; identities are compared by name.
func Identify(gallery, probes []IdentityPhoto, scoring string) (IdentifyResult, error) {
	res, _, _, err := identify(gallery, probes, scoring)
	return res, err
}

// identify is Identify that also returns the strangers' best scores and FNIR as a function of
// the threshold.
func identify(gallery, probes []IdentityPhoto, scoring string) (IdentifyResult, []float64, func(float64) float64, error) {
	res := IdentifyResult{Scoring: scoring, GalleryPhotos: len(gallery)}
	if scoring != ScoreMax && scoring != ScoreMeanTop2 && scoring != ScoreTemplate {
		return res, nil, nil, fmt.Errorf("scoring must be one of %v, got %q: %w", Scorings, scoring, ErrInvalid)
	}
	subjects := map[string][][]float32{}
	var names []string
	for _, g := range gallery {
		if _, ok := subjects[g.Identity]; !ok {
			names = append(names, g.Identity)
		}
		subjects[g.Identity] = append(subjects[g.Identity], g.Vector)
	}
	sort.Strings(names)
	res.GallerySize = len(names)
	if len(names) == 0 {
		return res, nil, nil, fmt.Errorf("the gallery holds no photo: %w", ErrInvalid)
	}
	templates := map[string][]float32{}
	for _, n := range names {
		templates[n] = template(subjects[n])
	}
	score := func(probe []float32, name string) float32 {
		switch scoring {
		case ScoreTemplate:
			return face.Dot(probe, templates[name])
		case ScoreMax, ScoreMeanTop2:
			var best, second float32 = -2, -2
			for _, v := range subjects[name] {
				s := face.Dot(probe, v)
				if s > best {
					best, second = s, best
				} else if s > second {
					second = s
				}
			}
			if scoring == ScoreMeanTop2 && second > -2 {
				return (best + second) / 2
			}
			return best
		}
		return 0
	}
	var strangers []float64
	type mated struct {
		mateScore float64
		mateRank  int
	}
	var mates []mated
	rank1 := 0
	scores := make([]float64, len(names))
	for _, p := range probes {
		for i, n := range names {
			scores[i] = float64(score(p.Vector, n))
		}
		top := 0
		for i := range scores {
			if scores[i] > scores[top] {
				top = i
			}
		}
		if _, ok := subjects[p.Identity]; !ok {
			strangers = append(strangers, scores[top])
			continue
		}
		mate := sort.SearchStrings(names, p.Identity)
		rank := 1
		for i := range scores {
			if scores[i] > scores[mate] {
				rank++
			}
		}
		if rank == 1 {
			rank1++
		}
		mates = append(mates, mated{scores[mate], rank})
	}
	res.MatedProbes, res.NonMatedProbes = len(mates), len(strangers)
	if len(mates) > 0 {
		res.Rank1 = float64(rank1) / float64(len(mates))
	}
	fnir := func(t float64) float64 {
		if len(mates) == 0 {
			return 0
		}
		missed := 0
		for _, m := range mates {
			if m.mateScore < t || m.mateRank > CandidateListLength {
				missed++
			}
		}
		return float64(missed) / float64(len(mates))
	}
	res.ThresholdAtFPIR1e2 = thresholdAtFPIR(strangers, 1e-2)
	res.FNIRAtFPIR1e2 = fnir(res.ThresholdAtFPIR1e2)
	res.ThresholdAtFPIR1e3 = thresholdAtFPIR(strangers, 1e-3)
	res.FNIRAtFPIR1e3 = fnir(res.ThresholdAtFPIR1e3)
	return res, strangers, fnir, nil
}

// SubGallery keeps the photos of n identities of gallery, chosen by a fixed shuffle (seed), so
// that galleries of growing size can be measured from one set; the identities left out become
// strangers when their probes are searched.
func SubGallery(gallery []IdentityPhoto, n int, seed uint64) []IdentityPhoto {
	var names []string
	seen := map[string]bool{}
	for _, g := range gallery {
		if !seen[g.Identity] {
			seen[g.Identity] = true
			names = append(names, g.Identity)
		}
	}
	sort.Strings(names)
	if n >= len(names) {
		return gallery
	}
	r := rand.New(rand.NewPCG(seed, seed))
	r.Shuffle(len(names), func(i, j int) { names[i], names[j] = names[j], names[i] })
	keep := map[string]bool{}
	for _, name := range names[:n] {
		keep[name] = true
	}
	var out []IdentityPhoto
	for _, g := range gallery {
		if keep[g.Identity] {
			out = append(out, g)
		}
	}
	return out
}

// thresholdAtFPIR is the lowest threshold at which at most fpir of the strangers' best scores
// reach it: just above the (⌊fpir·n⌋+1)-th highest. With no stranger it is -1 (nothing measured).
func thresholdAtFPIR(strangers []float64, fpir float64) float64 {
	if len(strangers) == 0 {
		return -1
	}
	s := append([]float64(nil), strangers...)
	sort.Sort(sort.Reverse(sort.Float64Slice(s)))
	allowed := int(math.Floor(fpir * float64(len(s))))
	if allowed >= len(s) {
		return -1
	}
	return math.Nextafter(s[allowed], math.Inf(1))
}

// template is the normalised mean of vectors.
func template(vectors [][]float32) []float32 {
	t := make([]float32, len(vectors[0]))
	for _, v := range vectors {
		for i, x := range v {
			t[i] += x
		}
	}
	face.Normalize(t)
	return t
}
