package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/facematch/facematch/engine"
)

// Reasons a source refuses an entry (SourceFile.Refused).
const (
	refusedSymlink = "symbolic link: not followed"
	refusedUnsafe  = "unsafe path in archive"
	refusedLink    = "link in archive: not followed"
	refusedDup     = "duplicate name in archive: an earlier entry has this name"
	refusedKey     = "object key is not a clean relative path"
)

// DirSource is a local directory tree. It is safe for concurrent use; Close it once the job
// is done with it.
type DirSource struct {
	// root confines every read to the tree, whatever links or renames happen inside it.
	root *os.Root
}

var _ engine.JobSource = (*DirSource)(nil)

// Dir opens the directory tree at root. root itself may be a symbolic link (the operator
// named it); nothing inside it is followed.
func Dir(root string) (*DirSource, error) {
	fi, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("source: directory %s: %w", root, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("source: %s is not a directory", root)
	}
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, fmt.Errorf("source: directory %s: %w", root, err)
	}
	return &DirSource{root: r}, nil
}

// Files implements engine.JobSource. A subdirectory that cannot be read is listed as refused
// (under its own name) rather than ending the walk: one unreadable folder should not stop a
// job, and the job still reports it.
func (s *DirSource) Files(ctx context.Context, fn func(engine.SourceFile) error) error {
	err := fs.WalkDir(s.root.FS(), ".", func(name string, d fs.DirEntry, err error) error {
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		if err != nil {
			if name == "." {
				return err
			}
			var reason string
			if d != nil && d.IsDir() {
				reason = "unreadable directory: " + errText(err)
			} else {
				reason = "unreadable: " + errText(err)
			}
			if werr := fn(engine.SourceFile{Name: name, Size: -1, Refused: reason, Open: refused(name, reason)}); werr != nil {
				return stop{werr}
			}
			return nil // then the entries the failed ReadDir did return, if any
		}
		if name == "." {
			return nil
		}
		if hidden(d.Name()) {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		f := engine.SourceFile{Name: name, Size: -1}
		info, ierr := d.Info() // an lstat, taken while reading the directory
		switch {
		case errors.Is(ierr, fs.ErrNotExist):
			return nil // removed since the directory was read
		case ierr != nil:
			f.Refused = "unreadable: " + errText(ierr)
		default:
			f.Size = info.Size()
			if mode := info.Mode(); mode&fs.ModeSymlink != 0 {
				f.Refused = refusedSymlink
			} else if !mode.IsRegular() {
				f.Refused = notRegular(mode)
			}
		}
		if f.Refused != "" {
			f.Open = refused(name, f.Refused)
		} else {
			f.Open = func(ctx context.Context) (io.ReadCloser, error) { return s.open(ctx, name) }
		}
		if err := fn(f); err != nil {
			return stop{err}
		}
		return nil
	})
	if st, ok := err.(stop); ok {
		return st.err // the callback's error, returned as it was
	}
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("source: walking %s: %w", s.root.Name(), err)
	}
	return err
}

// stop carries the callback's error out of WalkDir, to tell it from the walk's own errors.
type stop struct{ err error }

func (s stop) Error() string { return s.err.Error() }

// open reads the regular file name. It checks again, right before and after opening, that
// name is a regular file and that what was opened is that file: a file replaced by a link or
// a pipe after it was listed is refused, and a pipe cannot block the open (O_NONBLOCK).
func (s *DirSource) open(ctx context.Context, name string) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	native := filepath.FromSlash(name)
	before, err := s.root.Lstat(native)
	if err != nil {
		return nil, fmt.Errorf("source: open %s: %w", name, err)
	}
	if mode := before.Mode(); mode&fs.ModeSymlink != 0 {
		return nil, fmt.Errorf("source: open %s: %s", name, refusedSymlink)
	} else if !mode.IsRegular() {
		return nil, fmt.Errorf("source: open %s: %s", name, notRegular(mode))
	}
	f, err := s.root.OpenFile(native, os.O_RDONLY|openFlags, 0)
	if err != nil {
		return nil, fmt.Errorf("source: open %s: %w", name, err)
	}
	after, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("source: open %s: %w", name, err)
	}
	if !after.Mode().IsRegular() || !os.SameFile(before, after) {
		f.Close()
		return nil, fmt.Errorf("source: open %s: replaced while being opened", name)
	}
	return f, nil
}

// Close releases the directory handle.
func (s *DirSource) Close() error { return s.root.Close() }

// refused is the Open of a refused entry, for a consumer that calls it anyway.
func refused(name, reason string) func(context.Context) (io.ReadCloser, error) {
	return func(context.Context) (io.ReadCloser, error) {
		return nil, fmt.Errorf("source: %s: refused: %s", name, reason)
	}
}

// notRegular says what kind of non-regular file mode is.
func notRegular(mode fs.FileMode) string {
	kind := "irregular file"
	switch {
	case mode&fs.ModeCharDevice != 0:
		kind = "character device"
	case mode&fs.ModeDevice != 0:
		kind = "device"
	case mode&fs.ModeNamedPipe != 0:
		kind = "named pipe"
	case mode&fs.ModeSocket != 0:
		kind = "socket"
	case mode&fs.ModeSymlink != 0:
		kind = "symbolic link"
	case mode.IsDir():
		kind = "directory"
	}
	return "not a regular file (" + kind + ")"
}

// errText is err without the path an fs.PathError repeats (the entry is named already).
func errText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}
