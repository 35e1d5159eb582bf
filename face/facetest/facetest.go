// Package facetest is a deterministic stand-in for the face models, for tests of the rules
// around them (review, search bookkeeping, deletion, jobs, authorization) that must run in
// milliseconds without ONNX Runtime, model files or photo sets. It is never a substitute for
// the models: the pipeline, accuracy and end-to-end tests run the real ones.
//
// The convention is simple enough to draw by hand. An image is a grid of square cells whose
// side is its shorter dimension. A cell whose mean colour is not near black holds one frontal
// face, with landmarks at fixed places in the cell. The face's identity is its cell's mean
// colour, quantised to 8 levels per channel; its vector is the identity's fixed random
// direction plus a smaller one drawn from the cell's exact pixels. So the same bytes embed
// identically, two photos of one person (same colour, other texture) score about 0.9, and two
// people about 0 ± 1/√dim. [Photo] and [Group] draw such images.
package facetest

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"math/rand/v2"

	"github.com/facematch/facematch/face"
)

// Cell landmarks as fractions of the cell's side: level eyes, the nose on their midline, so
// every face is frontal; the eyes are 0.3 of the side apart.
var cellLandmarks = face.Landmarks{{X: 0.35, Y: 0.4}, {X: 0.65, Y: 0.4}, {X: 0.5, Y: 0.55}, {X: 0.38, Y: 0.75}, {X: 0.62, Y: 0.75}}

const (
	eyeSpan = 0.3 // cellLandmarks' eye distance
	// darkness is the mean channel value under which a cell is background, not a face.
	darkness = 8
	// Score is every fake detection's confidence.
	Score = 0.99
)

// Detector finds one face in every cell that is not near black.
type Detector struct{}

// Detect implements the engine's detector.
func (Detector) Detect(ctx context.Context, img *image.NRGBA) ([]face.Detection, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var dets []face.Detection
	for _, c := range cells(img.Bounds()) {
		r, g, b := meanColor(img, c)
		if (r+g+b)/3 < darkness {
			continue
		}
		side := float32(c.Dx())
		x0, y0 := float32(c.Min.X), float32(c.Min.Y)
		var lm face.Landmarks
		for i, p := range cellLandmarks {
			lm[i] = face.Point{X: x0 + p.X*side, Y: y0 + p.Y*side}
		}
		dets = append(dets, face.Detection{
			Box:       face.Box{X: x0 + 0.15*side, Y: y0 + 0.1*side, W: 0.7 * side, H: 0.8 * side},
			Landmarks: lm, Score: Score,
		})
	}
	return dets, nil
}

// Embedder makes vectors from the cells the landmarks point at.
type Embedder struct {
	// Name tells two fake models apart: their vectors differ. "" is "facetest".
	Name string
	// Dimensions is the vectors' length; 0 is 64.
	Dimensions int
	// Spread is the length of the per-photo part against the identity's unit part; 0 is 0.35,
	// which puts two photos of one person near 1/(1+0.35²) ≈ 0.89.
	Spread float64
}

// Identity implements the engine's embedder.
func (e Embedder) Identity() string { return fmt.Sprintf("%s@fake-%d", e.name(), e.Dim()) }

// Dim implements the engine's embedder.
func (e Embedder) Dim() int {
	if e.Dimensions > 0 {
		return e.Dimensions
	}
	return 64
}

func (e Embedder) name() string {
	if e.Name == "" {
		return "facetest"
	}
	return e.Name
}

// Embed implements the engine's embedder: one unit vector per face.
func (e Embedder) Embed(ctx context.Context, img *image.NRGBA, faces []face.Landmarks) ([]face.Embedding, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	spread := e.Spread
	if spread == 0 {
		spread = 0.35
	}
	out := make([]face.Embedding, len(faces))
	for i, lm := range faces {
		c := cellOf(lm).Intersect(img.Bounds())
		if c.Empty() {
			return nil, fmt.Errorf("facetest: landmarks %v outside the %v image", lm, img.Bounds())
		}
		v := e.direction(Identity(img, c), 1)
		noise := e.direction(pixelHash(img, c), spread)
		for j := range v {
			v[j] += noise[j]
		}
		face.Normalize(v)
		out[i] = face.Embedding{Model: e.Identity(), Vector: v}
	}
	return out, nil
}

// direction is a random vector of the given expected length drawn from seed and the model's
// name.
func (e Embedder) direction(seed uint64, length float64) []float32 {
	h := fnv.New64a()
	h.Write([]byte(e.name()))
	rng := rand.New(rand.NewPCG(seed, h.Sum64()))
	v := make([]float32, e.Dim())
	scale := length / math.Sqrt(float64(len(v)))
	for j := range v {
		v[j] = float32(rng.NormFloat64() * scale)
	}
	return v
}

// Identity is the identity a cell shows: its mean colour quantised to 8 levels per channel.
func Identity(img *image.NRGBA, cell image.Rectangle) uint64 {
	r, g, b := meanColor(img, cell)
	return uint64(r/32)<<6 | uint64(g/32)<<3 | uint64(b/32)
}

// cellOf is the cell the landmarks of a fake detection lie in.
func cellOf(lm face.Landmarks) image.Rectangle {
	side := float64(lm[1].X-lm[0].X) / eyeSpan
	x0 := float64(lm[2].X) - 0.5*side
	y0 := float64(lm[0].Y) - 0.4*side
	return image.Rect(int(math.Round(x0)), int(math.Round(y0)), int(math.Round(x0+side)), int(math.Round(y0+side)))
}

// cells tiles r with squares of its shorter side, row by row.
func cells(r image.Rectangle) []image.Rectangle {
	side := min(r.Dx(), r.Dy())
	if side == 0 {
		return nil
	}
	var out []image.Rectangle
	for y := r.Min.Y; y+side <= r.Max.Y; y += side {
		for x := r.Min.X; x+side <= r.Max.X; x += side {
			out = append(out, image.Rect(x, y, x+side, y+side))
		}
	}
	return out
}

func meanColor(img *image.NRGBA, c image.Rectangle) (r, g, b int) {
	var sr, sg, sb, n int
	for y := c.Min.Y; y < c.Max.Y; y++ {
		row := img.Pix[img.PixOffset(c.Min.X, y):img.PixOffset(c.Max.X, y)]
		for i := 0; i+3 < len(row); i += 4 {
			sr, sg, sb = sr+int(row[i]), sg+int(row[i+1]), sb+int(row[i+2])
			n++
		}
	}
	if n == 0 {
		return 0, 0, 0
	}
	return sr / n, sg / n, sb / n
}

func pixelHash(img *image.NRGBA, c image.Rectangle) uint64 {
	h := fnv.New64a()
	for y := c.Min.Y; y < c.Max.Y; y++ {
		h.Write(img.Pix[img.PixOffset(c.Min.X, y):img.PixOffset(c.Max.X, y)])
	}
	return h.Sum64()
}

// People is how many identities the convention can draw: 8×8×8 colours less black.
const People = 511

// Side is the side of the cells [Photo] and [Group] draw: the eyes are 48 pixels apart, well
// above the quality gate's minimum.
const Side = 160

// Photo is a PNG of one face: person (1 … People) picks the identity, variant the texture, so
// two variants of a person are two photos of them.
func Photo(person, variant int) []byte { return Group(variant, person) }

// PhotoJPEG is [Photo] as a JPEG.
func PhotoJPEG(person, variant int) []byte { return EncodeJPEG(Draw(Side, variant, person)) }

// Group is a PNG of one face per person side by side, in the given variant; person 0 is an
// empty (black) cell.
func Group(variant int, persons ...int) []byte {
	return EncodePNG(Draw(Side, variant, persons...))
}

// Draw paints the cells of [Group] at the given side.
func Draw(side, variant int, persons ...int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, side*max(1, len(persons)), side))
	for i, p := range persons {
		if p < 0 || p > People {
			panic(fmt.Sprintf("facetest: person %d outside 0 … %d", p, People))
		}
		if p == 0 {
			continue // image.NewNRGBA is transparent black: no face
		}
		// The channel levels sit mid-bin, and the texture is ±12 around them, so the mean
		// stays in the bin through PNG and JPEG alike.
		base := [3]int{16 + 32*(p>>6&7), 16 + 32*(p>>3&7), 16 + 32*(p&7)}
		var seed [16]byte
		binary.LittleEndian.PutUint64(seed[:8], uint64(p))
		binary.LittleEndian.PutUint64(seed[8:], uint64(variant))
		rng := rand.New(rand.NewChaCha8([32]byte(append(seed[:], seed[:]...))))
		for y := 0; y < side; y++ {
			for x := i * side; x < (i+1)*side; x++ {
				jitter := rng.IntN(25) - 12
				img.SetNRGBA(x, y, color.NRGBA{R: uint8(base[0] + jitter), G: uint8(base[1] + jitter), B: uint8(base[2] + jitter), A: 255})
			}
		}
	}
	return img
}

// EncodePNG encodes img as PNG.
func EncodePNG(img image.Image) []byte {
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		panic(err) // an in-memory NRGBA always encodes
	}
	return buf.Bytes()
}

// EncodeJPEG encodes img as a JPEG of quality 90 (the convention survives it).
func EncodeJPEG(img image.Image) []byte {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
		panic(err) // an in-memory NRGBA always encodes
	}
	return buf.Bytes()
}

// ImpostorSimilarity is the similarity that two photos of different fake people exceed with
// probability fmr: their identity directions are independent random unit vectors, whose cosine
// is close to normal with variance 1/Dim (the per-photo part only lowers it, so this is an upper
// line). Tests give it to the engine as the fake model's impostor tail.
func (e Embedder) ImpostorSimilarity(fmr float64) float64 {
	return math.Sqrt2 * math.Erfinv(1-2*fmr) / math.Sqrt(float64(e.Dim()))
}

// MinorsImpostorSimilarity is the fake's line for pairs of children, far above the adults'
// ([ImpostorSimilarity]) as the real models' is: two photos of one fake person (about 0.9)
// stay under it, so a test sees the minors' line keep items out of the queue.
func (e Embedder) MinorsImpostorSimilarity(fmr float64) float64 {
	return min(0.999, e.ImpostorSimilarity(fmr)+0.7)
}

// AgeEstimator gives every face an apparent age fixed by its identity ([Age]), the same in
// every photo of the person, so rules about possible minors can be tested without the model.
type AgeEstimator struct{}

// Identity names the fake age model.
func (AgeEstimator) Identity() string { return "age@fake" }

// ApparentAges implements the engine's age estimator.
func (AgeEstimator) ApparentAges(ctx context.Context, img *image.NRGBA, dets []face.Detection) ([]float32, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := make([]float32, len(dets))
	for i, d := range dets {
		out[i] = Age(int(Identity(img, cellOf(d.Landmarks))))
	}
	return out, nil
}

// Age is the apparent age the fake gives person p: 2 … 61 years, person 1 looks 9, person 2
// looks 16, person 3 looks 23, person 4 looks 30.
func Age(p int) float32 { return float32(2 + (p*7)%60) }
