package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/facematch/facematch/engine"
	"github.com/facematch/facematch/internal/blob"
)

// engineBlobs is the blob store as the engine sees it: an outage of the store
// (blob.ErrUnavailable) is the engine's ErrUnavailable, which the API answers with 503 and
// Retry-After instead of 500.
type engineBlobs struct {
	blob.Store
}

func (b engineBlobs) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	return unavailable(b.Store.Put(ctx, key, r, size))
}

func (b engineBlobs) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	rc, err := b.Store.Get(ctx, key)
	return rc, unavailable(err)
}

func (b engineBlobs) Delete(ctx context.Context, key string) error {
	return unavailable(b.Store.Delete(ctx, key))
}

func unavailable(err error) error {
	if errors.Is(err, blob.ErrUnavailable) {
		return &engine.RetryAfter{Err: fmt.Errorf("%w: %w", engine.ErrUnavailable, err), After: 5 * time.Second}
	}
	return err
}

// readiness answers /readyz: the catalog and the blob store both answer. The result is kept for
// a second, so that an unauthenticated client polling /readyz cannot make the service hammer
// object storage.
type readiness struct {
	checks []func(context.Context) error
	mu     sync.Mutex
	at     time.Time
	err    error
}

func (r *readiness) Ready() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if time.Since(r.at) < time.Second {
		return r.err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var errs []error
	for _, check := range r.checks {
		errs = append(errs, check(ctx))
	}
	r.at, r.err = time.Now(), errors.Join(errs...)
	return r.err
}

// blobsReachable lists a prefix that holds nothing: one request to the store.
func blobsReachable(store blob.Store) func(context.Context) error {
	return func(ctx context.Context) error {
		if _, err := store.List(ctx, "readiness-probe/"); err != nil {
			return fmt.Errorf("blob store: %w", err)
		}
		return nil
	}
}
