package source

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"io/fs"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/facematch/facematch/engine"
)

// FuzzArchive feeds arbitrary bytes to Archive and reads every entry (up to 1 MiB): nothing
// may panic or hang, every name listed as readable must be a clean relative path that is not
// hidden, names must be unique, and Close must leave nothing in the temp dir.
func FuzzArchive(f *testing.F) {
	small := []ent{{"d/", tar.TypeDir, ""}, {"d/a.jpg", tar.TypeReg, "AB"}, {"../x", tar.TypeReg, ""}, {"l", tar.TypeSymlink, "/x"}}
	tarBytes := buildTar(f, small)
	f.Add(tarBytes)
	f.Add(gzipBytes(f, tarBytes))
	f.Add(buildZip(f, small))
	f.Add(tarBytes[:700])
	f.Add([]byte("PK\x05\x06" + strings.Repeat("\x00", 18)))
	f.Add([]byte{0x1f, 0x8b})
	f.Add([]byte{})
	// One spool directory per fuzzing process (inputs run one at a time in each): a fresh
	// t.TempDir per input would cost more than the input.
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s, err := Archive(ctx, opener(data, nil), dir)
		if err != nil {
			if left, _ := os.ReadDir(dir); len(left) != 0 {
				t.Fatalf("failed Archive left %s in the temp dir", left[0].Name())
			}
			return
		}
		seen := map[string]bool{}
		_ = s.Files(ctx, func(f engine.SourceFile) error {
			if seen[f.Name] {
				t.Fatalf("name %q listed twice", f.Name)
			}
			seen[f.Name] = true
			if f.Refused != "" {
				if rc, err := f.Open(ctx); err == nil {
					rc.Close()
					t.Fatalf("%q refused (%s) but opened", f.Name, f.Refused)
				}
				return nil
			}
			if !fs.ValidPath(f.Name) || hidden(f.Name) {
				t.Fatalf("readable entry with name %q", f.Name)
			}
			rc, err := f.Open(ctx)
			if err != nil {
				return nil
			}
			io.Copy(io.Discard, io.LimitReader(rc, 1<<20))
			rc.Close()
			return nil
		})
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if left, _ := os.ReadDir(dir); len(left) != 0 {
			t.Fatalf("Close left %s in the temp dir", left[0].Name())
		}
	})
}

// FuzzReadMeta feeds arbitrary sidecars in both formats: no panic, and every key read back is
// found by For.
func FuzzReadMeta(f *testing.F) {
	f.Add([]byte(`{"a/b.jpg": {"site": "x", "usernames": ["u"], "phones": "1", "posted_at": "2024-01-02", "ad_id": 7}}`), true)
	f.Add([]byte(`[{"file": "a.jpg", "collected_at": "2024-01-02T03:04:05Z", "url": null}]`), true)
	f.Add([]byte(`{"a.jpg": {"colour": 1}}`), true)
	f.Add([]byte("file,site,usernames,posted_at\na.jpg,x,u1;u2|u3,2024-01-02\n\"b,c.jpg\",\"y\"\"z\",,\n"), false)
	f.Add([]byte("\ufefffile;url\na.jpg;http://x\n"), false)
	f.Add([]byte("file\n../a.jpg\n"), false)
	f.Fuzz(func(t *testing.T, data []byte, isJSON bool) {
		format := "csv"
		if isJSON {
			format = "json"
		}
		m, err := ReadMeta(bytes.NewReader(data), format)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "source: ") {
				t.Fatalf("error without the package prefix: %v", err)
			}
			return
		}
		if m.Len() != len(m.entries) {
			t.Fatalf("Len %d, %d entries", m.Len(), len(m.entries))
		}
		for key, want := range m.entries {
			if !fs.ValidPath(key) {
				t.Fatalf("key %q is not a clean relative path", key)
			}
			if _, ok := m.For(key); !ok {
				t.Fatalf("For(%q) found nothing for its own key (record %+v)", key, want)
			}
		}
	})
}
