package app

import (
	"errors"
	"fmt"
	"path/filepath"
	"runtime"

	"github.com/facematch/facematch/engine"
	"github.com/facematch/facematch/face"
	"github.com/facematch/facematch/models"
	"github.com/facematch/facematch/models/decode"
)

// ModelConfig is what running the face models needs: where scripts/setup put them, which to
// run, and the pipeline's limits and quality gate.
type ModelConfig struct {
	Assets     string // directory with lib/ and models/ from scripts/setup
	Detector   string
	Recognizer string
	Flip       bool
	Threads    int // ONNX Runtime intra-op threads; 0 follows the machine
	MaxBytes   int64
	MaxPixels  int64
	Gate       engine.QualityGate
	// AgeModel names the apparent-age model ("": face.AgeGenderFaceAPI; NoAgeModel: no
	// estimates, so no possible-minor flags); MinorLine is the
	// possible-minor line in years (0: engine.DefaultMinorLine).
	AgeModel  string
	MinorLine float32
	// UncalibratedAge lets an age model without a measured calibration run (its ranges are
	// then the bare estimate): only `eval age --calibrate`, which measures one, sets it.
	UncalibratedAge bool
}

// NoAgeModel turns apparent-age estimates off.
const NoAgeModel = "none"

// Validate reports every problem at once.
func (c ModelConfig) Validate() error {
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
	if c.MinorLine != 0 {
		if err := engine.ValidateMinorLine(c.MinorLine); err != nil {
			errs = append(errs, err)
		}
	}
	if m, ok := face.Builtin[c.AgeModel]; c.AgeModel != "" && c.AgeModel != NoAgeModel && (!ok || m.Role != face.RoleAgeGender) {
		errs = append(errs, fmt.Errorf("unknown age model %q (want %s or %s)", c.AgeModel, face.AgeGenderFaceAPI, NoAgeModel))
	}
	return errors.Join(errs...)
}

// Models are pipelines by recognizer name sharing one detector; Close releases what runs
// them. Open takes them over.
type Models struct {
	Pipelines map[string]*engine.Pipeline
	// Default names the pipeline of new galleries.
	Default string
	close   func() error
}

// NewModels wraps pipelines built elsewhere (the tests' fakes); close may be nil.
func NewModels(pipelines map[string]*engine.Pipeline, defaultName string, close func() error) *Models {
	return &Models{Pipelines: pipelines, Default: defaultName, close: close}
}

// Close releases the models' runtime.
func (m *Models) Close() error {
	if m.close == nil {
		return nil
	}
	return m.close()
}

// Pipeline is the default recognizer's pipeline.
func (m *Models) Pipeline() *engine.Pipeline { return m.Pipelines[m.Default] }

// BuildModels opens ONNX Runtime, the detector, and a pipeline for the configured recognizer
// and for each of extra.
func (c ModelConfig) BuildModels(extra []string) (*Models, error) {
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
	var age engine.AgeEstimator
	var calibration engine.AgeCalibration
	if c.AgeModel != NoAgeModel {
		name := c.AgeModel
		if name == "" {
			name = face.AgeGenderFaceAPI
		}
		est, err := rt.AgeEstimator(name, models.AgeConfig{})
		if err != nil {
			rt.Close()
			return nil, fmt.Errorf("%w (run scripts/setup first, or --age-model %s)", err, NoAgeModel)
		}
		var ok bool
		if calibration, ok = engine.AgeCalibrationFor(est.Identity()); !ok && !c.UncalibratedAge {
			rt.Close()
			return nil, fmt.Errorf("age model %s has no measured calibration (engine/agecalibration.go, from `facematch eval age --calibrate`)", est.Identity())
		}
		age = est
	}
	out := NewModels(map[string]*engine.Pipeline{}, c.Recognizer, rt.Close)
	for _, name := range append([]string{c.Recognizer}, extra...) {
		if _, ok := out.Pipelines[name]; ok {
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
		out.Pipelines[name] = &engine.Pipeline{
			Detector: det,
			Embedder: emb,
			Limits:   decode.Limits{MaxBytes: c.MaxBytes, MaxPixels: c.MaxPixels},
			Gate:     c.Gate,
			Age:      age, AgeCalibration: calibration, MinorLine: c.MinorLine,
		}
	}
	return out, nil
}

// The adapters the composition hands the engine, asserted where they meet.
var (
	_ engine.Detector     = (*models.Detector)(nil)
	_ engine.Embedder     = models.FaceEmbedder(nil)
	_ engine.AgeEstimator = (*models.AgeEstimator)(nil)
)
