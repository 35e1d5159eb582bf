package neardup

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/disintegration/imaging"
)

func TestForEachWithin(t *testing.T) {
	for r, want := range []int{1, 17, 137, 697} { // sums of C(16, i)
		seen := map[uint16]bool{}
		forEachWithin(0xbeef, r, func(v uint16) {
			if Distance(Hash(v), Hash(0xbeef)) > r || seen[v] {
				t.Fatalf("radius %d: %04x visited twice or too far", r, v)
			}
			seen[v] = true
		})
		if len(seen) != want {
			t.Errorf("radius %d: %d values, want %d", r, len(seen), want)
		}
	}
}

// The index finds exactly what a scan over every hash finds, at every radius.
func TestIndexAgreesWithAScan(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	ix := NewIndex()
	var all []Hash
	for i := range 5000 {
		h := Hash(r.Uint64())
		if i%5 == 0 && i > 0 { // a near copy of an earlier one
			h = all[r.IntN(len(all))] ^ Hash(1)<<r.IntN(64) ^ Hash(1)<<r.IntN(64)
		}
		all = append(all, h)
		ix.Add(int64(i), h)
	}
	for q := range 200 {
		query := all[r.IntN(len(all))] ^ Hash(1)<<r.IntN(64)
		radius := q % 13
		var want []Match
		for i, h := range all {
			if d := Distance(query, h); d <= radius {
				want = append(want, Match{ID: int64(i), Distance: d})
			}
		}
		slices.SortFunc(want, func(a, b Match) int {
			if a.Distance != b.Distance {
				return a.Distance - b.Distance
			}
			return int(a.ID - b.ID)
		})
		if got := ix.Near(radius, query); !slices.Equal(got, want) {
			t.Fatalf("radius %d: index %v, scan %v", radius, got, want)
		}
	}
}

// scene is a photo-like image: smooth gradients and a few shapes, from a seed.
func scene(seed uint64) image.Image {
	r := rand.New(rand.NewPCG(seed, seed))
	img := image.NewNRGBA(image.Rect(0, 0, 320, 240))
	a, b := r.Float64(), r.Float64()
	for y := range 240 {
		for x := range 320 {
			v := uint8(128 + 100*(a*float64(x)/320-b*float64(y)/240))
			img.Set(x, y, color.NRGBA{v, uint8(255 - int(v)), uint8(x ^ y), 255})
		}
	}
	for range 6 {
		x0, y0, w, h := r.IntN(280), r.IntN(200), 20+r.IntN(80), 20+r.IntN(80)
		c := color.NRGBA{uint8(r.IntN(256)), uint8(r.IntN(256)), uint8(r.IntN(256)), 255}
		for y := y0; y < min(240, y0+h); y++ {
			for x := x0; x < min(320, x0+w); x++ {
				img.Set(x, y, c)
			}
		}
	}
	return img
}

// A re-compressed, resized or mirrored copy stays near; another photo does not.
func TestHashSurvivesReposting(t *testing.T) {
	orig := scene(1)
	own, _, err := OfBoth(orig)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	jpeg.Encode(&buf, orig, &jpeg.Options{Quality: 50})
	recompressed, _ := jpeg.Decode(&buf)
	for name, copy := range map[string]image.Image{
		"jpeg 50":   recompressed,
		"half size": imaging.Resize(orig, 160, 0, imaging.Lanczos),
		"mirrored":  imaging.FlipH(orig),
	} {
		h, m, err := OfBoth(copy)
		if err != nil {
			t.Fatal(err)
		}
		if d := min(Distance(own, h), Distance(own, m)); d > 8 {
			t.Errorf("%s: %d bits from the original, want at most 8", name, d)
		}
	}
	other, err := Of(scene(2))
	if err != nil {
		t.Fatal(err)
	}
	if d := Distance(own, other); d < 16 {
		t.Errorf("another photo: %d bits, want far more", d)
	}
}

// A photo cropped by a tenth is found through the stored crop variants, where its whole-photo
// hash alone is far.
func TestVariantsFindACroppedRepost(t *testing.T) {
	orig := scene(3)
	vs, err := Variants(orig)
	if err != nil || len(vs) != 1+len(cropScales)*len(cropAnchors) {
		t.Fatalf("variants: %d, %v", len(vs), err)
	}
	ix := NewIndex()
	for _, v := range vs {
		ix.Add(7, v)
	}
	b := orig.Bounds()
	crop := imaging.Crop(orig, image.Rect(0, 0, int(float64(b.Dx())*0.85), int(float64(b.Dy())*0.85)))
	own, mir, err := OfBoth(crop)
	if err != nil {
		t.Fatal(err)
	}
	if got := ix.Near(8, own, mir); len(got) != 1 || got[0].ID != 7 {
		t.Errorf("the cropped repost: %v, want photo 7 once", got)
	}
}

func TestStoredFaces(t *testing.T) {
	img := image.NewNRGBA(image.Rect(0, 0, 200, 100))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 7 % 251)
	}
	faces := []Box{{X: 10, Y: 10, W: 40, H: 50}, {X: 120, Y: 20, W: 3, H: 3}, {X: 150, Y: 30, W: 40, H: 40}}
	hs := StoredFaces(img, faces)
	if len(hs) != 4 {
		t.Fatalf("%d hashes for two faces large enough and one too small, want 4 (own and mirrored each)", len(hs))
	}
	own, mir, err := OfFace(img, 10, 10, 40, 50, FaceRegionScale)
	if err != nil || hs[0] != own || hs[1] != mir {
		t.Errorf("first face: %x %x, want %x %x (%v)", hs[0], hs[1], own, mir, err)
	}
	many := make([]Box, MaxFaceRegions+3)
	for i := range many {
		many[i] = Box{X: 10, Y: 10, W: 40, H: 40}
	}
	if n := len(StoredFaces(img, many)); n != 2*MaxFaceRegions {
		t.Errorf("%d hashes for %d faces, want %d", n, len(many), 2*MaxFaceRegions)
	}
	if r := FaceRegion(img, 180, 80, 40, 40, 1); r != image.Rect(180, 80, 200, 100) {
		t.Errorf("a region past the edge: %v, want it clipped", r)
	}
}
