package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/facematch/facematch/bench/sets"
	"github.com/facematch/facematch/engine"
)

// identifyJSON is `facematch eval identify --json`: the chosen scoring's figures at the top
// (rank1, fnir_at_fpir_1e2, fnir_at_fpir_1e3, gallery_size, threshold_at_fpir_1e2 are the
// documented keys), every scoring under by_scoring.
type identifyJSON struct {
	engine.IdentifyResult
	Unusable  int                              `json:"unusable_photos"` // no face found, or unreadable
	Model     string                           `json:"model"`
	ByScoring map[string]engine.IdentifyResult `json:"by_scoring"`
	// BySize is the chosen scoring on galleries of growing size (--sizes, then every identity),
	// each with the service's operating threshold for --target-fpir and the FPIR and FNIR there.
	BySize []engine.IdentifyResult `json:"by_size"`
}

// runEvalIdentify evaluates 1:N identification: folders of identities, the gallery's enrolled
// and the probes searched; probes of people missing from the gallery are the strangers.
func (m *Main) runEvalIdentify(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("eval identify", flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	var cfg Config
	cfg.bindModelFlags(fs, m.Getenv)
	galleryDir := fs.String("gallery", "", "gallery: one folder of photos per identity")
	probesDir := fs.String("probes", "", "probes: one folder of photos per identity; identities not in the gallery are strangers")
	scoring := fs.String("scoring", engine.ScoreMax, "how a subject with several photos is scored: "+strings.Join(engine.Scorings, ", "))
	asJSON := fs.Bool("json", false, "print one JSON object")
	workers := fs.Int("workers", runtime.GOMAXPROCS(0), "images processed in parallel")
	sizes := fs.String("sizes", "100,1000", "also measure galleries of these many identities (drawn by a fixed shuffle), then all")
	targetFPIR := fs.Float64("target-fpir", engine.DefaultTargetFPIR, "the target FPIR the operating threshold is set for")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if *galleryDir == "" || *probesDir == "" || fs.NArg() > 0 {
		fmt.Fprintln(m.Stderr, "usage: facematch eval identify --gallery DIR --probes DIR [--scoring max] [--json]")
		return errUsage
	}
	if !strings.Contains(","+strings.Join(engine.Scorings, ",")+",", ","+*scoring+",") {
		return fmt.Errorf("scoring must be one of %s, got %q", strings.Join(engine.Scorings, ", "), *scoring)
	}
	if *workers < 1 {
		return fmt.Errorf("workers must be >= 1, got %d", *workers)
	}
	if !(*targetFPIR > 0 && *targetFPIR < 1) {
		return fmt.Errorf("target-fpir must be in (0, 1), got %g", *targetFPIR)
	}
	var sizeList []int
	for _, v := range engine.SplitList(*sizes) {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return fmt.Errorf("sizes must be positive integers, got %q", v)
		}
		sizeList = append(sizeList, n)
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	galleryFiles, err := identityFiles(*galleryDir)
	if err != nil {
		return err
	}
	probeFiles, err := identityFiles(*probesDir)
	if err != nil {
		return err
	}
	p, err := cfg.buildForEval(*workers)
	if err != nil {
		return err
	}
	defer p.Close()
	unusable := 0
	embed := func(root string, files []string) ([]engine.IdentityPhoto, error) {
		embs, err := p.EmbedPrimaries(ctx, root, files, *workers, nil)
		if err != nil {
			return nil, err
		}
		var out []engine.IdentityPhoto
		for _, e := range embs {
			if e.Embedding == nil {
				unusable++
				continue
			}
			out = append(out, engine.IdentityPhoto{Identity: filepath.Dir(e.Path), Vector: e.Embedding.Vector})
		}
		return out, nil
	}
	gallery, err := embed(*galleryDir, galleryFiles)
	if err != nil {
		return err
	}
	probes, err := embed(*probesDir, probeFiles)
	if err != nil {
		return err
	}
	out := identifyJSON{Unusable: unusable, Model: p.Embedder.Identity(), ByScoring: map[string]engine.IdentifyResult{}}
	for _, s := range engine.Scorings {
		r, err := engine.Identify(gallery, probes, s)
		if err != nil {
			return err
		}
		out.ByScoring[s] = r
	}
	out.IdentifyResult = out.ByScoring[*scoring]
	for _, n := range append(sizeList, 0) {
		if n >= out.GallerySize {
			continue // "all" comes last
		}
		sub := gallery
		if n > 0 {
			sub = engine.SubGallery(gallery, n, 1)
		}
		r, err := engine.IdentifyAt(sub, probes, *scoring, p.Embedder.Identity(), *targetFPIR)
		if err != nil {
			return err
		}
		out.BySize = append(out.BySize, r)
	}
	if *asJSON {
		return json.NewEncoder(m.Stdout).Encode(out)
	}
	w := m.Stdout
	fmt.Fprintf(w, "gallery      %d identities, %d photos; probes %d mated, %d strangers; %d photos without a usable face\n",
		out.GallerySize, out.GalleryPhotos, out.MatedProbes, out.NonMatedProbes, unusable)
	for _, s := range engine.Scorings {
		r := out.ByScoring[s]
		fmt.Fprintf(w, "%-10s   rank-1 %.4f; FPIR 1e-2 at %.3f: FNIR %.4f; FPIR 1e-3 at %.3f: FNIR %.4f\n",
			s, r.Rank1, r.ThresholdAtFPIR1e2, r.FNIRAtFPIR1e2, r.ThresholdAtFPIR1e3, r.FNIRAtFPIR1e3)
	}
	for _, r := range out.BySize {
		if op := r.Operating; op != nil {
			fmt.Fprintf(w, "%-10s   gallery of %d identities (%d photos), %d strangers: operating threshold %.3f for FPIR %g: FPIR %.4f, FNIR %.4f%s\n",
				r.Scoring, r.GallerySize, r.GalleryPhotos, r.NonMatedProbes, op.Threshold, op.TargetFPIR, op.FPIR, op.FNIR, map[bool]string{false: " (past the measured tail)"}[op.Resolved])
		}
	}
	fmt.Fprintf(w, "model        %s\n", out.Model)
	return nil
}

// identityFiles lists root's photos as identity/file paths, sorted.
func identityFiles(root string) ([]string, error) {
	ids, err := sets.Identities(root)
	if err != nil {
		return nil, err
	}
	var files []string
	for _, id := range ids {
		files = append(files, id.Files...)
	}
	return files, nil
}
