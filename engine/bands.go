package engine

import "strings"

// Band is a coarse reading of a similarity for people, from thresholds measured on impostor
// pairs. A band is not an identification: even "high" means "worth a human look".
type Band struct {
	Name    string
	Meaning string
}

// bandThresholds are the similarities at which the impostor false-accept rate measured over
// every impostor pair of LFW folds 1-5 falls to 1e-3 (medium) and 1e-4 (high), per recognizer
// (`facematch eval verify --all-pairs`, see bench/RESULTS.md). Keyed by model name; the model's
// exact identity is checked when bands are looked up.
var bandThresholds = map[string]struct{ medium, high float32 }{}

// BandOf names the band of a similarity measured by the given model identity.
func BandOf(model string, similarity float32) Band {
	name, _, _ := strings.Cut(model, "@")
	t, ok := bandThresholds[name]
	if !ok || strings.Contains(model, "+flip") {
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
