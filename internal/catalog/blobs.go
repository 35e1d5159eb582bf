package catalog

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/facematch/facematch/engine"
)

// ReferencedBlobs returns the blob keys starting with prefix that a record references (see
// engine.BlobReferences). Blob keys are built from their record's gallery ("galleries/<id>/"),
// so such a prefix reads that gallery's images and faces alone, through their indexes; any
// other prefix reads every record that holds keys and keeps those under it.
func (d *DB) ReferencedBlobs(ctx context.Context, prefix string) (map[string]bool, error) {
	refs := map[string]bool{}
	add := func(k string) {
		if k != "" && strings.HasPrefix(k, prefix) {
			refs[k] = true
		}
	}
	var queries []string
	var args []any
	if id, ok := galleryPrefix(prefix); ok {
		queries = []string{
			`SELECT blob_key FROM images WHERE gallery_id = ?`,
			`SELECT f.thumb_key FROM images i JOIN faces f ON f.image_id = i.id WHERE i.gallery_id = ?`,
		}
		args = []any{id}
	} else {
		queries = []string{
			`SELECT blob_key FROM images`,
			`SELECT thumb_key FROM faces`,
			`SELECT probe_key FROM searches`,
			`SELECT thumb_key FROM probe_faces`,
		}
	}
	// One read transaction: one snapshot of records and purges, so that a key moving from
	// its record to a purge meanwhile is seen in one of them.
	var tx queryer = d.work
	if d.work == nil {
		opts := &sql.TxOptions{ReadOnly: true}
		if d.pg {
			opts.Isolation = sql.LevelRepeatableRead // a snapshot for the whole transaction, as SQLite's
		}
		rtx, err := d.read.BeginTx(ctx, opts)
		if err != nil {
			return nil, fmt.Errorf("catalog: referenced blobs: %w", err)
		}
		defer rtx.Rollback()
		tx = rtx
	}
	for _, q := range queries {
		if err := eachString(ctx, tx, q, args, add); err != nil {
			return nil, fmt.Errorf("catalog: referenced blobs: %w", err)
		}
	}
	// A done job is never resumed: its archive and sidecar are no longer needed.
	err := eachString(ctx, tx, `SELECT spec FROM jobs WHERE state != 'done'`, nil, func(spec string) {
		var s engine.JobSpec
		if json.Unmarshal([]byte(spec), &s) == nil {
			for _, k := range s.BlobKeys() {
				add(k)
			}
		}
	})
	if err != nil {
		return nil, fmt.Errorf("catalog: referenced blobs: jobs: %w", err)
	}
	// A pending purge deletes its blobs itself.
	err = eachString(ctx, tx, `SELECT blob_keys FROM purges`, nil, func(js string) {
		var keys []string
		if json.Unmarshal([]byte(js), &keys) == nil {
			for _, k := range keys {
				add(k)
			}
		}
	})
	if err != nil {
		return nil, fmt.Errorf("catalog: referenced blobs: purges: %w", err)
	}
	return refs, nil
}

// galleryPrefix parses "galleries/<id>/".
func galleryPrefix(prefix string) (int64, bool) {
	rest, ok := strings.CutPrefix(prefix, "galleries/")
	if !ok {
		return 0, false
	}
	rest, ok = strings.CutSuffix(rest, "/")
	if !ok {
		return 0, false
	}
	id, err := strconv.ParseInt(rest, 10, 64)
	return id, err == nil && strconv.FormatInt(id, 10) == rest
}

// eachString calls fn with the first column of every row of query.
func eachString(ctx context.Context, tx queryer, query string, args []any, fn func(string)) error {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var s sql.NullString
		if err := rows.Scan(&s); err != nil {
			return err
		}
		fn(s.String)
	}
	return rows.Err()
}
