package engine

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Read-only use cases. Looking at photos is audited where the bytes leave (ImageBytes); reading
// the audit log is audited too.

// Galleries lists the galleries a may read, with their counts and operating points.
func (s *Service) Galleries(ctx context.Context, a Actor) ([]Gallery, error) {
	gs, err := s.cfg.Catalog.Galleries(ctx)
	if err != nil {
		return gs, err
	}
	out := gs[:0]
	for _, g := range gs {
		if a.mayRead(g.ID) {
			op := s.operatingPoint(g)
			g.Operating = &op
			out = append(out, g)
		}
	}
	return out, nil
}

// Gallery returns one gallery with its operating point.
func (s *Service) Gallery(ctx context.Context, a Actor, id int64) (Gallery, error) {
	if err := checkGallery(a, id); err != nil {
		return Gallery{}, err
	}
	g, err := s.cfg.Catalog.Gallery(ctx, id)
	if err != nil {
		return g, err
	}
	op := s.operatingPoint(g)
	g.Operating = &op
	return g, nil
}

// Subjects lists a reference gallery's subjects.
func (s *Service) Subjects(ctx context.Context, a Actor, galleryID int64) ([]Subject, error) {
	if err := checkGallery(a, galleryID); err != nil {
		return nil, err
	}
	return s.cfg.Catalog.Subjects(ctx, galleryID)
}

// Subject returns one subject.
func (s *Service) Subject(ctx context.Context, a Actor, id int64) (Subject, error) {
	sub, err := s.cfg.Catalog.Subject(ctx, id)
	if err != nil {
		return sub, err
	}
	if err := checkGallery(a, sub.GalleryID); err != nil {
		return Subject{}, err
	}
	return sub, s.auditExamination(ctx, a, "subject.read", ref("subject", id), []int64{sub.GalleryID})
}

// auditExamination records an auditor's opening of a record (a search, a match, a photo's
// record, a subject): oversight is itself overseen. Other roles' record reads are not audited;
// their views of photos and matches are, whoever looks (auditRead).
func (s *Service) auditExamination(ctx context.Context, a Actor, action, target string, galleries []int64) error {
	if a.Role != RoleAuditor {
		return nil
	}
	return s.auditRead(ctx, entry(a, action, target, galleries, "", ""))
}

// ImageRecord returns a photo's record and its faces (not its bytes).
func (s *Service) ImageRecord(ctx context.Context, a Actor, id int64) (Image, []StoredFace, error) {
	img, err := s.cfg.Catalog.Image(ctx, id)
	if err != nil {
		return img, nil, err
	}
	if err := checkGallery(a, img.GalleryID); err != nil {
		return Image{}, nil, err
	}
	if err := s.auditExamination(ctx, a, "image.read", ref("image", id), []int64{img.GalleryID}); err != nil {
		return Image{}, nil, err
	}
	faces, err := s.cfg.Catalog.Faces(ctx, id)
	return img, faces, err
}

// ImageFaces is a photo's record with its faces.
type ImageFaces struct {
	Image Image        `json:"image"`
	Faces []StoredFace `json:"faces"`
}

// Images lists a gallery's photos with their faces, a page at a time.
func (s *Service) Images(ctx context.Context, a Actor, f ImageFilter) ([]ImageFaces, error) {
	if err := checkGallery(a, f.GalleryID); err != nil {
		return nil, err
	}
	imgs, err := s.cfg.Catalog.Images(ctx, f)
	if err != nil {
		return nil, err
	}
	if err := s.auditExamination(ctx, a, "images.read", ref("gallery", f.GalleryID), []int64{f.GalleryID}); err != nil {
		return nil, err
	}
	if len(imgs) == 0 { // an empty page: say so if the gallery itself is missing
		if _, err := s.cfg.Catalog.Gallery(ctx, f.GalleryID); err != nil {
			return nil, err
		}
	}
	out := make([]ImageFaces, len(imgs))
	for i, img := range imgs {
		out[i].Image = img
		if out[i].Faces, err = s.cfg.Catalog.Faces(ctx, img.ID); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// SearchRecord returns a past search and its probe faces; a scoped actor sees a search over at
// least one of its galleries.
func (s *Service) SearchRecord(ctx context.Context, a Actor, id int64) (SearchResult, error) {
	rec, probes, err := s.searchRecord(ctx, a, id)
	if err != nil {
		return SearchResult{}, err
	}
	found, err := s.cfg.Catalog.SearchCandidates(ctx, id)
	if err != nil {
		return SearchResult{}, err
	}
	ops := map[int64]OperatingPoint{}
	for _, gid := range rec.Galleries {
		if !a.mayRead(gid) {
			continue
		}
		g, err := s.cfg.Catalog.Gallery(ctx, gid)
		if errors.Is(err, ErrNotFound) {
			continue // deleted since: its candidates went with it
		}
		if err != nil {
			return SearchResult{}, err
		}
		ops[gid] = s.operatingPoint(g)
	}
	// A scoped credential sees the candidates of its galleries only.
	visible := found[:0]
	for _, f := range found {
		if _, ok := ops[f.GalleryID]; ok {
			visible = append(visible, f)
		}
	}
	return s.searchResult(rec, probes, visible, ops), s.auditExamination(ctx, a, "search.read", ref("search", id), rec.Galleries)
}

func (s *Service) searchRecord(ctx context.Context, a Actor, id int64) (SearchRecord, []ProbeFace, error) {
	rec, probes, err := s.cfg.Catalog.Search(ctx, id)
	if err != nil {
		return rec, probes, err
	}
	if !a.mayReadAny(rec.Galleries) {
		return SearchRecord{}, nil, fmt.Errorf("credential %s is not granted any gallery of search %d: %w", a.Name, id, ErrForbidden)
	}
	return rec, probes, nil
}

// AuditEntries reads the audit log; the reading is itself audited.
func (s *Service) AuditEntries(ctx context.Context, a Actor, f AuditFilter) ([]AuditEntry, error) {
	es, err := s.cfg.Catalog.Entries(ctx, f)
	if err != nil {
		return nil, err
	}
	if err := s.auditRead(ctx, entry(a, "audit.read", "", nil, fmt.Sprintf("since=%s actor=%q action=%q cursor=%d", f.Since.Format("2006-01-02T15:04:05Z07:00"), f.Actor, f.Action, f.Cursor),
		fmt.Sprintf("entries=%d", len(es)))); err != nil {
		return nil, err
	}
	return es, nil
}

// maxAuditExport bounds one export: a range larger than this is exported in several, by time.
const maxAuditExport = 1_000_000

// ExportAudit passes every entry of f's range to emit, oldest first, a page at a time (f's
// Cursor, Limit and order are ignored). The export is audited before the first entry leaves; an
// export over maxAuditExport entries stops with ErrInvalid after that many (narrow the range).
func (s *Service) ExportAudit(ctx context.Context, a Actor, f AuditFilter, emit func(AuditEntry) error) error {
	if !f.Until.IsZero() && !f.Since.IsZero() && !f.Since.Before(f.Until) {
		return fmt.Errorf("since (%s) must be before until (%s): %w", f.Since.Format(time.RFC3339), f.Until.Format(time.RFC3339), ErrInvalid)
	}
	if err := s.auditRead(ctx, entry(a, "audit.export", "", nil, fmt.Sprintf("since=%s until=%s actor=%q action=%q",
		f.Since.Format(time.RFC3339), f.Until.Format(time.RFC3339), f.Actor, f.Action), "")); err != nil {
		return err
	}
	f.Oldest, f.Cursor, f.Limit = true, 0, 1000
	for n := 0; ; {
		es, err := s.cfg.Catalog.Entries(ctx, f)
		if err != nil {
			return err
		}
		for _, e := range es {
			if n++; n > maxAuditExport {
				return fmt.Errorf("the range holds more than %d entries: export it in parts (since, until): %w", maxAuditExport, ErrInvalid)
			}
			if err := emit(e); err != nil {
				return err
			}
		}
		if len(es) < f.Limit {
			return nil
		}
		f.Cursor = es[len(es)-1].ID
	}
}

// AuditDenied records a request refused for lack of the role.
func (s *Service) AuditDenied(ctx context.Context, a Actor, route string) {
	s.auditRefusal(ctx, entry(a, "access.denied", route, nil, "role="+string(a.Role), ""))
}

// auditRefusal records a refused request. The refusal stands whether or not the entry could be
// written (nothing is served), so a failure is only logged.
func (s *Service) auditRefusal(ctx context.Context, e AuditEntry) {
	if _, err := s.cfg.Catalog.Append(ctx, e); err != nil {
		s.log.Error("audit write failed", "action", e.Action, "target", e.Target, "err", err)
	}
}
