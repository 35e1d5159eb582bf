package models

import (
	"image"
	"image/color"
	"testing"

	"github.com/facematch/facematch/face"
)

func TestNMS(t *testing.T) {
	tests := []struct {
		name string
		in   []face.Detection
		want []float32 // scores kept, in order
	}{
		{"empty", nil, nil},
		{"overlapping keeps best", []face.Detection{
			{Box: face.Box{X: 0, Y: 0, W: 10, H: 10}, Score: 0.7},
			{Box: face.Box{X: 1, Y: 1, W: 10, H: 10}, Score: 0.9},
		}, []float32{0.9}},
		{"disjoint keeps both", []face.Detection{
			{Box: face.Box{X: 0, Y: 0, W: 10, H: 10}, Score: 0.7},
			{Box: face.Box{X: 20, Y: 20, W: 10, H: 10}, Score: 0.9},
		}, []float32{0.9, 0.7}},
		{"touching is not overlapping", []face.Detection{
			{Box: face.Box{X: 0, Y: 0, W: 10, H: 10}, Score: 0.8},
			{Box: face.Box{X: 10, Y: 0, W: 10, H: 10}, Score: 0.6},
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
