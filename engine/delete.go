package engine

import (
	"context"
	"errors"
	"fmt"
)

// Deletion removes the records, then everything derived from them: blobs (originals and
// thumbnails) and index vectors. The catalog records the purge in the deleting transaction, so
// what a crash interrupts is finished by FinishPurges at the next start; searches never return
// a deleted face in between, because candidates are looked up in the catalog first.

// DeleteGallery deletes a gallery and everything in it: its jobs are cancelled first (those
// running here stop and delete their batches in flight), and the purge includes their
// uploaded archives and metadata sidecars.
func (s *Service) DeleteGallery(ctx context.Context, a Actor, id int64) error {
	if err := s.stopGalleryJobs(ctx, a, id); err != nil {
		return err
	}
	return s.delete(ctx, a, "gallery.delete", ref("gallery", id), func(c Catalog) (int64, Purge, error) {
		p, err := c.DeleteGallery(ctx, id)
		return id, p, err
	})
}

// DeleteSubject deletes a subject with its photos and faces.
func (s *Service) DeleteSubject(ctx context.Context, a Actor, id int64) error {
	return s.delete(ctx, a, "subject.delete", ref("subject", id), func(c Catalog) (int64, Purge, error) {
		sub, err := c.Subject(ctx, id)
		if err != nil {
			return 0, Purge{}, err
		}
		p, err := c.DeleteSubject(ctx, id)
		return sub.GalleryID, p, err
	})
}

// DeleteImage deletes a photo with its faces.
func (s *Service) DeleteImage(ctx context.Context, a Actor, id int64) error {
	return s.delete(ctx, a, "image.delete", ref("image", id), func(c Catalog) (int64, Purge, error) {
		img, err := c.Image(ctx, id)
		if err != nil {
			return 0, Purge{}, err
		}
		p, err := c.DeleteImage(ctx, id)
		return img.GalleryID, p, err
	})
}

// delete runs del (which returns the gallery of what it deleted and the purge it left) with
// its audit entry in one transaction, then purges.
func (s *Service) delete(ctx context.Context, a Actor, action, target string, del func(c Catalog) (int64, Purge, error)) error {
	var p Purge
	err := s.audited(ctx, func(c Catalog) (AuditEntry, error) {
		gallery, purge, err := del(c)
		p = purge
		faces := 0
		for _, ids := range p.FaceIDs {
			faces += len(ids)
		}
		return entry(a, action, target, []int64{gallery}, "", fmt.Sprintf("faces=%d blobs=%d", faces, len(p.BlobKeys))), err
	})
	if err != nil {
		return err
	}
	// Finish even if the client hangs up: the records are already gone.
	ctx = context.WithoutCancel(ctx)
	err = s.purge(ctx, p)
	s.regroupHits(ctx)
	return err
}

// purge removes a purge's blobs and vectors, then forgets it. Missing ones are fine: a purge
// may run twice.
func (s *Service) purge(ctx context.Context, p Purge) error {
	var errs []error
	for model, ids := range p.FaceIDs {
		ix, ok := s.cfg.Indexes[model]
		if !ok {
			errs = append(errs, fmt.Errorf("service: purge %d: no index for model %s", p.ID, model))
			continue
		}
		faces := toU64(ids)
		// One call per model: one WAL fsync, however many faces the gallery held.
		missing, err := ix.DeleteBatch(ctx, faces)
		if err != nil {
			errs = append(errs, fmt.Errorf("service: purge %d: %d faces of %s: %w", p.ID, len(faces), model, err))
			continue
		}
		if len(missing) > 0 {
			s.log.Info("purge: faces already gone from the index", "purge", p.ID, "model", model, "count", len(missing))
		}
	}
	for _, k := range p.BlobKeys {
		if err := s.cfg.Blobs.Delete(ctx, k); err != nil {
			errs = append(errs, fmt.Errorf("service: purge %d: %s: %w", p.ID, k, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	// The index compacts on its own shortly after deletions: that is when the deleted vectors
	// leave object storage.
	return s.cfg.Catalog.PurgeDone(ctx, p.ID)
}

// FinishPurges completes the purges a crash interrupted. The service calls it at start.
func (s *Service) FinishPurges(ctx context.Context) error {
	ps, err := s.cfg.Catalog.PendingPurges(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, p := range ps {
		if err := s.purge(ctx, p); err != nil {
			errs = append(errs, err)
		}
	}
	if len(ps) > 0 {
		s.log.Info("finished interrupted purges", "count", len(ps), "failed", len(errs))
	}
	return errors.Join(errs...)
}
