//go:build !amd64

package models

// flushDenormalsOnThisThread is a no-op off x86-64; the session option still reaches ORT's pool
// threads (arm64 handles denormals at full speed on most cores).
func flushDenormalsOnThisThread() (restore func()) { return func() {} }
