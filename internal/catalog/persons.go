package catalog

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/facematch/facematch/engine"
)

// GalleryFaces returns the searchable faces of a gallery (those with a vector of model), with
// their image, in face ID order.
func (d *DB) GalleryFaces(ctx context.Context, galleryID int64, model string) ([]engine.ClusterFace, error) {
	// The faces of confirmed persons stay where reviewers put them.
	rows, err := d.db.QueryContext(ctx, `SELECT id, image_id, vector, quality, possible_minor FROM faces WHERE gallery_id = ? AND model = ? AND vector IS NOT NULL
		AND id NOT IN (SELECT pf.face_id FROM person_faces pf JOIN persons p ON p.id = pf.person_id WHERE p.confirmed_by <> '')
		ORDER BY id`, galleryID, model)
	if err != nil {
		return nil, fmt.Errorf("catalog: gallery faces: %w", err)
	}
	defer rows.Close()
	var out []engine.ClusterFace
	for rows.Next() {
		var f engine.ClusterFace
		var b []byte
		var q string
		if err := rows.Scan(&f.FaceID, &f.ImageID, &b, &q, &f.Minor); err != nil {
			return nil, fmt.Errorf("catalog: gallery faces: %w", err)
		}
		f.Vector = bytesVector(b)
		var quality engine.Quality
		if err := json.Unmarshal([]byte(q), &quality); err == nil {
			f.Quality = quality.Sharpness * quality.Frontalness
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

// ReplacePersons replaces a gallery's persons with persons (each a list of member faces).
func (d *DB) ReplacePersons(ctx context.Context, galleryID int64, persons [][]engine.PersonMember, now time.Time) error {
	return d.tx(ctx, func(tx *sql.Tx) error {
		// Where each replaced person's faces were, to name its successor.
		before := map[int64]int64{} // face → old person
		rows, err := tx.QueryContext(ctx, `SELECT pf.face_id, pf.person_id FROM person_faces pf JOIN persons p ON p.id = pf.person_id
			WHERE p.gallery_id = ? AND p.confirmed_by = ''`, galleryID)
		if err != nil {
			return fmt.Errorf("catalog: replace persons: %w", err)
		}
		for rows.Next() {
			var f, p int64
			if err := rows.Scan(&f, &p); err != nil {
				rows.Close()
				return fmt.Errorf("catalog: replace persons: %w", err)
			}
			before[f] = p
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("catalog: replace persons: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM persons WHERE gallery_id = ? AND confirmed_by = ''`, galleryID); err != nil {
			return fmt.Errorf("catalog: replace persons: %w", err)
		}
		votes := map[int64]map[int64]int{} // old person → new person → faces
		successors := map[int64]int64{}
		for _, old := range before {
			successors[old] = 0
		}
		for _, members := range persons {
			rowID, err := insertID(ctx, tx, `INSERT INTO persons (gallery_id, created_at) VALUES (?, ?)`, galleryID, fmtTime(now))
			if err != nil {
				return fmt.Errorf("catalog: replace persons: %w", err)
			}
			id := rowID
			for _, m := range members {
				// A face deleted since it was read is simply not a member.
				if _, err := tx.ExecContext(ctx, `INSERT INTO person_faces (face_id, person_id, similarity)
					SELECT id, ?, ? FROM faces WHERE id = ?`, id, m.Similarity, m.FaceID); err != nil {
					return fmt.Errorf("catalog: replace persons: %w", err)
				}
				if old, ok := before[m.FaceID]; ok {
					if votes[old] == nil {
						votes[old] = map[int64]int{}
					}
					votes[old][id]++
				}
			}
		}
		for old, vs := range votes {
			best := 0
			for id, n := range vs {
				if n > best || n == best && id < successors[old] {
					best, successors[old] = n, id
				}
			}
		}
		// A person whose faces were all deleted meanwhile is no person.
		if _, err := tx.ExecContext(ctx, `DELETE FROM persons WHERE gallery_id = ? AND NOT EXISTS (SELECT 1 FROM person_faces p WHERE p.person_id = persons.id)`, galleryID); err != nil {
			return fmt.Errorf("catalog: replace persons: %w", err)
		}
		return retire(ctx, tx, galleryID, successors, "its gallery was clustered again", now)
	})
}

// Persons returns a gallery's persons with their member faces (most similar to the person
// first) and their photos' ad details.
func (d *DB) Persons(ctx context.Context, galleryID, personID int64) ([]engine.Person, error) {
	q := `SELECT p.id, p.gallery_id, p.created_at, p.confirmed_by, p.confirmed_at, pf.face_id, pf.similarity, f.image_id, f.quality, i.source, i.created_at, f.age
		FROM persons p JOIN person_faces pf ON pf.person_id = p.id JOIN faces f ON f.id = pf.face_id JOIN images i ON i.id = f.image_id`
	var args []any
	if personID != 0 {
		q += ` WHERE p.id = ?`
		args = append(args, personID)
	} else {
		q += ` WHERE p.gallery_id = ?`
		args = append(args, galleryID)
	}
	rows, err := d.db.QueryContext(ctx, q+` ORDER BY p.id, pf.similarity DESC, pf.face_id`, args...)
	if err != nil {
		return nil, fmt.Errorf("catalog: persons: %w", err)
	}
	defer rows.Close()
	var out []engine.Person
	for rows.Next() {
		var p engine.Person
		var m engine.PersonFace
		var created, quality, source, stored string
		var confirmedAt, age sql.NullString
		if err := rows.Scan(&p.ID, &p.GalleryID, &created, &p.ConfirmedBy, &confirmedAt, &m.FaceID, &m.Similarity, &m.ImageID, &quality, &source, &stored, &age); err != nil {
			return nil, fmt.Errorf("catalog: persons: %w", err)
		}
		var err error
		if m.Age, err = scanAge(age); err != nil {
			return nil, err
		}
		if err := errors.Join(json.Unmarshal([]byte(quality), &m.Quality), json.Unmarshal([]byte(source), &m.Source)); err != nil {
			return nil, fmt.Errorf("catalog: persons: %w", err)
		}
		m.StoredAt = parseTime(stored)
		if len(out) == 0 || out[len(out)-1].ID != p.ID {
			p.CreatedAt = parseTime(created)
			if confirmedAt.Valid {
				t := parseTime(confirmedAt.String)
				p.ConfirmedAt = &t
			}
			out = append(out, p)
		}
		last := &out[len(out)-1]
		last.Faces = append(last.Faces, m)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if personID != 0 && len(out) == 0 {
		return nil, d.personGone(ctx, personID)
	}
	return out, nil
}

// PersonsOfImages returns, for each photo among ids, the persons its faces are in.
func (d *DB) PersonsOfImages(ctx context.Context, ids []int64) (map[int64][]engine.PersonRef, error) {
	out := map[int64][]engine.PersonRef{}
	if len(ids) == 0 {
		return out, nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	rows, err := d.db.QueryContext(ctx, `SELECT DISTINCT f.image_id, p.id, p.gallery_id FROM faces f JOIN person_faces pf ON pf.face_id = f.id
		JOIN persons p ON p.id = pf.person_id WHERE f.image_id IN (?`+strings.Repeat(",?", len(ids)-1)+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("catalog: persons of photos: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var img int64
		var r engine.PersonRef
		if err := rows.Scan(&img, &r.ID, &r.GalleryID); err != nil {
			return nil, fmt.Errorf("catalog: persons of photos: %w", err)
		}
		out[img] = append(out[img], r)
	}
	return out, rows.Err()
}

// PersonsWithContact returns the persons some of whose photos' ads carry the contact.
func (d *DB) PersonsWithContact(ctx context.Context, c engine.Contact) ([]engine.PersonRef, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT DISTINCT p.id, p.gallery_id FROM image_contacts c JOIN faces f ON f.image_id = c.image_id
		JOIN person_faces pf ON pf.face_id = f.id JOIN persons p ON p.id = pf.person_id WHERE c.kind = ? AND c.value = ? ORDER BY p.id`, c.Kind, c.Value)
	if err != nil {
		return nil, fmt.Errorf("catalog: persons with a contact: %w", err)
	}
	defer rows.Close()
	var out []engine.PersonRef
	for rows.Next() {
		var r engine.PersonRef
		if err := rows.Scan(&r.ID, &r.GalleryID); err != nil {
			return nil, fmt.Errorf("catalog: persons with a contact: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// ConfirmPerson marks a person confirmed by reviewer.
func (d *DB) ConfirmPerson(ctx context.Context, id int64, reviewer string, now time.Time) error {
	res, err := d.exec(ctx, `UPDATE persons SET confirmed_by = ?, confirmed_at = ? WHERE id = ?`, reviewer, fmtTime(now), id)
	if err != nil {
		return fmt.Errorf("catalog: confirm person %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return d.personGone(ctx, id)
	}
	return nil
}

// RemovePersonFace takes a face out of a person, for good (an exclusion keeps it out of the
// person when it stays, confirmed, through a re-clustering); a person left without faces goes.
func (d *DB) RemovePersonFace(ctx context.Context, id, faceID int64) error {
	return d.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM person_faces WHERE person_id = ? AND face_id = ?`, id, faceID)
		if err != nil {
			return fmt.Errorf("catalog: remove face: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("face %d is not in person %d: %w", faceID, id, engine.ErrNotFound)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO person_exclusions (person_id, face_id) VALUES (?, ?) ON CONFLICT DO NOTHING`, id, faceID); err != nil {
			return fmt.Errorf("catalog: remove face: %w", err)
		}
		var gallery int64
		err = tx.QueryRowContext(ctx, `DELETE FROM persons WHERE id = ? AND NOT EXISTS (SELECT 1 FROM person_faces WHERE person_id = ?) RETURNING gallery_id`, id, id).Scan(&gallery)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("catalog: remove face: %w", err)
		}
		return retire(ctx, tx, gallery, map[int64]int64{id: 0}, "its last face was taken out", time.Now())
	})
}

// MergePersons moves other's faces into id and deletes other. They must be of one gallery, and
// no photo may end with two faces in the person (ErrConflict naming it).
func (d *DB) MergePersons(ctx context.Context, id, other int64) error {
	return d.tx(ctx, func(tx *sql.Tx) error {
		var g1, g2 int64
		if err := tx.QueryRowContext(ctx, `SELECT gallery_id FROM persons WHERE id = ?`, id).Scan(&g1); errors.Is(err, sql.ErrNoRows) {
			return d.personGone(ctx, id)
		} else if err != nil {
			return fmt.Errorf("catalog: merge: %w", err)
		}
		if err := tx.QueryRowContext(ctx, `SELECT gallery_id FROM persons WHERE id = ?`, other).Scan(&g2); errors.Is(err, sql.ErrNoRows) {
			return d.personGone(ctx, other)
		} else if err != nil {
			return fmt.Errorf("catalog: merge: %w", err)
		}
		if g1 != g2 {
			return fmt.Errorf("persons %d and %d are of different galleries (%d, %d): %w", id, other, g1, g2, engine.ErrConflict)
		}
		var photo int64
		err := tx.QueryRowContext(ctx, `SELECT f1.image_id FROM person_faces a JOIN faces f1 ON f1.id = a.face_id
			JOIN faces f2 ON f2.image_id = f1.image_id JOIN person_faces b ON b.face_id = f2.id
			WHERE a.person_id = ? AND b.person_id = ? LIMIT 1`, id, other).Scan(&photo)
		if err == nil {
			return fmt.Errorf("photo %d has a face in each person: two faces of one photo are never one person: %w", photo, engine.ErrConflict)
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("catalog: merge: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE person_faces SET person_id = ? WHERE person_id = ?`, id, other); err != nil {
			return fmt.Errorf("catalog: merge: %w", err)
		}
		if _, err = tx.ExecContext(ctx, `DELETE FROM persons WHERE id = ?`, other); err != nil {
			return fmt.Errorf("catalog: merge: %w", err)
		}
		return retire(ctx, tx, g1, map[int64]int64{other: id}, fmt.Sprintf("it was merged into person %d", id), time.Now())
	})
}
