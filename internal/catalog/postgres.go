package catalog

import (
	"context"
	"database/sql"
	"database/sql/driver"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/facematch/facematch/engine"
)

// PostgreSQL lets several facematch instances share one catalog. The store's code is the same
// as on SQLite (dialect.go makes the SQL run on both); what differs is here: the schema (one
// baseline at version 10, schema_pg.sql), its version table, the write lock, and the errors.

//go:embed schema_pg.sql
var schemaPG string

// writeLockKey is the advisory lock every write transaction on PostgreSQL takes first, so that
// writes from all processes on the database run one at a time, as SQLite's one writer runs
// them: the audit hash chain and the two-reviewer rule read, then write, and count on nobody
// writing in between. It also guards migrations.
const writeLockKey = 0x66616365 // "face"

// AppRole is the role the service's login role should be IN: every privilege it needs and, on
// the audit log, only SELECT and INSERT. The migration creates it where it may (CREATEROLE).
const AppRole = "facematch_app"

// IsPostgresURL reports whether dsn is a PostgreSQL URL rather than a SQLite file path.
func IsPostgresURL(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// openPostgres opens the catalog at a postgres:// URL and brings its schema up to date. Reads
// and writes share one pool: the turn channel lets one write transaction at a time out of this
// process, and database/sql replaces a connection that broke (a restarted server) instead of
// pinning it.
func openPostgres(ctx context.Context, dsn string) (*DB, error) {
	pool, err := pgPool(dsn)
	if err != nil {
		return nil, err
	}
	d := &DB{db: pool, read: pool, write: pool, turn: make(chan bool, 1), wait: writeWait, pg: true, dsn: dsn}
	d.claims = &shardClaimer{d: d, pool: pool, held: map[[2]int32]bool{}}
	if err := d.migratePG(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return d, nil
}

// openPostgresReadOnly opens the catalog at dsn for reading only: every transaction is
// read-only, and the schema must be this binary's (no migration).
func openPostgresReadOnly(ctx context.Context, dsn string) (*DB, error) {
	pool, err := pgPool(dsn, "default_transaction_read_only", "on")
	if err != nil {
		return nil, err
	}
	var v int
	if err := pool.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_version`).Scan(&v); err != nil {
		pool.Close()
		return nil, fmt.Errorf("catalog: read schema version of %s: %w", Redact(dsn), err)
	}
	if v != schemaVersion {
		pool.Close()
		return nil, fmt.Errorf("catalog: %s has schema version %d, this binary reads %d (start the matching facematch serve once to migrate it)", Redact(dsn), v, schemaVersion)
	}
	return &DB{db: pool, read: pool, pg: true, dsn: dsn}, nil
}

// pgPool is a connection pool on dsn, taking the store's SQL (dialect.go), with the sessions'
// runtime parameters given as name, value pairs.
func pgPool(dsn string, runtime ...string) (*sql.DB, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("catalog: %s: %w", Redact(dsn), err)
	}
	if cfg.ConnectTimeout == 0 {
		// A server that does not answer is an outage to report (503), not a hung request.
		cfg.ConnectTimeout = writeWait
	}
	for i := 0; i+1 < len(runtime); i += 2 {
		cfg.RuntimeParams[runtime[i]] = runtime[i+1]
	}
	pool := sql.OpenDB(pgConnector{stdlib.GetConnector(*cfg)})
	pool.SetMaxOpenConns(32)
	pool.SetMaxIdleConns(8)
	pool.SetConnMaxIdleTime(5 * time.Minute)
	return pool, nil
}

// Redact drops the password from a DSN for messages.
func Redact(dsn string) string {
	if c, err := pgconn.ParseConfig(dsn); err == nil && c.Password != "" {
		return strings.Replace(dsn, c.Password, "xxxxx", 1)
	}
	return dsn
}

// Postgres reports whether the catalog is on PostgreSQL.
func (d *DB) Postgres() bool { return d.pg }

// DSN returns the PostgreSQL connection string the catalog was opened with ("" on SQLite), for
// the replicas' own LISTEN and lease connections.
func (d *DB) DSN() string { return d.dsn }

// migratePG creates the schema at version 10 on an empty database, in one transaction under the
// write lock, so that replicas starting together migrate once and the others then find it done.
func (d *DB) migratePG(ctx context.Context) error {
	err := d.tx(ctx, func(tx *sql.Tx) error {
		// Looked up before it is created: the application's role may not create tables.
		var have bool
		if err := tx.QueryRowContext(ctx, `SELECT to_regclass('schema_version') IS NOT NULL`).Scan(&have); err != nil {
			return err
		}
		var v int
		if have {
			if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_version`).Scan(&v); err != nil {
				return err
			}
		}
		switch {
		case v == schemaVersion:
			return nil
		case v > schemaVersion:
			return fmt.Errorf("database schema version %d is newer than this binary's %d", v, schemaVersion)
		case v != 0:
			return fmt.Errorf("database schema version %d predates PostgreSQL support (version %d)", v, schemaVersion)
		}
		if _, err := tx.ExecContext(ctx, `CREATE TABLE schema_version (version BIGINT NOT NULL)`); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, schemaPG); err != nil {
			return fmt.Errorf("schema version %d: %w", schemaVersion, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_version (version) VALUES (?)`, schemaVersion); err != nil {
			return err
		}
		return grantApp(ctx, tx)
	})
	if err != nil {
		return fmt.Errorf("catalog: migrate: %w", err)
	}
	return nil
}

// grantApp makes AppRole (when this role may create roles, or it exists) and grants it the
// tables: everything but changing the audit log.
func grantApp(ctx context.Context, tx *sql.Tx) error {
	var exists, may bool
	var user string
	err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = ?),
		(SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user), current_user`, AppRole).Scan(&exists, &may, &user)
	if err != nil {
		return err
	}
	if !exists && !may {
		slog.Warn("catalog: PostgreSQL role "+AppRole+" not created: the migrating role lacks CREATEROLE; create it NOLOGIN and run grantApp's grants (internal/catalog/postgres.go)", "user", user)
		return nil
	}
	// Roles are the cluster's, shared by its databases: another database's migration may create
	// it at the same moment.
	stmts := []string{
		`DO $$ BEGIN CREATE ROLE ` + AppRole + ` NOLOGIN; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$`,
		`DO $$ BEGIN
			EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %I TO ` + AppRole + `', current_schema());
			EXECUTE format('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA %I TO ` + AppRole + `', current_schema());
		END $$`,
		`REVOKE UPDATE, DELETE, TRUNCATE ON audit FROM ` + AppRole,
		`REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON schema_version FROM ` + AppRole,
	}
	if exists {
		stmts = stmts[1:]
	}
	for _, q := range stmts {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("role %s: %w", AppRole, err)
		}
	}
	return nil
}

// lockForWrite takes the database's write lock in tx, waiting at most d.wait: a lock held
// elsewhere past that is "busy, retry", as SQLite's busy timeout is.
func (d *DB) lockForWrite(ctx context.Context, tx *sql.Tx) error {
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("SET LOCAL lock_timeout = %d", d.wait.Milliseconds())); err != nil {
		return fmt.Errorf("catalog: write lock: %w", err)
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("SELECT pg_advisory_xact_lock(%d)", writeLockKey)); err != nil {
		return fmt.Errorf("catalog: write lock: %w", err)
	}
	return nil
}

// pgUnavailable reports PostgreSQL errors that mean "retry later": a lock not had in time, a
// serialisation failure or deadlock, a server shutting down or starting, a broken connection.
func pgUnavailable(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false // the caller gave up: its error, not the server's
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "55P03", "40001", "40P01", "57P01", "57P02", "57P03", "53300":
			return true
		}
		return strings.HasPrefix(pe.Code, "08") // connection exceptions
	}
	var ne net.Error
	var ce *pgconn.ConnectError
	return pgconn.SafeToRetry(err) || errors.As(err, &ce) || errors.As(err, &ne) ||
		errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) ||
		errors.Is(err, io.ErrUnexpectedEOF) // the server went away mid-answer
}

// pgConstraint reports a unique or check violation (what isConstraint reports on SQLite; a
// foreign-key violation is not one there either).
func pgConstraint(err error) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return false
	}
	switch pe.Code {
	case "23505", "23514":
		return true
	}
	return false
}

var errPGUnavailable = fmt.Errorf("the catalog's PostgreSQL server is unavailable: %w", engine.ErrUnavailable)
