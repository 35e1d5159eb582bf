package source

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"strings"

	"github.com/facematch/facematch/engine"
)

// Options are what Open needs besides the spec.
type Options struct {
	// S3 reaches the server of "s3://" specs; its Bucket and Prefix are ignored (the spec
	// gives them).
	S3 S3Config
	// TmpDir holds the spool of a zip that is not a local file; empty: os.TempDir().
	TmpDir string
}

// scheme matches a URL scheme at the start of a spec.
var scheme = regexp.MustCompile(`^([a-zA-Z][a-zA-Z0-9+.-]*)://`)

// Open returns the source a job's spec names: "s3://bucket/prefix" (the whole bucket
// without a prefix), a local directory, or a local zip, tar or tar.gz file.
func Open(ctx context.Context, spec string, opts Options) (engine.JobSource, error) {
	if strings.TrimSpace(spec) == "" {
		return nil, errors.New("source: empty source: want s3://bucket/prefix, a directory or an archive file")
	}
	if m := scheme.FindStringSubmatch(spec); m != nil {
		if !strings.EqualFold(m[1], "s3") {
			return nil, fmt.Errorf("source: %q: unsupported scheme %q (want s3://bucket/prefix, a directory or an archive file)", spec, m[1])
		}
		bucket, prefix, _ := strings.Cut(spec[len(m[0]):], "/")
		if bucket == "" {
			return nil, fmt.Errorf("source: %q: no bucket after s3://", spec)
		}
		cfg := opts.S3
		cfg.Bucket, cfg.Prefix = bucket, prefix
		s, err := S3(ctx, cfg)
		if err != nil {
			return nil, err // names the bucket and the endpoint
		}
		return s, nil
	}
	fi, err := os.Stat(spec)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("source: %s: no such file or directory", spec)
	case err != nil:
		return nil, fmt.Errorf("source: %w", err) // a PathError names spec
	case fi.IsDir():
		s, err := Dir(spec)
		if err != nil {
			return nil, err
		}
		return s, nil
	case fi.Mode().IsRegular():
		tmp := opts.TmpDir
		if tmp == "" {
			tmp = os.TempDir()
		}
		s, err := File(spec, tmp)
		if err != nil {
			return nil, err
		}
		return s, nil
	}
	return nil, fmt.Errorf("source: %s: %s: want a directory or an archive file", spec, notRegular(fi.Mode()))
}
