package source

import (
	"archive/tar"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestOpen(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"photos/a.jpg": "A", "notes.txt": "not an archive"})
	tgz := filepath.Join(dir, "upload") // no extension: the bytes decide
	if err := os.WriteFile(tgz, gzipBytes(t, buildTar(t, []ent{{"x/b.jpg", tar.TypeReg, "B"}})), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		spec string
		want []listed
	}{
		{filepath.Join(dir, "photos"), []listed{{Name: "a.jpg", Body: "A"}}},
		{tgz, []listed{{Name: "x/b.jpg", Body: "B"}}},
	}
	for _, tt := range tests {
		s, err := Open(context.Background(), tt.spec, Options{TmpDir: t.TempDir()})
		if err != nil {
			t.Fatalf("Open(%q): %v", tt.spec, err)
		}
		got, err := list(t, s, 100)
		s.Close()
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("Open(%q): got %+v, %v; want %+v", tt.spec, got, err, tt.want)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"notes.txt": "not an archive"})
	missing := filepath.Join(dir, "nope")
	tests := []struct {
		spec, want string
		is         error
	}{
		{"", "source: empty source: want s3://bucket/prefix, a directory or an archive file", nil},
		{missing, "source: " + missing + ": no such file or directory", nil},
		{filepath.Join(dir, "notes.txt"), "source: " + filepath.Join(dir, "notes.txt") + ": not a zip, tar or tar.gz archive (it starts with 6e 6f 74", ErrUnknownArchive},
		{"/dev/null", "source: /dev/null: not a regular file (character device): want a directory or an archive file", nil},
		{"https://example.org/x.zip", `source: "https://example.org/x.zip": unsupported scheme "https"`, nil},
		{"s3://", `source: "s3://": no bucket after s3://`, nil},
		{"s3:///prefix", `source: "s3:///prefix": no bucket after s3://`, nil},
		{"s3://bucket/p", "source: s3 config: endpoint is required", nil},
	}
	for _, tt := range tests {
		if tt.spec == "/dev/null" {
			if _, err := os.Stat("/dev/null"); err != nil {
				continue
			}
		}
		s, err := Open(context.Background(), tt.spec, Options{})
		if err == nil {
			s.Close()
		}
		wantErrContains(t, err, tt.want)
		if tt.is != nil && !errors.Is(err, tt.is) {
			t.Errorf("Open(%q) = %v, want errors.Is %v", tt.spec, err, tt.is)
		}
		if s != nil {
			t.Errorf("Open(%q) returned a non-nil source with its error", tt.spec)
		}
	}
}
