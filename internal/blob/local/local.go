// Package local is a blob.Store kept in a directory tree: the embedded default, for one
// machine. A key "a/b/c" is the file DIR/a/b/c (files 0600, directories 0700).
//
// Writes are crash-safe: the bytes go to a temporary file (name prefix ".tmp-") in the target's
// directory, which is fsynced and then renamed over the key (Put) or hard-linked to it
// (PutIfAbsent, which fails with EEXIST if another writer won), and the directory is fsynced.
// A reader therefore sees the old file or the new one, never a part. Temporary files are never
// listed; Open removes the ones a crashed process left behind, so a directory belongs to one
// Store (one process) at a time, as a database's data directory does.
package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/facematch/facematch/internal/blob"
)

const (
	tempPrefix = ".tmp-"
	fileMode   = 0o600
	dirMode    = 0o700
)

// Store is a blob.Store in a directory. It is safe for concurrent use by multiple goroutines:
// the file system's rename and link are the only synchronisation it needs.
type Store struct {
	root string // absolute, cleaned
}

var _ blob.Store = (*Store)(nil)

// Open returns the store rooted at dir, creating dir (0700) if needed, and removes temporary
// files left by an earlier process that stopped mid-write.
func Open(dir string) (*Store, error) {
	if dir == "" {
		return nil, errors.New("local: open: empty directory name")
	}
	root, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("local: open %s: %w", dir, err)
	}
	if err := os.MkdirAll(root, dirMode); err != nil {
		return nil, fmt.Errorf("local: open %s: %w", dir, err)
	}
	fi, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("local: open %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("local: open %s: not a directory", dir)
	}
	s := &Store{root: root}
	if err := s.removeTemps(); err != nil {
		return nil, fmt.Errorf("local: open %s: removing stale temporary files: %w", dir, err)
	}
	return s, nil
}

// Dir returns the store's root directory.
func (s *Store) Dir() string { return s.root }

func (s *Store) removeTemps() error {
	return filepath.WalkDir(s.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasPrefix(d.Name(), tempPrefix) {
			if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
		return nil
	})
}

func (s *Store) path(key string) string {
	return filepath.Join(s.root, filepath.FromSlash(key))
}

// Put implements blob.Store: temp file, fsync, rename over the key, fsync the directory.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if err := s.put(ctx, key, r, size, false); err != nil {
		return fmt.Errorf("local: put %s: %w", key, err)
	}
	return nil
}

// PutIfAbsent implements blob.Store: temp file, fsync, hard link to the key (EEXIST:
// ErrExists), remove the temp file, fsync the directory.
func (s *Store) PutIfAbsent(ctx context.Context, key string, r io.Reader, size int64) error {
	if err := s.put(ctx, key, r, size, true); err != nil {
		return fmt.Errorf("local: put-if-absent %s: %w", key, err)
	}
	return nil
}

func (s *Store) put(ctx context.Context, key string, r io.Reader, size int64, onlyCreate bool) error {
	if err := blob.ValidateKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	final := s.path(key)
	dir := filepath.Dir(final)
	if err := s.mkdirAll(dir); err != nil {
		return err
	}
	if onlyCreate {
		// Fail early without writing a possibly large body when the key is already taken;
		// the link below decides any race.
		if _, err := os.Lstat(final); err == nil {
			return s.existsErr(final)
		}
	}
	tmp, err := os.CreateTemp(dir, tempPrefix+"*")
	if err != nil {
		return err
	}
	tmpName := tmp.Name()
	committed := false
	defer func() {
		if !committed {
			tmp.Close()
			os.Remove(tmpName)
		}
	}()
	if err := copyBody(ctx, tmp, r, size); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if onlyCreate {
		err := os.Link(tmpName, final)
		os.Remove(tmpName)
		committed = true
		if errors.Is(err, fs.ErrExist) {
			return s.existsErr(final)
		}
		if err != nil {
			return err
		}
	} else {
		if err := os.Rename(tmpName, final); err != nil {
			if fi, serr := os.Lstat(final); serr == nil && fi.IsDir() {
				return conflictErr(key)
			}
			return err
		}
		committed = true
	}
	return syncDir(dir)
}

// existsErr reports an existing file at final as ErrExists, and a directory there (the key is
// a directory of other keys) as a namespace conflict.
func (s *Store) existsErr(final string) error {
	if fi, err := os.Lstat(final); err == nil && fi.IsDir() {
		rel, _ := filepath.Rel(s.root, final)
		return conflictErr(filepath.ToSlash(rel))
	}
	return blob.ErrExists
}

func conflictErr(key string) error {
	return fmt.Errorf("%w %q: other keys are stored under it as a directory", blob.ErrInvalidKey, key)
}

// mkdirAll creates dir and its missing parents (0700) below the root, fsyncing the parent of
// each directory it creates so the new entries survive a crash.
func (s *Store) mkdirAll(dir string) error {
	fi, err := os.Stat(dir)
	if err == nil {
		if !fi.IsDir() {
			return conflictPathErr(s.root, dir)
		}
		return nil
	}
	if dir == s.root || !(errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)) {
		return err
	}
	parent := filepath.Dir(dir)
	if err := s.mkdirAll(parent); err != nil {
		return err
	}
	if err := os.Mkdir(dir, dirMode); err != nil {
		if errors.Is(err, fs.ErrExist) { // created by a concurrent writer
			if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
				return nil
			}
			return conflictPathErr(s.root, dir)
		}
		return err
	}
	return syncDir(parent)
}

func conflictPathErr(root, dir string) error {
	rel, _ := filepath.Rel(root, dir)
	return fmt.Errorf("%w: %q is an object, so no key can be stored under it", blob.ErrInvalidKey, filepath.ToSlash(rel))
}

// copyBody copies exactly size bytes (size < 0: up to EOF) from r to w, checking ctx between
// reads.
func copyBody(ctx context.Context, w io.Writer, r io.Reader, size int64) error {
	src := io.Reader(ctxReader{ctx: ctx, r: r})
	if size >= 0 {
		n, err := io.Copy(w, io.LimitReader(src, size))
		if err != nil {
			return err
		}
		if n < size {
			return fmt.Errorf("body ended after %d of %d bytes: %w", n, size, io.ErrUnexpectedEOF)
		}
		return nil
	}
	_, err := io.Copy(w, src)
	return err
}

// ctxReader fails reads once ctx is done, so a long copy stops when the caller gives up.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// readCloser is a ctxReader that closes the underlying file.
type readCloser struct {
	ctxReader
	f *os.File
}

func (rc readCloser) Close() error { return rc.f.Close() }

// Get implements blob.Store. The returned reader stops with the context's error once ctx is
// done.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := blob.ValidateKey(key); err != nil {
		return nil, fmt.Errorf("local: get %s: %w", key, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("local: get %s: %w", key, err)
	}
	f, err := os.Open(s.path(key))
	if err != nil {
		return nil, fmt.Errorf("local: get %s: %w", key, mapErr(err))
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("local: get %s: %w", key, mapErr(err))
	}
	if !fi.Mode().IsRegular() { // a directory of other keys, not an object
		f.Close()
		return nil, fmt.Errorf("local: get %s: %w", key, blob.ErrNotFound)
	}
	return readCloser{ctxReader: ctxReader{ctx: ctx, r: f}, f: f}, nil
}

// Delete implements blob.Store: it removes the file and fsyncs its directory. Directories left
// empty stay (a concurrent Put may be about to use them).
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := blob.ValidateKey(key); err != nil {
		return fmt.Errorf("local: delete %s: %w", key, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("local: delete %s: %w", key, err)
	}
	p := s.path(key)
	fi, err := os.Lstat(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			return nil
		}
		return fmt.Errorf("local: delete %s: %w", key, err)
	}
	if fi.IsDir() { // not an object
		return nil
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("local: delete %s: %w", key, err)
	}
	if err := syncDir(filepath.Dir(p)); err != nil {
		return fmt.Errorf("local: delete %s: %w", key, err)
	}
	return nil
}

// List implements blob.Store. It walks only the directory the prefix points into.
func (s *Store) List(ctx context.Context, prefix string) ([]blob.ObjectInfo, error) {
	if err := blob.ValidatePrefix(prefix); err != nil {
		return nil, fmt.Errorf("local: list %s: %w", prefix, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("local: list %s: %w", prefix, err)
	}
	// The deepest directory that holds every match: "a/b/" -> a/b, "a/b" -> a, "ab" -> root.
	base := s.root
	if i := strings.LastIndex(prefix, "/"); i >= 0 {
		base = s.path(prefix[:i])
	}
	var out []blob.ObjectInfo
	err := filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == base && (errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)) {
				return fs.SkipAll // nothing stored under the prefix
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if strings.HasPrefix(d.Name(), ".") && p != base {
			// Temporary files, and anything no valid key can name.
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			if p == base {
				return nil
			}
			rel := filepath.ToSlash(p[len(s.root)+1:]) + "/"
			// Descend only where keys with the prefix can be.
			if !strings.HasPrefix(rel, prefix) && !strings.HasPrefix(prefix, rel) {
				return fs.SkipDir
			}
			return nil
		}
		if p == base || !d.Type().IsRegular() {
			return nil
		}
		key := filepath.ToSlash(p[len(s.root)+1:])
		if !strings.HasPrefix(key, prefix) {
			return nil
		}
		fi, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil // deleted while we walked
		}
		if err != nil {
			return err
		}
		out = append(out, blob.ObjectInfo{Key: key, Size: fi.Size(), ModTime: fi.ModTime()})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("local: list %s: %w", prefix, err)
	}
	slices.SortFunc(out, func(a, b blob.ObjectInfo) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

// mapErr maps "no such file" (including a path through a file, ENOTDIR) to blob.ErrNotFound,
// keeping the original error.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return fmt.Errorf("%w: %w", blob.ErrNotFound, err)
	}
	return err
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
