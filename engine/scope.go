package engine

import (
	"context"
	"fmt"
	"slices"
)

// Access scoped by gallery: a deployment where one unit must not see another's galleries grants
// its analyst and reviewer credentials some galleries only (Token.Galleries). The rule is
// applied here, once, on every use case that reads or acts on a gallery's data: galleries,
// subjects, photos, faces and their thumbnails, searches and their probe photos, matches, jobs.
// Admin and auditor credentials are never scoped: admins manage credentials (a scoped admin
// could grant itself more), auditors read the whole audit log.

// mayRead reports whether a may read gallery's data.
func (a Actor) mayRead(gallery int64) bool {
	return a.Galleries == nil || slices.Contains(a.Galleries, gallery)
}

// mayReadAny reports whether a may read at least one of galleries (a search over several).
func (a Actor) mayReadAny(galleries []int64) bool {
	if a.Galleries == nil {
		return true
	}
	for _, g := range galleries {
		if a.mayRead(g) {
			return true
		}
	}
	return false
}

// checkGallery refuses a when gallery is outside its scope.
func checkGallery(a Actor, gallery int64) error {
	if a.mayRead(gallery) {
		return nil
	}
	return fmt.Errorf("credential %s is not granted gallery %d: %w", a.Name, gallery, ErrForbidden)
}

// ScopeToken grants credential id the galleries it may read: nil (or none given) for all.
// Only analyst and reviewer credentials can be scoped, and every gallery must exist.
func (s *Service) ScopeToken(ctx context.Context, a Actor, id int64, galleries []int64) (Token, error) {
	t, err := s.cfg.Catalog.Token(ctx, id)
	if err != nil {
		return t, err
	}
	if galleries, err = s.checkScope(ctx, t.Role, galleries); err != nil {
		return t, err
	}
	err = s.audited(ctx, func(c Catalog) (AuditEntry, error) {
		var err error
		t, err = c.ScopeToken(ctx, id, galleries)
		return entry(a, "credential.scope", ref("credential", id), galleries, "name="+t.Name+" galleries="+scopeText(galleries), ""), err
	})
	return t, err
}

// checkScope validates a scope for a credential of role and returns it deduplicated and sorted.
func (s *Service) checkScope(ctx context.Context, role Role, galleries []int64) ([]int64, error) {
	if galleries == nil {
		return nil, nil
	}
	if role != RoleAnalyst && role != RoleReviewer {
		return nil, fmt.Errorf("only analyst and reviewer credentials can be limited to galleries, not %s ones: %w", role, ErrInvalid)
	}
	if len(galleries) == 0 {
		return nil, fmt.Errorf("galleries must name at least one gallery (leave it out for all): %w", ErrInvalid)
	}
	out := slices.Clone(galleries)
	slices.Sort(out)
	out = slices.Compact(out)
	for _, g := range out {
		if _, err := s.cfg.Catalog.Gallery(ctx, g); err != nil {
			return nil, fmt.Errorf("galleries: %w", err)
		}
	}
	return out, nil
}

func scopeText(galleries []int64) string {
	if galleries == nil {
		return "all"
	}
	return fmt.Sprint(galleries)
}
