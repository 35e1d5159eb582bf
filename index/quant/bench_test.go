package quant

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/viterin/vek/vek32"
)

var sinkF float32
var sinkI int64

// BenchmarkKernels is ns per dot product of each kernel in each set this CPU runs, at the two
// embedding sizes, with vek32.Dot (the graph's dot today) as the reference.
func BenchmarkKernels(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{512, 640} {
		fa, fb, ua, ub, sb := kernelInputs(r, n)
		b.Run(fmt.Sprintf("dim=%d/f32/vek32", n), func(b *testing.B) {
			for b.Loop() {
				sinkF += vek32.Dot(fa, fb)
			}
		})
		for _, k := range kernelSets() {
			b.Run(fmt.Sprintf("dim=%d/f32/%s", n, k.name), func(b *testing.B) {
				for b.Loop() {
					sinkF += k.dotF32(fa, fb)
				}
			})
			b.Run(fmt.Sprintf("dim=%d/f32u8/%s", n, k.name), func(b *testing.B) {
				for b.Loop() {
					sinkF += k.dotF32U8(fa, ub)
				}
			})
			b.Run(fmt.Sprintf("dim=%d/u8i8/%s", n, k.name), func(b *testing.B) {
				for b.Loop() {
					sinkI += int64(k.dotU8I8(ua, sb))
				}
			})
			b.Run(fmt.Sprintf("dim=%d/u8u8/%s", n, k.name), func(b *testing.B) {
				for b.Loop() {
					sinkI += int64(k.dotU8U8(ua, ub))
				}
			})
		}
	}
}

// BenchmarkRotation is the cost of rotating one vector (once per query and per stored vector).
func BenchmarkRotation(b *testing.B) {
	for _, dim := range []int{512, 640, 1024} {
		rot, _ := NewRotation(dim, 1)
		v := randomVector(rand.New(rand.NewPCG(1, 2)), dim)
		out := make([]float32, dim)
		b.Run(fmt.Sprintf("dim=%d", dim), func(b *testing.B) {
			for b.Loop() {
				rot.Apply(out, v)
			}
		})
	}
}

// BenchmarkQuantizer is the cost of the operations the index will call: encoding a vector,
// preparing a query, and one estimate (hot cache: the codes of 1,000 vectors).
func BenchmarkQuantizer(b *testing.B) {
	r := rand.New(rand.NewPCG(9, 9))
	for _, dim := range []int{512, 640} {
		q := mustNew(b, Config{Kind: Rotated8, Dim: dim, Seed: 1})
		c := q.NewCodes(1000)
		for range 1000 {
			c.Append(unitVector(r, dim))
		}
		v := unitVector(r, dim)
		code := make([]uint8, dim)
		var qq Query
		q.Prepare(&qq, v)
		b.Run(fmt.Sprintf("dim=%d/encode", dim), func(b *testing.B) {
			for b.Loop() {
				q.Encode(code, v)
			}
		})
		b.Run(fmt.Sprintf("dim=%d/prepare", dim), func(b *testing.B) {
			for b.Loop() {
				q.Prepare(&qq, v)
			}
		})
		for _, m := range []struct {
			name string
			f    func(i int) float32
		}{
			{"similarity", func(i int) float32 { return c.Similarity(&qq, i) }},
			{"similarity-float", func(i int) float32 { return qq.SimilarityFloat(c.Code(i)) }},
			{"similarity-codes", func(i int) float32 { return c.SimilarityBetween(i, (i+1)%1000) }},
		} {
			b.Run(fmt.Sprintf("dim=%d/%s", dim, m.name), func(b *testing.B) {
				i := 0
				for b.Loop() {
					sinkF += m.f(i)
					i = (i + 1) % 1000
				}
			})
		}
	}
}
