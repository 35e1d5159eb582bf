package models

import (
	"image"

	"github.com/facematch/facematch/face"
)

// flipHorizontal returns the mirror image of a crop.
func flipHorizontal(src *image.NRGBA) *image.NRGBA {
	w, h := src.Rect.Dx(), src.Rect.Dy()
	out := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			so := src.PixOffset(src.Rect.Min.X+x, src.Rect.Min.Y+y)
			do := out.PixOffset(w-1-x, y)
			copy(out.Pix[do:do+4], src.Pix[so:so+4])
		}
	}
	return out
}

// fillTensor writes img into dst as one CHW plane set: channel order per color, then
// (value − mean[c]) · scale. dst must hold 3·W·H floats.
func fillTensor(dst []float32, img *image.NRGBA, color face.ColorOrder, mean [3]float32, scale float32) {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	plane := w * h
	// Source channel index for each tensor channel.
	src := [3]int{0, 1, 2}
	if color == face.BGR {
		src = [3]int{2, 1, 0}
	}
	for y := 0; y < h; y++ {
		row := img.Pix[img.PixOffset(img.Rect.Min.X, img.Rect.Min.Y+y):]
		for x := 0; x < w; x++ {
			p := row[x*4 : x*4+3]
			i := y*w + x
			dst[i] = (float32(p[src[0]]) - mean[0]) * scale
			dst[plane+i] = (float32(p[src[1]]) - mean[1]) * scale
			dst[2*plane+i] = (float32(p[src[2]]) - mean[2]) * scale
		}
	}
}
