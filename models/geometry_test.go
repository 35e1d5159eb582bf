package models

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

func TestNMS(t *testing.T) {
	tests := []struct {
		name string
		in   []Detection
		want []float32 // scores kept, in order
	}{
		{"empty", nil, nil},
		{"overlapping keeps best", []Detection{
			{Box: Box{0, 0, 10, 10}, Score: 0.7},
			{Box: Box{1, 1, 10, 10}, Score: 0.9},
		}, []float32{0.9}},
		{"disjoint keeps both", []Detection{
			{Box: Box{0, 0, 10, 10}, Score: 0.7},
			{Box: Box{20, 20, 10, 10}, Score: 0.9},
		}, []float32{0.9, 0.7}},
		{"touching is not overlapping", []Detection{
			{Box: Box{0, 0, 10, 10}, Score: 0.8},
			{Box: Box{10, 0, 10, 10}, Score: 0.6},
		}, []float32{0.8, 0.6}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := nms(tc.in, 0.3)
			if len(got) != len(tc.want) {
				t.Fatalf("kept %d, want %d", len(got), len(tc.want))
			}
			for i := range got {
				if got[i].Score != tc.want[i] {
					t.Fatalf("kept[%d].Score = %g, want %g", i, got[i].Score, tc.want[i])
				}
			}
		})
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

func TestShrinkArea(t *testing.T) {
	// A 4×2 image of two flat halves shrinks to 2×1 with each half's colour exactly.
	img := image.NewNRGBA(image.Rect(0, 0, 4, 2))
	for y := 0; y < 2; y++ {
		for x := 0; x < 4; x++ {
			c := color.NRGBA{10, 20, 30, 255}
			if x >= 2 {
				c = color.NRGBA{200, 100, 0, 255}
			}
			img.SetNRGBA(x, y, c)
		}
	}
	out := shrinkArea(img, 2, 1)
	if got := out.NRGBAAt(0, 0); got != (color.NRGBA{10, 20, 30, 255}) {
		t.Fatalf("left = %v", got)
	}
	if got := out.NRGBAAt(1, 0); got != (color.NRGBA{200, 100, 0, 255}) {
		t.Fatalf("right = %v", got)
	}
	// A 3-pixel row averaged into one pixel, rounding to nearest.
	row := image.NewNRGBA(image.Rect(0, 0, 3, 1))
	for x, v := range []uint8{0, 1, 1} {
		row.SetNRGBA(x, 0, color.NRGBA{v, v, v, 255})
	}
	if got := shrinkArea(row, 1, 1).NRGBAAt(0, 0).R; got != 1 {
		t.Fatalf("mean of 0,1,1 = %d, want 1 (rounded)", got)
	}
}
