package tfjs

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"path"
)

var (
	// ErrInvalid means a manifest or its shards are malformed or do not fit each other.
	ErrInvalid = errors.New("invalid tensorflow.js weights")
	// ErrUnsupported means a weight uses a dtype or quantization this package does not decode.
	ErrUnsupported = errors.New("unsupported tensorflow.js weight")
)

// MaxElements bounds one tensor's element count (1 GiB of float32), far above any face model's.
const MaxElements = 1 << 28

// DType is the element type of a decoded tensor.
type DType string

const (
	Float32 DType = "float32"
	Int32   DType = "int32"
)

// Group is one entry of a weights manifest: shard files and the weights stored in them.
type Group struct {
	Paths   []string     `json:"paths"`
	Weights []WeightSpec `json:"weights"`
}

// WeightSpec describes one stored weight.
type WeightSpec struct {
	Name         string        `json:"name"`
	Shape        []int         `json:"shape"`
	DType        DType         `json:"dtype"`
	Quantization *Quantization `json:"quantization,omitempty"`
}

// Quantization describes how a quantized weight is stored.
type Quantization struct {
	// DType is the storage type: "uint8", "uint16" (affine, with Scale and Min) or "float16".
	DType string `json:"dtype"`
	// Scale and Min map a stored integer q to q·Scale + Min.
	Scale *float64 `json:"scale,omitempty"`
	Min   *float64 `json:"min,omitempty"`
	// OriginalDType, when present, repeats the weight's own dtype.
	OriginalDType DType `json:"original_dtype,omitempty"`
}

// storedSize is the byte size of one stored element of w.
func (w WeightSpec) storedSize() int {
	if w.Quantization != nil {
		if w.Quantization.DType == "uint8" {
			return 1
		}
		return 2
	}
	return 4
}

// elements is the product of w's dimensions, checked against MaxElements.
func (w WeightSpec) elements() (int, error) {
	n := 1
	for _, d := range w.Shape {
		if d < 0 {
			return 0, fmt.Errorf("tfjs: weight %q: negative dimension in shape %v: %w", w.Name, w.Shape, ErrInvalid)
		}
		if d != 0 && n > MaxElements/d {
			return 0, fmt.Errorf("tfjs: weight %q: shape %v has more than %d elements: %w", w.Name, w.Shape, MaxElements, ErrInvalid)
		}
		n *= d
	}
	return n, nil
}

// check reports the first problem with one weight's description.
func (w WeightSpec) check() error {
	if w.Name == "" {
		return fmt.Errorf("tfjs: a weight has no name: %w", ErrInvalid)
	}
	if _, err := w.elements(); err != nil {
		return err
	}
	switch w.DType {
	case Float32, Int32:
	case "string", "bool", "complex64":
		return fmt.Errorf("tfjs: weight %q: dtype %s: %w", w.Name, w.DType, ErrUnsupported)
	default:
		return fmt.Errorf("tfjs: weight %q: unknown dtype %q: %w", w.Name, w.DType, ErrInvalid)
	}
	q := w.Quantization
	if q == nil {
		return nil
	}
	if q.OriginalDType != "" && q.OriginalDType != w.DType {
		return fmt.Errorf("tfjs: weight %q: quantization original_dtype %q, but dtype %q: %w", w.Name, q.OriginalDType, w.DType, ErrInvalid)
	}
	switch q.DType {
	case "uint8", "uint16":
		if q.Scale == nil || q.Min == nil {
			return fmt.Errorf("tfjs: weight %q: %s quantization without scale and min: %w", w.Name, q.DType, ErrInvalid)
		}
		if isBad(*q.Scale) || isBad(*q.Min) {
			return fmt.Errorf("tfjs: weight %q: quantization scale %v, min %v: %w", w.Name, *q.Scale, *q.Min, ErrInvalid)
		}
	case "float16":
		if w.DType != Float32 {
			return fmt.Errorf("tfjs: weight %q: float16 quantization of a %s weight: %w", w.Name, w.DType, ErrUnsupported)
		}
	default:
		return fmt.Errorf("tfjs: weight %q: quantization dtype %q: %w", w.Name, q.DType, ErrUnsupported)
	}
	return nil
}

func isBad(f float64) bool { return math.IsNaN(f) || math.IsInf(f, 0) }

// ParseManifest parses a weights manifest: the JSON array TensorFlow.js writes as
// *-weights_manifest.json, or a model.json object carrying it as "weightsManifest". It checks
// every group (at least one shard path, each a clean relative path) and every weight (a unique
// name, a shape of at most MaxElements elements, a known dtype and quantization).
func ParseManifest(data []byte) ([]Group, error) {
	var groups []Group
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) > 0 && trimmed[0] == '{' {
		var model struct {
			WeightsManifest []Group `json:"weightsManifest"`
		}
		if err := json.Unmarshal(trimmed, &model); err != nil {
			return nil, fmt.Errorf("tfjs: manifest: %v: %w", err, ErrInvalid)
		}
		if model.WeightsManifest == nil {
			return nil, fmt.Errorf("tfjs: manifest: a JSON object without weightsManifest: %w", ErrInvalid)
		}
		groups = model.WeightsManifest
	} else if err := json.Unmarshal(trimmed, &groups); err != nil {
		return nil, fmt.Errorf("tfjs: manifest: %v: %w", err, ErrInvalid)
	}
	if len(groups) == 0 {
		return nil, fmt.Errorf("tfjs: manifest has no weight groups: %w", ErrInvalid)
	}
	seen := map[string]bool{}
	for i, g := range groups {
		if len(g.Paths) == 0 {
			return nil, fmt.Errorf("tfjs: group %d names no shard: %w", i, ErrInvalid)
		}
		for _, p := range g.Paths {
			if !fs.ValidPath(p) || p == "." || path.Clean(p) != p {
				return nil, fmt.Errorf("tfjs: group %d: shard path %q is not a clean relative path: %w", i, p, ErrInvalid)
			}
		}
		for _, w := range g.Weights {
			if err := w.check(); err != nil {
				return nil, err
			}
			if seen[w.Name] {
				return nil, fmt.Errorf("tfjs: weight %q appears twice: %w", w.Name, ErrInvalid)
			}
			seen[w.Name] = true
		}
	}
	return groups, nil
}
