package catalog

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
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
		input: e.Input, result: e.Result, rq: e.RequestID, clientRQ: e.ClientRequestID}
	err := d.tx(ctx, func(tx *sql.Tx) error {
		var err error
		if r.id, r.prevHash, err = chainTail(ctx, tx, d.pg); err != nil {
			return err
		}
		r.hash = chainHash(r)
		_, err = tx.ExecContext(ctx, `INSERT INTO audit (`+auditRowColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			r.id, r.at, r.actor, r.action, r.target, r.galleries, r.input, r.result, r.rq, r.clientRQ, r.prevHash, r.hash)
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

// Entries returns a page of the audit log after f.Cursor, newest first unless f.Oldest.
func (d *DB) Entries(ctx context.Context, f engine.AuditFilter) ([]engine.AuditEntry, error) {
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 100
	}
	where, order := []string{"id > ?"}, "id"
	args := []any{f.Cursor}
	if !f.Oldest {
		where, order = []string{"id < ?"}, "id DESC"
		if f.Cursor == 0 {
			args = []any{int64(math.MaxInt64)}
		}
	}
	if !f.Since.IsZero() {
		where = append(where, "at >= ?")
		args = append(args, fmtTime(f.Since))
	}
	if !f.Until.IsZero() {
		where = append(where, "at < ?")
		args = append(args, fmtTime(f.Until))
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
	return d.auditEntries(ctx, `WHERE `+strings.Join(where, " AND ")+` ORDER BY `+order+` LIMIT ?`, args...)
}

// auditEntries reads the entries a WHERE … ORDER BY … LIMIT clause selects.
func (d *DB) auditEntries(ctx context.Context, clause string, args ...any) ([]engine.AuditEntry, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT id, at, actor, action, target, galleries, input, result, request_id, client_request_id, prev_hash, hash
		FROM audit `+clause, args...)
	if err != nil {
		return nil, fmt.Errorf("catalog: audit: %w", err)
	}
	defer rows.Close()
	out := []engine.AuditEntry{}
	for rows.Next() {
		var e engine.AuditEntry
		var at, gal string
		if err := rows.Scan(&e.ID, &at, &e.Actor, &e.Action, &e.Target, &gal, &e.Input, &e.Result, &e.RequestID, &e.ClientRequestID, &e.PrevHash, &e.Hash); err != nil {
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

// targetsPerQuery bounds the IN list of one EntriesAbout query.
const targetsPerQuery = 500

// EntriesAbout returns the newest entries, at most limit, whose target is one of targets
// ("person:3", "image:12"), oldest first; each target is looked up in the audit_target index.
func (d *DB) EntriesAbout(ctx context.Context, targets []string, limit int) ([]engine.AuditEntry, error) {
	if limit <= 0 || len(targets) == 0 {
		return []engine.AuditEntry{}, nil
	}
	out := []engine.AuditEntry{}
	for chunk := range slices.Chunk(slices.Compact(slices.Sorted(slices.Values(targets))), targetsPerQuery) {
		args := make([]any, 0, len(chunk)+1)
		for _, t := range chunk {
			args = append(args, t)
		}
		es, err := d.auditEntries(ctx, `WHERE target IN (?`+strings.Repeat(", ?", len(chunk)-1)+`) ORDER BY id DESC LIMIT ?`, append(args, limit)...)
		if err != nil {
			return nil, err
		}
		out = append(out, es...)
	}
	slices.SortFunc(out, func(a, b engine.AuditEntry) int { return cmp.Compare(b.ID, a.ID) })
	out = out[:min(len(out), limit)]
	slices.Reverse(out)
	return out, nil
}

// CreateToken stores a credential (its hash; the secret is never stored).
func (d *DB) CreateToken(ctx context.Context, t engine.Token) (engine.Token, error) {
	t.Name, t.User = strings.TrimSpace(t.Name), strings.TrimSpace(t.User)
	if t.User == "" {
		t.User = t.Name
	}
	if t.Name == "" || !t.Role.Valid() || t.Hash == "" {
		return t, fmt.Errorf("credential needs a name and a role (admin, analyst, reviewer, auditor): %w", engine.ErrInvalid)
	}
	rowID, err := d.insert(ctx, `INSERT INTO tokens (name, user_name, role, hash, created_at, created_by, expires_at, galleries)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, t.Name, t.User, string(t.Role), t.Hash, fmtTime(t.CreatedAt), t.CreatedBy, fmtTimePtr(t.ExpiresAt), galleriesArg(t.Galleries))
	if isConstraint(err) {
		if t.Role == engine.RoleReviewer && strings.Contains(err.Error(), "user_name") {
			return t, fmt.Errorf("%s already holds an active reviewer credential: revoke or rotate it instead (the two-reviewer rule counts people): %w",
				t.User, engine.ErrConflict)
		}
		return t, fmt.Errorf("a credential named %q already exists: %w", t.Name, engine.ErrConflict)
	}
	if err != nil {
		return t, fmt.Errorf("catalog: create token: %w", err)
	}
	t.ID = rowID
	return t, nil
}

const tokenSelect = `SELECT id, name, user_name, role, hash, created_at, created_by, revoked_at, expires_at, rotated_at, last_used_at, galleries FROM tokens`

func scanToken(row interface{ Scan(...any) error }) (engine.Token, error) {
	var t engine.Token
	var created string
	var revoked, expires, rotated, used, galleries sql.NullString
	if err := row.Scan(&t.ID, &t.Name, &t.User, &t.Role, &t.Hash, &created, &t.CreatedBy, &revoked, &expires, &rotated, &used, &galleries); err != nil {
		return t, err
	}
	t.CreatedAt = parseTime(created)
	t.RevokedAt, t.ExpiresAt, t.RotatedAt, t.LastUsedAt = timePtr(revoked), timePtr(expires), timePtr(rotated), timePtr(used)
	if galleries.Valid {
		if err := json.Unmarshal([]byte(galleries.String), &t.Galleries); err != nil {
			return t, fmt.Errorf("credential %d galleries: %w", t.ID, err)
		}
	}
	return t, nil
}

// galleriesArg stores a credential's galleries: NULL for all.
func galleriesArg(ids []int64) any {
	if ids == nil {
		return nil
	}
	b, _ := json.Marshal(ids)
	return string(b)
}

// ScopeToken sets the galleries credential id may read (nil: all).
func (d *DB) ScopeToken(ctx context.Context, id int64, galleries []int64) (engine.Token, error) {
	if _, err := d.exec(ctx, `UPDATE tokens SET galleries = ? WHERE id = ?`, galleriesArg(galleries), id); err != nil {
		return engine.Token{}, fmt.Errorf("catalog: scope token %d: %w", id, err)
	}
	return d.Token(ctx, id)
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

// Token returns credential id.
func (d *DB) Token(ctx context.Context, id int64) (engine.Token, error) {
	t, err := scanToken(d.db.QueryRowContext(ctx, tokenSelect+` WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return t, notFound("credential", id)
	}
	if err != nil {
		return t, fmt.Errorf("catalog: token %d: %w", id, err)
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

// RotateToken replaces an active credential's secret hash and expiry. A revoked credential
// stays revoked (ErrConflict): rotation is not a way back in.
func (d *DB) RotateToken(ctx context.Context, id int64, hash string, at, expires time.Time) (engine.Token, error) {
	res, err := d.exec(ctx, `UPDATE tokens SET hash = ?, expires_at = ?, rotated_at = ? WHERE id = ? AND revoked_at IS NULL`,
		hash, fmtTime(expires), fmtTime(at), id)
	if err != nil {
		return engine.Token{}, fmt.Errorf("catalog: rotate token %d: %w", id, err)
	}
	t, err := d.Token(ctx, id)
	if err != nil {
		return t, err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return t, fmt.Errorf("credential %d (%s) is revoked: create a new one: %w", id, t.Name, engine.ErrConflict)
	}
	return t, nil
}

// TouchToken records a credential's last use.
func (d *DB) TouchToken(ctx context.Context, id int64, at time.Time) error {
	if _, err := d.exec(ctx, `UPDATE tokens SET last_used_at = ? WHERE id = ?`, fmtTime(at), id); err != nil {
		return fmt.Errorf("catalog: touch token %d: %w", id, err)
	}
	return nil
}

// RevokeToken marks a credential revoked (revoking twice keeps the first time). The last
// active admin credential cannot be revoked (ErrConflict): nobody could then manage
// credentials. The check and the update are one statement, so two admins revoking each other
// at once cannot both succeed.
func (d *DB) RevokeToken(ctx context.Context, id int64, at time.Time) (engine.Token, error) {
	res, err := d.exec(ctx, `UPDATE tokens SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?
		AND NOT (role = 'admin' AND revoked_at IS NULL
			AND (SELECT count(*) FROM tokens WHERE role = 'admin' AND revoked_at IS NULL) <= 1)`, fmtTime(at), id)
	if err != nil {
		return engine.Token{}, fmt.Errorf("catalog: revoke token %d: %w", id, err)
	}
	t, err := d.Token(ctx, id)
	if err != nil {
		return t, err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return t, fmt.Errorf("credential %d (%s) is the last active admin credential: create another admin credential before revoking it: %w",
			id, t.Name, engine.ErrConflict)
	}
	return t, nil
}
