package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"strings"

	"github.com/facematch/facematch/engine"
)

type compareJSON struct {
	Similarity float32 `json:"similarity"`
	Band       string  `json:"band"`
	Meaning    string  `json:"meaning"`
	FaceA      int     `json:"face_a"` // 1-based index in detect's order
	FaceB      int     `json:"face_b"`
	Model      string  `json:"model"`
}

func (m *Main) runCompare(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	var cfg Config
	cfg.bindModelFlags(fs, m.Getenv)
	asJSON := fs.Bool("json", false, "print a JSON object")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if fs.NArg() != 2 {
		fmt.Fprintln(m.Stderr, "usage: facematch compare [--json] IMAGE_A IMAGE_B")
		return errUsage
	}
	p, err := cfg.build()
	if err != nil {
		return err
	}
	defer p.Close()

	var faces [2][]engine.Face
	for i, file := range fs.Args() {
		a, err := analyzeFile(ctx, p.Pipeline, file)
		if err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
		faces[i] = a.Faces
		if !anyAccepted(a.Faces) {
			return fmt.Errorf("%s: %w: %s", file, errNoUsableFace, describeRejections(a.Faces))
		}
	}
	best, err := engine.BestPair(faces[0], faces[1])
	if err != nil {
		return err
	}
	band := engine.BandOf(best.Model, best.Similarity)
	out := compareJSON{Similarity: best.Similarity, Band: band.Name, Meaning: band.Meaning, FaceA: best.A + 1, FaceB: best.B + 1, Model: best.Model}
	if *asJSON {
		return json.NewEncoder(m.Stdout).Encode(out)
	}
	fmt.Fprintf(m.Stdout, "similarity %.3f (face %d of A, face %d of B)\nband: %s: %s\n", out.Similarity, out.FaceA, out.FaceB, out.Band, out.Meaning)
	return nil
}

func anyAccepted(faces []engine.Face) bool {
	for _, f := range faces {
		if f.Accepted() {
			return true
		}
	}
	return false
}

func describeRejections(faces []engine.Face) string {
	if len(faces) == 0 {
		return "no face detected"
	}
	var parts []string
	for i, f := range faces {
		parts = append(parts, fmt.Sprintf("face %d rejected (%s)", i+1, strings.Join(f.Rejected, ", ")))
	}
	return strings.Join(parts, "; ")
}
