// Package sets reads the evaluation sets' layout: one folder of photos per identity.
package sets

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Identity is one identity folder and its photos, as paths relative to the set's root
// (identity/file), sorted.
type Identity struct {
	Name  string
	Files []string
}

// Identities lists root's identity folders that hold photos (regular files, hidden ones
// skipped), sorted by name.
func Identities(root string) ([]Identity, error) {
	dirs, err := os.ReadDir(root)
	if err != nil {
		return nil, err
	}
	var out []Identity
	for _, d := range dirs {
		if !d.IsDir() || strings.HasPrefix(d.Name(), ".") {
			continue
		}
		entries, err := os.ReadDir(filepath.Join(root, d.Name()))
		if err != nil {
			return nil, err
		}
		id := Identity{Name: d.Name()}
		for _, e := range entries {
			if e.Type().IsRegular() && !strings.HasPrefix(e.Name(), ".") {
				id.Files = append(id.Files, filepath.Join(d.Name(), e.Name()))
			}
		}
		if len(id.Files) > 0 {
			sort.Strings(id.Files)
			out = append(out, id)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s holds no identity folders with photos", root)
	}
	return out, nil
}
