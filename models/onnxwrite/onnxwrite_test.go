package onnxwrite

import (
	"bytes"
	"encoding/binary"
	"math"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

// field is one decoded protobuf field: a varint, a fixed32 or a length-delimited payload.
type field struct {
	num protowire.Number
	v   uint64
	b   []byte
}

// fields decodes one message's fields in order, failing the test on malformed bytes.
func fields(t *testing.T, b []byte) []field {
	t.Helper()
	var out []field
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			t.Fatalf("bad tag: %v", protowire.ParseError(n))
		}
		b = b[n:]
		f := field{num: num}
		switch typ {
		case protowire.VarintType:
			f.v, n = protowire.ConsumeVarint(b)
		case protowire.Fixed32Type:
			var v uint32
			v, n = protowire.ConsumeFixed32(b)
			f.v = uint64(v)
		case protowire.BytesType:
			f.b, n = protowire.ConsumeBytes(b)
		default:
			t.Fatalf("unexpected wire type %v", typ)
		}
		if n < 0 {
			t.Fatalf("bad field %d: %v", num, protowire.ParseError(n))
		}
		b = b[n:]
		out = append(out, f)
	}
	return out
}

func only(t *testing.T, fs []field, num protowire.Number) []field {
	t.Helper()
	var out []field
	for _, f := range fs {
		if f.num == num {
			out = append(out, f)
		}
	}
	return out
}

func tinyModel() *Model {
	return &Model{
		IRVersion: 7, Opset: 13, ProducerName: "test",
		Metadata: []KeyValue{{"source", "unit test"}},
		Graph: Graph{
			Name:   "g",
			Inputs: []ValueInfo{{Name: "x", Elem: Float, Dims: []Dim{{Param: "N"}, {Value: 2}}}},
			Initializers: []Tensor{
				{Name: "w", Dims: []int64{2}, Float: []float32{1.5, -2}},
				{Name: "shape", Dims: []int64{2}, Int64: []int64{-1, 2}},
			},
			Nodes: []Node{
				{Name: "add", OpType: "Add", Inputs: []string{"x", "w"}, Outputs: []string{"y"}},
				{Name: "reshape", OpType: "Reshape", Inputs: []string{"y", "shape"}, Outputs: []string{"z"},
					Attrs: []Attr{Int("allowzero", 0), Ints("unused", 1, -1), Floating("alpha", 0.5), String("mode", "m")}},
			},
			Outputs: []ValueInfo{{Name: "z", Elem: Float, Dims: []Dim{{Param: "N"}, {Value: 2}}}},
		},
	}
}

func TestMarshalStructure(t *testing.T) {
	b, err := tinyModel().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	model := fields(t, b)
	if f := only(t, model, 1); len(f) != 1 || f[0].v != 7 {
		t.Fatalf("ir_version %v", f)
	}
	if f := only(t, model, 2); len(f) != 1 || string(f[0].b) != "test" {
		t.Fatalf("producer_name %v", f)
	}
	opset := only(t, model, 8)
	if len(opset) != 1 {
		t.Fatalf("opset_import %v", opset)
	}
	if f := fields(t, opset[0].b); len(f) != 1 || f[0].num != 2 || f[0].v != 13 {
		t.Fatalf("opset %v", f)
	}
	meta := only(t, model, 14)
	if len(meta) != 1 || !bytes.Contains(meta[0].b, []byte("unit test")) {
		t.Fatalf("metadata_props %v", meta)
	}
	graph := fields(t, only(t, model, 7)[0].b)
	nodes := only(t, graph, 1)
	if len(nodes) != 2 {
		t.Fatalf("%d nodes", len(nodes))
	}
	reshape := fields(t, nodes[1].b)
	var ins []string
	for _, f := range only(t, reshape, 1) {
		ins = append(ins, string(f.b))
	}
	if !slices.Equal(ins, []string{"y", "shape"}) || string(only(t, reshape, 4)[0].b) != "Reshape" {
		t.Fatalf("reshape node %v", reshape)
	}
	attrs := only(t, reshape, 5)
	if len(attrs) != 4 {
		t.Fatalf("%d attributes", len(attrs))
	}
	ints := fields(t, attrs[1].b)
	var vals []int64
	for _, f := range only(t, ints, 8) {
		vals = append(vals, int64(f.v))
	}
	if !slices.Equal(vals, []int64{1, -1}) || only(t, ints, 20)[0].v != uint64(AttrInts) {
		t.Fatalf("ints attribute %v", ints)
	}
	if f := fields(t, attrs[2].b); math.Float32frombits(uint32(only(t, f, 2)[0].v)) != 0.5 {
		t.Fatalf("float attribute %v", f)
	}
	inits := only(t, graph, 5)
	w := fields(t, inits[0].b)
	raw := only(t, w, 9)[0].b
	if len(raw) != 8 || math.Float32frombits(binary.LittleEndian.Uint32(raw[4:])) != -2 || only(t, w, 2)[0].v != uint64(Float) {
		t.Fatalf("float initializer %v", w)
	}
	shape := fields(t, inits[1].b)
	if raw := only(t, shape, 9)[0].b; int64(binary.LittleEndian.Uint64(raw)) != -1 || only(t, shape, 2)[0].v != uint64(Int64) {
		t.Fatalf("int64 initializer %v", shape)
	}
	in := fields(t, only(t, graph, 11)[0].b)
	typ := fields(t, fields(t, only(t, in, 2)[0].b)[0].b)
	dims := only(t, fields(t, only(t, typ, 2)[0].b), 1)
	if len(dims) != 2 || string(fields(t, dims[0].b)[0].b) != "N" || fields(t, dims[1].b)[0].v != 2 {
		t.Fatalf("input shape %v", dims)
	}
}

func TestMarshalIsDeterministic(t *testing.T) {
	a, err := tinyModel().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := tinyModel().Marshal()
	if !bytes.Equal(a, b) {
		t.Fatal("two encodings of the same model differ")
	}
}

func TestCheckRefuses(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(m *Model)
		want   string
	}{
		{"undefined input", func(m *Model) { m.Graph.Nodes[0].Inputs[1] = "nope" }, `reads "nope"`},
		{"out of order", func(m *Model) { m.Graph.Nodes[0], m.Graph.Nodes[1] = m.Graph.Nodes[1], m.Graph.Nodes[0] }, `reads "y"`},
		{"defined twice", func(m *Model) { m.Graph.Nodes[1].Outputs[0] = "y" }, "defined twice"},
		{"wrong length", func(m *Model) { m.Graph.Initializers[0].Dims = []int64{3} }, "2 values for dims [3]"},
		{"both kinds", func(m *Model) { m.Graph.Initializers[0].Int64 = []int64{1} }, "exactly one"},
		{"output of nothing", func(m *Model) { m.Graph.Outputs[0].Name = "q" }, "computed by no node"},
		{"no op type", func(m *Model) { m.Graph.Nodes[0].OpType = "" }, "no op type"},
		{"no opset", func(m *Model) { m.Opset = 0 }, "required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := tinyModel()
			tc.change(m)
			_, err := m.Marshal()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}
