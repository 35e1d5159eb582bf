// The assembly generator is a module of its own so that avo, a build-time tool, never enters
// facematch's go.mod: `go generate ./index/quant` runs it, and only its output is compiled.
module github.com/facematch/facematch/index/quant/internal/asmgen

go 1.26.8

require github.com/mmcloughlin/avo v0.5.0

require (
	golang.org/x/mod v0.6.0 // indirect
	golang.org/x/sys v0.1.0 // indirect
	golang.org/x/tools v0.2.0 // indirect
)
