package engine_test

import (
	"context"
	"errors"
	"image"
	"image/color"
	"strings"
	"testing"

	"github.com/facematch/facematch/engine"
	"github.com/facematch/facematch/face/facetest"
)

// blurredSecondFace is a photo of two people where the second face is flat colour: the
// quality gate refuses it as blurry.
func blurredSecondFace(first, second int) []byte {
	img := facetest.Draw(facetest.Side, 1, first, second)
	flat := facetest.Draw(1, 1, second).NRGBAAt(0, 0)
	flat.R, flat.G, flat.B = flat.R&^31|16, flat.G&^31|16, flat.B&^31|16 // the middle of its colour's bin
	for y := 0; y < facetest.Side; y++ {
		for x := facetest.Side; x < 2*facetest.Side; x++ {
			img.SetNRGBA(x, y, color.NRGBA{R: flat.R, G: flat.G, B: flat.B, A: 255})
		}
	}
	return facetest.EncodePNG(img)
}

// TestReferencePhotoKeepsTheSubjectsFaceOnly: a reference photo with bystanders attaches the
// face the uploader picks and nothing else; without a pick it is refused, listing the faces;
// a refused face is never attached.
func TestReferencePhotoKeepsTheSubjectsFaceOnly(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, fakePipeline())
	ref, err := f.svc.CreateGallery(ctx, admin, "wanted", engine.Reference, "")
	if err != nil {
		t.Fatal(err)
	}
	subject, err := f.svc.CreateSubject(ctx, admin, engine.Subject{GalleryID: ref.ID, Name: "Ada"})
	if err != nil {
		t.Fatal(err)
	}
	const ada, bystander = 73, 146
	group := facetest.Group(1, bystander, ada)
	upload := func(data []byte, pick *engine.FacePick) (engine.Enrolled, error) {
		return f.svc.AddImage(ctx, analyst, engine.Upload{GalleryID: ref.ID, SubjectID: &subject.ID, Data: data, Face: pick})
	}
	index := func(i int) *engine.FacePick { return &engine.FacePick{Index: &i} }

	_, err = upload(group, nil)
	var choice *engine.FaceChoiceError
	if !errors.As(err, &choice) || !errors.Is(err, engine.ErrConflict) || len(choice.Faces) != 2 {
		t.Fatalf("two faces, no pick: %v, want a FaceChoiceError listing both", err)
	}
	for i, o := range choice.Faces {
		if o.Index != i || o.Box.W <= 0 || !strings.HasPrefix(o.Thumbnail, "data:image/jpeg;base64,") || len(o.Rejections) != 0 {
			t.Errorf("option %d: %+v", i, o)
		}
	}
	if g, _ := f.svc.Gallery(ctx, admin, ref.ID); g.Images != 0 {
		t.Fatalf("a refused upload stored %d images", g.Images)
	}

	refused := []struct {
		name string
		data []byte
		pick *engine.FacePick
		want string
	}{
		{"index past the faces", group, index(2), "face 2: the photo shows 2 faces (0 to 1)"},
		{"negative index", group, index(-1), "face must be an index from 0"},
		{"index and box", group, &engine.FacePick{Index: new(int), Box: &engine.Box{W: 1, H: 1}}, "not both"},
		{"box between the faces", group, &engine.FacePick{Box: &engine.Box{X: 100, Y: 0, W: 120, H: 160}}, "overlaps no detected face"},
		{"empty box", group, &engine.FacePick{Box: &engine.Box{X: 10, Y: 10}}, "positive width and height"},
		{"blurred face picked", blurredSecondFace(ada, bystander), index(1), "face 1 did not pass the quality gate (blurry)"},
		{"only a blurred face", blurredSecondFace(0, bystander), nil, "no face in the photo passed the quality gate (face 0: blurry)"},
		{"no face at all", facetest.EncodePNG(image.NewNRGBA(image.Rect(0, 0, 8, 8))), nil, "no face"},
	}
	for _, tc := range refused {
		if _, err := upload(tc.data, tc.pick); !errors.Is(err, engine.ErrInvalid) && !errors.Is(err, engine.ErrNoFace) || err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an invalid request saying %q", tc.name, err, tc.want)
		}
	}

	// One accepted face beside a refused one: the accepted one is taken, the refused one dropped.
	e, err := upload(blurredSecondFace(ada, bystander), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Faces) != 1 || !e.Faces[0].Accepted() || e.Faces[0].SubjectID == nil || *e.Faces[0].SubjectID != subject.ID {
		t.Fatalf("one accepted face beside a blurred one: %+v", e.Faces)
	}

	// Picked by index, and by a box drawn loosely around Ada (the second cell).
	byIndex, err := upload(group, index(1))
	if err != nil {
		t.Fatal(err)
	}
	byBox, err := upload(facetest.Group(2, bystander, ada), &engine.FacePick{Box: &engine.Box{X: 170, Y: 5, W: 150, H: 150}})
	if err != nil {
		t.Fatal(err)
	}
	for name, e := range map[string]engine.Enrolled{"index": byIndex, "box": byBox} {
		if len(e.Faces) != 1 || e.Faces[0].Box.X < facetest.Side {
			t.Fatalf("picked by %s: %+v, want Ada's face alone", name, e.Faces)
		}
	}

	// A search for Ada finds her; a search for the bystander finds nobody in the gallery.
	res, err := f.svc.Search(ctx, analyst, engine.SearchRequest{Data: facetest.Photo(ada, 9), Galleries: []int64{ref.ID}, Purpose: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Faces) != 1 || len(res.Faces[0].Candidates) == 0 || res.Faces[0].Candidates[0].SubjectID == nil {
		t.Fatalf("search for Ada: %+v", res.Faces)
	}
	res, err = f.svc.Search(ctx, analyst, engine.SearchRequest{Data: facetest.Photo(bystander, 9), Galleries: []int64{ref.ID}, Purpose: "test", MinSim: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Faces) != 1 || len(res.Faces[0].Candidates) != 0 {
		t.Fatalf("the bystander was attached: %+v", res.Faces[0].Candidates)
	}

	// A collection keeps every face and takes no pick.
	ads, err := f.svc.CreateGallery(ctx, admin, "ads", engine.Collection, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.AddImage(ctx, analyst, engine.Upload{GalleryID: ads.ID, Data: group, Face: index(0)}); !errors.Is(err, engine.ErrInvalid) {
		t.Errorf("a pick in a collection: %v, want invalid", err)
	}
	all, err := f.svc.AddImage(ctx, analyst, engine.Upload{GalleryID: ads.ID, Data: group})
	if err != nil || len(all.Faces) != 2 {
		t.Fatalf("a collection photo of two: %+v, %v", all.Faces, err)
	}
}
