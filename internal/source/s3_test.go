package source

import (
	"context"
	"errors"
	"io/fs"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/facematch/facematch/engine"
	"github.com/facematch/facematch/internal/blob/s3/s3test"
)

// TestS3 runs against versitygw, a real S3 server (see s3test).
func TestS3(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	g := s3test.Start(t)
	client, err := minio.New(g.Endpoint(), &minio.Options{
		Creds:  credentials.NewStaticV4(s3test.AccessKey, s3test.SecretKey, ""),
		Region: "us-east-1",
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := client.MakeBucket(ctx, "photos", minio.MakeBucketOptions{Region: "us-east-1"}); err != nil {
		t.Fatal(err)
	}
	for key, body := range map[string]string{
		"case/a.jpg":              "A",
		"case/dir/":               "", // a directory marker
		"case/dir/b.jpg":          "BB",
		"case/dir/deeper/c.jpg":   "CCC",
		"case/.hidden.jpg":        "hidden",
		"case/.thumbs/d.jpg":      "hidden",
		"case2/not-in-prefix.jpg": "no",
		"top.jpg":                 "T",
	} {
		if _, err := client.PutObject(ctx, "photos", key, strings.NewReader(body), int64(len(body)), minio.PutObjectOptions{}); err != nil {
			t.Fatalf("put %s: %v", key, err)
		}
	}
	cfg := S3Config{Endpoint: g.Endpoint(), AccessKey: s3test.AccessKey, SecretKey: s3test.SecretKey,
		Insecure: true, Region: "us-east-1", Bucket: "photos"}

	t.Run("prefix", func(t *testing.T) {
		for _, prefix := range []string{"case", "case/", "/case/"} {
			c := cfg
			c.Prefix = prefix
			s, err := S3(ctx, c)
			if err != nil {
				t.Fatal(err)
			}
			got, err := list(t, s, 100)
			s.Close()
			want := []listed{
				{Name: "a.jpg", Body: "A"},
				{Name: "dir/b.jpg", Body: "BB"},
				{Name: "dir/deeper/c.jpg", Body: "CCC"},
			}
			if err != nil || !slices.Equal(got, want) {
				t.Fatalf("prefix %q: got %+v, %v\nwant %+v", prefix, got, err, want)
			}
		}
	})

	t.Run("whole bucket via Open", func(t *testing.T) {
		s, err := Open(ctx, "s3://photos", Options{S3: S3Config{Endpoint: g.Endpoint(), AccessKey: s3test.AccessKey,
			SecretKey: s3test.SecretKey, Insecure: true, Bucket: "ignored", Prefix: "ignored"}})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		var names []string
		sizes := map[string]int64{}
		err = s.Files(ctx, func(f engine.SourceFile) error {
			names = append(names, f.Name)
			sizes[f.Name] = f.Size
			return nil
		})
		want := []string{"case/a.jpg", "case/dir/b.jpg", "case/dir/deeper/c.jpg", "case2/not-in-prefix.jpg", "top.jpg"}
		if err != nil || !slices.Equal(names, want) {
			t.Fatalf("got %q, %v; want %q", names, err, want)
		}
		if sizes["case/dir/deeper/c.jpg"] != 3 {
			t.Errorf("size %d, want 3", sizes["case/dir/deeper/c.jpg"])
		}
	})

	t.Run("stop early, then a missing object", func(t *testing.T) {
		c := cfg
		c.Prefix = "case"
		s, err := S3(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		var first engine.SourceFile
		n := 0
		err = s.Files(ctx, func(f engine.SourceFile) error { first = f; n++; return errStop })
		if err != errStop || n != 1 {
			t.Fatalf("Files = %v after %d calls, want errStop after 1", err, n)
		}
		if err := client.RemoveObject(ctx, "photos", "case/a.jpg", minio.RemoveObjectOptions{}); err != nil {
			t.Fatal(err)
		}
		// GetObject is lazy: Open itself must report the missing object.
		_, err = first.Open(ctx)
		wantErrContains(t, err, "source: open s3://photos/case/a.jpg: ")
		var resp minio.ErrorResponse
		if !errors.As(err, &resp) || resp.Code != "NoSuchKey" || !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("err %v: want fs.ErrNotExist and minio's NoSuchKey inside", err)
		}
		cctx, ccancel := context.WithCancel(ctx)
		ccancel()
		if err := s.Files(cctx, func(engine.SourceFile) error { return nil }); err == nil {
			t.Error("a cancelled listing returned nil")
		}
	})

	t.Run("missing bucket", func(t *testing.T) {
		c := cfg
		c.Bucket = "no-such-bucket"
		_, err := S3(ctx, c)
		wantErrContains(t, err, `source: s3://no-such-bucket at `+g.Endpoint()+`: bucket "no-such-bucket" does not exist`)
	})

	t.Run("bad credentials", func(t *testing.T) {
		c := cfg
		c.SecretKey = "wrong"
		_, err := S3(ctx, c)
		wantErrContains(t, err, "source: s3://photos at "+g.Endpoint()+": ")
	})
}

func TestS3ConfigValidate(t *testing.T) {
	err := S3Config{Endpoint: "https://x", AccessKey: "a"}.Validate()
	for _, want := range []string{"must be host:port without a scheme", "bucket is required", "access key and secret key"} {
		wantErrContains(t, err, want)
	}
	if err := (S3Config{Endpoint: "x:9000", Bucket: "b"}).Validate(); err != nil {
		t.Errorf("anonymous config: %v", err)
	}
}

func TestS3Name(t *testing.T) {
	tests := []struct {
		key, prefix, name, refused string
		ok                         bool
	}{
		{"case/a.jpg", "case/", "a.jpg", "", true},
		{"case/d/b.jpg", "case/", "d/b.jpg", "", true},
		{"top.jpg", "", "top.jpg", "", true},
		{"case/d/", "case/", "", "", false},     // a directory marker
		{"case/", "case/", "", "", false},       // the prefix's own marker
		{"case/.x.jpg", "case/", "", "", false}, // hidden
		{"case/.git/x", "case/", "", "", false}, // in a hidden folder
		{"casex/a.jpg", "case/", "", "", false}, // not under the prefix
		{"case/a//b.jpg", "case/", "a//b.jpg", refusedKey, true},
		{"case/a/../b.jpg", "case/", "a/../b.jpg", refusedKey, true},
		{"case//a.jpg", "case/", "/a.jpg", refusedKey, true},
		{"case/./a.jpg", "case/", "./a.jpg", refusedKey, true},
	}
	for _, tt := range tests {
		name, refused, ok := s3Name(tt.key, tt.prefix)
		if name != tt.name && tt.ok || refused != tt.refused || ok != tt.ok {
			t.Errorf("s3Name(%q, %q) = %q, %q, %v; want %q, %q, %v", tt.key, tt.prefix, name, refused, ok, tt.name, tt.refused, tt.ok)
		}
	}
}
