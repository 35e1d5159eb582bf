package models

/*
#include <xmmintrin.h>

// MXCSR bits: FTZ (flush results to zero) and DAZ (treat denormal inputs as zero).
static unsigned int fm_enable_ftz_daz(void) {
	unsigned int old = _mm_getcsr();
	_mm_setcsr(old | 0x8040);
	return old;
}
static void fm_set_csr(unsigned int v) { _mm_setcsr(v); }
*/
import "C"

// flushDenormalsOnThisThread sets FTZ/DAZ on the current OS thread and returns a function
// that restores the previous MXCSR. The caller must hold runtime.LockOSThread.
//
// Why: the 512-d recognizer has ~9k denormal weights and produces denormal activations; on
// x86 each denormal operation takes a slow microcode path, making inference ~13× slower.
func flushDenormalsOnThisThread() (restore func()) {
	old := C.fm_enable_ftz_daz()
	return func() { C.fm_set_csr(old) }
}
