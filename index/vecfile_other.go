//go:build !linux

package index

import (
	"fmt"
	"io"
	"os"
)

// mapFile reads the file into the heap where the index does not map files (the vectors stay
// resident, as before issue 17); the caller then removes the file.
func mapFile(f *os.File, size int64) (raw []byte, keepFile bool, err error) {
	if size == 0 {
		return nil, false, nil
	}
	floats := make([]float32, size/4)
	if _, err := f.ReadAt(floatBytes(floats), 0); err != nil && err != io.EOF {
		return nil, false, fmt.Errorf("reading vectors: %w", err)
	}
	return floatBytes(floats), false, nil
}

func unmapFile([]byte) {}
