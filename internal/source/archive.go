package source

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/facematch/facematch/engine"
)

// ErrUnknownArchive: the bytes are not a zip, tar or tar.gz archive (a single photo, say).
var ErrUnknownArchive = errors.New("not a zip, tar or tar.gz archive")

// Archive formats, as ArchiveSource.Format reports them.
const (
	FormatZip   = "zip"
	FormatTar   = "tar"
	FormatTarGz = "tar.gz"
)

// ArchiveSource is a zip, tar or tar.gz archive. It is safe for concurrent use; Close it once
// every Files call has returned.
type ArchiveSource struct {
	label  string // how errors name the archive: its path, or "archive"
	format string

	// open streams the archive again for every Files call (tar, tar.gz).
	open func(context.Context) (io.ReadCloser, error)

	// zr reads a zip through file: the caller's own file or the spool (spool != "").
	zr    *zip.Reader
	file  *os.File
	spool string

	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error
}

var _ engine.JobSource = (*ArchiveSource)(nil)

// Archive reads the archive that open streams, recognising its format by its first bytes.
// open is called once here and, for tar and tar.gz, again by every Files call: it must give
// the same bytes each time. A zip is spooled into a temporary file under tmpDir ("" for the
// system default) that Close removes, unless open returns a regular *os.File, which is read
// in place.
func Archive(ctx context.Context, open func(ctx context.Context) (io.ReadCloser, error), tmpDir string) (*ArchiveSource, error) {
	return openArchive(ctx, "archive", open, tmpDir)
}

// File is Archive for the file at path. It only reads the archive's first bytes (and a zip's
// directory, in place), so it takes no context.
func File(path, tmpDir string) (*ArchiveSource, error) {
	open := func(context.Context) (io.ReadCloser, error) {
		return os.OpenFile(path, os.O_RDONLY|openFlags, 0) // a named pipe must not block the open
	}
	return openArchive(context.Background(), path, open, tmpDir)
}

func openArchive(ctx context.Context, label string, open func(context.Context) (io.ReadCloser, error), tmpDir string) (*ArchiveSource, error) {
	rc, err := open(ctx)
	if err != nil {
		return nil, fmt.Errorf("source: %s: %w", label, err)
	}
	keep := false
	defer func() {
		if !keep {
			rc.Close()
		}
	}()
	head := make([]byte, 512)
	n, err := io.ReadFull(ctxReader{ctx, rc}, head)
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		return nil, fmt.Errorf("source: %s: %w", label, err)
	}
	head = head[:n]
	s := &ArchiveSource{label: label, open: open}
	switch {
	case bytes.HasPrefix(head, []byte("PK\x03\x04")) || bytes.HasPrefix(head, []byte("PK\x05\x06")):
		s.format = FormatZip
		if f, ok := rc.(*os.File); ok {
			if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
				if err := s.readZip(f, fi.Size(), ""); err != nil {
					return nil, err
				}
				keep = true // until Close
				return s, nil
			}
		}
		if err := s.spoolZip(ctx, io.MultiReader(bytes.NewReader(head), ctxReader{ctx, rc}), tmpDir); err != nil {
			return nil, err
		}
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(io.MultiReader(bytes.NewReader(head), ctxReader{ctx, rc}))
		if err != nil {
			return nil, fmt.Errorf("source: %s: corrupt gzip header: %w", label, err)
		}
		inner := make([]byte, 512)
		n, err := io.ReadFull(zr, inner)
		if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
			return nil, fmt.Errorf("source: %s: truncated or corrupt after 0 entries: %w", label, err)
		}
		if !isTar(inner[:n]) {
			return nil, fmt.Errorf("source: %s: %w (gzip data that does not hold a tar archive)", label, ErrUnknownArchive)
		}
		s.format = FormatTarGz
	case isTar(head):
		s.format = FormatTar
	case n == 0:
		return nil, fmt.Errorf("source: %s: %w (empty)", label, ErrUnknownArchive)
	default:
		return nil, fmt.Errorf("source: %s: %w (it starts with % x)", label, ErrUnknownArchive, head[:min(n, 8)])
	}
	return s, nil
}

// isTar reports whether head starts with a POSIX (ustar, pax) or GNU tar header.
func isTar(head []byte) bool {
	return len(head) >= 262 && string(head[257:262]) == "ustar"
}

// spoolZip copies the zip into a temporary file, for the random access zip needs.
func (s *ArchiveSource) spoolZip(ctx context.Context, r io.Reader, tmpDir string) error {
	f, err := os.CreateTemp(tmpDir, "facematch-source-*.zip")
	if err != nil {
		return fmt.Errorf("source: %s: spooling zip: %w", s.label, err)
	}
	size, err := io.Copy(f, r)
	if err != nil {
		f.Close()
		os.Remove(f.Name())
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("source: %s: spooling zip: %w", s.label, err)
	}
	if err := s.readZip(f, size, f.Name()); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	return nil
}

// readZip reads the zip's central directory. A zip cut short loses that directory, which is
// at its end, so a truncated zip fails here rather than part-way through Files.
func (s *ArchiveSource) readZip(f *os.File, size int64, spool string) error {
	zr, err := zip.NewReader(f, size)
	if errors.Is(err, zip.ErrInsecurePath) && zr != nil {
		err = nil // (GODEBUG zipinsecurepath=0) such names are refused entry by entry
	}
	if err != nil {
		return fmt.Errorf("source: %s: truncated or corrupt zip: %w", s.label, err)
	}
	s.zr, s.file, s.spool = zr, f, spool
	return nil
}

// Format is FormatZip, FormatTar or FormatTarGz.
func (s *ArchiveSource) Format() string { return s.format }

// Files implements engine.JobSource, listing entries in the archive's order. A zip entry may
// be opened until Close; a tar entry only inside fn, once (the archive is a stream).
func (s *ArchiveSource) Files(ctx context.Context, fn func(engine.SourceFile) error) error {
	if s.closed.Load() {
		return fmt.Errorf("source: %s: closed", s.label)
	}
	if s.format == FormatZip {
		return s.zipFiles(ctx, fn)
	}
	return s.tarFiles(ctx, fn)
}

// Close releases the archive and removes the zip spool, if any.
func (s *ArchiveSource) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		if s.file != nil {
			s.closeErr = s.file.Close()
		}
		if s.spool != "" {
			if err := os.Remove(s.spool); err != nil {
				s.closeErr = errors.Join(s.closeErr, err)
			}
		}
		if s.closeErr != nil {
			s.closeErr = fmt.Errorf("source: %s: close: %w", s.label, s.closeErr)
		}
	})
	return s.closeErr
}

// entry builds the SourceFile of an archive entry from its raw name, minus its Open. It
// returns ok false for an entry to skip silently (hidden). reason is why the entry's type
// is refused, "" for a regular file.
func entry(seen names, number int, raw string, size int64, reason string) (f engine.SourceFile, ok bool) {
	name, safe := cleanEntryName(raw)
	if safe && hidden(name) {
		return f, false
	}
	if !safe {
		reason = refusedUnsafe
	}
	name, dup := seen.unique(name, number)
	if dup && reason == "" {
		reason = refusedDup
	}
	if size < 0 {
		size = -1
	}
	return engine.SourceFile{Name: name, Size: size, Refused: reason}, true
}

func (s *ArchiveSource) zipFiles(ctx context.Context, fn func(engine.SourceFile) error) error {
	seen := names{}
	for i, zf := range s.zr.File {
		if err := ctx.Err(); err != nil {
			return err
		}
		mode := zf.Mode()
		if mode.IsDir() || (len(zf.Name) > 0 && (zf.Name[len(zf.Name)-1] == '/' || zf.Name[len(zf.Name)-1] == '\\')) {
			continue
		}
		var reason string
		switch {
		case mode&os.ModeSymlink != 0:
			reason = refusedLink
		case !mode.IsRegular():
			reason = notRegular(mode)
		case zf.Flags&0x1 != 0:
			reason = "encrypted zip entry: not supported"
		case zf.Method != zip.Store && zf.Method != zip.Deflate:
			reason = fmt.Sprintf("zip compression method %d%s: not supported", zf.Method, methodName(zf.Method))
		}
		size := int64(zf.UncompressedSize64) // above MaxInt64 it turns negative: unknown
		f, ok := entry(seen, i+1, zf.Name, size, reason)
		if !ok {
			continue
		}
		if f.Refused != "" {
			f.Open = refused(f.Name, f.Refused)
		} else {
			f.Open = s.zipOpen(zf, f.Name)
		}
		if err := fn(f); err != nil {
			return err
		}
	}
	return nil
}

func (s *ArchiveSource) zipOpen(zf *zip.File, name string) func(context.Context) (io.ReadCloser, error) {
	return func(ctx context.Context) (io.ReadCloser, error) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if s.closed.Load() {
			return nil, fmt.Errorf("source: %s: open %s: archive closed", s.label, name)
		}
		rc, err := zf.Open()
		if err != nil {
			return nil, fmt.Errorf("source: %s: open %s: %w", s.label, name, err)
		}
		return rc, nil
	}
}

// methodName names the zip compression methods seen in the wild that archive/zip cannot read.
func methodName(m uint16) string {
	switch m {
	case 9:
		return " (deflate64)"
	case 12:
		return " (bzip2)"
	case 14:
		return " (LZMA)"
	case 93:
		return " (zstd)"
	case 95:
		return " (xz)"
	case 98:
		return " (PPMd)"
	case 99:
		return " (AES encryption)"
	}
	return ""
}

func (s *ArchiveSource) tarFiles(ctx context.Context, fn func(engine.SourceFile) error) error {
	rc, err := s.open(ctx)
	if err != nil {
		return fmt.Errorf("source: %s: %w", s.label, err)
	}
	defer rc.Close()
	var r io.Reader = ctxReader{ctx, rc}
	if s.format == FormatTarGz {
		zr, err := gzip.NewReader(r)
		if err != nil {
			return fmt.Errorf("source: %s: truncated or corrupt after 0 entries: %w", s.label, err)
		}
		defer zr.Close()
		r = zr
	}
	tr := tar.NewReader(r)
	seen := names{}
	for n := 0; ; n++ {
		hdr, err := tr.Next()
		if err == io.EOF && s.format == FormatTarGz {
			// The tar ends before the gzip stream does: read on (a little) so that a
			// truncated or corrupt stream fails its gzip checksum instead of passing.
			_, err = io.CopyN(io.Discard, r, 1<<20)
		}
		if err == io.EOF {
			return nil
		}
		if errors.Is(err, tar.ErrInsecurePath) && hdr != nil {
			err = nil // (GODEBUG tarinsecurepath=0) such names are refused below
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("source: %s: truncated or corrupt after %s: %w", s.label, entries(n), err)
		}
		var reason string
		switch hdr.Typeflag {
		case tar.TypeDir, tar.TypeXGlobalHeader:
			continue
		case tar.TypeReg, tar.TypeCont, tar.TypeGNUSparse:
		case tar.TypeSymlink, tar.TypeLink:
			reason = refusedLink
		case tar.TypeChar:
			reason = notRegular(os.ModeDevice | os.ModeCharDevice)
		case tar.TypeBlock:
			reason = notRegular(os.ModeDevice)
		case tar.TypeFifo:
			reason = notRegular(os.ModeNamedPipe)
		default:
			reason = fmt.Sprintf("not a regular file (tar type %q)", hdr.Typeflag)
		}
		f, ok := entry(seen, n+1, hdr.Name, hdr.Size, reason)
		if !ok {
			continue
		}
		e := &tarEntry{label: s.label, name: f.Name, r: tr}
		if f.Refused != "" {
			f.Open = refused(f.Name, f.Refused)
		} else {
			f.Open = e.open
		}
		err = fn(f)
		e.end()
		if err != nil {
			return err
		}
	}
}

// tarEntry is the current entry of a streamed tar. Its reader is valid only until the Files
// callback returns (end): after that the stream has moved on, and reading would return the
// bytes of other entries.
type tarEntry struct {
	label, name string

	// mu serialises reads with end, so a reader handed to another goroutine cannot read
	// while Files moves the stream on.
	mu     sync.Mutex
	r      io.Reader
	opened bool
	done   bool
}

// errStreamed: a streamed entry's reader was used after its callback returned.
var errStreamed = errors.New("a tar entry can only be read inside the Files callback that listed it")

func (e *tarEntry) open(ctx context.Context) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	switch {
	case e.done:
		return nil, fmt.Errorf("source: %s: open %s: %w", e.label, e.name, errStreamed)
	case e.opened:
		return nil, fmt.Errorf("source: %s: open %s: already opened (a streamed tar entry can be read once)", e.label, e.name)
	}
	e.opened = true
	return &tarReader{e: e}, nil
}

func (e *tarEntry) end() {
	e.mu.Lock()
	e.done = true
	e.mu.Unlock()
}

type tarReader struct {
	e      *tarEntry
	closed bool
}

func (t *tarReader) Read(p []byte) (int, error) {
	e := t.e
	e.mu.Lock()
	defer e.mu.Unlock()
	switch {
	case e.done:
		return 0, fmt.Errorf("source: %s: read %s: %w", e.label, e.name, errStreamed)
	case t.closed:
		return 0, fmt.Errorf("source: %s: read %s: %w", e.label, e.name, os.ErrClosed)
	}
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("source: %s: read %s: %w", e.label, e.name, err)
	}
	return n, err
}

func (t *tarReader) Close() error {
	t.e.mu.Lock()
	t.closed = true
	t.e.mu.Unlock()
	return nil
}

// entries is "1 entry" or "n entries".
func entries(n int) string {
	if n == 1 {
		return "1 entry"
	}
	return strconv.Itoa(n) + " entries"
}

// ctxReader stops reading once ctx is done: a long spool or a skip over a large tar entry
// ends promptly when the job is cancelled.
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
