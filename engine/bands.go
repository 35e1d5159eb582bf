package engine

import "github.com/facematch/facematch/face"

// Band is a coarse reading of a similarity for people, from thresholds measured on impostor
// pairs. A band is not an identification: even "high" means "worth a human look".
type Band struct {
	Name    string `json:"name"`
	Meaning string `json:"meaning"`
}

// bandThresholds are the similarities at which the false-accept rate over every impostor pair
// falls to 1e-3 (medium) and 1e-4 (high), per model identity (`facematch eval verify
// --all-pairs`, see bench/RESULTS.md), measured on LFW folds 1-5 (7.26 million impostor pairs)
// and on CFP's in-the-wild frontal photos (11.3 million): where the two differ, the higher
// (conservative) line, rounded up. Bands guide the order of review, they do not decide, and they are
// pair rates: how many strangers a search of a gallery of N faces brings is FPIR (eval identify).
var bandThresholds = map[string]struct{ medium, high float32 }{
	face.Builtin[face.Faceplugin512].Identity(): {medium: 0.344, high: 0.420}, // LFW 0.335, 0.414; CFP 0.3432, 0.4197
	face.Builtin[face.Dlib128].Identity():       {medium: 0.928, high: 0.943}, // LFW 0.927, 0.9404; CFP 0.9277, 0.9427
	face.FusedIdentity():                        {medium: 0.828, high: 0.851}, // LFW 0.825, 0.846; CFP 0.8280, 0.8502
}

// DefaultRecognizer is the recognizer used when none is named: the fusion of the 512-d and dlib
// models. bench/RESULTS.md compares the three on LFW and on the in-the-wild celebrity pairs.
const DefaultRecognizer = face.FusedName

// BandOf names the band of a similarity measured by the given model identity.
func BandOf(model string, similarity float32) Band { return BandFor(model, false, similarity) }

// BandFor is BandOf for a candidate of a gallery of children (minors) or not: children's bands
// start at the lines pairs of children cross at 1e-3 and 1e-4, where measured.
func BandFor(model string, minors bool, similarity float32) Band {
	t, ok := bandThresholds[model]
	if m, measured := minorsBandLines(model); minors && measured {
		t = m
	}
	if !ok {
		return Band{"uncalibrated", "no measured thresholds for this model; read the similarity alone"}
	}
	switch {
	case similarity >= t.high:
		return Band{"high", "above the level reached by 1 in 10,000 impostor pairs"}
	case similarity >= t.medium:
		return Band{"medium", "above the level reached by 1 in 1,000 impostor pairs"}
	default:
		return Band{"low", "within the range of impostor pairs"}
	}
}

// BandLines are where model's medium and high bands start; ok is false for a model without
// measured thresholds.
func BandLines(model string) (medium, high float32, ok bool) {
	t, ok := bandThresholds[model]
	return t.medium, t.high, ok
}

// impostorTails are the false-match rates of impostor pairs at rising similarity, per model
// identity: at each rate the higher line of LFW folds 1-5 (7.26 million impostor pairs) and
// CFP's frontal photos (11.3 million), from `facematch eval verify --all-pairs` (bench/RESULTS.md,
// "Operating thresholds"). Ten impostors above a line are the fewest a rate is read from, so
// 1e-6 is CFP's alone. A gallery's operating threshold is read from these (thresholds.go).
var impostorTails = map[string][]TailPoint{
	face.Builtin[face.Faceplugin512].Identity(): {
		{1e-2, 0.2466}, {5e-3, 0.2774}, {2e-3, 0.3159}, {1e-3, 0.3432}, {5e-4, 0.3679}, {2e-4, 0.3988}, {1e-4, 0.4197},
		{5e-5, 0.4395}, {2e-5, 0.4655}, {1e-5, 0.4853}, {5e-6, 0.5030}, {2e-6, 0.5291}, {1e-6, 0.5293},
	},
	face.Builtin[face.Dlib128].Identity(): {
		{1e-2, 0.9094}, {5e-3, 0.9154}, {2e-3, 0.9225}, {1e-3, 0.9277}, {5e-4, 0.9325}, {2e-4, 0.9384}, {1e-4, 0.9427},
		{5e-5, 0.9469}, {2e-5, 0.9513}, {1e-5, 0.9542}, {5e-6, 0.9572}, {2e-6, 0.9604}, {1e-6, 0.9621},
	},
	face.FusedIdentity(): {
		{1e-2, 0.7984}, {5e-3, 0.8084}, {2e-3, 0.8200}, {1e-3, 0.8280}, {5e-4, 0.8353}, {2e-4, 0.8440}, {1e-4, 0.8503},
		{5e-5, 0.8557}, {2e-5, 0.8625}, {1e-5, 0.8675}, {5e-6, 0.8728}, {2e-6, 0.8777}, {1e-6, 0.8794},
	},
}

// minorsTails are the impostor tails of pairs of children, per model identity: at each rate the
// higher line of UTKFace's minors (under 18, 1,020 photos, 519,690 pairs) and FairFace's aged
// 0-19 (180 photos), from `facematch eval demographics` (bench/RESULTS.md, "Lines for
// children"). A gallery marked minors reads its threshold from these (thresholds.go).
var minorsTails = map[string][]TailPoint{
	face.FusedIdentity(): {
		{1e-2, 0.8810}, {5e-3, 0.8925}, {2e-3, 0.9060}, {1e-3, 0.9140}, {5e-4, 0.9220}, {2e-4, 0.9320}, {1e-4, 0.9405},
		{5e-5, 0.9490}, {2e-5, 0.9705},
	},
}

// minorsBandLines are the children's lines at 1e-3 (medium) and 1e-4 (high), from minorsTails.
func minorsBandLines(model string) (lines struct{ medium, high float32 }, ok bool) {
	tail := minorsTails[model]
	if len(tail) == 0 {
		return lines, false
	}
	medium, okM := thresholdAt(tail, 1e-3)
	high, okH := thresholdAt(tail, 1e-4)
	if !okM || !okH {
		return lines, false
	}
	lines.medium, lines.high = float32(medium), float32(high)
	return lines, true
}
