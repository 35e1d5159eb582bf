package models

import "image"

// shrinkArea scales img down to w×h by averaging the source pixels each output pixel covers (a
// box filter, like OpenCV's INTER_AREA). It reads every source pixel once, which makes it ~3×
// faster than a general resampling filter on the 2-megapixel photos ads are full of, and it does
// not alias. w and h must not exceed img's size.
func shrinkArea(img *image.NRGBA, w, h int) *image.NRGBA {
	sw, sh := img.Rect.Dx(), img.Rect.Dy()
	out := image.NewNRGBA(image.Rect(0, 0, w, h))
	xs := make([]int, w+1)
	for x := range xs {
		xs[x] = x * sw / w
	}
	// Four channels per pixel (alpha summed and ignored) keep the inner loop a plain
	// element-wise add over the row, which the compiler turns into tight code.
	acc := make([]uint32, 4*sw)
	for y := 0; y < h; y++ {
		y0, y1 := y*sh/h, (y+1)*sh/h
		clear(acc)
		for sy := y0; sy < y1; sy++ {
			off := img.PixOffset(img.Rect.Min.X, img.Rect.Min.Y+sy)
			row := img.Pix[off : off+4*sw]
			a := acc[:len(row)]
			for i, v := range row {
				a[i] += uint32(v)
			}
		}
		dst := out.Pix[y*out.Stride : y*out.Stride+4*w]
		for x := 0; x < w; x++ {
			var r, g, b uint32
			span := acc[4*xs[x] : 4*xs[x+1]]
			for i := 0; i+3 < len(span); i += 4 {
				r += span[i]
				g += span[i+1]
				b += span[i+2]
			}
			n := uint32((xs[x+1] - xs[x]) * (y1 - y0))
			px := dst[4*x : 4*x+4]
			px[0] = uint8((r + n/2) / n)
			px[1] = uint8((g + n/2) / n)
			px[2] = uint8((b + n/2) / n)
			px[3] = 255
		}
	}
	return out
}
