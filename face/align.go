package face

import (
	"image"
	"math"
)

// Align warps the face with the given landmarks onto template in a size×size crop: a
// least-squares similarity transform and an inverse-mapped bilinear warp (outside the image is
// black), as the recognizers were trained. When the face is much larger than the crop, each
// output pixel averages k×k bilinear samples so a 2000-pixel face does not alias into noise.
func Align(img *image.NRGBA, lm Landmarks, template [5]Point, size int) *image.NRGBA {
	t := estimateSimilarity(lm, template)
	out := image.NewNRGBA(image.Rect(0, 0, size, size))
	k := 1
	if s := t.scale(); s > 0 && s < 0.5 {
		k = min(int(math.Ceil(1/s)), 8)
	}
	inv := 1 / float64(k)
	for v := 0; v < size; v++ {
		for u := 0; u < size; u++ {
			var r, g, b float64
			for sv := 0; sv < k; sv++ {
				for su := 0; su < k; su++ {
					// Sub-sample positions spread evenly around the pixel centre.
					du := (float64(su)+0.5)*inv - 0.5
					dv := (float64(sv)+0.5)*inv - 0.5
					x, y := t.inverse(float64(u)+du, float64(v)+dv)
					cr, cg, cb := bilinear(img, x, y)
					r, g, b = r+cr, g+cg, b+cb
				}
			}
			n := float64(k * k)
			o := out.PixOffset(u, v)
			out.Pix[o+0] = uint8(r/n + 0.5)
			out.Pix[o+1] = uint8(g/n + 0.5)
			out.Pix[o+2] = uint8(b/n + 0.5)
			out.Pix[o+3] = 255
		}
	}
	return out
}

// bilinear samples img at (x, y); pixels outside the image read as black.
func bilinear(img *image.NRGBA, x, y float64) (r, g, b float64) {
	b0 := img.Rect
	x0, y0 := math.Floor(x), math.Floor(y)
	fx, fy := x-x0, y-y0
	ix, iy := int(x0), int(y0)
	var acc [3]float64
	for dy := 0; dy < 2; dy++ {
		py := iy + dy
		wy := fy
		if dy == 0 {
			wy = 1 - fy
		}
		if py < b0.Min.Y || py >= b0.Max.Y || wy == 0 {
			continue
		}
		for dx := 0; dx < 2; dx++ {
			px := ix + dx
			wx := fx
			if dx == 0 {
				wx = 1 - fx
			}
			if px < b0.Min.X || px >= b0.Max.X || wx == 0 {
				continue
			}
			o := img.PixOffset(px, py)
			w := wx * wy
			acc[0] += w * float64(img.Pix[o])
			acc[1] += w * float64(img.Pix[o+1])
			acc[2] += w * float64(img.Pix[o+2])
		}
	}
	return acc[0], acc[1], acc[2]
}
