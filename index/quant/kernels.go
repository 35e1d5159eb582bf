package quant

//go:generate sh -c "cd internal/asmgen && go run . -out ../../dot_amd64.s -stubs ../../dot_amd64.go -pkg quant"

// DotFloat32 returns Σ a[i]·b[i] over the first len(a) elements, with the fastest kernel this
// CPU has (the rescoring step's dot product). b must be at least as long as a.
func DotFloat32(a, b []float32) float32 { return dotF32(a, b[:len(a)]) }

// The kernels in use. Each returns Σ a[i]·b[i] over the shorter operand's length. They are
// variables set once at start (kernels_amd64.go) that point at the assembly itself, which
// bounds its reads by both lengths: one predicted indirect call per estimate, no Go wrapper.
var (
	dotF32   = dotF32Go
	dotU8I8  = dotU8I8Go
	dotU8U8  = dotU8U8Go
	dotF32U8 = dotF32U8Go
)

// kernelSet is one implementation of every kernel; the tests hold each set the CPU can run to
// the pure-Go one.
type kernelSet struct {
	name    string
	dotF32  func(a, b []float32) float32
	dotU8I8 func(a []uint8, b []int8) int32
	dotU8U8 func(a, b []uint8) uint32
	// dotF32U8 is the float query against uint8 codes, the alternative to quantizing the query.
	dotF32U8 func(a []float32, b []uint8) float32
}

var goKernels = kernelSet{name: "go", dotF32: dotF32Go, dotU8I8: dotU8I8Go, dotU8U8: dotU8U8Go, dotF32U8: dotF32U8Go}

// The pure-Go kernels keep four partial sums, which lets the CPU overlap the additions (about
// twice the speed of one running sum) without changing what the integer kernels return.

func dotF32Go(a, b []float32) float32 {
	n := min(len(a), len(b))
	a, b = a[:n], b[:n]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

func dotU8I8Go(a []uint8, b []int8) int32 {
	n := min(len(a), len(b))
	a, b = a[:n], b[:n]
	var s0, s1, s2, s3 int32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += int32(a[i]) * int32(b[i])
		s1 += int32(a[i+1]) * int32(b[i+1])
		s2 += int32(a[i+2]) * int32(b[i+2])
		s3 += int32(a[i+3]) * int32(b[i+3])
	}
	for ; i < len(a); i++ {
		s0 += int32(a[i]) * int32(b[i])
	}
	return s0 + s1 + s2 + s3
}

func dotU8U8Go(a, b []uint8) uint32 {
	n := min(len(a), len(b))
	a, b = a[:n], b[:n]
	var s0, s1, s2, s3 uint32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += uint32(a[i]) * uint32(b[i])
		s1 += uint32(a[i+1]) * uint32(b[i+1])
		s2 += uint32(a[i+2]) * uint32(b[i+2])
		s3 += uint32(a[i+3]) * uint32(b[i+3])
	}
	for ; i < len(a); i++ {
		s0 += uint32(a[i]) * uint32(b[i])
	}
	return s0 + s1 + s2 + s3
}

func dotF32U8Go(a []float32, b []uint8) float32 {
	n := min(len(a), len(b))
	a, b = a[:n], b[:n]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * float32(b[i])
		s1 += a[i+1] * float32(b[i+1])
		s2 += a[i+2] * float32(b[i+2])
		s3 += a[i+3] * float32(b[i+3])
	}
	for ; i < len(a); i++ {
		s0 += a[i] * float32(b[i])
	}
	return (s0 + s1) + (s2 + s3)
}
