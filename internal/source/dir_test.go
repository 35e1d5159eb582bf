package source

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/facematch/facematch/engine"
)

// writeTree creates files (name → content) under dir.
func writeTree(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func symlink(t testing.TB, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Skipf("symbolic links: %v", err)
	}
}

func TestDir(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"a.jpg":               "A",
		"sub/b.jpg":           "BB",
		"sub/deeper/c.jpg":    "CCC",
		"sub/.x.jpg":          "hidden file",
		".hidden.jpg":         "hidden file",
		".git/config":         "hidden directory",
		"empty/.keep":         "",
		"sub/deeper/last.png": "LAST",
	})
	symlink(t, "/etc/passwd", filepath.Join(root, "passwd.jpg"))
	symlink(t, "/etc", filepath.Join(root, "etc"))         // a linked directory: not walked
	symlink(t, "a.jpg", filepath.Join(root, "inside.jpg")) // even inside the root
	s, err := Dir(root)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	want := []listed{
		{Name: "a.jpg", Body: "A"},
		{Name: "etc", Refused: refusedSymlink},
		{Name: "inside.jpg", Refused: refusedSymlink},
		{Name: "passwd.jpg", Refused: refusedSymlink},
		{Name: "sub/b.jpg", Body: "BB"},
		{Name: "sub/deeper/c.jpg", Body: "CCC"},
		{Name: "sub/deeper/last.png", Body: "LAST"},
	}
	for round := range 2 {
		got, err := list(t, s, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("round %d:\n got %+v\nwant %+v", round, got, want)
		}
	}
	sizes := map[string]int64{}
	s.Files(context.Background(), func(f engine.SourceFile) error { sizes[f.Name] = f.Size; return nil })
	if sizes["sub/deeper/c.jpg"] != 3 || sizes["passwd.jpg"] != int64(len("/etc/passwd")) {
		t.Errorf("sizes %v: want 3 for c.jpg and the link's own size (lstat) for passwd.jpg", sizes)
	}
}

// TestDirSwappedAfterListing: a file replaced by a link between listing and reading is
// refused at Open, not followed.
func TestDirSwappedAfterListing(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{"a.jpg": "A", "b.jpg": "B"})
	s, err := Dir(root)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var files []engine.SourceFile
	if err := s.Files(context.Background(), func(f engine.SourceFile) error { files = append(files, f); return nil }); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(root, "a.jpg"))
	symlink(t, "/etc/passwd", filepath.Join(root, "a.jpg"))
	if rc, err := files[0].Open(context.Background()); err == nil {
		rc.Close()
		t.Fatal("opened a file that became a symbolic link")
	} else {
		wantErrContains(t, err, refusedSymlink)
	}
	os.Remove(filepath.Join(root, "b.jpg"))
	if _, err := files[1].Open(context.Background()); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Open of a removed file: %v, want ErrNotExist", err)
	}
}

func TestDirCallbackErrorAndCancel(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{"a.jpg": "A", "b/c.jpg": "C"})
	s, err := Dir(root)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	n := 0
	if err := s.Files(context.Background(), func(engine.SourceFile) error { n++; return errStop }); err != errStop || n != 1 {
		t.Errorf("Files = %v after %d calls, want errStop after 1", err, n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Files(ctx, func(engine.SourceFile) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: Files = %v, want context.Canceled", err)
	}
}

func TestDirErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "f")
	os.WriteFile(file, nil, 0o644)
	tests := []struct {
		root, want string
	}{
		{filepath.Join(t.TempDir(), "missing"), "no such file or directory"},
		{file, "is not a directory"},
	}
	for _, tt := range tests {
		_, err := Dir(tt.root)
		wantErrContains(t, err, tt.want)
	}
}
