package neardup

import (
	"errors"
	"image"

	"github.com/disintegration/imaging"
)

// A crop of 20-30 % moves the frame so far that no hash of the whole photo or of a fixed crop
// survives it, but the face stays in the repost: a hash of the region around each face, found
// by the detector in both photos, is anchored to the content instead of the frame.

// FaceRegionScale is the hashed region's side in face boxes: a larger region is cut by the crop
// it is meant to survive, and the face box alone already differs between two photos of one
// person (1.0 found the most crops at 1e-4 in `facematch eval neardup --faces`, against 0.8,
// 1.2 and 1.5).
const FaceRegionScale = 1.0

// FaceRegion is the region hashed around a face box (x, y, w, h in img's coordinates), scale
// times the box, centred on it and clipped to the image.
func FaceRegion(img image.Image, x, y, w, h, scale float64) image.Rectangle {
	b := img.Bounds()
	cx, cy := x+w/2, y+h/2
	side := max(w, h) * scale
	r := image.Rect(int(cx-side/2), int(cy-side/2), int(cx+side/2), int(cy+side/2))
	return r.Intersect(b)
}

// OfFace hashes the region around a face box and its mirror image: a stored photo keeps its
// faces' own hashes, a look-up asks with both.
func OfFace(img image.Image, x, y, w, h, scale float64) (own, mirrored Hash, err error) {
	r := FaceRegion(img, x, y, w, h, scale)
	if r.Dx() < 8 || r.Dy() < 8 {
		return 0, 0, errTooSmall
	}
	return OfBoth(imaging.Crop(img, r))
}

var errTooSmall = errors.New("neardup: face region too small to hash")

// MaxFaceRegions bounds the faces of one photo whose regions are stored (a group photo's
// largest first, as the caller orders them).
const MaxFaceRegions = 8

// FaceVariant is the first face region's hash among a stored photo's: face k's own hash is at
// FaceVariant+2k, its mirror image's at FaceVariant+2k+1, after Stored's.
var FaceVariant = MirrorVariant + 1

// Box is a face box in an image's coordinates.
type Box struct{ X, Y, W, H float64 }

// StoredFaces hashes the regions around faces (at most MaxFaceRegions), each own and mirrored,
// in the order of FaceVariant; a face too small to hash is skipped.
func StoredFaces(img image.Image, faces []Box) []Hash {
	var out []Hash
	for _, f := range faces {
		if len(out) == 2*MaxFaceRegions {
			break
		}
		own, mir, err := OfFace(img, f.X, f.Y, f.W, f.H, FaceRegionScale)
		if err != nil {
			continue
		}
		out = append(out, own, mir)
	}
	return out
}
