package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"math/rand/v2"
	"path/filepath"
	"sort"
	"time"

	"github.com/disintegration/imaging"
	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"

	"github.com/facematch/facematch/engine/neardup"
)

// neardupTransform is one way an ad photo is reposted.
type neardupTransform struct {
	Name  string
	apply func(image.Image) (image.Image, error)
}

var neardupTransforms = []neardupTransform{
	{"jpeg_q50", func(img image.Image) (image.Image, error) {
		var buf bytes.Buffer
		if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 50}); err != nil {
			return nil, err
		}
		return jpeg.Decode(&buf)
	}},
	{"crop_10", func(img image.Image) (image.Image, error) { return cropped(img, 0.10), nil }},
	{"crop_20", func(img image.Image) (image.Image, error) { return cropped(img, 0.20), nil }},
	{"crop_30", func(img image.Image) (image.Image, error) { return cropped(img, 0.30), nil }},
	{"mirrored", func(img image.Image) (image.Image, error) { return imaging.FlipH(img), nil }},
	{"half_size", func(img image.Image) (image.Image, error) {
		return imaging.Resize(img, img.Bounds().Dx()/2, 0, imaging.Lanczos), nil
	}},
	{"text_overlay", func(img image.Image) (image.Image, error) { return withText(img), nil }},
}

// cropped removes share of the width and of the height, more on the right and bottom (an ad
// cut to a frame rarely keeps the centre exactly).
func cropped(img image.Image, share float64) image.Image {
	b := img.Bounds()
	dx, dy := int(float64(b.Dx())*share), int(float64(b.Dy())*share)
	return imaging.Crop(img, image.Rect(b.Min.X+dx/3, b.Min.Y+dy/3, b.Max.X-dx+dx/3, b.Max.Y-dy+dy/3))
}

// withText draws an ad's contact line over the bottom of the photo.
func withText(img image.Image) image.Image {
	b := img.Bounds()
	out := image.NewNRGBA(b)
	draw.Draw(out, b, img, b.Min, draw.Src)
	band := image.Rect(b.Min.X, b.Max.Y-b.Dy()/6, b.Max.X, b.Max.Y)
	draw.Draw(out, band, image.NewUniform(color.NRGBA{0, 0, 0, 170}), image.Point{}, draw.Over)
	d := font.Drawer{Dst: out, Src: image.NewUniform(color.White), Face: basicfont.Face7x13,
		Dot: fixed.P(band.Min.X+6, band.Min.Y+band.Dy()/2+5)}
	d.DrawString("NEW IN TOWN - call 0151 2345 6789 - kitty_k")
	return out
}

// neardupJSON is `facematch eval neardup --json`.
type neardupJSON struct {
	Photos         int                `json:"photos"`
	Copies         int                `json:"copies"`
	ImpostorPairs  int                `json:"impostor_pairs"`
	Radius         int                `json:"radius"`      // by the whole photo; with FaceRadius, the pair finding most at false matches ≤ 1e-4
	FaceRadius     int                `json:"face_radius"` // by the face regions (--faces; -1: not used)
	FalseMatchRate float64            `json:"false_match"` // at Radius, per (copy, other photo) pair
	Recall         float64            `json:"recall"`      // of every copy at Radius
	ByTransform    map[string]float64 `json:"recall_by_transform"`
	HashesPerS     float64            `json:"hashes_per_s"`
	IndexSize      int                `json:"index_size"`
	LookupMicros   float64            `json:"lookup_us"` // per copy (own and mirrored hash), at Radius
	// Variants is how many hashes each stored photo is indexed under (whole and cropped).
	Variants int `json:"variants_per_photo"`
}

// runEvalNeardup measures reposted-photo detection: n photos under root, each transformed the
// ways ads repost photos; the radius at which at most 1e-4 of (copy, other photo) pairs match,
// the share of copies found within it, and the index's look-up time among --index hashes.
func (m *Main) runEvalNeardup(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("eval neardup", flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	root := fs.String("root", "", "a folder of photos (any depth)")
	n := fs.Int("n", 1000, "photos used, spread over the folder")
	indexSize := fs.Int("index", 1_000_000, "hashes in the look-up index (the photos plus random ones)")
	asJSON := fs.Bool("json", false, "print one JSON object")
	faces := fs.Bool("faces", false, "also hash the region around each face the detector finds (in the photos and their copies)")
	faceScale := fs.Float64("face-scale", neardup.FaceRegionScale, "the face region's side, in face boxes")
	anchor := fs.String("face-anchor", "box", "what centres the face region: box or landmarks")
	fixedRadius := fs.Int("radius", -1, "the whole photo's radius, fixed (-1: chosen with the face radius)")
	var cfg Config
	cfg.bindModelFlags(fs, m.Getenv)
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	var detect func(image.Image) ([]neardup.Hash, []neardup.Hash, error)
	if *faces {
		if err := cfg.Validate(); err != nil {
			return err
		}
		p, err := cfg.buildForEval(1)
		if err != nil {
			return err
		}
		defer p.Close()
		// detect returns the face regions' own hashes and their mirror images'.
		detect = func(img image.Image) (own, mirrored []neardup.Hash, err error) {
			n := imaging.Clone(img)
			dets, err := p.Detector.Detect(ctx, n)
			if err != nil {
				return nil, nil, err
			}
			for _, d := range dets {
				x, y, w, h := float64(d.Box.X), float64(d.Box.Y), float64(d.Box.W), float64(d.Box.H)
				if *anchor == "landmarks" {
					var cx, cy float64
					for _, l := range d.Landmarks {
						cx, cy = cx+float64(l.X)/5, cy+float64(l.Y)/5
					}
					x, y = cx-w/2, cy-h/2
				}
				o, m, err := neardup.OfFace(n, x, y, w, h, *faceScale)
				if err != nil {
					continue
				}
				own, mirrored = append(own, o), append(mirrored, m)
			}
			return own, mirrored, nil
		}
	}
	if *root == "" || fs.NArg() > 0 || *n < 2 || *indexSize < *n {
		fmt.Fprintln(m.Stderr, "usage: facematch eval neardup --root DIR [--n 1000] [--index 1000000] [--faces [--face-scale 1.5]] [--json]")
		return errUsage
	}
	files, err := photoTree(*root)
	if err != nil {
		return err
	}
	step := max(1, len(files) / *n)
	var picked []string
	for i := 0; i < len(files) && len(picked) < *n; i += step {
		picked = append(picked, files[i])
	}
	out := neardupJSON{ByTransform: map[string]float64{}}
	type copyHashes struct {
		of        int
		transform string
		own, mir  neardup.Hash
		// faces and facesMir are the copy's face regions' hashes (--faces).
		faces, facesMir []neardup.Hash
	}
	var originals [][]neardup.Hash // each photo's variants, whole first
	var originalFaces [][]neardup.Hash
	var copies []copyHashes
	start := time.Now()
	hashes := 0
	for _, f := range picked {
		if err := ctx.Err(); err != nil {
			return err
		}
		img, err := imaging.Open(filepath.Join(*root, f))
		if err != nil {
			continue // not a photo this command can read: skipped, as a store would refuse it
		}
		variants, err := neardup.Variants(img)
		if err != nil {
			return err
		}
		hashes += len(variants)
		originals = append(originals, variants)
		var faceHashes []neardup.Hash
		if detect != nil {
			if faceHashes, _, err = detect(img); err != nil {
				return err
			}
		}
		originalFaces = append(originalFaces, faceHashes)
		for _, t := range neardupTransforms {
			c, err := t.apply(img)
			if err != nil {
				return fmt.Errorf("%s %s: %w", f, t.Name, err)
			}
			h, mir, err := neardup.OfBoth(c)
			if err != nil {
				return err
			}
			hashes += 2
			ch := copyHashes{of: len(originals) - 1, transform: t.Name, own: h, mir: mir}
			if detect != nil {
				if ch.faces, ch.facesMir, err = detect(c); err != nil {
					return err
				}
			}
			copies = append(copies, ch)
		}
	}
	out.HashesPerS = float64(hashes) / time.Since(start).Seconds()
	out.Photos, out.Copies = len(originals), len(copies)
	if len(originals) > 0 {
		out.Variants = len(originals[0])
	}
	// A copy's distance to a photo, by the whole photo (the nearest of the photo's variants to
	// the copy or its mirror) and by the faces (the nearest face regions, 64 without faces).
	distances := func(c copyHashes, vs, fs []neardup.Hash) (whole, faces int) {
		whole, faces = 64, 64
		for _, v := range vs {
			whole = min(whole, neardup.Distance(c.own, v), neardup.Distance(c.mir, v))
		}
		for _, f := range fs {
			for k := range c.faces {
				faces = min(faces, neardup.Distance(c.faces[k], f), neardup.Distance(c.facesMir[k], f))
			}
		}
		return whole, faces
	}
	// impostor[w][f] counts (copy, other photo) pairs at those two distances.
	var impostor [65][65]int
	for _, c := range copies {
		for j, o := range originals {
			if j == c.of {
				continue
			}
			w, f := distances(c, o, originalFaces[j])
			impostor[w][f]++
			out.ImpostorPairs++
		}
	}
	// A copy matches a photo when either distance is within its radius. The radii are the pair
	// that finds the most copies with false matches at or under 1e-4 of the pairs (by the
	// whole photo alone, the face radius is -1).
	falseAt := func(rw, rf int) int {
		n := 0
		for w := range 65 {
			for f := range 65 {
				if w <= rw || f <= rf {
					n += impostor[w][f]
				}
			}
		}
		return n
	}
	found := func(rw, rf int) (all int, by map[string]int) {
		by = map[string]int{}
		for _, c := range copies {
			w, f := distances(c, originals[c.of], originalFaces[c.of])
			if w <= rw || f <= rf {
				all++
				by[c.transform]++
			}
		}
		return all, by
	}
	out.Radius, out.FaceRadius = -1, -1
	best := -1
	faceRadii := []int{-1}
	if detect != nil {
		for r := 0; r <= 16; r++ {
			faceRadii = append(faceRadii, r)
		}
	}
	for rw := 0; rw <= 20; rw++ {
		if *fixedRadius >= 0 && rw != *fixedRadius {
			continue
		}
		for _, rf := range faceRadii {
			fm := falseAt(rw, rf)
			if float64(fm) > 1e-4*float64(out.ImpostorPairs) {
				continue
			}
			if n, _ := found(rw, rf); n > best {
				best, out.Radius, out.FaceRadius = n, rw, rf
				out.FalseMatchRate = float64(fm) / float64(max(1, out.ImpostorPairs))
			}
		}
	}
	all, by := found(out.Radius, out.FaceRadius)
	total := map[string]int{}
	for _, c := range copies {
		total[c.transform]++
	}
	for t, k := range total {
		out.ByTransform[t] = float64(by[t]) / float64(k)
	}
	out.Recall = float64(all) / float64(max(1, len(copies)))

	// Look-up among indexSize hashes: the photos and random ones (real photos' hashes cluster
	// more than random ones, so read this as a lower bound).
	ix := neardup.NewIndex()
	for i, vs := range originals {
		for _, h := range vs {
			ix.Add(int64(i), h)
		}
	}
	r := rand.New(rand.NewPCG(1, 1))
	for i := ix.Len(); i < *indexSize; i++ {
		ix.Add(int64(i), neardup.Hash(r.Uint64()))
	}
	out.IndexSize = ix.Len()
	t := time.Now()
	for _, c := range copies {
		ix.Near(max(0, out.Radius), c.own, c.mir)
	}
	out.LookupMicros = float64(time.Since(t).Microseconds()) / float64(max(1, len(copies)))
	if *asJSON {
		return json.NewEncoder(m.Stdout).Encode(out)
	}
	w := m.Stdout
	fmt.Fprintf(w, "%d photos, %d reposted copies, %d (copy, other photo) pairs\n", out.Photos, out.Copies, out.ImpostorPairs)
	fmt.Fprintf(w, "radius %d bits (face regions: %d): false matches %.2g, recall %.4f\n", out.Radius, out.FaceRadius, out.FalseMatchRate, out.Recall)
	names := make([]string, 0, len(out.ByTransform))
	for k := range out.ByTransform {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		fmt.Fprintf(w, "  %-13s recall %.4f\n", k, out.ByTransform[k])
	}
	fmt.Fprintf(w, "hashing %.0f/s; look-up among %d hashes: %.0f µs\n", out.HashesPerS, out.IndexSize, out.LookupMicros)
	return nil
}
