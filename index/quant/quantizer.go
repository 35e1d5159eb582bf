package quant

import (
	"errors"
	"fmt"
	"math"
	"sync"
)

// Kind says how a vector becomes a code.
type Kind uint8

const (
	// Rotated8 rotates the vector (a Rotation of the Config's seed), then stores each
	// coordinate in 8 bits with the vector's own scale and offset. The default.
	Rotated8 Kind = 1
	// Plain8 stores the coordinates as they are, 8 bits each with the vector's own scale and
	// offset: the comparison that shows what rotating buys.
	Plain8 Kind = 2
)

func (k Kind) String() string {
	switch k {
	case Rotated8:
		return "rotated8"
	case Plain8:
		return "plain8"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Config identifies a quantizer. Codes and queries made under equal Configs go together; it is
// comparable with ==.
type Config struct {
	Kind Kind
	Dim  int
	// Seed chooses the rotation; Plain8 has none and keeps 0.
	Seed uint64
}

// Validate reports every problem with c at once.
func (c Config) Validate() error {
	var errs []error
	if c.Kind != Rotated8 && c.Kind != Plain8 {
		errs = append(errs, fmt.Errorf("unknown kind %d", c.Kind))
	}
	if c.Dim < 1 || c.Dim > MaxDim {
		errs = append(errs, fmt.Errorf("dimension %d is not in 1..%d", c.Dim, MaxDim))
	}
	if c.Kind == Plain8 && c.Seed != 0 {
		errs = append(errs, errors.New("plain8 takes no seed"))
	}
	if len(errs) > 0 {
		return fmt.Errorf("quant: config: %w", errors.Join(errs...))
	}
	return nil
}

// Errors of Encode and Prepare; test with errors.Is.
var (
	// ErrDimension means a vector's length is not the quantizer's dimension.
	ErrDimension = errors.New("quant: dimension mismatch")
	// ErrOutOfRange means a vector holds a NaN, an infinity or a coordinate beyond
	// ±MaxCoordinate, which no code can represent.
	ErrOutOfRange = errors.New("quant: vector out of range")
)

// MaxCoordinate bounds the coordinates Encode and Prepare accept (embeddings are unit vectors,
// far inside it). It keeps every sum the estimates form finite in float32: a rotation grows a
// coordinate at most √MaxDim = 256 times, and maxParam bounds the resulting Params, which
// ReadCodes checks in turn.
const MaxCoordinate = 1 << 40

// maxParam bounds |Offset| and 255·Scale: 2·256·MaxCoordinate, rounded up.
const maxParam = 1e15

// Params are the per-vector terms that turn a code back into numbers: coordinate i of the
// (rotated) vector is about Offset + Scale·code[i].
type Params struct {
	Scale  float32
	Offset float32
	// Sum is Σ code[i], the term the code-to-code (symmetric) estimate needs.
	Sum uint32
}

// encodeRule picks a code's scale and offset. The package uses ruleLSQ; ruleMinMax stays for
// the measurement that chose it (notes: eval_test.go).
type encodeRule uint8

const (
	// ruleMinMax maps the vector's minimum to code 0 and its maximum to 255.
	ruleMinMax encodeRule = iota
	// ruleLSQ keeps ruleMinMax's codes, then refits scale and offset by least squares, the
	// line through the (code, value) points: it lowers the reconstruction error for free.
	ruleLSQ
)

// Quantizer turns float32 vectors into 8-bit codes and prepares queries against them. It is
// immutable and safe for concurrent use.
type Quantizer struct {
	cfg  Config
	rot  *Rotation // nil for Plain8
	rule encodeRule
	// scratch holds rotated vectors during Encode.
	scratch sync.Pool
}

// New returns the quantizer of cfg.
func New(cfg Config) (*Quantizer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	q := &Quantizer{cfg: cfg, rule: ruleLSQ}
	if cfg.Kind == Rotated8 {
		rot, err := NewRotation(cfg.Dim, cfg.Seed)
		if err != nil {
			return nil, err
		}
		q.rot = rot
	}
	q.scratch.New = func() any { s := make([]float32, cfg.Dim); return &s }
	return q, nil
}

// Config returns the quantizer's configuration.
func (q *Quantizer) Config() Config { return q.cfg }

// CodeSize is the number of bytes of one code (Params not included).
func (q *Quantizer) CodeSize() int { return q.cfg.Dim }

// check refuses a vector of the wrong length or with a non-finite coordinate.
func (q *Quantizer) check(v []float32) error {
	if len(v) != q.cfg.Dim {
		return fmt.Errorf("%w: vector has %d dimensions, quantizer %d", ErrDimension, len(v), q.cfg.Dim)
	}
	for i, x := range v {
		if !(abs32(x) <= MaxCoordinate) { // also true for NaN
			return fmt.Errorf("%w: coordinate %d is %g", ErrOutOfRange, i, x)
		}
	}
	return nil
}

// transform writes the vector the codes describe (rotated or not) into dst.
func (q *Quantizer) transform(dst, v []float32) {
	if q.rot != nil {
		q.rot.Apply(dst, v)
	} else {
		copy(dst, v)
	}
}

// Encode writes v's code into dst (CodeSize bytes) and returns its Params.
func (q *Quantizer) Encode(dst []uint8, v []float32) (Params, error) {
	if err := q.check(v); err != nil {
		return Params{}, err
	}
	if len(dst) < q.CodeSize() {
		return Params{}, fmt.Errorf("%w: code buffer has %d bytes, need %d", ErrDimension, len(dst), q.CodeSize())
	}
	sp := q.scratch.Get().(*[]float32)
	defer q.scratch.Put(sp)
	y := *sp
	q.transform(y, v)
	return encode(dst[:len(y)], y, 255, q.rule), nil
}

// encode quantizes y to codes 0..levels with y's own range (levels 255: 8 bits; the
// measurement also tries 15, 4 bits).
func encode(dst []uint8, y []float32, levels int, rule encodeRule) Params {
	lo, hi := y[0], y[0]
	for _, x := range y {
		lo, hi = min(lo, x), max(hi, x)
	}
	if hi == lo {
		clear(dst)
		return Params{Offset: lo}
	}
	top := float32(levels)
	scale := (hi - lo) / top
	inv := 1 / scale
	var sum uint32
	for i, x := range y {
		c := uint8(min(top, max(0, (x-lo)*inv+0.5)))
		dst[i] = c
		sum += uint32(c)
	}
	p := Params{Scale: scale, Offset: lo, Sum: sum}
	if rule == ruleLSQ {
		p.Scale, p.Offset = refit(dst, y, p)
	}
	return p
}

// refit returns the least-squares line value ≈ offset + scale·code through the points, in
// float64: the sums over hundreds of coordinates would lose digits in float32.
func refit(codes []uint8, y []float32, p Params) (scale, offset float32) {
	n := float64(len(y))
	mc := float64(p.Sum) / n
	var my, scc, scy float64
	for _, x := range y {
		my += float64(x)
	}
	my /= n
	for i, x := range y {
		dc := float64(codes[i]) - mc
		scc += dc * dc
		scy += dc * (float64(x) - my)
	}
	if scc == 0 {
		return p.Scale, p.Offset
	}
	s := scy / scc
	return float32(s), float32(my - s*mc)
}

// Query is a query vector prepared for estimating its dot products with codes: rotated once,
// and quantized to int8 for the integer kernel. Prepare fills it; reuse one per goroutine to
// avoid allocating. A Query is not safe for concurrent use while Prepare runs.
type Query struct {
	cfg Config
	// y is the transformed query; ints ≈ y/scale, rounded to int8.
	y     []float32
	ints  []int8
	scale float32
	// sumY and sumInts are Σy and Σints: the offset's share of every estimate.
	sumY    float32
	sumInts int32
}

// Config returns the configuration of the quantizer that prepared the query.
func (qq *Query) Config() Config { return qq.cfg }

// Prepare makes dst the query for v, reusing dst's buffers. dst may be a zero Query.
func (q *Quantizer) Prepare(dst *Query, v []float32) error {
	if err := q.check(v); err != nil {
		return err
	}
	dim := q.cfg.Dim
	if cap(dst.y) < dim {
		dst.y, dst.ints = make([]float32, dim), make([]int8, dim)
	}
	dst.cfg = q.cfg
	dst.y, dst.ints = dst.y[:dim], dst.ints[:dim]
	q.transform(dst.y, v)
	var maxAbs, sumY float32
	for _, x := range dst.y {
		maxAbs = max(maxAbs, abs32(x))
		sumY += x
	}
	dst.sumY = sumY
	dst.scale, dst.sumInts = 0, 0
	if maxAbs == 0 {
		clear(dst.ints)
		return nil
	}
	// Symmetric around zero, ±127: a rotated query's coordinates are centred, so an offset would
	// buy little, and without one the estimate needs no per-query correction term per code.
	dst.scale = maxAbs / 127
	inv := 1 / dst.scale
	var s int32
	ints := dst.ints[:len(dst.y)]
	for i, x := range dst.y {
		// Rounds half away from zero (as math.Round, which is not a single instruction here);
		// the conversion truncates toward zero.
		v := x * inv
		var p int8
		if v >= 0 {
			p = int8(min(127, v+0.5))
		} else {
			p = int8(max(-127, v-0.5))
		}
		ints[i] = p
		s += int32(p)
	}
	dst.sumInts = s
	return nil
}

func abs32(x float32) float32 { return math.Float32frombits(math.Float32bits(x) &^ (1 << 31)) }

// Similarity estimates the dot product of the query with the vector whose code and Params are
// given (a code made under the query's Config), with the integer kernel:
//
//	⟨q, v⟩ ≈ Σ qscale·qint[i] · (Offset + Scale·code[i]) = qscale·(Scale·Σ qint·code + Offset·Σ qint)
func (qq *Query) Similarity(code []uint8, p Params) float32 {
	d := dotU8I8(code, qq.ints)
	return qq.scale * (p.Scale*float32(d) + p.Offset*float32(qq.sumInts))
}

// SimilarityFloat estimates the same dot product with the float query against the code
// (dotF32U8): no error from quantizing the query, at about twice the kernel time.
func (qq *Query) SimilarityFloat(code []uint8, p Params) float32 {
	return p.Scale*dotF32U8(qq.y, code) + p.Offset*qq.sumY
}

// SimilarityCodes estimates the dot product of two vectors from their codes alone (for a graph
// built on codes): the product of the two reconstructions, from one exact integer dot product.
func SimilarityCodes(a []uint8, pa Params, b []uint8, pb Params) float32 {
	n := float64(len(a))
	d := float64(dotU8U8(a, b))
	sa, sb := float64(pa.Scale), float64(pb.Scale)
	oa, ob := float64(pa.Offset), float64(pb.Offset)
	return float32(sa*sb*d + sa*ob*float64(pa.Sum) + oa*sb*float64(pb.Sum) + n*oa*ob)
}
