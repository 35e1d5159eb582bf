package source

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/facematch/facematch/engine"
)

// hostile is an archive's worth of good and bad entries; tarOnly ones have no zip form.
var hostile = []struct {
	ent
	tarOnly bool
}{
	{ent: ent{"photos/", tar.TypeDir, ""}},
	{ent: ent{"photos/a.jpg", tar.TypeReg, "AAAA"}},
	{ent: ent{"../evil.jpg", tar.TypeReg, "evil"}},
	{ent: ent{"/abs.jpg", tar.TypeReg, "abs"}},
	{ent: ent{"photos/../../up.jpg", tar.TypeReg, "up"}},
	{ent: ent{`C:\win.jpg`, tar.TypeReg, "drive"}},
	{ent: ent{"link.jpg", tar.TypeSymlink, "/etc/passwd"}},
	{ent: ent{"hard.jpg", tar.TypeLink, "/etc/passwd"}, tarOnly: true},
	{ent: ent{"pipe", tar.TypeFifo, ""}},
	{ent: ent{".hidden.jpg", tar.TypeReg, "hidden"}},
	{ent: ent{"photos/.DS_Store", tar.TypeReg, "ds"}},
	{ent: ent{"__MACOSX/photos/._a.jpg", tar.TypeReg, "fork"}},
	{ent: ent{"./b.jpg", tar.TypeReg, "BB"}},
	{ent: ent{`win\c.jpg`, tar.TypeReg, "C"}},
	{ent: ent{"b.jpg", tar.TypeReg, "again"}},
	{ent: ent{"z/last.jpg", tar.TypeReg, strings.Repeat("z", 3000)}},
}

func hostileEnts(zipForm bool) []ent {
	var out []ent
	for _, h := range hostile {
		if !(zipForm && h.tarOnly) {
			out = append(out, h.ent)
		}
	}
	return out
}

// wantHostile is what every format lists for hostile, by entry number (the duplicate's
// suffix) and format.
func wantHostile(format string) []listed {
	link := []listed{{Name: "link.jpg", Refused: refusedLink}}
	dupNumber := "#15"
	if format != FormatZip {
		link = append(link, listed{Name: "hard.jpg", Refused: refusedLink})
		dupNumber = "#15"
	} else {
		dupNumber = "#14"
	}
	want := []listed{
		{Name: "photos/a.jpg", Body: "AAAA"},
		{Name: "../evil.jpg", Refused: refusedUnsafe},
		{Name: "/abs.jpg", Refused: refusedUnsafe},
		{Name: "../up.jpg", Refused: refusedUnsafe},
		{Name: "C:/win.jpg", Refused: refusedUnsafe},
	}
	want = append(want, link...)
	return append(want,
		listed{Name: "pipe", Refused: "not a regular file (named pipe)"},
		listed{Name: "b.jpg", Body: "BB"},
		listed{Name: "win/c.jpg", Body: "C"},
		listed{Name: "b.jpg" + dupNumber, Refused: refusedDup},
		listed{Name: "z/last.jpg", Body: strings.Repeat("z", 3000)},
	)
}

func TestArchiveHostile(t *testing.T) {
	tests := []struct {
		format string
		data   []byte
	}{
		{FormatZip, buildZip(t, hostileEnts(true))},
		{FormatTar, buildTar(t, hostileEnts(false))},
		{FormatTarGz, gzipBytes(t, buildTar(t, hostileEnts(false)))},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			calls := 0
			s, err := Archive(context.Background(), opener(tt.data, &calls), t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if s.Format() != tt.format {
				t.Fatalf("format %q, want %q", s.Format(), tt.format)
			}
			want := wantHostile(tt.format)
			for round := range 2 { // the same listing every time
				got, err := list(t, s, 1<<20)
				if err != nil {
					t.Fatalf("round %d: %v", round, err)
				}
				if !slices.Equal(got, want) {
					t.Fatalf("round %d:\n got %+v\nwant %+v", round, got, want)
				}
			}
			if tt.format != FormatZip && calls != 3 {
				t.Errorf("a streamed archive was opened %d times, want 3 (detect + one per Files)", calls)
			}
		})
	}
}

func TestArchiveSizes(t *testing.T) {
	data := buildTar(t, []ent{{"a.jpg", tar.TypeReg, "12345"}})
	s, err := Archive(context.Background(), opener(data, nil), "")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = s.Files(context.Background(), func(f engine.SourceFile) error {
		if f.Size != 5 {
			t.Errorf("%s: size %d, want 5", f.Name, f.Size)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestZipRefusedEntries covers what only zips have: encryption and compression methods.
func TestZipRefusedEntries(t *testing.T) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	raw := func(fh *zip.FileHeader, body string) {
		w, err := zw.CreateRaw(fh)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, body)
	}
	raw(&zip.FileHeader{Name: "lzma.jpg", Method: 14, CompressedSize64: 3, UncompressedSize64: 3}, "xyz")
	raw(&zip.FileHeader{Name: "odd.jpg", Method: 77, CompressedSize64: 3, UncompressedSize64: 3}, "xyz")
	raw(&zip.FileHeader{Name: "secret.jpg", Method: zip.Store, Flags: 0x1, CompressedSize64: 3, UncompressedSize64: 3}, "xyz")
	raw(&zip.FileHeader{Name: "plain.jpg", Method: zip.Store, CompressedSize64: 3, UncompressedSize64: 3, CRC32: crc32.ChecksumIEEE([]byte("xyz"))}, "xyz")
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := Archive(context.Background(), opener(buf.Bytes(), nil), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := list(t, s, 100)
	if err != nil {
		t.Fatal(err)
	}
	want := []listed{
		{Name: "lzma.jpg", Refused: "zip compression method 14 (LZMA): not supported"},
		{Name: "odd.jpg", Refused: "zip compression method 77: not supported"},
		{Name: "secret.jpg", Refused: "encrypted zip entry: not supported"},
		{Name: "plain.jpg", Body: "xyz"},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("\n got %+v\nwant %+v", got, want)
	}
}

func TestArchiveTruncated(t *testing.T) {
	ents := []ent{
		{"a.jpg", tar.TypeReg, strings.Repeat("a", 700)},
		{"b.jpg", tar.TypeReg, strings.Repeat("b", 700)},
		{"c.jpg", tar.TypeReg, strings.Repeat("c", 3000)},
	}
	full := buildTar(t, ents)
	// Tar layout: 512-byte header blocks (a PAX record adds none here), data padded to 512.
	// a: 0-512 header, 512-1536 data; b: 1536-2048 header, 2048-3072 data; c: 3072-3584 header.
	tests := []struct {
		name      string
		data      []byte
		wantNames []string // listed before the error
		wantBody  map[string]bool
	}{
		{"tar cut in c's data", full[:3584+1000], []string{"a.jpg", "b.jpg", "c.jpg"}, map[string]bool{"a.jpg": true, "b.jpg": true}},
		{"tar cut in b's header", full[:1536+300], []string{"a.jpg"}, map[string]bool{"a.jpg": true}},
		{"tar cut in a's data", full[:900], []string{"a.jpg"}, nil},
	}
	gz := gzipBytes(t, full)
	tests = append(tests, struct {
		name      string
		data      []byte
		wantNames []string
		wantBody  map[string]bool
	}{"tar.gz without its gzip trailer", gz[:len(gz)-4], []string{"a.jpg", "b.jpg", "c.jpg"}, map[string]bool{"a.jpg": true, "b.jpg": true, "c.jpg": true}})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Archive(context.Background(), opener(tt.data, nil), t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			got, err := list(t, s, 1<<20)
			wantErrContains(t, err, ": truncated or corrupt after "+entries(len(tt.wantNames))+": unexpected EOF")
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("err %v does not wrap io.ErrUnexpectedEOF", err)
			}
			if !slices.Equal(namesOf(got), tt.wantNames) {
				t.Fatalf("listed %q, want %q", namesOf(got), tt.wantNames)
			}
			for _, l := range got {
				if tt.wantBody[l.Name] {
					if want := len(ents[l.Name[0]-'a'].body); l.ReadErr != "" || len(l.Body) != want {
						t.Errorf("%s: read %d bytes, err %q; want all %d", l.Name, len(l.Body), l.ReadErr, want)
					}
				} else if l.ReadErr == "" {
					t.Errorf("%s: read %d bytes without error from a cut entry", l.Name, len(l.Body))
				}
			}
		})
	}

	t.Run("zip", func(t *testing.T) {
		z := buildZip(t, ents)
		_, err := Archive(context.Background(), opener(z[:len(z)-30], nil), t.TempDir())
		wantErrContains(t, err, "source: archive: truncated or corrupt zip: zip: not a valid zip file")
	})
}

func TestArchiveUnknown(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	noise := make([]byte, 4096)
	for i := range noise {
		noise[i] = byte(rng.Uint32())
	}
	noise[0] = 'X' // not 'P' or 0x1f by chance
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"random bytes", noise, "it starts with 58"},
		{"empty", nil, "(empty)"},
		{"a png", []byte("\x89PNG\r\n\x1a\n........"), "it starts with 89 50 4e 47 0d 0a 1a 0a"},
		{"gzip of a photo", gzipBytes(t, noise), "gzip data that does not hold a tar archive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			_, err := Archive(context.Background(), opener(tt.data, nil), dir)
			if !errors.Is(err, ErrUnknownArchive) {
				t.Fatalf("err = %v, want ErrUnknownArchive", err)
			}
			wantErrContains(t, err, "not a zip, tar or tar.gz archive")
			wantErrContains(t, err, tt.want)
			if left, _ := os.ReadDir(dir); len(left) != 0 {
				t.Errorf("left %d files in the temp dir", len(left))
			}
		})
	}
}

func TestTarEntryOnlyInsideCallback(t *testing.T) {
	data := buildTar(t, []ent{{"a.jpg", tar.TypeReg, "first"}, {"b.jpg", tar.TypeReg, "second"}})
	s, err := Archive(context.Background(), opener(data, nil), "")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	var kept []engine.SourceFile
	var readers []io.ReadCloser
	err = s.Files(ctx, func(f engine.SourceFile) error {
		kept = append(kept, f)
		rc, err := f.Open(ctx)
		if err != nil {
			return err
		}
		if _, err := f.Open(ctx); err == nil {
			t.Errorf("%s: a second Open succeeded; it would read the rest of the stream", f.Name)
		}
		readers = append(readers, rc)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range kept {
		if rc, err := f.Open(ctx); err == nil {
			b, _ := io.ReadAll(rc)
			t.Errorf("%s: Open after the callback succeeded (read %q)", f.Name, b)
		} else if !errors.Is(err, errStreamed) {
			t.Errorf("%s: Open after the callback: %v, want errStreamed", f.Name, err)
		}
		if n, err := readers[i].Read(make([]byte, 10)); n != 0 || !errors.Is(err, errStreamed) {
			t.Errorf("%s: read after the callback: %d bytes, err %v; want errStreamed", f.Name, n, err)
		}
	}
}

func TestZipSpoolRemovedOnClose(t *testing.T) {
	dir := t.TempDir()
	data := buildZip(t, []ent{{"a.jpg", tar.TypeReg, "zip content"}})
	s, err := Archive(context.Background(), opener(data, nil), dir)
	if err != nil {
		t.Fatal(err)
	}
	spooled, _ := os.ReadDir(dir)
	if len(spooled) != 1 {
		t.Fatalf("%d files in the temp dir while open, want the spool", len(spooled))
	}
	var f engine.SourceFile
	if err := s.Files(context.Background(), func(sf engine.SourceFile) error { f = sf; return nil }); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Fatalf("the spool %s is still there after Close", left[0].Name())
	}
	if _, err := f.Open(context.Background()); err == nil {
		t.Error("a zip entry opened after Close")
	}
	if err := s.Files(context.Background(), func(engine.SourceFile) error { return nil }); err == nil {
		t.Error("Files succeeded after Close")
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestFileZipReadInPlace(t *testing.T) {
	dir, tmp := t.TempDir(), t.TempDir()
	path := filepath.Join(dir, "photos.bin") // the name says nothing: the bytes do
	if err := os.WriteFile(path, buildZip(t, []ent{{"a.jpg", tar.TypeReg, "in place"}}), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := File(path, tmp)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if spooled, _ := os.ReadDir(tmp); len(spooled) != 0 {
		t.Errorf("a local zip was spooled (%d files in the temp dir)", len(spooled))
	}
	got, err := list(t, s, 100)
	if err != nil || !slices.Equal(got, []listed{{Name: "a.jpg", Body: "in place"}}) {
		t.Fatalf("got %+v, %v", got, err)
	}
}

func TestArchiveCallbackErrorAndCancel(t *testing.T) {
	for _, format := range []string{FormatZip, FormatTar} {
		t.Run(format, func(t *testing.T) {
			ents := []ent{{"a.jpg", tar.TypeReg, "a"}, {"b.jpg", tar.TypeReg, "b"}}
			data := buildTar(t, ents)
			if format == FormatZip {
				data = buildZip(t, ents)
			}
			s, err := Archive(context.Background(), opener(data, nil), t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			n := 0
			err = s.Files(context.Background(), func(engine.SourceFile) error { n++; return errStop })
			if err != errStop || n != 1 {
				t.Errorf("callback error: Files = %v after %d calls, want errStop after 1", err, n)
			}
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			if err := s.Files(ctx, func(engine.SourceFile) error { return nil }); !errors.Is(err, context.Canceled) {
				t.Errorf("cancelled: Files = %v, want context.Canceled", err)
			}
		})
	}
}

func TestCleanEntryName(t *testing.T) {
	tests := []struct {
		raw, name string
		safe      bool
	}{
		{"a.jpg", "a.jpg", true},
		{"./a/./b.jpg", "a/b.jpg", true},
		{`a\b.jpg`, "a/b.jpg", true},
		{"a//b.jpg", "a/b.jpg", true},
		{"a/../b.jpg", "b.jpg", true},
		{"..", "..", false},
		{"../a", "../a", false},
		{`..\a`, "../a", false},
		{"a/../../b", "../b", false},
		{"/etc/passwd", "/etc/passwd", false},
		{`\\server\share`, "/server/share", false},
		{"C:/x", "C:/x", false},
		{"c:x", "c:x", false},
		{"", "", false},
		{".", ".", false},
		{"a\x00b", "a\x00b", false},
	}
	for _, tt := range tests {
		name, safe := cleanEntryName(tt.raw)
		if name != tt.name || safe != tt.safe {
			t.Errorf("cleanEntryName(%q) = %q, %v; want %q, %v", tt.raw, name, safe, tt.name, tt.safe)
		}
	}
}

// TestTarReaderRacesFiles: a reader handed to another goroutine may read while Files moves on,
// but never sees another entry's bytes (run with -race).
func TestTarReaderRacesFiles(t *testing.T) {
	data := buildTar(t, []ent{
		{"a.jpg", tar.TypeReg, strings.Repeat("a", 200<<10)},
		{"b.jpg", tar.TypeReg, strings.Repeat("b", 200<<10)},
	})
	s, err := Archive(context.Background(), opener(data, nil), "")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	done := make(chan error, 1)
	first := true
	err = s.Files(context.Background(), func(f engine.SourceFile) error {
		if !first {
			return nil
		}
		first = false
		rc, err := f.Open(context.Background())
		if err != nil {
			return err
		}
		go func() {
			buf := make([]byte, 1000)
			for {
				n, err := rc.Read(buf)
				if bytes.ContainsFunc(buf[:n], func(r rune) bool { return r != 'a' }) {
					done <- errors.New("read bytes of another entry")
					return
				}
				if err != nil {
					if err == io.EOF || errors.Is(err, errStreamed) {
						err = nil
					}
					done <- err
					return
				}
			}
		}()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
