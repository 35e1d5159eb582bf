package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// The shared index log (PostgreSQL catalogs only): the replicas of a service on one catalog
// apply the same stream of index operations, in commit order, to their in-memory indexes.
// Appends run under the catalog's write lock (every write does), so sequence numbers are
// assigned in the order the appends commit: a reader that has applied up to seq n never later
// finds an op below n appear.

// IndexLogOp is one operation of the shared index log (PostgreSQL catalogs only).
type IndexLogOp struct {
	Seq       int64
	Model     string
	Delete    bool
	FaceID    int64
	GalleryID int64
	Vector    []float32 // an add's vector; nil for a delete, or once forgotten (a purged face)
}

// IndexLogChannel is the channel AppendIndexLog notifies, with the model as the payload.
const IndexLogChannel = "facematch_index_log"

var errIndexLogSQLite = errors.New("catalog: the shared index log needs a PostgreSQL catalog")

// AppendIndexLog appends ops (Seq ignored on input) under the catalog's write lock, so
// sequence numbers are assigned in commit order; a deletion also forgets the vectors of the
// face's earlier additions, and notifies channel "facematch_index_log"
// (payload: model) in the same transaction. Returns the last assigned seq.
func (d *DB) AppendIndexLog(ctx context.Context, ops []IndexLogOp) (int64, error) {
	if !d.pg {
		return 0, errIndexLogSQLite
	}
	var last int64
	err := d.tx(ctx, func(tx *sql.Tx) error {
		models := map[string]bool{}
		for _, op := range ops {
			kind, vec := "add", vectorBytes(op.Vector)
			if op.Delete {
				kind, vec = "delete", nil
				// As the faces trigger does: a deleted face's vector leaves the log's earlier
				// additions in the deleting transaction (the replicas still apply those ops).
				if _, err := tx.ExecContext(ctx, `UPDATE index_log SET vector = NULL WHERE face_id = ? AND vector IS NOT NULL`, op.FaceID); err != nil {
					return err
				}
			}
			if err := tx.QueryRowContext(ctx, `INSERT INTO index_log (model, op, face_id, gallery_id, vector) VALUES (?, ?, ?, ?, ?) RETURNING seq`,
				op.Model, kind, op.FaceID, op.GalleryID, vec).Scan(&last); err != nil {
				return err
			}
			models[op.Model] = true
		}
		// Delivered at commit, once per model however many ops (PostgreSQL folds duplicates).
		for m := range models {
			if _, err := tx.ExecContext(ctx, `SELECT pg_notify(?, ?)`, IndexLogChannel, m); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("catalog: append index log: %w", err)
	}
	return last, nil
}

// LogStoredFaces appends an addition for each of the faces the catalog holds with a vector of
// model, with that vector, and returns how many it appended. It reads and appends under the
// write lock: a face deleted meanwhile is skipped, never re-added. (Stored faces reach the log
// by the faces table's trigger; this is for a replica that finds one missing from its index:
// a log trimmed past it, or a face stored before the log existed.)
func (d *DB) LogStoredFaces(ctx context.Context, model string, faceIDs []int64) (int, error) {
	if !d.pg {
		return 0, errIndexLogSQLite
	}
	n := 0
	err := d.tx(ctx, func(tx *sql.Tx) error {
		for ids := faceIDs; len(ids) > 0; {
			k := min(len(ids), 10000)
			cond, args := inInts("id", ids[:k])
			res, err := tx.ExecContext(ctx, `INSERT INTO index_log (model, op, face_id, gallery_id, vector)
				SELECT model, 'add', id, gallery_id, vector FROM faces WHERE model = ? AND vector IS NOT NULL AND `+cond+` ORDER BY id`,
				append([]any{model}, args...)...)
			if err != nil {
				return err
			}
			added, _ := res.RowsAffected()
			n += int(added)
			ids = ids[k:]
		}
		if n > 0 {
			_, err := tx.ExecContext(ctx, `SELECT pg_notify(?, ?)`, IndexLogChannel, model)
			return err
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("catalog: log stored faces: %w", err)
	}
	return n, nil
}

// IndexLogAfter returns up to limit ops of model with Seq > after, in Seq order.
func (d *DB) IndexLogAfter(ctx context.Context, model string, after int64, limit int) ([]IndexLogOp, error) {
	if !d.pg {
		return nil, errIndexLogSQLite
	}
	rows, err := d.db.QueryContext(ctx, `SELECT seq, model, op, face_id, gallery_id, vector FROM index_log
		WHERE model = ? AND seq > ? ORDER BY seq LIMIT ?`, model, after, limit)
	if err != nil {
		return nil, fmt.Errorf("catalog: index log: %w", err)
	}
	defer rows.Close()
	var out []IndexLogOp
	for rows.Next() {
		var op IndexLogOp
		var kind string
		var vec []byte
		if err := rows.Scan(&op.Seq, &op.Model, &kind, &op.FaceID, &op.GalleryID, &vec); err != nil {
			return nil, fmt.Errorf("catalog: index log: %w", err)
		}
		op.Delete = kind == "delete"
		if vec != nil {
			op.Vector = bytesVector(vec)
		}
		out = append(out, op)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("catalog: index log: %w", err)
	}
	return out, nil
}

// TrimIndexLog deletes model's ops with Seq <= upTo.
func (d *DB) TrimIndexLog(ctx context.Context, model string, upTo int64) error {
	if !d.pg {
		return errIndexLogSQLite
	}
	if _, err := d.exec(ctx, `DELETE FROM index_log WHERE model = ? AND seq <= ?`, model, upTo); err != nil {
		return fmt.Errorf("catalog: trim index log: %w", err)
	}
	return nil
}
