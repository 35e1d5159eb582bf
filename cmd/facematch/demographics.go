package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/facematch/facematch/engine"
)

// demographicsJSON is `facematch eval demographics --json`.
type demographicsJSON struct {
	Set      string            `json:"set"`
	Model    string            `json:"model"`
	Lines    []float32         `json:"lines"`
	Unusable int               `json:"unusable_photos"`
	Groups   []engine.GroupFMR `json:"groups"`
}

// runEvalDemographics measures the false-match rate of impostor pairs within each group of
// people a labelled set names (age, sex, ancestry), at the band lines or given thresholds: a
// line that holds for adults may not hold for children.
func (m *Main) runEvalDemographics(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("eval demographics", flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	var cfg Config
	cfg.bindModelFlags(fs, m.Getenv)
	set := fs.String("set", "", "utkface (labels.tsv: age, gender, race) or fairface (ground_truth.json: age band, gender)")
	root := fs.String("root", "", "the set's directory (default ../shared/data/SET)")
	linesFlag := fs.String("lines", "", "comma-separated similarity thresholds (default: the recognizer's medium and high band lines)")
	asJSON := fs.Bool("json", false, "print one JSON object")
	workers := fs.Int("workers", runtime.GOMAXPROCS(0), "images processed in parallel")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if (*set != "utkface" && *set != "fairface") || fs.NArg() > 0 {
		fmt.Fprintln(m.Stderr, "usage: facematch eval demographics --set utkface|fairface [--root DIR] [--lines T,...] [--json]")
		return errUsage
	}
	if *root == "" {
		*root = filepath.Join("..", "shared", "data", *set)
	}
	var lines []float32
	for _, v := range engine.SplitList(*linesFlag) {
		x, err := strconv.ParseFloat(v, 32)
		if err != nil || x < -1 || x > 1 {
			return fmt.Errorf("--lines: want similarities in [-1, 1], got %q", v)
		}
		lines = append(lines, float32(x))
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	files, labels, err := readDemographicLabels(*set, *root)
	if err != nil {
		return err
	}
	p, err := cfg.buildForEval(*workers)
	if err != nil {
		return err
	}
	defer p.Close()
	if len(lines) == 0 {
		medium, high, ok := engine.BandLines(p.Embedder.Identity())
		if !ok {
			return fmt.Errorf("the recognizer %s has no band lines: give --lines", p.Embedder.Identity())
		}
		lines = []float32{medium, high}
	}
	embs, err := p.EmbedPrimaries(ctx, *root, files, *workers, nil)
	if err != nil {
		return err
	}
	out := demographicsJSON{Set: *set, Model: p.Embedder.Identity(), Lines: lines}
	var items []engine.LabelledEmbedding
	for i, e := range embs {
		if e.Embedding == nil {
			out.Unusable++
			continue
		}
		items = append(items, engine.LabelledEmbedding{Labels: labels[i], Vector: e.Embedding.Vector})
	}
	out.Groups = engine.GroupImpostorRates(items, lines)
	if *asJSON {
		return json.NewEncoder(m.Stdout).Encode(out)
	}
	w := m.Stdout
	fmt.Fprintf(w, "%s: %d photos (%d without a usable face), model %s\n", *set, len(files), out.Unusable, out.Model)
	fmt.Fprintf(w, "%-10s %-12s %7s %9s", "dimension", "group", "photos", "pairs")
	for _, l := range lines {
		fmt.Fprintf(w, "  FMR@%.3f", l)
	}
	fmt.Fprintln(w)
	for _, g := range out.Groups {
		fmt.Fprintf(w, "%-10s %-12s %7d %9d", g.Dimension, g.Group, g.Photos, g.Pairs)
		for _, r := range g.FMR {
			fmt.Fprintf(w, "  %9.2e", r)
		}
		fmt.Fprintln(w)
	}
	return nil
}

// readDemographicLabels lists a labelled set's photos and their groups.
func readDemographicLabels(set, root string) ([]string, []map[string]string, error) {
	var files []string
	var labels []map[string]string
	switch set {
	case "utkface":
		f, err := os.Open(filepath.Join(root, "labels.tsv"))
		if err != nil {
			return nil, nil, err
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		sc.Scan() // header: file, age, gender, race
		for line := 2; sc.Scan(); line++ {
			c := strings.Split(sc.Text(), "\t")
			if len(c) != 4 {
				return nil, nil, fmt.Errorf("labels.tsv line %d: want 4 columns", line)
			}
			age, err1 := strconv.Atoi(c[1])
			gender, err2 := strconv.Atoi(c[2])
			race, err3 := strconv.Atoi(c[3])
			if err1 != nil || err2 != nil || err3 != nil || gender < 0 || gender > 1 || race < 0 || race > 4 {
				return nil, nil, fmt.Errorf("labels.tsv line %d: %q", line, sc.Text())
			}
			minor := "adult"
			if age < 18 {
				minor = "minor"
			}
			files = append(files, c[0])
			labels = append(labels, map[string]string{"age": ageBand(age), "minor": minor,
				"sex": []string{"male", "female"}[gender], "ancestry": []string{"White", "Black", "Asian", "Indian", "Others"}[race]})
		}
		if err := sc.Err(); err != nil {
			return nil, nil, err
		}
	case "fairface":
		b, err := os.ReadFile(filepath.Join(root, "ground_truth.json"))
		if err != nil {
			return nil, nil, err
		}
		var rows []struct{ Filename, Age, Gender string }
		if err := json.Unmarshal(b, &rows); err != nil {
			return nil, nil, fmt.Errorf("ground_truth.json: %w", err)
		}
		for _, r := range rows {
			under20 := "20+"
			if r.Age == "0-2" || r.Age == "3-9" || r.Age == "10-19" {
				under20 = "0-19"
			}
			files = append(files, r.Filename)
			labels = append(labels, map[string]string{"age": r.Age, "under_20": under20, "sex": strings.ToLower(r.Gender)})
		}
	}
	if len(files) == 0 {
		return nil, nil, fmt.Errorf("%s lists no photo", root)
	}
	return files, labels, nil
}

func ageBand(age int) string {
	switch {
	case age <= 12:
		return "0-12"
	case age <= 17:
		return "13-17"
	case age <= 24:
		return "18-24"
	case age <= 39:
		return "25-39"
	case age <= 59:
		return "40-59"
	}
	return "60+"
}
