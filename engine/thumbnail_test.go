package engine

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"testing"

	"github.com/facematch/facematch/face/facetest"
)

// The RGBA fast path must give the same thumbnail as encoding the NRGBA crop directly, and a
// photo with transparency must still come out right (it takes the slow path).
func TestThumbnailFastPathKeepsPixels(t *testing.T) {
	img := drawnPhoto()
	box := Box{X: float32(img.Bounds().Dx()) / 4, Y: float32(img.Bounds().Dy()) / 4, W: float32(img.Bounds().Dx()) / 2, H: float32(img.Bounds().Dy()) / 2}
	fast, err := thumbnail(img, box)
	if err != nil {
		t.Fatal(err)
	}
	translucent := image.NewNRGBA(img.Bounds())
	copy(translucent.Pix, img.Pix)
	translucent.SetNRGBA(0, 0, color.NRGBA{1, 2, 3, 128}) // outside the crop: the crop is still opaque
	for i := 3; i < len(translucent.Pix); i += 4 * 97 {
		translucent.Pix[i] = 200 // inside: now translucent
	}
	slow, err := thumbnail(translucent, box)
	if err != nil {
		t.Fatal(err)
	}
	a, err := jpeg.Decode(bytes.NewReader(fast))
	if err != nil {
		t.Fatal(err)
	}
	b, err := jpeg.Decode(bytes.NewReader(slow))
	if err != nil {
		t.Fatal(err)
	}
	if a.Bounds() != b.Bounds() || a.Bounds().Dx() > ThumbSize || a.Bounds().Dy() > ThumbSize {
		t.Fatalf("bounds %v and %v, want equal and within %d px", a.Bounds(), b.Bounds(), ThumbSize)
	}
	// The translucent copy differs only in alpha, which JPEG drops: the two must look alike.
	var diff, n float64
	for y := a.Bounds().Min.Y; y < a.Bounds().Max.Y; y++ {
		for x := a.Bounds().Min.X; x < a.Bounds().Max.X; x++ {
			r1, g1, b1, _ := a.At(x, y).RGBA()
			r2, g2, b2, _ := b.At(x, y).RGBA()
			diff += abs(float64(r1)-float64(r2)) + abs(float64(g1)-float64(g2)) + abs(float64(b1)-float64(b2))
			n += 3
		}
	}
	if mean := diff / n / 257; mean > 3 {
		t.Errorf("mean channel difference %.2f of 255 between the fast and slow paths", mean)
	}
}

// drawnPhoto is an opaque photo-sized image (2000×1000, textured): what a decoded upload is.
func drawnPhoto() *image.NRGBA { return facetest.Draw(1000, 1, 7, 300) }

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

func BenchmarkThumbnail(b *testing.B) {
	img := drawnPhoto()
	box := Box{X: float32(img.Bounds().Dx()) / 4, Y: float32(img.Bounds().Dy()) / 4, W: float32(img.Bounds().Dx()) / 2, H: float32(img.Bounds().Dy()) / 2}
	for b.Loop() {
		if _, err := thumbnail(img, box); err != nil {
			b.Fatal(err)
		}
	}
}
