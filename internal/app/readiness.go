package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/facematch/facematch/internal/blob"
)

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
