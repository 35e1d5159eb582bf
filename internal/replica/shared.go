package replica

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/facematch/facematch/index"
	"github.com/facematch/facematch/internal/catalog"
)

// Log is the shared index log as a replica uses it (internal/catalog implements it on
// PostgreSQL): sequence numbers are assigned in commit order, so reading after the last one
// applied never skips a committed operation.
type Log interface {
	AppendIndexLog(ctx context.Context, ops []catalog.IndexLogOp) (int64, error)
	LogStoredFaces(ctx context.Context, model string, faceIDs []int64) (int, error)
	IndexLogAfter(ctx context.Context, model string, after int64, limit int) ([]catalog.IndexLogOp, error)
	TrimIndexLog(ctx context.Context, model string, upTo int64) error
}

// OpenIndex opens this node's index of one model, as the writer or as a follower.
type OpenIndex func(ctx context.Context, follower bool) (*index.Index, error)

// pageSize is how many log operations one read brings: a page of 512-d adds is about 2 MB.
const pageSize = 1000

// Shared is one model's index on one replica, as the engine sees it (engine.VectorIndex).
// Writes go to the shared log first and reach this node's index, like every other node's,
// by reading the log in sequence order; searches read this node's index.
type Shared struct {
	model string
	log   Log
	open  OpenIndex
	lg    *slog.Logger

	// mu guards ix and writer: a role change swaps the index under the write lock, so a search
	// holds the read lock for as long as it uses the index.
	mu     sync.RWMutex
	ix     *index.Index
	writer bool
	// applying serialises catching up: operations reach the index in sequence order, once.
	applying sync.Mutex
	// notified is the manifest generation last announced and when (writer only; applying
	// guards both).
	notified   uint64
	notifiedAt time.Time
}

// A writer seals its growing segment into a checkpoint when the log holds this many operations
// past its last manifest, or has held any for this long: the log is the writer's WAL, and a
// short one makes a new writer's or a restarted follower's replay short.
const (
	checkpointOps = 20_000
	checkpointAge = 10 * time.Minute
)

func newShared(model string, log Log, open OpenIndex, lg *slog.Logger) *Shared {
	return &Shared{model: model, log: log, open: open, lg: lg.With("model", model)}
}

// start opens the index as a follower and catches up with the log.
func (s *Shared) start(ctx context.Context) error {
	ix, err := s.open(ctx, true)
	if err != nil {
		return err
	}
	s.ix = ix
	return s.CatchUp(ctx)
}

// Index returns the index this node searches now (for statistics; it changes with the role).
func (s *Shared) Index() *index.Index {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.ix
}

// Writer reports whether this node writes the model's index now.
func (s *Shared) Writer() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.writer
}

// Add makes the entries searchable on this node when it returns, and on the others once they
// have read the log. The catalog's commit of a face put its vector in the shared log already
// (the faces table's trigger: the log is a transactional outbox), so Add brings this node's
// index up to the log. A face still missing then (a reconciliation's find) is logged again from
// its row in the catalog, never from the entry: a face deleted meanwhile stays deleted.
func (s *Shared) Add(ctx context.Context, model string, entries []index.Entry) error {
	if model != s.model {
		return fmt.Errorf("replica: index of %s given vectors of %s", s.model, model)
	}
	if len(entries) == 0 {
		return nil
	}
	if err := s.CatchUp(ctx); err != nil {
		return err
	}
	var missing []int64
	for _, e := range entries {
		if !s.has(e.ID) {
			missing = append(missing, int64(e.ID))
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if _, err := s.log.LogStoredFaces(ctx, model, missing); err != nil {
		return fmt.Errorf("replica: log stored faces: %w", err)
	}
	return s.CatchUp(ctx)
}

// DeleteBatch makes the faces unsearchable on this node when it returns, and on the others once
// they have read the log. A face deleted from the catalog is in the log already (the trigger);
// one this node's index still holds after catching up (a reconciliation's stray) is logged as
// deleted, with its vector forgotten in the log. Every face counts as found: deleting one the
// index never had is a no-op on every node.
func (s *Shared) DeleteBatch(ctx context.Context, ids []uint64) ([]uint64, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	if err := s.CatchUp(ctx); err != nil {
		return nil, err
	}
	var ops []catalog.IndexLogOp
	for _, id := range ids {
		if s.has(id) {
			ops = append(ops, catalog.IndexLogOp{Model: s.model, Delete: true, FaceID: int64(id)})
		}
	}
	if len(ops) == 0 {
		return nil, nil
	}
	if _, err := s.log.AppendIndexLog(ctx, ops); err != nil { // forgets their vectors in the log too
		return nil, fmt.Errorf("replica: log deletions: %w", err)
	}
	return nil, s.CatchUp(ctx)
}

func (s *Shared) has(id uint64) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.ix.Has(id)
}

// Search searches this node's index.
func (s *Shared) Search(ctx context.Context, model string, query []float32, k int, f index.Filter) ([]index.Hit, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.ix.Search(ctx, model, query, k, f)
}

// NeighbourGraph reads the neighbour lists from this node's index.
func (s *Shared) NeighbourGraph(ctx context.Context, model string, f index.Filter, k, workers int) ([]uint64, [][]index.Hit, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.ix.NeighbourGraph(ctx, model, f, k, workers)
}

// CatchUp applies every logged operation after the last one applied. When the log no longer
// holds the next operations (the writer trimmed what a manifest covers), a follower loads the
// newer manifest first.
func (s *Shared) CatchUp(ctx context.Context) error {
	s.applying.Lock()
	defer s.applying.Unlock()
	return s.catchUp(ctx)
}

// catchUp is CatchUp with applying held.
func (s *Shared) catchUp(ctx context.Context) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	refreshed := false
	for {
		applied := s.ix.AppliedSeq()
		ops, err := s.log.IndexLogAfter(ctx, s.model, int64(applied), pageSize)
		if err != nil {
			return fmt.Errorf("replica: read the index log: %w", err)
		}
		if len(ops) == 0 {
			return nil
		}
		// A jump past the next number is either a sequence gap (an append that rolled back)
		// or a trim; a manifest covers a trimmed stretch, so a follower reads it once first.
		if uint64(ops[0].Seq) > applied+1 && !refreshed && !s.writer {
			refreshed = true
			if _, err := s.ix.Refresh(ctx); err != nil {
				return fmt.Errorf("replica: refresh before a jump in the log: %w", err)
			}
			continue
		}
		if err := s.ix.Apply(ctx, s.model, indexOps(ops)); err != nil {
			return fmt.Errorf("replica: apply the index log: %w", err)
		}
		if len(ops) < pageSize {
			return nil
		}
	}
}

func indexOps(ops []catalog.IndexLogOp) []index.Op {
	out := make([]index.Op, len(ops))
	for i, o := range ops {
		out[i] = index.Op{Seq: uint64(o.Seq), Delete: o.Delete, Entry: index.Entry{ID: uint64(o.FaceID), Gallery: uint64(o.GalleryID), Vector: o.Vector}}
		// An add whose vector a later deletion forgot is that deletion's business: skip it.
		if !o.Delete && len(o.Vector) == 0 {
			out[i].Delete = true
		}
	}
	return out
}

// Refresh makes a follower load the newest manifest (a no-op on the writer).
func (s *Shared) Refresh(ctx context.Context) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.writer {
		return nil
	}
	if _, err := s.ix.Refresh(ctx); err != nil {
		return fmt.Errorf("replica: refresh: %w", err)
	}
	return nil
}

// become switches this node's index to the writer's role or back to a follower's: the new
// index is opened and caught up before it replaces the old one, so searches never wait for a
// load. A node that loses the lease stops writing at once (its index is closed without a
// flush: the log keeps what it had not persisted, and the next writer persists it).
func (s *Shared) become(ctx context.Context, writer bool) error {
	s.applying.Lock()
	defer s.applying.Unlock()
	if s.Writer() == writer {
		return nil
	}
	start := time.Now()
	ix, err := s.open(ctx, !writer)
	if err != nil {
		return err
	}
	s.mu.Lock()
	old := s.ix
	s.ix, s.writer = ix, writer
	s.notified, s.notifiedAt = 0, time.Time{}
	s.mu.Unlock()
	if err := old.Close(); err != nil && !errors.Is(err, index.ErrFenced) {
		s.lg.Warn("closing the index of the earlier role", "err", err)
	}
	if err := s.catchUp(ctx); err != nil {
		return err
	}
	s.lg.Info("index role changed", "writer", writer, "applied_seq", ix.AppliedSeq(), "elapsed", time.Since(start))
	return nil
}

// announce is the writer's duty after its index published a manifest: trim the log it covers
// and return true when there is a new manifest to tell the followers about.
func (s *Shared) announce(ctx context.Context) (bool, error) {
	s.applying.Lock()
	defer s.applying.Unlock()
	s.mu.RLock()
	defer s.mu.RUnlock()
	if !s.writer {
		return false, nil
	}
	st := s.ix.Stats()
	if st.AppliedSeq > st.ManifestSourceSeq && (st.AppliedSeq-st.ManifestSourceSeq >= checkpointOps ||
		(!s.notifiedAt.IsZero() && time.Since(s.notifiedAt) >= checkpointAge)) {
		if err := s.ix.Checkpoint(ctx); err != nil {
			return false, fmt.Errorf("replica: checkpoint: %w", err)
		}
		st = s.ix.Stats()
	}
	if s.notifiedAt.IsZero() {
		s.notifiedAt = time.Now()
	}
	if st.ManifestGeneration == 0 || st.ManifestGeneration == s.notified {
		return false, nil
	}
	if err := s.log.TrimIndexLog(ctx, s.model, int64(st.ManifestSourceSeq)); err != nil {
		return false, fmt.Errorf("replica: trim the index log: %w", err)
	}
	s.notified, s.notifiedAt = st.ManifestGeneration, time.Now()
	return true, nil
}

// checkpoint persists everything a writer holds, its growing segment included (a no-op on a
// follower).
func (s *Shared) checkpoint(ctx context.Context) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if !s.writer || s.ix == nil {
		return nil
	}
	return s.ix.Checkpoint(ctx)
}

// close closes the index (a writer has checkpointed while it held the lease: see Node.holdLease).
func (s *Shared) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ix == nil {
		return nil
	}
	err := s.ix.Close()
	s.ix = nil
	return err
}
