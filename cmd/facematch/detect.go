package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/facematch/facematch/engine"
)

// faceJSON is the command line's view of one face. It never includes the embedding: vectors
// are biometric data and have no business on a terminal or in a log.
type faceJSON struct {
	Box       [4]float32     `json:"box"` // x, y, width, height in original pixels
	Landmarks [5][2]float32  `json:"landmarks"`
	Score     float32        `json:"score"`
	Quality   engine.Quality `json:"quality"`
	Accepted  bool           `json:"accepted"`
	Rejected  []string       `json:"rejected,omitempty"`
	Model     string         `json:"model,omitempty"`
}

type imageJSON struct {
	File   string     `json:"file"`
	Format string     `json:"format,omitempty"`
	Width  int        `json:"width,omitempty"`
	Height int        `json:"height,omitempty"`
	Faces  []faceJSON `json:"faces"`
	Error  string     `json:"error,omitempty"`
}

func toFaceJSON(f engine.Face) faceJSON {
	d := f.Detection
	out := faceJSON{
		Box:      [4]float32{d.Box.X, d.Box.Y, d.Box.W, d.Box.H},
		Score:    d.Score,
		Quality:  f.Quality,
		Accepted: f.Accepted(),
		Rejected: f.Rejected,
	}
	for i, p := range d.Landmarks {
		out.Landmarks[i] = [2]float32{p.X, p.Y}
	}
	if f.Embedding != nil {
		out.Model = f.Embedding.Model
	}
	return out
}

func (m *Main) runDetect(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("detect", flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	var cfg Config
	cfg.bindModelFlags(fs, m.Getenv)
	asJSON := fs.Bool("json", false, "print one JSON object per image")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(m.Stderr, "usage: facematch detect [--json] IMAGE...")
		return errUsage
	}
	p, err := cfg.build()
	if err != nil {
		return err
	}
	defer p.Close()

	failed := 0
	enc := json.NewEncoder(m.Stdout)
	for _, file := range fs.Args() {
		res := imageJSON{File: file, Faces: []faceJSON{}}
		a, err := analyzeFile(ctx, p.Pipeline, file)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			failed++
			res.Error = err.Error()
		} else {
			res.Format, res.Width, res.Height = a.Image.Format, a.Image.Width, a.Image.Height
			for _, f := range a.Faces {
				res.Faces = append(res.Faces, toFaceJSON(f))
			}
		}
		if *asJSON {
			if err := enc.Encode(res); err != nil {
				return err
			}
			continue
		}
		printDetect(m, res)
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d images failed", failed, fs.NArg())
	}
	return nil
}

func analyzeFile(ctx context.Context, p *engine.Pipeline, file string) (*engine.Analysis, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	return p.Analyze(ctx, data)
}

func printDetect(m *Main, r imageJSON) {
	if r.Error != "" {
		fmt.Fprintf(m.Stdout, "%s: error: %s\n", r.File, r.Error)
		return
	}
	fmt.Fprintf(m.Stdout, "%s: %s %dx%d, %d face(s)\n", r.File, r.Format, r.Width, r.Height, len(r.Faces))
	for i, f := range r.Faces {
		status := "accepted"
		if !f.Accepted {
			status = "rejected: " + strings.Join(f.Rejected, ", ")
		}
		q := f.Quality
		fmt.Fprintf(m.Stdout, "  face %d: box %.0f,%.0f %.0fx%.0f  score %.2f  eyes %.0f px  sharpness %.0f  yaw %+.2f  roll %+.0f°  %s\n",
			i+1, f.Box[0], f.Box[1], f.Box[2], f.Box[3], f.Score, q.Size, q.Sharpness, q.Yaw, q.Roll, status)
	}
}

var errNoUsableFace = errors.New("no usable face")
