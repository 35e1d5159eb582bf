package engine

import (
	"context"
	"image"
	"math"
	"slices"
	"sort"
	"sync/atomic"
	"time"

	"github.com/facematch/facematch/face"
)

// Measuring the apparent-age estimate (issue 16): its error by age band and by sex against
// labelled photos, the possible-minor flag's misses and false alarms at the line, and the
// ranges' calibration.

// AgeLabel is a labelled photo: the true age as an interval of years (Low == High for an exact
// age, a band such as 10-19 otherwise) and the person's sex when known.
type AgeLabel struct {
	File      string
	Low, High float32
	Sex       string
}

// AgeOutcome is what the pipeline made of one labelled photo's primary face.
type AgeOutcome struct {
	Label    AgeLabel
	Estimate *ApparentAge // nil: no face, no estimate (NoAge says why) or a failed file
	NoFace   bool
	NoAge    string
	Failed   bool
}

// Age bands of the report (years, inclusive).
var ageBands = []struct {
	Name      string
	Low, High float32
}{{"0_12", 0, 12}, {"13_17", 13, 17}, {"18_24", 18, 24}, {"25_34", 25, 34}, {"35_plus", 35, math.MaxFloat32}}

// AgeReport is `facematch eval age`: the error of the estimates and the flag's rates.
type AgeReport struct {
	Images     int `json:"images"`
	Faces      int `json:"faces"` // photos whose primary face has an estimate
	NoFace     int `json:"no_face"`
	NoEstimate int `json:"no_estimate"` // a face, but refused or a profile
	// NoEstimateReasons counts why (engine.NoAge*).
	NoEstimateReasons map[string]int `json:"no_estimate_reasons"`
	Failed            int            `json:"failed"`
	// MAE is the mean absolute error in years (to the label's band when it is one: 0 inside);
	// by age band of the label (labels spanning two bands are left out there) and by sex.
	MAE       float64  `json:"mae"`
	MAEByBand []BandAE `json:"mae_by_band"`
	MAEBySex  []BandAE `json:"mae_by_sex"`
	// The keys the issue names, from the lists above (null: no label in that band).
	MAE0to12   *float64 `json:"mae_0_12"`
	MAE13to17  *float64 `json:"mae_13_17"`
	MAE18to24  *float64 `json:"mae_18_24"`
	MAE25to34  *float64 `json:"mae_25_34"`
	MAE35Plus  *float64 `json:"mae_35_plus"`
	Line       float32  `json:"line"`
	MinorFNR   *float64 `json:"minor_fnr"`         // under-18s not flagged (no estimate counts as not flagged)
	Adult18FPR *float64 `json:"adult_18_24_fpr"`   // 18-24s flagged
	Adult25FPR *float64 `json:"adult_25_plus_fpr"` // 25 and over flagged
	Minors     int      `json:"minors"`            // labels wholly under 18
	// MinorsNoEstimate are the minors without an estimate (no face, refused, a profile): each
	// is a miss in MinorFNR.
	MinorsNoEstimate int `json:"minors_no_estimate"`
	// Lines are the same three rates at other lines, to show the trade.
	Lines []AgeLineRates `json:"lines"`
	// RangeCoverage is the share of estimates whose range holds the label (meets its band).
	RangeCoverage float64 `json:"range_coverage"`
	// Cost: the age model's time per estimated face and the whole pipeline's per photo (decode,
	// detection, embedding, age), and the first over the second.
	AgeMsPerFace       float64 `json:"age_ms_per_face"`
	PipelineMsPerPhoto float64 `json:"pipeline_ms_per_photo"`
	AgeShare           float64 `json:"age_share"`
}

// BandAE is a mean absolute error over a group of labels.
type BandAE struct {
	Group string  `json:"group"`
	Faces int     `json:"faces"`
	MAE   float64 `json:"mae"`
}

// AgeLineRates are the flag's rates at one line.
type AgeLineRates struct {
	Line       float32  `json:"line"`
	MinorFNR   *float64 `json:"minor_fnr"`
	Adult18FPR *float64 `json:"adult_18_24_fpr"`
	Adult25FPR *float64 `json:"adult_25_plus_fpr"`
}

// ageError is the distance in years from an estimate to a label (0 inside a band).
func ageError(years float32, l AgeLabel) float64 {
	switch {
	case years < l.Low:
		return float64(l.Low - years)
	case years > l.High:
		return float64(years - l.High)
	}
	return 0
}

// ScoreAges scores outcomes at line, and at each of lines for the trade table.
func ScoreAges(outcomes []AgeOutcome, line float32, lines []float32) AgeReport {
	r := AgeReport{Images: len(outcomes), Line: line, NoEstimateReasons: map[string]int{}}
	type acc struct {
		n   int
		sum float64
	}
	bands := make([]acc, len(ageBands))
	bySex := map[string]*acc{}
	var all acc
	covered := 0
	for _, o := range outcomes {
		switch {
		case o.Failed:
			r.Failed++
		case o.NoFace:
			r.NoFace++
		case o.Estimate == nil:
			r.NoEstimate++
			r.NoEstimateReasons[o.NoAge]++
		}
		if o.Estimate == nil {
			continue
		}
		r.Faces++
		e := ageError(o.Estimate.Years, o.Label)
		all.n++
		all.sum += e
		for i, b := range ageBands {
			if o.Label.Low >= b.Low && o.Label.High <= b.High+0.999 {
				bands[i].n++
				bands[i].sum += e
			}
		}
		if o.Label.Sex != "" {
			if bySex[o.Label.Sex] == nil {
				bySex[o.Label.Sex] = &acc{}
			}
			bySex[o.Label.Sex].n++
			bySex[o.Label.Sex].sum += e
		}
		if o.Estimate.Low <= o.Label.High && o.Estimate.High >= o.Label.Low {
			covered++
		}
	}
	mean := func(a acc) float64 {
		if a.n == 0 {
			return 0
		}
		return a.sum / float64(a.n)
	}
	r.MAE = mean(all)
	if all.n > 0 {
		r.RangeCoverage = float64(covered) / float64(all.n)
	}
	keys := []**float64{&r.MAE0to12, &r.MAE13to17, &r.MAE18to24, &r.MAE25to34, &r.MAE35Plus}
	for i, b := range ageBands {
		r.MAEByBand = append(r.MAEByBand, BandAE{Group: b.Name, Faces: bands[i].n, MAE: mean(bands[i])})
		if bands[i].n > 0 {
			v := mean(bands[i])
			*keys[i] = &v
		}
	}
	sexes := make([]string, 0, len(bySex))
	for s := range bySex {
		sexes = append(sexes, s)
	}
	sort.Strings(sexes)
	for _, s := range sexes {
		r.MAEBySex = append(r.MAEBySex, BandAE{Group: s, Faces: bySex[s].n, MAE: mean(*bySex[s])})
	}
	at := ageLineRates(outcomes, line)
	r.MinorFNR, r.Adult18FPR, r.Adult25FPR = at.MinorFNR, at.Adult18FPR, at.Adult25FPR
	for _, o := range outcomes {
		if o.Label.High < AdultAge {
			r.Minors++
			if o.Estimate == nil {
				r.MinorsNoEstimate++
			}
		}
	}
	for _, l := range lines {
		r.Lines = append(r.Lines, ageLineRates(outcomes, l))
	}
	return r
}

// ageLineRates is the flag's rates at line: a photo without an estimate is not flagged (it
// is a miss when the label is a minor's).
func ageLineRates(outcomes []AgeOutcome, line float32) AgeLineRates {
	var minors, missed, young, youngFlagged, older, olderFlagged int
	for _, o := range outcomes {
		flagged := o.Estimate != nil && Flag(o.Estimate.Years, o.Estimate.Low, line)
		switch {
		case o.Label.High < AdultAge:
			minors++
			if !flagged {
				missed++
			}
		case o.Label.Low >= AdultAge && o.Label.High <= 24:
			young++
			if flagged {
				youngFlagged++
			}
		case o.Label.Low >= 25:
			older++
			if flagged {
				olderFlagged++
			}
		}
	}
	rate := func(k, n int) *float64 {
		if n == 0 {
			return nil
		}
		v := float64(k) / float64(n)
		return &v
	}
	return AgeLineRates{Line: line, MinorFNR: rate(missed, minors), Adult18FPR: rate(youngFlagged, young), Adult25FPR: rate(olderFlagged, older)}
}

// CalibrateAges measures the ranges: for bins of the estimate (edges in years), the weighted
// quantiles of (true age - estimate) that leave (1-coverage)/2 of the faces below and above,
// from labels with an exact age. Each face weighs 1/(faces of its true age in years), so the
// ranges do not carry the labelled set's own spread of ages (a set heavy in children would
// otherwise pull every range down). A bin with fewer than minPerBin faces takes its nearest
// measured neighbour's error.
func CalibrateAges(outcomes []AgeOutcome, edges []float32, coverage float64, minPerBin int) []AgeBin {
	type sample struct{ r, w float64 }
	perYear := map[int]int{}
	for _, o := range outcomes {
		if o.Estimate != nil && o.Label.Low == o.Label.High {
			perYear[int(o.Label.Low)]++
		}
	}
	samples := make([][]sample, len(edges)+1)
	for _, o := range outcomes {
		if o.Estimate == nil || o.Label.Low != o.Label.High {
			continue
		}
		i := sort.Search(len(edges), func(i int) bool { return o.Estimate.Years < edges[i] })
		samples[i] = append(samples[i], sample{float64(o.Label.Low - o.Estimate.Years), 1 / float64(perYear[int(o.Label.Low)])})
	}
	q := func(v []sample, p float64) float32 {
		s := slices.Clone(v)
		sort.Slice(s, func(a, b int) bool { return s[a].r < s[b].r })
		var total float64
		for _, x := range s {
			total += x.w
		}
		acc := 0.0
		for _, x := range s {
			acc += x.w
			if acc >= p*total-1e-12 {
				return float32(math.Round(x.r*10) / 10)
			}
		}
		return float32(math.Round(s[len(s)-1].r*10) / 10)
	}
	bins := make([]AgeBin, len(edges)+1)
	for i := range bins {
		bins[i].UpTo = 1000
		if i < len(edges) {
			bins[i].UpTo = edges[i]
		}
		if len(samples[i]) >= minPerBin {
			bins[i].Low, bins[i].High = q(samples[i], (1-coverage)/2), q(samples[i], 1-(1-coverage)/2)
		} else {
			bins[i].Low, bins[i].High = float32(math.NaN()), float32(math.NaN())
		}
	}
	// Thin bins borrow the nearest measured one's error (before, else after).
	for i := range bins {
		if !math.IsNaN(float64(bins[i].Low)) {
			continue
		}
		for d := 1; d < len(bins); d++ {
			if j := i - d; j >= 0 && !math.IsNaN(float64(bins[j].Low)) {
				bins[i].Low, bins[i].High = bins[j].Low, bins[j].High
				break
			}
			if j := i + d; j < len(bins) && !math.IsNaN(float64(bins[j].Low)) {
				bins[i].Low, bins[i].High = bins[j].Low, bins[j].High
				break
			}
		}
	}
	return bins
}

// timedAges wraps an age estimator to add up its time and faces, for the cost figures.
type timedAges struct {
	AgeEstimator
	nanos, faces atomic.Int64
}

func (t *timedAges) ApparentAges(ctx context.Context, img *image.NRGBA, dets []face.Detection) ([]float32, error) {
	start := time.Now()
	out, err := t.AgeEstimator.ApparentAges(ctx, img, dets)
	t.nanos.Add(int64(time.Since(start)))
	t.faces.Add(int64(len(dets)))
	return out, err
}

// EvaluateAges runs the pipeline over labelled photos (relative to root) and returns each
// primary face's outcome with the cost figures (age ms per face, pipeline ms per photo).
func (p *Pipeline) EvaluateAges(ctx context.Context, root string, labels []AgeLabel, workers int, progress Progress) ([]AgeOutcome, float64, float64, error) {
	timed := &timedAges{AgeEstimator: p.Age}
	q := *p
	q.Age = timed
	q.EmbedRejected = false
	files := make([]string, len(labels))
	for i, l := range labels {
		files[i] = l.File
	}
	start := time.Now()
	prim, err := q.EmbedPrimaries(ctx, root, files, workers, progress)
	if err != nil {
		return nil, 0, 0, err
	}
	wall := time.Since(start)
	out := make([]AgeOutcome, len(labels))
	for i, pe := range prim {
		out[i] = AgeOutcome{Label: labels[i], Estimate: pe.Age, NoAge: pe.NoAge, Failed: pe.Err != nil, NoFace: pe.Err == nil && !pe.Found}
	}
	var ageMs float64
	if n := timed.faces.Load(); n > 0 {
		ageMs = float64(timed.nanos.Load()) / 1e6 / float64(n)
	}
	// Photos run in parallel on `workers` goroutines: per photo, the pipeline's time is the
	// wall time times the workers over the photos.
	pipeMs := float64(wall.Milliseconds()) * float64(max(1, workers)) / float64(max(1, len(labels)))
	return out, ageMs, pipeMs, nil
}

// PoseBucket is how far the estimates of faces turned this much stray from the same person's
// frontal estimate.
type PoseBucket struct {
	Frontalness [2]float64 `json:"frontalness"` // [from, to)
	Faces       int        `json:"faces"`
	MeanDev     float64    `json:"mean_deviation"` // years, |estimate - the person's frontal median|
}

// AgeConsistency measures the estimate against pose without age labels: each person's
// reference is the median estimate of their faces at least 0.8 frontal (two or more), and each
// face's deviation from it is averaged by frontalness. It is how AgeMinFrontalness was chosen.
func AgeConsistency(identities []string, outcomes []PrimaryEmbedding) []PoseBucket {
	byID := map[string][]float64{}
	for i, o := range outcomes {
		if o.Age != nil && o.Quality.Frontalness >= 0.8 {
			byID[identities[i]] = append(byID[identities[i]], float64(o.Age.Years))
		}
	}
	ref := map[string]float64{}
	for id, v := range byID {
		if len(v) >= 2 {
			sort.Float64s(v)
			ref[id] = (v[(len(v)-1)/2] + v[len(v)/2]) / 2
		}
	}
	buckets := make([]PoseBucket, 10)
	sums := make([]float64, 10)
	for i := range buckets {
		buckets[i].Frontalness = [2]float64{float64(i) / 10, float64(i+1) / 10}
	}
	for i, o := range outcomes {
		r, ok := ref[identities[i]]
		if o.Age == nil || !ok {
			continue
		}
		b := min(9, max(0, int(o.Quality.Frontalness*10)))
		buckets[b].Faces++
		sums[b] += math.Abs(float64(o.Age.Years) - r)
	}
	for i := range buckets {
		if buckets[i].Faces > 0 {
			buckets[i].MeanDev = sums[i] / float64(buckets[i].Faces)
		}
	}
	return buckets
}
