package agegender

import (
	"fmt"

	"github.com/facematch/facematch/models/tfjs"
)

// InputSize is the side of the square RGB crop the network reads.
const InputSize = 112

// Mean is subtracted from each RGB channel (0..255) before the division by Scale, as
// face-api's TinyXception does (the ImageNet means its dlib-derived nets share).
var Mean = [3]float32{122.782, 117.001, 104.298}

// Scale divides the centred pixel values.
const Scale = 255

// Output is what the network says about one face.
type Output struct {
	// Age is the regression head's raw output: apparent age in years, unclamped.
	Age float32
	// Male and Female are the gender head's softmax (index 0 is male in face-api).
	Male, Female float32
}

// conv is a TensorFlow 2-D convolution with bias: filters in HWIO order (k, k, in, out).
type conv struct {
	name          string
	filters, bias []float32
	k, in, out    int
	stride        int
}

// sepConv is a depthwise 3×3 convolution (depth multiplier 1) then a pointwise 1×1 one and a
// bias, stride 1, "same" padding (face-api's depthwiseSeparableConv).
type sepConv struct {
	name      string
	depthwise []float32 // (3, 3, in, 1)
	pointwise []float32 // (1, 1, in, out)
	bias      []float32 // (out)
	in, out   int
}

// reductionBlock halves the resolution: relu (except the first block), separable conv, relu,
// separable conv, 3×3 max pool stride 2, plus a 1×1 stride-2 convolution of the block's input.
type reductionBlock struct {
	name          string
	activateInput bool
	sep0, sep1    sepConv
	expansion     conv
}

// mainBlock is three (relu, separable conv) steps and a residual connection.
type mainBlock struct {
	name string
	sep  [3]sepConv
}

// fc is a dense layer: weights (in, out), bias (out).
type fc struct {
	name          string
	weights, bias []float32
	in, out       int
}

// Net is face-api's AgeGenderNet: a TinyXception feature extractor with two main blocks on a
// 112×112 crop, a 7×7 average pool, and the age and gender heads. It holds the weights as
// TensorFlow.js stores them; [Net.Model] lays them out for ONNX and [Net.Forward] runs them.
type Net struct {
	convIn  conv
	entry   [2]reductionBlock
	middle  [2]mainBlock
	exit    reductionBlock
	exitSep sepConv
	age     fc // one output: years
	gender  fc // two logits: male, female
}

// New takes the AgeGenderNet weights from w (face-api's age_gender_model), checking that
// every tensor is present with the shape the architecture needs.
func New(w *tfjs.Weights) (*Net, error) {
	r := reader{w: w}
	n := &Net{}
	n.convIn = r.conv("entry_flow/conv_in", 3, 3, 32, 2)
	n.entry[0] = r.reduction("entry_flow/reduction_block_0", 32, 64, false)
	n.entry[1] = r.reduction("entry_flow/reduction_block_1", 64, 128, true)
	for i := range n.middle {
		name := fmt.Sprintf("middle_flow/main_block_%d", i)
		n.middle[i] = mainBlock{name: name}
		for j := range n.middle[i].sep {
			n.middle[i].sep[j] = r.sep(fmt.Sprintf("%s/separable_conv%d", name, j), 128, 128)
		}
	}
	n.exit = r.reduction("exit_flow/reduction_block", 128, 256, true)
	n.exitSep = r.sep("exit_flow/separable_conv", 256, 512)
	n.age = r.fc("fc/age", 512, 1)
	n.gender = r.fc("fc/gender", 512, 2)
	if r.err != nil {
		return nil, fmt.Errorf("agegender: %w", r.err)
	}
	if got, want := len(w.Names()), r.used; got != want {
		return nil, fmt.Errorf("agegender: the weights hold %d tensors, the network uses %d: not an AgeGenderNet", got, want)
	}
	return n, nil
}

// reader takes tensors by name and remembers the first error.
type reader struct {
	w    *tfjs.Weights
	err  error
	used int
}

func (r *reader) get(name string, shape ...int) []float32 {
	if r.err != nil {
		return nil
	}
	v, err := r.w.Float32(name, shape...)
	if err != nil {
		r.err = err
		return nil
	}
	r.used++
	return v
}

func (r *reader) conv(name string, k, in, out, stride int) conv {
	return conv{name: name, k: k, in: in, out: out, stride: stride,
		filters: r.get(name+"/filters", k, k, in, out), bias: r.get(name+"/bias", out)}
}

func (r *reader) sep(name string, in, out int) sepConv {
	return sepConv{name: name, in: in, out: out,
		depthwise: r.get(name+"/depthwise_filter", 3, 3, in, 1),
		pointwise: r.get(name+"/pointwise_filter", 1, 1, in, out),
		bias:      r.get(name+"/bias", out)}
}

func (r *reader) reduction(name string, in, out int, activateInput bool) reductionBlock {
	return reductionBlock{name: name, activateInput: activateInput,
		sep0:      r.sep(name+"/separable_conv0", in, out),
		sep1:      r.sep(name+"/separable_conv1", out, out),
		expansion: r.conv(name+"/expansion_conv", 1, in, out, 2)}
}

func (r *reader) fc(name string, in, out int) fc {
	return fc{name: name, in: in, out: out, weights: r.get(name+"/weights", in, out), bias: r.get(name+"/bias", out)}
}
