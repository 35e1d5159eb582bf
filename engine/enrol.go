package engine

import (
	"encoding/base64"
	"fmt"
	"math"
	"strings"
)

// FacePick says which face of a reference photo is its subject's: a reference photo of a
// wanted or missing person often shows other people, and a bystander attached to the subject
// would be searched as them. Set one of the two.
type FacePick struct {
	// Index is the face's position in the photo's analysis (faces by detector score, from 0),
	// as a 409 of an earlier upload of the same photo lists them.
	Index *int
	// Box is a box drawn around the face in original pixels: the detected face that overlaps
	// it most (at least minPickOverlap of intersection over union) is taken.
	Box *Box
}

// minPickOverlap is the least intersection over union between a drawn box and a detected face
// box for the drawing to pick the face: a loose box drawn by hand still picks its face, and a
// box between two faces picks neither.
const minPickOverlap = 0.3

// FaceOption is one face of a photo offered for a choice: what the uploader needs to say which
// is the subject.
type FaceOption struct {
	Index      int      `json:"index"`
	Box        Box      `json:"box"`
	Score      float32  `json:"score"`
	Rejections []string `json:"rejections,omitempty"` // why the quality gate refused it: it cannot be chosen
	Thumbnail  string   `json:"thumbnail"`            // data:image/jpeg;base64,…
}

// FaceChoiceError is the answer to a reference photo with several faces that passed the quality
// gate and no FacePick: nothing is stored, and the faces are listed to choose from. It is a
// conflict (409): the same request with a pick succeeds.
type FaceChoiceError struct {
	Faces    []FaceOption
	accepted int
}

func (e *FaceChoiceError) Error() string {
	return fmt.Sprintf("the photo shows %d faces that passed the quality gate: say which is the subject's (face: its index, or face_box: a box around it); nothing was stored", e.accepted)
}

func (e *FaceChoiceError) Unwrap() error { return ErrConflict }

// validate checks a pick before the photo is analysed.
func (p *FacePick) validate() error {
	switch {
	case p == nil:
		return nil
	case (p.Index == nil) == (p.Box == nil):
		return fmt.Errorf("give the face by its index or by a box, not both: %w", ErrInvalid)
	case p.Index != nil && *p.Index < 0:
		return fmt.Errorf("face must be an index from 0, got %d: %w", *p.Index, ErrInvalid)
	case p.Box != nil:
		b := *p.Box
		for _, v := range []float32{b.X, b.Y, b.W, b.H} {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return fmt.Errorf("face_box must be four finite numbers x,y,w,h: %w", ErrInvalid)
			}
		}
		if b.W <= 0 || b.H <= 0 {
			return fmt.Errorf("face_box must have a positive width and height, got %gx%g: %w", b.W, b.H, ErrInvalid)
		}
	}
	return nil
}

// subjectFace is the one face of an analysed reference photo that becomes its subject's. The
// other faces are not stored: they are not the subject, and a reference gallery holds only
// the people it is about.
func subjectFace(ph photo, pick *FacePick) (Face, error) {
	var accepted []int
	for i, f := range ph.faces {
		if f.Accepted() && f.Embedding != nil {
			accepted = append(accepted, i)
		}
	}
	i := -1
	switch {
	case pick == nil && len(accepted) == 1:
		i = accepted[0]
	case pick == nil && len(accepted) == 0:
		return Face{}, fmt.Errorf("no face in the photo passed the quality gate (%s): a reference photo needs one that can be matched; nothing was stored: %w",
			describeRejections(ph.faces), ErrInvalid)
	case pick == nil:
		return Face{}, faceChoice(ph, len(accepted))
	case pick.Index != nil:
		if *pick.Index >= len(ph.faces) {
			return Face{}, fmt.Errorf("face %d: the photo shows %d faces (0 to %d): %w", *pick.Index, len(ph.faces), len(ph.faces)-1, ErrInvalid)
		}
		i = *pick.Index
	default:
		best := 0.0
		for j, f := range ph.faces {
			if o := overlap(boxOf(f), *pick.Box); o > best {
				best, i = o, j
			}
		}
		if best < minPickOverlap {
			return Face{}, fmt.Errorf("face_box overlaps no detected face (best intersection over union %.2f, needs %.2f): %w", best, minPickOverlap, ErrInvalid)
		}
	}
	if f := ph.faces[i]; !f.Accepted() || f.Embedding == nil {
		return Face{}, fmt.Errorf("face %d did not pass the quality gate (%s): it cannot be matched; choose another face or another photo: %w",
			i, strings.Join(f.Rejected, ", "), ErrInvalid)
	}
	return ph.faces[i], nil
}

// faceChoice lists the photo's faces with thumbnails for the uploader to choose from.
func faceChoice(ph photo, accepted int) error {
	e := &FaceChoiceError{accepted: accepted}
	for i, f := range ph.faces {
		th, err := thumbnail(ph.img, boxOf(f))
		if err != nil {
			return err
		}
		e.Faces = append(e.Faces, FaceOption{Index: i, Box: boxOf(f), Score: f.Detection.Score, Rejections: f.Rejected,
			Thumbnail: "data:image/jpeg;base64," + base64.StdEncoding.EncodeToString(th)})
	}
	return e
}

func describeRejections(faces []Face) string {
	parts := make([]string, len(faces))
	for i, f := range faces {
		parts[i] = fmt.Sprintf("face %d: %s", i, strings.Join(f.Rejected, ", "))
	}
	return strings.Join(parts, "; ")
}

// overlap is the intersection over union of two boxes.
func overlap(a, b Box) float64 {
	w := math.Min(float64(a.X+a.W), float64(b.X+b.W)) - math.Max(float64(a.X), float64(b.X))
	h := math.Min(float64(a.Y+a.H), float64(b.Y+b.H)) - math.Max(float64(a.Y), float64(b.Y))
	if w <= 0 || h <= 0 {
		return 0
	}
	inter := w * h
	return inter / (float64(a.W*a.H) + float64(b.W*b.H) - inter)
}
