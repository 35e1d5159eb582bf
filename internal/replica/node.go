// Package replica lets several facematch serve processes share one PostgreSQL catalog and one
// bucket (issue 18). Each model's index is held by every node; exactly one node, the holder of
// a lease in PostgreSQL, writes its segments and manifests to the bucket.
//
// The path of an index write: the engine commits the face to the catalog, whose trigger
// appends it to the shared index log in the same transaction (a PostgreSQL table, sequence
// numbers in commit order: a transactional outbox); Shared.Add then applies the log up to it
// on this node before the request is answered. Every other node applies it when PostgreSQL
// notifies it, or at the next poll (notifications are lost while a connection is down). The writer turns the log into segments and manifests like a single
// node turns its WAL; the followers load each new manifest and drop the log tail it covers.
// So no node's disk holds anything acknowledged that is not in PostgreSQL or the bucket.
//
// The lease is a session-level advisory lock on a connection of its own: a writer killed with
// -9 loses it when PostgreSQL sees the socket close, and the next node to poll takes it. A
// writer cut off from PostgreSQL stops writing at once; one that writes on regardless (a pause
// longer than the poll) is fenced by the manifests' create-only writes.
package replica

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// The lease's advisory lock key and the notification channels. The log channel's notifications
// come from the catalog's AppendIndexLog, in the appending transaction.
const (
	leaseKey        int64 = 0x666d_6c65_6173_65 // "fmlease"
	logChannel            = "facematch_index_log"
	manifestChannel       = "facematch_manifest"
	jobsChannel           = "facematch_jobs" // the jobs table's trigger: a job queued or resumed
	// leaseTimeout bounds each statement of the lease connection.
	leaseTimeout = 5 * time.Second
)

// Config configures a replica node.
type Config struct {
	// DSN is the PostgreSQL catalog's connection string: the node keeps two connections of its
	// own there, one holding the lease, one listening.
	DSN string
	Log Log
	// Indexes opens this node's index of each model, by model identity.
	Indexes map[string]OpenIndex
	// Poll is how often the node reads the log and tries for the lease without being told to
	// (default 1 s); RefreshEvery is how often a follower reads the newest manifest without a
	// notification (default 10 s: a List and a Get in the bucket).
	Poll, RefreshEvery time.Duration
	// OnWriter runs after this node became the writer and caught up with the log (the service
	// reconciles the indexes with the catalog there). An error is logged, the role kept.
	OnWriter func(ctx context.Context) error
	Logger   *slog.Logger
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	if c.DSN == "" {
		errs = append(errs, errors.New("replica: DSN is required"))
	}
	if c.Log == nil {
		errs = append(errs, errors.New("replica: Log is required"))
	}
	if len(c.Indexes) == 0 {
		errs = append(errs, errors.New("replica: at least one index is required"))
	}
	if c.Poll < 0 || c.RefreshEvery < 0 {
		errs = append(errs, errors.New("replica: Poll and RefreshEvery must be >= 0"))
	}
	return errors.Join(errs...)
}

// Node is this process as one replica. Start opens its indexes as followers; its goroutines
// (the lease and the listener) are its own, stopped by Close.
type Node struct {
	cfg    Config
	lg     *slog.Logger
	shared map[string]*Shared
	models []string

	stop context.CancelFunc
	wg   sync.WaitGroup

	mu     sync.Mutex
	writer bool
	since  time.Time // when the role last changed

	// jobsQueued is called when any replica queues or resumes a job (OnJobs).
	jobsQueued atomic.Pointer[func()]
}

// OnJobs sets what to call when any replica queues or resumes a job (the job runner's Wake: it
// must not block). A replica that joins only at its next poll would leave a short job's shards
// to the others.
func (n *Node) OnJobs(fn func()) { n.jobsQueued.Store(&fn) }

// Start opens every index as a follower caught up with the log, then starts competing for the
// lease and listening.
func Start(ctx context.Context, cfg Config) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Poll == 0 {
		cfg.Poll = time.Second
	}
	if cfg.RefreshEvery == 0 {
		cfg.RefreshEvery = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	n := &Node{cfg: cfg, lg: cfg.Logger.With("component", "replica"), shared: map[string]*Shared{}, since: time.Now()}
	for model, open := range cfg.Indexes {
		n.models = append(n.models, model)
		s := newShared(model, cfg.Log, open, n.lg)
		if err := s.start(ctx); err != nil {
			n.closeIndexes()
			return nil, err
		}
		n.shared[model] = s
	}
	sort.Strings(n.models)
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	n.stop = cancel
	n.wg.Add(2)
	go func() { defer n.wg.Done(); n.holdLease(rctx) }()
	go func() { defer n.wg.Done(); n.listen(rctx) }()
	return n, nil
}

// Index returns the model's shared index (engine.VectorIndex), nil for an unknown model.
func (n *Node) Index(model string) *Shared { return n.shared[model] }

// Writer reports whether this node holds the lease, and since when its role is what it is.
func (n *Node) Writer() (bool, time.Time) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.writer, n.since
}

// Close stops the goroutines (a writer flushes, then releases the lease with its connection),
// then closes the indexes.
func (n *Node) Close() error {
	n.stop()
	n.wg.Wait()
	return n.closeIndexes()
}

func (n *Node) closeIndexes() error {
	var errs []error
	for _, s := range n.shared {
		errs = append(errs, s.close())
	}
	return errors.Join(errs...)
}

// holdLease tries for the lease every Poll; the holder checks every Poll that its connection
// (and so its lock) is alive, does the writer's chores and steps down when it is not.
func (n *Node) holdLease(ctx context.Context) {
	var conn *pgx.Conn
	defer func() {
		// A stopping writer checkpoints while it still holds the lease, so that the next
		// writer starts from a manifest that covers everything and an empty log.
		if w, _ := n.Writer(); w && conn != nil {
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
			for _, model := range n.models {
				if err := n.shared[model].checkpoint(fctx); err != nil {
					n.lg.Warn("checkpointing the index before giving up the lease failed", "model", model, "err", err)
				}
			}
			cancel()
		}
		if conn != nil {
			conn.Close(context.WithoutCancel(ctx))
		}
	}()
	for {
		if conn == nil {
			c, err := pgx.Connect(ctx, n.cfg.DSN)
			if err == nil {
				conn = c
			} else if ctx.Err() == nil {
				n.lg.Debug("lease connection failed", "err", err)
			}
		}
		if conn != nil {
			if !n.leaseRound(ctx, conn) {
				conn.Close(context.WithoutCancel(ctx))
				conn = nil
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(n.cfg.Poll):
		}
	}
}

// leaseRound is one turn of holdLease; false means the connection is unusable (and a writer
// has stepped down).
func (n *Node) leaseRound(ctx context.Context, conn *pgx.Conn) bool {
	writer, _ := n.Writer()
	// The lease's own statements are bounded: a writer cut off from PostgreSQL by a network
	// that drops packets (no reset) must notice within a poll or two and step down, not when
	// TCP gives up minutes later.
	qctx, cancel := context.WithTimeout(ctx, leaseTimeout)
	defer cancel()
	if !writer {
		var got bool
		if err := conn.QueryRow(qctx, "SELECT pg_try_advisory_lock($1)", leaseKey).Scan(&got); err != nil {
			return false
		}
		if !got {
			return true
		}
		if err := n.setRole(ctx, true); err != nil {
			n.lg.Error("taking the writer's role failed; releasing the lease", "err", err)
			n.setRole(ctx, false)
			_, err := conn.Exec(ctx, "SELECT pg_advisory_unlock($1)", leaseKey)
			return err == nil
		}
		if n.cfg.OnWriter != nil {
			if err := n.cfg.OnWriter(ctx); err != nil && ctx.Err() == nil {
				n.lg.Error("the new writer's start-up work failed", "err", err)
			}
		}
		return true
	}
	if err := conn.Ping(qctx); err != nil {
		if ctx.Err() == nil {
			n.lg.Warn("lost the connection that holds the writer's lease; stepping down", "err", err)
			n.setRole(context.WithoutCancel(ctx), false)
		}
		return false
	}
	for _, model := range n.models {
		s := n.shared[model]
		if ix := s.Index(); ix != nil && ix.Fenced() {
			n.lg.Error("another node wrote the index while this one held the lease; stepping down", "model", model)
			n.setRole(ctx, false)
			_, err := conn.Exec(ctx, "SELECT pg_advisory_unlock($1)", leaseKey)
			return err == nil
		}
		announced, err := s.announce(ctx)
		if err != nil {
			n.lg.Warn("writer's chores failed; retrying at the next poll", "model", model, "err", err)
			continue
		}
		if announced {
			if _, err := conn.Exec(ctx, "SELECT pg_notify($1, $2)", manifestChannel, model); err != nil {
				return false
			}
		}
	}
	return true
}

// setRole switches every index to the role; errors of one model do not stop the others.
func (n *Node) setRole(ctx context.Context, writer bool) error {
	start := time.Now()
	var errs []error
	for _, model := range n.models {
		if err := n.shared[model].become(ctx, writer); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", model, err))
		}
	}
	n.mu.Lock()
	n.writer, n.since = writer, time.Now()
	n.mu.Unlock()
	n.lg.Info("replica role", "writer", writer, "elapsed", time.Since(start))
	return errors.Join(errs...)
}

// listen applies the log on every notification and every Poll, and refreshes followers' manifests
// on every manifest notification and every RefreshEvery. After a reconnection it does both at
// once: notifications sent while it was away are lost.
func (n *Node) listen(ctx context.Context) {
	for ctx.Err() == nil {
		conn, err := pgx.Connect(ctx, n.cfg.DSN)
		if err == nil {
			if _, err = conn.Exec(ctx, "LISTEN "+logChannel+"; LISTEN "+manifestChannel+"; LISTEN "+jobsChannel); err == nil {
				n.refreshAll(ctx)
				n.catchUpAll(ctx)
				if fn := n.jobsQueued.Load(); fn != nil {
					(*fn)() // a job queued while this connection was away
				}
				n.listenOn(ctx, conn)
			}
			conn.Close(context.WithoutCancel(ctx))
		}
		if err != nil && ctx.Err() == nil {
			n.lg.Debug("listen connection failed", "err", err)
			n.catchUpAll(ctx) // the catalog's pool may still reach PostgreSQL
		}
		select {
		case <-ctx.Done():
		case <-time.After(n.cfg.Poll):
		}
	}
}

// listenOn waits for notifications on conn until it fails or ctx ends.
func (n *Node) listenOn(ctx context.Context, conn *pgx.Conn) {
	lastRefresh := time.Now()
	for ctx.Err() == nil {
		wctx, cancel := context.WithTimeout(ctx, n.cfg.Poll)
		note, err := conn.WaitForNotification(wctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			if conn.IsClosed() || !errors.Is(wctx.Err(), context.DeadlineExceeded) {
				return
			}
			n.catchUpAll(ctx)
			if time.Since(lastRefresh) >= n.cfg.RefreshEvery {
				n.refreshAll(ctx)
				lastRefresh = time.Now()
			}
			continue
		}
		if note.Channel == jobsChannel {
			if fn := n.jobsQueued.Load(); fn != nil {
				(*fn)()
			}
			continue
		}
		s := n.shared[note.Payload]
		if s == nil {
			continue
		}
		switch note.Channel {
		case logChannel:
			n.catchUp(ctx, s)
		case manifestChannel:
			if err := s.Refresh(ctx); err != nil && ctx.Err() == nil {
				n.lg.Warn("loading a new manifest failed; the next poll retries", "model", s.model, "err", err)
			}
		}
	}
}

func (n *Node) catchUp(ctx context.Context, s *Shared) {
	if err := s.CatchUp(ctx); err != nil && ctx.Err() == nil {
		n.lg.Warn("applying the index log failed; the next poll retries", "model", s.model, "err", err)
	}
}

func (n *Node) catchUpAll(ctx context.Context) {
	for _, model := range n.models {
		n.catchUp(ctx, n.shared[model])
	}
}

func (n *Node) refreshAll(ctx context.Context) {
	for _, model := range n.models {
		if err := n.shared[model].Refresh(ctx); err != nil && ctx.Err() == nil {
			n.lg.Warn("loading the newest manifest failed; the next poll retries", "model", model, "err", err)
		}
	}
}
