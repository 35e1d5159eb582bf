package catalog

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/facematch/facematch/engine"
)

// RetentionPolicy returns the retention policy (the zero policy, keep everything, until one
// is set).
func (d *DB) RetentionPolicy(ctx context.Context) (engine.RetentionPolicy, error) {
	var p engine.RetentionPolicy
	var v string
	err := d.db.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = 'retention'`).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return p, nil
	}
	if err != nil {
		return p, fmt.Errorf("catalog: retention policy: %w", err)
	}
	if err := json.Unmarshal([]byte(v), &p); err != nil {
		return p, fmt.Errorf("catalog: retention policy: %w", err)
	}
	return p, nil
}

// SetRetentionPolicy stores p.
func (d *DB) SetRetentionPolicy(ctx context.Context, p engine.RetentionPolicy) error {
	v, _ := json.Marshal(p)
	if _, err := d.exec(ctx, `INSERT INTO settings (key, value) VALUES ('retention', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, string(v)); err != nil {
		return fmt.Errorf("catalog: set retention policy: %w", err)
	}
	return nil
}

// ExpiredSearches returns up to limit searches created before before whose review is over:
// every match made from their probe faces is decided no candidate or inconclusive, or none was
// made. A job's cross-match record (no probe photo of its own) never expires: its probes are
// the collection's photos.
func (d *DB) ExpiredSearches(ctx context.Context, before time.Time, limit int) ([]int64, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT s.id FROM searches s WHERE s.probe_key <> '' AND s.created_at < ?
		AND NOT EXISTS (SELECT 1 FROM probe_faces p JOIN matches m ON m.probe_face_id = p.id
			WHERE p.search_id = s.id AND m.status NOT IN ('no_candidate', 'inconclusive'))
		ORDER BY s.id LIMIT ?`, fmtTime(before), limit)
	if err != nil {
		return nil, fmt.Errorf("catalog: expired searches: %w", err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("catalog: expired searches: %w", err)
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// DeleteSearch deletes a search with its probe faces, candidates, matches and decisions, and
// records the purge of its probe photo and thumbnails.
func (d *DB) DeleteSearch(ctx context.Context, id int64) (engine.Purge, error) {
	var p engine.Purge
	err := d.tx(ctx, func(tx *sql.Tx) error {
		var probeKey string
		if err := tx.QueryRowContext(ctx, `SELECT probe_key FROM searches WHERE id = ?`, id).Scan(&probeKey); errors.Is(err, sql.ErrNoRows) {
			return notFound("search", id)
		} else if err != nil {
			return fmt.Errorf("catalog: delete search %d: %w", id, err)
		}
		if probeKey == "" {
			return fmt.Errorf("search %d is a job's cross-match: it goes with its job's gallery: %w", id, engine.ErrConflict)
		}
		p = engine.Purge{BlobKeys: []string{probeKey}, FaceIDs: map[string][]int64{}}
		rows, err := tx.QueryContext(ctx, `SELECT thumb_key FROM probe_faces WHERE search_id = ? AND thumb_key <> ''`, id)
		if err != nil {
			return fmt.Errorf("catalog: delete search %d: %w", id, err)
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
		if err := rows.Err(); err != nil {
			return err
		}
		keys, _ := json.Marshal(p.BlobKeys)
		rowID, err := insertID(ctx, tx, `INSERT INTO purges (blob_keys, face_ids) VALUES (?, '{}')`, string(keys))
		if err != nil {
			return fmt.Errorf("catalog: record purge: %w", err)
		}
		p.ID = rowID
		if _, err := tx.ExecContext(ctx, `DELETE FROM searches WHERE id = ?`, id); err != nil {
			return fmt.Errorf("catalog: delete search %d: %w", id, err)
		}
		return nil
	})
	return p, err
}
