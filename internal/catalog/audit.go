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

// Append adds an entry to the audit log (its ID, hashes and, when zero, its time are set
// here), chained to the entry before it in the same transaction: the one writer orders them.
func (d *DB) Append(ctx context.Context, e engine.AuditEntry) (engine.AuditEntry, error) {
	if e.At.IsZero() {
		e.At = time.Now()
	}
	if e.Actor == "" || e.Action == "" {
		return e, fmt.Errorf("catalog: audit entry needs an actor and an action")
	}
	gal, _ := json.Marshal(nonNilInts(e.Galleries))
	r := auditRow{at: fmtTime(e.At), actor: e.Actor, action: e.Action, target: e.Target, galleries: string(gal),
		input: e.Input, result: e.Result, rq: e.RequestID}
	err := d.tx(ctx, func(tx *sql.Tx) error {
		var err error
		if r.id, r.prevHash, err = chainTail(ctx, tx); err != nil {
			return err
		}
		r.hash = chainHash(r)
		_, err = tx.ExecContext(ctx, `INSERT INTO audit (`+auditRowColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			r.id, r.at, r.actor, r.action, r.target, r.galleries, r.input, r.result, r.rq, r.prevHash, r.hash)
		return err
	})
	if err != nil {
		return e, fmt.Errorf("catalog: audit: %w", err)
	}
	e.ID, e.PrevHash, e.Hash = r.id, r.prevHash, r.hash
	return e, nil
}

func nonNilInts(s []int64) []int64 {
	if s == nil {
		return []int64{}
	}
	return s
}

// Entries returns a page of the audit log, oldest first, after f.Cursor.
func (d *DB) Entries(ctx context.Context, f engine.AuditFilter) ([]engine.AuditEntry, error) {
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 100
	}
	where := []string{"id > ?"}
	args := []any{f.Cursor}
	if !f.Since.IsZero() {
		where = append(where, "at >= ?")
		args = append(args, fmtTime(f.Since))
	}
	if f.Actor != "" {
		where = append(where, "actor = ?")
		args = append(args, f.Actor)
	}
	if f.Action != "" {
		where = append(where, "action = ?")
		args = append(args, f.Action)
	}
	args = append(args, f.Limit)
	rows, err := d.db.QueryContext(ctx, `SELECT id, at, actor, action, target, galleries, input, result, request_id, prev_hash, hash
		FROM audit WHERE `+strings.Join(where, " AND ")+` ORDER BY id LIMIT ?`, args...)
	if err != nil {
		return nil, fmt.Errorf("catalog: audit: %w", err)
	}
	defer rows.Close()
	out := []engine.AuditEntry{}
	for rows.Next() {
		var e engine.AuditEntry
		var at, gal string
		if err := rows.Scan(&e.ID, &at, &e.Actor, &e.Action, &e.Target, &gal, &e.Input, &e.Result, &e.RequestID, &e.PrevHash, &e.Hash); err != nil {
			return nil, fmt.Errorf("catalog: audit: %w", err)
		}
		e.At = parseTime(at)
		if err := json.Unmarshal([]byte(gal), &e.Galleries); err != nil {
			return nil, fmt.Errorf("catalog: audit entry %d: %w", e.ID, err)
		}
		if len(e.Galleries) == 0 {
			e.Galleries = nil
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// CreateToken stores a credential (its hash; the secret is never stored).
func (d *DB) CreateToken(ctx context.Context, t engine.Token) (engine.Token, error) {
	t.Name = strings.TrimSpace(t.Name)
	if t.Name == "" || !t.Role.Valid() || t.Hash == "" {
		return t, fmt.Errorf("credential needs a name and a role (admin, analyst, reviewer, auditor): %w", engine.ErrInvalid)
	}
	res, err := d.exec(ctx, `INSERT INTO tokens (name, role, hash, created_at, created_by) VALUES (?, ?, ?, ?, ?)`,
		t.Name, string(t.Role), t.Hash, fmtTime(t.CreatedAt), t.CreatedBy)
	if isConstraint(err) {
		return t, fmt.Errorf("a credential named %q already exists: %w", t.Name, engine.ErrConflict)
	}
	if err != nil {
		return t, fmt.Errorf("catalog: create token: %w", err)
	}
	t.ID, _ = res.LastInsertId()
	return t, nil
}

const tokenSelect = `SELECT id, name, role, hash, created_at, created_by, revoked_at FROM tokens`

func scanToken(row interface{ Scan(...any) error }) (engine.Token, error) {
	var t engine.Token
	var created string
	var revoked sql.NullString
	err := row.Scan(&t.ID, &t.Name, &t.Role, &t.Hash, &created, &t.CreatedBy, &revoked)
	t.CreatedAt = parseTime(created)
	if revoked.Valid {
		r := parseTime(revoked.String)
		t.RevokedAt = &r
	}
	return t, err
}

// TokenByHash returns the credential with this hash, revoked or not.
func (d *DB) TokenByHash(ctx context.Context, hash string) (engine.Token, error) {
	t, err := scanToken(d.db.QueryRowContext(ctx, tokenSelect+` WHERE hash = ?`, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return t, fmt.Errorf("credential: %w", engine.ErrNotFound)
	}
	if err != nil {
		return t, fmt.Errorf("catalog: token: %w", err)
	}
	return t, nil
}

// Tokens lists every credential, oldest first.
func (d *DB) Tokens(ctx context.Context) ([]engine.Token, error) {
	rows, err := d.db.QueryContext(ctx, tokenSelect+` ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("catalog: tokens: %w", err)
	}
	defer rows.Close()
	out := []engine.Token{}
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("catalog: tokens: %w", err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// RevokeToken marks a credential revoked (revoking twice keeps the first time).
func (d *DB) RevokeToken(ctx context.Context, id int64, at time.Time) (engine.Token, error) {
	if _, err := d.exec(ctx, `UPDATE tokens SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?`, fmtTime(at), id); err != nil {
		return engine.Token{}, fmt.Errorf("catalog: revoke token %d: %w", id, err)
	}
	t, err := scanToken(d.db.QueryRowContext(ctx, tokenSelect+` WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return t, notFound("credential", id)
	}
	return t, err
}
