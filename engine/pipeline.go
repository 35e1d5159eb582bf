package engine

import (
	"context"
	"errors"
	"fmt"
	"image"

	"github.com/facematch/facematch/face"
	"github.com/facematch/facematch/models/decode"
)

// Detector finds faces with five landmarks in a decoded image.
type Detector interface {
	Detect(ctx context.Context, img *image.NRGBA) ([]face.Detection, error)
}

// Embedder aligns and embeds faces given by their landmarks, one embedding per face.
type Embedder interface {
	// Identity names the model and the options that change its vectors; every embedding
	// carries it.
	Identity() string
	// Dim is the length of every vector Embed returns (what the model's index is opened with).
	Dim() int
	Embed(ctx context.Context, img *image.NRGBA, faces []face.Landmarks) ([]face.Embedding, error)
}

// Rejection reasons of the quality gate.
const (
	RejectLowScore    = "low_detector_score"
	RejectTooSmall    = "too_small"
	RejectBlurry      = "blurry"
	RejectNotFrontal  = "not_frontal"
	RejectTooManyFace = "too_many_faces"
)

// QualityGate decides which faces are good enough to embed and compare. Zero values mean the
// defaults from [DefaultQualityGate].
type QualityGate struct {
	// MinScore is the lowest detector score accepted for matching; detections between the
	// detector's threshold and this are reported but not embedded.
	MinScore float32
	// MinFaceSize is the lowest inter-eye distance in original pixels. The recognizers work on
	// 112- or 150-pixel crops where the eyes sit ~35-53 px apart; below ~12 px, they are
	// mostly guessing at upsampled blur.
	MinFaceSize float64
	// MinSharpness is the lowest variance of the Laplacian on the 112×112 aligned crop.
	MinSharpness float64
	// MinFrontalness is the lowest frontalness (1 frontal, 0 near profile).
	MinFrontalness float64
	// MaxFaces caps the faces embedded per image (largest first); the rest are reported as
	// rejected. Guards against a hostile image with thousands of tiny faces.
	MaxFaces int
}

// DefaultQualityGate returns the gate's defaults; bench/RESULTS.md shows how they were chosen.
func DefaultQualityGate() QualityGate {
	return QualityGate{MinScore: 0.6, MinFaceSize: 12, MinSharpness: 10, MinFrontalness: 0.1, MaxFaces: 64}
}

// Validate reports every problem at once.
func (g QualityGate) Validate() error {
	var errs []error
	if g.MinScore < 0 || g.MinScore > 1 {
		errs = append(errs, fmt.Errorf("quality: MinScore must be in [0,1], got %g", g.MinScore))
	}
	if g.MinFaceSize < 0 || g.MinSharpness < 0 {
		errs = append(errs, errors.New("quality: MinFaceSize and MinSharpness must be >= 0"))
	}
	if g.MinFrontalness < 0 || g.MinFrontalness > 1 {
		errs = append(errs, fmt.Errorf("quality: MinFrontalness must be in [0,1], got %g", g.MinFrontalness))
	}
	if g.MaxFaces < 0 {
		errs = append(errs, fmt.Errorf("quality: MaxFaces must be >= 0, got %d", g.MaxFaces))
	}
	return errors.Join(errs...)
}

// Quality is what the pipeline measured about one face.
type Quality struct {
	Score       float32 `json:"score"`       // detector confidence
	Size        float64 `json:"size"`        // inter-eye distance in original pixels
	BoxSize     float64 `json:"box_size"`    // shorter side of the face box in original pixels
	Sharpness   float64 `json:"sharpness"`   // variance of the Laplacian on the 112×112 crop
	Yaw         float64 `json:"yaw"`         // nose offset in eye distances (0 frontal)
	Roll        float64 `json:"roll"`        // eye-line tilt in degrees
	Frontalness float64 `json:"frontalness"` // 1 frontal … 0 profile
}

// Face is one detected face with its quality and, when it passed the gate, its embedding.
type Face struct {
	Detection face.Detection
	Quality   Quality
	// Rejected lists why the gate refused the face; empty means accepted.
	Rejected  []string
	Embedding *face.Embedding
	// Age is the apparent-age estimate of an accepted, frontal enough face; NoAge says why a
	// face has none.
	Age   *ApparentAge
	NoAge string
}

// Accepted reports whether the face passed the quality gate.
func (f Face) Accepted() bool { return len(f.Rejected) == 0 }

// Analysis is the result of running the pipeline over one photo.
type Analysis struct {
	Image decode.Info
	Faces []Face // by detector score, highest first
}

// Pipeline runs decode → detect → quality → align → embed. It is safe for concurrent use if
// its Detector and Embedder are (the models package's are).
type Pipeline struct {
	Detector Detector
	Embedder Embedder
	Limits   decode.Limits
	Gate     QualityGate
	// EmbedRejected also embeds faces the gate refused (evaluation wants a vector for the
	// best face of every image; matching never uses them).
	EmbedRejected bool
	// Age, when set, estimates the apparent age of accepted faces, with ranges from
	// AgeCalibration, flagged under MinorLine (0: DefaultMinorLine).
	Age            AgeEstimator
	AgeCalibration AgeCalibration
	MinorLine      float32
	// AgeEveryFace estimates every detected face, refused or turned (an evaluation of how the
	// estimate degrades with pose; the service never sets it).
	AgeEveryFace bool
}

// ErrNoFace is returned by callers that need a face where the pipeline found none.
var ErrNoFace = errors.New("no face found")

// Analyze decodes a photo and analyses every face in it. Decoding errors are the service's
// photo kinds (ErrTooLarge, ErrUnsupported, ErrMalformed, ErrInvalid) wrapping the decode
// package's typed errors; everything else is wrapped model trouble.
func (p *Pipeline) Analyze(ctx context.Context, data []byte) (*Analysis, error) {
	img, info, err := decode.Image(data, p.Limits)
	if err != nil {
		return nil, photoError(err)
	}
	faces, err := p.AnalyzeImage(ctx, img)
	if err != nil {
		return nil, err
	}
	return &Analysis{Image: info, Faces: faces}, nil
}

// AnalyzeImage runs the pipeline on an already decoded image.
func (p *Pipeline) AnalyzeImage(ctx context.Context, img *image.NRGBA) ([]Face, error) {
	gate := p.Gate
	if gate == (QualityGate{}) {
		gate = DefaultQualityGate()
	}
	dets, err := p.Detector.Detect(ctx, img)
	if err != nil {
		return nil, fmt.Errorf("engine: detect: %w", err)
	}
	faces := make([]Face, len(dets))
	var toEmbed []int
	for i, d := range dets {
		faces[i] = Face{Detection: d, Quality: measure(img, d)}
		faces[i].Rejected = gate.reasons(faces[i].Quality)
		if faces[i].Accepted() || p.EmbedRejected {
			toEmbed = append(toEmbed, i)
		}
	}
	if gate.MaxFaces > 0 && len(toEmbed) > gate.MaxFaces {
		for _, i := range toEmbed[gate.MaxFaces:] {
			faces[i].Rejected = append(faces[i].Rejected, RejectTooManyFace)
		}
		toEmbed = toEmbed[:gate.MaxFaces]
	}
	if err := p.ageFaces(ctx, img, faces); err != nil {
		return nil, err
	}
	if len(toEmbed) == 0 {
		return faces, nil
	}
	lms := make([]face.Landmarks, len(toEmbed))
	for j, i := range toEmbed {
		lms[j] = faces[i].Detection.Landmarks
	}
	embs, err := p.Embedder.Embed(ctx, img, lms)
	if err != nil {
		return nil, fmt.Errorf("engine: embed: %w", err)
	}
	for j, i := range toEmbed {
		faces[i].Embedding = &embs[j]
	}
	return faces, nil
}

// arcFaceCrop is the crop size on which sharpness is measured, whatever the recognizer, so one
// threshold means the same thing for every model.
const arcFaceCrop = 112

func measure(img *image.NRGBA, d face.Detection) Quality {
	pose := face.EstimatePose(d.Landmarks)
	crop := face.Align(img, d.Landmarks, face.Builtin[face.Faceplugin512].Template, arcFaceCrop)
	return Quality{
		Score:       d.Score,
		Size:        pose.EyeDistance,
		BoxSize:     float64(min(d.Box.W, d.Box.H)),
		Sharpness:   face.Sharpness(crop, 16),
		Yaw:         pose.Yaw,
		Roll:        pose.Roll,
		Frontalness: pose.Frontalness,
	}
}

func (g QualityGate) reasons(q Quality) []string {
	var r []string
	if q.Score < g.MinScore {
		r = append(r, RejectLowScore)
	}
	if q.Size < g.MinFaceSize {
		r = append(r, RejectTooSmall)
	}
	if q.Sharpness < g.MinSharpness {
		r = append(r, RejectBlurry)
	}
	if q.Frontalness < g.MinFrontalness {
		r = append(r, RejectNotFrontal)
	}
	return r
}

// Primary picks the face an evaluation or a single-subject photo is about: the largest
// detected face, ties broken by detector score. It returns -1 when there is no face.
func Primary(faces []Face) int {
	best := -1
	for i, f := range faces {
		if best < 0 || f.Quality.BoxSize > faces[best].Quality.BoxSize ||
			(f.Quality.BoxSize == faces[best].Quality.BoxSize && f.Quality.Score > faces[best].Quality.Score) {
			best = i
		}
	}
	return best
}
