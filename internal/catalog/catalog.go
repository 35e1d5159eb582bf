// Package catalog is facematch's metadata store on SQLite (modernc.org/sqlite, pure Go: no C
// library, no server). It implements the engine's store interfaces: galleries, subjects, images
// and faces (with their vectors, the source of truth the index is rebuilt from), searches,
// matches and decisions, deletions' purge records, credentials, and the append-only audit log.
//
// Durability: WAL journal with synchronous=FULL, so a committed decision or audit entry
// survives a power cut, not only a crash. Write transactions start IMMEDIATE, so two writers
// queue on the busy timeout instead of failing half-way.
//
// A DB is safe for concurrent use.
package catalog

import (
	"context"
	"database/sql"
	_ "embed"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/facematch/facematch/engine"
)

// Each schema file brings the database from the version before it to its own.
var (
	//go:embed schema.sql
	schemaV1 string
	//go:embed schema_v2.sql
	schemaV2 string
	//go:embed schema_v3.sql
	schemaV3 string
	//go:embed schema_v4_input.sql
	schemaV4 string
	schemas  = []string{schemaV1, schemaV2, schemaV3, schemaV4}
)

const schemaVersion = 4

// DB is the metadata store.
type DB struct {
	db *sql.DB
}

var (
	_ engine.GalleryStore = (*DB)(nil)
	_ engine.ImageStore   = (*DB)(nil)
	_ engine.Deleter      = (*DB)(nil)
	_ engine.ReviewStore  = (*DB)(nil)
	_ engine.AuditLog     = (*DB)(nil)
	_ engine.TokenStore   = (*DB)(nil)
)

// Open opens (creating if needed) the database file at path and brings its schema up to date.
func Open(ctx context.Context, path string) (*DB, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	q := url.Values{}
	for _, p := range []string{"foreign_keys(1)", "journal_mode(WAL)", "synchronous(FULL)", "busy_timeout(10000)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("catalog: open %s: %w", path, err)
	}
	d := &DB{db: db}
	if err := d.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return d, nil
}

// Ping checks that the database answers.
func (d *DB) Ping(ctx context.Context) error { return d.db.PingContext(ctx) }

// Close closes the database.
func (d *DB) Close() error { return d.db.Close() }

func (d *DB) migrate(ctx context.Context) error {
	var v int
	if err := d.db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return fmt.Errorf("catalog: read schema version: %w", err)
	}
	switch {
	case v == schemaVersion:
		return nil
	case v > schemaVersion:
		return fmt.Errorf("catalog: database schema version %d is newer than this binary's %d", v, schemaVersion)
	}
	return d.tx(ctx, func(tx *sql.Tx) error {
		for i := v; i < schemaVersion; i++ {
			if _, err := tx.ExecContext(ctx, schemas[i]); err != nil {
				return fmt.Errorf("catalog: schema version %d: %w", i+1, err)
			}
		}
		_, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", schemaVersion))
		return err
	})
}

// tx runs fn in a write transaction.
func (d *DB) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("catalog: begin: %w", err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("catalog: commit: %w", err)
	}
	return nil
}

// Times are stored as fixed-width UTC strings so that they sort as text.
const timeFormat = "2006-01-02T15:04:05.000000000Z"

func fmtTime(t time.Time) string { return t.UTC().Format(timeFormat) }

func parseTime(s string) time.Time {
	t, _ := time.Parse(timeFormat, s)
	return t
}

func fmtTimePtr(t *time.Time) any {
	if t == nil {
		return nil
	}
	return fmtTime(*t)
}

// isConstraint reports a UNIQUE or CHECK violation: the caller's conflict, not store trouble.
func isConstraint(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY, sqlite3.SQLITE_CONSTRAINT_CHECK:
		return true
	}
	return false
}

func notFound(what string, id int64) error {
	return fmt.Errorf("%s %d: %w", what, id, engine.ErrNotFound)
}

func nullInt(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}

func intPtr(n sql.NullInt64) *int64 {
	if !n.Valid {
		return nil
	}
	v := n.Int64
	return &v
}
