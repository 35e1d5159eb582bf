package source

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/facematch/facematch/engine"
)

// A job must never read the service's own data back as a source: another gallery's photos, the
// index segments or the catalog (issue 12, hardening).
func TestOpenerRefusesOwnData(t *testing.T) {
	dataDir := t.TempDir()
	outside := t.TempDir()
	for _, d := range []string{filepath.Join(dataDir, "blobs", "galleries"), filepath.Join(outside, "photos")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name, ownBlobs, spec string
		refused              bool
	}{
		{"same bucket and prefix", "s3://evidence/fm", "s3://evidence/fm", true},
		{"inside the service's prefix", "s3://evidence/fm", "s3://evidence/fm/galleries/1", true},
		{"the whole bucket", "s3://evidence/fm", "s3://evidence", true},
		{"the whole bucket, trailing slash", "s3://evidence/fm", "s3://evidence/", true},
		{"a service on the whole bucket", "s3://evidence", "s3://evidence/ads", true},
		{"a sibling prefix", "s3://evidence/fm", "s3://evidence/fm-ads", false},
		{"another bucket", "s3://evidence/fm", "s3://ads/fm", false},
		{"local blobs, an S3 source", "", "s3://evidence/fm", false},
		{"the data directory", "", dataDir, true},
		{"below the data directory", "", filepath.Join(dataDir, "blobs", "galleries"), true},
		{"above the data directory", "", filepath.Dir(dataDir), true},
		{"elsewhere", "", filepath.Join(outside, "photos"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := &Opener{DataDir: dataDir, OwnBlobs: tt.ownBlobs}
			err := o.refuseOwnData(tt.spec)
			if tt.refused != (err != nil) {
				t.Fatalf("refuseOwnData(%q) with blobs %q = %v, want refused %v", tt.spec, tt.ownBlobs, err, tt.refused)
			}
			if err != nil && !errors.Is(err, engine.ErrInvalid) {
				t.Fatalf("refusal %v is not ErrInvalid (422)", err)
			}
		})
	}
}

// TestOpenerKeepsToTheIngestRoot: the service reads local paths within --ingest-root only, and a
// symbolic link cannot lead out of it; without a root it reads none.
func TestOpenerKeepsToTheIngestRoot(t *testing.T) {
	root, outside := t.TempDir(), t.TempDir()
	for _, d := range []string{filepath.Join(root, "ads"), filepath.Join(outside, "secrets")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join(outside, "secrets"), filepath.Join(root, "escape")); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	o := &Opener{Root: root, TmpDir: t.TempDir(), DataDir: t.TempDir()}
	src, err := o.OpenSource(ctx, filepath.Join(root, "ads"))
	if err != nil {
		t.Fatalf("a directory inside the root: %v", err)
	}
	src.Close()
	for _, spec := range []string{filepath.Join(outside, "secrets"), filepath.Join(root, "escape"), filepath.Join(root, "ads", "..", "..", filepath.Base(outside))} {
		if _, err := o.OpenSource(ctx, spec); err == nil || !strings.Contains(err.Error(), "outside the ingest root") {
			t.Errorf("%s: %v, want outside the ingest root", spec, err)
		}
	}
	none := &Opener{TmpDir: t.TempDir(), DataDir: t.TempDir()}
	if _, err := none.OpenSource(ctx, filepath.Join(root, "ads")); err == nil || !strings.Contains(err.Error(), "reads no local paths") {
		t.Errorf("no root: %v, want a refusal of local paths", err)
	}
}
