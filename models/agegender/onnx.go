package agegender

import (
	"strings"

	"github.com/facematch/facematch/models/onnxwrite"
)

// The ONNX model's contract.
const (
	// InputName is [N,3,112,112] float32: raw RGB values 0..255, channels first. The mean
	// subtraction and the division by 255 are the graph's first two nodes.
	InputName = "input"
	// AgeOutput is [N,1]: apparent age in years.
	AgeOutput = "age"
	// GenderOutput is [N,2]: softmax probabilities, male then female.
	GenderOutput = "gender"
)

// Opset and IRVersion of the written model: every operator used is unchanged since opset 13.
const (
	Opset     = 13
	IRVersion = 7
)

// Model lays the network out as an ONNX graph. TensorFlow's "same" padding becomes explicit
// pads (the odd pixel after, as TensorFlow puts it), HWIO filters become OIHW, depthwise
// filters a grouped convolution, the 7×7 average pool on the 7×7 map a GlobalAveragePool, the
// dense layers Gemm. metadata is written as the model's metadata_props, in order.
func (n *Net) Model(metadata []onnxwrite.KeyValue) *onnxwrite.Model {
	b := &builder{}
	batch := onnxwrite.Dim{Param: "N"}
	b.g.Name = "age_gender_faceapi"
	b.g.Inputs = []onnxwrite.ValueInfo{{Name: InputName, Elem: onnxwrite.Float,
		Dims: []onnxwrite.Dim{batch, {Value: 3}, {Value: InputSize}, {Value: InputSize}}}}

	mean := b.init("preprocess/mean", []int64{1, 3, 1, 1}, Mean[:])
	scale := b.init("preprocess/scale", []int64{}, []float32{Scale})
	x := b.node("preprocess/sub_mean", "Sub", nil, InputName, mean)
	x = b.node("preprocess/div_255", "Div", nil, x, scale)

	x = b.relu(b.conv(n.convIn, x))
	x = b.reduction(n.entry[0], x)
	x = b.reduction(n.entry[1], x)
	for _, m := range n.middle {
		x = b.main(m, x)
	}
	x = b.reduction(n.exit, x)
	x = b.relu(b.sep(n.exitSep, x))

	x = b.node("head/avg_pool", "GlobalAveragePool", nil, x)
	x = b.node("head/flatten", "Flatten", []onnxwrite.Attr{onnxwrite.Int("axis", 1)}, x)
	b.gemm(n.age, x, AgeOutput)
	logits := b.gemm(n.gender, x, "fc/gender:logits")
	b.g.Nodes = append(b.g.Nodes, onnxwrite.Node{Name: "fc/gender/softmax", OpType: "Softmax",
		Inputs: []string{logits}, Outputs: []string{GenderOutput}, Attrs: []onnxwrite.Attr{onnxwrite.Int("axis", 1)}})

	b.g.Outputs = []onnxwrite.ValueInfo{
		{Name: AgeOutput, Elem: onnxwrite.Float, Dims: []onnxwrite.Dim{batch, {Value: 1}}},
		{Name: GenderOutput, Elem: onnxwrite.Float, Dims: []onnxwrite.Dim{batch, {Value: 2}}},
	}
	return &onnxwrite.Model{
		IRVersion: IRVersion, Opset: Opset,
		ProducerName: "facematch models/agegender",
		DocString:    "face-api.js AgeGenderNet (TinyXception, 2 main blocks): input RGB 0..255 [N,3,112,112]; outputs age [N,1] in years and gender [N,2] = softmax(male, female)",
		Metadata:     metadata,
		Graph:        b.g,
	}
}

// builder appends nodes and initializers; each node's output is named after the node.
type builder struct{ g onnxwrite.Graph }

func (b *builder) init(name string, dims []int64, v []float32) string {
	b.g.Initializers = append(b.g.Initializers, onnxwrite.Tensor{Name: name, Dims: dims, Float: v})
	return name
}

func (b *builder) node(name, op string, attrs []onnxwrite.Attr, inputs ...string) string {
	out := name + ":out"
	b.g.Nodes = append(b.g.Nodes, onnxwrite.Node{Name: name, OpType: op, Inputs: inputs, Outputs: []string{out}, Attrs: attrs})
	return out
}

func (b *builder) relu(x string) string {
	return b.node(strings.TrimSuffix(x, ":out")+"/relu", "Relu", nil, x)
}

// convNode writes a Conv with TensorFlow's "same" padding for a square input of even side
// (112, 56, 28 or 14): stride 1 pads k/2 on every side, stride 2 pads (k-2)/2 before and
// the rest after, both as TensorFlow computes them.
func (b *builder) convNode(name, x, w, bias string, k, stride, group int) string {
	total := max(k-stride, 0) // (out-1)·stride + k − in with out = in/stride, in even
	before, after := int64(total/2), int64(total-total/2)
	attrs := []onnxwrite.Attr{
		onnxwrite.Ints("kernel_shape", int64(k), int64(k)),
		onnxwrite.Ints("pads", before, before, after, after),
		onnxwrite.Ints("strides", int64(stride), int64(stride)),
	}
	if group > 1 {
		attrs = append(attrs, onnxwrite.Int("group", int64(group)))
	}
	inputs := []string{x, w}
	if bias != "" {
		inputs = append(inputs, bias)
	}
	return b.node(name, "Conv", attrs, inputs...)
}

// conv is a plain convolution: HWIO filters transposed to OIHW.
func (b *builder) conv(c conv, x string) string {
	w := make([]float32, len(c.filters))
	for ky := 0; ky < c.k; ky++ {
		for kx := 0; kx < c.k; kx++ {
			for i := 0; i < c.in; i++ {
				for o := 0; o < c.out; o++ {
					w[((o*c.in+i)*c.k+ky)*c.k+kx] = c.filters[((ky*c.k+kx)*c.in+i)*c.out+o]
				}
			}
		}
	}
	wn := b.init(c.name+"/filters", []int64{int64(c.out), int64(c.in), int64(c.k), int64(c.k)}, w)
	bn := b.init(c.name+"/bias", []int64{int64(c.out)}, c.bias)
	return b.convNode(c.name, x, wn, bn, c.k, c.stride, 1)
}

// sep is a depthwise convolution (group = channels, no bias) and a pointwise one
// carrying the bias, as TensorFlow's separableConv2d + add.
func (b *builder) sep(s sepConv, x string) string {
	dw := make([]float32, len(s.depthwise))
	for ky := 0; ky < 3; ky++ {
		for kx := 0; kx < 3; kx++ {
			for c := 0; c < s.in; c++ {
				dw[(c*3+ky)*3+kx] = s.depthwise[(ky*3+kx)*s.in+c]
			}
		}
	}
	pw := make([]float32, len(s.pointwise))
	for i := 0; i < s.in; i++ {
		for o := 0; o < s.out; o++ {
			pw[o*s.in+i] = s.pointwise[i*s.out+o]
		}
	}
	dwn := b.init(s.name+"/depthwise_filter", []int64{int64(s.in), 1, 3, 3}, dw)
	pwn := b.init(s.name+"/pointwise_filter", []int64{int64(s.out), int64(s.in), 1, 1}, pw)
	bn := b.init(s.name+"/bias", []int64{int64(s.out)}, s.bias)
	x = b.convNode(s.name+"/depthwise", x, dwn, "", 3, 1, s.in)
	return b.convNode(s.name, x, pwn, bn, 1, 1, 1)
}

func (b *builder) reduction(r reductionBlock, x string) string {
	out := x
	if r.activateInput {
		out = b.node(r.name+"/relu_in", "Relu", nil, x)
	}
	out = b.sep(r.sep0, out)
	out = b.sep(r.sep1, b.relu(out))
	out = b.node(r.name+"/max_pool", "MaxPool", []onnxwrite.Attr{
		onnxwrite.Ints("kernel_shape", 3, 3),
		onnxwrite.Ints("pads", 0, 0, 1, 1),
		onnxwrite.Ints("strides", 2, 2),
	}, out)
	skip := b.conv(r.expansion, x)
	return b.node(r.name+"/add", "Add", nil, out, skip)
}

func (b *builder) main(m mainBlock, x string) string {
	out := x
	for i, s := range m.sep {
		if i == 0 {
			out = b.node(m.name+"/relu_in", "Relu", nil, out)
		} else {
			out = b.relu(out)
		}
		out = b.sep(s, out)
	}
	return b.node(m.name+"/add", "Add", nil, out, x)
}

// gemm writes x·W + b with W as stored, (in, out); output names the result.
func (b *builder) gemm(f fc, x, output string) string {
	w := b.init(f.name+"/weights", []int64{int64(f.in), int64(f.out)}, f.weights)
	bias := b.init(f.name+"/bias", []int64{int64(f.out)}, f.bias)
	b.g.Nodes = append(b.g.Nodes, onnxwrite.Node{Name: f.name, OpType: "Gemm", Inputs: []string{x, w, bias}, Outputs: []string{output}})
	return output
}

// ONNX encodes the model (see [Net.Model]); the same weights and metadata give the same bytes.
func (n *Net) ONNX(metadata []onnxwrite.KeyValue) ([]byte, error) {
	return n.Model(metadata).Marshal()
}
