package face

import (
	"image"
	"math"
)

// Sharpness is the variance of the Laplacian of the grey levels inside a crop, skipping a
// border of margin pixels (the warp's black corners would count as edges). Blurred faces score
// low; the scale depends on the crop size, so compare only crops of the same size.
func Sharpness(crop *image.NRGBA, margin int) float64 {
	w, h := crop.Rect.Dx(), crop.Rect.Dy()
	if w < 2*margin+3 || h < 2*margin+3 {
		return 0
	}
	grey := make([]float64, w*h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			o := crop.PixOffset(crop.Rect.Min.X+x, crop.Rect.Min.Y+y)
			p := crop.Pix[o : o+3]
			grey[y*w+x] = 0.299*float64(p[0]) + 0.587*float64(p[1]) + 0.114*float64(p[2])
		}
	}
	var sum, sumSq float64
	n := 0
	for y := margin + 1; y < h-margin-1; y++ {
		for x := margin + 1; x < w-margin-1; x++ {
			i := y*w + x
			l := grey[i-w] + grey[i+w] + grey[i-1] + grey[i+1] - 4*grey[i]
			sum += l
			sumSq += l * l
			n++
		}
	}
	mean := sum / float64(n)
	return sumSq/float64(n) - mean*mean
}

// Pose is what the five landmarks say about head pose.
type Pose struct {
	// Yaw is the nose's sideways offset from the eyes' midpoint, in inter-eye distances, after
	// removing roll: about 0 for a frontal face, ±0.5 or more near profile.
	Yaw float64
	// Roll is the in-plane tilt of the eye line in degrees.
	Roll float64
	// Frontalness maps |Yaw| to [0,1]: 1 is frontal, 0 is |Yaw| ≥ 0.7 (the nose at or beyond
	// the far eye: a profile, where five-point alignment stops meaning much).
	Frontalness float64
	// EyeDistance is the distance between the eyes in pixels.
	EyeDistance float64
}

// EstimatePose reads yaw and roll from the landmarks.
func EstimatePose(lm Landmarks) Pose {
	le, re, nose := lm[0], lm[1], lm[2]
	dx, dy := float64(re.X-le.X), float64(re.Y-le.Y)
	d := math.Hypot(dx, dy)
	if d == 0 {
		return Pose{}
	}
	// Project the nose onto the eye line: its coordinate along the line, relative to the
	// midpoint, is the yaw proxy (it is independent of roll).
	mx, my := float64(le.X+re.X)/2, float64(le.Y+re.Y)/2
	along := ((float64(nose.X)-mx)*dx + (float64(nose.Y)-my)*dy) / d
	yaw := along / d
	return Pose{
		Yaw:         yaw,
		Roll:        math.Atan2(dy, dx) * 180 / math.Pi,
		Frontalness: math.Max(0, 1-math.Abs(yaw)/0.7),
		EyeDistance: d,
	}
}
