package main

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/facematch/facematch/engine"
)

// A job must never read the service's own data back as a source: another gallery's photos, the
// index segments or the catalog (issue 12, hardening).
func TestSourceOpenerRefusesOwnData(t *testing.T) {
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
			o := &sourceOpener{dataDir: dataDir, ownBlobs: tt.ownBlobs}
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
