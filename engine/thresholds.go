package engine

import (
	"fmt"
	"math"
	"sort"
)

// A gallery's operating threshold answers the question a 1:N search poses (NIST FRTE's false
// positive identification rate, FPIR): how often does a search of someone who is not in the
// gallery return a candidate at or above it? With an impostor pair crossing similarity t at rate
// FMR(t), a search against N independent faces crosses it at FPIR = 1 − (1 − FMR(t))^N. A
// gallery's admin sets a target FPIR (default DefaultTargetFPIR); the threshold is the
// similarity whose FMR gives it at the gallery's current size (with searchMargin), so it rises
// as the gallery grows.
// FMR(t) is read from the model's impostor tail, measured over every impostor pair of LFW and
// CFP (the higher line of the two at each rate; `facematch eval verify --all-pairs`, see
// bench/RESULTS.md). `facematch eval identify` checks the result on galleries of growing size.

// searchMargin is how much more often a search of a stranger reaches a line than N independent
// pairs would: measured with eval identify, strangers reached the line predicted for FPIR 1e-2
// 1.2 times as often on LFW at 1,826 identities and 1.8 times as often on CFP at 400, so the
// pair rate read from the tail is the target's divided by twice the gallery's size.
const searchMargin = 2

// DefaultTargetFPIR is a new gallery's target: about 1 in 100 searches of a stranger brings a
// review item.
const DefaultTargetFPIR = 0.01

// TailPoint is a false-match rate of impostor pairs and the similarity where it is reached.
type TailPoint struct {
	FMR       float64 `json:"fmr"`
	Threshold float64 `json:"threshold"`
}

// OperatingPoint is what a gallery's threshold means at the gallery's size.
type OperatingPoint struct {
	GalleryID  int64   `json:"gallery_id"`
	Faces      int     `json:"faces"`
	TargetFPIR float64 `json:"target_fpir"`
	// Threshold is the similarity at or above which a candidate becomes a review item; nil for
	// a model without a measured tail (then only the candidates an analyst sends are).
	Threshold *float32 `json:"threshold,omitempty"`
	// Resolved is false when the gallery is so large that the target needs a false-match rate
	// below the measured tail: the threshold is then the tail's highest line, and the FPIR
	// may exceed the target.
	Resolved bool   `json:"resolved"`
	Meaning  string `json:"meaning"`
}

// tailFor returns model's impostor tail: the configured one, else the built-in measurement;
// for a gallery of minors, the minors' tail where one is measured.
func (s *Service) tailFor(model string) []TailPoint {
	if t, ok := s.cfg.Tails[model]; ok {
		return t
	}
	return impostorTails[model]
}

// minorsTail is the impostor tail of pairs of children for model, continued past its rarest
// measured rate by the adults' tail plus the gap the two have there (ok false: none measured).
// Children's sets are small (UTKFace's 1,020 minors make 519,690 pairs), so the continuation
// is the only way to a line for a gallery of thousands; it is flagged as not measured.
func (s *Service) minorsTail(model string) (tail []TailPoint, measuredTo float64, ok bool) {
	minors := minorsTails[model]
	if t, ok := s.cfg.MinorsTails[model]; ok && len(minors) == 0 {
		minors = t
	}
	adults := s.tailFor(model)
	if len(minors) == 0 || len(adults) == 0 {
		return adults, 0, false
	}
	last := minors[len(minors)-1]
	at, _ := thresholdAt(adults, last.FMR)
	gap := math.Max(0, last.Threshold-at)
	tail = append([]TailPoint(nil), minors...)
	for _, p := range adults {
		if p.FMR < last.FMR {
			tail = append(tail, TailPoint{FMR: p.FMR, Threshold: math.Min(0.999, p.Threshold+gap)})
		}
	}
	return tail, last.FMR, true
}

// galleryTail is the tail g's threshold and meanings are read from.
func (s *Service) galleryTail(model string, minors bool) (tail []TailPoint, measuredTo float64) {
	if minors {
		if t, to, ok := s.minorsTail(model); ok {
			return t, to
		}
	}
	tail = s.tailFor(model)
	if len(tail) > 0 {
		measuredTo = tail[len(tail)-1].FMR
	}
	return tail, measuredTo
}

// TailFromQuantile is a tail at the standard rates from a quantile function of the impostor
// similarity (for a model whose impostor distribution is known in closed form, such as a test
// double).
func TailFromQuantile(q func(fmr float64) float64) []TailPoint {
	out := make([]TailPoint, len(tailFMRs))
	for i, fmr := range tailFMRs {
		out[i] = TailPoint{FMR: fmr, Threshold: q(fmr)}
	}
	return out
}

// pairRate is the per-pair false-match rate that gives fpir over n independent faces.
func pairRate(fpir float64, n int) float64 {
	if n < 1 {
		n = 1
	}
	return -math.Expm1(math.Log1p(-fpir) / float64(n))
}

// searchRate is the FPIR over n faces of a per-pair rate fmr.
func searchRate(fmr float64, n int) float64 {
	if n < 1 {
		n = 1
	}
	return -math.Expm1(float64(n) * math.Log1p(-fmr))
}

// thresholdAt is the similarity at which tail reaches fmr, interpolated in log(FMR); resolved
// is false past the tail's smallest rate (the highest line is returned). Rates above the
// tail's largest get its first line, which is conservative.
func thresholdAt(tail []TailPoint, fmr float64) (t float64, resolved bool) {
	if len(tail) == 0 {
		return math.NaN(), false
	}
	// tail is ordered by falling FMR and rising threshold.
	if fmr >= tail[0].FMR {
		return tail[0].Threshold, true
	}
	last := tail[len(tail)-1]
	if fmr < last.FMR {
		return last.Threshold, false
	}
	i := sort.Search(len(tail), func(i int) bool { return tail[i].FMR <= fmr })
	if tail[i].FMR == fmr || i == 0 {
		return tail[i].Threshold, true
	}
	a, b := tail[i-1], tail[i]
	f := (math.Log(a.FMR) - math.Log(fmr)) / (math.Log(a.FMR) - math.Log(b.FMR))
	return a.Threshold + f*(b.Threshold-a.Threshold), true
}

// rateAt is the pair false-match rate at similarity t, interpolated in log(FMR). Below the
// tail's first line the rate is at least its first FMR (bound -1); above its last line, at
// most its last (bound +1).
func rateAt(tail []TailPoint, t float64) (fmr float64, bound int) {
	if len(tail) == 0 {
		return math.NaN(), 0
	}
	if t < tail[0].Threshold {
		return tail[0].FMR, -1
	}
	last := tail[len(tail)-1]
	if t > last.Threshold {
		return last.FMR, +1
	}
	i := sort.Search(len(tail), func(i int) bool { return tail[i].Threshold >= t })
	if i == 0 || tail[i].Threshold == t {
		return tail[i].FMR, 0
	}
	a, b := tail[i-1], tail[i]
	f := (t - a.Threshold) / (b.Threshold - a.Threshold)
	return math.Exp(math.Log(a.FMR) + f*(math.Log(b.FMR)-math.Log(a.FMR))), 0
}

// operatingLine is the threshold for target FPIR over n faces read from tail (the pair rate
// target/(searchMargin·n)), rounded up to 0.001 so that it is never below the measured line.
func operatingLine(tail []TailPoint, target float64, n int) (t float64, resolved bool) {
	t, resolved = thresholdAt(tail, pairRate(target, n)/searchMargin)
	return math.Ceil(t*1000) / 1000, resolved
}

// operatingPoint is g's threshold for its target FPIR at its current size.
func (s *Service) operatingPoint(g Gallery) OperatingPoint { return s.operatingPointFor(g, false) }

// operatingPointFor is the gallery's operating point for a probe face; one that looks under
// 18 (minorProbe) is matched under the minors' line, as a children's gallery is (issue 14).
func (s *Service) operatingPointFor(g Gallery, minorProbe bool) OperatingPoint {
	target := g.TargetFPIR
	if target == 0 {
		target = DefaultTargetFPIR
	}
	op := OperatingPoint{GalleryID: g.ID, Faces: g.Faces, TargetFPIR: target}
	tail, measuredTo := s.galleryTail(g.Model, g.Minors || minorProbe)
	if len(tail) == 0 {
		op.Meaning = "This gallery's model has no measured impostor tail: no candidate becomes a review item unless an analyst sends it."
		return op
	}
	t, resolved := operatingLine(tail, target, g.Faces)
	resolved = resolved && pairRate(target, g.Faces)/searchMargin >= measuredTo
	t32 := float32(t)
	op.Threshold, op.Resolved = &t32, resolved
	op.Meaning = fmt.Sprintf("Candidates at or above %.3f become review items: at this gallery's size (%s), about %s searches of a stranger return one.",
		t32, plural(g.Faces, "face"), oneIn(target))
	switch {
	case g.Minors:
		op.Meaning += " This is a gallery of children: the line is the one measured on pairs of children, whose faces look alike far more often than adults'."
	case minorProbe:
		op.Meaning += " The probe face looks under 18 (a possible minor): the line is the one measured on pairs of children, whose faces look alike far more often than adults'."
	}
	if !resolved {
		op.Meaning += fmt.Sprintf(" The gallery is larger than the measured impostor tail resolves (false-match rate %.0e per pair): the line past it is extrapolated and strangers may be returned more often than that.", measuredTo)
	}
	return op
}

// CandidateMeaning says in plain words how often a search of a stranger against a gallery of n
// faces of model returns a candidate at least as similar as sim; "" without a measured tail.
func (s *Service) CandidateMeaning(model string, minors bool, n int, sim float32) string {
	tail, _ := s.galleryTail(model, minors)
	if len(tail) == 0 {
		return ""
	}
	if minors {
		return s.candidateMeaning(tail, n, sim) + " Similarity between children's faces is much weaker evidence than between adults': pairs of different children look this alike far more often."
	}
	return s.candidateMeaning(tail, n, sim)
}

func (s *Service) candidateMeaning(tail []TailPoint, n int, sim float32) string {
	fmr, bound := rateAt(tail, float64(sim))
	fpir := searchRate(math.Min(1, fmr*searchMargin), n)
	size := plural(n, "face")
	switch {
	case bound < 0 && fpir >= 0.5:
		return fmt.Sprintf("Most searches of a stranger against this gallery (%s) return a candidate this similar: this is weak evidence.", size)
	case bound < 0:
		return fmt.Sprintf("At least %s searches of a stranger against this gallery (%s) return a candidate this similar.", oneIn(fpir), size)
	case bound > 0:
		// The tail's rarest rate: the true one may be lower still.
		return fmt.Sprintf("Fewer than %s searches of a stranger against this gallery (%s) return a candidate this similar.", oneIn(fpir), size)
	case fpir >= 0.5:
		return fmt.Sprintf("Most searches of a stranger against this gallery (%s) return a candidate this similar: this is weak evidence.", size)
	}
	return fmt.Sprintf("About %s searches of a stranger against this gallery (%s) return a candidate this similar.", oneIn(fpir), size)
}

// oneIn writes a rate as "1 in N" with N to two significant digits.
func oneIn(rate float64) string {
	if !(rate > 0) {
		return "none of the"
	}
	n := 1 / rate
	mag := math.Pow(10, math.Floor(math.Log10(n))-1)
	if mag < 1 {
		mag = 1
	}
	return "1 in " + commas(int64(math.Round(n/mag)*mag))
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return commas(int64(n)) + " " + what + "s"
}

func commas(n int64) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + commas(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
