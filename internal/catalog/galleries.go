package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/facematch/facematch/engine"
)

// CreateGallery stores g (ID and counts are ignored) and returns it with its ID.
func (d *DB) CreateGallery(ctx context.Context, g engine.Gallery) (engine.Gallery, error) {
	g.Name = strings.TrimSpace(g.Name)
	if g.Name == "" || !g.Kind.Valid() || g.Model == "" {
		return g, fmt.Errorf("gallery needs a name, a kind (reference or collection) and a model: %w", engine.ErrInvalid)
	}
	if g.TargetFPIR == 0 {
		g.TargetFPIR = engine.DefaultTargetFPIR
	}
	rowID, err := d.insert(ctx, `INSERT INTO galleries (name, kind, model, created_at, created_by, target_fpir, minors) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		g.Name, g.Kind, g.Model, fmtTime(g.CreatedAt), g.CreatedBy, g.TargetFPIR, g.Minors)
	if isConstraint(err) {
		return g, fmt.Errorf("a gallery named %q already exists: %w", g.Name, engine.ErrConflict)
	}
	if err != nil {
		return g, fmt.Errorf("catalog: create gallery: %w", err)
	}
	g.ID = rowID
	g.Images, g.Faces, g.Subjects = 0, 0, 0
	return g, nil
}

// The counts are kept by triggers (schema_v10.sql): reading them costs nothing whatever the
// gallery's size, and every search reads them.
const gallerySelect = `SELECT g.id, g.name, g.kind, g.model, g.created_at, g.created_by, g.target_fpir, g.minors,
	g.image_count, g.face_count, g.subject_count
	FROM galleries g`

func scanGallery(row interface{ Scan(...any) error }) (engine.Gallery, error) {
	var g engine.Gallery
	var created string
	err := row.Scan(&g.ID, &g.Name, &g.Kind, &g.Model, &created, &g.CreatedBy, &g.TargetFPIR, &g.Minors, &g.Images, &g.Faces, &g.Subjects)
	g.CreatedAt = parseTime(created)
	return g, err
}

// Gallery returns gallery id with its counts.
func (d *DB) Gallery(ctx context.Context, id int64) (engine.Gallery, error) {
	g, err := scanGallery(d.db.QueryRowContext(ctx, gallerySelect+` WHERE g.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return g, notFound("gallery", id)
	}
	if err != nil {
		return g, fmt.Errorf("catalog: gallery %d: %w", id, err)
	}
	return g, nil
}

// SetGalleryPolicy sets gallery id's target FPIR and whether its subjects are minors.
func (d *DB) SetGalleryPolicy(ctx context.Context, id int64, targetFPIR float64, minors bool) error {
	res, err := d.exec(ctx, `UPDATE galleries SET target_fpir = ?, minors = ? WHERE id = ?`, targetFPIR, minors, id)
	if err != nil {
		return fmt.Errorf("catalog: set policy of gallery %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return notFound("gallery", id)
	}
	return nil
}

// Galleries returns every gallery, oldest first.
func (d *DB) Galleries(ctx context.Context) ([]engine.Gallery, error) {
	rows, err := d.db.QueryContext(ctx, gallerySelect+` ORDER BY g.id`)
	if err != nil {
		return nil, fmt.Errorf("catalog: galleries: %w", err)
	}
	defer rows.Close()
	out := []engine.Gallery{}
	for rows.Next() {
		g, err := scanGallery(rows)
		if err != nil {
			return nil, fmt.Errorf("catalog: galleries: %w", err)
		}
		out = append(out, g)
	}
	return out, rows.Err()
}

// CreateSubject stores s in its gallery, which must be a reference gallery.
func (d *DB) CreateSubject(ctx context.Context, s engine.Subject) (engine.Subject, error) {
	s.Name = strings.TrimSpace(s.Name)
	if s.Name == "" {
		return s, fmt.Errorf("subject needs a name: %w", engine.ErrInvalid)
	}
	err := d.tx(ctx, func(tx *sql.Tx) error {
		var kind engine.GalleryKind
		err := tx.QueryRowContext(ctx, `SELECT kind FROM galleries WHERE id = ?`, s.GalleryID).Scan(&kind)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("gallery", s.GalleryID)
		}
		if err != nil {
			return fmt.Errorf("catalog: create subject: %w", err)
		}
		if kind != engine.Reference {
			return fmt.Errorf("gallery %d is a %s gallery; subjects belong to reference galleries: %w", s.GalleryID, kind, engine.ErrConflict)
		}
		rowID, err := insertID(ctx, tx, `INSERT INTO subjects (gallery_id, name, external_ref, notes, created_at) VALUES (?, ?, ?, ?, ?)`,
			s.GalleryID, s.Name, s.ExternalRef, s.Notes, fmtTime(s.CreatedAt))
		if err != nil {
			return fmt.Errorf("catalog: create subject: %w", err)
		}
		s.ID = rowID
		return nil
	})
	return s, err
}

// UpdateSubject stores s's name, external reference and notes; its gallery and creation time
// never change.
func (d *DB) UpdateSubject(ctx context.Context, s engine.Subject) (engine.Subject, error) {
	s.Name = strings.TrimSpace(s.Name)
	if s.Name == "" {
		return s, fmt.Errorf("subject needs a name: %w", engine.ErrInvalid)
	}
	res, err := d.exec(ctx, `UPDATE subjects SET name = ?, external_ref = ?, notes = ? WHERE id = ?`, s.Name, s.ExternalRef, s.Notes, s.ID)
	if err != nil {
		return s, fmt.Errorf("catalog: update subject %d: %w", s.ID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return s, notFound("subject", s.ID)
	}
	return d.Subject(ctx, s.ID)
}

const subjectSelect = `SELECT s.id, s.gallery_id, s.name, s.external_ref, s.notes, s.created_at,
	(SELECT count(*) FROM faces WHERE subject_id = s.id) FROM subjects s`

func scanSubject(row interface{ Scan(...any) error }) (engine.Subject, error) {
	var s engine.Subject
	var created string
	err := row.Scan(&s.ID, &s.GalleryID, &s.Name, &s.ExternalRef, &s.Notes, &created, &s.Faces)
	s.CreatedAt = parseTime(created)
	return s, err
}

// Subject returns subject id.
func (d *DB) Subject(ctx context.Context, id int64) (engine.Subject, error) {
	s, err := scanSubject(d.db.QueryRowContext(ctx, subjectSelect+` WHERE s.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return s, notFound("subject", id)
	}
	if err != nil {
		return s, fmt.Errorf("catalog: subject %d: %w", id, err)
	}
	return s, nil
}

// Subjects returns the subjects of a gallery, oldest first (ErrNotFound for an unknown gallery).
func (d *DB) Subjects(ctx context.Context, galleryID int64) ([]engine.Subject, error) {
	if _, err := d.Gallery(ctx, galleryID); err != nil {
		return nil, err
	}
	rows, err := d.db.QueryContext(ctx, subjectSelect+` WHERE s.gallery_id = ? ORDER BY s.id`, galleryID)
	if err != nil {
		return nil, fmt.Errorf("catalog: subjects: %w", err)
	}
	defer rows.Close()
	out := []engine.Subject{}
	for rows.Next() {
		s, err := scanSubject(rows)
		if err != nil {
			return nil, fmt.Errorf("catalog: subjects: %w", err)
		}
		out = append(out, s)
	}
	return out, rows.Err()
}
