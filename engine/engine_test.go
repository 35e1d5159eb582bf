package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/facematch/facematch/face"
	"github.com/facematch/facematch/face/facetest"
	"github.com/facematch/facematch/internal/testenv"
	"github.com/facematch/facematch/models"
	"github.com/facematch/facematch/models/decode"
)

// The rule tests run on face/facetest; the pipeline, accuracy and end-to-end tests run the
// real default models, loaded by the first test that asks for them (realPipeline), so the quick
// tier (-short) never opens ONNX Runtime. Its environment is process-wide: one runtime serves
// every test.
var realModels struct {
	once     sync.Once
	rt       *models.Runtime
	pipeline *Pipeline
	err      error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if realModels.rt != nil {
		realModels.rt.Close()
	}
	os.Exit(code)
}

// realPipeline is the pipeline on the real default models; the test is skipped in the quick
// tier and fails, naming what is missing, where scripts/setup has not run.
func realPipeline(t testing.TB) *Pipeline {
	t.Helper()
	testenv.RequireModels(t)
	realModels.once.Do(func() { realModels.rt, realModels.pipeline, realModels.err = openModels() })
	if realModels.err != nil {
		t.Fatal(realModels.err)
	}
	return realModels.pipeline
}

func openModels() (*models.Runtime, *Pipeline, error) {
	rt, err := models.Open(models.RuntimeConfig{Library: testenv.Library(), ModelDir: testenv.ModelDir(), Threads: 1})
	if err != nil {
		return nil, nil, err
	}
	det, err := rt.Detector(face.YuNetS, models.DetectorConfig{})
	if err != nil {
		rt.Close()
		return nil, nil, err
	}
	emb, err := rt.Embedder(DefaultRecognizer, models.RecognizerConfig{})
	if err != nil {
		rt.Close()
		return nil, nil, err
	}
	return rt, &Pipeline{Detector: det, Embedder: emb}, nil
}

// fakePipeline runs face/facetest's detector and embedder: faces drawn by facetest.Photo and
// facetest.Group, found and embedded without models.
func fakePipeline() *Pipeline {
	return &Pipeline{Detector: facetest.Detector{}, Embedder: facetest.Embedder{}}
}

func readData(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.Data(), rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestAnalyzeGroupPhoto(t *testing.T) {
	pipeline := realPipeline(t)
	a, err := pipeline.Analyze(context.Background(), readData(t, "group_photos/goface_pristin.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	if a.Image.Format != "jpeg" || len(a.Faces) != 10 {
		t.Fatalf("format %q, %d faces; want jpeg, 10", a.Image.Format, len(a.Faces))
	}
	for i, f := range a.Faces {
		if !f.Accepted() || f.Embedding == nil || f.Embedding.Model != pipeline.Embedder.Identity() {
			t.Errorf("face %d: rejected %v, embedding %v", i, f.Rejected, f.Embedding != nil)
		}
	}
}

// TestAnalyzeReportsRejectedFaces: the blurred background shape in vladmandic_sample1 is
// detected, reported with its reason, and not embedded.
func TestAnalyzeReportsRejectedFaces(t *testing.T) {
	pipeline := realPipeline(t)
	a, err := pipeline.Analyze(context.Background(), readData(t, "group_photos/vladmandic_sample1.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	accepted, rejected := 0, 0
	for _, f := range a.Faces {
		if f.Accepted() {
			accepted++
			continue
		}
		rejected++
		if f.Embedding != nil || len(f.Rejected) == 0 {
			t.Errorf("rejected face %+v has an embedding or no reason", f.Rejected)
		}
	}
	if accepted != 3 || rejected != 1 {
		t.Fatalf("accepted %d, rejected %d; want 3 and 1", accepted, rejected)
	}
}

func TestAnalyzeMisnamedWebP(t *testing.T) {
	pipeline := realPipeline(t)
	a, err := pipeline.Analyze(context.Background(), readData(t, "edge_cases/misnamed_webp_Scarlett_Johansson/img47.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	if a.Image.Format != "webp" || len(a.Faces) != 1 {
		t.Fatalf("format %q with %d faces, want webp with 1", a.Image.Format, len(a.Faces))
	}
}

func TestAnalyzeMirroredImageStillMatches(t *testing.T) {
	pipeline := realPipeline(t)
	ctx := context.Background()
	a, err := pipeline.Analyze(ctx, readData(t, "edge_cases/mirrored_Angelina_Jolie/img11.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := pipeline.Analyze(ctx, readData(t, "edge_cases/mirrored_Angelina_Jolie/img11_reflection.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	best, err := BestPair(a.Faces, b.Faces)
	if err != nil {
		t.Fatal(err)
	}
	if band := BandOf(best.Model, best.Similarity); band.Name != "high" {
		t.Fatalf("mirror image similarity %.3f is in band %q, want high", best.Similarity, band.Name)
	}
}

func encodePNG(t *testing.T, img image.Image) []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestAnalyzeBadInput: every hostile or broken upload gets a typed decode error, never a panic.
func TestAnalyzeBadInput(t *testing.T) {
	var jpg bytes.Buffer
	if err := jpeg.Encode(&jpg, image.NewGray(image.Rect(0, 0, 64, 64)), nil); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		data []byte
		lim  decode.Limits
		want error
	}{
		{"empty", nil, decode.Limits{}, decode.ErrEmpty},
		{"text named jpg", []byte("hello, this is not a photo\n"), decode.Limits{}, decode.ErrUnsupportedFormat},
		{"truncated jpeg", jpg.Bytes()[:jpg.Len()/2], decode.Limits{}, decode.ErrTruncated},
		{"over the byte limit", jpg.Bytes(), decode.Limits{MaxBytes: 100}, decode.ErrTooLarge},
		{"over the pixel limit", encodePNG(t, image.NewGray(image.Rect(0, 0, 300, 300))), decode.Limits{MaxPixels: 50_000}, decode.ErrTooManyPixels},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := *fakePipeline() // decoding fails before any model would run
			p.Limits = tc.lim
			_, err := p.Analyze(context.Background(), tc.data)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestAnalyzeBlankImageHasNoFace(t *testing.T) {
	pipeline := realPipeline(t)
	img := image.NewNRGBA(image.Rect(0, 0, 320, 240))
	for i := range img.Pix {
		img.Pix[i] = 200
	}
	a, err := pipeline.Analyze(context.Background(), encodePNG(t, img))
	if err != nil || len(a.Faces) != 0 {
		t.Fatalf("blank image: %v faces, err %v", a, err)
	}
}

func TestQualityGateReasons(t *testing.T) {
	g := DefaultQualityGate()
	good := Quality{Score: 0.9, Size: 40, Sharpness: 300, Frontalness: 0.9}
	tests := []struct {
		name string
		edit func(*Quality)
		want []string
	}{
		{"good face", func(*Quality) {}, nil},
		{"low score", func(q *Quality) { q.Score = 0.5 }, []string{RejectLowScore}},
		{"tiny", func(q *Quality) { q.Size = 5 }, []string{RejectTooSmall}},
		{"blurry", func(q *Quality) { q.Sharpness = 3 }, []string{RejectBlurry}},
		{"profile", func(q *Quality) { q.Frontalness = 0 }, []string{RejectNotFrontal}},
		{"tiny and blurry", func(q *Quality) { q.Size, q.Sharpness = 5, 3 }, []string{RejectTooSmall, RejectBlurry}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := good
			tc.edit(&q)
			got := g.reasons(q)
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("reasons = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestQualityGateValidate(t *testing.T) {
	if err := DefaultQualityGate().Validate(); err != nil {
		t.Fatal(err)
	}
	bad := QualityGate{MinScore: 2, MinFrontalness: -1, MaxFaces: -1}
	if err := bad.Validate(); err == nil {
		t.Fatal("invalid gate accepted")
	}
}

func TestMaxFacesCapsEmbedding(t *testing.T) {
	p := *fakePipeline()
	p.Gate = DefaultQualityGate()
	p.Gate.MaxFaces = 3
	a, err := p.Analyze(context.Background(), facetest.Group(1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10))
	if err != nil {
		t.Fatal(err)
	}
	embedded := 0
	for _, f := range a.Faces {
		if f.Embedding != nil {
			embedded++
		} else if f.Rejected[len(f.Rejected)-1] != RejectTooManyFace {
			t.Errorf("face without embedding has reasons %v", f.Rejected)
		}
	}
	if embedded != 3 || len(a.Faces) != 10 {
		t.Fatalf("embedded %d of %d faces, want 3 of 10", embedded, len(a.Faces))
	}
}

func testFace(box float32, score float32, model string, v ...float32) Face {
	f := Face{Detection: face.Detection{Score: score}, Quality: Quality{BoxSize: float64(box), Score: score}}
	if model != "" {
		f.Embedding = &face.Embedding{Model: model, Vector: v}
	}
	return f
}

func TestPrimaryAndBestPair(t *testing.T) {
	faces := []Face{testFace(50, 0.9, "m", 1, 0), testFace(80, 0.7, "m", 0, 1), testFace(80, 0.8, "m", 0.6, 0.8)}
	if got := Primary(faces); got != 2 {
		t.Fatalf("Primary = %d, want 2 (largest, then best score)", got)
	}
	if got := Primary(nil); got != -1 {
		t.Fatalf("Primary(nil) = %d", got)
	}
	probe := []Face{testFace(60, 0.9, "m", 0, 1)}
	best, err := BestPair(probe, faces)
	if err != nil || best.B != 1 || best.Similarity != 1 {
		t.Fatalf("BestPair = %+v, %v; want face 1 with similarity 1", best, err)
	}
	other := []Face{testFace(60, 0.9, "other", 0, 1)}
	if _, err := BestPair(other, faces); err == nil {
		t.Fatal("compared faces from two models")
	}
	rejected := testFace(60, 0.9, "m", 0, 1)
	rejected.Rejected = []string{RejectBlurry}
	if _, err := BestPair([]Face{rejected}, faces); !errors.Is(err, ErrNoFace) {
		t.Fatalf("rejected probe: %v, want ErrNoFace", err)
	}
}

func TestBandOf(t *testing.T) {
	id := face.FusedIdentity() // DefaultRecognizer's
	for _, tc := range []struct {
		model string
		sim   float32
		want  string
	}{
		{id, 0.99, "high"},
		{id, -0.2, "low"},
		{"unknown@123", 0.99, "uncalibrated"},
		{facetest.Embedder{}.Identity(), 0.99, "uncalibrated"},
	} {
		if got := BandOf(tc.model, tc.sim).Name; got != tc.want {
			t.Errorf("BandOf(%s, %.2f) = %s, want %s", tc.model, tc.sim, got, tc.want)
		}
	}
	if _, _, ok := BandLines(id); !ok {
		t.Errorf("no medium line for %s", id)
	}
	if _, _, ok := BandLines(facetest.Embedder{}.Identity()); ok {
		t.Error("a medium line for the fake model")
	}
}
