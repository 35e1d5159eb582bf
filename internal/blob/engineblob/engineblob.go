// Package engineblob is the object store as the engine sees it. The engine names no adapter
// type (internal/lint checks it), so this wrapper, which the composition in cmd/facematch and
// the tests that assemble a service both use, translates at the boundary: listings become
// engine.ObjectInfo, and an outage of the store (blob.ErrUnavailable) becomes the engine's
// ErrUnavailable, which the API answers with 503 and Retry-After instead of 500.
package engineblob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/facematch/facematch/engine"
	"github.com/facematch/facematch/internal/blob"
)

// Store is the engine's BlobStore over a blob store. It is safe for concurrent use if the
// store is.
type Store struct {
	// Blobs is the store the engine's photos, thumbnails, probes and archives live in; the
	// vector index may keep its segments in the same store, under its own prefix.
	Blobs blob.Store
}

var _ engine.BlobStore = Store{}

// Put stores r under key.
func (s Store) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	return unavailable(s.Blobs.Put(ctx, key, r, size))
}

// Get opens the object under key.
func (s Store) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	rc, err := s.Blobs.Get(ctx, key)
	return rc, unavailable(err)
}

// Delete removes the object under key (on a versioned bucket, every version of it).
func (s Store) Delete(ctx context.Context, key string) error {
	return unavailable(s.Blobs.Delete(ctx, key))
}

// List lists the objects whose key starts with prefix.
func (s Store) List(ctx context.Context, prefix string) ([]engine.ObjectInfo, error) {
	objs, err := s.Blobs.List(ctx, prefix)
	if err != nil {
		return nil, err
	}
	out := make([]engine.ObjectInfo, len(objs))
	for i, o := range objs {
		out[i] = engine.ObjectInfo{Key: o.Key, ModTime: o.ModTime}
	}
	return out, nil
}

// retryAfter is how long a client is told to wait when the store is unavailable.
const retryAfter = 5 * time.Second

func unavailable(err error) error {
	if errors.Is(err, blob.ErrUnavailable) {
		return &engine.RetryAfter{Err: fmt.Errorf("%w: %w", engine.ErrUnavailable, err), After: retryAfter}
	}
	return err
}
