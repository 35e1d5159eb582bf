// Package onnxwrite writes ONNX models: the few protobuf messages of onnx.proto a converted
// feed-forward network needs (ModelProto, GraphProto, NodeProto, AttributeProto, TensorProto,
// ValueInfoProto), encoded with protowire. It is pure Go and knows no operator semantics.
//
// The bytes are deterministic: every message is written field by field in field-number order
// from slices (never maps), and tensors are stored as little-endian raw_data, so the same
// [Model] always encodes to the same bytes, which lets a converted model be pinned by sha256.
package onnxwrite

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// DataType is onnx.TensorProto.DataType.
type DataType int32

const (
	Float DataType = 1 // float32
	Int64 DataType = 7
)

// Model is an ONNX ModelProto with one graph in the default operator set.
type Model struct {
	IRVersion       int64 // e.g. 7 for opset 13
	Opset           int64 // version of the default ("ai.onnx") operator set
	ProducerName    string
	ProducerVersion string
	DocString       string
	Metadata        []KeyValue // metadata_props, in this order
	Graph           Graph
}

// KeyValue is one StringStringEntryProto.
type KeyValue struct{ Key, Value string }

// Graph is a GraphProto: nodes in topological order, initializers, inputs and outputs.
type Graph struct {
	Name         string
	Nodes        []Node
	Initializers []Tensor
	Inputs       []ValueInfo
	Outputs      []ValueInfo
}

// Node is a NodeProto of the default domain.
type Node struct {
	Name    string
	OpType  string
	Inputs  []string
	Outputs []string
	Attrs   []Attr
}

// AttrType is onnx.AttributeProto.AttributeType.
type AttrType int32

const (
	AttrFloat  AttrType = 1
	AttrInt    AttrType = 2
	AttrString AttrType = 3
	AttrFloats AttrType = 6
	AttrInts   AttrType = 7
)

// Attr is an AttributeProto holding one float, int, string or a list of floats or ints.
type Attr struct {
	Name   string
	Type   AttrType
	F      float32
	I      int64
	S      string
	Floats []float32
	Ints   []int64
}

// Int is an INT attribute.
func Int(name string, v int64) Attr { return Attr{Name: name, Type: AttrInt, I: v} }

// Ints is an INTS attribute.
func Ints(name string, v ...int64) Attr { return Attr{Name: name, Type: AttrInts, Ints: v} }

// Floating is a FLOAT attribute.
func Floating(name string, v float32) Attr { return Attr{Name: name, Type: AttrFloat, F: v} }

// String is a STRING attribute.
func String(name, v string) Attr { return Attr{Name: name, Type: AttrString, S: v} }

// Tensor is a TensorProto initializer: float32 values (Float) or int64 values (Int64), in
// row-major order, as many as the product of Dims (one for a scalar, Dims empty).
type Tensor struct {
	Name  string
	Dims  []int64
	Float []float32
	Int64 []int64
}

// ValueInfo is a ValueInfoProto of a tensor type: an element type and a shape whose
// dimensions are fixed (Value) or symbolic (Param).
type ValueInfo struct {
	Name string
	Elem DataType
	Dims []Dim
}

// Dim is one dimension of a ValueInfo's shape.
type Dim struct {
	Value int64
	Param string // used when not empty
}

// Check reports structural mistakes a converter can make: an initializer whose length does
// not match its dims, a name defined twice, or a node input defined by nothing before it.
func (g *Graph) Check() error {
	defined := map[string]bool{}
	define := func(name, what string) error {
		if name == "" {
			return fmt.Errorf("onnxwrite: %s with an empty name", what)
		}
		if defined[name] {
			return fmt.Errorf("onnxwrite: %q is defined twice (%s)", name, what)
		}
		defined[name] = true
		return nil
	}
	for _, in := range g.Inputs {
		if err := define(in.Name, "graph input"); err != nil {
			return err
		}
	}
	for _, t := range g.Initializers {
		if err := define(t.Name, "initializer"); err != nil {
			return err
		}
		n := int64(1)
		for _, d := range t.Dims {
			if d < 0 {
				return fmt.Errorf("onnxwrite: initializer %q has dims %v", t.Name, t.Dims)
			}
			n *= d
		}
		if (t.Float == nil) == (t.Int64 == nil) {
			return fmt.Errorf("onnxwrite: initializer %q must hold exactly one of Float and Int64", t.Name)
		}
		if got := int64(len(t.Float) + len(t.Int64)); got != n {
			return fmt.Errorf("onnxwrite: initializer %q has %d values for dims %v", t.Name, got, t.Dims)
		}
	}
	for _, n := range g.Nodes {
		if n.OpType == "" {
			return fmt.Errorf("onnxwrite: node %q has no op type", n.Name)
		}
		for _, in := range n.Inputs {
			if in != "" && !defined[in] {
				return fmt.Errorf("onnxwrite: node %q (%s) reads %q before anything defines it", n.Name, n.OpType, in)
			}
		}
		for _, out := range n.Outputs {
			if err := define(out, "output of node "+n.Name); err != nil {
				return err
			}
		}
	}
	for _, out := range g.Outputs {
		if !defined[out.Name] {
			return fmt.Errorf("onnxwrite: graph output %q is computed by no node", out.Name)
		}
	}
	return nil
}

// Marshal checks the graph and encodes the model.
func (m *Model) Marshal() ([]byte, error) {
	if m.IRVersion <= 0 || m.Opset <= 0 {
		return nil, errors.New("onnxwrite: IRVersion and Opset are required")
	}
	if err := m.Graph.Check(); err != nil {
		return nil, err
	}
	var b []byte
	b = appendInt(b, 1, m.IRVersion)
	b = appendString(b, 2, m.ProducerName)
	b = appendString(b, 3, m.ProducerVersion)
	b = appendString(b, 6, m.DocString)
	b = appendMessage(b, 7, m.Graph.encode())
	var opset []byte
	opset = appendInt(opset, 2, m.Opset) // domain (1) empty: the default operator set
	b = protowire.AppendTag(b, 8, protowire.BytesType)
	b = protowire.AppendBytes(b, opset)
	for _, kv := range m.Metadata {
		var e []byte
		e = appendString(e, 1, kv.Key)
		e = appendString(e, 2, kv.Value)
		b = appendMessage(b, 14, e)
	}
	return b, nil
}

func (g *Graph) encode() []byte {
	var b []byte
	for _, n := range g.Nodes {
		b = appendMessage(b, 1, n.encode())
	}
	b = appendString(b, 2, g.Name)
	for _, t := range g.Initializers {
		b = appendMessage(b, 5, t.encode())
	}
	for _, v := range g.Inputs {
		b = appendMessage(b, 11, v.encode())
	}
	for _, v := range g.Outputs {
		b = appendMessage(b, 12, v.encode())
	}
	return b
}

func (n *Node) encode() []byte {
	var b []byte
	for _, in := range n.Inputs {
		b = protowire.AppendTag(b, 1, protowire.BytesType)
		b = protowire.AppendString(b, in)
	}
	for _, out := range n.Outputs {
		b = protowire.AppendTag(b, 2, protowire.BytesType)
		b = protowire.AppendString(b, out)
	}
	b = appendString(b, 3, n.Name)
	b = appendString(b, 4, n.OpType)
	for _, a := range n.Attrs {
		b = appendMessage(b, 5, a.encode())
	}
	return b
}

func (a *Attr) encode() []byte {
	var b []byte
	b = appendString(b, 1, a.Name)
	switch a.Type {
	case AttrFloat:
		b = protowire.AppendTag(b, 2, protowire.Fixed32Type)
		b = protowire.AppendFixed32(b, math.Float32bits(a.F))
	case AttrInt:
		b = protowire.AppendTag(b, 3, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(a.I))
	case AttrString:
		b = protowire.AppendTag(b, 4, protowire.BytesType)
		b = protowire.AppendString(b, a.S)
	case AttrFloats:
		// onnx.proto is proto2: repeated scalars are written unpacked, one tag each.
		for _, f := range a.Floats {
			b = protowire.AppendTag(b, 7, protowire.Fixed32Type)
			b = protowire.AppendFixed32(b, math.Float32bits(f))
		}
	case AttrInts:
		for _, i := range a.Ints {
			b = protowire.AppendTag(b, 8, protowire.VarintType)
			b = protowire.AppendVarint(b, uint64(i))
		}
	}
	b = protowire.AppendTag(b, 20, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(a.Type))
	return b
}

func (t *Tensor) encode() []byte {
	var b []byte
	for _, d := range t.Dims {
		b = protowire.AppendTag(b, 1, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(d))
	}
	var raw []byte
	if t.Float != nil {
		b = appendInt(b, 2, int64(Float))
		raw = make([]byte, 4*len(t.Float))
		for i, f := range t.Float {
			binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(f))
		}
	} else {
		b = appendInt(b, 2, int64(Int64))
		raw = make([]byte, 8*len(t.Int64))
		for i, v := range t.Int64 {
			binary.LittleEndian.PutUint64(raw[8*i:], uint64(v))
		}
	}
	b = appendString(b, 8, t.Name)
	b = protowire.AppendTag(b, 9, protowire.BytesType)
	b = protowire.AppendBytes(b, raw)
	return b
}

func (v *ValueInfo) encode() []byte {
	var shape []byte
	for _, d := range v.Dims {
		var dim []byte
		if d.Param != "" {
			dim = appendString(dim, 2, d.Param)
		} else {
			dim = protowire.AppendTag(dim, 1, protowire.VarintType)
			dim = protowire.AppendVarint(dim, uint64(d.Value))
		}
		shape = appendMessage(shape, 1, dim)
	}
	var tensorType []byte
	tensorType = appendInt(tensorType, 1, int64(v.Elem))
	tensorType = protowire.AppendTag(tensorType, 2, protowire.BytesType) // shape, even when empty (a scalar)
	tensorType = protowire.AppendBytes(tensorType, shape)
	var typ []byte
	typ = appendMessage(typ, 1, tensorType)
	var b []byte
	b = appendString(b, 1, v.Name)
	b = appendMessage(b, 2, typ)
	return b
}

// appendString writes a string field, omitting it when empty.
func appendString(b []byte, num protowire.Number, s string) []byte {
	if s == "" {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

// appendInt writes an int64 or enum field, omitting it when zero.
func appendInt(b []byte, num protowire.Number, v int64) []byte {
	if v == 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, uint64(v))
}

func appendMessage(b []byte, num protowire.Number, msg []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, msg)
}
