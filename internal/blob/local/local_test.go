package local_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/facematch/facematch/internal/blob"
	"github.com/facematch/facematch/internal/blob/blobtest"
	"github.com/facematch/facematch/internal/blob/local"
)

func TestConformance(t *testing.T) {
	blobtest.RunStoreTests(t, func(t *testing.T) blob.Store {
		s, err := local.Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestPermissionsAndNoTempFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	s, err := local.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if err := s.Put(ctx, "a/b/c", strings.NewReader("x"), 1); err != nil {
		t.Fatal(err)
	}
	if err := s.PutIfAbsent(ctx, "a/d", strings.NewReader("y"), 1); err != nil {
		t.Fatal(err)
	}
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		want := fs.FileMode(0o600)
		if d.IsDir() {
			want = 0o700
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", p, fi.Mode().Perm(), want)
		}
		if strings.HasPrefix(d.Name(), ".tmp-") {
			t.Errorf("temporary file left behind: %s", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestOpenRemovesStaleTempFiles(t *testing.T) {
	dir := t.TempDir()
	s, err := local.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Put(t.Context(), "seg/keep", strings.NewReader("k"), 1); err != nil {
		t.Fatal(err)
	}
	// What a process killed mid-Put leaves behind.
	stale := []string{filepath.Join(dir, ".tmp-123"), filepath.Join(dir, "seg", ".tmp-456")}
	for _, p := range stale {
		if err := os.WriteFile(p, []byte("half"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	infos, err := s.List(t.Context(), "")
	if err != nil || len(infos) != 1 {
		t.Fatalf("List with temp files present = %+v, %v; want only seg/keep", infos, err)
	}
	if _, err := local.Open(dir); err != nil {
		t.Fatal(err)
	}
	for _, p := range stale {
		if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s still there after Open (%v)", p, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "seg", "keep")); err != nil {
		t.Errorf("Open removed an object: %v", err)
	}
}

// A file system cannot hold both "a" and "a/b": the store refuses the second with
// ErrInvalidKey instead of failing obscurely.
func TestKeyDirectoryConflict(t *testing.T) {
	s, err := local.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if err := s.Put(ctx, "a/b", strings.NewReader("x"), 1); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		err  error
	}{
		{"Put over a directory", s.Put(ctx, "a", strings.NewReader("x"), 1)},
		{"PutIfAbsent over a directory", s.PutIfAbsent(ctx, "a", strings.NewReader("x"), 1)},
		{"Put under a file", s.Put(ctx, "a/b/c", strings.NewReader("x"), 1)},
		{"PutIfAbsent under a file", s.PutIfAbsent(ctx, "a/b/c/d", strings.NewReader("x"), 1)},
	}
	for _, tt := range tests {
		if !errors.Is(tt.err, blob.ErrInvalidKey) {
			t.Errorf("%s = %v, want ErrInvalidKey", tt.name, tt.err)
		}
	}
}

func TestOpenRefusesFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(p, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := local.Open(p); err == nil {
		t.Fatal("Open of a regular file succeeded")
	}
}
