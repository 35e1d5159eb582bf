//go:build unix

package source

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/facematch/facematch/engine"
)

func TestDirSpecialFiles(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{"a.jpg": "A", "locked/x.jpg": "X"})
	if err := syscall.Mkfifo(filepath.Join(root, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("unix", filepath.Join(root, "sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	want := []listed{
		{Name: "a.jpg", Body: "A"},
		{Name: "fifo", Refused: "not a regular file (named pipe)"},
		{Name: "locked/x.jpg", Body: "X"},
		{Name: "sock", Refused: "not a regular file (socket)"},
	}
	if os.Geteuid() != 0 { // root reads any directory
		os.Chmod(filepath.Join(root, "locked"), 0)
		defer os.Chmod(filepath.Join(root, "locked"), 0o755)
		want[2] = listed{Name: "locked", Refused: "unreadable directory: permission denied"}
	}
	s, err := Dir(root)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := list(t, s, 100)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("\n got %+v\nwant %+v", got, want)
	}
}

// TestDirFileBecomesPipe: opening a file that became a named pipe must neither block nor
// succeed.
func TestDirFileBecomesPipe(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{"a.jpg": "A"})
	s, err := Dir(root)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var f engine.SourceFile
	s.Files(context.Background(), func(sf engine.SourceFile) error { f = sf; return nil })
	os.Remove(filepath.Join(root, "a.jpg"))
	if err := syscall.Mkfifo(filepath.Join(root, "a.jpg"), 0o644); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := f.Open(context.Background())
		done <- err
	}()
	select {
	case err := <-done:
		wantErrContains(t, err, "not a regular file (named pipe)")
	case <-time.After(5 * time.Second):
		t.Fatal("Open blocked on a named pipe")
	}
}
