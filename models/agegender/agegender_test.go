package agegender

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/facematch/facematch/models/onnxwrite"
	"github.com/facematch/facematch/models/tfjs"
)

// architecture lists AgeGenderNet's tensors in face-api's manifest order.
func architecture() []tfjs.WeightSpec {
	var specs []tfjs.WeightSpec
	add := func(name string, shape ...int) {
		specs = append(specs, tfjs.WeightSpec{Name: name, Shape: shape, DType: tfjs.Float32})
	}
	sep := func(name string, in, out int) {
		add(name+"/depthwise_filter", 3, 3, in, 1)
		add(name+"/pointwise_filter", 1, 1, in, out)
		add(name+"/bias", out)
	}
	reduction := func(name string, in, out int) {
		sep(name+"/separable_conv0", in, out)
		sep(name+"/separable_conv1", out, out)
		add(name+"/expansion_conv/filters", 1, 1, in, out)
		add(name+"/expansion_conv/bias", out)
	}
	add("entry_flow/conv_in/filters", 3, 3, 3, 32)
	add("entry_flow/conv_in/bias", 32)
	reduction("entry_flow/reduction_block_0", 32, 64)
	reduction("entry_flow/reduction_block_1", 64, 128)
	for i := 0; i < 2; i++ {
		for j := 0; j < 3; j++ {
			sep(fmt.Sprintf("middle_flow/main_block_%d/separable_conv%d", i, j), 128, 128)
		}
	}
	reduction("exit_flow/reduction_block", 128, 256)
	sep("exit_flow/separable_conv", 256, 512)
	add("fc/age/weights", 512, 1)
	add("fc/age/bias", 1)
	add("fc/gender/weights", 512, 2)
	add("fc/gender/bias", 2)
	return specs
}

// syntheticWeights gives every tensor of specs small seeded random values.
func syntheticWeights(t testing.TB, specs []tfjs.WeightSpec, seed uint64) *tfjs.Weights {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	var data []byte
	for _, s := range specs {
		n := 1
		for _, d := range s.Shape {
			n *= d
		}
		// He-like scale keeps activations in a sane range through 20 layers.
		fanIn := max(n/s.Shape[len(s.Shape)-1], 1)
		for i := 0; i < n; i++ {
			v := float32(rng.NormFloat64() * math.Sqrt(1/float64(fanIn)))
			data = binary.LittleEndian.AppendUint32(data, math.Float32bits(v))
		}
	}
	w, err := tfjs.Decode([]tfjs.Group{{Paths: []string{"w.bin"}, Weights: specs}}, func(string) ([]byte, error) { return data, nil })
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func randomInput(seed uint64) []float32 {
	rng := rand.New(rand.NewPCG(seed, 2))
	in := make([]float32, 3*InputSize*InputSize)
	for i := range in {
		in[i] = float32(rng.IntN(256))
	}
	return in
}

func TestNewRefusesOtherNetworks(t *testing.T) {
	specs := architecture()
	wrongShape := append([]tfjs.WeightSpec(nil), specs...)
	wrongShape[0].Shape = []int{3, 3, 3, 16}
	extra := append(append([]tfjs.WeightSpec(nil), specs...), tfjs.WeightSpec{Name: "fc/expression/bias", Shape: []int{7}, DType: tfjs.Float32})
	for _, tc := range []struct {
		name  string
		specs []tfjs.WeightSpec
		want  string
	}{
		{"missing tensor", specs[1:], `no weight "entry_flow/conv_in/filters"`},
		{"wrong shape", wrongShape, "has shape [3 3 3 16], want [3 3 3 32]"},
		{"extra tensor", extra, "not an AgeGenderNet"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(syntheticWeights(t, tc.specs, 1))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
			if tc.name != "extra tensor" && !errors.Is(err, tfjs.ErrInvalid) {
				t.Fatalf("err = %v, want tfjs.ErrInvalid", err)
			}
		})
	}
}

func TestForwardOnSyntheticWeights(t *testing.T) {
	n, err := New(syntheticWeights(t, architecture(), 7))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.Forward(make([]float32, 10)); err == nil {
		t.Fatal("Forward accepted a short input")
	}
	a, err := n.Forward(randomInput(1))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := n.Forward(randomInput(2))
	if a == b {
		t.Fatalf("two inputs gave the same output %+v", a)
	}
	for _, o := range []Output{a, b} {
		if s := o.Male + o.Female; math.Abs(float64(s)-1) > 1e-6 || o.Male < 0 || o.Female < 0 || math.IsNaN(float64(o.Age)) {
			t.Fatalf("output %+v", o)
		}
	}
}

// TestONNXIsDeterministic is the converter's contract with scripts/setup, which pins the
// converted file's sha256: the same weights and metadata always give the same bytes.
func TestONNXIsDeterministic(t *testing.T) {
	meta := []onnxwrite.KeyValue{{Key: "source", Value: "test"}}
	a, err := New(syntheticWeights(t, architecture(), 3))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := New(syntheticWeights(t, architecture(), 3))
	x, err := a.ONNX(meta)
	if err != nil {
		t.Fatal(err)
	}
	y, _ := b.ONNX(meta)
	if !bytes.Equal(x, y) {
		t.Fatal("two conversions of the same weights differ")
	}
	// Every float of the weights is in the file: ~1.7 MB of float32 for ~430k parameters.
	if len(x) < 4*420_000 {
		t.Fatalf("model is only %d bytes", len(x))
	}
}

func TestSamePad(t *testing.T) {
	for _, tc := range []struct{ in, k, s, out, before int }{
		{112, 3, 2, 56, 0}, {56, 1, 2, 28, 0}, {56, 3, 2, 28, 0}, {14, 3, 1, 14, 1}, {7, 3, 1, 7, 1}, {7, 3, 2, 4, 1},
	} {
		if out, before := samePad(tc.in, tc.k, tc.s); out != tc.out || before != tc.before {
			t.Errorf("samePad(%d, %d, %d) = %d, %d, want %d, %d", tc.in, tc.k, tc.s, out, before, tc.out, tc.before)
		}
	}
}

func TestMaxPoolIgnoresPadding(t *testing.T) {
	// A 2×2 all-negative map: "same" pooling pads after, and the padding must never win.
	m := fmap{h: 2, w: 2, c: 1, v: []float32{-4, -3, -2, -1}}
	got := maxPool3s2(m)
	if got.h != 1 || got.w != 1 || got.v[0] != -1 {
		t.Fatalf("maxPool3s2 = %+v, want [-1]", got)
	}
}
