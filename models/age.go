package models

import (
	"context"
	"errors"
	"fmt"
	"image"
	"math"

	"github.com/disintegration/imaging"
	ort "github.com/yalue/onnxruntime_go"

	"github.com/facematch/facematch/face"
)

// AgeGender is what the age and gender network says about one face. It is an estimate of how
// old a face looks, not of anyone's age: a triage signal for people to check, never a finding.
type AgeGender struct {
	// Age is the apparent age in years, the network's regression output as is (it can fall
	// slightly below 0 for babies).
	Age float32
	// Male and Female are the gender head's softmax probabilities; they sum to 1.
	Male, Female float32
}

// AgeConfig tunes an [AgeEstimator]. Zero values mean the defaults.
type AgeConfig struct {
	// BatchSize is the most faces sent to the network in one run (default 16).
	BatchSize int
	// Margin grows the detector's box by this fraction of its width and of its height (half
	// on each side) before face-api's crop rule; 0 is face-api's rule on the box as is.
	Margin float64
	// Threads overrides the runtime's intra-op thread count for this model (0: the runtime's).
	Threads int
}

// Validate reports every problem at once.
func (c AgeConfig) Validate() error {
	var errs []error
	if c.BatchSize < 0 || c.BatchSize > 256 {
		errs = append(errs, fmt.Errorf("age: BatchSize must be in [0,256], got %d", c.BatchSize))
	}
	if c.Margin < 0 || c.Margin > 2 || math.IsNaN(c.Margin) {
		errs = append(errs, fmt.Errorf("age: Margin must be in [0,2], got %v", c.Margin))
	}
	if c.Threads < 0 {
		errs = append(errs, fmt.Errorf("age: Threads must be >= 0, got %d", c.Threads))
	}
	return errors.Join(errs...)
}

// AgeEstimator runs the age and gender model (face.AgeGenderFaceAPI) on detected faces. It is
// safe for concurrent use (one ONNX Runtime session serves every goroutine, as for the other
// models: see session).
type AgeEstimator struct {
	sess *session
	cfg  AgeConfig
}

// AgeEstimator opens the named age and gender model (face.AgeGenderFaceAPI), verifying the
// file's sha256 first.
func (r *Runtime) AgeEstimator(name string, cfg AgeConfig) (*AgeEstimator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.BatchSize == 0 {
		cfg.BatchSize = 16
	}
	m, err := r.manifest(name, face.RoleAgeGender)
	if err != nil {
		return nil, err
	}
	s, err := r.openSession(m, false, cfg.Threads)
	if err != nil {
		return nil, err
	}
	return &AgeEstimator{sess: s, cfg: cfg}, nil
}

// Manifest describes the model.
func (a *AgeEstimator) Manifest() face.Manifest { return a.sess.manifest }

// Identity names the model and the crop option that changes its estimates.
func (a *AgeEstimator) Identity() string {
	id := a.sess.manifest.Identity()
	if a.cfg.Margin != 0 {
		id += fmt.Sprintf("+margin%g", a.cfg.Margin)
	}
	return id
}

// ApparentAges returns one apparent age in years per detection, in order: each face is cut
// from its detector box (the engine's AgeEstimator).
func (a *AgeEstimator) ApparentAges(ctx context.Context, img *image.NRGBA, dets []face.Detection) ([]float32, error) {
	boxes := make([]image.Rectangle, len(dets))
	for i, d := range dets {
		boxes[i] = BoxRect(d.Box)
	}
	res, err := a.EstimateBatch(ctx, img, boxes)
	if err != nil {
		return nil, err
	}
	ages := make([]float32, len(res))
	for i, r := range res {
		ages[i] = r.Age
	}
	return ages, nil
}

// BoxRect turns a detection's box into the whole-pixel rectangle face-api would cut: each
// coordinate and size floored.
func BoxRect(b face.Box) image.Rectangle {
	x, y := int(math.Floor(float64(b.X))), int(math.Floor(float64(b.Y)))
	return image.Rect(x, y, x+int(math.Floor(float64(b.W))), y+int(math.Floor(float64(b.H))))
}

// Estimate crops one face (its detector box in img's coordinates) and runs the network.
func (a *AgeEstimator) Estimate(ctx context.Context, img image.Image, box image.Rectangle) (AgeGender, error) {
	out, err := a.EstimateBatch(ctx, img, []image.Rectangle{box})
	if err != nil {
		return AgeGender{}, err
	}
	return out[0], nil
}

// EstimateBatch crops every face of img and runs them in batches of BatchSize; the results
// are in the order of boxes.
func (a *AgeEstimator) EstimateBatch(ctx context.Context, img image.Image, boxes []image.Rectangle) ([]AgeGender, error) {
	crops := make([]*image.NRGBA, len(boxes))
	for i, b := range boxes {
		c, err := AgeCrop(img, b, a.cfg.Margin)
		if err != nil {
			return nil, fmt.Errorf("models: face %d: %w", i, err)
		}
		crops[i] = c
	}
	return a.EstimateCrops(ctx, crops)
}

// EstimateCrops runs the network on crops already made by AgeCrop (112×112).
func (a *AgeEstimator) EstimateCrops(ctx context.Context, crops []*image.NRGBA) ([]AgeGender, error) {
	out := make([]AgeGender, 0, len(crops))
	for start := 0; start < len(crops); start += a.cfg.BatchSize {
		res, err := a.run(ctx, crops[start:min(start+a.cfg.BatchSize, len(crops))])
		if err != nil {
			return nil, err
		}
		out = append(out, res...)
	}
	return out, nil
}

func (a *AgeEstimator) run(ctx context.Context, crops []*image.NRGBA) ([]AgeGender, error) {
	m := a.sess.manifest
	per := 3 * m.Size * m.Size
	data := make([]float32, len(crops)*per)
	for i, c := range crops {
		if c.Rect.Dx() != m.Size || c.Rect.Dy() != m.Size {
			return nil, fmt.Errorf("models: %s: crop is %dx%d, want %dx%d", m.Name, c.Rect.Dx(), c.Rect.Dy(), m.Size, m.Size)
		}
		fillTensor(data[i*per:(i+1)*per], c, m.Color, m.Mean, m.Scale)
	}
	in, err := ort.NewTensor(ort.NewShape(int64(len(crops)), 3, int64(m.Size), int64(m.Size)), data)
	if err != nil {
		return nil, fmt.Errorf("models: age input: %w", err)
	}
	defer in.Destroy()
	outs := []ort.Value{nil, nil}
	defer func() {
		for _, o := range outs {
			if o != nil {
				o.Destroy()
			}
		}
	}()
	if err := a.sess.run(ctx, []ort.Value{in}, outs); err != nil {
		return nil, err
	}
	age, ageShape, err := tensorData(outs[0])
	if err != nil {
		return nil, fmt.Errorf("models: %s: %w", m.Name, err)
	}
	gender, genderShape, err := tensorData(outs[1])
	if err != nil {
		return nil, fmt.Errorf("models: %s: %w", m.Name, err)
	}
	n := int64(len(crops))
	if len(ageShape) != 2 || ageShape[0] != n || ageShape[1] != 1 || len(genderShape) != 2 || genderShape[0] != n || genderShape[1] != 2 {
		return nil, fmt.Errorf("models: %s: output shapes %v and %v, want [%d 1] and [%d 2]", m.Name, ageShape, genderShape, n, n)
	}
	res := make([]AgeGender, len(crops))
	for i := range res {
		res[i] = AgeGender{Age: age[i], Male: gender[2*i], Female: gender[2*i+1]}
	}
	return res, nil
}

// ErrEmptyBox means a face box has no pixels inside the image.
var ErrEmptyBox = errors.New("face box has no pixels inside the image")

// AgeCrop cuts a face for the age and gender network the way face-api does for a detection
// (extractFaceTensors, then NetInput.toBatchTensor): the box, first grown by margin (a
// fraction of its width and height, half on each side), is clipped to the image; the cut is
// padded to a square with black, centred (the odd pixel after it, as padToSquare splits it),
// and the square scaled to 112×112. The cut is scaled before it is padded, so a large face
// never costs a large square; the padding lands within a pixel of face-api's. face-api
// resizes with a plain bilinear interpolation; this uses imaging's Linear filter, the same
// interpolation with a support widened when shrinking, so large faces do not alias.
func AgeCrop(img image.Image, box image.Rectangle, margin float64) (*image.NRGBA, error) {
	const size = 112
	if margin != 0 {
		dx := int(math.Round(margin * float64(box.Dx()) / 2))
		dy := int(math.Round(margin * float64(box.Dy()) / 2))
		box = image.Rect(box.Min.X-dx, box.Min.Y-dy, box.Max.X+dx, box.Max.Y+dy)
	}
	box = box.Intersect(img.Bounds())
	if box.Empty() {
		return nil, ErrEmptyBox
	}
	w, h := box.Dx(), box.Dy()
	side := max(w, h)
	scale := float64(size) / float64(side)
	tw, th := max(1, int(math.Round(float64(w)*scale))), max(1, int(math.Round(float64(h)*scale)))
	// padToSquare appends round(diff/2) (JavaScript rounds halves up) and prepends the rest.
	diff := side - min(w, h)
	before := int(math.Round(float64(diff-(diff+1)/2) * scale))
	var at image.Point
	if w < h {
		at.X = min(before, size-tw)
	} else {
		at.Y = min(before, size-th)
	}
	var cut *image.NRGBA
	if n, ok := img.(*image.NRGBA); ok {
		cut = n.SubImage(box).(*image.NRGBA)
	} else {
		cut = imaging.Crop(img, box)
	}
	if tw != w || th != h {
		cut = imaging.Resize(cut, tw, th, imaging.Linear)
	}
	out := image.NewNRGBA(image.Rect(0, 0, size, size))
	for i := 3; i < len(out.Pix); i += 4 {
		out.Pix[i] = 255 // opaque black
	}
	for y := 0; y < th; y++ {
		src := cut.Pix[cut.PixOffset(cut.Rect.Min.X, cut.Rect.Min.Y+y):][:4*tw]
		copy(out.Pix[out.PixOffset(at.X, at.Y+y):], src)
	}
	return out, nil
}
