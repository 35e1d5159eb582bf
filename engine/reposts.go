package engine

import (
	"context"
	"fmt"
	"slices"

	"github.com/facematch/facematch/engine/neardup"
	"github.com/facematch/facematch/models/decode"
)

// RepostRadius is the Hamming radius within which two photos' hashes make them the same photo
// reposted: the largest at which at most 1e-4 of pairs of different photos matched in `eval
// neardup` (7.7e-5 per direction on LFW; a look-up goes both ways, so about 1.5e-4 in all).
const RepostRadius = 11

// FaceRepostRadius is the radius for the hashes of the regions around faces, which find the
// crops a whole photo's hashes miss: with RepostRadius for the whole photo, the largest at which
// both together kept false matches at or under 1e-4 on LFW (`facematch eval neardup --faces
// --radius 11`: 8.6e-5, recall of 20 % crops 0.12 → 0.72).
const FaceRepostRadius = 8

// StoredHash is one stored perceptual hash of a photo.
type StoredHash struct {
	ImageID int64
	Variant int
	Hash    uint64
}

// HashStore finds photos by their perceptual hashes.
type HashStore interface {
	ImageHashes(ctx context.Context, imageID int64) ([]uint64, error)
	// HashCandidates returns the stored hashes whose band b is one of keys and whose variant
	// is one of variants.
	HashCandidates(ctx context.Context, b int, keys []uint16, variants []int) ([]StoredHash, error)
	// ImagesWithoutHashes returns up to limit photos after ID after that have no hashes, or
	// faces but no face-region hashes.
	ImagesWithoutHashes(ctx context.Context, after int64, limit int) ([]Image, error)
	// SetImageHashes stores a photo's hashes (replacing any).
	SetImageHashes(ctx context.Context, imageID int64, hashes []uint64) error
}

// Repost is another stored photo that is the same photo reposted (re-compressed, resized,
// cropped, mirrored or captioned), with the hash distance.
type Repost struct {
	Image    Image `json:"image"`
	Distance int   `json:"distance"`
	// ByFace says the match is of the regions around a face (within FaceRepostRadius), not of
	// the whole photo: a repost cut to another frame.
	ByFace bool `json:"by_face,omitempty"`
}

// Reposts finds the stored photos, in a's galleries, that are photo id reposted or that id
// reposts: id's whole and mirrored hashes against the others' crops, and id's crops against
// the others' whole and mirrored hashes (both ways as `eval neardup` measures one). A photo
// stored before hashes were kept has none (ErrConflict says so).
func (s *Service) Reposts(ctx context.Context, a Actor, id int64) ([]Repost, error) {
	rs, galleryID, err := s.reposts(ctx, a, id)
	if err != nil {
		return nil, err
	}
	return rs, s.auditExamination(ctx, a, "image.reposts", ref("image", id), []int64{galleryID})
}

// reposts is Reposts without its audit entry (a person page reads many), and the photo's
// gallery.
func (s *Service) reposts(ctx context.Context, a Actor, id int64) ([]Repost, int64, error) {
	img, err := s.cfg.Catalog.Image(ctx, id)
	if err != nil {
		return nil, 0, err
	}
	if err := checkGallery(a, img.GalleryID); err != nil {
		return nil, 0, err
	}
	hs, err := s.cfg.Catalog.ImageHashes(ctx, id)
	if err != nil {
		return nil, 0, err
	}
	if len(hs) <= neardup.MirrorVariant {
		return nil, 0, fmt.Errorf("photo %d was stored before photos were hashed for reposts: %w", id, ErrConflict)
	}
	whole, mirror := neardup.Hash(hs[0]), neardup.Hash(hs[neardup.MirrorVariant])
	crops := make([]neardup.Hash, neardup.MirrorVariant)
	allCropVariants := make([]int, neardup.MirrorVariant)
	for v := range neardup.MirrorVariant {
		crops[v] = neardup.Hash(hs[v])
		allCropVariants[v] = v
	}
	best := map[int64]int{}
	byFace := map[int64]bool{} // found by a face region only
	// One look-up per band for all the queries together: each band's probe keys of every query
	// in one IN list, each stored hash found then measured against every query.
	probe := func(queries []neardup.Hash, variants []int, radius int, faces bool) error {
		if len(queries) == 0 {
			return nil
		}
		for b := range neardup.Bands {
			keys := map[uint16]bool{}
			for _, q := range queries {
				neardup.Within(q, b, radius/neardup.Bands, func(k uint16) { keys[k] = true })
			}
			list := make([]uint16, 0, len(keys))
			for k := range keys {
				list = append(list, k)
			}
			found, err := s.cfg.Catalog.HashCandidates(ctx, b, list, variants)
			if err != nil {
				return err
			}
			for _, f := range found {
				if f.ImageID == id {
					continue
				}
				for _, q := range queries {
					d := neardup.Distance(q, neardup.Hash(f.Hash))
					if d > radius {
						continue
					}
					old, ok := best[f.ImageID]
					switch {
					case !ok:
						best[f.ImageID], byFace[f.ImageID] = d, faces
					case byFace[f.ImageID] && !faces: // the whole photo's match says more
						best[f.ImageID], byFace[f.ImageID] = d, false
					case byFace[f.ImageID] == faces && d < old:
						best[f.ImageID] = d
					}
				}
			}
		}
		return nil
	}
	if err := probe([]neardup.Hash{whole, mirror}, allCropVariants, RepostRadius, false); err != nil {
		return nil, 0, err
	}
	if err := probe(crops, []int{0, neardup.MirrorVariant}, RepostRadius, false); err != nil {
		return nil, 0, err
	}
	// The regions around its faces, own, against the others' faces, own and mirrored.
	var faces []neardup.Hash
	for v := neardup.FaceVariant; v < len(hs); v += 2 {
		faces = append(faces, neardup.Hash(hs[v]))
	}
	faceVariants := make([]int, 2*neardup.MaxFaceRegions)
	for i := range faceVariants {
		faceVariants[i] = neardup.FaceVariant + i
	}
	if err := probe(faces, faceVariants, FaceRepostRadius, true); err != nil {
		return nil, 0, err
	}
	out := []Repost{}
	for other, d := range best {
		o, err := s.cfg.Catalog.Image(ctx, other)
		if err != nil || !a.mayRead(o.GalleryID) {
			continue // deleted since, or not the asker's
		}
		out = append(out, Repost{Image: o, Distance: d, ByFace: byFace[other]})
	}
	slices.SortFunc(out, func(x, y Repost) int {
		if x.Distance != y.Distance {
			return x.Distance - y.Distance
		}
		return int(x.Image.ID - y.Image.ID)
	})
	return out, img.GalleryID, nil
}

// HashReport is what HashStoredPhotos did.
type HashReport struct {
	Hashed int `json:"hashed"`
	Failed int `json:"failed"` // photos that could not be read or decoded (logged)
}

// HashStoredPhotos gives the photos stored before hashes were kept (schema version 5) their
// repost hashes, from their original bytes. A photo that cannot be read or decoded is logged
// and left without; the run is audited as images.hash.
func (s *Service) HashStoredPhotos(ctx context.Context, a Actor, progress func(HashReport)) (HashReport, error) {
	var rep HashReport
	var after int64
	for {
		imgs, err := s.cfg.Catalog.ImagesWithoutHashes(ctx, after, 100)
		if err != nil {
			return rep, err
		}
		for _, img := range imgs {
			after = img.ID
			hs, err := s.hashStored(ctx, img)
			if err != nil {
				if ctx.Err() != nil {
					return rep, ctx.Err()
				}
				rep.Failed++
				s.log.Warn("hashing a stored photo failed; it stays without repost hashes", "image", img.ID, "err", err)
				continue
			}
			if err := s.cfg.Catalog.SetImageHashes(ctx, img.ID, hs); err != nil {
				return rep, err
			}
			rep.Hashed++
			if progress != nil {
				progress(rep)
			}
		}
		if len(imgs) < 100 {
			break
		}
	}
	return rep, s.auditRead(ctx, entry(a, "images.hash", "", nil, "", fmt.Sprintf("hashed=%d failed=%d", rep.Hashed, rep.Failed)))
}

func (s *Service) hashStored(ctx context.Context, img Image) ([]uint64, error) {
	data, err := s.readBlob(ctx, img.BlobKey)
	if err != nil {
		return nil, err
	}
	// The photo was accepted once; limits may have tightened since, so decode without them.
	d, t, err := s.decodeAdmitted(ctx, decode.Limits{MaxBytes: int64(len(data)) + 1, MaxPixels: int64(img.Width*img.Height) + 1}, data, true)
	if err != nil {
		return nil, err
	}
	defer t.release()
	hs, err := neardup.Stored(d.img)
	if err != nil {
		return nil, err
	}
	faces, err := s.cfg.Catalog.Faces(ctx, img.ID)
	if err != nil {
		return nil, err
	}
	boxes := make([]neardup.Box, len(faces))
	for i, f := range faces {
		boxes[i] = neardup.Box{X: float64(f.Box.X), Y: float64(f.Box.Y), W: float64(f.Box.W), H: float64(f.Box.H)}
	}
	hs = append(hs, neardup.StoredFaces(d.img, boxes)...)
	out := make([]uint64, len(hs))
	for i, h := range hs {
		out[i] = uint64(h)
	}
	return out, nil
}
