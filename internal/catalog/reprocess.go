package catalog

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/facematch/facematch/engine"
)

// ReprocessTodo pages through the gallery's images with vectors of another model than target
// that the job has not staged.
func (d *DB) ReprocessTodo(ctx context.Context, jobID, galleryID int64, target string, after int64, limit int) ([]engine.ReprocessImage, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT DISTINCT f.image_id FROM faces f
		WHERE f.gallery_id = ? AND f.image_id > ? AND f.vector IS NOT NULL AND f.model != ?
		AND NOT EXISTS (SELECT 1 FROM staged_vectors s WHERE s.job_id = ? AND s.face_id = f.id)
		ORDER BY f.image_id LIMIT ?`, galleryID, after, target, jobID, limit)
	if err != nil {
		return nil, fmt.Errorf("catalog: reprocess todo: %w", err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, fmt.Errorf("catalog: reprocess todo: %w", err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("catalog: reprocess todo: %w", err)
	}
	out := make([]engine.ReprocessImage, 0, len(ids))
	for _, id := range ids {
		img, err := imageTx(ctx, d.db, id)
		if err != nil {
			return nil, err
		}
		faces, err := facesOf(ctx, d.db, id)
		if err != nil {
			return nil, err
		}
		ri := engine.ReprocessImage{Image: img}
		for _, f := range faces {
			if f.Model != "" && f.Model != target {
				ri.Faces = append(ri.Faces, f)
			}
		}
		out = append(out, ri)
	}
	return out, nil
}

// StageVectors stores a batch of new vectors and counts its images as processed.
func (d *DB) StageVectors(ctx context.Context, jobID int64, model string, vs []engine.StagedVector, images int) (engine.Job, error) {
	var j engine.Job
	err := d.tx(ctx, func(tx *sql.Tx) error {
		for _, v := range vs {
			if _, err := tx.ExecContext(ctx, `INSERT INTO staged_vectors (job_id, face_id, model, vector) VALUES (?, ?, ?, ?)
				ON CONFLICT (job_id, face_id) DO UPDATE SET model = excluded.model, vector = excluded.vector`,
				jobID, v.FaceID, model, vectorBytes(v.Vector)); err != nil {
				return fmt.Errorf("catalog: stage vector: %w", err)
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE jobs SET processed = processed + ?, faces = faces + ? WHERE id = ?`,
			images, len(vs), jobID); err != nil {
			return fmt.Errorf("catalog: job %d counters: %w", jobID, err)
		}
		var err error
		j, err = scanJob(tx.QueryRowContext(ctx, jobSelect+` WHERE id = ?`, jobID))
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("job", jobID)
		}
		return err
	})
	return j, err
}

// SwitchModel moves a gallery to model once every one of its vectors has a staged successor.
func (d *DB) SwitchModel(ctx context.Context, jobID, galleryID int64, model string) (engine.Purge, error) {
	p := engine.Purge{FaceIDs: map[string][]int64{}}
	err := d.tx(ctx, func(tx *sql.Tx) error {
		var left int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM faces f WHERE f.gallery_id = ? AND f.vector IS NOT NULL AND f.model != ?
			AND NOT EXISTS (SELECT 1 FROM staged_vectors s WHERE s.job_id = ? AND s.face_id = f.id)`,
			galleryID, model, jobID).Scan(&left); err != nil {
			return fmt.Errorf("catalog: switch model: %w", err)
		}
		if left > 0 {
			return fmt.Errorf("gallery %d has %d faces not yet re-embedded: %w", galleryID, left, engine.ErrConflict)
		}
		rows, err := tx.QueryContext(ctx, `SELECT f.id, f.model FROM faces f JOIN staged_vectors s ON s.face_id = f.id
			WHERE s.job_id = ? AND f.model != ?`, jobID, model)
		if err != nil {
			return fmt.Errorf("catalog: switch model: %w", err)
		}
		for rows.Next() {
			var id int64
			var old string
			if err := rows.Scan(&id, &old); err != nil {
				rows.Close()
				return fmt.Errorf("catalog: switch model: %w", err)
			}
			p.FaceIDs[old] = append(p.FaceIDs[old], id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("catalog: switch model: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE faces SET model = ?, vector = (SELECT s.vector FROM staged_vectors s
			WHERE s.job_id = ? AND s.face_id = faces.id) WHERE id IN (SELECT face_id FROM staged_vectors WHERE job_id = ?)`,
			model, jobID, jobID); err != nil {
			return fmt.Errorf("catalog: switch model: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE galleries SET model = ? WHERE id = ?`, model, galleryID); err != nil {
			return fmt.Errorf("catalog: switch model: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM staged_vectors WHERE job_id = ?`, jobID); err != nil {
			return fmt.Errorf("catalog: switch model: %w", err)
		}
		faces, _ := json.Marshal(p.FaceIDs)
		rowID, err := insertID(ctx, tx, `INSERT INTO purges (blob_keys, face_ids) VALUES ('[]', ?)`, string(faces))
		if err != nil {
			return fmt.Errorf("catalog: record purge: %w", err)
		}
		p.ID = rowID
		return nil
	})
	return p, err
}
