package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/facematch/facematch/engine"
)

// Reviewers' judgements about pairs of faces, persons' IDs after they were replaced, and the
// writes of incremental assignment (issue 15).

// inList is "(?,?,…)" for n values and the values as arguments.
func inList(ids []int64) (string, []any) {
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	return "(?" + strings.Repeat(",?", len(ids)-1) + ")", args
}

// GalleryFaceLinks returns the reviewers' judgements between faces of a gallery.
func (d *DB) GalleryFaceLinks(ctx context.Context, galleryID int64) ([]engine.FaceLink, error) {
	return d.faceLinks(ctx, `SELECT l.face_a, l.face_b, l.same, l.created_by, l.created_at FROM face_links l
		JOIN faces a ON a.id = l.face_a WHERE a.gallery_id = ? ORDER BY l.face_a, l.face_b`, galleryID)
}

// FaceLinksOf returns the judgements that involve any face among ids.
func (d *DB) FaceLinksOf(ctx context.Context, ids []int64) ([]engine.FaceLink, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	in, args := inList(ids)
	return d.faceLinks(ctx, `SELECT face_a, face_b, same, created_by, created_at FROM face_links
		WHERE face_a IN `+in+` OR face_b IN `+in+` ORDER BY face_a, face_b`, append(args, args...)...)
}

func (d *DB) faceLinks(ctx context.Context, q string, args ...any) ([]engine.FaceLink, error) {
	rows, err := d.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("catalog: face links: %w", err)
	}
	defer rows.Close()
	var out []engine.FaceLink
	for rows.Next() {
		var l engine.FaceLink
		var at string
		if err := rows.Scan(&l.A, &l.B, &l.Same, &l.By, &at); err != nil {
			return nil, fmt.Errorf("catalog: face links: %w", err)
		}
		l.At = parseTime(at)
		out = append(out, l)
	}
	return out, rows.Err()
}

// AddFaceLinks records judgements; a later judgement of a pair replaces the earlier one.
func (d *DB) AddFaceLinks(ctx context.Context, links []engine.FaceLink) error {
	return d.tx(ctx, func(tx *sql.Tx) error {
		for _, l := range links {
			a, b := min(l.A, l.B), max(l.A, l.B)
			if a == b {
				return fmt.Errorf("a face is not linked to itself (face %d): %w", a, engine.ErrInvalid)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO face_links (face_a, face_b, same, created_by, created_at) VALUES (?, ?, ?, ?, ?)
				ON CONFLICT (face_a, face_b) DO UPDATE SET same = excluded.same, created_by = excluded.created_by, created_at = excluded.created_at`,
				a, b, l.Same, l.By, fmtTime(l.At)); err != nil {
				return fmt.Errorf("catalog: add face links: %w", err)
			}
		}
		return nil
	})
}

// retire records that persons were replaced, each with the person holding most of its faces
// now (0: none).
func retire(ctx context.Context, tx *sql.Tx, galleryID int64, successors map[int64]int64, reason string, now time.Time) error {
	for id, next := range successors {
		var succ any
		if next != 0 {
			succ = next
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO retired_persons (id, gallery_id, retired_at, reason, successor) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET gallery_id = excluded.gallery_id, retired_at = excluded.retired_at,
			reason = excluded.reason, successor = excluded.successor`,
			id, galleryID, fmtTime(now), reason, succ); err != nil {
			return fmt.Errorf("catalog: retire persons: %w", err)
		}
	}
	return nil
}

// personGone explains a person ID that names no person: replaced (by a re-clustering, a merge
// or a split, naming where most of its faces went, followed to a living person) or unknown.
func (d *DB) personGone(ctx context.Context, id int64) error {
	var reason, at string
	var succ sql.NullInt64
	err := d.db.QueryRowContext(ctx, `SELECT reason, retired_at, successor FROM retired_persons WHERE id = ?`, id).Scan(&reason, &at, &succ)
	if errors.Is(err, sql.ErrNoRows) {
		return notFound("person", id)
	}
	if err != nil {
		return fmt.Errorf("catalog: person %d: %w", id, err)
	}
	msg := fmt.Sprintf("person %d no longer exists: %s at %s", id, reason, at)
	// Follow successors (bounded: each step is a later replacement) to one that exists.
	for range 20 {
		if !succ.Valid {
			return fmt.Errorf("%s, and none of its faces is in a person now: %w", msg, engine.ErrNotFound)
		}
		var exists bool
		if err := d.db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM persons WHERE id = ?)`, succ.Int64).Scan(&exists); err != nil {
			return fmt.Errorf("catalog: person %d: %w", id, err)
		}
		if exists {
			return fmt.Errorf("%s; most of its faces are now in person %d: %w", msg, succ.Int64, engine.ErrNotFound)
		}
		err := d.db.QueryRowContext(ctx, `SELECT successor FROM retired_persons WHERE id = ?`, succ.Int64).Scan(&succ)
		if errors.Is(err, sql.ErrNoRows) {
			succ.Valid = false
		} else if err != nil {
			return fmt.Errorf("catalog: person %d: %w", id, err)
		}
	}
	return fmt.Errorf("%s: %w", msg, engine.ErrNotFound)
}

// PersonsOfFaces returns the person of each face among ids that is in one.
func (d *DB) PersonsOfFaces(ctx context.Context, ids []int64) (map[int64]int64, error) {
	out := map[int64]int64{}
	if len(ids) == 0 {
		return out, nil
	}
	in, args := inList(ids)
	rows, err := d.db.QueryContext(ctx, `SELECT face_id, person_id FROM person_faces WHERE face_id IN `+in, args...)
	if err != nil {
		return nil, fmt.Errorf("catalog: persons of faces: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var f, p int64
		if err := rows.Scan(&f, &p); err != nil {
			return nil, fmt.Errorf("catalog: persons of faces: %w", err)
		}
		out[f] = p
	}
	return out, rows.Err()
}

// PersonMembers returns the member faces (face and photo, no vector) of each person among ids
// that no reviewer confirmed: a confirmed person changes by reviewers' hands only.
func (d *DB) PersonMembers(ctx context.Context, ids []int64) (map[int64][]engine.ClusterFace, error) {
	out := map[int64][]engine.ClusterFace{}
	if len(ids) == 0 {
		return out, nil
	}
	in, args := inList(ids)
	rows, err := d.db.QueryContext(ctx, `SELECT pf.person_id, pf.face_id, f.image_id, f.possible_minor FROM person_faces pf JOIN faces f ON f.id = pf.face_id
		JOIN persons p ON p.id = pf.person_id WHERE p.confirmed_by = '' AND pf.person_id IN `+in+` ORDER BY pf.person_id, pf.similarity DESC, pf.face_id`, args...)
	if err != nil {
		return nil, fmt.Errorf("catalog: person members: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var p int64
		var f engine.ClusterFace
		if err := rows.Scan(&p, &f.FaceID, &f.ImageID, &f.Minor); err != nil {
			return nil, fmt.Errorf("catalog: person members: %w", err)
		}
		out[p] = append(out[p], f)
	}
	return out, rows.Err()
}

// UnassignedFaces returns a gallery's searchable faces of model that are in no person.
func (d *DB) UnassignedFaces(ctx context.Context, galleryID int64, model string, limit int) ([]engine.ClusterFace, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT id, image_id, vector, possible_minor FROM faces WHERE gallery_id = ? AND model = ? AND vector IS NOT NULL
		AND id NOT IN (SELECT face_id FROM person_faces) ORDER BY id LIMIT ?`, galleryID, model, limit)
	if err != nil {
		return nil, fmt.Errorf("catalog: unassigned faces: %w", err)
	}
	defer rows.Close()
	var out []engine.ClusterFace
	for rows.Next() {
		var f engine.ClusterFace
		var b []byte
		if err := rows.Scan(&f.FaceID, &f.ImageID, &b, &f.Minor); err != nil {
			return nil, fmt.Errorf("catalog: unassigned faces: %w", err)
		}
		f.Vector = bytesVector(b)
		out = append(out, f)
	}
	return out, rows.Err()
}

// AssignPersons adds faces to persons: joins puts faces into existing persons (a person deleted
// meanwhile takes none: those faces are left for the next assignment), fresh makes new persons.
// A face already in a person stays where it is. It returns how many faces were placed.
func (d *DB) AssignPersons(ctx context.Context, galleryID int64, joins map[int64][]engine.PersonMember, fresh [][]engine.PersonMember, now time.Time) (int, error) {
	placed := 0
	err := d.tx(ctx, func(tx *sql.Tx) error {
		placed = 0
		add := func(person int64, m engine.PersonMember) error {
			res, err := tx.ExecContext(ctx, `INSERT INTO person_faces (face_id, person_id, similarity)
				SELECT f.id, p.id, ? FROM faces f JOIN persons p ON p.id = ? WHERE f.id = ? AND f.gallery_id = p.gallery_id
				ON CONFLICT DO NOTHING`, m.Similarity, person, m.FaceID)
			if err != nil {
				return fmt.Errorf("catalog: assign persons: %w", err)
			}
			n, _ := res.RowsAffected()
			placed += int(n)
			return nil
		}
		for person, members := range joins {
			for _, m := range members {
				if err := add(person, m); err != nil {
					return err
				}
			}
		}
		for _, members := range fresh {
			rowID, err := insertID(ctx, tx, `INSERT INTO persons (gallery_id, created_at) VALUES (?, ?)`, galleryID, fmtTime(now))
			if err != nil {
				return fmt.Errorf("catalog: assign persons: %w", err)
			}
			id := rowID
			for _, m := range members {
				if err := add(id, m); err != nil {
					return err
				}
			}
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM persons WHERE gallery_id = ? AND NOT EXISTS (SELECT 1 FROM person_faces p WHERE p.person_id = persons.id)`, galleryID)
		return err
	})
	return placed, err
}

// SplitPerson moves faces of person id into a new person and returns its ID. Every face must
// be in the person, and at least one must stay.
func (d *DB) SplitPerson(ctx context.Context, id int64, faceIDs []int64, now time.Time) (int64, error) {
	var newID int64
	err := d.tx(ctx, func(tx *sql.Tx) error {
		var gallery int64
		if err := tx.QueryRowContext(ctx, `SELECT gallery_id FROM persons WHERE id = ?`, id).Scan(&gallery); errors.Is(err, sql.ErrNoRows) {
			return d.personGone(ctx, id)
		} else if err != nil {
			return fmt.Errorf("catalog: split: %w", err)
		}
		var size int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM person_faces WHERE person_id = ?`, id).Scan(&size); err != nil {
			return fmt.Errorf("catalog: split: %w", err)
		}
		if len(faceIDs) >= size {
			return fmt.Errorf("a split moves some of person %d's %d faces, not all of them: %w", id, size, engine.ErrInvalid)
		}
		rowID, err := insertID(ctx, tx, `INSERT INTO persons (gallery_id, created_at) VALUES (?, ?)`, gallery, fmtTime(now))
		if err != nil {
			return fmt.Errorf("catalog: split: %w", err)
		}
		newID = rowID
		for _, f := range faceIDs {
			res, err := tx.ExecContext(ctx, `UPDATE person_faces SET person_id = ? WHERE person_id = ? AND face_id = ?`, newID, id, f)
			if err != nil {
				return fmt.Errorf("catalog: split: %w", err)
			}
			if n, _ := res.RowsAffected(); n == 0 {
				return fmt.Errorf("face %d is not in person %d: %w", f, id, engine.ErrNotFound)
			}
		}
		return nil
	})
	return newID, err
}

// PersonMatchScores returns, for each person of a gallery whose faces were probes of a search
// or a job's cross-match, per reference gallery: the highest similarity of the review items
// they made and how many.
func (d *DB) PersonMatchScores(ctx context.Context, galleryID int64) (map[int64][]engine.PersonMatchScore, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT pf.person_id, m.gallery_id, MAX(m.similarity), COUNT(*) FROM persons p
		JOIN person_faces pf ON pf.person_id = p.id JOIN probe_faces pr ON pr.face_id = pf.face_id JOIN matches m ON m.probe_face_id = pr.id
		WHERE p.gallery_id = ? GROUP BY pf.person_id, m.gallery_id`, galleryID)
	if err != nil {
		return nil, fmt.Errorf("catalog: person match scores: %w", err)
	}
	defer rows.Close()
	out := map[int64][]engine.PersonMatchScore{}
	for rows.Next() {
		var p int64
		var s engine.PersonMatchScore
		if err := rows.Scan(&p, &s.GalleryID, &s.Similarity, &s.Items); err != nil {
			return nil, fmt.Errorf("catalog: person match scores: %w", err)
		}
		out[p] = append(out[p], s)
	}
	return out, rows.Err()
}
