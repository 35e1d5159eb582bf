package index

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"
)

// Size-tiered merging (issue 17). A query walks one graph per segment, so a gallery left in
// SegmentSize pieces costs n/SegmentSize walks. The persister merges MergeFactor segments of
// one tier into a segment of the next (100k → 1M → 10M at the defaults), dropping deleted faces
// on the way, and publishes it like a compaction: segment object, read back, create-only
// manifest, then the replaced objects are deleted (every version).
//
// The merged graph is built whole over the merged vectors. index/graph's HNSW cannot be
// extended: it is immutable once built (its slabs are sized for n and its levels drawn at
// Build), and it has no insert. With segments of one tier the largest input is only 1/factor
// of the merge, so extending it would save about that fraction of the build.

const maxMergeFactor = 1000

// tierOf is the tier of a segment of n faces: log base factor of n/segmentSize, rounded, at
// least 0. Rounding rather than truncating keeps a merge of factor segments that lost some faces
// to deletions in the tier above its inputs, instead of merging it again with small ones.
func tierOf(n, segmentSize, factor int) int {
	if n <= segmentSize {
		return 0
	}
	return int(math.Round(math.Log(float64(n)/float64(segmentSize)) / math.Log(float64(factor))))
}

// planMerge picks the next merge among persisted segments of the given sizes, in seal order:
// the factor oldest segments of the lowest tier that holds at least factor; nil when none does.
func planMerge(sizes []int, segmentSize, factor int) []int {
	byTier := map[int][]int{}
	best := -1
	for i, n := range sizes {
		t := tierOf(n, segmentSize, factor)
		byTier[t] = append(byTier[t], i)
		if len(byTier[t]) >= factor && (best < 0 || t < best) {
			best = t
		}
	}
	if best < 0 {
		return nil
	}
	return byTier[best][:factor]
}

// mergeDue runs one merge when a tier is full and reports whether it did. It runs on the
// persister goroutine, like compaction, so manifests keep a single writer; searches read the
// old segments until the manifest switch, and writes go on to the WAL and the growing segment.
func (ix *Index) mergeDue(ctx context.Context) (bool, error) {
	if ix.cfg.MergeFactor < 0 {
		return false, nil
	}
	ix.mu.RLock()
	var persisted []*segment
	var sizes []int
	for _, s := range ix.sealed {
		if s.key != "" {
			persisted = append(persisted, s)
			sizes = append(sizes, s.len())
		}
	}
	ts := *ix.tombstones.Load()
	ix.mu.RUnlock()
	pick := planMerge(sizes, ix.cfg.SegmentSize, ix.cfg.MergeFactor)
	if pick == nil {
		ix.dropBuiltMerge()
		return false, nil
	}
	inputs := make([]*segment, len(pick))
	for i, p := range pick {
		inputs[i] = persisted[p]
	}
	// A merge built before and not published (the store was down) is still good for the same
	// inputs: faces deleted since are covered by their tombstones, as during any merge.
	b := ix.builtMerge
	if b == nil || !slices.Equal(b.inputs, inputs) {
		ix.dropBuiltMerge()
		start := time.Now()
		var err error
		if b, err = ix.buildMerge(ctx, inputs, ts); err != nil {
			return true, err
		}
		b.elapsed = time.Since(start)
		ix.builtMerge = b
		ix.hook("built")
	}
	err := ix.publishMerge(ctx, b)
	if err == nil {
		ix.builtMerge = nil
	}
	return true, err
}

// builtMerge is a merged segment built but not yet published. The persister keeps it across
// retries, so an outage costs the upload again, not the graph build.
type builtMerge struct {
	inputs  []*segment
	merged  *segment
	purged  map[uint64]struct{} // deleted faces left out
	elapsed time.Duration       // building it
}

// dropBuiltMerge forgets a merge that will not be published (its inputs changed) and removes
// its vector file.
func (ix *Index) dropBuiltMerge() {
	if ix.builtMerge != nil {
		ix.retire(ix.builtMerge.merged)
		ix.builtMerge = nil
	}
}

func (ix *Index) hook(stage string) {
	if ix.cfg.mergeHook != nil {
		ix.cfg.mergeHook(stage)
	}
}

// buildMerge copies the live faces of inputs (persisted, in seal order) into one segment and
// builds its graph. ts is the tombstone set when the merge was planned: faces deleted later
// stay in the merged segment under their tombstone, for the next compaction.
func (ix *Index) buildMerge(ctx context.Context, inputs []*segment, ts map[uint64]uint64) (*builtMerge, error) {
	live, seq := 0, inputs[0].seq
	for _, s := range inputs {
		seq = min(seq, s.seq)
		for _, id := range s.ids {
			if _, dead := ts[id]; !dead {
				live++
			}
		}
	}
	// The smallest input seq: unique among live segments, and the new generation makes the key
	// a new object. The merged vectors go straight to a cache file, and the inputs' codes are
	// copied rather than encoded again.
	b, err := ix.newSegmentBuilder(seq, live)
	if err != nil {
		return nil, fmt.Errorf("index: merge: %w", err)
	}
	purged := map[uint64]struct{}{}
	for _, s := range inputs {
		for i, id := range s.ids {
			if _, dead := ts[id]; dead {
				purged[id] = struct{}{}
				continue
			}
			if err := b.addFrom(s, i); err != nil {
				b.abort()
				return nil, fmt.Errorf("index: merge: %w", err)
			}
		}
	}
	merged, err := b.finish()
	if err != nil {
		return nil, fmt.Errorf("index: merge: %w", err)
	}
	if err := ix.buildGraph(ctx, merged); err != nil {
		ix.retire(merged)
		return nil, fmt.Errorf("index: merge: %w", err)
	}
	return &builtMerge{inputs: inputs, merged: merged, purged: purged}, nil
}

// publishMerge uploads a built merge, reads it back, and switches the manifest and the live
// segments to it; then it deletes the replaced objects.
func (ix *Index) publishMerge(ctx context.Context, b *builtMerge) error {
	start := time.Now()
	merged, purged := b.merged, b.purged
	isInput := make(map[*segment]bool, len(b.inputs))
	for _, s := range b.inputs {
		isInput[s] = true
	}
	ix.mu.RLock()
	m := ix.persisted
	ix.mu.RUnlock()
	m.Generation++
	key := ix.segmentKey(merged.seq, m.Generation)
	if err := ix.putSegment(ctx, key, merged); err != nil {
		return fmt.Errorf("index: merge: %w", err)
	}
	// The inputs are deleted once the manifest names the merged object, and they are the only
	// other copy of its faces: check that the store holds it whole first.
	if err := ix.readBack(ctx, key, merged); err != nil {
		if derr := ix.cfg.Store.Delete(ctx, key); derr != nil {
			ix.log.Warn("removing a merged segment that failed its read-back", "key", key, "err", derr)
		}
		return fmt.Errorf("index: merge: %w", err)
	}
	merged.key = key
	ix.hook("uploaded")

	ix.mu.Lock()
	m.Segments = nil
	placed := false
	for _, s := range ix.sealed {
		if isInput[s] {
			if placed {
				continue
			}
			s, placed = merged, true
		}
		if s.key != "" {
			m.Segments = append(m.Segments, manifestSegment{Key: s.key, Seq: s.seq, Count: s.len()})
		}
	}
	m.Tombstones = withoutPurged(m.Tombstones, purged)
	ix.mu.Unlock()
	// On failure the object stays: the manifest may have been stored although its reply was
	// lost (publishManifest recognises it on the retry), and then it names this object. An
	// unnamed one is an orphan that dropOrphanSegments removes.
	if err := ix.publishManifest(ctx, &m); err != nil {
		return fmt.Errorf("index: merge: %w", err)
	}

	ix.mu.Lock()
	sealed := make([]*segment, 0, len(ix.sealed)-len(b.inputs)+1)
	var lastLSN uint64
	placed = false
	for _, s := range ix.sealed {
		if !isInput[s] {
			sealed = append(sealed, s)
			continue
		}
		lastLSN = max(lastLSN, ix.lastLSNs[s])
		delete(ix.lastLSNs, s)
		if !placed {
			sealed, placed = append(sealed, merged), true
		}
	}
	ix.lastLSNs[merged] = lastLSN
	ix.sealed = sealed
	rest := make(map[uint64]uint64, len(*ix.tombstones.Load()))
	for id, lsn := range *ix.tombstones.Load() {
		if _, gone := purged[id]; !gone {
			rest[id] = lsn
		}
	}
	ix.tombstones.Store(&rest)
	ix.persisted = m
	ix.mu.Unlock()
	ix.hook("published")

	ix.retire(b.inputs...)
	var errs []error
	for _, s := range b.inputs {
		if err := ix.cfg.Store.Delete(ctx, s.key); err != nil {
			errs = append(errs, fmt.Errorf("index: delete merged segment %s: %w", s.key, err))
		}
	}
	ix.dropOldManifests(ctx, m.Generation)
	ix.dropOrphanSegments(ctx, &m)
	elapsed := b.elapsed + time.Since(start)
	ix.stats.merges.Add(1)
	ix.stats.mergeNanos.Add(int64(elapsed))
	ix.log.Info("merged segments", "segments", len(b.inputs), "faces", merged.len(), "purged", len(purged),
		"tier", tierOf(merged.len(), ix.cfg.SegmentSize, ix.cfg.MergeFactor), "generation", m.Generation, "elapsed", elapsed)
	// Replaced objects left behind are orphans: the next manifest's dropOrphanSegments removes
	// them, so the merge itself has succeeded.
	if len(errs) > 0 {
		ix.log.Warn("deleting merged segments' objects", "err", errs)
	}
	return nil
}

// readBack reads the object at key through to its checksum and checks it holds s.
func (ix *Index) readBack(ctx context.Context, key string, s *segment) error {
	rc, err := ix.cfg.Store.Get(ctx, key)
	if err != nil {
		return fmt.Errorf("read back %s: %w", key, err)
	}
	defer rc.Close()
	if err := checkSegmentObject(rc, s.dim, s.len(), s.seq); err != nil {
		return fmt.Errorf("read back %s: %w", key, err)
	}
	return nil
}
