package source

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/facematch/facematch/engine"
)

// ent is one entry of a test archive.
type ent struct {
	name string
	typ  byte   // tar type flag; zip: tar.TypeDir, tar.TypeSymlink or a regular file
	body string // content, or a link's target
}

func buildTar(t testing.TB, ents []ent) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range ents {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: 0o644, Format: tar.FormatPAX}
		switch e.typ {
		case tar.TypeReg:
			h.Size = int64(len(e.body))
		case tar.TypeSymlink, tar.TypeLink:
			h.Linkname = e.body
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatalf("tar header %q: %v", e.name, err)
		}
		if e.typ == tar.TypeReg {
			if _, err := io.WriteString(tw, e.body); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func buildZip(t testing.TB, ents []ent) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range ents {
		fh := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		switch e.typ {
		case tar.TypeDir:
			fh.SetMode(os.ModeDir | 0o755)
		case tar.TypeSymlink:
			fh.SetMode(os.ModeSymlink | 0o777)
		case tar.TypeFifo:
			fh.SetMode(os.ModeNamedPipe | 0o644)
		default:
			fh.SetMode(0o644)
		}
		w, err := zw.CreateHeader(fh)
		if err != nil {
			t.Fatalf("zip header %q: %v", e.name, err)
		}
		if _, err := io.WriteString(w, e.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gzipBytes(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// opener streams b, counting how often it is called.
func opener(b []byte, calls *int) func(context.Context) (io.ReadCloser, error) {
	return func(context.Context) (io.ReadCloser, error) {
		if calls != nil {
			*calls++
		}
		return io.NopCloser(bytes.NewReader(b)), nil
	}
}

// listed is what a test sees of one SourceFile: its name, refusal, and (when not refused)
// its content or the error reading it.
type listed struct {
	Name    string
	Refused string
	Body    string
	ReadErr string
}

// list runs Files, reading every entry inside the callback (up to limit bytes).
func list(t testing.TB, s engine.JobSource, limit int64) ([]listed, error) {
	t.Helper()
	var out []listed
	err := s.Files(context.Background(), func(f engine.SourceFile) error {
		l := listed{Name: f.Name, Refused: f.Refused}
		rc, err := f.Open(context.Background())
		switch {
		case f.Refused != "" && err == nil:
			rc.Close()
			t.Errorf("%s: refused (%s) but Open succeeded", f.Name, f.Refused)
		case f.Refused != "":
		case err != nil:
			l.ReadErr = err.Error()
		default:
			b, err := io.ReadAll(io.LimitReader(rc, limit))
			l.Body = string(b)
			if err != nil {
				l.ReadErr = err.Error()
			}
			rc.Close()
		}
		out = append(out, l)
		return nil
	})
	return out, err
}

// names of ls.
func namesOf(ls []listed) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = l.Name
	}
	return out
}

func wantErrContains(t testing.TB, err error, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("err = nil, want one containing %q", want)
	}
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %q, want one containing %q", err, want)
	}
}

var errStop = errors.New("stop here")
