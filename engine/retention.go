package engine

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// MaxRetentionDays bounds a retention period (a century): beyond it "for ever" is 0.
const MaxRetentionDays = 36_500

// expireBatch is how many expired searches one pass deletes before looking again.
const expireBatch = 100

// retentionActor is who the audit log names for what the policy deletes.
var retentionActor = Actor{Name: "retention-policy"}

// Retention returns the retention policy.
func (s *Service) Retention(ctx context.Context) (RetentionPolicy, error) {
	return s.cfg.Catalog.RetentionPolicy(ctx)
}

// SetRetention sets the retention policy; audited with the old and new values.
func (s *Service) SetRetention(ctx context.Context, a Actor, p RetentionPolicy) (RetentionPolicy, error) {
	if p.SearchDays < 0 || p.SearchDays > MaxRetentionDays {
		return RetentionPolicy{}, fmt.Errorf("search_days must be in [0, %d] (0: keep for ever), got %d: %w", MaxRetentionDays, p.SearchDays, ErrInvalid)
	}
	err := s.audited(ctx, func(c Catalog) (AuditEntry, error) {
		before, err := c.RetentionPolicy(ctx)
		if err != nil {
			return AuditEntry{}, err
		}
		if err := c.SetRetentionPolicy(ctx, p); err != nil {
			return AuditEntry{}, err
		}
		return entry(a, "retention.set", "", nil, fmt.Sprintf("search_days=%d (was %d)", p.SearchDays, before.SearchDays), ""), nil
	})
	return p, err
}

// ExpireSearches deletes the searches the retention policy lets go as of now (see
// RetentionPolicy), each with its audit entry, and purges their probe photos and thumbnails.
// It returns how many it deleted.
func (s *Service) ExpireSearches(ctx context.Context, now time.Time) (int, error) {
	p, err := s.cfg.Catalog.RetentionPolicy(ctx)
	if err != nil || p.SearchDays == 0 {
		return 0, err
	}
	before := now.Add(-time.Duration(p.SearchDays) * 24 * time.Hour)
	deleted := 0
	for {
		ids, err := s.cfg.Catalog.ExpiredSearches(ctx, before, expireBatch)
		if err != nil {
			return deleted, err
		}
		for _, id := range ids {
			if err := s.expireSearch(ctx, id, p.SearchDays); err != nil && !errors.Is(err, ErrNotFound) {
				return deleted, err
			}
			deleted++
		}
		if len(ids) < expireBatch {
			return deleted, nil
		}
	}
}

func (s *Service) expireSearch(ctx context.Context, id int64, days int) error {
	var purge Purge
	err := s.audited(ctx, func(c Catalog) (AuditEntry, error) {
		rec, _, err := c.Search(ctx, id)
		if err != nil {
			return AuditEntry{}, err
		}
		if purge, err = c.DeleteSearch(ctx, id); err != nil {
			return AuditEntry{}, err
		}
		return entry(retentionActor, "search.expire", ref("search", id), rec.Galleries,
			fmt.Sprintf("search_days=%d created_at=%s", days, rec.CreatedAt.UTC().Format(time.RFC3339)), fmt.Sprintf("blobs=%d", len(purge.BlobKeys))), nil
	})
	if err != nil {
		return err
	}
	return s.purge(context.WithoutCancel(ctx), purge)
}
