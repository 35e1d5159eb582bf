// Package s3 is a blob.Store in an S3 bucket, through minio-go: for several machines sharing
// one index, and for object storage that is backed up and versioned elsewhere.
//
// Keys are stored as Config.Prefix + "/" + key; the store's callers only ever see relative
// keys. Every backend error goes through one function, mapErr, that adds the blob sentinel
// (ErrNotFound, ErrExists, ErrUnavailable) and keeps the original error.
//
// Two minio-go traps are handled here: GetObject is lazy (a missing key would only show on the
// first Read), so Get forces the request with Stat; and a ListObjects channel must be drained
// or its producer goroutine leaks, so every listing is read to the end (with its context
// cancelled on an early error).
package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/facematch/facematch/internal/blob"
)

// Config says which bucket to use and how to reach it. Zero values of the tuning fields are
// replaced by EnsureDefaults.
type Config struct {
	// Endpoint is the server's host:port, without a scheme ("127.0.0.1:7070", "s3.example.org").
	Endpoint string
	// Bucket holds the objects. EnsureBucket creates it.
	Bucket string
	// Prefix is prepended to every key ("facematch/prod" stores key k as "facematch/prod/k"),
	// so several stores can share one bucket. Empty: keys are stored as they are.
	Prefix string
	// AccessKey and SecretKey are the static credentials.
	AccessKey string
	SecretKey string
	// Secure selects HTTPS.
	Secure bool
	// Region of the bucket. Default "us-east-1" (which also avoids a location lookup per
	// bucket).
	Region string

	// PartSize is the multipart upload part size, and the memory one upload buffers when its
	// body is not seekable. Default 16 MiB.
	PartSize uint64
	// MaxRetries is how many times minio-go tries one request before giving up (1: no retry).
	// Default 3. minio-go's own default, 10 with back-off, takes many seconds to report a
	// server that is down; callers retry ErrUnavailable themselves.
	MaxRetries int
	// DialTimeout bounds connecting to the server. Default 5 s.
	DialTimeout time.Duration
	// ResponseHeaderTimeout bounds the wait for a response once a request is sent.
	// Default 60 s.
	ResponseHeaderTimeout time.Duration
}

// Defaults for Config.
const (
	DefaultRegion                = "us-east-1"
	DefaultPartSize              = 16 << 20
	DefaultMaxRetries            = 3
	DefaultDialTimeout           = 5 * time.Second
	DefaultResponseHeaderTimeout = 60 * time.Second
)

// EnsureDefaults fills the zero-valued tuning fields with their defaults.
func (c *Config) EnsureDefaults() {
	if c.Region == "" {
		c.Region = DefaultRegion
	}
	if c.PartSize == 0 {
		c.PartSize = DefaultPartSize
	}
	if c.MaxRetries == 0 {
		c.MaxRetries = DefaultMaxRetries
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = DefaultDialTimeout
	}
	if c.ResponseHeaderTimeout == 0 {
		c.ResponseHeaderTimeout = DefaultResponseHeaderTimeout
	}
}

// Validate reports every problem in c at once.
func (c Config) Validate() error {
	var errs []error
	if c.Endpoint == "" {
		errs = append(errs, errors.New("endpoint is required"))
	} else if strings.Contains(c.Endpoint, "://") {
		errs = append(errs, fmt.Errorf("endpoint %q must be host:port without a scheme (use Secure for https)", c.Endpoint))
	}
	if c.Bucket == "" {
		errs = append(errs, errors.New("bucket is required"))
	}
	if p := strings.TrimSuffix(c.Prefix, "/"); p != "" {
		if err := blob.ValidateKey(p); err != nil {
			errs = append(errs, fmt.Errorf("prefix: %w", err))
		}
	}
	if c.AccessKey == "" || c.SecretKey == "" {
		errs = append(errs, errors.New("access key and secret key are required"))
	}
	if c.PartSize != 0 && c.PartSize < 5<<20 {
		errs = append(errs, fmt.Errorf("part size %d is below S3's minimum of 5 MiB", c.PartSize))
	}
	if c.MaxRetries < 0 {
		errs = append(errs, fmt.Errorf("max retries %d is negative", c.MaxRetries))
	}
	if c.DialTimeout < 0 || c.ResponseHeaderTimeout < 0 {
		errs = append(errs, errors.New("timeouts must not be negative"))
	}
	if len(errs) > 0 {
		return fmt.Errorf("s3: config: %w", errors.Join(errs...))
	}
	return nil
}

// Store is a blob.Store in an S3 bucket. It is safe for concurrent use by multiple goroutines
// (minio.Client is).
type Store struct {
	client   *minio.Client
	bucket   string
	root     string // Config.Prefix + "/", or ""
	region   string
	partSize uint64
}

var _ blob.Store = (*Store)(nil)

// Open validates cfg and returns a store for its bucket after one request (BucketExists) that
// checks the server answers and accepts the credentials: a server that is down gives an error
// wrapping blob.ErrUnavailable. A missing bucket is not an error here: EnsureBucket creates it,
// and otherwise the first call reports it.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	tr, err := minio.DefaultTransport(cfg.Secure)
	if err != nil {
		return nil, fmt.Errorf("s3: open: %w", err)
	}
	tr.DialContext = (&net.Dialer{Timeout: cfg.DialTimeout, KeepAlive: 30 * time.Second}).DialContext
	tr.ResponseHeaderTimeout = cfg.ResponseHeaderTimeout
	client, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:      credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure:     cfg.Secure,
		Region:     cfg.Region,
		Transport:  tr,
		MaxRetries: cfg.MaxRetries,
	})
	if err != nil {
		return nil, fmt.Errorf("s3: open %s: %w", cfg.Endpoint, err)
	}
	s := &Store{client: client, bucket: cfg.Bucket, region: cfg.Region, partSize: cfg.PartSize}
	if p := strings.TrimSuffix(cfg.Prefix, "/"); p != "" {
		s.root = p + "/"
	}
	if _, err := client.BucketExists(ctx, cfg.Bucket); err != nil {
		return nil, mapErr(ctx, "open", cfg.Endpoint+"/"+cfg.Bucket, err)
	}
	return s, nil
}

// EnsureBucket creates the bucket if it does not exist and, if versioned, enables versioning
// on it (Delete removes every version either way). For tests and a first start.
func (s *Store) EnsureBucket(ctx context.Context, versioned bool) error {
	exists, err := s.client.BucketExists(ctx, s.bucket)
	if err != nil {
		return mapErr(ctx, "ensure bucket", s.bucket, err)
	}
	if !exists {
		err := s.client.MakeBucket(ctx, s.bucket, minio.MakeBucketOptions{Region: s.region})
		if code := minio.ToErrorResponse(err).Code; code == "BucketAlreadyOwnedByYou" {
			err = nil // created concurrently
		}
		if err != nil {
			return mapErr(ctx, "ensure bucket", s.bucket, err)
		}
	}
	if versioned {
		if err := s.client.EnableVersioning(ctx, s.bucket); err != nil {
			return mapErr(ctx, "ensure bucket: enable versioning", s.bucket, err)
		}
	}
	return nil
}

func (s *Store) object(key string) string { return s.root + key }

// Put implements blob.Store with one PutObject (multipart above PartSize).
func (s *Store) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	const op = "put"
	if err := blob.ValidateKey(key); err != nil {
		return fmt.Errorf("s3: %s %s: %w", op, key, err)
	}
	body := &sizedReader{r: r, size: size}
	opts := minio.PutObjectOptions{
		PartSize:   s.partSize,
		NumThreads: 1, // one part buffer per upload: memory stays at PartSize
	}
	_, err := s.client.PutObject(ctx, s.bucket, s.object(key), body, size, opts)
	if body.short {
		return fmt.Errorf("s3: %s %s: body ended after %d of %d bytes: %w", op, key, body.n, size, io.ErrUnexpectedEOF)
	}
	return mapErr(ctx, op, key, err)
}

// PutIfAbsent implements blob.Store with If-None-Match: *, which the server checks when it
// publishes the object: on the PutObject itself for a body of at most PartSize, else on
// CompleteMultipartUpload (done here with minio.Core: minio-go's own multipart PutObject drops
// the condition from the completion request). The server's 412 PreconditionFailed becomes
// blob.ErrExists.
func (s *Store) PutIfAbsent(ctx context.Context, key string, r io.Reader, size int64) error {
	const op = "put-if-absent"
	if err := blob.ValidateKey(key); err != nil {
		return fmt.Errorf("s3: %s %s: %w", op, key, err)
	}
	body := &sizedReader{r: r, size: size}
	var err error
	if size >= 0 && size <= int64(s.partSize) {
		var opts minio.PutObjectOptions
		opts.SetMatchETagExcept("*")
		opts.PartSize = s.partSize
		_, err = s.client.PutObject(ctx, s.bucket, s.object(key), body, size, opts)
	} else {
		err = s.putIfAbsentMultipart(ctx, s.object(key), body)
	}
	if body.short {
		return fmt.Errorf("s3: %s %s: body ended after %d of %d bytes: %w", op, key, body.n, size, io.ErrUnexpectedEOF)
	}
	return mapErr(ctx, op, key, err)
}

// putIfAbsentMultipart uploads r (of any length) in parts of PartSize, holding one part in
// memory, and completes the upload only if no object named name exists by then. A body that
// fits in one part goes as a single conditional PutObject instead.
// A body shorter than its declared size is caught before anything is published.
func (s *Store) putIfAbsentMultipart(ctx context.Context, name string, r *sizedReader) (err error) {
	var cond minio.PutObjectOptions
	cond.SetMatchETagExcept("*")
	buf := make([]byte, s.partSize)
	n, rerr := io.ReadFull(r, buf)
	if r.short {
		return io.ErrUnexpectedEOF
	}
	if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
		_, err := s.client.PutObject(ctx, s.bucket, name, bytes.NewReader(buf[:n]), int64(n), cond)
		return err
	}
	if rerr != nil {
		return rerr
	}
	// Don't upload a large body only to be refused at the end: fail early when the key is
	// taken. CompleteMultipartUpload's condition still decides any race.
	if _, err := s.client.StatObject(ctx, s.bucket, name, minio.StatObjectOptions{}); err == nil {
		return minio.ErrorResponse{Code: "PreconditionFailed", StatusCode: http.StatusPreconditionFailed,
			Message: "object exists (found before upload)", Key: name, BucketName: s.bucket}
	} else if kind(err) != blob.ErrNotFound {
		return err
	}

	core := minio.Core{Client: s.client}
	uploadID, err := core.NewMultipartUpload(ctx, s.bucket, name, minio.PutObjectOptions{})
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			// Cleanup must run even when ctx is what ended the upload.
			actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			_ = core.AbortMultipartUpload(actx, s.bucket, name, uploadID)
		}
	}()
	var parts []minio.CompletePart
	for number := 1; ; number++ {
		part, err := core.PutObjectPart(ctx, s.bucket, name, uploadID, number, bytes.NewReader(buf[:n]), int64(n), minio.PutObjectPartOptions{})
		if err != nil {
			return err
		}
		parts = append(parts, minio.CompletePart{PartNumber: number, ETag: part.ETag})
		if rerr != nil { // the part just sent was the last
			break
		}
		n, rerr = io.ReadFull(r, buf)
		if r.short {
			return io.ErrUnexpectedEOF
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil && rerr != io.ErrUnexpectedEOF {
			return rerr
		}
	}
	_, err = core.CompleteMultipartUpload(ctx, s.bucket, name, uploadID, parts, cond)
	return err
}

// sizedReader reads exactly size bytes from r (size < 0: up to EOF) and remembers whether r
// ended early, which the HTTP client would otherwise report as a mere connection error.
type sizedReader struct {
	r     io.Reader
	size  int64
	n     int64
	short bool
}

func (s *sizedReader) Read(p []byte) (int, error) {
	if s.size >= 0 {
		if s.n >= s.size {
			return 0, io.EOF
		}
		if rem := s.size - s.n; int64(len(p)) > rem {
			p = p[:rem]
		}
	}
	n, err := s.r.Read(p)
	s.n += int64(n)
	if err == io.EOF && s.size >= 0 && s.n < s.size {
		s.short = true
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

// Get implements blob.Store. minio-go's GetObject is lazy; Get forces the request by reading
// zero bytes, which sends the GET and keeps its response stream for the reads that follow (Stat
// would send a HEAD and make later reads conditional on the ETag, so an overwrite in between
// would fail them). Errors while reading are mapped like every other error.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := blob.ValidateKey(key); err != nil {
		return nil, fmt.Errorf("s3: get %s: %w", key, err)
	}
	obj, err := s.client.GetObject(ctx, s.bucket, s.object(key), minio.GetObjectOptions{})
	if err != nil {
		return nil, mapErr(ctx, "get", key, err)
	}
	if _, err := obj.Read(nil); err != nil && err != io.EOF {
		obj.Close()
		return nil, mapErr(ctx, "get", key, err)
	}
	return &objectReader{ctx: ctx, key: key, obj: obj}, nil
}

// objectReader maps the errors of reading a *minio.Object. It keeps the ctx of the Get that
// made it, as the object itself does, to tell cancellation from an unavailable server.
type objectReader struct {
	ctx context.Context
	key string
	obj *minio.Object
}

func (o *objectReader) Read(p []byte) (int, error) {
	n, err := o.obj.Read(p)
	if err != nil && err != io.EOF {
		err = mapErr(o.ctx, "read", o.key, err)
	}
	return n, err
}

func (o *objectReader) Close() error { return o.obj.Close() }

// Delete implements blob.Store: it lists every version of the exact key (delete markers
// included) and removes each by version ID, so nothing of it stays in a versioned bucket. On
// a server without version listing it falls back to a plain RemoveObject.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := blob.ValidateKey(key); err != nil {
		return fmt.Errorf("s3: delete %s: %w", key, err)
	}
	name := s.object(key)
	versions, err := s.versions(ctx, name)
	if err != nil {
		if resp, ok := errorResponse(err); ok && (resp.Code == "NotImplemented" || resp.StatusCode == http.StatusNotImplemented) {
			return mapErr(ctx, "delete", key, s.client.RemoveObject(ctx, s.bucket, name, minio.RemoveObjectOptions{}))
		}
		return mapErr(ctx, "delete", key, err)
	}
	for _, v := range versions {
		err := s.client.RemoveObject(ctx, s.bucket, name, minio.RemoveObjectOptions{VersionID: v})
		switch minio.ToErrorResponse(err).Code {
		case "NoSuchKey", "NoSuchVersion":
			err = nil // removed concurrently
		}
		if err != nil {
			return mapErr(ctx, "delete", key, fmt.Errorf("version %q: %w", v, err))
		}
	}
	return nil
}

// versions returns the version IDs of the object named exactly name ("" or "null" for an
// unversioned object), delete markers included.
func (s *Store) versions(ctx context.Context, name string) ([]string, error) {
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		ids []string
		err error
	)
	// Not recursive: with the "/" delimiter, keys below name/ collapse into one common
	// prefix instead of being listed one by one.
	for obj := range s.client.ListObjects(lctx, s.bucket, minio.ListObjectsOptions{Prefix: name, WithVersions: true}) {
		if obj.Err != nil {
			if err == nil {
				err = obj.Err
			}
			cancel() // stop the producer; keep draining so its goroutine ends
			continue
		}
		if err == nil && obj.Key == name {
			ids = append(ids, obj.VersionID)
		}
	}
	return ids, err
}

// List implements blob.Store with a recursive ListObjects, drained to the end.
func (s *Store) List(ctx context.Context, prefix string) ([]blob.ObjectInfo, error) {
	if err := blob.ValidatePrefix(prefix); err != nil {
		return nil, fmt.Errorf("s3: list %s: %w", prefix, err)
	}
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		out []blob.ObjectInfo
		err error
	)
	for obj := range s.client.ListObjects(lctx, s.bucket, minio.ListObjectsOptions{Prefix: s.root + prefix, Recursive: true}) {
		if obj.Err != nil {
			if err == nil {
				err = obj.Err
			}
			cancel() // stop the producer; keep draining so its goroutine ends
			continue
		}
		if err != nil {
			continue
		}
		key, ok := strings.CutPrefix(obj.Key, s.root)
		if !ok || key == "" || strings.HasSuffix(key, "/") { // directory markers are not objects
			continue
		}
		out = append(out, blob.ObjectInfo{Key: key, Size: obj.Size, ModTime: obj.LastModified})
	}
	if err != nil {
		return nil, mapErr(ctx, "list", prefix, err)
	}
	slices.SortFunc(out, func(a, b blob.ObjectInfo) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

// mapErr is the one place where backend errors become blob errors: it prefixes "s3: op key:",
// adds the sentinel that kind finds, and keeps err itself so errors.Is/As still see it. When
// the caller's ctx is done the result wraps ctx.Err() instead: that is the caller's doing,
// not the store's.
func mapErr(ctx context.Context, op, key string, err error) error {
	if err == nil {
		return nil
	}
	if cerr := ctx.Err(); cerr != nil {
		if !errors.Is(err, cerr) {
			err = fmt.Errorf("%w: %w", cerr, err)
		}
		return fmt.Errorf("s3: %s %s: %w", op, key, err)
	}
	if k := kind(err); k != nil {
		return fmt.Errorf("s3: %s %s: %w: %w", op, key, k, err)
	}
	return fmt.Errorf("s3: %s %s: %w", op, key, err)
}

// Unavailable reports whether err, from minio-go or its transport, says the server is down or
// overloaded (blob.ErrUnavailable's cases): for other S3 clients of the project (job sources)
// to answer "retry later" the same way.
func Unavailable(err error) bool { return kind(err) == blob.ErrUnavailable }

// kind classifies a minio-go or transport error as blob.ErrNotFound, blob.ErrExists,
// blob.ErrUnavailable, or nil (anything else: credentials, missing bucket, bad request).
func kind(err error) error {
	if resp, ok := errorResponse(err); ok {
		switch resp.Code {
		case "NoSuchKey", "NoSuchVersion":
			return blob.ErrNotFound
		case "PreconditionFailed":
			return blob.ErrExists
		case "SlowDown", "SlowDownRead", "SlowDownWrite", "ServiceUnavailable", "InternalError",
			"RequestTimeout", "Throttling", "ThrottlingException", "RequestLimitExceeded",
			"RequestThrottled", "XMinioServerNotInitialized":
			return blob.ErrUnavailable
		}
		switch {
		case resp.StatusCode == http.StatusPreconditionFailed:
			return blob.ErrExists
		case resp.StatusCode >= 500, resp.StatusCode == http.StatusTooManyRequests,
			resp.StatusCode == http.StatusRequestTimeout:
			return blob.ErrUnavailable
		}
		return nil
	}
	var (
		opErr  *net.OpError
		netErr net.Error
	)
	switch {
	case errors.As(err, &opErr), // dial, read or write on the connection failed
		errors.As(err, &netErr) && netErr.Timeout(),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.ECONNABORTED), errors.Is(err, syscall.EPIPE),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF): // server closed mid-response
		return blob.ErrUnavailable
	}
	return nil
}

// errorResponse finds the S3 error response in err's chain (minio.ToErrorResponse only
// matches an unwrapped one).
func errorResponse(err error) (minio.ErrorResponse, bool) {
	var resp minio.ErrorResponse
	ok := errors.As(err, &resp)
	return resp, ok
}

// AbortIncompleteUploads aborts every unfinished multipart upload under prefix and returns how
// many it aborted. A process killed in the middle of an upload leaves its parts on the server,
// invisible to List and Get but holding the bytes (face vectors among them): the index calls
// this when it opens, as the prefix's single writer.
func (s *Store) AbortIncompleteUploads(ctx context.Context, prefix string) (int, error) {
	n := 0
	var errs []error
	for up := range s.client.ListIncompleteUploads(ctx, s.bucket, s.object(prefix), true) {
		if up.Err != nil {
			errs = append(errs, mapErr(ctx, "list incomplete uploads", prefix, up.Err))
			continue // drain the channel so its goroutine ends
		}
		if err := (minio.Core{Client: s.client}).AbortMultipartUpload(ctx, s.bucket, up.Key, up.UploadID); err != nil {
			errs = append(errs, mapErr(ctx, "abort upload", up.Key, err))
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}
