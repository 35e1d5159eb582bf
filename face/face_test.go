package face

import (
	"image"
	"image/color"
	"math"
	"testing"
)

func TestEstimateSimilarityRecoversTransform(t *testing.T) {
	tests := []struct {
		name                 string
		scale, angle, tx, ty float64
	}{
		{"identity", 1, 0, 0, 0},
		{"shift", 1, 0, 10, -4},
		{"shrink and rotate", 0.4, 0.3, 5, 7},
		{"grow and rotate back", 2.5, -1.2, -30, 12},
	}
	src := arcFaceTemplate
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, b := tc.scale*math.Cos(tc.angle), tc.scale*math.Sin(tc.angle)
			var dst [5]Point
			for i, p := range src {
				x, y := float64(p.X), float64(p.Y)
				dst[i] = Point{float32(a*x - b*y + tc.tx), float32(b*x + a*y + tc.ty)}
			}
			got := estimateSimilarity(src, dst)
			want := similarity{a, b, tc.tx, tc.ty}
			if math.Abs(got.a-want.a) > 1e-4 || math.Abs(got.b-want.b) > 1e-4 || math.Abs(got.tx-want.tx) > 1e-2 || math.Abs(got.ty-want.ty) > 1e-2 {
				t.Fatalf("got %+v, want %+v", got, want)
			}
			x, y := got.inverse(float64(dst[2].X), float64(dst[2].Y))
			if math.Abs(x-float64(src[2].X)) > 1e-3 || math.Abs(y-float64(src[2].Y)) > 1e-3 {
				t.Fatalf("inverse maps nose to (%g,%g), want %v", x, y, src[2])
			}
		})
	}
}

func TestEstimateSimilarityDegenerate(t *testing.T) {
	var same [5]Point // all landmarks on one point: no scale can be fitted
	got := estimateSimilarity(same, arcFaceTemplate)
	if got.a != 1 || got.b != 0 {
		t.Fatalf("degenerate landmarks gave %+v, want a pure translation", got)
	}
}

func TestAlignIdentityCopiesPixels(t *testing.T) {
	// Landmarks already on the template: the crop is the image itself.
	img := image.NewNRGBA(image.Rect(0, 0, 112, 112))
	for y := 0; y < 112; y++ {
		for x := 0; x < 112; x++ {
			img.SetNRGBA(x, y, color.NRGBA{uint8(x), uint8(y), uint8(x + y), 255})
		}
	}
	out := Align(img, arcFaceTemplate, arcFaceTemplate, 112)
	for _, p := range []image.Point{{0, 0}, {50, 60}, {111, 111}} {
		if got, want := out.NRGBAAt(p.X, p.Y), img.NRGBAAt(p.X, p.Y); got != want {
			t.Fatalf("pixel %v = %v, want %v", p, got, want)
		}
	}
}

func TestAlignOutsideIsBlack(t *testing.T) {
	img := image.NewNRGBA(image.Rect(0, 0, 20, 20))
	for i := range img.Pix {
		img.Pix[i] = 255
	}
	// Landmarks of a tiny face in the bottom-right corner: part of the crop maps outside.
	var lm Landmarks
	for i, p := range arcFaceTemplate {
		lm[i] = Point{p.X/10 + 15, p.Y/10 + 15}
	}
	out := Align(img, lm, arcFaceTemplate, 112)
	if c := out.NRGBAAt(111, 111); c.R != 0 || c.A != 255 {
		t.Fatalf("corner outside the image = %v, want opaque black", c)
	}
}

func TestEstimatePose(t *testing.T) {
	frontal := EstimatePose(Landmarks(arcFaceTemplate))
	if math.Abs(frontal.Yaw) > 0.02 || math.Abs(frontal.Roll) > 1 || frontal.Frontalness < 0.95 {
		t.Fatalf("template pose = %+v, want frontal", frontal)
	}
	turned := Landmarks(arcFaceTemplate)
	turned[2].X = turned[1].X + 15 // nose well beyond the right eye: a profile
	if p := EstimatePose(turned); p.Frontalness != 0 || p.Yaw < 0.6 {
		t.Fatalf("profile pose = %+v, want frontalness 0", p)
	}
}

func TestSharpnessSeparatesBlur(t *testing.T) {
	checker := image.NewNRGBA(image.Rect(0, 0, 112, 112))
	flat := image.NewNRGBA(image.Rect(0, 0, 112, 112))
	for y := 0; y < 112; y++ {
		for x := 0; x < 112; x++ {
			v := uint8(0)
			if (x/2+y/2)%2 == 0 {
				v = 255
			}
			checker.SetNRGBA(x, y, color.NRGBA{v, v, v, 255})
			flat.SetNRGBA(x, y, color.NRGBA{128, 128, 128, 255})
		}
	}
	if s := Sharpness(flat, 16); s != 0 {
		t.Fatalf("flat crop sharpness = %g, want 0", s)
	}
	if s := Sharpness(checker, 16); s < 1000 {
		t.Fatalf("checkerboard sharpness = %g, want large", s)
	}
}

func TestEmbeddingSimilarityRefusesOtherModels(t *testing.T) {
	a := Embedding{Model: "m1@x", Vector: []float32{1, 0}}
	b := Embedding{Model: "m2@y", Vector: []float32{1, 0}}
	if _, err := a.Similarity(b); err == nil {
		t.Fatal("comparing two models succeeded")
	}
	if s, err := a.Similarity(a); err != nil || s != 1 {
		t.Fatalf("self similarity = %g, %v", s, err)
	}
}
