package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/facematch/facematch/engine"
)

// Opener opens the sources of a service's jobs: archives uploaded with a job
// (engine.UploadSourcePrefix), S3 prefixes, and local directories and archives within Root.
// It never opens the service's own data.
type Opener struct {
	S3 S3Config
	// Uploads reads an uploaded archive by its blob key.
	Uploads func(ctx context.Context, key string) (io.ReadCloser, error)
	// Root, when set, is the only local tree jobs may read: an API client must not make the
	// service read arbitrary files. "" with AnyLocalPath false reads no local path.
	Root string
	// AnyLocalPath lets jobs read any local path (the ingest command: its user chose it).
	AnyLocalPath bool
	// TmpDir spools archives that are not local files.
	TmpDir string
	// DataDir and OwnBlobs (s3://bucket/prefix, or "" for blobs under DataDir) are the
	// service's own data: a job must never read it back as a source (it holds other galleries'
	// photos, the index and the catalog).
	DataDir  string
	OwnBlobs string
}

var _ engine.SourceOpener = (*Opener)(nil)

// OpenSource implements engine.SourceOpener.
func (o *Opener) OpenSource(ctx context.Context, spec string) (engine.JobSource, error) {
	if err := os.MkdirAll(o.TmpDir, 0o700); err != nil {
		return nil, err
	}
	if key, ok := strings.CutPrefix(spec, engine.UploadSourcePrefix); ok {
		return Archive(ctx, func(ctx context.Context) (io.ReadCloser, error) { return o.Uploads(ctx, key) }, o.TmpDir)
	}
	if err := o.refuseOwnData(spec); err != nil {
		return nil, err
	}
	if !strings.HasPrefix(spec, "s3://") && !o.AnyLocalPath {
		if o.Root == "" {
			return nil, errors.New("this service reads no local paths: start it with --ingest-root, or upload an archive")
		}
		abs, err := resolve(spec)
		if err != nil {
			return nil, err
		}
		root, err := resolve(o.Root)
		if err != nil {
			return nil, err
		}
		if rel, err := filepath.Rel(root, abs); err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
			return nil, fmt.Errorf("%s is outside the ingest root %s (--ingest-root)", spec, o.Root)
		}
		spec = abs
	}
	return Open(ctx, spec, Options{S3: o.S3, TmpDir: o.TmpDir})
}

// refuseOwnData refuses a source that overlaps the service's own data: the same S3 bucket with
// one prefix inside the other, or a local path inside the data directory or holding it.
func (o *Opener) refuseOwnData(spec string) error {
	if rest, ok := strings.CutPrefix(spec, "s3://"); ok {
		own, isS3 := strings.CutPrefix(o.OwnBlobs, "s3://")
		if !isS3 {
			return nil
		}
		bucket, prefix, _ := strings.Cut(rest, "/")
		ownBucket, ownPrefix, _ := strings.Cut(own, "/")
		if bucket == ownBucket && prefixesOverlap(strings.Trim(prefix, "/"), strings.Trim(ownPrefix, "/")) {
			return fmt.Errorf("%s overlaps this service's own blob store %s: a job cannot read the service's data: %w", spec, o.OwnBlobs, engine.ErrInvalid)
		}
		return nil
	}
	abs, err := resolve(spec)
	if err != nil {
		return nil // the source reports a missing path itself
	}
	data, err := resolve(o.DataDir)
	if err != nil {
		return nil
	}
	if prefixesOverlap(abs, data) {
		return fmt.Errorf("%s overlaps this service's data directory: a job cannot read the service's data: %w", spec, engine.ErrInvalid)
	}
	return nil
}

// prefixesOverlap reports whether one slash-separated path is the other or lies below it ("" is
// everything).
func prefixesOverlap(a, b string) bool {
	if len(a) > len(b) {
		a, b = b, a
	}
	return a == "" || b == a || strings.HasPrefix(b, a+"/") || a == "/"
}

// resolve makes path absolute with its symbolic links resolved, so that a link cannot lead
// out of the ingest root.
func resolve(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	return filepath.EvalSymlinks(abs)
}
