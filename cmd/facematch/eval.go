package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"time"

	"github.com/facematch/facematch/engine"
	"github.com/facematch/facematch/internal/verify"
)

// evalJSON is the machine-readable verification report. The first seven keys are the
// documented interface; the rest explain the figures.
type evalJSON struct {
	Pairs        int     `json:"pairs"`
	Accuracy     float64 `json:"accuracy"`
	AccuracyStd  float64 `json:"accuracy_std"`
	TARAtFAR1e3  float64 `json:"tar_at_far_1e3"`
	TARAtFAR1e4  float64 `json:"tar_at_far_1e4"`
	NoFace       int     `json:"no_face"`
	ImagesPerSec float64 `json:"images_per_s"`

	Folds         int     `json:"folds"`
	AUC           float64 `json:"auc"`
	Threshold     float64 `json:"threshold"`
	GenuinePairs  int     `json:"genuine_pairs"`
	ImpostorPairs int     `json:"impostor_pairs"`
	Unscored      int     `json:"unscored_pairs"`
	Images        int     `json:"images"`
	Rejected      int     `json:"rejected_by_quality_gate"`
	Failed        int     `json:"failed_images"`
	LogisticA     float64 `json:"calibration_a"`
	LogisticB     float64 `json:"calibration_b"`
	Model         string  `json:"model"`
	Detector      string  `json:"detector"`
	Workers       int     `json:"workers"`
	Threads       int     `json:"threads_per_worker"`

	AllPairs *engine.AllPairsResult `json:"all_pairs,omitempty"`
}

func (m *Main) runEvalVerify(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("eval verify", flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	var cfg Config
	cfg.bindModelFlags(fs, m.Getenv)
	pairsFile := fs.String("pairs", "", "pairs file: LFW pairs.txt (header FOLDS<TAB>N) or TSV image_a<TAB>image_b<TAB>same")
	root := fs.String("root", "", "directory the image paths are relative to")
	asJSON := fs.Bool("json", false, "print one JSON object")
	workers := fs.Int("workers", runtime.GOMAXPROCS(0), "images processed in parallel")
	allPairs := fs.Bool("all-pairs", false, "also measure TAR at FAR over every image pair, identity = first path element")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if *pairsFile == "" || *root == "" || fs.NArg() > 0 {
		fmt.Fprintln(m.Stderr, "usage: facematch eval verify --pairs FILE --root DIR [--json] [--all-pairs]")
		return errUsage
	}
	if *workers < 1 {
		return fmt.Errorf("workers must be >= 1, got %d", *workers)
	}
	if err := cfg.Validate(); err != nil { // before reading thousands of pairs
		return err
	}
	f, err := os.Open(*pairsFile)
	if err != nil {
		return err
	}
	set, err := verify.ReadPairs(f)
	f.Close()
	if err != nil {
		return err
	}
	p, err := cfg.buildForEval(*workers)
	if err != nil {
		return err
	}
	defer p.Close()

	progress := func(done, total int, elapsed time.Duration) {
		rate := float64(done) / elapsed.Seconds()
		eta := "unknown"
		if done > 0 {
			eta = time.Duration(float64(total-done) / rate * float64(time.Second)).Round(time.Second).String()
		}
		fmt.Fprintf(m.Stderr, "eval: %d/%d images, %.1f images/s, eta %s\n", done, total, rate, eta)
	}
	res, err := p.EvaluatePairs(ctx, set, *root, *workers, progress)
	if err != nil {
		return err
	}
	out := evalJSON{
		Pairs: res.Pairs, Accuracy: res.Accuracy, AccuracyStd: res.AccuracyStd,
		TARAtFAR1e3: res.TARAtFAR1e3, TARAtFAR1e4: res.TARAtFAR1e4, NoFace: res.NoFace, ImagesPerSec: res.ImagesPerSec,
		Folds: set.Folds, AUC: res.AUC, Threshold: res.Threshold, GenuinePairs: res.GenuinePairs, ImpostorPairs: res.ImpostorPairs,
		Unscored: res.Unscored, Images: res.Images, Rejected: res.Rejected, Failed: res.Failed,
		LogisticA: res.LogisticA, LogisticB: res.LogisticB, Model: p.Embedder.Identity(), Detector: cfg.Detector,
		Workers: *workers, Threads: cfg.Threads,
	}
	if *allPairs {
		ap := engine.AllPairs(res.Embeddings)
		out.AllPairs = &ap
	}
	if *asJSON {
		return json.NewEncoder(m.Stdout).Encode(out)
	}
	w := m.Stdout
	fmt.Fprintf(w, "model        %s (detector %s)\n", out.Model, out.Detector)
	fmt.Fprintf(w, "pairs        %d (%d genuine, %d impostor, %d folds; %d unscored)\n", out.Pairs, out.GenuinePairs, out.ImpostorPairs, out.Folds, out.Unscored)
	fmt.Fprintf(w, "accuracy     %.2f%% ± %.2f (threshold chosen on the other folds)\n", 100*out.Accuracy, 100*out.AccuracyStd)
	res1e4 := ""
	if 1e-4 < res.MinResolvableFAR() {
		res1e4 = fmt.Sprintf(" (only %d impostor pairs: this is TAR at zero false accepts)", out.ImpostorPairs)
	}
	res1e3 := ""
	if 1e-3 < res.MinResolvableFAR() {
		res1e3 = " (TAR at zero false accepts)"
	}
	fmt.Fprintf(w, "TAR@FAR=1e-3 %.4f%s\n", out.TARAtFAR1e3, res1e3)
	fmt.Fprintf(w, "TAR@FAR=1e-4 %.4f%s\n", out.TARAtFAR1e4, res1e4)
	fmt.Fprintf(w, "AUC          %.5f\n", out.AUC)
	fmt.Fprintf(w, "images       %d, no face found in %d, primary face below the quality gate in %d, unreadable %d\n", out.Images, out.NoFace, out.Rejected, out.Failed)
	fmt.Fprintf(w, "speed        %.1f images/s (%d workers × %d threads)\n", out.ImagesPerSec, out.Workers, out.Threads)
	if ap := out.AllPairs; ap != nil {
		fmt.Fprintf(w, "all pairs    %d genuine, %d impostor: TAR %.4f @ FAR 1e-3 (similarity %.3f), TAR %.4f @ FAR 1e-4 (similarity %.3f), TAR %.4f @ FAR 1e-5\n",
			ap.Genuine, ap.Impostor, ap.TARAtFAR1e3, ap.Threshold1e3, ap.TARAtFAR1e4, ap.Threshold1e4, ap.TARAtFAR1e5)
	}
	return nil
}
