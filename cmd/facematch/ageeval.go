package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/facematch/facematch/engine"
)

// runEvalAge measures the apparent-age estimate on labelled photos: its error by age band and
// by sex, the possible-minor flag's misses and false alarms at the line (and at others), the
// ranges' coverage and the age model's share of the pipeline's time. With --calibrate it also
// prints the ranges measured on the set's exact ages (engine/agecalibration.go holds them).
func (m *Main) runEvalAge(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("eval age", flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	var cfg Config
	cfg.bindModelFlags(fs, m.Getenv)
	labelsPath := fs.String("labels", "", "labels: a TSV with a header naming file and age (years, or a band such as 10-19 or 70+) and optionally gender, or a JSON list of {filename, age, gender}")
	root := fs.String("root", "", "the photos' directory (default: the labels file's)")
	line := fs.Float64("line", engine.DefaultMinorLine, "the possible-minor line (apparent years)")
	linesFlag := fs.String("lines", "18,20,23,25,28,30", "other lines to report the flag's rates at")
	calibrate := fs.Bool("calibrate", false, "also measure the ranges (80% of exact ages within) by estimated age")
	asJSON := fs.Bool("json", false, "print one JSON object")
	workers := fs.Int("workers", runtime.GOMAXPROCS(0), "images processed in parallel")
	consistency := fs.String("consistency", "", "instead: a directory of one folder per person (no age labels): how far each face's estimate strays from the person's frontal estimate, by frontalness")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if *consistency != "" && *labelsPath == "" && fs.NArg() == 0 {
		return m.runAgeConsistency(ctx, &cfg, *consistency, *workers, *asJSON)
	}
	if *labelsPath == "" || fs.NArg() > 0 {
		fmt.Fprintln(m.Stderr, "usage: facematch eval age --labels FILE [--root DIR] [--line 25] [--lines L,...] [--calibrate] [--json]\n       facematch eval age --consistency DIR [--json]")
		return errUsage
	}
	if err := engine.ValidateMinorLine(float32(*line)); err != nil {
		return fmt.Errorf("--line: %w", err)
	}
	var lines []float32
	for _, v := range engine.SplitList(*linesFlag) {
		x, err := strconv.ParseFloat(v, 32)
		if err != nil || engine.ValidateMinorLine(float32(x)) != nil {
			return fmt.Errorf("--lines: want years in [%d, 40], got %q", engine.AdultAge, v)
		}
		lines = append(lines, float32(x))
	}
	if *root == "" {
		*root = filepath.Dir(*labelsPath)
	}
	labels, err := readAgeLabels(*labelsPath)
	if err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	cfg.MinorLine = float32(*line)
	cfg.UncalibratedAge = *calibrate
	p, err := cfg.buildForEval(*workers)
	if err != nil {
		return err
	}
	defer p.Close()
	if p.Age == nil {
		return errors.New("no age model is configured (--age-model none?): run scripts/setup")
	}
	outcomes, ageMs, pipeMs, err := p.EvaluateAges(ctx, *root, labels, *workers, nil)
	if err != nil {
		return err
	}
	r := engine.ScoreAges(outcomes, float32(*line), lines)
	r.AgeMsPerFace, r.PipelineMsPerPhoto = ageMs, pipeMs
	if pipeMs > 0 {
		r.AgeShare = ageMs / pipeMs
	}
	out := struct {
		engine.AgeReport
		Model       string                 `json:"model"`
		Calibration []engine.AgeBin        `json:"calibration,omitempty"`
		Calibrated  *engine.AgeCalibration `json:"calibration_in_use,omitempty"`
	}{AgeReport: r, Model: p.Age.Identity()}
	if *calibrate {
		out.Calibration = engine.CalibrateAges(outcomes, engine.AgeCalibrationEdges, engine.AgeRangeCoverage, 20)
	}
	if c := p.AgeCalibration; len(c.Bins) > 0 {
		out.Calibrated = &c
	}
	if *asJSON {
		return json.NewEncoder(m.Stdout).Encode(out)
	}
	w := m.Stdout
	fmt.Fprintf(w, "%s: %d photos, %d with an estimate (%d without a face, %d refused or turned, %d failed); model %s\n",
		*labelsPath, r.Images, r.Faces, r.NoFace, r.NoEstimate, r.Failed, out.Model)
	for why, n := range r.NoEstimateReasons {
		fmt.Fprintf(w, "  no estimate, %s: %d\n", why, n)
	}
	fmt.Fprintf(w, "mean absolute error %.2f years; ranges hold the label for %.1f%%\n", r.MAE, 100*r.RangeCoverage)
	for _, b := range r.MAEByBand {
		fmt.Fprintf(w, "  age %-8s %5d faces  MAE %5.2f\n", strings.ReplaceAll(b.Group, "_", "-"), b.Faces, b.MAE)
	}
	for _, b := range r.MAEBySex {
		fmt.Fprintf(w, "  %-12s %5d faces  MAE %5.2f\n", b.Group, b.Faces, b.MAE)
	}
	rate := func(v *float64) string {
		if v == nil {
			return "   n/a"
		}
		return fmt.Sprintf("%5.1f%%", 100**v)
	}
	fmt.Fprintf(w, "possible-minor flag (under the line unless the range is wholly 18+), %d minors (%d without an estimate, each a miss):\n", r.Minors, r.MinorsNoEstimate)
	fmt.Fprintf(w, "  line  under-18s missed  18-24 flagged  25+ flagged\n")
	fmt.Fprintf(w, "  %4g  %16s  %13s  %11s  (chosen)\n", r.Line, rate(r.MinorFNR), rate(r.Adult18FPR), rate(r.Adult25FPR))
	for _, l := range r.Lines {
		fmt.Fprintf(w, "  %4g  %16s  %13s  %11s\n", l.Line, rate(l.MinorFNR), rate(l.Adult18FPR), rate(l.Adult25FPR))
	}
	fmt.Fprintf(w, "cost: %.2f ms per face for the age model, %.1f ms per photo for the whole pipeline (%.1f%%)\n", ageMs, pipeMs, 100*r.AgeShare)
	for _, b := range out.Calibration {
		fmt.Fprintf(w, "  estimate < %4g: true age within %+.1f … %+.1f years\n", b.UpTo, b.Low, b.High)
	}
	return nil
}

// readAgeLabels reads a labels file: a TSV whose header names the columns file and age (and
// optionally gender: 0/1 as UTKFace, or words), or a JSON list of {filename, age, gender}.
func readAgeLabels(path string) ([]engine.AgeLabel, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []engine.AgeLabel
	if strings.HasPrefix(strings.TrimSpace(string(b)), "[") {
		var rows []struct {
			Filename string          `json:"filename"`
			File     string          `json:"file"`
			Age      json.RawMessage `json:"age"`
			Gender   json.RawMessage `json:"gender"`
		}
		if err := json.Unmarshal(b, &rows); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		for i, r := range rows {
			l, err := ageLabel(firstNonEmpty(r.Filename, r.File), unquote(r.Age), unquote(r.Gender))
			if err != nil {
				return nil, fmt.Errorf("%s: entry %d: %w", path, i+1, err)
			}
			out = append(out, l)
		}
	} else {
		lines := strings.Split(strings.TrimRight(string(b), "\r\n"), "\n")
		col := map[string]int{}
		for i, h := range strings.Split(strings.TrimRight(lines[0], "\r"), "\t") {
			col[strings.ToLower(strings.TrimSpace(h))] = i
		}
		fi, okF := col["file"]
		ai, okA := col["age"]
		if !okF || !okA {
			return nil, fmt.Errorf("%s: the header must name the columns file and age", path)
		}
		gi, okG := col["gender"]
		for n, line := range lines[1:] {
			c := strings.Split(strings.TrimRight(line, "\r"), "\t")
			if len(c) <= max(fi, ai) {
				return nil, fmt.Errorf("%s line %d: want the columns of the header", path, n+2)
			}
			g := ""
			if okG && gi < len(c) {
				g = c[gi]
			}
			l, err := ageLabel(c[fi], c[ai], g)
			if err != nil {
				return nil, fmt.Errorf("%s line %d: %w", path, n+2, err)
			}
			out = append(out, l)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s lists no photo", path)
	}
	return out, nil
}

// ageLabel reads one label: an age in years ("16"), a band ("10-19") or an open band ("70+").
func ageLabel(file, age, gender string) (engine.AgeLabel, error) {
	l := engine.AgeLabel{File: file}
	if file == "" || strings.Contains(file, "..") || filepath.IsAbs(file) {
		return l, fmt.Errorf("file %q must be a relative path inside the root", file)
	}
	parse := func(s string) (float32, error) {
		v, err := strconv.ParseFloat(strings.TrimSpace(s), 32)
		if err != nil || v < 0 || v > 130 {
			return 0, fmt.Errorf("age %q: want years in [0, 130], a band a-b or a+", age)
		}
		return float32(v), nil
	}
	var err error
	switch lo, hi, band := strings.Cut(age, "-"); {
	case strings.HasSuffix(age, "+"):
		if l.Low, err = parse(strings.TrimSuffix(age, "+")); err != nil {
			return l, err
		}
		l.High = 130
	case band:
		if l.Low, err = parse(lo); err != nil {
			return l, err
		}
		if l.High, err = parse(hi); err != nil {
			return l, err
		}
		if l.High < l.Low {
			return l, fmt.Errorf("age band %q ends before it starts", age)
		}
	default:
		if l.Low, err = parse(age); err != nil {
			return l, err
		}
		l.High = l.Low
	}
	switch strings.ToLower(strings.TrimSpace(gender)) {
	case "0", "male", "m":
		l.Sex = "male"
	case "1", "female", "f":
		l.Sex = "female"
	}
	return l, nil
}

func unquote(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return strings.TrimSpace(string(raw))
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// runAgeConsistency measures how the estimate strays with pose: every detected face is
// estimated (turned or refused too), and compared with the same person's frontal estimate.
func (m *Main) runAgeConsistency(ctx context.Context, cfg *Config, root string, workers int, asJSON bool) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	files, err := photoTree(root)
	if err != nil {
		return err
	}
	ids := make([]string, len(files))
	for i, f := range files {
		ids[i], _, _ = strings.Cut(filepath.ToSlash(f), "/")
	}
	p, err := cfg.buildForEval(workers)
	if err != nil {
		return err
	}
	defer p.Close()
	if p.Age == nil {
		return errors.New("no age model is configured (--age-model none?): run scripts/setup")
	}
	p.AgeEveryFace = true
	prim, err := p.EmbedPrimaries(ctx, root, files, workers, nil)
	if err != nil {
		return err
	}
	buckets := engine.AgeConsistency(ids, prim)
	if asJSON {
		return json.NewEncoder(m.Stdout).Encode(struct {
			Photos  int                 `json:"photos"`
			Model   string              `json:"model"`
			Buckets []engine.PoseBucket `json:"by_frontalness"`
		}{len(files), p.Age.Identity(), buckets})
	}
	fmt.Fprintf(m.Stdout, "%s: %d photos; model %s\nfrontalness  faces  mean |estimate - the person's frontal median| (years)\n", root, len(files), p.Age.Identity())
	for _, b := range buckets {
		fmt.Fprintf(m.Stdout, "  %.1f-%.1f  %6d  %5.2f\n", b.Frontalness[0], b.Frontalness[1], b.Faces, b.MeanDev)
	}
	return nil
}
