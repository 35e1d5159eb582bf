package models

import (
	"context"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"testing"

	"github.com/disintegration/imaging"
	"github.com/facematch/facematch/internal/testenv"
)

// rt is shared by every test in the package: ONNX Runtime's environment is process-wide.
var rt *Runtime

func TestMain(m *testing.M) {
	if err := testenv.Check(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var err error
	rt, err = Open(RuntimeConfig{Library: testenv.Library(), ModelDir: testenv.ModelDir()})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	rt.Close()
	os.Exit(code)
}

func loadPhoto(t testing.TB, rel string) *image.NRGBA {
	t.Helper()
	img, err := imaging.Open(filepath.Join(testenv.Data(), rel))
	if err != nil {
		t.Fatal(err)
	}
	return imaging.Clone(img)
}

func TestSmoke(t *testing.T) {
	ctx := context.Background()
	det, err := rt.Detector(YuNetS, DetectorConfig{})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := rt.Recognizer(Faceplugin512, RecognizerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"lfw/Abel_Pacheco/Abel_Pacheco_0001.jpg", "lfw/Abel_Pacheco/Abel_Pacheco_0004.jpg", "lfw/Dean_Barker/Dean_Barker_0001.jpg", "group_photos/goface_pristin.jpg"} {
		img := loadPhoto(t, p)
		dets, err := det.Detect(ctx, img)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d faces; first %+v", p, len(dets), dets[0])
		embs, err := rec.Embed(ctx, img, []Landmarks{dets[0].Landmarks})
		if err != nil {
			t.Fatal(err)
		}
		t.Log(embs[0].Vector[:4])
	}
}
