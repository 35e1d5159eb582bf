//go:build linux

package index

import (
	"fmt"
	"os"
	"syscall"
)

// mapFile maps the first size bytes of f read only. Access is random (a rescoring reads one
// vector here and there), so readahead would only fill the page cache with neighbours.
func mapFile(f *os.File, size int64) (raw []byte, keepFile bool, err error) {
	if size == 0 {
		return nil, true, nil
	}
	if int64(int(size)) != size {
		return nil, false, fmt.Errorf("mapping %d bytes: too large", size)
	}
	raw, err = syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, false, fmt.Errorf("mmap: %w", err)
	}
	_ = syscall.Madvise(raw, syscall.MADV_RANDOM)
	return raw, true, nil
}

func unmapFile(raw []byte) { _ = syscall.Munmap(raw) }
