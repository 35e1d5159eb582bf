package blob

import (
	"context"
	"errors"
	"io"
	"time"
)

// Sentinel errors. Backends wrap them (together with the original cause) so that errors.Is
// works; see the package documentation for when each one is returned.
var (
	// ErrNotFound: no object has the key.
	ErrNotFound = errors.New("blob: not found")
	// ErrExists: PutIfAbsent found the key present, or lost the race to another writer.
	ErrExists = errors.New("blob: already exists")
	// ErrUnavailable: the store is unreachable or failing (connection refused or reset,
	// timeouts, HTTP 5xx, SlowDown). It is retryable: nothing was half-applied.
	ErrUnavailable = errors.New("blob: store unavailable")
	// ErrInvalidKey: a key or list prefix breaks the namespace rules (see ValidateKey).
	ErrInvalidKey = errors.New("blob: invalid key")
)

// ObjectInfo describes one stored object, as returned by List.
type ObjectInfo struct {
	Key     string    // relative key, as given to Put
	Size    int64     // bytes
	ModTime time.Time // when the current version was written
}

// Store is an object store of immutable-per-write blobs under slash-separated keys. It is safe
// for concurrent use by multiple goroutines. Every method validates its key with ValidateKey
// (List its prefix with ValidatePrefix) and returns an error wrapping ErrInvalidKey for a bad
// one.
type Store interface {
	// Put creates or replaces the object at key with exactly size bytes read from r (size -1:
	// read r to EOF). It is atomic: readers see the old object or the new one, never a part.
	// If r ends before size bytes, Put fails with an error wrapping io.ErrUnexpectedEOF and
	// the old object (if any) stays.
	Put(ctx context.Context, key string, r io.Reader, size int64) error

	// PutIfAbsent is Put that only creates: if key already holds an object it returns an
	// error wrapping ErrExists. Among writers racing on one key exactly one succeeds and the
	// stored bytes are that writer's.
	PutIfAbsent(ctx context.Context, key string, r io.Reader, size int64) error

	// Get opens the object at key for reading; the caller closes it. A missing key is
	// reported here with ErrNotFound, not later by Read.
	Get(ctx context.Context, key string) (io.ReadCloser, error)

	// Delete removes the object at key and, on a versioned S3 bucket, every version of it
	// (including delete markers): a deletion really deletes. Deleting a missing key is not an
	// error.
	Delete(ctx context.Context, key string) error

	// List returns every object whose key starts with prefix (a plain string prefix, "" for
	// all), sorted by key.
	List(ctx context.Context, prefix string) ([]ObjectInfo, error)
}
