package engine

import (
	"context"
	"fmt"

	"github.com/facematch/facematch/index"
)

// Reconcile makes each index hold exactly the catalog's vectors: it adds those missing (an
// upload that crashed between the catalog and the index) and deletes those the catalog no
// longer has (a purge the index did not finish). The service calls it at start.
func (s *Service) Reconcile(ctx context.Context, present func(model string) map[uint64]bool) error {
	for model, ix := range s.cfg.Indexes {
		have := present(model)
		var missing []index.Entry
		err := s.cfg.Catalog.Vectors(ctx, model, func(id, gallery int64, v []float32) error {
			if have[uint64(id)] {
				delete(have, uint64(id))
				return nil
			}
			missing = append(missing, index.Entry{ID: uint64(id), Gallery: uint64(gallery), Vector: v})
			return nil
		})
		if err != nil {
			return err
		}
		for from := 0; from < len(missing); from += 1000 {
			if err := ix.Add(ctx, model, missing[from:min(from+1000, len(missing))]); err != nil {
				return fmt.Errorf("service: reconcile %s: %w", model, err)
			}
		}
		stale := make([]uint64, 0, len(have))
		for id := range have {
			stale = append(stale, id)
		}
		if len(stale) > 0 {
			if _, err := ix.DeleteBatch(ctx, stale); err != nil {
				return fmt.Errorf("service: reconcile %s: %w", model, err)
			}
		}
		if len(missing)+len(stale) > 0 {
			s.log.Info("index reconciled with the catalog", "model", model, "added", len(missing), "removed", len(stale))
		}
	}
	return nil
}
