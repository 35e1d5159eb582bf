package quant

import (
	"fmt"
	"math"
	"math/bits"
)

// rotationRounds is how many sign-flip-and-Hadamard rounds a Rotation applies. Three is what
// the randomised-Hadamard literature uses (FJLT, QuaRot, RaBitQ's FhtKac): one round leaves a
// vector that lines up with a Hadamard row concentrated; with random signs before each of three,
// no fixed input can stay spiky.
const rotationRounds = 3

// MaxDim bounds the dimension of a Rotation and a Quantizer. The integer kernels are exact up to
// 65,793 uint8·int8 products (255·128 each in an int32), so the bound keeps a safe margin.
const MaxDim = 1 << 16

// Rotation is a seeded random orthogonal transform of R^dim: rounds of a random sign per
// coordinate followed by a fast Walsh-Hadamard transform. It spreads a vector's energy evenly
// over its coordinates, so that one scale per vector quantizes every coordinate well, and it
// keeps dot products, so similarities can be computed in the rotated space.
//
// Dimensions that are not a power of two are not padded: each round's Hadamard transform covers
// a window of the largest power of two, block ≤ dim, alternately the first block coordinates and
// the last block. The windows overlap (dim < 2·block), so three rounds mix every coordinate with
// every other, and the codes stay dim bytes (padding 640 to 1024 would cost 60 % more memory and
// kernel time; the error it saves is measured in the package's notes).
//
// The transform depends only on (dim, seed) and on the generator below, which is fixed by this
// package's format: stored codes name their seed, never their signs. A Rotation is immutable and
// safe for concurrent use.
type Rotation struct {
	dim, block int
	// mul[r][i] is round r's sign for coordinate i, times 1/√block inside round r's window (the
	// Hadamard transform's normalisation, applied before it, in the same pass as the sign).
	mul [rotationRounds][]float32
}

// NewRotation returns the rotation of R^dim for seed; dim is 1 to MaxDim.
func NewRotation(dim int, seed uint64) (*Rotation, error) {
	if dim < 1 || dim > MaxDim {
		return nil, fmt.Errorf("quant: rotation dimension %d is not in 1..%d", dim, MaxDim)
	}
	r := &Rotation{dim: dim, block: 1 << (bits.Len(uint(dim)) - 1)}
	norm := float32(1 / math.Sqrt(float64(r.block)))
	g := splitmix64{state: seed}
	for k := range r.mul {
		m := make([]float32, dim)
		lo, hi := r.window(k)
		var w uint64
		for i := range m {
			if i%64 == 0 {
				w = g.next()
			}
			m[i] = 1
			if w&1 == 1 {
				m[i] = -1
			}
			w >>= 1
			if i >= lo && i < hi {
				m[i] *= norm
			}
		}
		r.mul[k] = m
	}
	return r, nil
}

// Dim is the dimension the rotation acts on.
func (r *Rotation) Dim() int { return r.dim }

// window is the range of coordinates round k's Hadamard transform covers.
func (r *Rotation) window(k int) (lo, hi int) {
	if k%2 == 0 {
		return 0, r.block
	}
	return r.dim - r.block, r.dim
}

// Apply writes the rotation of src to dst. Both have Dim elements; they may be the same slice.
func (r *Rotation) Apply(dst, src []float32) {
	dst, src = dst[:r.dim], src[:r.dim]
	for k := range r.mul {
		m := r.mul[k]
		if k == 0 {
			for i, x := range src {
				dst[i] = x * m[i]
			}
		} else {
			m = m[:len(dst)]
			for i := range dst {
				dst[i] *= m[i]
			}
		}
		lo, hi := r.window(k)
		fwht(dst[lo:hi])
	}
}

// Invert writes the inverse rotation of src to dst (Apply's rounds backwards; the normalised
// Hadamard transform is its own inverse).
func (r *Rotation) Invert(dst, src []float32) {
	dst, src = dst[:r.dim], src[:r.dim]
	copy(dst, src)
	for k := rotationRounds - 1; k >= 0; k-- {
		lo, hi := r.window(k)
		fwht(dst[lo:hi])
		m := r.mul[k]
		for i := range dst {
			dst[i] *= m[i]
		}
	}
}

// fwht is the unnormalised Walsh-Hadamard transform of x in place; len(x) is a power of two.
// The first two stages are done together (a 4-point transform), which saves the passes whose
// inner loops are shortest.
func fwht(x []float32) {
	n := len(x)
	h := 1
	if n >= 4 {
		for i := 0; i+4 <= n; i += 4 {
			a, b, c, d := x[i], x[i+1], x[i+2], x[i+3]
			s, t, u, v := a+b, a-b, c+d, c-d
			x[i], x[i+1], x[i+2], x[i+3] = s+u, t+v, s-u, t-v
		}
		h = 4
	}
	for ; h < n; h <<= 1 {
		for i := 0; i < n; i += 2 * h {
			a, b := x[i:i+h], x[i+h:i+2*h]
			b = b[:len(a)] // lets the compiler drop the bounds checks below
			for j := range a {
				u, v := a[j], b[j]
				a[j], b[j] = u+v, u-v
			}
		}
	}
}

// splitmix64 is the sign generator (Steele, Lea and Flood's SplitMix64): fixed here, not taken
// from math/rand, so that a seed written with a code means the same signs in every release.
type splitmix64 struct{ state uint64 }

func (g *splitmix64) next() uint64 {
	g.state += 0x9e3779b97f4a7c15
	z := g.state
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}
