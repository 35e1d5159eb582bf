package catalog

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/facematch/facematch/engine"
)

// Shards returns the claimer of jobs and of ingest jobs' shards (engine.ShardClaimer, for
// engine.ServiceConfig.Shards) of a catalog several processes share, PostgreSQL; nil on
// SQLite, whose catalog belongs to one process that runs a job's every file. A separate value
// rather than methods of DB: a DB on SQLite must not look shareable to the engine.
func (d *DB) Shards() engine.ShardClaimer {
	if d.claims == nil {
		return nil
	}
	return d.claims
}

// wholeJob is the shard number a claim of a whole job takes (a reprocess job's: its work is
// not sharded); the shards of an ingest job's files are 0 to engine.JobShards-1, and
// engine.JobShards the finishing one.
const wholeJob = -1

// ClaimJob claims a whole job for this process: the shard wholeJob, which no file falls into.
func (c *shardClaimer) ClaimJob(ctx context.Context, id int64) (release func(), claimed bool, err error) {
	return c.ClaimShard(ctx, id, wholeJob)
}

// shardClaimer claims shards with PostgreSQL session advisory locks, pg_try_advisory_lock(key1,
// key2): key1 is the job's shard namespace (shardKey), key2 the shard. A lock is held by one
// database session, so it ends with its release or with the process (its connection closes).
// All of a process's claims share one session connection, taken from the pool with the first
// claim and discarded (never returned to the pool with a lock left on it) with the last
// release: one connection per process, not one per shard, on a server whose connections every
// replica shares. Done shards are rows of job_shards.
//
// A shardClaimer is safe for concurrent use.
type shardClaimer struct {
	d    *DB
	pool *sql.DB // the catalog's pool, which a session connection is taken from

	// mu guards the session and the claims held on it, and serialises the statements run on
	// the session connection.
	mu      sync.Mutex
	session *sql.Conn
	pid     int32             // the session's server process, whose locks pg_locks lists
	held    map[[2]int32]bool // (key1, shard): a claim of this process
	jobs    map[int64]bool    // jobs this process has claimed shards of: their commits are checked
}

var _ engine.ShardClaimer = (*shardClaimer)(nil)

// shardKey is the first advisory-lock key of a job's shards. The keys of job shards are
// negative, so that they meet no lock keyed by a (positive) ID of another kind; the two-key
// lock space does not overlap the one-key (bigint) space either. Job IDs 2^31 apart share a
// namespace: harmless while fewer jobs than that run at once.
func shardKey(jobID int64) int32 {
	return -1 - int32(jobID&0x7fffffff)
}

// ClaimShard takes the shard's advisory lock on the process's session, without waiting, and
// keeps it unless the shard turns out done (checked under the lock: a shard's holder records
// it done before it releases it).
func (c *shardClaimer) ClaimShard(ctx context.Context, jobID int64, shard int) (func(), bool, error) {
	key := [2]int32{shardKey(jobID), int32(shard)}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.held[key] {
		return nil, false, nil // another run of this process holds it
	}
	if c.session == nil {
		conn, err := c.pool.Conn(ctx)
		if err != nil {
			return nil, false, unavailable(fmt.Errorf("catalog: shard session: %w", err))
		}
		if err := conn.QueryRowContext(ctx, `SELECT pg_backend_pid()`).Scan(&c.pid); err != nil {
			conn.Raw(func(any) error { return driver.ErrBadConn })
			conn.Close()
			return nil, false, unavailable(fmt.Errorf("catalog: shard session: %w", err))
		}
		c.session = conn
	}
	var ok bool
	if err := c.session.QueryRowContext(ctx, `SELECT pg_try_advisory_lock($1, $2)`, key[0], key[1]).Scan(&ok); err != nil {
		c.dropSessionIfIdle(true)
		return nil, false, unavailable(fmt.Errorf("catalog: claim job %d shard %d: %w", jobID, shard, err))
	}
	if !ok {
		c.dropSessionIfIdle(false)
		return nil, false, nil
	}
	c.held[key] = true
	if c.jobs == nil {
		c.jobs = map[int64]bool{}
	}
	c.jobs[jobID] = true
	var x int
	err := c.d.db.QueryRowContext(ctx, `SELECT 1 FROM job_shards WHERE job_id = ? AND shard = ?`, jobID, shard).Scan(&x)
	if err == nil || !errors.Is(err, sql.ErrNoRows) {
		c.unlock(key)
		if err == nil {
			return nil, false, nil // done
		}
		return nil, false, fmt.Errorf("catalog: job %d shard %d: %w", jobID, shard, err)
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			c.unlock(key)
		})
	}, true, nil
}

// unlock gives up a claim; c.mu is held. A failed unlock discards the session, which ends its
// locks anyway.
func (c *shardClaimer) unlock(key [2]int32) {
	if !c.held[key] || c.session == nil {
		return // lost with a failed session
	}
	delete(c.held, key)
	// The claim's context may be over: the unlock must run regardless, and quickly.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := c.session.ExecContext(ctx, `SELECT pg_advisory_unlock($1, $2)`, key[0], key[1])
	c.dropSessionIfIdle(err != nil)
}

// dropSessionIfIdle discards the session connection when no claim is left on it, or at once
// when it failed (its locks went with it). A discarded connection is closed, not pooled:
// a session lock must never outlive the claims in the hands of the pool's next user. c.mu is
// held.
func (c *shardClaimer) dropSessionIfIdle(failed bool) {
	if c.session == nil || (!failed && len(c.held) > 0) {
		return
	}
	c.session.Raw(func(any) error { return driver.ErrBadConn }) // closes it
	c.session.Close()
	c.session = nil
	if failed {
		clear(c.held) // their locks ended with the session: a later claim asks the server again
	}
}

// checkHeld refuses, inside the committing write transaction, files of an ingest job this
// process works on in shards whose claims it no longer holds: a broken session ends its locks
// without telling the process, and another process may hold those shards now. Under the write
// lock, the check and the commit are one step: two processes never both commit a file. Jobs
// this process never claimed shards of are not checked (one not run sharded here).
func (c *shardClaimer) checkHeld(ctx context.Context, tx *sql.Tx, jobID int64, names []string) error {
	c.mu.Lock()
	watched, pid := c.jobs[jobID], c.pid
	alive := c.session != nil
	c.mu.Unlock()
	if !watched || len(names) == 0 {
		return nil
	}
	key1 := shardKey(jobID)
	lost := func(shard int) error {
		c.mu.Lock()
		c.dropSessionIfIdle(true) // a dead session is dropped; later claims open a new one
		c.mu.Unlock()
		return fmt.Errorf("catalog: job %d shard %d: %w", jobID, shard, engine.ErrClaimLost)
	}
	if !alive {
		return lost(engine.ShardOf(names[0]))
	}
	// Two-key advisory locks are listed with the keys as classid and objid, objsubid 2.
	rows, err := tx.QueryContext(ctx, `SELECT objid FROM pg_locks WHERE locktype = 'advisory' AND granted
		AND objsubid = 2 AND pid = ? AND classid = ?`, pid, int64(uint32(key1)))
	if err != nil {
		return fmt.Errorf("catalog: job %d claims: %w", jobID, err)
	}
	defer rows.Close()
	have := map[int64]bool{}
	for rows.Next() {
		var shard int64
		if err := rows.Scan(&shard); err != nil {
			return fmt.Errorf("catalog: job %d claims: %w", jobID, err)
		}
		have[shard] = true
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("catalog: job %d claims: %w", jobID, err)
	}
	for _, name := range names {
		if shard := engine.ShardOf(name); !have[int64(shard)] {
			return lost(shard)
		}
	}
	return nil
}

// close ends every claim of this process with its session.
func (c *shardClaimer) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dropSessionIfIdle(true)
}

// FinishShards records the shards done, in one write transaction, and counts the job's done
// shards.
func (c *shardClaimer) FinishShards(ctx context.Context, jobID int64, shards []int) (bool, error) {
	var n int
	err := c.d.tx(ctx, func(tx *sql.Tx) error {
		at := fmtTime(time.Now())
		for _, s := range shards {
			if _, err := tx.ExecContext(ctx, `INSERT INTO job_shards (job_id, shard, done_at) VALUES (?, ?, ?)
				ON CONFLICT (job_id, shard) DO NOTHING`, jobID, s, at); err != nil {
				return fmt.Errorf("catalog: job %d shard %d done: %w", jobID, s, err)
			}
		}
		// Shards outside [0, JobShards) are not the job's files' (the finishing shard is never
		// recorded; this guards the count).
		return tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM job_shards WHERE job_id = ? AND shard >= 0 AND shard < ?`,
			jobID, engine.JobShards).Scan(&n)
	})
	if err != nil {
		return false, err
	}
	return n == engine.JobShards, nil
}

// ShardsDone lists the job's done shards.
func (c *shardClaimer) ShardsDone(ctx context.Context, jobID int64) ([]int, error) {
	rows, err := c.d.db.QueryContext(ctx, `SELECT shard FROM job_shards WHERE job_id = ? ORDER BY shard`, jobID)
	if err != nil {
		return nil, fmt.Errorf("catalog: job %d shards: %w", jobID, err)
	}
	defer rows.Close()
	var out []int
	for rows.Next() {
		var s int
		if err := rows.Scan(&s); err != nil {
			return nil, fmt.Errorf("catalog: job %d shards: %w", jobID, err)
		}
		out = append(out, s)
	}
	return out, rows.Err()
}
