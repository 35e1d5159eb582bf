package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"
	"testing"

	"github.com/facematch/facematch/internal/testenv"
)

// The tests run commands in-process, on the real models and the shared photos.
//
// Every model command opens and closes the process-wide ONNX Runtime environment
// (models.Open refuses a second live Runtime), so no test here may call t.Parallel.
// Opening again after a Close works with onnxruntime_go v1.27.0: DestroyEnvironment
// releases the env and dlcloses the library, and InitializeEnvironment loads it afresh.

// result is what one in-process run left behind.
type result struct {
	stdout, stderr string
	err            error
}

func (r result) String() string {
	return fmt.Sprintf("err: %v\nstdout:\n%s\nstderr:\n%s", r.err, r.stdout, r.stderr)
}

// run runs the command line args in-process. A panic fails the test with its stack
// instead of killing the test binary.
func run(t *testing.T, args ...string) (r result) {
	t.Helper()
	var out, errb bytes.Buffer
	m := &Main{Stdout: &out, Stderr: &errb, Getenv: func(k string) string {
		if k == "FACEMATCH_ASSETS" {
			return testenv.Assets()
		}
		return ""
	}}
	defer func() {
		if p := recover(); p != nil {
			t.Fatalf("facematch %s panicked: %v\n%s", strings.Join(args, " "), p, debug.Stack())
		}
	}()
	err := m.Run(t.Context(), args)
	return result{stdout: out.String(), stderr: errb.String(), err: err}
}

// data is a path under the shared photo directory.
func data(elem ...string) string {
	return filepath.Join(append([]string{testenv.Data()}, elem...)...)
}

// writeFile writes a scratch file under a fresh temporary directory and returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// decodeOne decodes stdout as exactly one JSON object.
func decodeOne(t *testing.T, stdout string) map[string]any {
	t.Helper()
	objs := decodeAll(t, stdout)
	if len(objs) != 1 {
		t.Fatalf("stdout holds %d JSON values, want 1:\n%s", len(objs), stdout)
	}
	return objs[0]
}

// decodeAll decodes stdout as a stream of JSON objects.
func decodeAll(t *testing.T, stdout string) []map[string]any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(stdout))
	var objs []map[string]any
	for dec.More() {
		var v map[string]any
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("stdout is not a stream of JSON objects: %v\n%s", err, stdout)
		}
		objs = append(objs, v)
	}
	return objs
}

// number returns obj[key] as a float64, failing when it is absent or not a number.
func number(t *testing.T, obj map[string]any, key string) float64 {
	t.Helper()
	v, ok := obj[key]
	if !ok {
		t.Fatalf("key %q missing in %v", key, obj)
	}
	f, ok := v.(float64)
	if !ok {
		t.Fatalf("key %q = %v (%T), want a number", key, v, v)
	}
	return f
}

// noVectors fails when v holds anything that looks like an embedding: a key naming one,
// or a numeric array longer than the 5 landmarks a face legitimately has.
func noVectors(t *testing.T, path string, v any) {
	t.Helper()
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			if l := strings.ToLower(k); strings.Contains(l, "embedding") || strings.Contains(l, "vector") {
				t.Errorf("%s.%s: the JSON carries an embedding", path, k)
			}
			noVectors(t, path+"."+k, e)
		}
	case []any:
		if len(v) > 5 && slices.ContainsFunc(v, func(e any) bool { _, ok := e.(float64); return ok }) {
			t.Errorf("%s: numeric array of %d values looks like an embedding", path, len(v))
		}
		for i, e := range v {
			noVectors(t, fmt.Sprintf("%s[%d]", path, i), e)
		}
	}
}

// test is one command-line case. wantCode is the process exit status main would use;
// wantErr, when set, must appear in the error's text; check looks at the rest.
type test struct {
	name     string
	args     []string
	wantCode int
	wantErr  string
	check    func(t *testing.T, r result)
}

func runTests(t *testing.T, tests []test) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, tt.args...)
			code := 0
			if r.err != nil {
				code = exitCode(r.err)
			}
			if code != tt.wantCode {
				t.Fatalf("exit code %d, want %d\n%v", code, tt.wantCode, r)
			}
			if tt.wantErr != "" && !strings.Contains(r.err.Error(), tt.wantErr) {
				t.Errorf("error %q, want it to contain %q", r.err, tt.wantErr)
			}
			if tt.check != nil {
				tt.check(t, r)
			}
		})
	}
}

// usageOn returns a check that the usage text containing want went to stderr and
// nothing to stdout.
func usageOn(want string) func(*testing.T, result) {
	return func(t *testing.T, r result) {
		t.Helper()
		if !errors.Is(r.err, errUsage) {
			t.Errorf("err = %v, want errUsage", r.err)
		}
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr does not contain %q:\n%s", want, r.stderr)
		}
		if r.stdout != "" {
			t.Errorf("stdout = %q, want nothing", r.stdout)
		}
	}
}

// nothingOut checks that a command refused before doing any work printed nothing.
func nothingOut(t *testing.T, r result) {
	t.Helper()
	if r.stdout != "" {
		t.Errorf("stdout = %q, want nothing", r.stdout)
	}
}

// TestUsage covers the command lines refused before any model is loaded.
func TestUsage(t *testing.T) {
	runTests(t, []test{
		{name: "no args", args: nil, wantCode: 2, check: usageOn("Usage:")},
		{name: "unknown command", args: []string{"frobnicate"}, wantCode: 2,
			check: usageOn(`unknown command "frobnicate"`)},
		{name: "help", args: []string{"help"}, check: func(t *testing.T, r result) {
			if !strings.Contains(r.stdout, "facematch detect") {
				t.Errorf("help printed %q, want the usage text", r.stdout)
			}
		}},
		{name: "detect without images", args: []string{"detect"}, wantCode: 2,
			check: usageOn("usage: facematch detect")},
		{name: "detect --json without images", args: []string{"detect", "--json"}, wantCode: 2,
			check: usageOn("usage: facematch detect")},
		{name: "detect unknown flag", args: []string{"detect", "--nope", "x.jpg"}, wantCode: 2,
			check: usageOn("flag provided but not defined: -nope")},
		{name: "detect unparsable threads", args: []string{"detect", "--threads", "many", "x.jpg"}, wantCode: 2,
			check: usageOn(`invalid value "many" for flag -threads`)},
		{name: "compare one image", args: []string{"compare", "a.jpg"}, wantCode: 2,
			check: usageOn("usage: facematch compare")},
		{name: "eval without subcommand", args: []string{"eval"}, wantCode: 2, check: usageOn("Usage:")},
		{name: "eval unknown subcommand", args: []string{"eval", "recognize"}, wantCode: 2, check: usageOn("Usage:")},
		{name: "eval identify without probes", args: []string{"eval", "identify", "--gallery", data("celebs")}, wantCode: 2,
			check: usageOn("usage: facematch eval identify")},
		{name: "eval verify without pairs", args: []string{"eval", "verify", "--root", data("celebs")}, wantCode: 2,
			check: usageOn("usage: facematch eval verify")},
		{name: "eval verify without root", args: []string{"eval", "verify", "--pairs", data("celebs", "pairs.tsv")}, wantCode: 2,
			check: usageOn("usage: facematch eval verify")},
	})
}

// TestInvalidConfig covers flag values that parse but that Config.Validate refuses: a plain
// error (exit 1) naming every problem, before ONNX Runtime is touched.
func TestInvalidConfig(t *testing.T) {
	img := data("lfw", "Abel_Pacheco", "Abel_Pacheco_0001.jpg")
	runTests(t, []test{
		{name: "unknown recognizer", args: []string{"detect", "--recognizer", "nope", img}, wantCode: 1,
			wantErr: `unknown recognizer "nope"`, check: nothingOut},
		{name: "unknown detector", args: []string{"compare", "--detector", "haar", img, img}, wantCode: 1,
			wantErr: `unknown detector "haar"`, check: nothingOut},
		{name: "negative threads", args: []string{"detect", "--threads", "-1", img}, wantCode: 1,
			wantErr: "threads must be >= 0, got -1", check: nothingOut},
		{name: "every problem at once", args: []string{"detect", "--recognizer", "nope", "--threads", "-1", "--max-bytes", "0", img},
			wantCode: 1, check: func(t *testing.T, r result) {
				for _, want := range []string{`unknown recognizer "nope"`, "threads must be >= 0", "max-bytes and max-pixels must be positive"} {
					if !strings.Contains(r.err.Error(), want) {
						t.Errorf("error %q does not mention %q", r.err, want)
					}
				}
			}},
		{name: "serve sweeps too eager", args: []string{"serve", "--data-dir", t.TempDir(), "--sweep-grace", "1s", "--sweep-interval", "5s"},
			wantCode: 1, check: func(t *testing.T, r result) {
				for _, want := range []string{"--sweep-grace must be at least 1m", "--sweep-interval must be 0 (no sweeps) or at least 1m"} {
					if r.err == nil || !strings.Contains(r.err.Error(), want) {
						t.Errorf("error %v does not mention %q", r.err, want)
					}
				}
			}},
		{name: "eval verify negative threads", args: []string{"eval", "verify", "--threads", "-1",
			"--pairs", data("celebs", "pairs.tsv"), "--root", data("celebs")}, wantCode: 1,
			wantErr: "threads must be >= 0, got -1", check: nothingOut},
		{name: "eval verify zero workers", args: []string{"eval", "verify", "--workers", "0",
			"--pairs", data("celebs", "pairs.tsv"), "--root", data("celebs")}, wantCode: 1,
			wantErr: "workers must be >= 1, got 0", check: nothingOut},
		{name: "metrics address not host:port", args: []string{"serve", "--metrics-addr", "metrics"}, wantCode: 1,
			wantErr: `--metrics-addr must be host:port, got "metrics"`, check: nothingOut},
		{name: "metrics on the API's address", args: []string{"serve", "--addr", "127.0.0.1:8080", "--metrics-addr", "127.0.0.1:8080"}, wantCode: 1,
			wantErr: "--metrics-addr must differ from --addr", check: nothingOut},
		{name: "credential lifetime too short", args: []string{"serve", "--credential-lifetime", "10m"}, wantCode: 1,
			wantErr: "--credential-lifetime (FACEMATCH_CREDENTIAL_LIFETIME) must be a duration of at least 1h, got 10m0s", check: nothingOut},
		{name: "serve with a bad proxy and auth limit", args: []string{"serve", "--trusted-proxies", "10.0.0.0/8, proxy", "--auth-burst", "0",
			"--data-dir", t.TempDir()}, wantCode: 1, check: func(t *testing.T, r result) {
			for _, want := range []string{`--trusted-proxies: "proxy" is not a CIDR prefix`, "--auth-burst must be at least 1"} {
				if r.err == nil || !strings.Contains(r.err.Error(), want) {
					t.Errorf("error %v does not mention %q", r.err, want)
				}
			}
		}},
	})
}

func TestDetect(t *testing.T) {
	testenv.RequireModels(t)
	lfwImage := data("lfw", "Abel_Pacheco", "Abel_Pacheco_0001.jpg")
	textFile := writeFile(t, "notes.jpg", "hello, this is not a photo\n")
	emptyFile := writeFile(t, "empty.jpg", "")

	runTests(t, []test{
		{name: "json group photo", args: []string{"detect", "--json", data("group_photos", "goface_pristin.jpg")},
			check: func(t *testing.T, r result) {
				img := decodeOne(t, r.stdout)
				noVectors(t, "$", img)
				if img["format"] != "jpeg" || number(t, img, "width") != 2100 || number(t, img, "height") != 1040 {
					t.Errorf("image = %v %vx%v, want jpeg 2100x1040", img["format"], img["width"], img["height"])
				}
				if _, ok := img["error"]; ok {
					t.Errorf("error = %v, want none", img["error"])
				}
				faces, _ := img["faces"].([]any)
				if len(faces) != 10 {
					t.Fatalf("%d faces, want 10 (group_photos/faces.tsv)", len(faces))
				}
				for i, f := range faces {
					face := f.(map[string]any)
					if box, _ := face["box"].([]any); len(box) != 4 {
						t.Errorf("face %d: box = %v, want 4 numbers", i+1, face["box"])
					} else if box[2].(float64) <= 0 || box[3].(float64) <= 0 {
						t.Errorf("face %d: box = %v, want a positive size", i+1, box)
					}
					lms, _ := face["landmarks"].([]any)
					if len(lms) != 5 {
						t.Errorf("face %d: landmarks = %v, want 5 points", i+1, face["landmarks"])
					}
					for _, p := range lms {
						if xy, _ := p.([]any); len(xy) != 2 {
							t.Errorf("face %d: landmark %v, want [x, y]", i+1, p)
						}
					}
					if s := number(t, face, "score"); s <= 0 || s > 1 {
						t.Errorf("face %d: score %v, want in (0, 1]", i+1, s)
					}
					q, _ := face["quality"].(map[string]any)
					for _, k := range []string{"score", "size", "box_size", "sharpness", "yaw", "roll", "frontalness"} {
						number(t, q, k)
					}
					if face["accepted"] != true {
						t.Errorf("face %d: accepted = %v, rejected %v; want every face accepted", i+1, face["accepted"], face["rejected"])
					}
					if _, ok := face["rejected"]; ok {
						t.Errorf("face %d: rejected = %v on an accepted face", i+1, face["rejected"])
					}
				}
			}},
		{name: "human lfw", args: []string{"detect", lfwImage}, check: func(t *testing.T, r result) {
			lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
			if len(lines) != 2 {
				t.Fatalf("%d lines, want a header and one face:\n%s", len(lines), r.stdout)
			}
			if want := lfwImage + ": jpeg 250x250, 1 face(s)"; lines[0] != want {
				t.Errorf("header %q, want %q", lines[0], want)
			}
			face := regexp.MustCompile(`^  face 1: box \d+,\d+ \d+x\d+  score 0\.\d\d  eyes \d+ px  sharpness \d+  yaw [+-]\d\.\d\d  roll [+-]\d+°  accepted$`)
			if !face.MatchString(lines[1]) {
				t.Errorf("face line %q does not match %v", lines[1], face)
			}
		}},
		{name: "text file named .jpg", args: []string{"detect", textFile}, wantCode: 1, wantErr: "1 of 1 images failed",
			check: func(t *testing.T, r result) {
				if want := textFile + ": error: decode: not an image: looks like text\n"; r.stdout != want {
					t.Errorf("stdout %q, want %q", r.stdout, want)
				}
			}},
		{name: "empty file", args: []string{"detect", emptyFile}, wantCode: 1, wantErr: "1 of 1 images failed",
			check: func(t *testing.T, r result) {
				if want := emptyFile + ": error: decode: empty image data\n"; r.stdout != want {
					t.Errorf("stdout %q, want %q", r.stdout, want)
				}
			}},
		{name: "json batch goes on past a bad file", args: []string{"detect", "--json", textFile, lfwImage, emptyFile},
			wantCode: 1, wantErr: "2 of 3 images failed", check: func(t *testing.T, r result) {
				objs := decodeAll(t, r.stdout)
				if len(objs) != 3 {
					t.Fatalf("%d JSON objects, want one per image:\n%s", len(objs), r.stdout)
				}
				wantErrs := []string{"decode: not an image: looks like text", "", "decode: empty image data"}
				for i, obj := range objs {
					got, _ := obj["error"].(string)
					if got != wantErrs[i] {
						t.Errorf("image %d: error %q, want %q", i+1, got, wantErrs[i])
					}
					faces, ok := obj["faces"].([]any)
					if !ok {
						t.Errorf("image %d: faces = %v, want an array (empty on error)", i+1, obj["faces"])
					}
					if wantFaces := map[bool]int{true: 0, false: 1}[got != ""]; len(faces) != wantFaces {
						t.Errorf("image %d: %d faces, want %d", i+1, len(faces), wantFaces)
					}
				}
			}},
		{name: "missing file", args: []string{"detect", filepath.Join(t.TempDir(), "gone.jpg")}, wantCode: 1,
			wantErr: "1 of 1 images failed", check: func(t *testing.T, r result) {
				if !strings.Contains(r.stdout, "no such file or directory") {
					t.Errorf("stdout %q, want the open error", r.stdout)
				}
			}},
	})
}

func TestCompare(t *testing.T) {
	testenv.RequireModels(t)
	abel1 := data("lfw", "Abel_Pacheco", "Abel_Pacheco_0001.jpg")
	abel4 := data("lfw", "Abel_Pacheco", "Abel_Pacheco_0004.jpg")
	akhmed := data("lfw", "Akhmed_Zakayev", "Akhmed_Zakayev_0001.jpg")
	noFace := data("no_face", "mate_Aqua.jpg")

	band := func(want ...string) func(*testing.T, result) {
		return func(t *testing.T, r result) {
			obj := decodeOne(t, r.stdout)
			noVectors(t, "$", obj)
			if b, _ := obj["band"].(string); !slices.Contains(want, b) {
				t.Errorf("band %q (similarity %v), want one of %q", b, obj["similarity"], want)
			}
			if s := number(t, obj, "similarity"); s < -1 || s > 1 {
				t.Errorf("similarity %v outside [-1, 1]", s)
			}
			if number(t, obj, "face_a") != 1 || number(t, obj, "face_b") != 1 {
				t.Errorf("faces %v and %v, want 1 and 1 (one face per LFW image)", obj["face_a"], obj["face_b"])
			}
			if m, _ := obj["model"].(string); m == "" {
				t.Error("model is empty")
			}
			if m, _ := obj["meaning"].(string); m == "" {
				t.Error("meaning is empty")
			}
		}
	}
	runTests(t, []test{
		{name: "same person", args: []string{"compare", "--json", abel1, abel4}, check: band("high", "medium")},
		{name: "different people", args: []string{"compare", "--json", abel1, akhmed}, check: band("low")},
		{name: "human output", args: []string{"compare", abel1, abel4}, check: func(t *testing.T, r result) {
			re := regexp.MustCompile(`^similarity 0\.\d{3} \(face 1 of A, face 1 of B\)\nband: (high|medium): .+\n$`)
			if !re.MatchString(r.stdout) {
				t.Errorf("stdout %q does not match %v", r.stdout, re)
			}
		}},
		{name: "no face in B", args: []string{"compare", "--json", abel1, noFace}, wantCode: 1,
			wantErr: noFace + ": no usable face", check: func(t *testing.T, r result) {
				if !errors.Is(r.err, errNoUsableFace) {
					t.Errorf("err = %v, want errNoUsableFace", r.err)
				}
				nothingOut(t, r)
			}},
	})
}

func TestEvalVerify(t *testing.T) {
	testenv.RequireModels(t)
	lfw := data("lfw")
	// LFW pairs.txt layout: "FOLDS<TAB>N", then per fold N matched and N mismatched lines,
	// with names from fold 1 of the official file. The protocol cross-validates the
	// threshold, so it needs two folds: 2×(1 matched + 1 mismatched) = 4 pairs.
	twoFolds := writeFile(t, "pairs.txt", "2\t1\n"+
		"Abel_Pacheco\t1\t4\n"+
		"Abdel_Madi_Shabneh\t1\tDean_Barker\t1\n"+
		"Akhmed_Zakayev\t1\t3\n"+
		"Abdel_Madi_Shabneh\t1\tGiancarlo_Fisichella\t1\n")
	// The same four pairs as one fold parse, but leave no other fold to pick a threshold on.
	oneFold := writeFile(t, "pairs.txt", "1\t2\n"+
		"Abel_Pacheco\t1\t4\n"+
		"Akhmed_Zakayev\t1\t3\n"+
		"Abdel_Madi_Shabneh\t1\tDean_Barker\t1\n"+
		"Abdel_Madi_Shabneh\t1\tGiancarlo_Fisichella\t1\n")
	malformed := writeFile(t, "pairs.txt", "1\t2\nAbel_Pacheco\t1\t4\n")

	// documented are the keys evalJSON promises; the others may change.
	documented := []string{"pairs", "accuracy", "accuracy_std", "tar_at_far_1e3", "tar_at_far_1e4", "no_face", "images_per_s"}

	runTests(t, []test{
		{name: "celebs json", args: []string{"eval", "verify", "--json", "--pairs", data("celebs", "pairs.tsv"), "--root", data("celebs")},
			check: func(t *testing.T, r result) {
				obj := decodeOne(t, r.stdout)
				noVectors(t, "$", obj)
				for _, k := range documented {
					number(t, obj, k)
				}
				if n := number(t, obj, "pairs"); n != 520 {
					t.Errorf("pairs = %v, want 520", n)
				}
				if n := number(t, obj, "no_face"); n != 0 {
					t.Errorf("no_face = %v, want 0", n)
				}
				if acc := number(t, obj, "accuracy"); acc < 0.98 || acc > 1 {
					t.Errorf("accuracy = %v, want >= 0.98", acc)
				}
				if n := number(t, obj, "images_per_s"); n <= 0 {
					t.Errorf("images_per_s = %v, want > 0", n)
				}
				if _, ok := obj["all_pairs"]; ok {
					t.Error("all_pairs present without --all-pairs")
				}
			}},
		{name: "lfw format json", args: []string{"eval", "verify", "--json", "--pairs", twoFolds, "--root", lfw},
			check: func(t *testing.T, r result) {
				obj := decodeOne(t, r.stdout)
				for _, k := range documented {
					number(t, obj, k)
				}
				want := map[string]float64{"pairs": 4, "folds": 2, "genuine_pairs": 2, "impostor_pairs": 2,
					"images": 7, "no_face": 0, "failed_images": 0, "unscored_pairs": 0}
				for k, w := range want {
					if got := number(t, obj, k); got != w {
						t.Errorf("%s = %v, want %v", k, got, w)
					}
				}
			}},
		{name: "lfw format human", args: []string{"eval", "verify", "--pairs", twoFolds, "--root", lfw},
			check: func(t *testing.T, r result) {
				for _, want := range []string{"pairs        4 (2 genuine, 2 impostor, 2 folds; 0 unscored)", "accuracy     ", "TAR@FAR=1e-3 "} {
					if !strings.Contains(r.stdout, want) {
						t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
					}
				}
			}},
		{name: "lfw format one fold", args: []string{"eval", "verify", "--json", "--pairs", oneFold, "--root", lfw},
			wantCode: 1, wantErr: "cross-validation needs at least 2 folds, got 1", check: nothingOut},
		{name: "malformed pairs", args: []string{"eval", "verify", "--pairs", malformed, "--root", lfw},
			wantCode: 1, wantErr: "unexpected end of file", check: nothingOut},
		{name: "missing pairs file", args: []string{"eval", "verify", "--pairs", filepath.Join(t.TempDir(), "none.txt"), "--root", lfw},
			wantCode: 1, wantErr: "no such file or directory", check: nothingOut},
	})
}

// TestEvalIdentify: three people enrolled with one photo each, searched with another photo of
// each and with two strangers; the report has the documented keys and finds the mates.
func TestEvalIdentify(t *testing.T) {
	testenv.RequireModels(t)
	galleryDir, probesDir := t.TempDir(), t.TempDir()
	copyPhoto := func(rel, dstRoot string) {
		b, err := os.ReadFile(data("celebs", rel))
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(dstRoot, rel)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, person := range []string{"Katy_Perry", "Elon_Musk", "Jeff_Bezos"} {
		ph := photos(t, person)
		copyPhoto(ph[0], galleryDir)
		copyPhoto(ph[1], probesDir)
	}
	for _, stranger := range []string{"George_Clooney", "Jennifer_Aniston"} {
		copyPhoto(photos(t, stranger)[0], probesDir)
	}
	r := run(t, "eval", "identify", "--gallery", galleryDir, "--probes", probesDir, "--json")
	if r.err != nil {
		t.Fatal(r)
	}
	out := decodeOne(t, r.stdout)
	for _, key := range []string{"rank1", "fnir_at_fpir_1e2", "fnir_at_fpir_1e3", "gallery_size", "threshold_at_fpir_1e2"} {
		number(t, out, key)
	}
	if number(t, out, "gallery_size") != 3 || number(t, out, "mated_probes") != 3 || number(t, out, "nonmated_probes") != 2 || number(t, out, "rank1") != 1 {
		t.Errorf("report: %v", out)
	}
	noVectors(t, "$", out)
	if r := run(t, "eval", "identify", "--gallery", galleryDir, "--probes", probesDir, "--scoring", "median"); r.err == nil || !strings.Contains(r.err.Error(), "scoring must be one of max, mean_top2, template") {
		t.Errorf("unknown scoring: %v", r.err)
	}
}

// TestEvalCluster: the celebs' photos clustered by every method; the chosen one's documented
// keys at the top, and a clustering far better than chance.
func TestEvalCluster(t *testing.T) {
	testenv.RequireModels(t)
	r := run(t, "eval", "cluster", "--root", data("celebs"), "--k", "5", "--chosen-k", "5", "--json")
	if r.err != nil {
		t.Fatal(r)
	}
	out := decodeOne(t, r.stdout)
	for _, key := range []string{"images", "faces", "identities", "clusters", "pairwise_precision", "pairwise_recall", "pairwise_f",
		"bcubed_precision", "bcubed_recall", "bcubed_f", "nmi", "singleton_clusters", "faces_per_s"} {
		number(t, out, key)
	}
	if number(t, out, "identities") != 13 || number(t, out, "bcubed_f") < 0.7 || number(t, out, "pairwise_precision") < 0.9 {
		t.Errorf("report: %v", out)
	}
	noVectors(t, "$", out)
	// The embeddings cached by one run are read by the next, which then gives the same scores.
	cache := filepath.Join(t.TempDir(), "vectors")
	first := run(t, "eval", "cluster", "--root", data("celebs"), "--k", "5", "--chosen-k", "5", "--vectors", cache, "--methods", "infomap", "--json")
	second := run(t, "eval", "cluster", "--root", data("celebs"), "--k", "5", "--chosen-k", "5", "--vectors", cache, "--methods", "infomap", "--json")
	if first.err != nil || second.err != nil {
		t.Fatal(first, second)
	}
	a, b := decodeOne(t, first.stdout), decodeOne(t, second.stdout)
	if number(t, a, "bcubed_f") != number(t, out, "bcubed_f") || number(t, b, "bcubed_f") != number(t, a, "bcubed_f") || number(t, b, "images") != number(t, out, "images") {
		t.Errorf("cached run: %v, first %v", b, a)
	}
	if r := run(t, "eval", "cluster", "--root", data("celebs"), "--vectors", cache, "--recognizer", "dlib128"); r.err == nil || !strings.Contains(r.err.Error(), "were made with") {
		t.Errorf("vectors of another recognizer: %v", r.err)
	}
	if r := run(t, "eval", "cluster", "--root", data("celebs"), "--method", "kmeans"); r.err == nil || !strings.Contains(r.err.Error(), "method must be components, whispers, shared or infomap") {
		t.Errorf("unknown method: %v", r.err)
	}
}

// TestEvalNeardup: reposted copies of the celebs' photos (re-compressed, cropped, mirrored,
// halved, captioned) against each other, with the documented figures.
func TestEvalNeardup(t *testing.T) {
	testenv.RequireModels(t) // the photo sets come with the full tier
	r := run(t, "eval", "neardup", "--root", data("celebs"), "--n", "40", "--index", "20000", "--json")
	if r.err != nil {
		t.Fatal(r)
	}
	out := decodeOne(t, r.stdout)
	if number(t, out, "photos") < 30 || number(t, out, "copies") != 7*number(t, out, "photos") || number(t, out, "index_size") != 20000 ||
		number(t, out, "false_match") > 1e-4 || number(t, out, "recall") < 0.5 {
		t.Errorf("report: %v", out)
	}
	byTransform, _ := out["recall_by_transform"].(map[string]any)
	for _, name := range []string{"jpeg_q50", "mirrored", "half_size"} {
		if v, _ := byTransform[name].(float64); v < 0.95 {
			t.Errorf("%s recall %v, want nearly all", name, byTransform[name])
		}
	}
	if r := run(t, "eval", "neardup", "--root", data("celebs"), "--n", "1"); r.err == nil {
		t.Errorf("one photo: accepted")
	}
}

// TestEvalDemographics: FairFace's impostor pairs by group at two lines; pairs of children
// reach the medium line far more often than pairs of adults (what the per-group lines are for).
func TestEvalDemographics(t *testing.T) {
	testenv.RequireModels(t)
	r := run(t, "eval", "demographics", "--set", "fairface", "--root", data("fairface"), "--lines", "0.825,0.846", "--json")
	if r.err != nil {
		t.Fatal(r)
	}
	var out struct {
		Photos int `json:"unusable_photos"`
		Groups []struct {
			Dimension, Group string
			Photos, Pairs    int
			FMR              []float64
		} `json:"groups"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatal(err)
	}
	fmr := map[string][]float64{}
	for _, g := range out.Groups {
		fmr[g.Dimension+"/"+g.Group] = g.FMR
		if g.Pairs != g.Photos*(g.Photos-1)/2 || len(g.FMR) != 2 {
			t.Errorf("group %s/%s: %d photos, %d pairs, %d rates", g.Dimension, g.Group, g.Photos, g.Pairs, len(g.FMR))
		}
	}
	minors, adults := fmr["under_20/0-19"], fmr["under_20/20+"]
	if len(minors) != 2 || len(adults) != 2 || minors[0] < 10*adults[0] {
		t.Errorf("FMR at the medium line: under 20 %v, 20 and over %v; want children's far higher", minors, adults)
	}
	if r := run(t, "eval", "demographics", "--set", "lfw"); r.err == nil || exitCode(r.err) != 2 {
		t.Errorf("an unknown set: %v", r.err)
	}
}

// TestEvalAge: the apparent age of a sample of UTKFace (every 10th photo) is measured with the
// keys the issue names; children are flagged far more often than adults over 25.
func TestEvalAge(t *testing.T) {
	testenv.RequireModels(t)
	b, err := os.ReadFile(filepath.Join(data("utkface"), "labels.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	sample := []string{lines[0]}
	for i := 1; i < len(lines); i += 10 {
		sample = append(sample, lines[i])
	}
	labels := filepath.Join(t.TempDir(), "labels.tsv")
	if err := os.WriteFile(labels, []byte(strings.Join(sample, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := run(t, "eval", "age", "--labels", labels, "--root", data("utkface"), "--json")
	if r.err != nil {
		t.Fatal(r)
	}
	var out map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"faces", "mae", "mae_13_17", "mae_18_24", "minor_fnr", "adult_18_24_fpr", "adult_25_plus_fpr"} {
		if _, ok := out[k].(float64); !ok {
			t.Errorf("key %s: %v, want a number", k, out[k])
		}
	}
	if f, _ := out["faces"].(float64); f < float64(len(sample)-1)*0.9 {
		t.Errorf("%v faces of %d photos", f, len(sample)-1)
	}
	if mae, _ := out["mae"].(float64); mae > 6 {
		t.Errorf("MAE %v years", mae)
	}
	if fnr, older := out["minor_fnr"].(float64), out["adult_25_plus_fpr"].(float64); fnr > 0.1 || older > 0.2 {
		t.Errorf("minors missed %v, over-25s flagged %v", fnr, older)
	}
	if r := run(t, "eval", "age", "--labels", labels, "--line", "12"); r.err == nil {
		t.Errorf("a line under 18: accepted")
	}
}
