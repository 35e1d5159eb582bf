//go:build amd64 && !purego

package quant

import "golang.org/x/sys/cpu"

// The level is read once: every kernel of a level runs on any CPU that has its features.
const (
	levelGo = iota
	levelAVX2
	levelAVX512
)

var level = func() int {
	x := cpu.X86
	switch {
	case x.HasAVX512F && x.HasAVX512BW && x.HasAVX512VL && x.HasAVX512VNNI && x.HasBMI2:
		return levelAVX512
	case x.HasAVX2 && x.HasFMA:
		return levelAVX2
	}
	return levelGo
}()

var avx2Kernels = kernelSet{name: "avx2", dotF32: dotF32AVX2Tail, dotU8I8: dotU8I8AVX2Tail, dotU8U8: dotU8U8AVX2Tail, dotF32U8: dotF32U8AVX2Tail}

var avx512Kernels = kernelSet{name: "avx512", dotF32: dotF32AVX512, dotU8I8: dotU8I8AVX512, dotU8U8: dotU8U8AVX512, dotF32U8: dotF32U8AVX512}

func init() {
	k := kernelSets()
	best := k[len(k)-1]
	dotF32, dotU8I8, dotU8U8, dotF32U8 = best.dotF32, best.dotU8I8, best.dotU8U8, best.dotF32U8
}

func kernelSets() []kernelSet {
	sets := []kernelSet{goKernels}
	if level >= levelAVX2 {
		sets = append(sets, avx2Kernels)
	}
	if level >= levelAVX512 {
		sets = append(sets, avx512Kernels)
	}
	return sets
}

// Kernels names the kernel set in use: avx512, avx2 or go.
func Kernels() string {
	return [...]string{"go", "avx2", "avx512"}[level]
}

// The AVX2 kernels take whole blocks; the last few elements are added in Go.

func dotF32AVX2Tail(a, b []float32) float32 {
	m := min(len(a), len(b))
	a, b = a[:m], b[:m]
	n := len(a) &^ 7
	s := dotF32AVX2(a[:n], b[:n])
	for i := n; i < len(a); i++ {
		s += a[i] * b[i]
	}
	return s
}

func dotU8I8AVX2Tail(a []uint8, b []int8) int32 {
	m := min(len(a), len(b))
	a, b = a[:m], b[:m]
	n := len(a) &^ 15
	s := dotU8I8AVX2(a[:n], b[:n])
	for i := n; i < len(a); i++ {
		s += int32(a[i]) * int32(b[i])
	}
	return s
}

func dotU8U8AVX2Tail(a, b []uint8) uint32 {
	m := min(len(a), len(b))
	a, b = a[:m], b[:m]
	n := len(a) &^ 15
	s := dotU8U8AVX2(a[:n], b[:n])
	for i := n; i < len(a); i++ {
		s += uint32(a[i]) * uint32(b[i])
	}
	return s
}

func dotF32U8AVX2Tail(a []float32, b []uint8) float32 {
	m := min(len(a), len(b))
	a, b = a[:m], b[:m]
	n := len(a) &^ 7
	s := dotF32U8AVX2(a[:n], b[:n])
	for i := n; i < len(a); i++ {
		s += a[i] * float32(b[i])
	}
	return s
}
