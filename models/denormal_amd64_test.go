package models

import (
	"math"
	"runtime"
	"testing"
)

//go:noinline
func halve(x float32) float32 { return x * 0.5 }

// TestFlushDenormalsOnThisThread checks the mechanism itself: while the fix is on, arithmetic that
// would produce a denormal on this OS thread yields zero, and afterwards the thread is restored.
// (Whether denormals are slow depends on the CPU; bench/RESULTS.md has the timing.)
func TestFlushDenormalsOnThisThread(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	smallestNormal := math.Float32frombits(0x00800000)
	if halve(smallestNormal) == 0 {
		t.Fatal("denormals already flushed before the fix was turned on")
	}
	restore := flushDenormalsOnThisThread()
	flushed := halve(smallestNormal)
	restore()
	if flushed != 0 {
		t.Fatalf("with FTZ on, smallest normal / 2 = %g, want 0", flushed)
	}
	if halve(smallestNormal) == 0 {
		t.Fatal("MXCSR not restored: denormals still flushed")
	}
}
