package index

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/facematch/facematch/internal/blob"
)

// Several processes over one index (issue 18). Every write is first appended to a durable log
// shared by all of them (PostgreSQL, outside this package), with sequence numbers in commit
// order; every process applies the log to its own index in that order (Apply). One of them, the
// writer, persists what it applied as segments and manifests, as an index without a shared log
// does; each manifest carries the last sequence number it reflects (manifest.SourceSeq). The
// others are followers: they serve the latest manifest's segments and keep what they applied
// since in memory (the tail), and Refresh moves them to a newer manifest, dropping the tail ops
// it covers. A process that opens, writer or follower, re-applies the log after AppliedSeq.
//
// Fencing: the writer's lease is held elsewhere, but a writer that lost it may not know yet.
// Manifests are create-only, so the loser's next publish finds its generation taken (or a newer
// one listed after its own): it stops writing to the store for good (ErrFenced), before it
// deletes anything a newer manifest may name. Segment keys carry a per-Open tag, so the loser's
// uploads never overwrite the winner's objects.

// Op is one operation of the shared log: an add of Entry, or (Delete) the deletion of Entry.ID.
type Op struct {
	Seq    uint64 // the log's sequence number, increasing in commit order
	Delete bool
	Entry  Entry // a delete uses ID only
}

// refreshAttempts bounds how many newer manifests Refresh tries when a segment object named by
// the one it read is gone (the writer merged or compacted it away meanwhile).
const refreshAttempts = 5

// sharedState is the Index's shared-log state. Fields without a note are guarded by Index.mu.
type sharedState struct {
	// applied is the last sequence number applied (AppliedSeq).
	applied uint64
	// marks (writer): the sequence number of the op each LSN given since the persisted manifest
	// stands for, ascending, so a manifest covering LSN x records the Seq of x; base is the
	// persisted manifest's SourceSeq.
	marks []seqMark
	base  uint64
	// tailSeqs (follower): the Seq of each face of the growing segment, which is the tail;
	// tailDeletes: the deletes applied since the held manifest.
	tailSeqs    []uint64
	tailDeletes []seqMark
	// tag (writer) goes into segment keys, so that two writers never write the same object;
	// set at Open.
	tag string
	// fenced: another writer published over this one's manifests; set once, read without a lock.
	fenced atomic.Bool
	// applyMu serialises Apply with Refresh's swap and is taken before mu, so Refresh builds
	// the new state from a tail nothing changes meanwhile while searches go on under mu's read
	// side.
	applyMu sync.Mutex
	// refreshMu makes Refreshes run one at a time; taken before applyMu.
	refreshMu sync.Mutex
}

// seqMark pairs an LSN (writer) or a face ID (follower's deletes) with a log sequence number.
type seqMark struct {
	at, seq uint64
}

// openShared sets up the shared-log state after load.
func (ix *Index) openShared() {
	ix.shared.applied = ix.persisted.SourceSeq
	ix.shared.base = ix.persisted.SourceSeq
	if !ix.cfg.Follower {
		ix.shared.tag = fmt.Sprintf("%08x", rand.Uint32())
	}
}

// removeWAL deletes every WAL file in dir. With a shared log the log is authoritative: a WAL left
// by an earlier run (another term, maybe another mode) replayed over it could resurrect or
// reorder writes.
func removeWAL(dir string, log *slog.Logger) error {
	nums, err := walFiles(dir)
	if err != nil {
		return err
	}
	for _, num := range nums {
		if err := os.Remove(filepath.Join(dir, walName(num))); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("index: remove stale wal: %w", err)
		}
	}
	if len(nums) > 0 {
		log.Info("removed a stale wal: the shared log is authoritative", "files", len(nums))
	}
	return nil
}

// segmentKey names the object of segment seq written for generation gen by this index.
func (ix *Index) segmentKey(seq, gen uint64) string {
	return writerSegmentKey(ix.cfg.Prefix, seq, gen, ix.shared.tag)
}

// AppliedSeq is the last sequence number of the shared log the index reflects: the caller
// applies the log from the next one (after Open, and after a reconnect).
func (ix *Index) AppliedSeq() uint64 {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.shared.applied
}

// Fenced reports whether another writer took the index over: it then writes nothing more to
// the store, and Flush, Checkpoint and Compact return ErrFenced.
func (ix *Index) Fenced() bool { return ix.shared.fenced.Load() }

// Apply applies ops of the shared log in order (Config.SharedLog only). Ops at or below
// AppliedSeq are skipped (a log is redelivered after a reconnect); Seqs must increase within a
// call. A delete of an ID the index lacks and an add of an ID it has (or had) are no-ops. When it
// returns nil the ops are searchable; they are durable because the log is.
//
// The writer does not append them to a WAL: the log already made them durable, and a WAL would
// cost one fsync per call for nothing, since a restart re-applies the log after the manifest's
// SourceSeq. Either all ops are applied or none (every vector is checked first).
func (ix *Index) Apply(ctx context.Context, model string, ops []Op) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !ix.cfg.SharedLog {
		return errors.New("index: Apply needs Config.SharedLog (use Add and Delete)")
	}
	if model != ix.cfg.Model {
		return fmt.Errorf("%w: got %s, index holds %s", ErrModelMismatch, model, ix.cfg.Model)
	}
	for i, op := range ops {
		if i > 0 && op.Seq <= ops[i-1].Seq {
			return fmt.Errorf("index: apply: seq %d follows %d: sequence numbers must increase", op.Seq, ops[i-1].Seq)
		}
		if !op.Delete {
			if err := ix.checkVector(model, op.Entry.Vector); err != nil {
				return fmt.Errorf("face %d (seq %d): %w", op.Entry.ID, op.Seq, err)
			}
		}
	}
	ix.shared.applyMu.Lock()
	defer ix.shared.applyMu.Unlock()
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.closed {
		return ErrClosed
	}
	// A run of deletes is applied with one copy of the tombstone set, under one LSN: no seal
	// can fall inside it, since only an insert seals.
	var run []uint64
	var runSeq uint64
	deleted := false
	endRun := func() {
		if len(run) == 0 {
			return
		}
		ix.lsn++
		ix.applyDeletes([]record{{kind: recDeleteBatch, lsn: ix.lsn, ids: run}})
		ix.noteSeq(ix.lsn, runSeq)
		run, deleted = nil, true
	}
	for _, op := range ops {
		if op.Seq <= ix.shared.applied {
			continue
		}
		ix.shared.applied = op.Seq
		id := op.Entry.ID
		if op.Delete {
			if _, ok := ix.live[id]; ok {
				delete(ix.live, id) // applyDeletes does it too; here it makes a repeat a no-op
				run, runSeq = append(run, id), op.Seq
				if ix.cfg.Follower {
					ix.shared.tailDeletes = append(ix.shared.tailDeletes, seqMark{at: id, seq: op.Seq})
				}
			}
			continue
		}
		endRun()
		_, isLive := ix.live[id]
		_, isDead := (*ix.tombstones.Load())[id]
		if isLive || isDead {
			continue
		}
		ix.lsn++
		if ix.cfg.Follower {
			ix.shared.tailSeqs = append(ix.shared.tailSeqs, op.Seq)
		}
		ix.noteSeq(ix.lsn, op.Seq)
		ix.applyInsert(record{kind: recInsert, lsn: ix.lsn, id: id, gallery: op.Entry.Gallery, vector: op.Entry.Vector})
	}
	endRun()
	if deleted && !ix.cfg.Follower {
		select {
		case ix.deleted <- struct{}{}:
		default: // a compaction is already due
		}
	}
	return nil
}

// noteSeq records (writer) that lsn stands for the op of sequence number seq. The caller holds
// mu for writing.
func (ix *Index) noteSeq(lsn, seq uint64) {
	if !ix.cfg.Follower {
		ix.shared.marks = append(ix.shared.marks, seqMark{at: lsn, seq: seq})
	}
}

// seqAt is the sequence number of the last op at or before lsn: a manifest covering lsn reflects
// the log up to it. The caller holds mu.
func (ix *Index) seqAt(lsn uint64) uint64 {
	m := ix.shared.marks
	i := sort.Search(len(m), func(i int) bool { return m[i].at > lsn })
	if i == 0 {
		return ix.shared.base
	}
	return m[i-1].seq
}

// dropSeqMarks forgets the marks a published manifest covers. The caller holds mu for writing.
func (ix *Index) dropSeqMarks(covered, seq uint64) {
	m := ix.shared.marks
	i := sort.Search(len(m), func(i int) bool { return m[i].at > covered })
	ix.shared.marks = append(m[:0:0], m[i:]...)
	ix.shared.base = max(ix.shared.base, seq)
}

// fence stops a shared log's writer from writing to the store for good, once err showed that
// another writer published a manifest (a non-shared index reports err and retries, as before).
func (ix *Index) fence(err error) error {
	if !ix.cfg.SharedLog {
		return err
	}
	if ix.shared.fenced.CompareAndSwap(false, true) {
		ix.log.Error("another writer published a manifest: this index is fenced and writes nothing more to the store", "err", err)
	}
	return fmt.Errorf("%w: %w", ErrFenced, err)
}

// checkFenced runs after a manifest of generation gen was stored: a newer one listed means
// another writer has taken over (and may have deleted the generation this one took, so the
// create-only put could not tell). It runs before the deletes that follow a publish, which
// could remove objects the newer manifest names.
func (ix *Index) checkFenced(ctx context.Context, gen uint64) error {
	if !ix.cfg.SharedLog {
		return nil
	}
	gens, err := manifestGenerations(ctx, ix.cfg.Store, ix.cfg.Prefix)
	if err != nil {
		// Unsure: delete nothing. The retry finds the manifest stored and its state the same.
		return err
	}
	for _, g := range gens {
		if g > gen {
			return ix.fence(fmt.Errorf("index: manifest generation %d follows this index's %d: %w", g, gen, ErrConcurrentWriter))
		}
	}
	return nil
}

// idleFenced is a fenced writer's persister: it writes nothing and answers Compact with
// ErrFenced until Close.
func (ix *Index) idleFenced(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case reply := <-ix.compactC:
			reply <- fmt.Errorf("index: compact: %w", ErrFenced)
		case <-ix.wake:
		case <-ix.deleted:
		}
	}
}

// Refresh moves a follower to the latest manifest when it is newer than the one held: it loads
// the segments the manifest names that are not loaded yet (the others are kept, matched by
// object key), swaps them in with the manifest's tombstones in one step for searches (a search
// running meanwhile finishes on the old view), drops the tail ops the manifest covers (Seq at or
// below its SourceSeq) and keeps the later ones. When a named segment object is gone (the
// writer merged it away meanwhile) it tries again with the newest manifest, a few times.
// It reports whether the index changed.
func (ix *Index) Refresh(ctx context.Context) (changed bool, err error) {
	if !ix.cfg.Follower {
		return false, errors.New("index: Refresh is for a follower (Config.Follower)")
	}
	ix.shared.refreshMu.Lock()
	defer ix.shared.refreshMu.Unlock()
	ix.mu.RLock()
	if ix.closed {
		ix.mu.RUnlock()
		return false, ErrClosed
	}
	held := ix.persisted.Generation
	loaded := make(map[string]*segment, len(ix.sealed))
	for _, s := range ix.sealed {
		loaded[s.key] = s
	}
	ix.mu.RUnlock()

	// fetched keeps what one attempt read for the next: a newer manifest mostly names them too.
	fetched := map[string]*segment{}
	used := false
	defer func() {
		if !used {
			for _, s := range fetched {
				ix.retire(s)
			}
		}
	}()
	var m *manifest
	for attempt := 1; ; attempt++ {
		latest, _, err := latestManifest(ctx, ix.cfg.Store, ix.cfg.Prefix)
		if err != nil {
			return false, err
		}
		if latest == nil || latest.Generation <= held {
			return false, nil
		}
		if latest.Model != ix.cfg.Model || latest.Dim != ix.cfg.Dim {
			return false, fmt.Errorf("%w: stored index is %s (%d-d), configured %s (%d-d)", ErrModelMismatch, latest.Model, latest.Dim, ix.cfg.Model, ix.cfg.Dim)
		}
		err = ix.fetchSegments(ctx, latest, loaded, fetched)
		if err == nil {
			m = latest
			break
		}
		if !errors.Is(err, blob.ErrNotFound) || attempt == refreshAttempts {
			return false, fmt.Errorf("index: refresh to manifest %d (attempt %d): %w", latest.Generation, attempt, err)
		}
		ix.log.Info("a segment of the latest manifest is gone (merged away meanwhile); reading the newest", "generation", latest.Generation, "err", err)
	}

	ix.shared.applyMu.Lock()
	defer ix.shared.applyMu.Unlock()
	// Build the new state under the read lock only (Apply is held off by applyMu), so searches
	// go on while it is built.
	ix.mu.RLock()
	if ix.closed {
		ix.mu.RUnlock()
		return false, ErrClosed
	}
	next := ix.followerState(m, loaded, fetched)
	ix.mu.RUnlock()

	ix.mu.Lock()
	if ix.closed {
		ix.mu.Unlock()
		return false, ErrClosed
	}
	inNew := make(map[*segment]bool, len(next.sealed))
	for _, s := range next.sealed {
		inNew[s] = true
	}
	var old []*segment
	for _, s := range ix.sealed {
		if !inNew[s] {
			old = append(old, s)
		}
	}
	ix.sealed, ix.growing, ix.live = next.sealed, next.growing, next.live
	ix.tombstones.Store(&next.tombstones)
	ix.shared.tailSeqs, ix.shared.tailDeletes = next.tailSeqs, next.tailDeletes
	ix.lastLSNs = make(map[*segment]uint64, len(next.sealed))
	for _, s := range next.sealed {
		ix.lastLSNs[s] = m.CoveredLSN
	}
	ix.persisted = *m
	ix.shared.applied = max(ix.shared.applied, m.SourceSeq)
	ix.shared.base = max(ix.shared.base, m.SourceSeq)
	ix.mu.Unlock()
	used = true
	// Loaded and fetched segments the manifest does not name go: their files now, their mappings
	// with the last search that holds a view.
	for key, s := range fetched {
		if !inNew[s] {
			ix.retire(s)
			delete(fetched, key)
		}
	}
	ix.retire(old...)
	ix.log.Info("follower refreshed", "generation", m.Generation, "source_seq", m.SourceSeq, "segments", len(next.sealed),
		"tail", next.growing.len(), "retired", len(old))
	return true, nil
}

// fetchSegments reads the segments m names that are neither loaded nor fetched into fetched.
func (ix *Index) fetchSegments(ctx context.Context, m *manifest, loaded, fetched map[string]*segment) error {
	for _, ms := range m.Segments {
		if loaded[ms.Key] != nil || fetched[ms.Key] != nil {
			continue
		}
		s, err := ix.readSegment(ctx, ms)
		if err != nil {
			return err
		}
		fetched[ms.Key] = s
	}
	return nil
}

// followerView is the state a follower swaps in at a Refresh.
type followerView struct {
	sealed      []*segment
	growing     *segment
	live        map[uint64]struct{}
	tombstones  map[uint64]uint64
	tailSeqs    []uint64
	tailDeletes []seqMark
}

// followerState is m's segments and tombstones with the tail ops after m.SourceSeq on top. The
// caller holds mu (for reading at least) and applyMu.
func (ix *Index) followerState(m *manifest, loaded, fetched map[string]*segment) followerView {
	v := followerView{tombstones: make(map[uint64]uint64, len(m.Tombstones)), live: map[uint64]struct{}{}}
	for _, ms := range m.Segments {
		s := loaded[ms.Key]
		if s == nil {
			s = fetched[ms.Key]
		}
		v.sealed = append(v.sealed, s)
	}
	for _, id := range m.Tombstones {
		v.tombstones[id] = m.SourceSeq
	}
	for _, d := range ix.shared.tailDeletes {
		if d.seq > m.SourceSeq {
			v.tombstones[d.at] = d.seq
			v.tailDeletes = append(v.tailDeletes, d)
		}
	}
	// A new segment, not a trimmed one: views of the old tail share its arrays.
	g := ix.growing
	v.growing = newSegment(g.seq, g.dim)
	for i, seq := range ix.shared.tailSeqs {
		if seq > m.SourceSeq {
			v.growing.add(g.ids[i], g.galleries[i], g.vectors[i*g.dim:(i+1)*g.dim])
			v.tailSeqs = append(v.tailSeqs, seq)
		}
	}
	for _, s := range append(v.sealed[:len(v.sealed):len(v.sealed)], v.growing) {
		for _, id := range s.ids {
			if _, dead := v.tombstones[id]; !dead {
				v.live[id] = struct{}{}
			}
		}
	}
	return v
}
