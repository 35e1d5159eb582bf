package models

import (
	"context"
	"errors"
	"fmt"
	"image"
	"math"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/facematch/facematch/face"
)

// DetectorConfig tunes a [Detector]. Zero values mean the defaults.
type DetectorConfig struct {
	// MinScore is the detection threshold (default 0.6: on the project's 24 no-face images it
	// gave no false positive with YuNet-s, while OpenCV's 0.9 misses hard faces).
	MinScore float32
	// MaxSide is the longer side the image is scaled down to for detection (default 640, as
	// OpenCV FaceDetectorYN). Faces are reported in the original image's coordinates.
	MaxSide int
	// MinFaceSize drops detections whose box is narrower than this many original pixels
	// (default 8): smaller boxes are detector noise, not faces anyone could compare.
	MinFaceSize float32
	// Threads overrides the runtime's intra-op thread count for this model (0: the runtime's).
	Threads int
}

func (c *DetectorConfig) ensureDefaults() {
	if c.MinScore == 0 {
		c.MinScore = 0.6
	}
	if c.MaxSide == 0 {
		c.MaxSide = 640
	}
	if c.MinFaceSize == 0 {
		c.MinFaceSize = 8
	}
}

// Validate reports every problem at once.
func (c DetectorConfig) Validate() error {
	var errs []error
	if c.MinScore < 0 || c.MinScore >= 1 {
		errs = append(errs, fmt.Errorf("detector: MinScore must be in [0,1), got %g", c.MinScore))
	}
	if c.MaxSide < 0 || (c.MaxSide > 0 && c.MaxSide < 64) {
		errs = append(errs, fmt.Errorf("detector: MaxSide must be >= 64, got %d", c.MaxSide))
	}
	if c.Threads < 0 {
		errs = append(errs, fmt.Errorf("detector: Threads must be >= 0, got %d", c.Threads))
	}
	if c.MinFaceSize < 0 {
		errs = append(errs, fmt.Errorf("detector: MinFaceSize must be >= 0, got %g", c.MinFaceSize))
	}
	return errors.Join(errs...)
}

// Detector finds faces and their five landmarks. It is safe for concurrent use.
type Detector struct {
	sess   *session
	cfg    DetectorConfig
	decode func(outs []ort.Value, w, h int, minScore float32) ([]face.Detection, error)
	nmsIoU float32
}

// Detector opens the named detector model (face.YuNetS, face.YuNetN or face.RetinaFace).
func (r *Runtime) Detector(name string, cfg DetectorConfig) (*Detector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.ensureDefaults()
	m, err := r.manifest(name, face.RoleDetector)
	if err != nil {
		return nil, err
	}
	s, err := r.openSession(m, false, cfg.Threads)
	if err != nil {
		return nil, err
	}
	d := &Detector{sess: s, cfg: cfg}
	switch name {
	case face.RetinaFace:
		d.decode, d.nmsIoU = decodeRetinaFace, 0.4
	default:
		d.decode, d.nmsIoU = decodeYuNet, 0.3
	}
	return d, nil
}

// Manifest describes the detector's model.
func (d *Detector) Manifest() face.Manifest { return d.sess.manifest }

// Detect returns every face in img with score ≥ MinScore, highest score first, in img's
// coordinates. Large images are scaled down for the network only.
func (d *Detector) Detect(ctx context.Context, img *image.NRGBA) ([]face.Detection, error) {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	if w == 0 || h == 0 {
		return nil, nil
	}
	scale := 1.0
	small := img
	if long := max(w, h); long > d.cfg.MaxSide {
		scale = float64(d.cfg.MaxSide) / float64(long)
		sw := max(1, int(math.Round(float64(w)*scale)))
		sh := max(1, int(math.Round(float64(h)*scale)))
		small = shrinkArea(img, sw, sh)
	}
	// Both detectors take any size that is a multiple of 32; pad right and bottom with zeros
	// (OpenCV FaceDetectorYN does the same), which leaves coordinates unchanged.
	sw, sh := small.Rect.Dx(), small.Rect.Dy()
	pw, ph := (sw+31)/32*32, (sh+31)/32*32
	data := make([]float32, 3*pw*ph)
	m := d.sess.manifest
	fillPadded(data, small, pw, ph, m.Color, m.Mean)
	in, err := ort.NewTensor(ort.NewShape(1, 3, int64(ph), int64(pw)), data)
	if err != nil {
		return nil, fmt.Errorf("models: detector input: %w", err)
	}
	defer in.Destroy()
	outs := make([]ort.Value, len(m.Outputs))
	defer func() {
		for _, o := range outs {
			if o != nil {
				o.Destroy()
			}
		}
	}()
	if err := d.sess.run(ctx, []ort.Value{in}, outs); err != nil {
		return nil, err
	}
	dets, err := d.decode(outs, pw, ph, d.cfg.MinScore)
	if err != nil {
		return nil, fmt.Errorf("models: %s: %w", m.Name, err)
	}
	dets = nms(dets, d.nmsIoU)
	inv := float32(1 / scale)
	kept := dets[:0]
	for _, det := range dets {
		det.Box = face.Box{X: det.Box.X * inv, Y: det.Box.Y * inv, W: det.Box.W * inv, H: det.Box.H * inv}
		for i := range det.Landmarks {
			det.Landmarks[i].X *= inv
			det.Landmarks[i].Y *= inv
		}
		if det.Box.W < d.cfg.MinFaceSize || det.Box.H < d.cfg.MinFaceSize {
			continue
		}
		kept = append(kept, det)
	}
	return kept, nil
}

// fillPadded writes img into the top-left of a zeroed [3,ph,pw] tensor: channel order per
// color, minus mean, no scaling (both detectors take raw pixel values). The padding stays 0.
func fillPadded(dst []float32, img *image.NRGBA, pw, ph int, color face.ColorOrder, mean [3]float32) {
	src := [3]int{0, 1, 2}
	if color == face.BGR {
		src = [3]int{2, 1, 0}
	}
	plane := pw * ph
	w, h := img.Rect.Dx(), img.Rect.Dy()
	for y := 0; y < h; y++ {
		row := img.Pix[img.PixOffset(img.Rect.Min.X, img.Rect.Min.Y+y):]
		for x := 0; x < w; x++ {
			p := row[x*4 : x*4+3]
			i := y*pw + x
			dst[i] = float32(p[src[0]]) - mean[0]
			dst[plane+i] = float32(p[src[1]]) - mean[1]
			dst[2*plane+i] = float32(p[src[2]]) - mean[2]
		}
	}
}

func tensorData(v ort.Value) ([]float32, ort.Shape, error) {
	t, ok := v.(*ort.Tensor[float32])
	if !ok {
		return nil, nil, fmt.Errorf("output is %T, want float32 tensor", v)
	}
	return t.GetData(), t.GetShape(), nil
}

func clamp01(v float32) float32 { return min(max(v, 0), 1) }

// decodeYuNet turns YuNet's 12 outputs into detections (as OpenCV 4.8 face_detect.cpp).
func decodeYuNet(outs []ort.Value, w, h int, minScore float32) ([]face.Detection, error) {
	var dets []face.Detection
	for si, stride := range []int{8, 16, 32} {
		cols, rows := w/stride, h/stride
		n := cols * rows
		cls, _, err := tensorData(outs[si])
		if err != nil {
			return nil, err
		}
		obj, _, err := tensorData(outs[3+si])
		if err != nil {
			return nil, err
		}
		bbox, _, err := tensorData(outs[6+si])
		if err != nil {
			return nil, err
		}
		kps, _, err := tensorData(outs[9+si])
		if err != nil {
			return nil, err
		}
		if len(cls) < n || len(obj) < n || len(bbox) < 4*n || len(kps) < 10*n {
			return nil, fmt.Errorf("stride %d: outputs hold %d anchors, want %d", stride, len(cls), n)
		}
		s := float32(stride)
		for idx := 0; idx < n; idx++ {
			score := float32(math.Sqrt(float64(clamp01(cls[idx]) * clamp01(obj[idx]))))
			if score < minScore {
				continue
			}
			r, c := float32(idx/cols), float32(idx%cols)
			b := bbox[4*idx : 4*idx+4]
			cx, cy := (c+b[0])*s, (r+b[1])*s
			bw := float32(math.Exp(float64(b[2]))) * s
			bh := float32(math.Exp(float64(b[3]))) * s
			det := face.Detection{Box: face.Box{X: cx - bw/2, Y: cy - bh/2, W: bw, H: bh}, Score: score}
			k := kps[10*idx : 10*idx+10]
			for i := 0; i < 5; i++ {
				det.Landmarks[i] = face.Point{X: (k[2*i] + c) * s, Y: (k[2*i+1] + r) * s}
			}
			dets = append(dets, det)
		}
	}
	return dets, nil
}

// decodeRetinaFace decodes RetinaFace-MNet0.25's loc/conf/landmark outputs against its priors.
func decodeRetinaFace(outs []ort.Value, w, h int, minScore float32) ([]face.Detection, error) {
	loc, _, err := tensorData(outs[0])
	if err != nil {
		return nil, err
	}
	conf, _, err := tensorData(outs[1])
	if err != nil {
		return nil, err
	}
	lms, _, err := tensorData(outs[2])
	if err != nil {
		return nil, err
	}
	W, H := float32(w), float32(h)
	var dets []face.Detection
	p := 0
	for _, lvl := range []struct {
		stride int
		sizes  [2]float32
	}{{8, [2]float32{16, 32}}, {16, [2]float32{64, 128}}, {32, [2]float32{256, 512}}} {
		rows := (h + lvl.stride - 1) / lvl.stride
		cols := (w + lvl.stride - 1) / lvl.stride
		s := float32(lvl.stride)
		for i := 0; i < rows; i++ {
			for j := 0; j < cols; j++ {
				for _, m := range lvl.sizes {
					if 2*p+1 >= len(conf) || 4*p+3 >= len(loc) || 10*p+9 >= len(lms) {
						return nil, fmt.Errorf("outputs hold fewer priors than a %dx%d input needs", w, h)
					}
					score := conf[2*p+1]
					if score >= minScore {
						pcx, pcy := (float32(j)+0.5)*s/W, (float32(i)+0.5)*s/H
						pw, ph := m/W, m/H
						l := loc[4*p : 4*p+4]
						cx := pcx + l[0]*0.1*pw
						cy := pcy + l[1]*0.1*ph
						bw := pw * float32(math.Exp(float64(l[2]*0.2)))
						bh := ph * float32(math.Exp(float64(l[3]*0.2)))
						det := face.Detection{Box: face.Box{X: (cx - bw/2) * W, Y: (cy - bh/2) * H, W: bw * W, H: bh * H}, Score: score}
						k := lms[10*p : 10*p+10]
						for q := 0; q < 5; q++ {
							det.Landmarks[q] = face.Point{X: (pcx + k[2*q]*0.1*pw) * W, Y: (pcy + k[2*q+1]*0.1*ph) * H}
						}
						dets = append(dets, det)
					}
					p++
				}
			}
		}
	}
	return dets, nil
}
