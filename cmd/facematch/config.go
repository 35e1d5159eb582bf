package main

import (
	"errors"
	"flag"
	"fmt"
	"path/filepath"
	"runtime"

	"github.com/facematch/facematch/engine"
	"github.com/facematch/facematch/face"
	"github.com/facematch/facematch/models"
	"github.com/facematch/facematch/models/decode"
)

// Config is everything a model-running command needs, from flags and environment.
type Config struct {
	Assets     string // directory with lib/ and models/ from scripts/setup
	Detector   string
	Recognizer string
	Flip       bool
	Threads    int // ONNX Runtime intra-op threads; 0 follows the machine
	MaxBytes   int64
	MaxPixels  int64
	Gate       engine.QualityGate
}

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
	c.Gate.MinScore = gate.MinScore
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	if _, ok := face.Builtin[c.Detector]; !ok || face.Builtin[c.Detector].Role != face.RoleDetector {
		errs = append(errs, fmt.Errorf("unknown detector %q", c.Detector))
	}
	if m, ok := face.Builtin[c.Recognizer]; c.Recognizer != face.FusedName && (!ok || m.Role != face.RoleRecognizer) {
		errs = append(errs, fmt.Errorf("unknown recognizer %q", c.Recognizer))
	}
	if c.Threads < 0 {
		errs = append(errs, fmt.Errorf("threads must be >= 0, got %d", c.Threads))
	}
	if c.MaxBytes <= 0 || c.MaxPixels <= 0 {
		errs = append(errs, errors.New("max-bytes and max-pixels must be positive"))
	}
	errs = append(errs, c.Gate.Validate())
	return errors.Join(errs...)
}

// builtPipeline is a built pipeline and the runtime behind it; Close releases both.
type builtPipeline struct {
	*engine.Pipeline
	rt *models.Runtime
}

func (b *builtPipeline) Close() error { return b.rt.Close() }

// build opens ONNX Runtime and the configured models.
func (c Config) build() (*builtPipeline, error) {
	ms, err := c.buildModels(nil)
	if err != nil {
		return nil, err
	}
	return &builtPipeline{Pipeline: ms.pipelines[c.Recognizer], rt: ms.rt}, nil
}

// builtModels are pipelines of several recognizers sharing one runtime and detector.
type builtModels struct {
	pipelines map[string]*engine.Pipeline // by recognizer name
	rt        *models.Runtime
}

func (b *builtModels) Close() error { return b.rt.Close() }

// buildModels opens ONNX Runtime, the detector, and a pipeline for the configured recognizer
// and for each of extra.
func (c Config) buildModels(extra []string) (*builtModels, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	threads := c.Threads
	if threads == 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	rt, err := models.Open(models.RuntimeConfig{
		Library:  filepath.Join(c.Assets, "lib", "libonnxruntime.so.1"),
		ModelDir: filepath.Join(c.Assets, "models"),
		Threads:  threads,
	})
	if err != nil {
		return nil, fmt.Errorf("%w (run scripts/setup first)", err)
	}
	det, err := rt.Detector(c.Detector, models.DetectorConfig{})
	if err != nil {
		rt.Close()
		return nil, err
	}
	out := &builtModels{pipelines: map[string]*engine.Pipeline{}, rt: rt}
	for _, name := range append([]string{c.Recognizer}, extra...) {
		if _, ok := out.pipelines[name]; ok {
			continue
		}
		if m, ok := face.Builtin[name]; name != face.FusedName && (!ok || m.Role != face.RoleRecognizer) {
			rt.Close()
			return nil, fmt.Errorf("unknown recognizer %q", name)
		}
		emb, err := rt.Embedder(name, models.RecognizerConfig{Flip: c.Flip})
		if err != nil {
			rt.Close()
			return nil, err
		}
		out.pipelines[name] = &engine.Pipeline{
			Detector: det,
			Embedder: emb,
			Limits:   decode.Limits{MaxBytes: c.MaxBytes, MaxPixels: c.MaxPixels},
			Gate:     c.Gate,
		}
	}
	return out, nil
}
