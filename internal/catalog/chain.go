package catalog

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
)

// The audit log is a hash chain: each entry's hash covers the previous entry's hash and the
// entry's own fields as stored, so that an entry changed or removed after the fact no longer
// matches. Anyone with write access to the file can recompute the whole chain, so the chain
// proves something only up to a checkpoint (an entry's ID and hash) kept outside: VerifyAudit
// checks against one, and `facematch audit checkpoint` prints the latest for export.

// auditRow is an audit entry as stored: the exact text the hash covers.
type auditRow struct {
	id                                                      int64
	at, actor, action, target, galleries, input, result, rq string
	clientRQ                                                string
	prevHash, hash                                          string
}

// chainHash is hex sha256 over a versioned, canonical encoding of r's fields and prevHash (a
// JSON array: fixed order, every string escaped the one way encoding/json does it).
func chainHash(r auditRow) string {
	b, _ := json.Marshal([]any{"facematch-audit-v1", r.prevHash, r.id, r.at, r.actor, r.action, r.target, r.galleries, r.input, r.result, r.rq, r.clientRQ})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

const auditRowColumns = `id, at, actor, action, target, galleries, input, result, request_id, client_request_id, prev_hash, hash`

func scanAuditRow(row interface{ Scan(...any) error }) (auditRow, error) {
	var r auditRow
	err := row.Scan(&r.id, &r.at, &r.actor, &r.action, &r.target, &r.galleries, &r.input, &r.result, &r.rq, &r.clientRQ, &r.prevHash, &r.hash)
	return r, err
}

// chainTail is the last entry's ID and hash (0 and "" for an empty log), and the ID the next
// entry gets: after the highest ever used, as AUTOINCREMENT would give it.
func chainTail(ctx context.Context, tx *sql.Tx, pg bool) (next int64, prevHash string, err error) {
	var last int64
	err = tx.QueryRowContext(ctx, `SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1`).Scan(&last, &prevHash)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, "", fmt.Errorf("catalog: audit chain: %w", err)
	}
	if pg {
		// Nothing ever deletes an audit entry there (the trigger and the grants refuse it), so
		// the last entry's ID is the highest ever used.
		return last + 1, prevHash, nil
	}
	var seq int64
	if err := tx.QueryRowContext(ctx, `SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'audit'), 0)`).Scan(&seq); err != nil {
		return 0, "", fmt.Errorf("catalog: audit chain: %w", err)
	}
	return max(last, seq) + 1, prevHash, nil
}

// chainExisting is the migration to schema version 4: it computes the chain over the entries
// written before it, then restores the append-only trigger schema_v4.sql dropped.
func chainExisting(ctx context.Context, tx *sql.Tx) error {
	prev, after := "", int64(0)
	for {
		rows, err := tx.QueryContext(ctx, `SELECT `+auditRowColumns+` FROM audit WHERE id > ? ORDER BY id LIMIT 1000`, after)
		if err != nil {
			return err
		}
		var page []auditRow
		for rows.Next() {
			r, err := scanAuditRow(rows)
			if err != nil {
				rows.Close()
				return err
			}
			page = append(page, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(page) == 0 {
			break
		}
		for _, r := range page {
			r.prevHash = prev
			r.hash = chainHash(r)
			if _, err := tx.ExecContext(ctx, `UPDATE audit SET prev_hash = ?, hash = ? WHERE id = ?`, r.prevHash, r.hash, r.id); err != nil {
				return err
			}
			prev, after = r.hash, r.id
		}
	}
	_, err := tx.ExecContext(ctx, auditNoUpdate)
	return err
}

// auditNoUpdate is schema.sql's trigger, as it was.
const auditNoUpdate = `CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN
    SELECT RAISE(ABORT, 'audit log is append-only');
END`

// Checkpoint is an audit entry's ID and hash: kept outside facematch, it lets a later
// verification prove that the log up to that entry is unchanged and was not cut short.
type Checkpoint struct {
	ID   int64
	Hash string
}

func (c Checkpoint) String() string { return fmt.Sprintf("%d:%s", c.ID, c.Hash) }

// ParseCheckpoint reads a checkpoint as Checkpoint.String writes it (ID:HASH).
func ParseCheckpoint(s string) (Checkpoint, error) {
	var c Checkpoint
	var rest string
	if n, err := fmt.Sscanf(s, "%d:%s", &c.ID, &rest); err != nil || n != 2 || c.ID <= 0 || len(rest) != 64 {
		return c, fmt.Errorf("a checkpoint is ID:HASH (an entry ID and its 64-hex-digit hash, as 'facematch audit checkpoint' prints it), got %q", s)
	}
	if _, err := hex.DecodeString(rest); err != nil {
		return c, fmt.Errorf("checkpoint hash %q is not hexadecimal", rest)
	}
	c.Hash = rest
	return c, nil
}

// AuditCheckpoint returns the latest entry's checkpoint (ID 0 for an empty log).
func (d *DB) AuditCheckpoint(ctx context.Context) (Checkpoint, error) {
	var c Checkpoint
	err := d.db.QueryRowContext(ctx, `SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1`).Scan(&c.ID, &c.Hash)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return c, fmt.Errorf("catalog: audit checkpoint: %w", err)
	}
	return c, nil
}

// Verification is what VerifyAudit found: the entries it checked, the last one's checkpoint,
// and the first broken entry (BrokenID 0 when the chain holds).
type Verification struct {
	Entries  int
	Last     Checkpoint
	BrokenID int64
	Problem  string
}

// VerifyAudit walks the audit log from its first entry and checks every link and hash, and
// against cp when it is given (ID > 0): that entry must be there with that hash.
func (d *DB) VerifyAudit(ctx context.Context, cp Checkpoint) (Verification, error) {
	var v Verification
	prev, seenCheckpoint := "", false
	broken := func(id int64, format string, args ...any) (Verification, error) {
		v.BrokenID, v.Problem = id, fmt.Sprintf(format, args...)
		return v, nil
	}
	for {
		rows, err := d.db.QueryContext(ctx, `SELECT `+auditRowColumns+` FROM audit WHERE id > ? ORDER BY id LIMIT 1000`, v.Last.ID)
		if err != nil {
			return v, fmt.Errorf("catalog: verify audit: %w", err)
		}
		var page []auditRow
		for rows.Next() {
			r, err := scanAuditRow(rows)
			if err != nil {
				rows.Close()
				return v, fmt.Errorf("catalog: verify audit: %w", err)
			}
			page = append(page, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return v, fmt.Errorf("catalog: verify audit: %w", err)
		}
		if len(page) == 0 {
			break
		}
		for _, r := range page {
			switch {
			case r.prevHash != prev && v.Last.ID == 0:
				return broken(r.id, "entry %d is the first in the log but follows another entry: the entries before it were removed", r.id)
			case r.prevHash != prev:
				return broken(r.id, "entry %d does not follow entry %d: an entry between them was removed, or entry %d was changed", r.id, v.Last.ID, v.Last.ID)
			case chainHash(r) != r.hash:
				return broken(r.id, "entry %d does not match its hash: it was changed after it was written", r.id)
			case r.id == cp.ID && r.hash != cp.Hash:
				return broken(r.id, "entry %d does not match the checkpoint: the log was rewritten up to it", r.id)
			}
			seenCheckpoint = seenCheckpoint || r.id == cp.ID
			prev, v.Last, v.Entries = r.hash, Checkpoint{ID: r.id, Hash: r.hash}, v.Entries+1
		}
	}
	if cp.ID > 0 && !seenCheckpoint {
		if cp.ID > v.Last.ID {
			return broken(cp.ID, "checkpoint entry %d is missing: the log ends at entry %d, it was cut short", cp.ID, v.Last.ID)
		}
		return broken(cp.ID, "checkpoint entry %d is missing: it was removed", cp.ID)
	}
	return v, nil
}
