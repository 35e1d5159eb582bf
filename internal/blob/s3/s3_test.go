package s3_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/facematch/facematch/internal/blob"
	"github.com/facematch/facematch/internal/blob/blobtest"
	"github.com/facematch/facematch/internal/blob/s3"
	"github.com/facematch/facematch/internal/blob/s3/s3test"
)

// The shared gateway that TestMain starts, with one versioned and one unversioned bucket.
var (
	shared      *s3test.Gateway
	prefixCount atomic.Int64
)

const (
	versionedBucket   = "facematch-versioned"
	unversionedBucket = "facematch-plain"
)

func TestMain(m *testing.M) { os.Exit(runTests(m)) }

func runTests(m *testing.M) int {
	g, err := s3test.Launch()
	if err != nil {
		fmt.Fprintf(os.Stderr, "internal/blob/s3: %v\n", err)
		return 1
	}
	defer g.Close()
	shared = g
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for bucket, versioned := range map[string]bool{versionedBucket: true, unversionedBucket: false} {
		s, err := s3.Open(ctx, g.Config(bucket, ""))
		if err == nil {
			err = s.EnsureBucket(ctx, versioned)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "internal/blob/s3: creating bucket %s: %v\nversitygw log:\n%s", bucket, err, g.Log())
			return 1
		}
	}
	code := m.Run()
	if code != 0 {
		fmt.Fprintf(os.Stderr, "versitygw log (tail):\n%s\n", g.Log())
	}
	return code
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// newStore returns a store on the shared gateway under a prefix no other test uses.
func newStore(t *testing.T, bucket string) *s3.Store {
	t.Helper()
	prefix := fmt.Sprintf("t/%s-%d", unsafeChars.ReplaceAllString(t.Name(), "_"), prefixCount.Add(1))
	s, err := s3.Open(t.Context(), shared.Config(bucket, prefix))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformanceVersioned(t *testing.T) {
	blobtest.RunStoreTests(t, func(t *testing.T) blob.Store { return newStore(t, versionedBucket) })
}

func TestConformanceUnversioned(t *testing.T) {
	blobtest.RunStoreTests(t, func(t *testing.T) blob.Store { return newStore(t, unversionedBucket) })
}

// rawVersions lists every version (and delete marker) of exactly the object name.
func rawVersions(t *testing.T, s *s3.Store, name string) []minio.ObjectInfo {
	t.Helper()
	all, err := shared.Versions(t.Context(), s.BucketName(), name)
	if err != nil {
		t.Fatal(err)
	}
	var out []minio.ObjectInfo
	for _, obj := range all {
		if obj.Key == name {
			out = append(out, obj)
		}
	}
	return out
}

// Biometric data: after Delete, no version of the object may remain in a versioned bucket,
// delete markers included.
func TestDeleteRemovesEveryVersion(t *testing.T) {
	for _, bucket := range []string{versionedBucket, unversionedBucket} {
		t.Run(bucket, func(t *testing.T) {
			s := newStore(t, bucket)
			ctx := t.Context()
			put := func(key, data string) {
				t.Helper()
				if err := s.Put(ctx, key, strings.NewReader(data), int64(len(data))); err != nil {
					t.Fatal(err)
				}
			}
			put("faces/1.bin", "v1")
			put("faces/1.bin", "v2")
			// A plain S3 delete on a versioned bucket only adds a delete marker; the
			// versions stay readable by version ID.
			if err := s.Client().RemoveObject(ctx, s.BucketName(), s.ObjectName("faces/1.bin"), minio.RemoveObjectOptions{}); err != nil {
				t.Fatal(err)
			}
			put("faces/1.bin", "v3")
			put("faces/1.bin.keep", "sibling")
			put("faces/1.bin-under/x", "below")
			before := rawVersions(t, s, s.ObjectName("faces/1.bin"))
			if bucket == versionedBucket && len(before) < 4 {
				t.Fatalf("versioned bucket holds %d versions of the key, want 4 (3 puts + 1 delete marker): %+v", len(before), before)
			}

			if err := s.Delete(ctx, "faces/1.bin"); err != nil {
				t.Fatalf("Delete: %v", err)
			}
			if left := rawVersions(t, s, s.ObjectName("faces/1.bin")); len(left) != 0 {
				t.Fatalf("after Delete %d versions remain: %+v", len(left), left)
			}
			for _, key := range []string{"faces/1.bin.keep", "faces/1.bin-under/x"} {
				if got := blobtest.ReadAll(t, s, key); len(got) == 0 {
					t.Errorf("Delete removed %s too", key)
				}
			}
		})
	}
}

// A killed upload leaves its parts on the server: AbortIncompleteUploads removes them, under
// its prefix only.
func TestAbortIncompleteUploads(t *testing.T) {
	s := newStore(t, versionedBucket)
	ctx := t.Context()
	core := minio.Core{Client: s.Client()}
	part := bytes.Repeat([]byte("v"), 5<<20)
	start := func(key string) {
		t.Helper()
		id, err := core.NewMultipartUpload(ctx, s.BucketName(), s.ObjectName(key), minio.PutObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := core.PutObjectPart(ctx, s.BucketName(), s.ObjectName(key), id, 1, bytes.NewReader(part), int64(len(part)), minio.PutObjectPartOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	start("abort/index/segments/1.seg")
	start("abort/index/segments/2.seg")
	start("abort/other/keep.bin")
	n, err := s.AbortIncompleteUploads(ctx, "abort/index/")
	if err != nil || n != 2 {
		t.Fatalf("AbortIncompleteUploads = %d, %v; want 2, nil", n, err)
	}
	var left []string
	for up := range s.Client().ListIncompleteUploads(ctx, s.BucketName(), s.ObjectName("abort/"), true) {
		if up.Err != nil {
			t.Fatal(up.Err)
		}
		left = append(left, up.Key)
	}
	if len(left) != 1 || !strings.HasSuffix(left[0], "abort/other/keep.bin") {
		t.Fatalf("uploads left: %v, want only the one outside the prefix", left)
	}
}

// The store's keys are relative: Prefix is added on the way in and removed on the way out.
func TestPrefix(t *testing.T) {
	ctx := t.Context()
	s, err := s3.Open(ctx, shared.Config(versionedBucket, "tenants/a/"))
	if err != nil {
		t.Fatal(err)
	}
	other, err := s3.Open(ctx, shared.Config(versionedBucket, "tenants/ab"))
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range []*s3.Store{s, other} {
		if err := st.Put(ctx, "k", strings.NewReader("x"), 1); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Client().StatObject(ctx, versionedBucket, "tenants/a/k", minio.StatObjectOptions{}); err != nil {
		t.Fatalf("object not stored under the prefix: %v", err)
	}
	infos, err := s.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != 1 || infos[0].Key != "k" {
		t.Fatalf("List = %+v, want only k (not the other prefix's)", infos)
	}
}

// Stop the server mid-test: every call fails fast with ErrUnavailable, a write cut off in the
// middle is not half-applied, and after a restart on the same data everything written before
// is still there.
func TestServerDownAndBack(t *testing.T) {
	g := s3test.Start(t)
	ctx := t.Context()
	cfg := g.Config("restart", "")
	cfg.MaxRetries = 1
	cfg.DialTimeout = time.Second
	cfg.ResponseHeaderTimeout = 5 * time.Second
	s, err := s3.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.EnsureBucket(ctx, true); err != nil {
		t.Fatal(err)
	}
	stored := map[string][]byte{}
	for i := range 5 {
		key := fmt.Sprintf("seg/%d", i)
		stored[key] = bytes.Repeat([]byte{byte('0' + i)}, 1000*(i+1))
		if err := s.Put(ctx, key, bytes.NewReader(stored[key]), int64(len(stored[key]))); err != nil {
			t.Fatal(err)
		}
	}
	stored["seg/big"] = bytes.Repeat([]byte("old "), 1000)
	if err := s.Put(ctx, "seg/big", bytes.NewReader(stored["seg/big"]), int64(len(stored["seg/big"]))); err != nil {
		t.Fatal(err)
	}

	// Kill the server while a Put is streaming its body.
	const size = 8 << 20
	body := &killAfter{r: blobtest.SeededReader(3, size), n: 2 << 20, kill: g.Kill}
	start := time.Now()
	err = s.Put(ctx, "seg/big", body, size)
	if !errors.Is(err, blob.ErrUnavailable) {
		t.Fatalf("Put cut off by a server crash = %v, want ErrUnavailable", err)
	}
	t.Logf("Put cut off by the crash: %v after %v", err, time.Since(start).Round(time.Millisecond))

	calls := []struct {
		op string
		fn func(context.Context) error
	}{
		{"Put", func(ctx context.Context) error { return s.Put(ctx, "seg/new", strings.NewReader("new"), 3) }},
		{"PutIfAbsent", func(ctx context.Context) error {
			return s.PutIfAbsent(ctx, "seg/new2", strings.NewReader("new"), 3)
		}},
		{"Get", func(ctx context.Context) error {
			rc, err := s.Get(ctx, "seg/0")
			if err == nil {
				rc.Close()
			}
			return err
		}},
		{"Delete", func(ctx context.Context) error { return s.Delete(ctx, "seg/1") }},
		{"List", func(ctx context.Context) error { _, err := s.List(ctx, "seg/"); return err }},
	}
	for _, c := range calls {
		start := time.Now()
		err := c.fn(ctx)
		took := time.Since(start)
		if !errors.Is(err, blob.ErrUnavailable) {
			t.Errorf("%s with the server down = %v, want ErrUnavailable", c.op, err)
		}
		if took > 3*time.Second {
			t.Errorf("%s with the server down took %v, want a quick failure", c.op, took)
		}
	}

	if err := g.Restart(); err != nil {
		t.Fatal(err)
	}

	infos, err := s.List(ctx, "")
	if err != nil {
		t.Fatalf("List after restart: %v", err)
	}
	if len(infos) != len(stored) {
		t.Errorf("after restart List = %d objects, want %d: %+v", len(infos), len(stored), infos)
	}
	for key, want := range stored {
		if got := blobtest.ReadAll(t, s, key); !bytes.Equal(got, want) {
			t.Errorf("after restart %s = %d bytes %.20q, want %d bytes %.20q", key, len(got), got, len(want), want)
		}
	}
	if err := s.Put(ctx, "seg/new", strings.NewReader("new"), 3); err != nil {
		t.Fatalf("Put after restart: %v", err)
	}
}

// killAfter kills the server once n bytes of the body have been read.
type killAfter struct {
	r    io.Reader
	n    int64
	kill func()
	done bool
}

func (k *killAfter) Read(p []byte) (int, error) {
	if k.n <= 0 && !k.done {
		k.done = true
		k.kill()
	}
	n, err := k.r.Read(p)
	k.n -= int64(n)
	return n, err
}

func TestConfigValidate(t *testing.T) {
	valid := s3.Config{Endpoint: "127.0.0.1:7070", Bucket: "b", AccessKey: "k", SecretKey: "secret"}
	tests := []struct {
		name  string
		edit  func(*s3.Config)
		wants []string // substrings of the error; none: valid
	}{
		{"valid", func(*s3.Config) {}, nil},
		{"valid prefix", func(c *s3.Config) { c.Prefix = "a/b/" }, nil},
		{"empty", func(c *s3.Config) { *c = s3.Config{} }, []string{"endpoint is required", "bucket is required", "access key"}},
		{"scheme", func(c *s3.Config) { c.Endpoint = "http://x:1" }, []string{"without a scheme"}},
		{"bad prefix", func(c *s3.Config) { c.Prefix = "/abs" }, []string{"prefix"}},
		{"small part", func(c *s3.Config) { c.PartSize = 1 << 20 }, []string{"5 MiB"}},
		{"negative", func(c *s3.Config) { c.MaxRetries = -1; c.DialTimeout = -1 }, []string{"max retries", "timeouts"}},
	}
	for _, tt := range tests {
		c := valid
		tt.edit(&c)
		err := c.Validate()
		if len(tt.wants) == 0 {
			if err != nil {
				t.Errorf("%s: Validate() = %v, want nil", tt.name, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s: Validate() = nil, want %q", tt.name, tt.wants)
			continue
		}
		for _, w := range tt.wants {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: Validate() = %v, want it to mention %q", tt.name, err, w)
			}
		}
	}
}

func TestMapErr(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	refused := &url.Error{Op: "Put", URL: "http://127.0.0.1:1/b/k", Err: &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}}
	tests := []struct {
		name string
		ctx  context.Context
		err  error
		want error // sentinel; nil: none of blob's
	}{
		{"no such key", context.Background(), minio.ErrorResponse{Code: "NoSuchKey", StatusCode: 404}, blob.ErrNotFound},
		{"no such version", context.Background(), minio.ErrorResponse{Code: "NoSuchVersion", StatusCode: 404}, blob.ErrNotFound},
		{"precondition", context.Background(), minio.ErrorResponse{Code: "PreconditionFailed", StatusCode: 412}, blob.ErrExists},
		{"412 without code", context.Background(), minio.ErrorResponse{StatusCode: 412}, blob.ErrExists},
		{"slow down", context.Background(), minio.ErrorResponse{Code: "SlowDown", StatusCode: 503}, blob.ErrUnavailable},
		{"500", context.Background(), minio.ErrorResponse{Code: "InternalError", StatusCode: 500}, blob.ErrUnavailable},
		{"502 no code", context.Background(), minio.ErrorResponse{StatusCode: 502}, blob.ErrUnavailable},
		{"wrapped response", context.Background(), fmt.Errorf("version %q: %w", "v", minio.ErrorResponse{Code: "ServiceUnavailable", StatusCode: 503}), blob.ErrUnavailable},
		{"refused", context.Background(), refused, blob.ErrUnavailable},
		{"reset", context.Background(), &url.Error{Op: "Get", URL: "u", Err: syscall.ECONNRESET}, blob.ErrUnavailable},
		{"eof", context.Background(), &url.Error{Op: "Get", URL: "u", Err: io.EOF}, blob.ErrUnavailable},
		{"timeout", context.Background(), &url.Error{Op: "Get", URL: "u", Err: timeoutErr{}}, blob.ErrUnavailable},
		{"access denied", context.Background(), minio.ErrorResponse{Code: "AccessDenied", StatusCode: 403}, nil},
		{"no such bucket", context.Background(), minio.ErrorResponse{Code: "NoSuchBucket", StatusCode: 404}, nil},
		{"cancelled", cancelled, &url.Error{Op: "Get", URL: "u", Err: context.Canceled}, context.Canceled},
		{"cancelled, other error", cancelled, refused, context.Canceled},
	}
	sentinels := []error{blob.ErrNotFound, blob.ErrExists, blob.ErrUnavailable, context.Canceled}
	for _, tt := range tests {
		got := s3.MapErr(tt.ctx, "op", "k", tt.err)
		if !errors.Is(got, tt.err) {
			t.Errorf("%s: %v does not wrap the original error", tt.name, got)
		}
		if !strings.HasPrefix(got.Error(), "s3: op k: ") {
			t.Errorf("%s: %q lacks the \"s3: op k: \" prefix", tt.name, got)
		}
		for _, s := range sentinels {
			if errors.Is(got, s) != (s == tt.want) {
				t.Errorf("%s: errors.Is(%v, %v) = %v", tt.name, got, s, !(s == tt.want))
			}
		}
	}
	if s3.MapErr(context.Background(), "op", "k", nil) != nil {
		t.Error("mapErr(nil) != nil")
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }
