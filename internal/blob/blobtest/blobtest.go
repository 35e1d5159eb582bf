// Package blobtest is the conformance suite for blob.Store: every backend runs RunStoreTests
// from its own tests, so each one keeps the same contract.
package blobtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/facematch/facematch/internal/blob"
)

// LargeSize is the size of the streamed round-trip object: above minio-go's 16 MiB part size,
// so S3 backends go through multipart upload.
const LargeSize = 50 << 20

// RunStoreTests runs the conformance suite. newStore must return an empty store that no other
// test uses (for S3: a fresh bucket or a fresh Prefix); it is called once per subtest.
func RunStoreTests(t *testing.T, newStore func(t *testing.T) blob.Store) {
	tests := []struct {
		name string
		fn   func(*testing.T, blob.Store)
	}{
		{"RoundTrip", testRoundTrip},
		{"RoundTripLarge", testRoundTripLarge},
		{"Overwrite", testOverwrite},
		{"OverwriteAtomic", testOverwriteAtomic},
		{"GetMissing", testGetMissing},
		{"PutIfAbsent", testPutIfAbsent},
		{"PutIfAbsentLarge", testPutIfAbsentLarge},
		{"PutIfAbsentRace", testPutIfAbsentRace},
		{"Delete", testDelete},
		{"List", testList},
		{"InvalidKeys", testInvalidKeys},
		{"ShortBody", testShortBody},
		{"ContextCancelled", testContextCancelled},
		{"CancelMidPut", testCancelMidPut},
		{"Concurrent", testConcurrent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, newStore(t)) })
	}
}

// SeededReader returns n pseudo-random bytes from seed, generated as they are read (memory
// stays bounded whatever n is). It implements only io.Reader, as a network stream would.
func SeededReader(seed uint64, n int64) io.Reader {
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	return io.LimitReader(rand.NewChaCha8(key), n)
}

// Getter reads objects: what ReadAll needs of a store.
type Getter interface {
	Get(ctx context.Context, key string) (io.ReadCloser, error)
}

// ReadAll reads the object at key; it fails the test on any error.
func ReadAll(t testing.TB, s Getter, key string) []byte {
	t.Helper()
	rc, err := s.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("Get(%q): read: %v", key, err)
	}
	return b
}

func put(t testing.TB, s blob.Store, key string, data []byte) {
	t.Helper()
	if err := s.Put(t.Context(), key, bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatalf("Put(%q, %d bytes): %v", key, len(data), err)
	}
}

func wantNotFound(t testing.TB, s blob.Store, key string) {
	t.Helper()
	rc, err := s.Get(t.Context(), key)
	if err == nil {
		rc.Close()
		t.Fatalf("Get(%q) succeeded, want ErrNotFound", key)
	}
	if !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Get(%q) = %v, want ErrNotFound", key, err)
	}
}

func wantContent(t testing.TB, s blob.Store, key string, want []byte) {
	t.Helper()
	if got := ReadAll(t, s, key); !bytes.Equal(got, want) {
		t.Fatalf("Get(%q) = %d bytes %.32q, want %d bytes %.32q", key, len(got), got, len(want), want)
	}
}

func keys(infos []blob.ObjectInfo) []string {
	out := make([]string, len(infos))
	for i, o := range infos {
		out[i] = o.Key
	}
	return out
}

func testRoundTrip(t *testing.T, s blob.Store) {
	tests := []struct {
		name    string
		key     string
		data    []byte
		unknown bool // pass size -1
	}{
		{"empty", "rt/empty", []byte{}, false},
		{"small", "rt/small.bin", []byte("hello, faces"), false},
		{"binary", "rt/deep/er/binary", bytes.Repeat([]byte{0, 1, 2, 0xff}, 1000), false},
		{"odd characters", "rt/x y+z=é&(1),ü~.jpg", []byte("odd"), false},
		{"unknown size", "rt/unknown", bytes.Repeat([]byte("u"), 100_000), true},
		{"unknown size empty", "rt/unknown-empty", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			size := int64(len(tt.data))
			if tt.unknown {
				size = -1
			}
			// A plain io.Reader, as from a network: no Seek, no ReadAt, no Len.
			r := io.MultiReader(bytes.NewReader(tt.data))
			if err := s.Put(t.Context(), tt.key, r, size); err != nil {
				t.Fatalf("Put: %v", err)
			}
			wantContent(t, s, tt.key, tt.data)
		})
	}
	infos, err := s.List(t.Context(), "rt/")
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(infos) != len(tests) {
		t.Fatalf("List(rt/) = %q, want %d keys", keys(infos), len(tests))
	}
}

func testRoundTripLarge(t *testing.T, s blob.Store) {
	const key = "large/segment.bin"
	h := sha256.New()
	start := time.Now()
	if err := s.Put(t.Context(), key, io.TeeReader(SeededReader(42, LargeSize), h), LargeSize); err != nil {
		t.Fatalf("Put %d bytes: %v", LargeSize, err)
	}
	want := h.Sum(nil)
	t.Logf("Put %d MiB in %v", LargeSize>>20, time.Since(start).Round(time.Millisecond))

	start = time.Now()
	rc, err := s.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	defer rc.Close()
	h.Reset()
	n, err := io.Copy(h, rc)
	if err != nil {
		t.Fatalf("Get: read after %d bytes: %v", n, err)
	}
	t.Logf("Get %d MiB in %v", LargeSize>>20, time.Since(start).Round(time.Millisecond))
	if n != LargeSize || !bytes.Equal(h.Sum(nil), want) {
		t.Fatalf("Get: %d bytes, sha256 %x; want %d bytes, sha256 %x", n, h.Sum(nil), LargeSize, want)
	}
	infos, err := s.List(t.Context(), "large/")
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(infos) != 1 || infos[0].Key != key || infos[0].Size != LargeSize {
		t.Fatalf("List = %+v, want one %s of %d bytes", infos, key, LargeSize)
	}
}

func testOverwrite(t *testing.T, s blob.Store) {
	put(t, s, "ow/k", []byte("first version, longer than the second"))
	put(t, s, "ow/k", []byte("second"))
	wantContent(t, s, "ow/k", []byte("second"))
	put(t, s, "ow/k", nil)
	wantContent(t, s, "ow/k", nil)
}

// testOverwriteAtomic overwrites one key while readers read it: every read must see one whole
// version, never a mix or a prefix.
func testOverwriteAtomic(t *testing.T, s blob.Store) {
	const (
		key      = "atomic/k"
		size     = 256 << 10
		versions = 12
		readers  = 2
	)
	version := func(v int) []byte { return bytes.Repeat([]byte{byte('a' + v)}, size) }
	put(t, s, key, version(0))

	ctx := t.Context()
	done := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, readers+1)
	for range readers {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				rc, err := s.Get(ctx, key)
				if err != nil {
					errs <- fmt.Errorf("a Get during an overwrite: %w", err)
					return
				}
				b, err := io.ReadAll(rc)
				rc.Close()
				if err != nil {
					errs <- fmt.Errorf("read during overwrite: %w", err)
					return
				}
				if len(b) != size || bytes.Count(b, b[:1]) != size {
					errs <- fmt.Errorf("read a torn object: %d bytes, first %q, last %q", len(b), b[:min(1, len(b))], b[max(0, len(b)-1):])
					return
				}
			}
		})
	}
	for v := 1; v <= versions; v++ {
		data := version(v)
		if err := s.Put(ctx, key, bytes.NewReader(data), size); err != nil {
			errs <- fmt.Errorf("the Put of version %d: %w", v, err)
			break
		}
	}
	close(done)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	wantContent(t, s, key, version(versions))
}

func testGetMissing(t *testing.T, s blob.Store) {
	wantNotFound(t, s, "missing/k")
	put(t, s, "missing/dir/k", []byte("x"))
	wantNotFound(t, s, "missing/dir") // a "directory" of keys is not an object
	wantNotFound(t, s, "missing/dir/k/deeper")
	wantNotFound(t, s, "missing/dir/k2")
}

func testPutIfAbsent(t *testing.T, s blob.Store) {
	ctx := t.Context()
	if err := s.PutIfAbsent(ctx, "pia/k", strings.NewReader("first"), 5); err != nil {
		t.Fatalf("first PutIfAbsent: %v", err)
	}
	err := s.PutIfAbsent(ctx, "pia/k", strings.NewReader("second"), 6)
	if !errors.Is(err, blob.ErrExists) {
		t.Fatalf("second PutIfAbsent = %v, want ErrExists", err)
	}
	wantContent(t, s, "pia/k", []byte("first"))

	// Unknown size takes another upload path on S3.
	if err := s.PutIfAbsent(ctx, "pia/unknown", strings.NewReader("u1"), -1); err != nil {
		t.Fatalf("PutIfAbsent size -1: %v", err)
	}
	err = s.PutIfAbsent(ctx, "pia/unknown", strings.NewReader("u2"), -1)
	if !errors.Is(err, blob.ErrExists) {
		t.Fatalf("second PutIfAbsent size -1 = %v, want ErrExists", err)
	}
	wantContent(t, s, "pia/unknown", []byte("u1"))

	// An empty object is present too.
	if err := s.PutIfAbsent(ctx, "pia/empty", strings.NewReader(""), 0); err != nil {
		t.Fatalf("PutIfAbsent empty: %v", err)
	}
	if err := s.PutIfAbsent(ctx, "pia/empty", strings.NewReader("x"), 1); !errors.Is(err, blob.ErrExists) {
		t.Fatalf("PutIfAbsent over empty object = %v, want ErrExists", err)
	}

	// Put may replace what PutIfAbsent created.
	put(t, s, "pia/k", []byte("replaced"))
	wantContent(t, s, "pia/k", []byte("replaced"))
}

// testPutIfAbsentLarge checks the condition holds for objects big enough for multipart upload.
func testPutIfAbsentLarge(t *testing.T, s blob.Store) {
	const size = 20 << 20
	ctx := t.Context()
	h := sha256.New()
	if err := s.PutIfAbsent(ctx, "pial/k", io.TeeReader(SeededReader(1, size), h), size); err != nil {
		t.Fatalf("first PutIfAbsent (%d bytes): %v", size, err)
	}
	want := h.Sum(nil)
	err := s.PutIfAbsent(ctx, "pial/k", SeededReader(2, size), size)
	if !errors.Is(err, blob.ErrExists) {
		t.Fatalf("second PutIfAbsent (%d bytes) = %v, want ErrExists", size, err)
	}
	got := sha256.Sum256(ReadAll(t, s, "pial/k"))
	if !bytes.Equal(got[:], want) {
		t.Fatalf("stored object is not the first writer's")
	}

	// Racing large writers: the condition is checked when the object is published, not
	// only before the upload starts.
	const writers = 3
	sums := make([][]byte, writers)
	errs := make([]error, writers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			h := sha256.New()
			<-start
			errs[i] = s.PutIfAbsent(ctx, "pial/race", io.TeeReader(SeededReader(uint64(10+i), size), h), size)
			sums[i] = h.Sum(nil)
		})
	}
	close(start)
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("large writers %d and %d both won", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, blob.ErrExists):
			t.Errorf("large writer %d: %v, want nil or ErrExists", i, err)
		}
	}
	if winner < 0 {
		t.Fatalf("no large writer won: %v", errs)
	}
	got = sha256.Sum256(ReadAll(t, s, "pial/race"))
	if !bytes.Equal(got[:], sums[winner]) {
		t.Fatalf("stored object is not the winner's")
	}
}

func testPutIfAbsentRace(t *testing.T, s blob.Store) {
	const (
		key     = "race/manifest"
		writers = 16
	)
	body := func(i int) []byte { return bytes.Repeat(fmt.Appendf(nil, "writer-%02d;", i), 6000) }
	start := make(chan struct{})
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			data := body(i)
			<-start
			errs[i] = s.PutIfAbsent(t.Context(), key, bytes.NewReader(data), int64(len(data)))
		})
	}
	close(start)
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("writers %d and %d both won", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, blob.ErrExists):
			t.Errorf("writer %d: %v, want nil or ErrExists", i, err)
		}
	}
	if winner < 0 {
		t.Fatalf("no writer won: %v", errs)
	}
	wantContent(t, s, key, body(winner))
}

func testDelete(t *testing.T, s blob.Store) {
	ctx := t.Context()
	put(t, s, "del/k", []byte("biometric"))
	put(t, s, "del/k", []byte("biometric, second version"))
	put(t, s, "del/k2", []byte("stays"))
	if err := s.Delete(ctx, "del/k"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	wantNotFound(t, s, "del/k")
	infos, err := s.List(ctx, "del/")
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if got := keys(infos); !slices.Equal(got, []string{"del/k2"}) {
		t.Fatalf("List after Delete = %q, want [del/k2]", got)
	}
	if err := s.Delete(ctx, "del/k"); err != nil {
		t.Fatalf("Delete again: %v", err)
	}
	if err := s.Delete(ctx, "del/never/was"); err != nil {
		t.Fatalf("Delete of a key never stored: %v", err)
	}
	if err := s.Delete(ctx, "del"); err != nil { // a prefix of keys, not an object
		t.Fatalf("Delete of a key prefix: %v", err)
	}
	wantContent(t, s, "del/k2", []byte("stays"))
	// The key is free again, also for PutIfAbsent.
	if err := s.PutIfAbsent(ctx, "del/k", strings.NewReader("new"), 3); err != nil {
		t.Fatalf("PutIfAbsent after Delete: %v", err)
	}
	wantContent(t, s, "del/k", []byte("new"))
}

func testList(t *testing.T, s blob.Store) {
	ctx := t.Context()
	before := time.Now().Add(-time.Hour)
	stored := map[string]int{
		"seg/b/2":     2,
		"seg/a/1":     1,
		"seg/a.x":     4,
		"seg/a/sub/3": 3,
		"seg2/c":      5,
		"segment":     6,
		"other/z":     7,
		"seg/a0":      8,
	}
	for k, n := range stored {
		put(t, s, k, bytes.Repeat([]byte("x"), n))
	}
	tests := []struct {
		prefix string
		want   []string
	}{
		{"", []string{"other/z", "seg/a.x", "seg/a/1", "seg/a/sub/3", "seg/a0", "seg/b/2", "seg2/c", "segment"}},
		{"seg/", []string{"seg/a.x", "seg/a/1", "seg/a/sub/3", "seg/a0", "seg/b/2"}},
		{"seg", []string{"seg/a.x", "seg/a/1", "seg/a/sub/3", "seg/a0", "seg/b/2", "seg2/c", "segment"}},
		{"seg/a", []string{"seg/a.x", "seg/a/1", "seg/a/sub/3", "seg/a0"}},
		{"seg/a/", []string{"seg/a/1", "seg/a/sub/3"}},
		{"seg/a/1", []string{"seg/a/1"}},
		{"seg/b/2/", nil},
		{"nothing/", nil},
		{"nothing", nil},
	}
	for _, tt := range tests {
		infos, err := s.List(ctx, tt.prefix)
		if err != nil {
			t.Fatalf("List(%q): %v", tt.prefix, err)
		}
		if got := keys(infos); !slices.Equal(got, tt.want) {
			t.Errorf("List(%q) = %q, want %q", tt.prefix, got, tt.want)
		}
		for _, o := range infos {
			if o.Size != int64(stored[o.Key]) {
				t.Errorf("List(%q): %s has size %d, want %d", tt.prefix, o.Key, o.Size, stored[o.Key])
			}
			if o.ModTime.Before(before) || o.ModTime.After(time.Now().Add(time.Hour)) {
				t.Errorf("List(%q): %s has ModTime %v, want about now", tt.prefix, o.Key, o.ModTime)
			}
		}
	}
}

func testInvalidKeys(t *testing.T, s blob.Store) {
	ctx := t.Context()
	bad := []string{"", "/abs", "trailing/", "a//b", "..", "a/../b", "./a", "a/.", ".hidden", "a/.tmp-1", "nul\x00", "back\\slash", strings.Repeat("k", 1025)}
	for _, key := range bad {
		checks := []struct {
			op  string
			err error
		}{
			{"Put", s.Put(ctx, key, strings.NewReader("x"), 1)},
			{"PutIfAbsent", s.PutIfAbsent(ctx, key, strings.NewReader("x"), 1)},
			{"Get", func() error {
				rc, err := s.Get(ctx, key)
				if err == nil {
					rc.Close()
				}
				return err
			}()},
			{"Delete", s.Delete(ctx, key)},
		}
		for _, c := range checks {
			if !errors.Is(c.err, blob.ErrInvalidKey) {
				t.Errorf("%s(%q) = %v, want ErrInvalidKey", c.op, key, c.err)
			}
		}
	}
	for _, prefix := range []string{"/", "/abs", "a//", "../", ".hidden"} {
		if _, err := s.List(ctx, prefix); !errors.Is(err, blob.ErrInvalidKey) {
			t.Errorf("List(%q) = %v, want ErrInvalidKey", prefix, err)
		}
	}
	infos, err := s.List(ctx, "")
	if err != nil || len(infos) != 0 {
		t.Fatalf("List after refused writes = %v, %v; want empty", keys(infos), err)
	}
}

func testShortBody(t *testing.T, s blob.Store) {
	ctx := t.Context()
	err := s.Put(ctx, "short/new", strings.NewReader("only 12 byte"), 100)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("Put with a short body = %v, want io.ErrUnexpectedEOF", err)
	}
	wantNotFound(t, s, "short/new")

	put(t, s, "short/old", []byte("old"))
	err = s.Put(ctx, "short/old", strings.NewReader("new but short"), 1000)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("Put over an object with a short body = %v, want io.ErrUnexpectedEOF", err)
	}
	wantContent(t, s, "short/old", []byte("old"))

	err = s.PutIfAbsent(ctx, "short/pia", strings.NewReader("short"), 50)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("PutIfAbsent with a short body = %v, want io.ErrUnexpectedEOF", err)
	}
	wantNotFound(t, s, "short/pia")

	// Large enough for multipart upload: the missing tail is noticed before the upload
	// completes.
	const declared, given = 20 << 20, 17 << 20
	err = s.Put(ctx, "short/old", SeededReader(4, given), declared)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("Put of %d bytes with only %d = %v, want io.ErrUnexpectedEOF", declared, given, err)
	}
	wantContent(t, s, "short/old", []byte("old"))
	err = s.PutIfAbsent(ctx, "short/pia-large", SeededReader(4, given), declared)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("PutIfAbsent of %d bytes with only %d = %v, want io.ErrUnexpectedEOF", declared, given, err)
	}
	wantNotFound(t, s, "short/pia-large")
	// Short within the first part too.
	err = s.PutIfAbsent(ctx, "short/pia-large", SeededReader(4, 1<<20), declared)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("PutIfAbsent of %d bytes with only %d = %v, want io.ErrUnexpectedEOF", declared, 1<<20, err)
	}
	wantNotFound(t, s, "short/pia-large")
}

func testContextCancelled(t *testing.T, s blob.Store) {
	put(t, s, "ctx/there", []byte("x"))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	checks := []struct {
		op  string
		err error
	}{
		{"Put", s.Put(ctx, "ctx/new", strings.NewReader("x"), 1)},
		{"PutIfAbsent", s.PutIfAbsent(ctx, "ctx/new2", strings.NewReader("x"), 1)},
		{"Get", func() error {
			rc, err := s.Get(ctx, "ctx/there")
			if err == nil {
				rc.Close()
			}
			return err
		}()},
		{"Delete", s.Delete(ctx, "ctx/there")},
		{"List", func() error { _, err := s.List(ctx, "ctx/"); return err }()},
	}
	for _, c := range checks {
		if !errors.Is(c.err, context.Canceled) {
			t.Errorf("%s with a cancelled context = %v, want context.Canceled", c.op, c.err)
		}
	}
	wantNotFound(t, s, "ctx/new")
	wantNotFound(t, s, "ctx/new2")
	wantContent(t, s, "ctx/there", []byte("x"))
}

// cancelAfter cancels a context once n bytes have been read through it, as a caller that gives
// up in the middle of an upload.
type cancelAfter struct {
	r      io.Reader
	n      int64
	cancel context.CancelFunc
}

func (c *cancelAfter) Read(p []byte) (int, error) {
	if c.n <= 0 {
		c.cancel()
		// Give the store a moment to notice, as a slow network stream would.
		time.Sleep(50 * time.Millisecond)
	}
	n, err := c.r.Read(p)
	c.n -= int64(n)
	return n, err
}

func testCancelMidPut(t *testing.T, s blob.Store) {
	const size = 4 << 20
	old := []byte("the old version")
	put(t, s, "cancel/k", old)
	for _, op := range []string{"Put", "PutIfAbsent"} {
		t.Run(op, func(t *testing.T) {
			key := "cancel/k"
			if op == "PutIfAbsent" {
				key = "cancel/new"
			}
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			r := &cancelAfter{r: SeededReader(7, size), n: 1 << 20, cancel: cancel}
			var err error
			if op == "Put" {
				err = s.Put(ctx, key, r, size)
			} else {
				err = s.PutIfAbsent(ctx, key, r, size)
			}
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("%s cancelled mid-body = %v, want context.Canceled", op, err)
			}
			if op == "Put" {
				wantContent(t, s, key, old)
			} else {
				wantNotFound(t, s, key)
			}
		})
	}
}

// testConcurrent exercises every method from several goroutines on their own keys (for the
// race detector).
func testConcurrent(t *testing.T, s blob.Store) {
	ctx := t.Context()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			for i := range 5 {
				key := fmt.Sprintf("conc/%d/%d", g, i)
				data := fmt.Appendf(nil, "goroutine %d item %d", g, i)
				if err := s.Put(ctx, key, bytes.NewReader(data), int64(len(data))); err != nil {
					errs <- err
					return
				}
				rc, err := s.Get(ctx, key)
				if err != nil {
					errs <- err
					return
				}
				got, err := io.ReadAll(rc)
				rc.Close()
				if err != nil || !bytes.Equal(got, data) {
					errs <- fmt.Errorf("%s: got %q, %v; want %q", key, got, err, data)
					return
				}
				if _, err := s.List(ctx, fmt.Sprintf("conc/%d/", g)); err != nil {
					errs <- err
					return
				}
				if i%2 == 0 {
					if err := s.Delete(ctx, key); err != nil {
						errs <- err
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	infos, err := s.List(ctx, "conc/")
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != 8*2 {
		t.Fatalf("List(conc/) = %d keys, want %d", len(infos), 8*2)
	}
}

// Lister lists and reads a store's objects: what Holds needs of one.
type Lister interface {
	Getter
	List(ctx context.Context, prefix string) ([]blob.ObjectInfo, error)
}

// Holds reports whether any object in s (its latest versions) contains needle: the check that
// deleted bytes, a vector say, really left the store.
func Holds(t testing.TB, s Lister, needle []byte) bool {
	t.Helper()
	objs, err := s.List(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		rc, err := s.Get(t.Context(), o.Key)
		if errors.Is(err, blob.ErrNotFound) {
			continue // deleted since the listing (a background compaction): it holds nothing
		}
		if err != nil {
			t.Fatalf("Get(%q): %v", o.Key, err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatalf("Get(%q): read: %v", o.Key, err)
		}
		if bytes.Contains(b, needle) {
			return true
		}
	}
	return false
}
