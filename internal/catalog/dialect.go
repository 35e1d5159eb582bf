package catalog

import (
	"context"
	"database/sql/driver"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/stdlib"

	"github.com/facematch/facematch/engine"
)

// The catalog's SQL is written once, with SQLite's `?` placeholders, in the subset both engines
// accept. What differs is handled here, below database/sql, so that every query, transaction
// and prepared statement of the one store goes through it: pgConn rewrites `?` to PostgreSQL's
// `$n`, and binds Go booleans as the integers the schema stores them as (as SQLite's driver does).

// pgConnector opens pgx connections wrapped in pgConn.
type pgConnector struct{ driver.Connector }

func (c pgConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, outage(err)
	}
	return pgConn{conn.(*stdlib.Conn)}, nil
}

// pgConn is a pgx connection taking SQLite-style placeholders. Its other methods (BeginTx,
// Ping, ResetSession, IsValid: what lets database/sql drop a broken connection) are pgx's.
type pgConn struct{ *stdlib.Conn }

func (c pgConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	st, err := c.Conn.PrepareContext(ctx, placeholders(query))
	return st, outage(err)
}

func (c pgConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if len(args) > 0 {
		query = placeholders(query)
	}
	res, err := c.Conn.ExecContext(ctx, query, args)
	return res, outage(err)
}

func (c pgConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if len(args) > 0 {
		query = placeholders(query)
	}
	rows, err := c.Conn.QueryContext(ctx, query, args)
	if err != nil {
		return nil, outage(err)
	}
	return pgRows{rows}, nil
}

// pgRows marks a server lost while a result is read (a crash between the query and its last
// row: unexpected EOF) as the outage it is. The end of the rows, io.EOF, passes unchanged.
type pgRows struct{ driver.Rows }

func (r pgRows) Next(dest []driver.Value) error {
	err := r.Rows.Next(dest)
	if err == io.EOF {
		return err
	}
	return outage(err)
}

func (c pgConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	tx, err := c.Conn.BeginTx(ctx, opts)
	return tx, outage(err)
}

// outage marks an error that means the server is away (down, restarting, unreachable) or a
// lock was not had in time as engine.ErrUnavailable with a Retry-After, for reads and writes
// alike; the original error stays in the chain (database/sql still sees driver.ErrBadConn and
// retries on a fresh connection).
func outage(err error) error {
	if err == nil || !pgUnavailable(err) {
		return err
	}
	return &engine.RetryAfter{Err: fmt.Errorf("%w: %w", errPGUnavailable, err), After: retryAfter}
}

// CheckNamedValue binds a bool as 0 or 1: the schema keeps flags in INTEGER columns.
func (c pgConn) CheckNamedValue(nv *driver.NamedValue) error {
	if b, ok := nv.Value.(bool); ok {
		nv.Value = int64(0)
		if b {
			nv.Value = int64(1)
		}
	}
	return c.Conn.CheckNamedValue(nv)
}

// placeholders numbers the `?` of query as $1, $2, … outside string literals, quoted
// identifiers and comments.
func placeholders(query string) string {
	if !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	for i := 0; i < len(query); i++ {
		switch c := query[i]; c {
		case '\'', '"':
			j := strings.IndexByte(query[i+1:], c)
			if j < 0 {
				b.WriteString(query[i:])
				return b.String()
			}
			b.WriteString(query[i : i+j+2])
			i += j + 1
		case '-':
			if strings.HasPrefix(query[i:], "--") {
				j := strings.IndexByte(query[i:], '\n')
				if j < 0 {
					j = len(query) - i - 1
				}
				b.WriteString(query[i : i+j+1])
				i += j
				continue
			}
			b.WriteByte(c)
		case '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// inInts is the condition "col is one of ids" with one placeholder per ID (never more than a
// credential's galleries), in SQL both engines take; no IDs match nothing.
func inInts(col string, ids []int64) (string, []any) {
	if len(ids) == 0 {
		return "1 = 0", nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	return col + " IN (?" + strings.Repeat(", ?", len(ids)-1) + ")", args
}
