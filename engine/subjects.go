package engine

import (
	"context"
	"fmt"
	"strings"
)

// SubjectChange is an edit of a subject: the fields given (non-nil) replace the stored ones.
type SubjectChange struct {
	Name        *string
	ExternalRef *string
	Notes       *string
}

// UpdateSubject edits a subject's name, external reference or notes, checked as at creation.
// Its photos and faces stay; matches already made name it by its new name. The audit entry
// lists the fields changed and the reference (names and notes are personal data, kept in the
// subject's record only, as at creation).
func (s *Service) UpdateSubject(ctx context.Context, a Actor, id int64, ch SubjectChange) (Subject, error) {
	if ch.Name == nil && ch.ExternalRef == nil && ch.Notes == nil {
		return Subject{}, fmt.Errorf("nothing to change: give name, external_ref or notes: %w", ErrInvalid)
	}
	var clean Subject
	var err error
	if ch.Name != nil {
		if clean.Name, err = CleanName("name", *ch.Name); err != nil {
			return Subject{}, err
		}
	}
	if ch.ExternalRef != nil {
		if clean.ExternalRef, err = CleanText("external_ref", *ch.ExternalRef, MaxRefLen, false); err != nil {
			return Subject{}, err
		}
	}
	if ch.Notes != nil {
		if clean.Notes, err = CleanText("notes", *ch.Notes, MaxNoteLen, true); err != nil {
			return Subject{}, err
		}
	}
	var sub Subject
	err = s.audited(ctx, func(c Catalog) (AuditEntry, error) {
		old, err := c.Subject(ctx, id)
		if err != nil {
			return AuditEntry{}, err
		}
		// Scope is checked inside the transaction, on the gallery the subject is in now.
		if err := checkGallery(a, old.GalleryID); err != nil {
			return AuditEntry{}, err
		}
		next := old
		var changed []string
		if ch.Name != nil {
			next.Name = clean.Name
			changed = append(changed, "name")
		}
		if ch.ExternalRef != nil {
			next.ExternalRef = clean.ExternalRef
			changed = append(changed, "external_ref")
		}
		if ch.Notes != nil {
			next.Notes = clean.Notes
			changed = append(changed, "notes")
		}
		if sub, err = c.UpdateSubject(ctx, next); err != nil {
			return AuditEntry{}, err
		}
		return entry(a, "subject.update", ref("subject", id), []int64{old.GalleryID},
			"fields="+strings.Join(changed, ",")+" external_ref="+sub.ExternalRef, ""), nil
	})
	return sub, err
}
