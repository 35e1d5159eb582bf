package models

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"image"
	"image/color"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/disintegration/imaging"

	"github.com/facematch/facematch/face"
	"github.com/facematch/facematch/internal/testenv"
	"github.com/facematch/facematch/models/agegender"
	"github.com/facematch/facematch/models/tfjs"
)

// ageDump makes TestAgeGenderMatchesTFJS write its inputs for models/testdata/age_gender_tfjs.mjs
// instead of checking them (see that script for the one-off regeneration of the golden file).
var ageDump = flag.String("age.dump", "", "write the age model's golden inputs (CHW float32) to this directory and stop")

// faceAPIDir is where scripts/setup keeps the age model's TensorFlow.js weights.
func faceAPIDir() string { return filepath.Join(testenv.Assets(), "tfjs", "faceapi-1.7.15") }

const ageManifestFile = "age_gender_model-weights_manifest.json"

// requireAgeModel skips t, naming what is missing, when scripts/setup has not yet installed the
// age model or its TensorFlow.js weights (asset directories made before issue 16 lack them).
func requireAgeModel(t testing.TB) {
	t.Helper()
	testenv.RequireModels(t)
	for _, p := range []string{filepath.Join(testenv.ModelDir(), face.Builtin[face.AgeGenderFaceAPI].File), filepath.Join(faceAPIDir(), ageManifestFile)} {
		if _, err := os.Stat(p); err != nil {
			t.Skipf("age model not installed (%v): run scripts/setup", err)
		}
	}
}

func ageEstimator(t testing.TB, cfg AgeConfig) *AgeEstimator {
	t.Helper()
	requireAgeModel(t)
	a, err := openRT(t).AgeEstimator(face.AgeGenderFaceAPI, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// referenceNet is the pure-Go AgeGenderNet on the installed TensorFlow.js weights.
func referenceNet(t testing.TB) *agegender.Net {
	t.Helper()
	w, err := tfjs.Load(os.DirFS(faceAPIDir()), ageManifestFile)
	if err != nil {
		t.Fatal(err)
	}
	n, err := agegender.New(w)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// goldenInput is one 112×112 crop of the golden file: whole pixel values, so the same crop
// feeds the ONNX model through EstimateCrops and the reference through its CHW floats.
type goldenInput struct {
	name string
	crop *image.NRGBA
}

// goldenInputs rebuilds the golden file's inputs: a constant grey, seeded noise and four
// UTKFace chips (4, 16, 23 and 70 years old) scaled to 112 with imaging's Linear filter.
func goldenInputs(t testing.TB) []goldenInput {
	t.Helper()
	grey := image.NewNRGBA(image.Rect(0, 0, 112, 112))
	noise := image.NewNRGBA(image.Rect(0, 0, 112, 112))
	rng := rand.New(rand.NewPCG(16, 112))
	for i := 0; i < len(grey.Pix); i += 4 {
		copy(grey.Pix[i:], []uint8{128, 128, 128, 255})
		copy(noise.Pix[i:], []uint8{uint8(rng.IntN(256)), uint8(rng.IntN(256)), uint8(rng.IntN(256)), 255})
	}
	out := []goldenInput{{"constant128", grey}, {"noise_pcg16", noise}}
	for _, f := range []string{
		"4_1_0_20161219153720476.jpg.chip.jpg",
		"16_0_0_20170104003740977.jpg.chip.jpg",
		"23_1_0_20170103180412080.jpg.chip.jpg",
		"70_0_0_20170111200516733.jpg.chip.jpg",
	} {
		img := loadPhoto(t, filepath.Join("utkface", f))
		out = append(out, goldenInput{"utkface_" + strings.TrimSuffix(f, ".jpg.chip.jpg"), imaging.Resize(img, 112, 112, imaging.Linear)})
	}
	return out
}

// chw is the crop as the ONNX model's input holds it: raw RGB, channels first.
func chw(crop *image.NRGBA) []float32 {
	v := make([]float32, 3*112*112)
	fillTensor(v, crop, face.RGB, [3]float32{}, 1)
	return v
}

func floatBytes(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, f := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(f))
	}
	return b
}

type goldenFile struct {
	Generator string `json:"generator"`
	TFJS      string `json:"tfjs"`
	Backend   string `json:"backend"`
	FaceAPI   string `json:"faceapi"`
	Inputs    []struct {
		Name        string  `json:"name"`
		InputSHA256 string  `json:"input_sha256"`
		Age         float64 `json:"age"`
		Male        float64 `json:"male"`
		Female      float64 `json:"female"`
	} `json:"inputs"`
}

// relDiff is |a−b| relative to |b|, or absolute below 1.
func relDiff(a, b float64) float64 { return math.Abs(a-b) / math.Max(1, math.Abs(b)) }

// TestAgeGenderMatchesTFJS checks the chain original → reference → ONNX on six fixed inputs:
// the pure-Go reference forward pass against the outputs TensorFlow.js 4.22 (CPU backend)
// computed with face-api's own code (models/testdata/age_gender_tfjs.json), then the
// installed ONNX model in ONNX Runtime against the reference.
func TestAgeGenderMatchesTFJS(t *testing.T) {
	requireAgeModel(t)
	inputs := goldenInputs(t)
	if *ageDump != "" {
		var list bytes.Buffer
		for _, in := range inputs {
			if err := os.WriteFile(filepath.Join(*ageDump, in.name+".f32"), floatBytes(chw(in.crop)), 0o644); err != nil {
				t.Fatal(err)
			}
			list.WriteString(in.name + "\n")
		}
		if err := os.WriteFile(filepath.Join(*ageDump, "inputs.txt"), list.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Skipf("wrote %d inputs to %s; now run models/testdata/age_gender_tfjs.mjs", len(inputs), *ageDump)
	}
	data, err := os.ReadFile(filepath.Join("testdata", "age_gender_tfjs.json"))
	if err != nil {
		t.Fatal(err)
	}
	var golden goldenFile
	if err := json.Unmarshal(data, &golden); err != nil {
		t.Fatal(err)
	}
	if len(golden.Inputs) != len(inputs) {
		t.Fatalf("golden file has %d inputs, the test makes %d", len(golden.Inputs), len(inputs))
	}
	net := referenceNet(t)
	crops := make([]*image.NRGBA, len(inputs))
	for i, in := range inputs {
		crops[i] = in.crop
	}
	// One batch of six through ONNX Runtime: the batch dimension is symbolic.
	onnx, err := ageEstimator(t, AgeConfig{}).EstimateCrops(context.Background(), crops)
	if err != nil {
		t.Fatal(err)
	}
	var tfjsAbs, tfjsRel, ortAbs, ortRel float64
	for i, in := range inputs {
		g := golden.Inputs[i]
		x := chw(in.crop)
		sum := sha256.Sum256(floatBytes(x))
		if g.Name != in.name || g.InputSHA256 != hex.EncodeToString(sum[:]) {
			t.Fatalf("input %d (%s) is not the one TensorFlow.js saw (golden %s, sha256 %s): regenerate the golden file (models/testdata/age_gender_tfjs.mjs)", i, in.name, g.Name, g.InputSHA256)
		}
		ref, err := net.Forward(x)
		if err != nil {
			t.Fatal(err)
		}
		got := [3]float64{float64(ref.Age), float64(ref.Male), float64(ref.Female)}
		ort := [3]float64{float64(onnx[i].Age), float64(onnx[i].Male), float64(onnx[i].Female)}
		for j, want := range [3]float64{g.Age, g.Male, g.Female} {
			tfjsAbs = math.Max(tfjsAbs, math.Abs(got[j]-want))
			tfjsRel = math.Max(tfjsRel, relDiff(got[j], want))
			ortAbs = math.Max(ortAbs, math.Abs(ort[j]-got[j]))
			ortRel = math.Max(ortRel, relDiff(ort[j], got[j]))
			if relDiff(got[j], want) > 1e-3 {
				t.Errorf("%s: reference output %d = %v, TensorFlow.js %v", in.name, j, got[j], want)
			}
			if relDiff(ort[j], got[j]) > 1e-4 {
				t.Errorf("%s: ONNX Runtime output %d = %v, reference %v", in.name, j, ort[j], got[j])
			}
		}
		t.Logf("%-34s age %6.3f male %.4f (TensorFlow.js %6.3f %.4f)", in.name, ref.Age, ref.Male, g.Age, g.Male)
	}
	t.Logf("reference vs TensorFlow.js: max abs %.2g, max rel %.2g; ONNX Runtime vs reference: max abs %.2g, max rel %.2g", tfjsAbs, tfjsRel, ortAbs, ortRel)
}

// TestAgeModelIsReproducible converts the installed TensorFlow.js weights twice: the bytes are
// the same and their sha256 is the one face.Builtin (and scripts/setup) pins.
func TestAgeModelIsReproducible(t *testing.T) {
	requireAgeModel(t)
	manifest, err := os.ReadFile(filepath.Join(faceAPIDir(), ageManifestFile))
	if err != nil {
		t.Fatal(err)
	}
	a, err := agegender.Convert(manifest, os.DirFS(faceAPIDir()), agegender.Source)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := agegender.Convert(manifest, os.DirFS(faceAPIDir()), agegender.Source)
	if !bytes.Equal(a, b) {
		t.Fatal("two conversions differ")
	}
	sum := sha256.Sum256(a)
	if got, want := hex.EncodeToString(sum[:]), face.Builtin[face.AgeGenderFaceAPI].SHA256; got != want {
		t.Fatalf("converted model has sha256 %s, face.Builtin pins %s: update the pin here and in scripts/setup if the change is intended", got, want)
	}
}

// TestAgeOnUTKFaceSample is a quality floor on every 20th UTKFace photo (98 faces): YuNet's
// box, face-api's crop, then mean absolute error and gender accuracy. The model was trained
// on part of UTKFace, so this guards the pipeline (crop, colour order, normalisation), not the
// model's accuracy on unseen faces. Measured: MAE 4.6 years, gender 88.8%.
func TestAgeOnUTKFaceSample(t *testing.T) {
	est := ageEstimator(t, AgeConfig{})
	det := detector(t, face.YuNetS)
	f, err := os.Open(filepath.Join(testenv.Data(), "utkface", "labels.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	var n, male, correct int
	var absErr float64
	for i := 0; sc.Scan(); i++ {
		if i%20 != 0 {
			continue
		}
		fields := strings.Split(sc.Text(), "\t")
		age, err1 := strconv.Atoi(fields[1])
		gender, err2 := strconv.Atoi(fields[2])
		if err := errors.Join(err1, err2); err != nil {
			t.Fatalf("labels.tsv: %q: %v", sc.Text(), err)
		}
		img := loadPhoto(t, filepath.Join("utkface", fields[0]))
		dets, err := det.Detect(context.Background(), img)
		if err != nil || len(dets) == 0 {
			t.Fatalf("%s: no face (%v)", fields[0], err)
		}
		ag, err := est.Estimate(context.Background(), img, BoxRect(dets[0].Box))
		if err != nil {
			t.Fatal(err)
		}
		n++
		absErr += math.Abs(float64(ag.Age) - float64(age))
		if (ag.Male > 0.5) == (gender == 0) {
			correct++
		}
		if gender == 0 {
			male++
		}
	}
	mae, acc := absErr/float64(n), float64(correct)/float64(n)
	t.Logf("%d faces (%d male): MAE %.2f years, gender accuracy %.3f", n, male, mae, acc)
	if n < 90 || mae > 5.5 || acc < 0.85 {
		t.Errorf("%d faces: MAE %.2f years (want <= 5.5), gender accuracy %.3f (want >= 0.85)", n, mae, acc)
	}
}

func TestAgeEstimateBatchEqualsSingle(t *testing.T) {
	est := ageEstimator(t, AgeConfig{BatchSize: 2})
	img := loadPhoto(t, "group_photos/vladmandic_sample1.jpg")
	dets, err := detector(t, face.YuNetS).Detect(context.Background(), img)
	if err != nil || len(dets) < 3 {
		t.Fatalf("want 3+ faces, got %d (%v)", len(dets), err)
	}
	boxes := make([]image.Rectangle, len(dets))
	for i, d := range dets {
		boxes[i] = BoxRect(d.Box)
	}
	all, err := est.EstimateBatch(context.Background(), img, boxes)
	if err != nil {
		t.Fatal(err)
	}
	ages, err := est.ApparentAges(context.Background(), img, dets)
	if err != nil || len(ages) != len(all) {
		t.Fatalf("ApparentAges: %d ages, %v", len(ages), err)
	}
	for i, b := range boxes {
		one, err := est.Estimate(context.Background(), img, b)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(float64(one.Age-all[i].Age)) > 1e-3 || math.Abs(float64(one.Male-all[i].Male)) > 1e-4 {
			t.Errorf("face %d: alone %+v, in a batch %+v", i, one, all[i])
		}
		if s := one.Male + one.Female; math.Abs(float64(s)-1) > 1e-5 {
			t.Errorf("face %d: probabilities sum to %v", i, s)
		}
		if ages[i] != all[i].Age {
			t.Errorf("face %d: ApparentAges says %v, EstimateBatch %v", i, ages[i], all[i].Age)
		}
	}
	if _, err := est.Estimate(context.Background(), img, image.Rect(-50, -50, -10, -10)); !errors.Is(err, ErrEmptyBox) {
		t.Errorf("a box outside the image: %v, want ErrEmptyBox", err)
	}
	if _, err := openRT(t).AgeEstimator(face.YuNetS, AgeConfig{}); !errors.Is(err, ErrUnknownModel) {
		t.Errorf("a detector as age model: %v, want ErrUnknownModel", err)
	}
	if id, want := est.Identity(), face.Builtin[face.AgeGenderFaceAPI].Identity(); id != want {
		t.Errorf("Identity() = %q, want %q", id, want)
	}
	if id := ageEstimator(t, AgeConfig{Margin: 0.2}).Identity(); !strings.HasSuffix(id, "+margin0.2") {
		t.Errorf("Identity() with a margin = %q", id)
	}
}

// TestAgeCrop checks face-api's crop rule on a small synthetic image: clipping, the black
// padding's split, and the margin.
func TestAgeCrop(t *testing.T) {
	src := image.NewNRGBA(image.Rect(0, 0, 300, 200))
	for i := 0; i < len(src.Pix); i += 4 {
		copy(src.Pix[i:], []uint8{200, 100, 50, 255})
	}
	black := color.NRGBA{0, 0, 0, 255}
	skin := color.NRGBA{200, 100, 50, 255}
	for _, tc := range []struct {
		name   string
		box    image.Rectangle
		margin float64
		// expected colour at a few points of the 112×112 crop
		at map[image.Point]color.NRGBA
	}{
		// 109 wide, 112 tall (no resize): 3 columns of padding, 2 after (round(1.5)) and 1 before.
		{"odd padding", image.Rect(10, 10, 119, 122), 0, map[image.Point]color.NRGBA{
			{0, 50}: black, {1, 50}: skin, {109, 50}: skin, {110, 50}: black, {111, 50}: black}},
		// Clipped at the top-left corner to 50×100: padding on both sides of the width.
		{"clipped", image.Rect(-50, -100, 50, 100), 0, map[image.Point]color.NRGBA{{0, 56}: black, {111, 56}: black, {56, 56}: skin}},
		// A square box that fits: no padding at all.
		{"square", image.Rect(100, 50, 212, 162), 0, map[image.Point]color.NRGBA{{0, 0}: skin, {111, 111}: skin}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			crop, err := AgeCrop(src, tc.box, tc.margin)
			if err != nil {
				t.Fatal(err)
			}
			if crop.Rect != image.Rect(0, 0, 112, 112) {
				t.Fatalf("crop is %v", crop.Rect)
			}
			for p, want := range tc.at {
				if got := crop.NRGBAAt(p.X, p.Y); got != want {
					t.Errorf("at %v: %v, want %v", p, got, want)
				}
			}
			// Any image type gives the same crop.
			rgba := image.NewRGBA(src.Rect)
			copy(rgba.Pix, src.Pix)
			other, err := AgeCrop(rgba, tc.box, tc.margin)
			if err != nil || !bytes.Equal(other.Pix, crop.Pix) {
				t.Errorf("an RGBA source gives another crop (%v)", err)
			}
		})
	}
	if _, err := AgeCrop(src, image.Rect(400, 0, 500, 100), 0); !errors.Is(err, ErrEmptyBox) {
		t.Errorf("a box beside the image: %v, want ErrEmptyBox", err)
	}
}

func TestAgeConfigValidate(t *testing.T) {
	err := AgeConfig{BatchSize: -1, Margin: 3, Threads: -2}.Validate()
	for _, want := range []string{"BatchSize", "Margin", "Threads"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want it to name %s", err, want)
		}
	}
	if err := (AgeConfig{Margin: 0.2}).Validate(); err != nil {
		t.Errorf("a valid config: %v", err)
	}
}

func TestAgeCropMargin(t *testing.T) {
	src := image.NewNRGBA(image.Rect(0, 0, 300, 200))
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range src.Pix {
		src.Pix[i] = uint8(rng.IntN(256))
	}
	// Margin 1 doubles the 100×50 box around its centre: 50 px more on the left and right,
	// 25 above and below.
	grown, err := AgeCrop(src, image.Rect(100, 100, 200, 150), 1)
	if err != nil {
		t.Fatal(err)
	}
	same, err := AgeCrop(src, image.Rect(50, 75, 250, 175), 0)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(grown.Pix, same.Pix) {
		t.Fatal("margin 1 is not the box doubled around its centre")
	}
}
