package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// The sweeper removes what no record references: blobs stored by an upload, search or job
// that was killed before its record was written, a deletion's blobs whose purge was lost, a
// done job's archive. Records are the truth; an object older than the grace period that no
// record (nor a pending purge) references is an orphan. The grace period protects the
// uploads in flight, whose blobs are written before their records.

// SweptPrefixes are the key prefixes the service's blobs live under. The sweeper lists only
// these: the vector index keeps its segments under its own prefix ("index/…") and sweeps its
// own orphans.
var SweptPrefixes = []string{"galleries/", "searches/", "jobs/"}

// ObjectInfo is what the sweeper reads of one stored object.
type ObjectInfo struct {
	Key     string    // as given to BlobStore.Put
	ModTime time.Time // when the current version was written
}

// ObjectLister lists the blob store's objects whose key starts with prefix.
type ObjectLister interface {
	List(ctx context.Context, prefix string) ([]ObjectInfo, error)
}

// BlobReferences says which blob keys the records reference.
type BlobReferences interface {
	// ReferencedBlobs returns the keys starting with prefix that a record references: an
	// image's photo, a face's or probe face's thumbnail, a search's probe, an unfinished,
	// cancelled or failed job's archive or sidecar, a pending purge's blob. A prefix
	// "galleries/<id>/" is answered from that gallery's records alone.
	ReferencedBlobs(ctx context.Context, prefix string) (map[string]bool, error)
}

// SweepReport is what a sweep did.
type SweepReport struct {
	Listed  int // objects under the swept prefixes
	Deleted int // orphans older than the grace period, deleted
	Failed  int // orphans whose deletion failed (the next sweep retries)
}

// Sweep deletes every object under SweptPrefixes older than grace that no record references,
// on a versioned S3 bucket every version of it (BlobStore.Delete). A sweep that deleted
// anything is audited with its counts.
func (s *Service) Sweep(ctx context.Context, grace time.Duration) (SweepReport, error) {
	var rep SweepReport
	if grace < 0 {
		return rep, fmt.Errorf("sweep: grace period must be >= 0, got %s: %w", grace, ErrInvalid)
	}
	var errs []error
	for _, prefix := range SweptPrefixes {
		if err := s.sweepPrefix(ctx, prefix, time.Now().Add(-grace), &rep); err != nil {
			errs = append(errs, err)
		}
	}
	if rep.Deleted+rep.Failed > 0 {
		// The objects are gone whatever the log says: a failed entry fails the sweep, so that
		// its owner reports it.
		if _, err := s.cfg.Catalog.Append(ctx, entry(Actor{Name: "sweeper"}, "blobs.sweep", "", nil, "grace="+grace.String(),
			fmt.Sprintf("listed=%d deleted=%d failed=%d", rep.Listed, rep.Deleted, rep.Failed))); err != nil {
			errs = append(errs, fmt.Errorf("sweep: audit: %w", err))
		}
		s.log.Info("swept unreferenced blobs", "listed", rep.Listed, "deleted", rep.Deleted, "failed", rep.Failed)
	}
	return rep, errors.Join(errs...)
}

// sweepPrefix sweeps one prefix; "galleries/" one gallery at a time, so that the references
// it holds are one gallery's.
func (s *Service) sweepPrefix(ctx context.Context, prefix string, before time.Time, rep *SweepReport) error {
	objs, err := s.cfg.Blobs.List(ctx, prefix)
	if err != nil {
		return fmt.Errorf("sweep: %w", err)
	}
	rep.Listed += len(objs)
	groups := map[string][]string{} // reference prefix → old enough keys under it
	var order []string
	for _, o := range objs {
		if !o.ModTime.Before(before) {
			continue
		}
		group := prefix
		if prefix == "galleries/" {
			if id, _, ok := strings.Cut(strings.TrimPrefix(o.Key, prefix), "/"); ok {
				group = prefix + id + "/"
			}
		}
		if groups[group] == nil {
			order = append(order, group)
		}
		groups[group] = append(groups[group], o.Key)
	}
	var errs []error
	for _, group := range order {
		refs, err := s.cfg.Catalog.ReferencedBlobs(ctx, group)
		if err != nil {
			errs = append(errs, fmt.Errorf("sweep %s: %w", group, err))
			continue
		}
		for _, key := range groups[group] {
			if refs[key] {
				continue
			}
			if err := s.cfg.Blobs.Delete(ctx, key); err != nil {
				rep.Failed++
				errs = append(errs, fmt.Errorf("sweep: %w", err))
				continue
			}
			rep.Deleted++
		}
	}
	return errors.Join(errs...)
}
