package index

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sync"
	"time"
)

// persistLoop is the Index's one background goroutine. It builds graphs for sealed segments,
// writes them and the manifest to object storage, drops covered WAL files, merges segments when
// a tier is full (merge.go), and runs compactions (asked for, or CompactAfter after a
// deletion), one thing at a time, so manifests have a single writer. Errors (the store down, say) are retried with backoff: the WAL keeps everything until
// a manifest covers it, and a failed compaction is tried again. A shared log's writer that is
// fenced (follow.go) stops writing here for good.
func (ix *Index) persistLoop(ctx context.Context) {
	defer close(ix.done)
	backoff := time.Second
	var compactDue <-chan time.Time
	for {
		if ix.shared.fenced.Load() {
			ix.idleFenced(ctx)
			return
		}
		err := ix.persistPending(ctx)
		if err == nil {
			err = ix.rewriteMarked(ctx)
		}
		if err == nil {
			var merged bool
			if merged, err = ix.mergeDue(ctx); merged && err == nil {
				ix.signal() // persist what sealed meanwhile, then see whether the next tier is full
			}
		}
		if err != nil && ix.shared.fenced.Load() {
			continue // fenced meanwhile: nothing more goes to the store, not even a compaction
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			ix.lastErr.Store(&err)
			ix.log.Warn("persisting or merging segments failed; will retry", "err", err, "retry_in", backoff)
		} else {
			ix.lastErr.Store(nil)
			backoff = time.Second
		}
		var retry <-chan time.Time
		if err != nil {
			retry = time.After(backoff)
			backoff = min(2*backoff, time.Minute)
		}
		select {
		case <-ctx.Done():
			return
		case <-ix.wake:
		case <-retry:
		case <-ix.deleted:
			if compactDue == nil && ix.cfg.CompactAfter > 0 {
				compactDue = time.After(ix.cfg.CompactAfter)
			}
		case <-compactDue:
			compactDue = nil
			err := ix.persistPending(ctx)
			if err == nil {
				err = ix.compact(ctx)
			}
			if err != nil && ctx.Err() == nil {
				ix.log.Warn("compaction after deletions failed; will retry", "err", err, "retry_in", max(backoff, ix.cfg.CompactAfter))
				compactDue = time.After(max(backoff, ix.cfg.CompactAfter))
			}
		case reply := <-ix.compactC:
			if err := ix.persistPending(ctx); err != nil {
				reply <- err
				continue
			}
			reply <- ix.compact(ctx)
		}
	}
}

// persistPending persists the sealed segments not yet in the manifest when it is called,
// oldest first. Segments sealed meanwhile wait for the next round (their seal wakes the
// persister): under a sustained load the loop would otherwise never end, and merges would
// never get their turn.
func (ix *Index) persistPending(ctx context.Context) error {
	budget := -1
	for ; budget != 0; budget-- {
		ix.mu.RLock()
		var pending []*segment
		for _, s := range ix.sealed {
			if s.key == "" {
				pending = append(pending, s)
			}
		}
		ix.mu.RUnlock()
		if len(pending) == 0 {
			return nil
		}
		if budget < 0 {
			budget = len(pending)
		}
		// Build as many graphs as run side by side, so a single-threaded builder still uses every
		// core, but persist as soon as the oldest is ready.
		par := 1
		if ix.cfg.Graph != nil {
			par = max(1, ix.cfg.Graph.Parallel)
		}
		if err := ix.buildGraphs(ctx, pending[:min(par, len(pending))]); err != nil {
			return err
		}
		if err := ix.persistSegment(ctx, pending[0]); err != nil {
			return err
		}
	}
	ix.signal() // more sealed meanwhile: come back for them
	return nil
}

// buildGraphs builds the missing graphs of segs side by side and returns their errors. The
// goroutines are this call's own: it returns after all of them.
func (ix *Index) buildGraphs(ctx context.Context, segs []*segment) error {
	errs := make([]error, len(segs))
	var wg sync.WaitGroup
	for i, s := range segs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = ix.buildGraph(ctx, s)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (ix *Index) buildGraph(ctx context.Context, s *segment) error {
	if s.graph.Load() != nil || s.len() == 0 {
		return nil
	}
	// The graph is built over the mapped vectors, so it never points into the heap copy.
	if err := ix.mapVectors(s); err != nil {
		return fmt.Errorf("index: segment %d: %w", s.seq, err)
	}
	if ix.cfg.Graph == nil {
		return nil
	}
	start := time.Now()
	g, err := ix.cfg.Graph.buildFor(ctx, s.vectors, s.dim, s.codes)
	if err != nil {
		return fmt.Errorf("index: build graph for segment %d: %w", s.seq, err)
	}
	s.codes = nil
	ix.stats.graphsBuilt.Add(1)
	ix.stats.graphNanos.Add(int64(time.Since(start)))
	s.graph.Store(&graphHandle{g: g})
	ix.log.Info("segment graph built", "seq", s.seq, "faces", s.len(), "graph", ix.cfg.Graph.Name, "elapsed", time.Since(start))
	return nil
}

// persistSegment writes one sealed segment, then a manifest naming it (segment first, manifest
// second: a crash between the two leaves an unreferenced object, never a manifest naming a
// missing one).
func (ix *Index) persistSegment(ctx context.Context, s *segment) error {
	if err := ix.buildGraph(ctx, s); err != nil {
		return err
	}
	ix.mu.RLock()
	m := ix.persisted
	covered := ix.lastLSNs[s]
	ix.mu.RUnlock()
	m.Generation++
	key := ix.segmentKey(s.seq, m.Generation)
	if err := ix.putSegment(ctx, key, s); err != nil {
		return err
	}
	ix.mu.Lock()
	m.Segments = nil
	for _, seg := range ix.sealed {
		if seg.key != "" {
			m.Segments = append(m.Segments, manifestSegment{Key: seg.key, Seq: seg.seq, Count: seg.len()})
		}
	}
	m.Segments = append(m.Segments, manifestSegment{Key: key, Seq: s.seq, Count: s.len()})
	m.Tombstones = ix.tombstonesUpTo(covered)
	m.CoveredLSN = covered
	m.SourceSeq = ix.seqAt(covered)
	m.NextSeq = ix.nextSeq
	ix.mu.Unlock()
	if err := ix.publishManifest(ctx, &m); err != nil {
		return err
	}
	ix.mu.Lock()
	s.key = key
	ix.persisted = m
	ix.dropSeqMarks(m.CoveredLSN, m.SourceSeq)
	ix.mu.Unlock()
	ix.log.Info("segment persisted", "seq", s.seq, "faces", s.len(), "generation", m.Generation)
	ix.dropCoveredWAL()
	ix.dropOldManifests(ctx, m.Generation)
	ix.dropOrphanSegments(ctx, &m)
	return nil
}

// rewriteMarked writes again, under a new generation, the persisted segments whose object had
// a damaged graph or code section (or no codes) at load, publishes a manifest naming the new
// objects and deletes the old ones. The segments in memory are whole already (readSegment
// rebuilt what was damaged), so this is an upload, not a rebuild.
func (ix *Index) rewriteMarked(ctx context.Context) error {
	ix.mu.RLock()
	var marked []*segment
	for _, s := range ix.sealed {
		if s.key != "" && s.rewrite != nil {
			marked = append(marked, s)
		}
	}
	m := ix.persisted
	ix.mu.RUnlock()
	if len(marked) == 0 {
		return nil
	}
	m.Generation++
	keys := make(map[*segment]string, len(marked))
	for _, s := range marked {
		key := ix.segmentKey(s.seq, m.Generation)
		if err := ix.putSegment(ctx, key, s); err != nil {
			return fmt.Errorf("index: rewrite segment %d: %w", s.seq, err)
		}
		keys[s] = key
	}
	ix.mu.RLock()
	m.Segments = nil
	for _, s := range ix.sealed {
		key := s.key
		if k, ok := keys[s]; ok {
			key = k
		}
		if key != "" {
			m.Segments = append(m.Segments, manifestSegment{Key: key, Seq: s.seq, Count: s.len()})
		}
	}
	ix.mu.RUnlock()
	if err := ix.publishManifest(ctx, &m); err != nil {
		return err
	}
	old := make([]string, 0, len(keys))
	ix.mu.Lock()
	for s, k := range keys {
		old = append(old, s.key)
		s.key, s.rewrite = k, nil
	}
	ix.persisted = m
	ix.mu.Unlock()
	for _, k := range old {
		if err := ix.cfg.Store.Delete(ctx, k); err != nil {
			ix.log.Warn("removing a rewritten segment's old object", "key", k, "err", err)
		}
	}
	ix.dropOldManifests(ctx, m.Generation)
	ix.dropOrphanSegments(ctx, &m)
	ix.log.Info("rewrote segment objects", "segments", len(keys), "generation", m.Generation)
	return nil
}

// publishManifest writes m, create-only. A write can reach the store although its caller sees
// an error (the server stored the object, then the connection dropped before the reply); the
// retry then finds its generation taken. When the manifest stored there describes the same
// state, it is this index's own earlier attempt: that counts as success, and m becomes the
// stored manifest. Anything else there is another writer's (ErrConcurrentWriter); with a
// shared log that fences this index (checkFenced).
func (ix *Index) publishManifest(ctx context.Context, m *manifest) error {
	err := putManifest(ctx, ix.cfg.Store, ix.cfg.Prefix, m)
	if err == nil {
		return ix.checkFenced(ctx, m.Generation)
	}
	if !errors.Is(err, ErrConcurrentWriter) {
		return err
	}
	stored, rerr := readManifest(ctx, ix.cfg.Store, ix.cfg.Prefix, m.Generation)
	if rerr != nil || !sameState(stored, m) {
		if rerr == nil {
			return ix.fence(err)
		}
		return err
	}
	ix.log.Info("manifest was stored by an earlier attempt whose reply was lost", "generation", m.Generation)
	*m = *stored
	return nil
}

// tombstonesUpTo lists deleted ids whose delete is at or before lsn. The caller holds mu.
func (ix *Index) tombstonesUpTo(lsn uint64) []uint64 {
	var out []uint64
	for id, at := range *ix.tombstones.Load() {
		if at <= lsn {
			out = append(out, id)
		}
	}
	return out
}

// putSegment streams the segment into the store through a pipe, so a 200 MB segment is never
// buffered whole. The writer goroutine is owned here and always finishes before return.
func (ix *Index) putSegment(ctx context.Context, key string, s *segment) error {
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := writeSegment(pw, s, ix.cfg.Model)
		pw.CloseWithError(err)
		done <- err
	}()
	start := time.Now()
	cr := &countingReader{r: pr}
	err := ix.cfg.Store.Put(ctx, key, cr, -1)
	pr.CloseWithError(errors.New("index: segment upload ended"))
	werr := <-done
	if err != nil {
		return fmt.Errorf("index: put segment %s: %w", key, err)
	}
	if werr != nil {
		return werr
	}
	ix.stats.segmentsWritten.Add(1)
	ix.stats.bytesWritten.Add(cr.n)
	ix.stats.writeNanos.Add(int64(time.Since(start)))
	return nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// dropCoveredWAL removes WAL files whose every record the manifest covers, except the one
// being appended to.
func (ix *Index) dropCoveredWAL() {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.wal == nil { // a shared log's writer keeps none
		return
	}
	for num, maxLSN := range ix.walMaxLSN {
		if num == ix.wal.num || maxLSN > ix.persisted.CoveredLSN {
			continue
		}
		if err := os.Remove(filepath.Join(ix.cfg.Dir, walName(num))); err != nil && !errors.Is(err, os.ErrNotExist) {
			ix.log.Warn("removing covered wal file", "file", num, "err", err)
			continue
		}
		delete(ix.walMaxLSN, num)
	}
	// Start a new file when the current one is covered too, so it can go next time.
	if ix.walMaxLSN[ix.wal.num] != 0 && ix.walMaxLSN[ix.wal.num] <= ix.persisted.CoveredLSN {
		if nw, err := openWAL(ix.cfg.Dir, ix.wal.num+1, ix.cfg.Dim); err == nil {
			ix.wal.close()
			ix.wal = nw
		}
	}
}

// dropOldManifests keeps the newest two manifests: older ones may name segments that compaction
// deleted, and they list deleted face ids.
func (ix *Index) dropOldManifests(ctx context.Context, current uint64) {
	_, gens, err := latestManifest(ctx, ix.cfg.Store, ix.cfg.Prefix)
	if err != nil {
		return
	}
	for _, g := range gens {
		if g+1 < current {
			if err := ix.cfg.Store.Delete(ctx, manifestKey(ix.cfg.Prefix, g)); err != nil {
				ix.log.Warn("removing old manifest", "generation", g, "err", err)
			}
		}
	}
}

// dropOrphanSegments deletes segment objects that m does not name and that were written for an
// older generation: uploads whose manifest never got published (a crash or an outage between
// the two writes). Newer ones are left alone: they can only be another writer's in-flight
// upload, which its failed manifest write will report.
func (ix *Index) dropOrphanSegments(ctx context.Context, m *manifest) {
	named := make(map[string]bool, len(m.Segments))
	for _, s := range m.Segments {
		named[s.Key] = true
	}
	objs, err := ix.cfg.Store.List(ctx, path.Join(ix.cfg.Prefix, "segments")+"/")
	if err != nil {
		ix.log.Warn("listing segments for orphans", "err", err)
		return
	}
	for _, o := range objs {
		gen, ok := parseSegmentGeneration(o.Key)
		if named[o.Key] || !ok || gen >= m.Generation {
			continue
		}
		if err := ix.cfg.Store.Delete(ctx, o.Key); err != nil {
			ix.log.Warn("removing orphaned segment", "key", o.Key, "err", err)
			continue
		}
		ix.log.Info("removed orphaned segment", "key", o.Key)
	}
}

// Flush waits until every sealed segment is in object storage (or ctx ends). It does not seal
// the growing segment: that one is durable in the WAL.
func (ix *Index) Flush(ctx context.Context) error {
	// One wake-up: the persister then works through everything pending on its own, and while
	// the store is failing it keeps to its backoff (waking it on every poll would not).
	ix.signal()
	for {
		if ix.shared.fenced.Load() {
			return fmt.Errorf("index: flush: %w", ErrFenced)
		}
		ix.mu.RLock()
		pending := 0
		for _, s := range ix.sealed {
			if s.key == "" {
				pending++
			}
		}
		ix.mu.RUnlock()
		if pending == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			if p := ix.lastErr.Load(); p != nil {
				return fmt.Errorf("index: flush: %w (last error: %w)", ctx.Err(), *p)
			}
			return fmt.Errorf("index: flush: %w", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Checkpoint seals the growing segment, if it holds any face, and waits until every sealed
// segment is in object storage. After it, a restart reads segments instead of replaying the WAL.
func (ix *Index) Checkpoint(ctx context.Context) error {
	if ix.cfg.Follower {
		return fmt.Errorf("index: checkpoint on a follower: %w", ErrSharedLog)
	}
	ix.mu.Lock()
	if ix.closed {
		ix.mu.Unlock()
		return ErrClosed
	}
	if ix.growing.len() > 0 {
		ix.seal()
	}
	ix.mu.Unlock()
	return ix.Flush(ctx)
}

// Compact rewrites every persisted segment that holds deleted faces without them, publishes a
// manifest naming the new objects, then deletes the old objects (every version): after it
// returns, no deleted face's vector is left in object storage.
func (ix *Index) Compact(ctx context.Context) error {
	if ix.cfg.Follower {
		return fmt.Errorf("index: compact on a follower: %w", ErrSharedLog)
	}
	reply := make(chan error, 1)
	select {
	case ix.compactC <- reply:
	case <-ix.done:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-reply:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// compact runs on the persister goroutine.
func (ix *Index) compact(ctx context.Context) error {
	ix.mu.RLock()
	ts := *ix.tombstones.Load()
	type job struct {
		old *segment
		idx int
	}
	var jobs []job
	for i, s := range ix.sealed {
		if s.key == "" {
			continue
		}
		for _, id := range s.ids {
			if _, dead := ts[id]; dead {
				jobs = append(jobs, job{s, i})
				break
			}
		}
	}
	m := ix.persisted
	ix.mu.RUnlock()
	if len(jobs) == 0 {
		return nil
	}
	m.Generation++
	replaced := map[*segment]*segment{}
	purged := map[uint64]struct{}{}
	published := false
	defer func() {
		if !published {
			for _, ns := range replaced {
				ix.retire(ns)
			}
		}
	}()
	for _, j := range jobs {
		ns, err := ix.withoutDeleted(j.old, ts, purged)
		if err != nil {
			return err
		}
		replaced[j.old] = ns
		if err := ix.buildGraph(ctx, ns); err != nil {
			return err
		}
		ns.key = ix.segmentKey(ns.seq, m.Generation)
		if err := ix.putSegment(ctx, ns.key, ns); err != nil {
			return err
		}
	}
	ix.mu.Lock()
	m.Segments = nil
	for _, s := range ix.sealed {
		if r, ok := replaced[s]; ok {
			s = r
		}
		if s.key != "" {
			m.Segments = append(m.Segments, manifestSegment{Key: s.key, Seq: s.seq, Count: s.len()})
		}
	}
	m.Tombstones = withoutPurged(m.Tombstones, purged)
	ix.mu.Unlock()
	if err := ix.publishManifest(ctx, &m); err != nil {
		return err
	}
	published = true
	ix.mu.Lock()
	for i, s := range ix.sealed {
		if r, ok := replaced[s]; ok {
			ix.sealed[i] = r
			ix.lastLSNs[r] = ix.lastLSNs[s]
			delete(ix.lastLSNs, s)
		}
	}
	rest := make(map[uint64]uint64, len(ts))
	for id, lsn := range *ix.tombstones.Load() {
		if _, gone := purged[id]; !gone {
			rest[id] = lsn
		}
	}
	ix.tombstones.Store(&rest)
	ix.persisted = m
	ix.mu.Unlock()
	var errs []error
	for old := range replaced {
		ix.retire(old)
		if err := ix.cfg.Store.Delete(ctx, old.key); err != nil {
			errs = append(errs, fmt.Errorf("index: delete compacted segment %s: %w", old.key, err))
		}
	}
	ix.dropOldManifests(ctx, m.Generation)
	ix.dropOrphanSegments(ctx, &m)
	ix.stats.compactions.Add(1)
	ix.log.Info("compacted", "segments", len(replaced), "purged", len(purged), "generation", m.Generation)
	return errors.Join(errs...)
}

// Close stops the persister and closes the WAL. Everything acknowledged is durable in the WAL or
// in object storage; call Flush first to push sealed segments out.
func (ix *Index) Close() error {
	ix.mu.Lock()
	if ix.closed {
		ix.mu.Unlock()
		return nil
	}
	ix.closed = true
	ix.mu.Unlock()
	ix.stop()
	<-ix.done
	ix.mu.Lock()
	defer ix.mu.Unlock()
	// The sealed segments' files go now; their mappings once no search in flight holds a view
	// (the index forgets them, so nothing else keeps them).
	ix.retire(ix.sealed...)
	if ix.builtMerge != nil {
		ix.retire(ix.builtMerge.merged)
		ix.builtMerge = nil
	}
	ix.sealed, ix.lastLSNs = nil, map[*segment]uint64{}
	return ix.wal.close()
}

// withoutDeleted copies old's faces that ts does not list into a new segment (its vectors in a
// cache file) and adds the ids it leaves out to purged.
func (ix *Index) withoutDeleted(old *segment, ts map[uint64]uint64, purged map[uint64]struct{}) (*segment, error) {
	b, err := ix.newSegmentBuilder(old.seq, old.len())
	if err != nil {
		return nil, err
	}
	for i, id := range old.ids {
		if _, dead := ts[id]; dead {
			purged[id] = struct{}{}
			continue
		}
		if err := b.addFrom(old, i); err != nil {
			b.abort()
			return nil, fmt.Errorf("index: compact segment %d: %w", old.seq, err)
		}
	}
	return b.finish()
}

// withoutPurged is the tombstones a rewrite (compaction, merge) left: those of faces it did
// not drop.
func withoutPurged(tombstones []uint64, purged map[uint64]struct{}) []uint64 {
	var keep []uint64
	for _, id := range tombstones {
		if _, gone := purged[id]; !gone {
			keep = append(keep, id)
		}
	}
	return keep
}
