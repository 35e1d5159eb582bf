// Package neardup finds reposted photos: the same photo re-compressed, resized, cropped a
// little, mirrored or overlaid with text, by a 64-bit perceptual hash and an index that looks
// a hash up without scanning every stored one (issue 15; measured by `facematch eval neardup`,
// bench/RESULTS.md "Near-duplicate photos").
package neardup

import (
	"fmt"
	"image"
	"math/bits"
	"slices"

	"github.com/corona10/goimagehash"
	"github.com/disintegration/imaging"
)

// Hash is a photo's perceptual hash: the signs of the lowest 8×8 frequencies of the DCT of a
// 32×32 grey thumbnail against their median (pHash). Re-compression and resizing flip a few of
// its bits; a different photo flips about half.
type Hash uint64

// workSide bounds the side of the image the hashes are computed on: a 32×32 thumbnail is what
// pHash reads, and shrinking a 20-megapixel photo once, not for every crop, keeps hashing cheap
// beside the recognizer.
const workSide = 128

// shrink fits img within workSide.
func shrink(img image.Image) image.Image {
	b := img.Bounds()
	if b.Dx() <= workSide && b.Dy() <= workSide {
		return img
	}
	return imaging.Fit(img, workSide, workSide, imaging.Box)
}

// Of hashes img.
func Of(img image.Image) (Hash, error) {
	h, err := goimagehash.PerceptionHash(shrink(img))
	if err != nil {
		return 0, fmt.Errorf("neardup: hash: %w", err)
	}
	return Hash(h.GetHash()), nil
}

// OfBoth hashes img and its mirror image: a photo is stored with its own hash, and looked up
// with both, so that a mirrored repost is found.
func OfBoth(img image.Image) (own, mirrored Hash, err error) {
	img = shrink(img)
	if own, err = Of(img); err != nil {
		return 0, 0, err
	}
	mirrored, err = Of(imaging.FlipH(img))
	return own, mirrored, err
}

// cropScales and cropAnchors are the crops of a stored photo that are hashed besides the whole
// photo: a repost cut to a frame keeps 70-90 % of each side somewhere in the photo, and the
// whole photo's hash does not survive a crop of more than a few percent.
var (
	cropScales  = []float64{0.85, 0.7}
	cropAnchors = [][2]float64{{0.5, 0.5}, {0, 0}, {1, 0}, {0, 1}, {1, 1}}
)

// Variants hashes img whole and cropped (cropScales at cropAnchors): what a stored photo is
// indexed under, so that a cropped repost meets one of them.
func Variants(img image.Image) ([]Hash, error) {
	img = shrink(img)
	own, err := Of(img)
	if err != nil {
		return nil, err
	}
	out := []Hash{own}
	b := img.Bounds()
	for _, s := range cropScales {
		w, h := int(float64(b.Dx())*s), int(float64(b.Dy())*s)
		for _, a := range cropAnchors {
			x := b.Min.X + int(a[0]*float64(b.Dx()-w))
			y := b.Min.Y + int(a[1]*float64(b.Dy()-h))
			v, err := Of(imaging.Crop(img, image.Rect(x, y, x+w, y+h)))
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
	}
	return out, nil
}

// Stored is what a stored photo is indexed under: Variants, then its mirror image's hash (the
// last), so that a mirrored repost is found from either side.
func Stored(img image.Image) ([]Hash, error) {
	img = shrink(img)
	vs, err := Variants(img)
	if err != nil {
		return nil, err
	}
	m, err := Of(imaging.FlipH(img))
	if err != nil {
		return nil, err
	}
	return append(vs, m), nil
}

// MirrorVariant is the index of the mirror image's hash among Stored's; 0 is the whole photo,
// the ones between its crops.
var MirrorVariant = 1 + len(cropScales)*len(cropAnchors)

// Within calls fn with every value whose band b is within r bits of h's: the keys
// multi-index hashing probes in band b for a radius of 4·r + 3 at most.
func Within(h Hash, b, r int, fn func(band uint16)) { forEachWithin(band(h, b), r, fn) }

// Bands is how many 16-bit bands a hash is split into.
const Bands = bands

// Distance is the number of bits in which a and b differ.
func Distance(a, b Hash) int { return bits.OnesCount64(uint64(a ^ b)) }

// bands is how many 16-bit parts the index splits a hash into: a hash within r bits of a query
// differs from it by at most r/bands bits in one of them at least (pigeonhole), which is what
// the index probes (multi-index hashing, Norouzi, Punjani and Fleet, CVPR 2012).
const bands = 4

// Index looks up the stored hashes within a radius of a query.
type Index struct {
	tables [bands]map[uint16][]int32
	hashes []Hash
	ids    []int64
}

// NewIndex returns an empty index.
func NewIndex() *Index {
	ix := &Index{}
	for b := range ix.tables {
		ix.tables[b] = map[uint16][]int32{}
	}
	return ix
}

// Len is the number of hashes stored.
func (ix *Index) Len() int { return len(ix.hashes) }

// Add stores id's hash.
func (ix *Index) Add(id int64, h Hash) {
	at := int32(len(ix.hashes))
	ix.hashes = append(ix.hashes, h)
	ix.ids = append(ix.ids, id)
	for b := range bands {
		key := band(h, b)
		ix.tables[b][key] = append(ix.tables[b][key], at)
	}
}

// Match is a stored hash near a query.
type Match struct {
	ID       int64
	Distance int
}

// Near returns the IDs with a stored hash within radius bits of any of queries (a photo and
// its mirror image), each once at its smallest distance, nearest first (ties by ID).
func (ix *Index) Near(radius int, queries ...Hash) []Match {
	best := map[int64]int{}
	per := radius / bands
	for _, q := range queries {
		for b := range bands {
			forEachWithin(band(q, b), per, func(key uint16) {
				for _, at := range ix.tables[b][key] {
					d := Distance(q, ix.hashes[at])
					if d > radius {
						continue
					}
					if old, ok := best[ix.ids[at]]; !ok || d < old {
						best[ix.ids[at]] = d
					}
				}
			})
		}
	}
	out := make([]Match, 0, len(best))
	for id, d := range best {
		out = append(out, Match{ID: id, Distance: d})
	}
	slices.SortFunc(out, func(a, b Match) int {
		if a.Distance != b.Distance {
			return a.Distance - b.Distance
		}
		return int(a.ID - b.ID)
	})
	return out
}

func band(h Hash, b int) uint16 { return uint16(uint64(h) >> (16 * b)) }

// forEachWithin calls fn with every 16-bit value within r bits of v.
func forEachWithin(v uint16, r int, fn func(uint16)) {
	var walk func(v uint16, from, left int)
	walk = func(v uint16, from, left int) {
		fn(v)
		if left == 0 {
			return
		}
		for bit := from; bit < 16; bit++ {
			walk(v^(1<<bit), bit+1, left-1)
		}
	}
	walk(v, 0, r)
}
