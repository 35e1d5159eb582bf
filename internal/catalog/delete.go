package catalog

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/facematch/facematch/engine"
)

// Deletions remove the rows (matches, decisions and faces cascade) and, in the same
// transaction, record a purge: the blobs (originals, thumbnails) and index vectors left to
// remove. The caller removes them and calls PurgeDone; PendingPurges finds unfinished ones
// after a crash.

// DeleteGallery deletes a gallery with its subjects, images, faces and their matches, and its
// jobs, whose uploaded archives and metadata sidecars join the purge.
func (d *DB) DeleteGallery(ctx context.Context, id int64) (engine.Purge, error) {
	return d.deleteWhere(ctx, "gallery", id, `SELECT id FROM galleries WHERE id = ?`,
		`WHERE gallery_id = ?`, `DELETE FROM galleries WHERE id = ?`)
}

// jobBlobs returns the blobs of the gallery's jobs (all of them: a done job's were deleted
// already, and deleting a missing blob is no error).
func jobBlobs(ctx context.Context, tx *sql.Tx, galleryID int64) ([]string, error) {
	rows, err := tx.QueryContext(ctx, `SELECT spec FROM jobs WHERE gallery_id = ?`, galleryID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var keys []string
	for rows.Next() {
		var spec string
		var s engine.JobSpec
		if err := rows.Scan(&spec); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(spec), &s); err != nil {
			return nil, err
		}
		keys = append(keys, s.BlobKeys()...)
	}
	return keys, rows.Err()
}

// DeleteSubject deletes a subject with its images, faces and their matches.
func (d *DB) DeleteSubject(ctx context.Context, id int64) (engine.Purge, error) {
	return d.deleteWhere(ctx, "subject", id, `SELECT id FROM subjects WHERE id = ?`,
		`WHERE subject_id = ?`, `DELETE FROM subjects WHERE id = ?`)
}

// DeleteImage deletes an image with its faces and their matches.
func (d *DB) DeleteImage(ctx context.Context, id int64) (engine.Purge, error) {
	return d.deleteWhere(ctx, "image", id, `SELECT id FROM images WHERE id = ?`,
		`WHERE id = ?`, `DELETE FROM images WHERE id = ?`)
}

// deleteWhere collects the blobs and faces of the images selected by imagesWhere (one ? for
// id), records the purge and runs del.
func (d *DB) deleteWhere(ctx context.Context, what string, id int64, exists, imagesWhere, del string) (engine.Purge, error) {
	var p engine.Purge
	err := d.tx(ctx, func(tx *sql.Tx) error {
		var x int64
		if err := tx.QueryRowContext(ctx, exists, id).Scan(&x); errors.Is(err, sql.ErrNoRows) {
			return notFound(what, id)
		} else if err != nil {
			return fmt.Errorf("catalog: delete %s %d: %w", what, id, err)
		}
		p = engine.Purge{FaceIDs: map[string][]int64{}}
		rows, err := tx.QueryContext(ctx, `SELECT blob_key FROM images `+imagesWhere, id)
		if err != nil {
			return fmt.Errorf("catalog: delete %s %d: %w", what, id, err)
		}
		for rows.Next() {
			var k string
			if err := rows.Scan(&k); err != nil {
				rows.Close()
				return err
			}
			p.BlobKeys = append(p.BlobKeys, k)
		}
		rows.Close()
		rows, err = tx.QueryContext(ctx, `SELECT id, model, thumb_key FROM faces WHERE image_id IN (SELECT id FROM images `+imagesWhere+`)`, id)
		if err != nil {
			return fmt.Errorf("catalog: delete %s %d: %w", what, id, err)
		}
		for rows.Next() {
			var fid int64
			var model, thumb string
			if err := rows.Scan(&fid, &model, &thumb); err != nil {
				rows.Close()
				return err
			}
			if model != "" {
				p.FaceIDs[model] = append(p.FaceIDs[model], fid)
			}
			if thumb != "" {
				p.BlobKeys = append(p.BlobKeys, thumb)
			}
		}
		if err := rows.Err(); err != nil {
			rows.Close()
			return err
		}
		rows.Close()
		// Vectors a reprocess job staged are in their model's index already.
		rows, err = tx.QueryContext(ctx, `SELECT s.face_id, s.model FROM staged_vectors s JOIN faces f ON f.id = s.face_id
			WHERE f.image_id IN (SELECT id FROM images `+imagesWhere+`)`, id)
		if err != nil {
			return fmt.Errorf("catalog: delete %s %d: %w", what, id, err)
		}
		for rows.Next() {
			var fid int64
			var model string
			if err := rows.Scan(&fid, &model); err != nil {
				rows.Close()
				return err
			}
			p.FaceIDs[model] = append(p.FaceIDs[model], fid)
		}
		if err := rows.Err(); err != nil {
			rows.Close()
			return err
		}
		rows.Close()
		if what == "gallery" {
			keys, err := jobBlobs(ctx, tx, id)
			if err != nil {
				return fmt.Errorf("catalog: delete gallery %d: jobs: %w", id, err)
			}
			p.BlobKeys = append(p.BlobKeys, keys...)
		}
		keys, _ := json.Marshal(nonNil(p.BlobKeys))
		faces, _ := json.Marshal(p.FaceIDs)
		rowID, err := insertID(ctx, tx, `INSERT INTO purges (blob_keys, face_ids) VALUES (?, ?)`, string(keys), string(faces))
		if err != nil {
			return fmt.Errorf("catalog: record purge: %w", err)
		}
		p.ID = rowID
		if _, err := tx.ExecContext(ctx, del, id); err != nil {
			return fmt.Errorf("catalog: delete %s %d: %w", what, id, err)
		}
		// A suggested person whose last face went is no person.
		if _, err := tx.ExecContext(ctx, `DELETE FROM persons WHERE NOT EXISTS (SELECT 1 FROM person_faces p WHERE p.person_id = persons.id)`); err != nil {
			return fmt.Errorf("catalog: delete %s %d: empty persons: %w", what, id, err)
		}
		return nil
	})
	return p, err
}

// PendingPurges returns the purges not yet done, oldest first.
func (d *DB) PendingPurges(ctx context.Context) ([]engine.Purge, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT id, blob_keys, face_ids FROM purges ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("catalog: purges: %w", err)
	}
	defer rows.Close()
	var out []engine.Purge
	for rows.Next() {
		var p engine.Purge
		var keys, faces string
		if err := rows.Scan(&p.ID, &keys, &faces); err != nil {
			return nil, fmt.Errorf("catalog: purges: %w", err)
		}
		if err := errors.Join(json.Unmarshal([]byte(keys), &p.BlobKeys), json.Unmarshal([]byte(faces), &p.FaceIDs)); err != nil {
			return nil, fmt.Errorf("catalog: purge %d: %w", p.ID, err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// PurgeDone forgets a finished purge.
func (d *DB) PurgeDone(ctx context.Context, id int64) error {
	if _, err := d.exec(ctx, `DELETE FROM purges WHERE id = ?`, id); err != nil {
		return fmt.Errorf("catalog: purge %d done: %w", id, err)
	}
	return nil
}
