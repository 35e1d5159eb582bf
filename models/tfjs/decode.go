package tfjs

import (
	"encoding/binary"
	"fmt"
	"io/fs"
	"math"
	"path"
	"slices"
)

// MaxShardBytes bounds one shard file read by [Load] (TensorFlow.js writes 4 MiB shards).
const MaxShardBytes = 1 << 30

// MaxManifestBytes bounds the manifest file read by [Load].
const MaxManifestBytes = 64 << 20

// Tensor is one decoded weight. Exactly one of Float32 and Int32 is set, per DType, with as
// many elements as the product of Shape.
type Tensor struct {
	Name    string
	Shape   []int
	DType   DType
	Float32 []float32
	Int32   []int32
}

// Weights is every tensor of a manifest, in manifest order.
type Weights struct {
	tensors []Tensor
	index   map[string]int
}

// Names lists the tensors in manifest order.
func (w *Weights) Names() []string {
	out := make([]string, len(w.tensors))
	for i, t := range w.tensors {
		out[i] = t.Name
	}
	return out
}

// Tensor returns the named tensor.
func (w *Weights) Tensor(name string) (Tensor, bool) {
	i, ok := w.index[name]
	if !ok {
		return Tensor{}, false
	}
	return w.tensors[i], true
}

// Float32 returns the values of the named float32 tensor after checking its shape.
func (w *Weights) Float32(name string, shape ...int) ([]float32, error) {
	t, ok := w.Tensor(name)
	if !ok {
		return nil, fmt.Errorf("tfjs: no weight %q: %w", name, ErrInvalid)
	}
	if t.DType != Float32 {
		return nil, fmt.Errorf("tfjs: weight %q is %s, want float32: %w", name, t.DType, ErrInvalid)
	}
	if !slices.Equal(t.Shape, shape) {
		return nil, fmt.Errorf("tfjs: weight %q has shape %v, want %v: %w", name, t.Shape, shape, ErrInvalid)
	}
	return t.Float32, nil
}

// Decode reads every group's shards through shard (called once per path, in manifest order)
// and decodes the weights. A group's shards must hold exactly the bytes its weights need.
func Decode(groups []Group, shard func(path string) ([]byte, error)) (*Weights, error) {
	w := &Weights{index: map[string]int{}}
	for gi, g := range groups {
		var data []byte
		for _, p := range g.Paths {
			b, err := shard(p)
			if err != nil {
				return nil, fmt.Errorf("tfjs: group %d: shard %s: %w", gi, p, err)
			}
			data = append(data, b...)
		}
		ts, err := DecodeGroup(g, data)
		if err != nil {
			return nil, fmt.Errorf("tfjs: group %d: %w", gi, err)
		}
		for _, t := range ts {
			if _, dup := w.index[t.Name]; dup {
				return nil, fmt.Errorf("tfjs: weight %q appears twice: %w", t.Name, ErrInvalid)
			}
			w.index[t.Name] = len(w.tensors)
			w.tensors = append(w.tensors, t)
		}
	}
	return w, nil
}

// DecodeGroup decodes one group's weights from data, the concatenation of its shards.
func DecodeGroup(g Group, data []byte) ([]Tensor, error) {
	out := make([]Tensor, 0, len(g.Weights))
	off := 0
	for _, spec := range g.Weights {
		if err := spec.check(); err != nil {
			return nil, err
		}
		n, _ := spec.elements()
		size := spec.storedSize()
		if n > (len(data)-off)/size {
			return nil, fmt.Errorf("tfjs: weight %q needs %d bytes at offset %d, shards hold %d (truncated): %w", spec.Name, n*size, off, len(data), ErrInvalid)
		}
		t := Tensor{Name: spec.Name, Shape: slices.Clone(spec.Shape), DType: spec.DType}
		decodeValues(&t, spec, data[off:off+n*size], n)
		off += n * size
		out = append(out, t)
	}
	if off != len(data) {
		return nil, fmt.Errorf("tfjs: the weights use %d bytes, the shards hold %d: %w", off, len(data), ErrInvalid)
	}
	return out, nil
}

// decodeValues fills t from b, which holds exactly n stored elements of spec (already checked).
func decodeValues(t *Tensor, spec WeightSpec, b []byte, n int) {
	q := spec.Quantization
	stored := func(i int) uint32 {
		if q.DType == "uint8" {
			return uint32(b[i])
		}
		return uint32(binary.LittleEndian.Uint16(b[2*i:]))
	}
	switch {
	case q == nil && spec.DType == Float32:
		t.Float32 = make([]float32, n)
		for i := range t.Float32 {
			t.Float32[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
	case q == nil:
		t.Int32 = make([]int32, n)
		for i := range t.Int32 {
			t.Int32[i] = int32(binary.LittleEndian.Uint32(b[4*i:]))
		}
	case q.DType == "float16":
		t.Float32 = make([]float32, n)
		for i := range t.Float32 {
			t.Float32[i] = halfToFloat(binary.LittleEndian.Uint16(b[2*i:]))
		}
	case spec.DType == Float32:
		// TensorFlow.js computes q·scale + min in float64 and stores it in a Float32Array.
		t.Float32 = make([]float32, n)
		for i := range t.Float32 {
			t.Float32[i] = float32(float64(stored(i))*(*q.Scale) + *q.Min)
		}
	default:
		t.Int32 = make([]int32, n)
		for i := range t.Int32 {
			// JavaScript's Math.round rounds halves up; Int32Array wraps out-of-range values
			// and stores 0 for infinities.
			v := math.Floor(float64(stored(i))*(*q.Scale) + *q.Min + 0.5)
			if isBad(v) {
				continue
			}
			t.Int32[i] = int32(int64(math.Mod(v, 1<<32)))
		}
	}
}

// halfToFloat converts an IEEE 754 binary16 value to float32.
func halfToFloat(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // infinity or NaN
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp != 0: // normal
		return math.Float32frombits(sign | (exp+112)<<23 | mant<<13)
	case mant == 0: // signed zero
		return math.Float32frombits(sign)
	}
	// Subnormal half: mant·2⁻²⁴, exact in float32.
	v := float32(mant) * (1.0 / (1 << 24))
	if sign != 0 {
		v = -v
	}
	return v
}

// Load reads a weights manifest and its shards from fsys. Shard paths are relative to the
// manifest's directory and must stay inside it; each shard may hold at most MaxShardBytes.
func Load(fsys fs.FS, manifest string) (*Weights, error) {
	if info, err := fs.Stat(fsys, manifest); err == nil && info.Size() > MaxManifestBytes {
		return nil, fmt.Errorf("tfjs: %s: %d bytes, more than %d: %w", manifest, info.Size(), MaxManifestBytes, ErrInvalid)
	}
	data, err := fs.ReadFile(fsys, manifest)
	if err != nil {
		return nil, fmt.Errorf("tfjs: %w", err)
	}
	groups, err := ParseManifest(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", manifest, err)
	}
	dir := path.Dir(manifest)
	w, err := Decode(groups, func(p string) ([]byte, error) {
		full := path.Join(dir, p)
		info, err := fs.Stat(fsys, full)
		if err != nil {
			return nil, err
		}
		if info.Size() > MaxShardBytes {
			return nil, fmt.Errorf("%d bytes, more than %d: %w", info.Size(), MaxShardBytes, ErrInvalid)
		}
		return fs.ReadFile(fsys, full)
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", manifest, err)
	}
	return w, nil
}
