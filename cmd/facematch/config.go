package main

import (
	"flag"
	"fmt"
	"runtime"
	"strconv"

	"github.com/facematch/facematch/engine"
	"github.com/facematch/facematch/face"
	"github.com/facematch/facematch/internal/app"
	"github.com/facematch/facematch/models/decode"
)

// Config is everything a model-running command needs, from flags and environment.
type Config struct{ app.ModelConfig }

// bindModelFlags registers the flags shared by every model-running command.
func (c *Config) bindModelFlags(fs *flag.FlagSet, getenv func(string) string) {
	assets := getenv("FACEMATCH_ASSETS")
	if assets == "" {
		assets = ".assets"
	}
	gate := engine.DefaultQualityGate()
	lim := decode.DefaultLimits()
	fs.StringVar(&c.Assets, "assets", assets, "directory holding lib/ and models/ installed by scripts/setup (env FACEMATCH_ASSETS)")
	fs.StringVar(&c.Detector, "detector", face.YuNetS, "face detector: yunet_s, yunet_n or retinaface_mnet025")
	fs.StringVar(&c.Recognizer, "recognizer", engine.DefaultRecognizer, "recognizer: faceplugin512, dlib128 or fused")
	fs.BoolVar(&c.Flip, "flip", false, "average each face's embedding with its mirror image's (2× the cost)")
	fs.IntVar(&c.Threads, "threads", 0, "ONNX Runtime threads per model (0: one per CPU)")
	fs.Int64Var(&c.MaxBytes, "max-bytes", lim.MaxBytes, "largest image file accepted, in bytes")
	fs.Int64Var(&c.MaxPixels, "max-pixels", lim.MaxPixels, "largest image accepted, in pixels (checked on the header, before decoding)")
	fs.Float64Var(&c.Gate.MinFaceSize, "min-face", gate.MinFaceSize, "quality gate: smallest inter-eye distance in pixels")
	fs.Float64Var(&c.Gate.MinSharpness, "min-sharpness", gate.MinSharpness, "quality gate: lowest Laplacian variance of the aligned crop")
	fs.Float64Var(&c.Gate.MinFrontalness, "min-frontalness", gate.MinFrontalness, "quality gate: lowest frontalness (0 profile … 1 frontal)")
	fs.IntVar(&c.Gate.MaxFaces, "max-faces", gate.MaxFaces, "most faces embedded per image (largest first; the rest are reported, not matched)")
	fs.StringVar(&c.AgeModel, "age-model", face.AgeGenderFaceAPI, "apparent-age model for the possible-minor flag, or none")
	fs.Func("minor-line", fmt.Sprintf("possible-minor line: faces that look under this many years are flagged unless their measured range is wholly %d+ (default %d)", engine.AdultAge, engine.DefaultMinorLine), func(v string) error {
		x, err := strconv.ParseFloat(v, 32)
		if err != nil {
			return fmt.Errorf("want years, got %q", v)
		}
		c.MinorLine = float32(x)
		return engine.ValidateMinorLine(c.MinorLine)
	})
	c.Gate.MinScore = gate.MinScore
}

// builtPipeline is the configured recognizer's pipeline; Close releases the runtime behind it.
type builtPipeline struct {
	*engine.Pipeline
	models *app.Models
}

func (b *builtPipeline) Close() error { return b.models.Close() }

// buildForEval is build for an evaluation over workers photos at once: one ONNX Runtime thread
// share per worker unless --threads says otherwise (parallel images use the cores better than
// parallel operators inside one image), and every photo's best face embedded, refused or not.
// It sets c.Threads, which the reports print.
func (c *Config) buildForEval(workers int) (*builtPipeline, error) {
	if workers < 1 {
		return nil, fmt.Errorf("workers must be >= 1, got %d", workers)
	}
	if c.Threads == 0 {
		c.Threads = max(1, runtime.GOMAXPROCS(0)/workers)
	}
	p, err := c.build()
	if err != nil {
		return nil, err
	}
	p.EmbedRejected = true
	return p, nil
}

// build opens ONNX Runtime and the configured recognizer's pipeline.
func (c Config) build() (*builtPipeline, error) {
	ms, err := c.BuildModels(nil)
	if err != nil {
		return nil, err
	}
	return &builtPipeline{Pipeline: ms.Pipeline(), models: ms}, nil
}
