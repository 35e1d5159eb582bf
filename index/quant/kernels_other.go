//go:build !amd64 || purego

package quant

// Without amd64 assembly (another architecture, or the purego build tag) every kernel is Go.

func dotF32(a, b []float32) float32           { return dotF32Go(a, b) }
func dotU8I8(a []uint8, b []int8) int32       { return dotU8I8Go(a, b) }
func dotU8U8(a, b []uint8) uint32             { return dotU8U8Go(a, b) }
func dotF32U8(a []float32, b []uint8) float32 { return dotF32U8Go(a, b) }

func kernelSets() []kernelSet { return []kernelSet{goKernels} }

// Kernels names the kernel set in use.
func Kernels() string { return goKernels.name }
