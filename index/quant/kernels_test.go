package quant

import (
	"math"
	"math/rand/v2"
	"testing"
)

// kernelInputs are random operands of length n, the float ones on the scale of unit vectors'
// coordinates and of rotated queries.
func kernelInputs(r *rand.Rand, n int) (fa, fb []float32, ua, ub []uint8, sb []int8) {
	fa, fb = make([]float32, n), make([]float32, n)
	ua, ub, sb = make([]uint8, n), make([]uint8, n), make([]int8, n)
	for i := range n {
		fa[i] = float32(r.NormFloat64())
		fb[i] = float32(r.NormFloat64())
		ua[i] = uint8(r.Uint32())
		ub[i] = uint8(r.Uint32())
		sb[i] = int8(r.Uint32())
	}
	return
}

// checkKernels holds every kernel set this CPU runs to exact integer sums and to a float64
// reference within the worst-case error bound of a float32 sum of n products, (n+1)·2⁻²⁴·Σ|aᵢbᵢ|.
func checkKernels(t *testing.T, fa, fb []float32, ua, ub []uint8, sb []int8) {
	t.Helper()
	n := len(fa)
	var wantF, absF, wantFU, absFU float64
	var wantUI, wantUU int64
	for i := range n {
		p := float64(fa[i]) * float64(fb[i])
		wantF += p
		absF += math.Abs(p)
		p = float64(fa[i]) * float64(ub[i])
		wantFU += p
		absFU += math.Abs(p)
		wantUI += int64(ua[i]) * int64(sb[i])
		wantUU += int64(ua[i]) * int64(ub[i])
	}
	bound := float64(n+1) * 0x1p-24
	for _, k := range kernelSets() {
		if got := k.dotF32(fa, fb); math.Abs(float64(got)-wantF) > bound*absF {
			t.Errorf("%s dotF32 n=%d: %g, want %g ± %g", k.name, n, got, wantF, bound*absF)
		}
		if got := k.dotF32U8(fa, ub); math.Abs(float64(got)-wantFU) > bound*absFU {
			t.Errorf("%s dotF32U8 n=%d: %g, want %g ± %g", k.name, n, got, wantFU, bound*absFU)
		}
		if got := k.dotU8I8(ua, sb); int64(got) != wantUI {
			t.Errorf("%s dotU8I8 n=%d: %d, want %d", k.name, n, got, wantUI)
		}
		if got := k.dotU8U8(ua, ub); int64(got) != wantUU {
			t.Errorf("%s dotU8U8 n=%d: %d, want %d", k.name, n, got, wantUU)
		}
	}
}

// TestKernelsAgree covers every length from 0 to 1024, so every loop and tail of every kernel
// runs, at the extremes of the byte ranges as well as at random values.
func TestKernelsAgree(t *testing.T) {
	t.Logf("kernel sets: %d, in use: %s", len(kernelSets()), Kernels())
	r := rand.New(rand.NewPCG(1, 2))
	for n := 0; n <= 1024; n++ {
		fa, fb, ua, ub, sb := kernelInputs(r, n)
		checkKernels(t, fa, fb, ua, ub, sb)
	}
	for _, n := range []int{1, 15, 16, 63, 64, 65, 255, 256, 257, 512, 640, 1023} {
		fa, fb, ua, ub, sb := kernelInputs(r, n)
		for i := range n {
			ua[i], ub[i], sb[i] = 255, 255, -128
		}
		checkKernels(t, fa, fb, ua, ub, sb)
		for i := range n {
			sb[i] = 127
		}
		checkKernels(t, fa, fb, ua, ub, sb)
	}
}

// TestKernelsReadOnlyTheirLength gives the kernels operands cut from the middle of larger
// arrays whose surroundings would change the sum if read.
func TestKernelsReadOnlyTheirLength(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{1, 7, 9, 17, 33, 100, 640} {
		fa, fb, ua, ub, sb := kernelInputs(r, n+200)
		for i := range fa {
			if i < 100 || i >= 100+n {
				fa[i], fb[i], ua[i], ub[i], sb[i] = 1e30, 1e30, 255, 255, 127
			}
		}
		lo, hi := 100, 100+n
		checkKernels(t, fa[lo:hi], fb[lo:hi], ua[lo:hi], ub[lo:hi], sb[lo:hi])
	}
}

// TestDispatch checks the functions the package calls, which pick their set by the CPU.
func TestDispatch(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	fa, fb, ua, ub, sb := kernelInputs(r, 333)
	if got, want := dotU8I8(ua, sb), dotU8I8Go(ua, sb); got != want {
		t.Errorf("dotU8I8 = %d, want %d", got, want)
	}
	if got, want := dotU8U8(ua, ub), dotU8U8Go(ua, ub); got != want {
		t.Errorf("dotU8U8 = %d, want %d", got, want)
	}
	if got, want := dotF32U8(fa, ub), dotF32U8Go(fa, ub); math.Abs(float64(got-want)) > 1e-3*math.Abs(float64(want)) {
		t.Errorf("dotF32U8 = %g, want %g", got, want)
	}
	if got, want := dotF32(fa, fb), dotF32Go(fa, fb); math.Abs(float64(got-want)) > 1e-3 {
		t.Errorf("dotF32 = %g, want %g", got, want)
	}
}

// TestKernelsStopAtTheShorter checks that every kernel, the assembly called directly included,
// reads no further than the shorter operand (its surroundings would change the sum if read).
func TestKernelsStopAtTheShorter(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	fa, fb, ua, ub, sb := kernelInputs(r, 300)
	for _, k := range kernelSets() {
		for _, n := range []int{0, 1, 17, 100, 299} {
			if got, want := k.dotU8I8(ua[:n], sb), dotU8I8Go(ua[:n], sb[:n]); got != want {
				t.Errorf("%s dotU8I8 lengths %d, 300: %d, want %d", k.name, n, got, want)
			}
			if got, want := k.dotU8U8(ua, ub[:n]), dotU8U8Go(ua[:n], ub[:n]); got != want {
				t.Errorf("%s dotU8U8 lengths 300, %d: %d, want %d", k.name, n, got, want)
			}
			if got, want := k.dotF32(fa[:n], fb), dotF32Go(fa[:n], fb[:n]); math.Abs(float64(got-want)) > 1e-3 {
				t.Errorf("%s dotF32 lengths %d, 300: %g, want %g", k.name, n, got, want)
			}
			if got, want := k.dotF32U8(fa, ub[:n]), dotF32U8Go(fa[:n], ub[:n]); math.Abs(float64(got-want)) > 1e-1 {
				t.Errorf("%s dotF32U8 lengths 300, %d: %g, want %g", k.name, n, got, want)
			}
		}
	}
}

func TestDotFloat32(t *testing.T) {
	a := []float32{1, 2, 3}
	if got := DotFloat32(a, []float32{4, 5, 6, 7}); got != 32 {
		t.Errorf("DotFloat32 = %g, want 32 (over len(a) only)", got)
	}
	defer func() {
		if recover() == nil {
			t.Error("a shorter b did not panic")
		}
	}()
	DotFloat32(a, []float32{1})
}

// FuzzKernels holds the kernels to each other on arbitrary bytes: the first byte picks a float
// scale, the rest are the operands.
func FuzzKernels(f *testing.F) {
	f.Add([]byte{3, 1, 2, 3, 4, 5, 6})
	f.Add(make([]byte, 200))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 2 {
			return
		}
		scale := float32(data[0]%16+1) / 7
		data = data[1:]
		n := len(data) / 2
		fa, fb := make([]float32, n), make([]float32, n)
		ua, ub, sb := make([]uint8, n), make([]uint8, n), make([]int8, n)
		for i := range n {
			ua[i], ub[i] = data[i], data[n+i]
			sb[i] = int8(data[n+i])
			fa[i] = float32(int8(data[i])) * scale
			fb[i] = float32(int8(data[n+i]^0x5a)) / scale
		}
		checkKernels(t, fa, fb, ua, ub, sb)
	})
}
