package facetest_test

import (
	"bytes"
	"context"
	"image/jpeg"
	"testing"

	"github.com/facematch/facematch/engine"
	"github.com/facematch/facematch/face"
	"github.com/facematch/facematch/face/facetest"
	"github.com/facematch/facematch/models/decode"
)

var pipeline = &engine.Pipeline{Detector: facetest.Detector{}, Embedder: facetest.Embedder{}}

// analyze runs the engine's pipeline over data and returns its accepted faces' vectors.
func analyze(t *testing.T, data []byte) []face.Embedding {
	t.Helper()
	a, err := pipeline.Analyze(context.Background(), data)
	if err != nil {
		t.Fatal(err)
	}
	var out []face.Embedding
	for _, f := range a.Faces {
		if !f.Accepted() {
			t.Fatalf("face %+v rejected: %v", f.Quality, f.Rejected)
		}
		out = append(out, *f.Embedding)
	}
	return out
}

func similarity(t *testing.T, a, b face.Embedding) float32 {
	t.Helper()
	s, err := a.Similarity(b)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestTheConventionHoldsThroughThePipeline(t *testing.T) {
	one := analyze(t, facetest.Photo(7, 1))
	if len(one) != 1 {
		t.Fatalf("one face drawn, %d found", len(one))
	}
	again := analyze(t, facetest.Photo(7, 1))
	if s := similarity(t, one[0], again[0]); s < 0.9999 {
		t.Errorf("the same bytes score %.4f, want 1", s)
	}
	if s := similarity(t, one[0], analyze(t, facetest.Photo(7, 2))[0]); s < 0.8 || s > 0.97 {
		t.Errorf("two photos of one person score %.3f, want about 0.89", s)
	}
	for _, other := range []int{1, 8, 63, 64, 511} {
		if s := similarity(t, one[0], analyze(t, facetest.Photo(other, 1))[0]); s > 0.5 {
			t.Errorf("persons 7 and %d score %.3f, want near 0", other, s)
		}
	}

	group := analyze(t, facetest.Group(3, 7, 0, 300))
	if len(group) != 2 {
		t.Fatalf("two faces and an empty cell drawn, %d faces found", len(group))
	}
	if s := similarity(t, group[0], one[0]); s < 0.8 {
		t.Errorf("person 7 in a group scores %.3f against their portrait", s)
	}

	// JPEG keeps the identity: the texture stays within the colour's bin.
	img, _, err := decode.Image(facetest.Photo(7, 5), decode.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 80}); err != nil {
		t.Fatal(err)
	}
	if s := similarity(t, analyze(t, buf.Bytes())[0], one[0]); s < 0.8 {
		t.Errorf("person 7 as a JPEG scores %.3f against their PNG", s)
	}

	if got := analyze(t, facetest.Group(1, 0)); len(got) != 0 {
		t.Errorf("a black image has %d faces, want none", len(got))
	}
}

func TestSmallFacesFailTheGate(t *testing.T) {
	a, err := pipeline.Analyze(context.Background(), facetest.EncodePNG(facetest.Draw(30, 1, 9)))
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Faces) != 1 || a.Faces[0].Accepted() || a.Faces[0].Embedding != nil {
		t.Fatalf("a face with eyes 9 px apart: %+v", a.Faces)
	}
}

func TestModelsDiffer(t *testing.T) {
	img, _, err := decode.Image(facetest.Photo(5, 1), decode.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	dets, err := facetest.Detector{}.Detect(context.Background(), img)
	if err != nil {
		t.Fatal(err)
	}
	a, err := facetest.Embedder{Name: "a"}.Embed(context.Background(), img, []face.Landmarks{dets[0].Landmarks})
	if err != nil {
		t.Fatal(err)
	}
	b, err := facetest.Embedder{Name: "b", Dimensions: 32}.Embed(context.Background(), img, []face.Landmarks{dets[0].Landmarks})
	if err != nil {
		t.Fatal(err)
	}
	if a[0].Model == b[0].Model || len(b[0].Vector) != 32 {
		t.Fatalf("models %q (%d-d) and %q (%d-d)", a[0].Model, len(a[0].Vector), b[0].Model, len(b[0].Vector))
	}
	if _, err := a[0].Similarity(b[0]); err == nil {
		t.Fatal("two fake models' vectors compared")
	}
}
