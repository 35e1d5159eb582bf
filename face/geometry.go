package face

import "math"

// Point is a position in image pixels; pixel centres sit at integer coordinates.
type Point struct{ X, Y float32 }

// Box is an axis-aligned rectangle in image pixels.
type Box struct{ X, Y, W, H float32 }

// Landmarks are the five facial points in ArcFace order: image-left eye, image-right eye,
// nose tip, image-left mouth corner, image-right mouth corner.
type Landmarks [5]Point

// Detection is one face found by a detector, in the coordinates of the image given to Detect.
type Detection struct {
	Box       Box
	Landmarks Landmarks
	Score     float32 // detector confidence in [0,1]
}

// similarity is the transform p ↦ [a −b; b a]·p + (tx, ty): rotation, uniform scale, translation.
type similarity struct{ a, b, tx, ty float64 }

// estimateSimilarity fits the least-squares similarity transform taking src onto dst (Umeyama
// without reflection, as insightface's estimate_norm). The closed form for 2-D is exact.
func estimateSimilarity(src, dst [5]Point) similarity {
	var msx, msy, mdx, mdy float64
	for i := range src {
		msx += float64(src[i].X)
		msy += float64(src[i].Y)
		mdx += float64(dst[i].X)
		mdy += float64(dst[i].Y)
	}
	n := float64(len(src))
	msx, msy, mdx, mdy = msx/n, msy/n, mdx/n, mdy/n
	var num1, num2, den float64
	for i := range src {
		sx, sy := float64(src[i].X)-msx, float64(src[i].Y)-msy
		dx, dy := float64(dst[i].X)-mdx, float64(dst[i].Y)-mdy
		num1 += sx*dx + sy*dy
		num2 += sx*dy - sy*dx
		den += sx*sx + sy*sy
	}
	if den == 0 {
		return similarity{a: 1, tx: mdx - msx, ty: mdy - msy}
	}
	a, b := num1/den, num2/den
	return similarity{a: a, b: b, tx: mdx - (a*msx - b*msy), ty: mdy - (b*msx + a*msy)}
}

func (t similarity) scale() float64 { return math.Hypot(t.a, t.b) }

// inverse maps an output (template) position back into the source image.
func (t similarity) inverse(u, v float64) (x, y float64) {
	det := t.a*t.a + t.b*t.b
	u, v = u-t.tx, v-t.ty
	return (t.a*u + t.b*v) / det, (-t.b*u + t.a*v) / det
}
