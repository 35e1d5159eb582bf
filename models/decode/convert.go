package decode

import (
	"image"
	"image/color"

	"github.com/disintegration/imaging"
)

// toOpaque converts any decoded image to an *image.NRGBA at the origin with
// alpha 255 everywhere, keeping each pixel's straight (non-premultiplied)
// colour. The models downstream take RGB only; dropping alpha here, once,
// means none of them has to think about it.
//
// The common decoder outputs are converted in place (the decoder's buffer
// is ours and otherwise garbage) so a large photo is not copied twice;
// everything else goes through imaging.Clone, which has fast paths for the
// remaining standard types and un-premultiplies the rest.
func toOpaque(src image.Image) *image.NRGBA {
	var dst *image.NRGBA
	switch m := src.(type) {
	case *image.NRGBA:
		dst = &image.NRGBA{Pix: m.Pix, Stride: m.Stride, Rect: m.Rect.Sub(m.Rect.Min)}
	case *image.RGBA:
		unpremultiply(m)
		dst = &image.NRGBA{Pix: m.Pix, Stride: m.Stride, Rect: m.Rect.Sub(m.Rect.Min)}
	case *image.NYCbCrA:
		// WebP with alpha. The YCbCr planes already hold straight colour;
		// imaging would go through At() per pixel for this type.
		return imaging.Clone(&m.YCbCr)
	case *image.CMYK:
		return fromCMYK(m)
	default:
		dst = imaging.Clone(src)
	}
	setOpaque(dst)
	return dst
}

// unpremultiply turns premultiplied RGBA into straight colour in place. A
// hostile TIFF can store colour above its alpha, so the result is clamped.
func unpremultiply(m *image.RGBA) {
	w, h := m.Rect.Dx(), m.Rect.Dy()
	for y := range h {
		row := m.Pix[y*m.Stride : y*m.Stride+4*w]
		for i := 0; i+3 < len(row); i += 4 {
			a := uint32(row[i+3])
			if a == 0xff || a == 0 {
				continue
			}
			for c := range 3 {
				row[i+c] = uint8(min(uint32(row[i+c])*0xff/a, 0xff))
			}
		}
	}
}

// setOpaque sets every alpha byte of an origin-based NRGBA to 255.
func setOpaque(m *image.NRGBA) {
	w, h := m.Rect.Dx(), m.Rect.Dy()
	for y := range h {
		row := m.Pix[y*m.Stride : y*m.Stride+4*w]
		for i := 3; i < len(row); i += 4 {
			row[i] = 0xff
		}
	}
}

// fromCMYK converts a CMYK JPEG. imaging has no fast path for it and would
// make an interface call per pixel.
func fromCMYK(m *image.CMYK) *image.NRGBA {
	w, h := m.Rect.Dx(), m.Rect.Dy()
	dst := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		s := m.Pix[y*m.Stride : y*m.Stride+4*w]
		d := dst.Pix[y*dst.Stride : y*dst.Stride+4*w]
		for i := 0; i+3 < len(s); i += 4 {
			d[i], d[i+1], d[i+2] = color.CMYKToRGB(s[i], s[i+1], s[i+2], s[i+3])
			d[i+3] = 0xff
		}
	}
	return dst
}

// onCanvas places frame (already opaque, at the origin) at offset at on a
// w×h canvas, leaving the rest opaque black. Used for a GIF whose first frame
// does not cover the whole logical screen.
func onCanvas(frame *image.NRGBA, at image.Point, w, h int) *image.NRGBA {
	dst := image.NewNRGBA(image.Rect(0, 0, w, h))
	setOpaque(dst)
	fw, fh := frame.Rect.Dx(), frame.Rect.Dy()
	for y := range fh {
		dy := at.Y + y
		if dy < 0 || dy >= h || at.X < 0 || at.X+fw > w {
			continue // cannot happen: image/gif checks the frame is inside
		}
		copy(dst.Pix[dy*dst.Stride+4*at.X:dy*dst.Stride+4*(at.X+fw)], frame.Pix[y*frame.Stride:y*frame.Stride+4*fw])
	}
	return dst
}
