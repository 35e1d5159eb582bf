//go:build !amd64 || purego

package quant

// Without amd64 assembly (another architecture, or the purego build tag) every kernel is Go.

func kernelSets() []kernelSet { return []kernelSet{goKernels} }

// Kernels names the kernel set in use.
func Kernels() string { return goKernels.name }
