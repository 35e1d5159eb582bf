// Command asmgen writes the quant package's dot-product kernels (dot_amd64.s) and their Go
// declarations (dot_amd64.go) with avo. Run it through `go generate ./index/quant`.
//
// Two levels per kernel: AVX-512 (F, BW, VL, VNNI, with BMI2 for the tail masks) covers any
// length, the tail through a masked load that never touches memory past the slice; AVX2 with
// FMA covers whole blocks (8 floats, 16 bytes) and leaves the short tail to Go. avo v0.5.0 does
// not know VPDPBUSD, so vpdpbusd emits it as a raw instruction (the Go assembler knows the EVEX
// form; it has no VEX form, so AVX-VNNI-only CPUs take the AVX2 path).
package main

import (
	. "github.com/mmcloughlin/avo/build"
	"github.com/mmcloughlin/avo/ir"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

func main() {
	ConstraintExpr("amd64,!purego")
	dotF32AVX512()
	dotU8I8AVX512()
	dotU8U8AVX512()
	dotF32U8AVX512()
	dotF32AVX2()
	dotU8I8AVX2()
	dotU8U8AVX2()
	dotF32U8AVX2()
	Generate()
}

// vpdpbusd adds to each int32 lane of acc the four products of unsigned bytes of u with the
// signed bytes of s (Intel order: VPDPBUSD acc, u, s).
func vpdpbusd(s, u, acc Op) {
	Instruction(&ir.Instruction{
		Opcode:   "VPDPBUSD",
		Operands: []Op{s, u, acc},
		Inputs:   []Op{s, u, acc},
		Outputs:  []Op{acc},
		ISA:      []string{"AVX512_VNNI"},
	})
}

// minLen loads min(len(a), len(b)): the kernels read no further than the shorter operand, so
// the package can call them directly, with no Go wrapper to check lengths.
func minLen() Register {
	n := Load(Param("a").Len(), GP64())
	nb := Load(Param("b").Len(), GP64())
	CMPQ(nb, n)
	CMOVQLT(nb, n)
	return n
}

// tailMask sets k to the low n bits (n < 64).
func tailMask(n, k Register, word bool) {
	m := GP64()
	XORQ(m, m)
	NOTQ(m)
	BZHIQ(n, m, m)
	if word {
		KMOVW(m.As32(), k)
	} else {
		KMOVQ(m, k)
	}
}

// zeroZ zeroes vector registers.
func zeroZ(zs ...VecVirtual) {
	for _, z := range zs {
		VPXORD(z, z, z)
	}
}

func zeroY(ys ...VecVirtual) {
	for _, y := range ys {
		VPXOR(y, y, y)
	}
}

// sumF32Z adds the 16 float lanes of z into the low lane of the returned XMM register.
func sumF32Z(z VecVirtual) VecVirtual {
	y := YMM()
	VEXTRACTF64X4(U8(1), z, y)
	VADDPS(y, z.AsY(), y)
	return sumF32Y(y)
}

func sumF32Y(y VecVirtual) VecVirtual {
	x := XMM()
	VEXTRACTF128(U8(1), y, x)
	VADDPS(x, y.AsX(), x)
	t := XMM()
	VMOVHLPS(x, x, t)
	VADDPS(t, x, x)
	VMOVSHDUP(x, t)
	VADDSS(t, x, x)
	return x
}

// sumI32Z adds the 16 int32 lanes of z.
func sumI32Z(z VecVirtual) GPVirtual {
	y := YMM()
	VEXTRACTI64X4(U8(1), z, y)
	VPADDD(y, z.AsY(), y)
	return sumI32Y(y)
}

func sumI32Y(y VecVirtual) GPVirtual {
	x := XMM()
	VEXTRACTI128(U8(1), y, x)
	VPADDD(x, y.AsX(), x)
	t := XMM()
	VPSHUFD(U8(0x4e), x, t)
	VPADDD(t, x, x)
	VPSHUFD(U8(0xb1), x, t)
	VPADDD(t, x, x)
	r := GP32()
	VMOVD(x, r)
	return r
}

func dotF32AVX512() {
	TEXT("dotF32AVX512", NOSPLIT, "func(a, b []float32) float32")
	Doc("dotF32AVX512 returns Σ a[i]·b[i] over the shorter operand's length.")
	a := Load(Param("a").Base(), GP64())
	b := Load(Param("b").Base(), GP64())
	n := minLen()
	acc := []VecVirtual{ZMM(), ZMM(), ZMM(), ZMM()}
	zeroZ(acc...)

	Label("f32z_loop64")
	CMPQ(n, U32(64))
	JB(LabelRef("f32z_loop16"))
	for i, s := range acc {
		x := ZMM()
		VMOVUPS(Mem{Base: a}.Offset(64*i), x)
		VFMADD231PS(Mem{Base: b}.Offset(64*i), x, s)
	}
	ADDQ(U32(256), a)
	ADDQ(U32(256), b)
	SUBQ(U32(64), n)
	JMP(LabelRef("f32z_loop64"))

	Label("f32z_loop16")
	CMPQ(n, U32(16))
	JB(LabelRef("f32z_tail"))
	x := ZMM()
	VMOVUPS(Mem{Base: a}, x)
	VFMADD231PS(Mem{Base: b}, x, acc[0])
	ADDQ(U32(64), a)
	ADDQ(U32(64), b)
	SUBQ(U32(16), n)
	JMP(LabelRef("f32z_loop16"))

	Label("f32z_tail")
	TESTQ(n, n)
	JZ(LabelRef("f32z_sum"))
	k := K()
	tailMask(n, k, true)
	xa, xb := ZMM(), ZMM()
	VMOVUPS_Z(Mem{Base: a}, k, xa)
	VMOVUPS_Z(Mem{Base: b}, k, xb)
	VFMADD231PS(xb, xa, acc[1])

	Label("f32z_sum")
	VADDPS(acc[1], acc[0], acc[0])
	VADDPS(acc[3], acc[2], acc[2])
	VADDPS(acc[2], acc[0], acc[0])
	r := sumF32Z(acc[0])
	VZEROUPPER()
	Store(r, ReturnIndex(0))
	RET()
}

func dotU8I8AVX512() {
	TEXT("dotU8I8AVX512", NOSPLIT, "func(a []uint8, b []int8) int32")
	Doc("dotU8I8AVX512 returns Σ a[i]·b[i] over the shorter operand's length.")
	a := Load(Param("a").Base(), GP64())
	b := Load(Param("b").Base(), GP64())
	n := minLen()
	acc := []VecVirtual{ZMM(), ZMM(), ZMM(), ZMM()}
	zeroZ(acc...)

	Label("u8i8z_loop256")
	CMPQ(n, U32(256))
	JB(LabelRef("u8i8z_loop64"))
	for i, s := range acc {
		x := ZMM()
		VMOVDQU64(Mem{Base: a}.Offset(64*i), x)
		vpdpbusd(Mem{Base: b}.Offset(64*i), x, s)
	}
	ADDQ(U32(256), a)
	ADDQ(U32(256), b)
	SUBQ(U32(256), n)
	JMP(LabelRef("u8i8z_loop256"))

	Label("u8i8z_loop64")
	CMPQ(n, U32(64))
	JB(LabelRef("u8i8z_tail"))
	x := ZMM()
	VMOVDQU64(Mem{Base: a}, x)
	vpdpbusd(Mem{Base: b}, x, acc[0])
	ADDQ(U32(64), a)
	ADDQ(U32(64), b)
	SUBQ(U32(64), n)
	JMP(LabelRef("u8i8z_loop64"))

	Label("u8i8z_tail")
	TESTQ(n, n)
	JZ(LabelRef("u8i8z_sum"))
	k := K()
	tailMask(n, k, false)
	xa, xb := ZMM(), ZMM()
	VMOVDQU8_Z(Mem{Base: a}, k, xa)
	VMOVDQU8_Z(Mem{Base: b}, k, xb)
	vpdpbusd(xb, xa, acc[1])

	Label("u8i8z_sum")
	VPADDD(acc[1], acc[0], acc[0])
	VPADDD(acc[3], acc[2], acc[2])
	VPADDD(acc[2], acc[0], acc[0])
	r := sumI32Z(acc[0])
	VZEROUPPER()
	Store(r, ReturnIndex(0))
	RET()
}

// dotU8U8AVX512 has no unsigned-by-unsigned VNNI instruction, so it flips b's top bit (b-128,
// a signed byte) and adds back 128·Σa, counted by a second VPDPBUSD against a vector of ones.
func dotU8U8AVX512() {
	TEXT("dotU8U8AVX512", NOSPLIT, "func(a, b []uint8) uint32")
	Doc("dotU8U8AVX512 returns Σ a[i]·b[i] over the shorter operand's length.")
	a := Load(Param("a").Base(), GP64())
	b := Load(Param("b").Base(), GP64())
	n := minLen()
	flip, ones := ZMM(), ZMM()
	c := GP32()
	MOVL(U32(0x80808080), c)
	VPBROADCASTD(c, flip)
	MOVL(U32(0x01010101), c)
	VPBROADCASTD(c, ones)
	acc := []VecVirtual{ZMM(), ZMM()}
	sums := []VecVirtual{ZMM(), ZMM()}
	zeroZ(append(acc, sums...)...)

	Label("u8u8z_loop128")
	CMPQ(n, U32(128))
	JB(LabelRef("u8u8z_loop64"))
	for i := range acc {
		xa, xb := ZMM(), ZMM()
		VMOVDQU64(Mem{Base: a}.Offset(64*i), xa)
		VPXORD(Mem{Base: b}.Offset(64*i), flip, xb)
		vpdpbusd(xb, xa, acc[i])
		vpdpbusd(ones, xa, sums[i])
	}
	ADDQ(U32(128), a)
	ADDQ(U32(128), b)
	SUBQ(U32(128), n)
	JMP(LabelRef("u8u8z_loop128"))

	Label("u8u8z_loop64")
	CMPQ(n, U32(64))
	JB(LabelRef("u8u8z_tail"))
	xa, xb := ZMM(), ZMM()
	VMOVDQU64(Mem{Base: a}, xa)
	VPXORD(Mem{Base: b}, flip, xb)
	vpdpbusd(xb, xa, acc[0])
	vpdpbusd(ones, xa, sums[0])
	ADDQ(U32(64), a)
	ADDQ(U32(64), b)
	SUBQ(U32(64), n)
	JMP(LabelRef("u8u8z_loop64"))

	// Masked-off bytes load as zero: a = 0 makes both products zero whatever b became.
	Label("u8u8z_tail")
	TESTQ(n, n)
	JZ(LabelRef("u8u8z_sum"))
	k := K()
	tailMask(n, k, false)
	ta, tb := ZMM(), ZMM()
	VMOVDQU8_Z(Mem{Base: a}, k, ta)
	VMOVDQU8_Z(Mem{Base: b}, k, tb)
	VPXORD(tb, flip, tb)
	vpdpbusd(tb, ta, acc[1])
	vpdpbusd(ones, ta, sums[1])

	Label("u8u8z_sum")
	VPADDD(acc[1], acc[0], acc[0])
	VPADDD(sums[1], sums[0], sums[0])
	VPSLLD(U8(7), sums[0], sums[0])
	VPADDD(sums[0], acc[0], acc[0])
	r := sumI32Z(acc[0])
	VZEROUPPER()
	Store(r, ReturnIndex(0))
	RET()
}

func dotF32U8AVX512() {
	TEXT("dotF32U8AVX512", NOSPLIT, "func(a []float32, b []uint8) float32")
	Doc("dotF32U8AVX512 returns Σ a[i]·b[i] over the shorter operand's length.")
	a := Load(Param("a").Base(), GP64())
	b := Load(Param("b").Base(), GP64())
	n := minLen()
	acc := []VecVirtual{ZMM(), ZMM(), ZMM(), ZMM()}
	zeroZ(acc...)

	Label("f32u8z_loop64")
	CMPQ(n, U32(64))
	JB(LabelRef("f32u8z_loop16"))
	for i, s := range acc {
		x := ZMM()
		VPMOVZXBD(Mem{Base: b}.Offset(16*i), x)
		VCVTDQ2PS(x, x)
		VFMADD231PS(Mem{Base: a}.Offset(64*i), x, s)
	}
	ADDQ(U32(256), a)
	ADDQ(U32(64), b)
	SUBQ(U32(64), n)
	JMP(LabelRef("f32u8z_loop64"))

	Label("f32u8z_loop16")
	CMPQ(n, U32(16))
	JB(LabelRef("f32u8z_tail"))
	x := ZMM()
	VPMOVZXBD(Mem{Base: b}, x)
	VCVTDQ2PS(x, x)
	VFMADD231PS(Mem{Base: a}, x, acc[0])
	ADDQ(U32(64), a)
	ADDQ(U32(16), b)
	SUBQ(U32(16), n)
	JMP(LabelRef("f32u8z_loop16"))

	Label("f32u8z_tail")
	TESTQ(n, n)
	JZ(LabelRef("f32u8z_sum"))
	k := K()
	tailMask(n, k, true)
	tb := XMM()
	VMOVDQU8_Z(Mem{Base: b}, k, tb)
	xb, xa := ZMM(), ZMM()
	VPMOVZXBD(tb, xb)
	VCVTDQ2PS(xb, xb)
	VMOVUPS_Z(Mem{Base: a}, k, xa)
	VFMADD231PS(xa, xb, acc[1])

	Label("f32u8z_sum")
	VADDPS(acc[1], acc[0], acc[0])
	VADDPS(acc[3], acc[2], acc[2])
	VADDPS(acc[2], acc[0], acc[0])
	r := sumF32Z(acc[0])
	VZEROUPPER()
	Store(r, ReturnIndex(0))
	RET()
}

func dotF32AVX2() {
	TEXT("dotF32AVX2", NOSPLIT, "func(a, b []float32) float32")
	Doc("dotF32AVX2 returns Σ a[i]·b[i] over the shorter operand's length, a multiple of 8.")
	a := Load(Param("a").Base(), GP64())
	b := Load(Param("b").Base(), GP64())
	n := minLen()
	acc := []VecVirtual{YMM(), YMM(), YMM(), YMM()}
	zeroY(acc...)

	Label("f32y_loop32")
	CMPQ(n, U32(32))
	JB(LabelRef("f32y_loop8"))
	for i, s := range acc {
		x := YMM()
		VMOVUPS(Mem{Base: a}.Offset(32*i), x)
		VFMADD231PS(Mem{Base: b}.Offset(32*i), x, s)
	}
	ADDQ(U32(128), a)
	ADDQ(U32(128), b)
	SUBQ(U32(32), n)
	JMP(LabelRef("f32y_loop32"))

	Label("f32y_loop8")
	CMPQ(n, U32(8))
	JB(LabelRef("f32y_sum"))
	x := YMM()
	VMOVUPS(Mem{Base: a}, x)
	VFMADD231PS(Mem{Base: b}, x, acc[0])
	ADDQ(U32(32), a)
	ADDQ(U32(32), b)
	SUBQ(U32(8), n)
	JMP(LabelRef("f32y_loop8"))

	Label("f32y_sum")
	VADDPS(acc[1], acc[0], acc[0])
	VADDPS(acc[3], acc[2], acc[2])
	VADDPS(acc[2], acc[0], acc[0])
	r := sumF32Y(acc[0])
	VZEROUPPER()
	Store(r, ReturnIndex(0))
	RET()
}

// dotU8I8AVX2 widens both sides to 16 bits and multiplies with VPMADDWD: exact, unlike
// VPMADDUBSW, whose 16-bit pair sums saturate at 255·127·2.
func dotU8I8AVX2() {
	TEXT("dotU8I8AVX2", NOSPLIT, "func(a []uint8, b []int8) int32")
	Doc("dotU8I8AVX2 returns Σ a[i]·b[i] over the shorter operand's length, a multiple of 16.")
	widenDot("u8i8y", true)
}

func dotU8U8AVX2() {
	TEXT("dotU8U8AVX2", NOSPLIT, "func(a, b []uint8) uint32")
	Doc("dotU8U8AVX2 returns Σ a[i]·b[i] over the shorter operand's length, a multiple of 16.")
	widenDot("u8u8y", false)
}

func widenDot(name string, signedB bool) {
	a := Load(Param("a").Base(), GP64())
	b := Load(Param("b").Base(), GP64())
	n := minLen()
	acc := []VecVirtual{YMM(), YMM(), YMM(), YMM()}
	zeroY(acc...)
	step := func(off int, s VecVirtual) {
		xa, xb := YMM(), YMM()
		VPMOVZXBW(Mem{Base: a}.Offset(off), xa)
		if signedB {
			VPMOVSXBW(Mem{Base: b}.Offset(off), xb)
		} else {
			VPMOVZXBW(Mem{Base: b}.Offset(off), xb)
		}
		VPMADDWD(xb, xa, xa)
		VPADDD(xa, s, s)
	}

	Label(name + "_loop64")
	CMPQ(n, U32(64))
	JB(LabelRef(name + "_loop16"))
	for i, s := range acc {
		step(16*i, s)
	}
	ADDQ(U32(64), a)
	ADDQ(U32(64), b)
	SUBQ(U32(64), n)
	JMP(LabelRef(name + "_loop64"))

	Label(name + "_loop16")
	CMPQ(n, U32(16))
	JB(LabelRef(name + "_sum"))
	step(0, acc[0])
	ADDQ(U32(16), a)
	ADDQ(U32(16), b)
	SUBQ(U32(16), n)
	JMP(LabelRef(name + "_loop16"))

	Label(name + "_sum")
	VPADDD(acc[1], acc[0], acc[0])
	VPADDD(acc[3], acc[2], acc[2])
	VPADDD(acc[2], acc[0], acc[0])
	r := sumI32Y(acc[0])
	VZEROUPPER()
	Store(r, ReturnIndex(0))
	RET()
}

func dotF32U8AVX2() {
	TEXT("dotF32U8AVX2", NOSPLIT, "func(a []float32, b []uint8) float32")
	Doc("dotF32U8AVX2 returns Σ a[i]·b[i] over the shorter operand's length, a multiple of 8.")
	a := Load(Param("a").Base(), GP64())
	b := Load(Param("b").Base(), GP64())
	n := minLen()
	acc := []VecVirtual{YMM(), YMM(), YMM(), YMM()}
	zeroY(acc...)

	Label("f32u8y_loop32")
	CMPQ(n, U32(32))
	JB(LabelRef("f32u8y_loop8"))
	for i, s := range acc {
		x := YMM()
		VPMOVZXBD(Mem{Base: b}.Offset(8*i), x)
		VCVTDQ2PS(x, x)
		VFMADD231PS(Mem{Base: a}.Offset(32*i), x, s)
	}
	ADDQ(U32(128), a)
	ADDQ(U32(32), b)
	SUBQ(U32(32), n)
	JMP(LabelRef("f32u8y_loop32"))

	Label("f32u8y_loop8")
	CMPQ(n, U32(8))
	JB(LabelRef("f32u8y_sum"))
	x := YMM()
	VPMOVZXBD(Mem{Base: b}, x)
	VCVTDQ2PS(x, x)
	VFMADD231PS(Mem{Base: a}, x, acc[0])
	ADDQ(U32(32), a)
	ADDQ(U32(8), b)
	SUBQ(U32(8), n)
	JMP(LabelRef("f32u8y_loop8"))

	Label("f32u8y_sum")
	VADDPS(acc[1], acc[0], acc[0])
	VADDPS(acc[3], acc[2], acc[2])
	VADDPS(acc[2], acc[0], acc[0])
	r := sumF32Y(acc[0])
	VZEROUPPER()
	Store(r, ReturnIndex(0))
	RET()
}
