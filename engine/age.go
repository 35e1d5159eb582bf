package engine

import (
	"context"
	"fmt"
	"image"
	"math"
	"sort"

	"github.com/facematch/facematch/face"
	"github.com/facematch/facematch/models/decode"
)

// Possible-minor triage (issue 16). An apparent-age model estimates how old each accepted face
// looks; the estimate carries a range measured on labelled faces estimated near the same age,
// and a face is flagged a possible minor by a Challenge-25-style rule. The flag only orders and
// filters work for people: it never decides anything, it is never computed from a face the
// quality gate refused, and it is shown with its range and what it is not.

// AgeEstimator estimates apparent ages (an adapter over the age model).
type AgeEstimator interface {
	// Identity names the model and its options; every estimate carries it.
	Identity() string
	// ApparentAges returns one apparent age in years per detection, in order.
	ApparentAges(ctx context.Context, img *image.NRGBA, dets []face.Detection) ([]float32, error)
}

// ApparentAge is one face's (or a person's median) apparent-age estimate.
type ApparentAge struct {
	Years float32 `json:"years"`
	// Low and High bound the true ages of labelled faces estimated near Years: the range
	// covers AgeRangeCoverage of them (AgeCalibration).
	Low   float32 `json:"low"`
	High  float32 `json:"high"`
	Model string  `json:"model"`
	// PossibleMinor is the flag under MinorLine, the line in force when it was set.
	PossibleMinor bool    `json:"possible_minor"`
	MinorLine     float32 `json:"minor_line"`
}

// AgeMeaning is what an estimate is and is not, in the words the pages and reports use.
const AgeMeaning = "Apparent age is a model's estimate of how old a face looks in this photo, with the range in which the true age of most faces estimated alike was measured to fall. It is not the person's age, it is less reliable for children, for some groups of people and for made-up, filtered or low-quality photos, and it is used only to put the review of possible minors first. It never decides anything."

// Reasons a face has no estimate.
const (
	NoAgeRefused = "refused by the quality gate"
	NoAgeProfile = "profile or strongly turned face"
	NoAgeModel   = "no age model configured"
)

// DefaultMinorLine is the Challenge-25-style line: a face that looks under 25 is a possible
// minor unless its whole range is adult.
const DefaultMinorLine = 25

// AdultAge is where the range must start for a face under the line not to be flagged.
const AdultAge = 18

// AgeMinFrontalness is the frontalness below which no age is estimated (a profile), and
// AgeFrontal the frontalness from which a face counts as frontal. Measured on CFP (`eval age
// --consistency`, bench/RESULTS.md "Apparent age"): a frontal face's estimate strays 4.0 years
// on average from the same person's frontal median, a turned face's about 7.1 at every
// frontalness under 0.8 (no gentler slope to cut on), so a turned face is estimated with its
// range widened by AgeTurnedWidening, and a face under 0.3 (half of CFP's profile photos
// are under 0.1) is a profile.
const (
	AgeMinFrontalness = 0.3
	AgeFrontal        = 0.8
	AgeTurnedWidening = 1.75
)

// AgeRangeCoverage is the share of labelled faces whose true age falls in an estimate's range.
const AgeRangeCoverage = 0.8

// AgeBin is the measured error of faces estimated below UpTo (and at or above the previous
// bin's UpTo): the true age minus the estimate at the low and high quantiles of
// AgeRangeCoverage.
type AgeBin struct {
	UpTo float32 `json:"up_to"`
	Low  float32 `json:"low"`
	High float32 `json:"high"`
}

// AgeCalibrationEdges are the estimated ages (years) that bound the calibration's bins: finer
// where the possible-minor line sits.
var AgeCalibrationEdges = []float32{5, 10, 14, 18, 22, 26, 30, 40, 50, 60}

// AgeCalibration is an age model's measured error by estimated age, from `facematch eval age
// --calibrate` (bench/RESULTS.md).
type AgeCalibration struct {
	Model string
	Bins  []AgeBin
}

// Range returns the interval for an estimate: the estimate plus its bin's measured error,
// never below 0.
func (c AgeCalibration) Range(years float32) (low, high float32) {
	if len(c.Bins) == 0 {
		return years, years
	}
	b := c.Bins[len(c.Bins)-1]
	for _, bin := range c.Bins {
		if years < bin.UpTo {
			b = bin
			break
		}
	}
	return max(0, years+b.Low), years + b.High
}

// Flag applies the line: a possible minor when the estimate is under the line and its range
// reaches under AdultAge.
func Flag(years, low, line float32) bool {
	return years < line && low < AdultAge
}

// Estimate makes a face's ApparentAge from the model's years.
func (c AgeCalibration) Estimate(years, line float32) ApparentAge { return c.estimate(years, line, 1) }

// estimate is Estimate with the range's error scaled by widen (a turned face's).
func (c AgeCalibration) estimate(years, line, widen float32) ApparentAge {
	low, high := c.Range(years)
	low, high = max(0, years-(years-low)*widen), years+(high-years)*widen
	return ApparentAge{Years: round1(years), Low: round1(low), High: round1(high), Model: c.Model,
		PossibleMinor: Flag(years, low, line), MinorLine: line}
}

func round1(v float32) float32 { return float32(math.Round(float64(v)*10) / 10) }

// MedianAge is a person's apparent age: the median of its faces' estimates, years and range
// bounds each, flagged under line. ok is false when no face has an estimate.
func MedianAge(ages []ApparentAge, line float32) (ApparentAge, bool) {
	if len(ages) == 0 {
		return ApparentAge{}, false
	}
	pick := func(f func(ApparentAge) float32) float32 {
		v := make([]float64, len(ages))
		for i, a := range ages {
			v[i] = float64(f(a))
		}
		sort.Float64s(v)
		n := len(v)
		if n%2 == 1 {
			return float32(v[n/2])
		}
		return float32((v[n/2-1] + v[n/2]) / 2)
	}
	m := ApparentAge{
		Years: round1(pick(func(a ApparentAge) float32 { return a.Years })),
		Low:   round1(pick(func(a ApparentAge) float32 { return a.Low })),
		High:  round1(pick(func(a ApparentAge) float32 { return a.High })),
		Model: ages[0].Model, MinorLine: line,
	}
	m.PossibleMinor = Flag(m.Years, m.Low, line)
	return m, true
}

// ValidateMinorLine checks a configured line.
func ValidateMinorLine(line float32) error {
	if math.IsNaN(float64(line)) || line < AdultAge || line > 40 {
		return fmt.Errorf("minor line must be in [%d, 40] years, got %g", AdultAge, line)
	}
	return nil
}

// ageFaces estimates the apparent age of the faces that may have one (accepted, frontal
// enough) and says why the others have none.
func (p *Pipeline) ageFaces(ctx context.Context, img *image.NRGBA, faces []Face) error {
	var dets []face.Detection
	var idx []int
	for i := range faces {
		f := &faces[i]
		switch {
		case p.Age != nil && p.AgeEveryFace:
			dets = append(dets, f.Detection)
			idx = append(idx, i)
			continue
		case !f.Accepted():
			f.NoAge = NoAgeRefused
		case p.Age == nil:
			f.NoAge = NoAgeModel
		case f.Quality.Frontalness < AgeMinFrontalness:
			f.NoAge = NoAgeProfile
		default:
			dets = append(dets, f.Detection)
			idx = append(idx, i)
		}
	}
	if len(dets) == 0 {
		return nil
	}
	years, err := p.Age.ApparentAges(ctx, img, dets)
	if err != nil {
		return fmt.Errorf("engine: apparent age: %w", err)
	}
	if len(years) != len(dets) {
		return fmt.Errorf("engine: apparent age: %d estimates for %d faces", len(years), len(dets))
	}
	line := p.MinorLine
	if line == 0 {
		line = DefaultMinorLine
	}
	for j, i := range idx {
		y := years[j]
		if math.IsNaN(float64(y)) || math.IsInf(float64(y), 0) {
			faces[i].NoAge = "the age model gave no finite estimate"
			continue
		}
		widen := float32(1)
		if faces[i].Quality.Frontalness < AgeFrontal {
			widen = AgeTurnedWidening
		}
		a := p.AgeCalibration.estimate(max(0, y), line, widen)
		a.Model = p.Age.Identity()
		faces[i].Age = &a
	}
	return nil
}

// lineOf is the highest line any of ages was flagged under (a person's faces were estimated
// over time, and the line may have changed since: the stricter one holds), DefaultMinorLine
// without any.
func lineOf(ages []ApparentAge) float32 {
	var line float32
	for _, a := range ages {
		line = max(line, a.MinorLine)
	}
	if line == 0 {
		return DefaultMinorLine
	}
	return line
}

// ageAudit is what an audit entry records of new faces' derived ages: how many were
// estimated, by which model, how many flagged and under which line (the estimates themselves
// are in the faces' records).
func ageAudit(faces []NewFace) string {
	ages := make([]*ApparentAge, len(faces))
	for i, f := range faces {
		ages[i] = f.Face.Age
	}
	return agesAudit(ages)
}

func probeAgeAudit(probes []ProbeFace) string {
	ages := make([]*ApparentAge, len(probes))
	for i, p := range probes {
		ages[i] = p.Age
	}
	return agesAudit(ages)
}

func agesAudit(ages []*ApparentAge) string {
	estimated, flagged := 0, 0
	model, line := "", float32(0)
	for _, a := range ages {
		if a == nil {
			continue
		}
		estimated++
		model, line = a.Model, a.MinorLine
		if a.PossibleMinor {
			flagged++
		}
	}
	if estimated == 0 {
		return "aged=0"
	}
	return fmt.Sprintf("aged=%d possible_minors=%d age_model=%s minor_line=%g", estimated, flagged, model, line)
}

// AgeBackfill says what AgeStoredFaces did.
type AgeBackfill struct {
	Faces   int `json:"faces"`   // faces given an estimate or a reason for none
	Flagged int `json:"flagged"` // of them, possible minors
	Failed  int `json:"failed"`  // photos that could not be read or decoded (logged)
}

// AgeStoredFaces gives the faces stored before apparent ages were kept (schema version 9), or
// while no age model ran, their estimate or the reason for none, from their photos and stored
// boxes; audited as faces.age with the counts.
func (s *Service) AgeStoredFaces(ctx context.Context, a Actor) (AgeBackfill, error) {
	var rep AgeBackfill
	p := s.cfg.Pipelines[s.cfg.DefaultModel]
	if p == nil || p.Age == nil {
		return rep, fmt.Errorf("no age model runs in this service: %w", ErrInvalid)
	}
	var after int64
	for {
		imgs, err := s.cfg.Catalog.ImagesWithUnagedFaces(ctx, after, 100)
		if err != nil {
			return rep, err
		}
		for _, img := range imgs {
			after = img.ID
			ages, err := s.ageStored(ctx, p, img)
			if err != nil {
				if ctx.Err() != nil {
					return rep, ctx.Err()
				}
				rep.Failed++
				s.log.Warn("aging a stored photo's faces failed; they stay without an estimate", "image", img.ID, "err", err)
				continue
			}
			if err := s.cfg.Catalog.SetFaceAges(ctx, ages); err != nil {
				return rep, err
			}
			for _, f := range ages {
				rep.Faces++
				if f.Age != nil && f.Age.PossibleMinor {
					rep.Flagged++
				}
			}
		}
		if len(imgs) < 100 {
			break
		}
	}
	return rep, s.auditRead(ctx, entry(a, "faces.age", "", nil, "", fmt.Sprintf("faces=%d possible_minors=%d failed=%d age_model=%s", rep.Faces, rep.Flagged, rep.Failed, p.Age.Identity())))
}

// ageStored estimates a stored photo's unaged faces from its bytes and their stored boxes,
// under the same rules as a new photo's (ageFaces).
func (s *Service) ageStored(ctx context.Context, p *Pipeline, img Image) ([]StoredFace, error) {
	stored, err := s.cfg.Catalog.Faces(ctx, img.ID)
	if err != nil {
		return nil, err
	}
	var todo []StoredFace
	for _, f := range stored {
		if f.Age == nil && (f.NoAge == "" || f.NoAge == NoAgeModel) {
			todo = append(todo, f)
		}
	}
	if len(todo) == 0 {
		return nil, nil
	}
	data, err := s.readBlob(ctx, img.BlobKey)
	if err != nil {
		return nil, err
	}
	// The photo was accepted once; limits may have tightened since, so decode without them.
	d, t, err := s.decodeAdmitted(ctx, decode.Limits{MaxBytes: int64(len(data)) + 1, MaxPixels: int64(img.Width*img.Height) + 1}, data, true)
	if err != nil {
		return nil, err
	}
	defer t.release()
	faces := make([]Face, len(todo))
	for i, f := range todo {
		var lm face.Landmarks
		for k := range lm {
			lm[k] = face.Point{X: f.Landmarks[2*k], Y: f.Landmarks[2*k+1]}
		}
		faces[i] = Face{Detection: face.Detection{Box: face.Box{X: f.Box.X, Y: f.Box.Y, W: f.Box.W, H: f.Box.H}, Landmarks: lm, Score: f.Quality.Score},
			Quality: f.Quality, Rejected: f.Rejections}
	}
	if err := p.ageFaces(ctx, d.img, faces); err != nil {
		return nil, err
	}
	for i := range todo {
		todo[i].Age, todo[i].NoAge = faces[i].Age, faces[i].NoAge
	}
	return todo, nil
}
