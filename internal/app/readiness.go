package app

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/facematch/facematch/api"
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

// Gauges are the service's state for /metrics: memory admission and each index's size.
func (a *App) Gauges() []api.Gauge {
	ad := a.Service.Admission()
	gs := []api.Gauge{
		{Name: "facematch_admission_budget_bytes", Help: "Memory budget of photos being decoded and analysed at once.", Value: float64(ad.Budget)},
		{Name: "facematch_admission_held_bytes", Help: "Memory budget held now by photos being decoded and analysed.", Value: float64(ad.Held)},
		{Name: "facematch_admission_peak_bytes", Help: "Most memory budget ever held at once.", Value: float64(ad.Peak)},
		{Name: "facematch_admission_refused_total", Help: "Uploads and searches answered 503 because the memory budget stayed full.", Value: float64(ad.Refused)},
		{Name: "facematch_admission_late_decodes_total", Help: "Decodes that outlived the decode timeout.", Value: float64(ad.Late)},
	}
	names := make([]string, 0, len(a.Indexes))
	for name := range a.Indexes {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		s := a.Indexes[name].Stats()
		l := map[string]string{"model": name}
		gs = append(gs,
			api.Gauge{Name: "facematch_index_faces", Help: "Faces in the vector index.", Labels: l, Value: float64(s.Faces)},
			api.Gauge{Name: "facematch_index_segments", Help: "Sealed index segments.", Labels: l, Value: float64(s.Segments)},
			api.Gauge{Name: "facematch_index_tombstones", Help: "Deleted faces not yet compacted away.", Labels: l, Value: float64(s.Tombstones)},
			api.Gauge{Name: "facematch_index_compactions_total", Help: "Compactions that took deleted faces out of object storage.", Labels: l, Value: float64(s.Compactions)})
	}
	return gs
}
