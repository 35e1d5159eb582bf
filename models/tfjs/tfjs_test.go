package tfjs

import (
	"encoding/binary"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

func le32(vals ...uint32) []byte {
	b := make([]byte, 4*len(vals))
	for i, v := range vals {
		binary.LittleEndian.PutUint32(b[4*i:], v)
	}
	return b
}

func le16(vals ...uint16) []byte {
	b := make([]byte, 2*len(vals))
	for i, v := range vals {
		binary.LittleEndian.PutUint16(b[2*i:], v)
	}
	return b
}

func f32bits(vals ...float32) []uint32 {
	out := make([]uint32, len(vals))
	for i, v := range vals {
		out[i] = math.Float32bits(v)
	}
	return out
}

func TestParseManifestRefuses(t *testing.T) {
	for _, tc := range []struct {
		name, json string
		want       error
	}{
		{"not json", `{"x"`, ErrInvalid},
		{"empty array", `[]`, ErrInvalid},
		{"object without weightsManifest", `{"modelTopology":{}}`, ErrInvalid},
		{"no paths", `[{"paths":[],"weights":[]}]`, ErrInvalid},
		{"parent path", `[{"paths":["../x.bin"],"weights":[]}]`, ErrInvalid},
		{"absolute path", `[{"paths":["/etc/x.bin"],"weights":[]}]`, ErrInvalid},
		{"unclean path", `[{"paths":["./x.bin"],"weights":[]}]`, ErrInvalid},
		{"no name", `[{"paths":["x"],"weights":[{"shape":[1],"dtype":"float32"}]}]`, ErrInvalid},
		{"negative dim", `[{"paths":["x"],"weights":[{"name":"a","shape":[-1],"dtype":"float32"}]}]`, ErrInvalid},
		{"fractional dim", `[{"paths":["x"],"weights":[{"name":"a","shape":[1.5],"dtype":"float32"}]}]`, ErrInvalid},
		{"huge shape", `[{"paths":["x"],"weights":[{"name":"a","shape":[65536,65536,65536],"dtype":"float32"}]}]`, ErrInvalid},
		{"unknown dtype", `[{"paths":["x"],"weights":[{"name":"a","shape":[1],"dtype":"float64"}]}]`, ErrInvalid},
		{"string dtype", `[{"paths":["x"],"weights":[{"name":"a","shape":[1],"dtype":"string"}]}]`, ErrUnsupported},
		{"uint8 without scale", `[{"paths":["x"],"weights":[{"name":"a","shape":[1],"dtype":"float32","quantization":{"dtype":"uint8","min":0}}]}]`, ErrInvalid},
		{"int8 quantization", `[{"paths":["x"],"weights":[{"name":"a","shape":[1],"dtype":"float32","quantization":{"dtype":"int8","scale":1,"min":0}}]}]`, ErrUnsupported},
		{"float16 int32", `[{"paths":["x"],"weights":[{"name":"a","shape":[1],"dtype":"int32","quantization":{"dtype":"float16"}}]}]`, ErrUnsupported},
		{"original_dtype mismatch", `[{"paths":["x"],"weights":[{"name":"a","shape":[1],"dtype":"float32","quantization":{"dtype":"uint8","scale":1,"min":0,"original_dtype":"int32"}}]}]`, ErrInvalid},
		{"duplicate name", `[{"paths":["x"],"weights":[{"name":"a","shape":[1],"dtype":"float32"}]},{"paths":["y"],"weights":[{"name":"a","shape":[1],"dtype":"float32"}]}]`, ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseManifest([]byte(tc.json))
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestDecodeEveryDType(t *testing.T) {
	manifest := `[{"paths":["a.bin","b.bin"],"weights":[
		{"name":"f","shape":[2],"dtype":"float32"},
		{"name":"i","shape":[2],"dtype":"int32"},
		{"name":"q8","shape":[1,3],"dtype":"float32","quantization":{"dtype":"uint8","scale":0.5,"min":-1}},
		{"name":"q16","shape":[2],"dtype":"float32","quantization":{"dtype":"uint16","scale":0.001,"min":-0.1,"original_dtype":"float32"}},
		{"name":"qi","shape":[2],"dtype":"int32","quantization":{"dtype":"uint8","scale":1.5,"min":-3}},
		{"name":"h","shape":[5],"dtype":"float32","quantization":{"dtype":"float16"}},
		{"name":"empty","shape":[0,4],"dtype":"float32"}]}]`
	groups, err := ParseManifest([]byte(manifest))
	if err != nil {
		t.Fatal(err)
	}
	var data []byte
	data = append(data, le32(f32bits(1.5, -2)...)...)
	data = append(data, le32(7, 0xffffffff)...)
	data = append(data, 0, 1, 255)
	data = append(data, le16(0, 1000)...)
	data = append(data, 1, 3)
	// float16: 1, -2, 65504 (largest), 2⁻²⁴ (smallest subnormal), +Inf.
	data = append(data, le16(0x3c00, 0xc000, 0x7bff, 0x0001, 0x7c00)...)
	// Split the bytes over two shards at an odd place: shards are concatenated.
	shards := map[string][]byte{"a.bin": data[:5], "b.bin": data[5:]}
	w, err := Decode(groups, func(p string) ([]byte, error) { return shards[p], nil })
	if err != nil {
		t.Fatal(err)
	}
	if got := w.Names(); !slices.Equal(got, []string{"f", "i", "q8", "q16", "qi", "h", "empty"}) {
		t.Fatalf("names %v", got)
	}
	wantF := map[string][]float32{
		"f":   {1.5, -2},
		"q8":  {-1, -0.5, 126.5},
		"q16": {float32(-0.1), float32(1000*0.001 - 0.1)},
		"h":   {1, -2, 65504, float32(math.Ldexp(1, -24)), float32(math.Inf(1))},
	}
	for name, want := range wantF {
		tn, _ := w.Tensor(name)
		if !slices.Equal(tn.Float32, want) || tn.Int32 != nil {
			t.Errorf("%s = %v, want %v", name, tn.Float32, want)
		}
	}
	// JavaScript's Math.round(1·1.5 − 3) = Math.round(−1.5) = −1 (halves round up), and
	// Math.round(3·1.5 − 3) = 2.
	wantI := map[string][]int32{"i": {7, -1}, "qi": {-1, 2}}
	for name, want := range wantI {
		tn, _ := w.Tensor(name)
		if !slices.Equal(tn.Int32, want) || tn.Float32 != nil {
			t.Errorf("%s = %v, want %v", name, tn.Int32, want)
		}
	}
	if v, err := w.Float32("q8", 1, 3); err != nil || len(v) != 3 {
		t.Errorf("Float32(q8, 1, 3) = %v, %v", v, err)
	}
	if _, err := w.Float32("q8", 3); !errors.Is(err, ErrInvalid) {
		t.Errorf("Float32 with the wrong shape: %v", err)
	}
	if _, err := w.Float32("i", 2); !errors.Is(err, ErrInvalid) {
		t.Errorf("Float32 of an int32 tensor: %v", err)
	}
	if _, err := w.Float32("missing"); !errors.Is(err, ErrInvalid) {
		t.Errorf("Float32 of a missing tensor: %v", err)
	}
}

func TestDecodeSizeMismatch(t *testing.T) {
	groups, err := ParseManifest([]byte(`[{"paths":["x"],"weights":[{"name":"a","shape":[2,2],"dtype":"float32"}]}]`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		bytes int
		want  string
	}{
		{"truncated", 15, "truncated"},
		{"trailing bytes", 17, "the weights use 16 bytes, the shards hold 17"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(groups, func(string) ([]byte, error) { return make([]byte, tc.bytes), nil })
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want ErrInvalid mentioning %q", err, tc.want)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	fsys := fstest.MapFS{
		"m/model.json":   {Data: []byte(`{"modelTopology":{},"weightsManifest":[{"paths":["w.bin"],"weights":[{"name":"a","shape":[1],"dtype":"float32"}]}]}`)},
		"m/w.bin":        {Data: le32(math.Float32bits(3))},
		"m/missing.json": {Data: []byte(`[{"paths":["nope.bin"],"weights":[]}]`)},
	}
	w, err := Load(fsys, "m/model.json")
	if err != nil {
		t.Fatal(err)
	}
	if v, err := w.Float32("a", 1); err != nil || v[0] != 3 {
		t.Fatalf("a = %v, %v", v, err)
	}
	if _, err := Load(fsys, "m/missing.json"); err == nil || !strings.Contains(err.Error(), "nope.bin") {
		t.Fatalf("missing shard: %v", err)
	}
}

// FuzzDecode feeds arbitrary manifests and shard bytes: ParseManifest and Decode must never
// panic, and a decoded tensor always has as many values as its shape says.
//
//	go test -run='^$' -fuzz=FuzzDecode -fuzztime=30s ./models/tfjs/
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`[{"paths":["x"],"weights":[{"name":"a","shape":[2],"dtype":"float32"}]}]`), le32(1, 2))
	f.Add([]byte(`[{"paths":["x"],"weights":[{"name":"a","shape":[3],"dtype":"float32","quantization":{"dtype":"uint8","scale":0.1,"min":-1}}]}]`), []byte{1, 2, 3})
	f.Add([]byte(`[{"paths":["x","y"],"weights":[{"name":"a","shape":[1],"dtype":"int32","quantization":{"dtype":"uint16","scale":1e300,"min":-1e308}},{"name":"b","shape":[1],"dtype":"float32","quantization":{"dtype":"float16"}}]}]`), le16(65535, 0x7e00))
	f.Add([]byte(`{"weightsManifest":[{"paths":["x"],"weights":[{"name":"a","shape":[0],"dtype":"int32"}]}]}`), []byte{})
	f.Fuzz(func(t *testing.T, manifest, shard []byte) {
		groups, err := ParseManifest(manifest)
		if err != nil {
			return
		}
		w, err := Decode(groups, func(string) ([]byte, error) { return shard, nil })
		if err != nil {
			if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrUnsupported) {
				t.Fatalf("error of unknown kind: %v", err)
			}
			return
		}
		for _, name := range w.Names() {
			tn, _ := w.Tensor(name)
			n := 1
			for _, d := range tn.Shape {
				n *= d
			}
			if len(tn.Float32)+len(tn.Int32) != n {
				t.Fatalf("%s: %d+%d values for shape %v", name, len(tn.Float32), len(tn.Int32), tn.Shape)
			}
		}
	})
}
