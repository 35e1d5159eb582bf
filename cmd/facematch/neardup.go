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
	Radius         int                `json:"radius"`      // the largest with false matches ≤ 1e-4
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
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if *root == "" || fs.NArg() > 0 || *n < 2 || *indexSize < *n {
		fmt.Fprintln(m.Stderr, "usage: facematch eval neardup --root DIR [--n 1000] [--index 1000000] [--json]")
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
	}
	var originals [][]neardup.Hash // each photo's variants, whole first
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
			copies = append(copies, copyHashes{of: len(originals) - 1, transform: t.Name, own: h, mir: mir})
		}
	}
	out.HashesPerS = float64(hashes) / time.Since(start).Seconds()
	out.Photos, out.Copies = len(originals), len(copies)
	if len(originals) > 0 {
		out.Variants = len(originals[0])
	}
	var genuine, impostor [65]int
	// A copy's distance to a photo: the nearest of the photo's variants to the copy or its mirror.
	distance := func(c copyHashes, vs []neardup.Hash) int {
		d := 64
		for _, v := range vs {
			d = min(d, neardup.Distance(c.own, v), neardup.Distance(c.mir, v))
		}
		return d
	}
	for _, c := range copies {
		for j, o := range originals {
			d := distance(c, o)
			if j == c.of {
				genuine[d]++
			} else {
				impostor[d]++
				out.ImpostorPairs++
			}
		}
	}
	// The largest radius whose cumulative false-match rate stays at or under 1e-4.
	cum := 0
	out.Radius = -1
	for r := 0; r <= 64; r++ {
		cum += impostor[r]
		if float64(cum) > 1e-4*float64(out.ImpostorPairs) {
			break
		}
		out.Radius, out.FalseMatchRate = r, float64(cum)/float64(max(1, out.ImpostorPairs))
	}
	found := map[string]int{}
	total := map[string]int{}
	all := 0
	for _, c := range copies {
		total[c.transform]++
		if distance(c, originals[c.of]) <= out.Radius {
			found[c.transform]++
			all++
		}
	}
	for t, k := range total {
		out.ByTransform[t] = float64(found[t]) / float64(k)
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
	fmt.Fprintf(w, "radius %d bits: false matches %.2g, recall %.4f\n", out.Radius, out.FalseMatchRate, out.Recall)
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
