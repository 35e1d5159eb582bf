// Package catalog is facematch's metadata store on SQLite (modernc.org/sqlite, pure Go: no C
// library, no server) or, for several instances sharing one catalog, on PostgreSQL (pgx, also
// pure Go; see postgres.go): one store, the same SQL on both (dialect.go). It implements the
// engine's store interfaces: galleries, subjects, images and faces (with their vectors, the
// source of truth the index is rebuilt from), searches, matches and decisions, deletions' purge
// records, credentials, and the append-only audit log.
//
// Durability: WAL journal with synchronous=FULL, so a committed decision or audit entry
// survives a power cut, not only a crash (PostgreSQL: its own WAL, fsync on). Writes queue for
// one writer connection (see DB; on PostgreSQL, for one database-wide advisory lock), and an
// action commits with its audit entry (Atomically).
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
	//go:embed schema_v4.sql
	schemaV4 string
	//go:embed schema_v5.sql
	schemaV5 string
	//go:embed schema_v6.sql
	schemaV6 string
	//go:embed schema_v7.sql
	schemaV7 string
	//go:embed schema_v8.sql
	schemaV8 string
	//go:embed schema_v9.sql
	schemaV9 string
	//go:embed schema_v10.sql
	schemaV10 string
	schemas   = []string{schemaV1, schemaV2, schemaV3, schemaV4, schemaV5, schemaV6, schemaV7, schemaV8, schemaV9, schemaV10}
	// afterSchema finishes a version's migration where SQL alone cannot, in its transaction.
	afterSchema = map[int]func(context.Context, *sql.Tx) error{4: chainExisting}
)

const schemaVersion = 10

// SchemaVersion is the schema version this binary reads and migrates to.
const SchemaVersion = schemaVersion

// DB is the metadata store. All writes go through one connection, one transaction at a time,
// queued in Go: SQLite has one writer anyway, and a queue with a deadline answers "busy, retry"
// (engine.ErrUnavailable) instead of writers racing on the lock until one fails. Reads use a
// pool of read-only connections, which WAL lets run beside the writer. On PostgreSQL reads and
// writes share one pool, and each write transaction first takes an advisory lock, so that
// writes of every process on the database run one at a time as they do on SQLite (postgres.go).
type DB struct {
	db    queryer       // reads: the reader pool, or the transaction of a unit of work
	read  *sql.DB       // read-only connections
	write *sql.DB       // the one writer connection
	turn  chan bool     // holds a token while a write transaction runs
	wait  time.Duration // how long a write waits for its turn (writeWait)
	work  *sql.Tx       // set inside Atomically: every method runs in this transaction
	pg    bool          // on PostgreSQL (write is then the shared pool, and writes take the write lock)
	dsn   string        // the PostgreSQL connection string
	// claims holds this process's claims of jobs and job shards (PostgreSQL only).
	claims *shardClaimer
}

// queryer is what reads need: the reader pool or a transaction.
type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// The store interfaces the engine consumes, each one asserted: a change of the engine's side
// fails the build here, not in the wiring.
var (
	_ engine.GalleryStore   = (*DB)(nil)
	_ engine.ImageStore     = (*DB)(nil)
	_ engine.Deleter        = (*DB)(nil)
	_ engine.ReviewStore    = (*DB)(nil)
	_ engine.AuditLog       = (*DB)(nil)
	_ engine.TokenStore     = (*DB)(nil)
	_ engine.JobStore       = (*DB)(nil)
	_ engine.Reprocessor    = (*DB)(nil)
	_ engine.BlobReferences = (*DB)(nil)
	_ engine.Catalog        = (*DB)(nil)
)

const (
	// writeWait is how long a write waits for its turn behind others before the store is
	// called overloaded; busyTimeout is how long the writer waits for a lock held outside
	// this process (a tool on the file). Either past means: retry after retryAfter.
	writeWait   = 5 * time.Second
	busyTimeout = 5 * time.Second
	retryAfter  = time.Second
)

// busyPragma sets busyTimeout on a connection.
var busyPragma = fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds())

// Open opens (creating if needed) the database file at path and brings its schema up to date.
// The file and its -wal and -shm are private to the owner (0600), whatever the umask and
// whoever created the directory. A path that is a postgres:// or postgresql:// URL opens the
// catalog on that PostgreSQL database instead.
func Open(ctx context.Context, path string) (*DB, error) {
	if IsPostgresURL(path) {
		return openPostgres(ctx, path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	if err := makePrivate(path); err != nil {
		return nil, err
	}
	write, err := sqlOpen(path, false, "foreign_keys(1)", "journal_mode(WAL)", "synchronous(FULL)", busyPragma)
	if err != nil {
		return nil, err
	}
	// One connection, never closed while the DB is open: the queue is the turn channel, and the
	// connection's settings (busy timeout) stay.
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	d := &DB{write: write, turn: make(chan bool, 1), wait: writeWait}
	// The writer connection creates the -wal and -shm (with the file's mode) before any reader.
	if err := write.PingContext(ctx); err != nil {
		write.Close()
		return nil, fmt.Errorf("catalog: open %s: %w", path, err)
	}
	if err := d.migrate(ctx); err != nil {
		write.Close()
		return nil, err
	}
	if err := makePrivate(path); err != nil {
		write.Close()
		return nil, err
	}
	if d.read, err = sqlOpen(path, true, "foreign_keys(1)", "query_only(1)", busyPragma); err != nil {
		write.Close()
		return nil, err
	}
	d.db = d.read
	return d, nil
}

// OpenReadOnly opens an existing database for reading only (audit verification beside a
// running service): no migration, no writes. Its schema must be this binary's. A postgres:// URL
// opens that PostgreSQL catalog read-only.
func OpenReadOnly(ctx context.Context, path string) (*DB, error) {
	if IsPostgresURL(path) {
		return openPostgresReadOnly(ctx, path)
	}
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	read, err := sqlOpen(path, true, "query_only(1)", busyPragma)
	if err != nil {
		return nil, err
	}
	var v int
	if err := read.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		read.Close()
		return nil, fmt.Errorf("catalog: read schema version of %s: %w", path, err)
	}
	if v != schemaVersion {
		read.Close()
		return nil, fmt.Errorf("catalog: %s has schema version %d, this binary reads %d (start the matching facematch serve once to migrate it)", path, v, schemaVersion)
	}
	return &DB{db: read, read: read}, nil
}

// sqlOpen opens the file with pragmas; write transactions start IMMEDIATE, so a writer takes
// the lock up front instead of failing half-way when a read would upgrade.
func sqlOpen(path string, readOnly bool, pragmas ...string) (*sql.DB, error) {
	q := url.Values{}
	for _, p := range pragmas {
		q.Add("_pragma", p)
	}
	if !readOnly {
		q.Set("_txlock", "immediate")
	}
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("catalog: open %s: %w", path, err)
	}
	return db, nil
}

// makePrivate creates the database file 0600 if it is missing, so that SQLite, which gives
// the -wal and -shm the database file's mode, makes them 0600 too; and it makes existing ones
// (from an older version, or a umask that let them be readable) 0600.
func makePrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("catalog: %w", err)
	}
	f.Close()
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Chmod(p, 0o600); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("catalog: %w", err)
		}
	}
	return nil
}

// Ping checks that the database answers.
func (d *DB) Ping(ctx context.Context) error { return d.read.PingContext(ctx) }

// Close closes the database.
func (d *DB) Close() error {
	if d.claims != nil {
		d.claims.close() // its session is checked out of the pool, which would wait for it
	}
	if d.write == nil || d.write == d.read {
		return d.read.Close()
	}
	return errors.Join(d.read.Close(), d.write.Close())
}

func (d *DB) migrate(ctx context.Context) error {
	var v int
	if err := d.write.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
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
			if after := afterSchema[i+1]; after != nil {
				if err := after(ctx, tx); err != nil {
					return fmt.Errorf("catalog: schema version %d: %w", i+1, err)
				}
			}
		}
		_, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", schemaVersion))
		return err
	})
}

// Atomically runs fn in one write transaction: whatever fn does through the catalog it is
// given (an action and its audit entry) commits together or not at all. fn must use only that
// catalog, and do no slow work: it holds the one writer. Inside a unit of work it runs in the
// same transaction.
func (d *DB) Atomically(ctx context.Context, fn func(engine.Catalog) error) error {
	if d.work != nil {
		return fn(d)
	}
	return d.tx(ctx, func(tx *sql.Tx) error {
		w := *d
		w.db, w.work = tx, tx
		return fn(&w)
	})
}

// tx runs fn in a write transaction: its own, queued for the writer, or inside a unit of work
// a savepoint of that work's transaction, so that a method that fails leaves nothing behind
// while the work goes on (a refused decision is still audited).
func (d *DB) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	if d.work != nil {
		return d.savepoint(ctx, fn)
	}
	if d.write == nil {
		return errors.New("catalog: opened read-only")
	}
	if err := d.waitTurn(ctx); err != nil {
		return err
	}
	defer func() { <-d.turn }()
	tx, err := d.write.BeginTx(ctx, nil)
	if err != nil {
		return unavailable(fmt.Errorf("catalog: begin: %w", err))
	}
	if d.pg {
		if err := d.lockForWrite(ctx, tx); err != nil {
			tx.Rollback()
			return unavailable(err)
		}
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return unavailable(err)
	}
	if err := tx.Commit(); err != nil {
		return unavailable(fmt.Errorf("catalog: commit: %w", err))
	}
	return nil
}

// exec runs one write statement in its own transaction (or the unit of work's).
func (d *DB) exec(ctx context.Context, query string, args ...any) (res sql.Result, err error) {
	err = d.tx(ctx, func(tx *sql.Tx) error {
		res, err = tx.ExecContext(ctx, query, args...)
		return err
	})
	return res, err
}

func (d *DB) savepoint(ctx context.Context, fn func(*sql.Tx) error) error {
	if _, err := d.work.ExecContext(ctx, "SAVEPOINT method"); err != nil {
		return fmt.Errorf("catalog: savepoint: %w", err)
	}
	if err := fn(d.work); err != nil {
		_, rerr := d.work.ExecContext(ctx, "ROLLBACK TO method")
		if rerr == nil {
			_, rerr = d.work.ExecContext(ctx, "RELEASE method")
		}
		return errors.Join(err, rerr)
	}
	if _, err := d.work.ExecContext(ctx, "RELEASE method"); err != nil {
		return fmt.Errorf("catalog: release savepoint: %w", err)
	}
	return nil
}

// waitTurn waits for the writer, up to d.wait (or ctx).
func (d *DB) waitTurn(ctx context.Context) error {
	t := time.NewTimer(d.wait)
	defer t.Stop()
	select {
	case d.turn <- true:
		return nil
	case <-t.C:
		return &engine.RetryAfter{Err: fmt.Errorf("the catalog is busy with other writes: %w", engine.ErrUnavailable), After: retryAfter}
	case <-ctx.Done():
		return fmt.Errorf("catalog: waiting to write: %w", ctx.Err())
	}
}

// unavailable turns SQLite's busy and locked (a lock held outside this process past the busy
// timeout), and PostgreSQL's lock timeouts and lost or refused connections, into
// engine.ErrUnavailable, to be retried; other errors pass unchanged.
func unavailable(err error) error {
	var ra *engine.RetryAfter
	if errors.As(err, &ra) {
		return err
	}
	if pgUnavailable(err) {
		return outage(err)
	}
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return err
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return &engine.RetryAfter{Err: fmt.Errorf("the catalog is locked by another writer: %w", engine.ErrUnavailable), After: retryAfter}
	}
	return err
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
	if pgConstraint(err) {
		return true
	}
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

// insertID runs an INSERT and returns the new row's id, by RETURNING, which both engines have
// (PostgreSQL's driver has no LastInsertId).
func insertID(ctx context.Context, tx *sql.Tx, query string, args ...any) (id int64, err error) {
	err = tx.QueryRowContext(ctx, query+" RETURNING id", args...).Scan(&id)
	return id, err
}

// insert is insertID in a write transaction of its own (or the unit of work's).
func (d *DB) insert(ctx context.Context, query string, args ...any) (id int64, err error) {
	err = d.tx(ctx, func(tx *sql.Tx) error {
		id, err = insertID(ctx, tx, query, args...)
		return err
	})
	return id, err
}
