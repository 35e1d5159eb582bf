// Package testenv finds what the tests need on this machine: the repository root, the assets
// that scripts/setup installs and the shared photo sets in ../shared/data. Tests read photos from
// there and never copy them into the repository.
package testenv

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// Root is the repository root (the directory holding go.mod).
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Assets is where scripts/setup installs ONNX Runtime and the models ($FACEMATCH_ASSETS or .assets).
func Assets() string {
	if a := os.Getenv("FACEMATCH_ASSETS"); a != "" {
		return a
	}
	return filepath.Join(Root(), ".assets")
}

// Library is the ONNX Runtime shared library installed by scripts/setup.
func Library() string { return filepath.Join(Assets(), "lib", "libonnxruntime.so.1") }

// ModelDir is the directory of the verified model files.
func ModelDir() string { return filepath.Join(Assets(), "models") }

// Data is the shared photo directory ($FACEMATCH_DATA or ../shared/data beside the repository).
func Data() string {
	if d := os.Getenv("FACEMATCH_DATA"); d != "" {
		return d
	}
	return filepath.Join(Root(), "..", "shared", "data")
}

// Check returns an error naming what is missing, so a test fails with a useful message instead
// of a cryptic load error. It never skips: the tests are meant to run on real models and photos.
func Check() error {
	for _, p := range []string{Library(), ModelDir(), Data()} {
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("testenv: %w (run scripts/setup; photos come from ../shared/data)", err)
		}
	}
	return nil
}

// RequireModels is the first line of a test on the real models or photo sets: the quick tier
// (go test -short) skips it, and anywhere else it fails, naming what is missing, when
// scripts/setup has not run. The quick tier's tests of the rules run on face/facetest instead.
func RequireModels(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("real models and photos: not in the quick tier (-short)")
	}
	if err := Check(); err != nil {
		t.Fatal(err)
	}
}
