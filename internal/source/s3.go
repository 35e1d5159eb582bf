package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/facematch/facematch/engine"
	s3blob "github.com/facematch/facematch/internal/blob/s3"
)

// S3Config says which objects an S3Source lists and how to reach them.
type S3Config struct {
	// Endpoint is the server's host:port, without a scheme ("s3.example.org").
	Endpoint string
	// AccessKey and SecretKey are static credentials; both empty reads a public bucket
	// anonymously.
	AccessKey string
	SecretKey string
	// Insecure selects plain HTTP instead of HTTPS.
	Insecure bool
	// Region of the bucket; empty asks the server (once per bucket).
	Region string
	// Bucket holds the photos.
	Bucket string
	// Prefix is the folder to list ("cases/2024"), with or without a trailing slash; empty
	// lists the whole bucket. It is a folder: "cases/2024" does not list "cases/2024b/x".
	Prefix string
}

// Validate reports every problem in c at once.
func (c S3Config) Validate() error {
	var errs []error
	if c.Endpoint == "" {
		errs = append(errs, errors.New("endpoint is required"))
	} else if strings.Contains(c.Endpoint, "://") {
		errs = append(errs, fmt.Errorf("endpoint %q must be host:port without a scheme (set Insecure for http)", c.Endpoint))
	}
	if c.Bucket == "" {
		errs = append(errs, errors.New("bucket is required"))
	}
	if (c.AccessKey == "") != (c.SecretKey == "") {
		errs = append(errs, errors.New("give both access key and secret key, or neither (anonymous)"))
	}
	if len(errs) > 0 {
		return fmt.Errorf("source: s3 config: %w", errors.Join(errs...))
	}
	return nil
}

// unavailable marks an error that says the S3 server is down or overloaded as the engine's
// ErrUnavailable (503 with Retry-After for a job request), keeping the cause.
func unavailable(err error) error {
	if s3blob.Unavailable(err) {
		return &engine.RetryAfter{Err: fmt.Errorf("%w: %w", engine.ErrUnavailable, err), After: 10 * time.Second}
	}
	return err
}

// S3Source is every object under a prefix of an S3 bucket. It is safe for concurrent use.
type S3Source struct {
	client    *minio.Client
	transport *http.Transport
	bucket    string
	prefix    string // Config.Prefix + "/", or ""
}

var _ engine.JobSource = (*S3Source)(nil)

// Timeouts of the S3 client. minio-go's own retry default (10 tries with back-off) takes
// minutes to report a server that is down; a job reports it and can be resumed.
const (
	s3DialTimeout           = 10 * time.Second
	s3ResponseHeaderTimeout = 60 * time.Second
	s3MaxRetries            = 3
)

// S3 returns a source for cfg after checking that the server answers, accepts the
// credentials and has the bucket.
func S3(ctx context.Context, cfg S3Config) (*S3Source, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	where := "s3://" + cfg.Bucket + " at " + cfg.Endpoint
	tr, err := minio.DefaultTransport(!cfg.Insecure)
	if err != nil {
		return nil, fmt.Errorf("source: %s: %w", where, err)
	}
	tr.DialContext = (&net.Dialer{Timeout: s3DialTimeout, KeepAlive: 30 * time.Second}).DialContext
	tr.ResponseHeaderTimeout = s3ResponseHeaderTimeout
	client, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:      credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure:     !cfg.Insecure,
		Region:     cfg.Region,
		Transport:  tr,
		MaxRetries: s3MaxRetries,
	})
	if err != nil {
		return nil, fmt.Errorf("source: %s: %w", where, err)
	}
	ok, err := client.BucketExists(ctx, cfg.Bucket)
	if err != nil {
		tr.CloseIdleConnections()
		return nil, fmt.Errorf("source: %s: %w", where, unavailable(err))
	}
	if !ok {
		tr.CloseIdleConnections()
		return nil, fmt.Errorf("source: %s: bucket %q does not exist", where, cfg.Bucket)
	}
	s := &S3Source{client: client, transport: tr, bucket: cfg.Bucket}
	if p := strings.Trim(cfg.Prefix, "/"); p != "" {
		s.prefix = p + "/"
	}
	return s, nil
}

// Files implements engine.JobSource. Names are keys less the prefix (see s3Name).
func (s *S3Source) Files(ctx context.Context, fn func(engine.SourceFile) error) error {
	lctx, cancel := context.WithCancel(ctx)
	ch := s.client.ListObjects(lctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix, Recursive: true})
	defer func() {
		// minio-go's listing goroutine blocks on sending until the channel is read: stop it
		// and drain what it still sends, or it leaks.
		cancel()
		for range ch {
		}
	}()
	n := 0
	for obj := range ch {
		if obj.Err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("source: listing s3://%s/%s after %d objects: %w", s.bucket, s.prefix, n, unavailable(obj.Err))
		}
		n++
		name, reason, ok := s3Name(obj.Key, s.prefix)
		if !ok {
			continue
		}
		f := engine.SourceFile{Name: name, Size: obj.Size, Refused: reason}
		if reason != "" {
			f.Open = refused(name, reason)
		} else {
			key := obj.Key
			f.Open = func(ctx context.Context) (io.ReadCloser, error) { return s.get(ctx, key) }
		}
		if err := fn(f); err != nil {
			return err
		}
	}
	// The listing also ends, without an error, when ctx is cancelled.
	return ctx.Err()
}

// s3Name is the source name of key under prefix; ok is false for a key to skip (outside
// prefix, a directory marker, hidden). reason is set for a key that is not a clean relative
// path ("a//b", "a/../b"): two such keys could otherwise name the same file.
func s3Name(key, prefix string) (name, reason string, ok bool) {
	name, ok = strings.CutPrefix(key, prefix)
	if !ok || name == "" || strings.HasSuffix(name, "/") || hidden(name) {
		return "", "", false
	}
	if !fs.ValidPath(name) {
		reason = refusedKey
	}
	return name, reason, true
}

// get opens an object. GetObject is lazy, so a missing object would only show on the first
// Read: a zero-byte read sends the request now, and its response stream serves the reads that
// follow.
func (s *S3Source) get(ctx context.Context, key string) (io.ReadCloser, error) {
	obj, err := s.client.GetObject(ctx, s.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, fmt.Errorf("source: open s3://%s/%s: %w", s.bucket, key, err)
	}
	if _, err := obj.Read(nil); err != nil && err != io.EOF {
		obj.Close()
		if minio.ToErrorResponse(err).Code == "NoSuchKey" {
			// Gone since it was listed: the same sentinel as a vanished local file.
			return nil, fmt.Errorf("source: open s3://%s/%s: %w: %w", s.bucket, key, fs.ErrNotExist, err)
		}
		return nil, fmt.Errorf("source: open s3://%s/%s: %w", s.bucket, key, err)
	}
	return obj, nil
}

// Close releases idle connections. Readers still open keep working until closed.
func (s *S3Source) Close() error {
	s.transport.CloseIdleConnections()
	return nil
}
