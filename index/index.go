package index

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/facematch/facematch/index/graph"
	"github.com/facematch/facematch/internal/blob"
)

var (
	ErrDimension        = errors.New("index: wrong vector dimension")
	ErrModelMismatch    = errors.New("index: embedding from another model")
	ErrInvalidVector    = errors.New("index: vector has NaN or infinite values")
	ErrExists           = errors.New("index: id already present")
	ErrNotFound         = errors.New("index: id not found")
	ErrClosed           = errors.New("index: closed")
	ErrConcurrentWriter = errors.New("index: another process writes this index")
	// ErrFenced: another writer of the shared log published a manifest over this one's; this
	// index writes nothing to the store any more (reopen it, as a follower or a writer).
	ErrFenced = errors.New("index: fenced: another writer took over the index")
	// ErrSharedLog: with Config.SharedLog, writes come from the shared log through Apply only
	// (Add and Delete), and a follower neither seals nor compacts.
	ErrSharedLog = errors.New("index: shared log: use Apply; a follower does not persist")
)

// ObjectStore is what the index needs from object storage (internal/blob provides it): put,
// create-only put, get, delete every version, list. Implementations are safe for concurrent use.
type ObjectStore interface {
	Put(ctx context.Context, key string, r io.Reader, size int64) error
	PutIfAbsent(ctx context.Context, key string, r io.Reader, size int64) error
	Get(ctx context.Context, key string) (io.ReadCloser, error)
	Delete(ctx context.Context, key string) error
	List(ctx context.Context, prefix string) ([]blob.ObjectInfo, error)
}

// annGraph is what a sealed segment needs from an approximate nearest-neighbour graph: search
// by dot product over the segment's own vectors (results are positions in the segment) and
// serialisation. Package index/graph provides two implementations; see graphs.go.
type annGraph interface {
	Search(query []float32, k, ef int) ([]graph.Neighbor, error)
	WriteTo(w io.Writer) (int64, error)
}

// incompleteUploadAborter is implemented by stores that can hold the parts of an unfinished
// upload (S3 multipart): bytes a killed process wrote that no List or Delete would ever see.
type incompleteUploadAborter interface {
	AbortIncompleteUploads(ctx context.Context, prefix string) (int, error)
}

// Config configures [Open]. Zero values mean the defaults.
type Config struct {
	// Dir is a local directory for the write-ahead log. It must be on local disk: an insert is
	// acknowledged when its record is fsynced there.
	Dir string
	// Store holds segments and manifests; Prefix is the key prefix inside it (e.g. "index/main").
	Store  ObjectStore
	Prefix string
	// Model is the embedding model identity; vectors of any other model are refused.
	Model string
	Dim   int
	// SegmentSize is the number of faces after which the growing segment is sealed (default
	// 100,000: exact search over a growing segment that size costs ~26 ms on one core).
	SegmentSize int
	// EfSearch is the graph search breadth (default 512). Missing a true mate costs an
	// investigation more than a few milliseconds: at 100k face-shaped vectors ef 512 finds the
	// mate of 99.9 % of synthetic queries at 3.5 ms per segment (bench/RESULTS.md has the curve).
	// It is the breadth for a segment of SegmentSize faces: merged segments are searched wider
	// and compacted ones narrower (ef ∝ size^0.78, segmentEf), so merging keeps the recall.
	EfSearch int
	// Graph builds and reads graphs for sealed segments; nil searches sealed segments exactly.
	Graph *GraphKind
	// Quantized walks the sealed segments' graphs on 8-bit codes of their vectors (issue 17;
	// index/graph.Quantized) and rescores the best candidates with the float32 vectors, so every
	// similarity stays exact. The codes (dim+12 bytes a vector) are persisted in the segment
	// objects and read back at load; the float32 vectors are in mapped cache files, read for the
	// ~100 candidates a query rescores. At 100k face-shaped vectors it doubles a segment search's
	// speed on one core at the same recall (notes: qtraverse.md). Needs the HNSW graph.
	Quantized bool
	// CompactAfter is how long after a deletion the index compacts (when deleted vectors leave
	// object storage). Deletions within it share one compaction, so deleting a gallery face by
	// face costs one rewrite. 0 is 5 s; negative never compacts on its own (call Compact).
	CompactAfter time.Duration
	// MergeFactor is how many persisted segments of about the same size are merged into one
	// (size-tiered: 100k → 1M → 10M at the default). A query walks one graph per segment, so
	// merging keeps the walks per query near the number of tiers. 0 is 10; negative never merges.
	MergeFactor int
	// Logger receives operational events (never vectors). Default: slog.Default().
	Logger *slog.Logger

	// SharedLog: every write comes from a durable log shared by several processes (issue 18),
	// in sequence order, through Apply; Add and Delete are refused. The log is what makes a
	// write durable, so the index keeps no WAL: Open removes any left in Dir (a stale one of an
	// earlier term must never be replayed over the log) and the caller re-applies the log after
	// AppliedSeq. Manifests record the last sequence number they reflect (SourceSeq).
	SharedLog bool
	// Follower (needs SharedLog): the index never writes to the store. It serves the segments of
	// the latest manifest (Refresh loads newer ones) and keeps the ops applied since in memory,
	// searched exactly. Promotion to writer is a reopen without Follower on the same Dir.
	Follower bool

	// searchUnbounded, when set (tests only), runs every segment's walk in full, without the
	// shared top-k threshold.
	searchUnbounded bool
	// mergeHook, when set (tests only), is called at each stage of a merge on the persister
	// goroutine; the crash tests block in it to be killed at a chosen point.
	mergeHook func(stage string)
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	if c.Dir == "" {
		errs = append(errs, errors.New("index: Dir is required"))
	}
	if c.Store == nil {
		errs = append(errs, errors.New("index: Store is required"))
	}
	if c.Model == "" {
		errs = append(errs, errors.New("index: Model is required"))
	}
	if c.Dim < 1 || c.Dim > 4096 {
		errs = append(errs, fmt.Errorf("index: Dim must be in [1,4096], got %d", c.Dim))
	}
	if c.SegmentSize < 0 || c.EfSearch < 0 {
		errs = append(errs, errors.New("index: SegmentSize and EfSearch must be >= 0"))
	}
	// 1 would rewrite a segment into itself forever; beyond 1000 a merge is a whole rebuild.
	if c.MergeFactor == 1 || c.MergeFactor > maxMergeFactor {
		errs = append(errs, fmt.Errorf("index: MergeFactor must be in [2,%d], 0 (default) or negative (never), got %d", maxMergeFactor, c.MergeFactor))
	}
	if c.Quantized && (c.Graph == nil || c.Graph.quantize == nil) {
		errs = append(errs, errors.New("index: Quantized needs a graph that can walk codes (HNSWGraph)"))
	}
	if c.Follower && !c.SharedLog {
		errs = append(errs, errors.New("index: Follower needs SharedLog"))
	}
	return errors.Join(errs...)
}

// Entry is one face to index.
type Entry struct {
	ID      uint64 // unique for the index's life: IDs are never reused
	Gallery uint64
	Vector  []float32 // L2-normalised
}

// Index is a segmented vector index. It is safe for concurrent use: searches run in parallel
// with each other and with inserts; inserts and deletes are serialised by the WAL.
type Index struct {
	cfg Config
	log *slog.Logger

	// mu guards everything below it. Add and Delete take it for writing (WAL append and apply,
	// so the log order is the apply order); Search takes it for reading only long enough to copy
	// segment views, then searches without it.
	mu        sync.RWMutex
	closed    bool
	lsn       uint64
	live      map[uint64]struct{}
	growing   *segment
	sealed    []*segment // in seal order; persisted ones have a key
	lastLSNs  map[*segment]uint64
	nextSeq   uint64
	wal       *wal
	walMaxLSN map[uint64]uint64 // WAL file number → highest LSN in it
	persisted manifest          // the last manifest written or loaded
	// tombstones maps deleted ids still present in a segment to the LSN of their delete. It is
	// copy-on-write: searches load it without a lock.
	tombstones atomic.Pointer[map[uint64]uint64]

	// The persister goroutine is owned by the Index: started by Open, stopped by Close.
	wake     chan struct{}
	deleted  chan struct{} // a deletion happened: compact after CompactAfter
	compactC chan chan error
	stop     context.CancelFunc
	done     chan struct{}
	lastErr  atomic.Pointer[error]
	// builtMerge is the persister goroutine's own (merge.go): a merge built, not yet published.
	builtMerge *builtMerge
	// shared holds the shared-log state (follow.go).
	shared sharedState
	// vecs holds sealed segments' vectors in mapped files (vecfile.go).
	vecs *vecCache

	stats struct {
		segmentsWritten, bytesWritten, writeNanos atomic.Int64
		segmentsRead, bytesRead, readNanos        atomic.Int64
		graphsBuilt, graphNanos                   atomic.Int64
		compactions                               atomic.Int64
		merges, mergeNanos                        atomic.Int64
		walSyncs, walRecords                      atomic.Int64
	}
}

// Stats are the index's counters since Open, for metrics and benchmarks.
type Stats struct {
	Faces, Segments, Growing, Tombstones int
	// Segment objects written to and read from the store: count, bytes, time spent (including
	// encoding and decoding, checksums and graph (de)serialisation).
	SegmentsWritten, SegmentsRead int64
	BytesWritten, BytesRead       int64
	WriteTime, ReadTime           time.Duration
	GraphsBuilt                   int64
	GraphBuildTime                time.Duration
	// Compactions that rewrote segments to drop deleted faces.
	Compactions int64
	// Merges of segments into one, and the time they took (graph build and upload included).
	Merges    int64
	MergeTime time.Duration
	// WAL appends (each one fsync) and the records they wrote: an Add or a delete is one append.
	WALSyncs, WALRecords int64
	// With a shared log: the last sequence number applied, the generation of the manifest held
	// (written or loaded) and the last sequence number it reflects (a writer may trim the log up
	// to it), and whether this index is a follower. A follower's Growing is its tail: the faces
	// added since that manifest.
	AppliedSeq         uint64
	ManifestGeneration uint64
	ManifestSourceSeq  uint64
	Follower           bool
}

// Has reports whether the index holds the face (added, not deleted).
func (ix *Index) Has(id uint64) bool {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	_, ok := ix.live[id]
	return ok
}

// Stats returns the current counters.
func (ix *Index) Stats() Stats {
	ix.mu.RLock()
	st := Stats{Faces: len(ix.live), Segments: len(ix.sealed), Growing: ix.growing.len(), Tombstones: len(*ix.tombstones.Load()),
		AppliedSeq: ix.shared.applied, ManifestGeneration: ix.persisted.Generation,
		ManifestSourceSeq: ix.persisted.SourceSeq, Follower: ix.cfg.Follower}
	ix.mu.RUnlock()
	st.SegmentsWritten, st.BytesWritten = ix.stats.segmentsWritten.Load(), ix.stats.bytesWritten.Load()
	st.WriteTime = time.Duration(ix.stats.writeNanos.Load())
	st.SegmentsRead, st.BytesRead = ix.stats.segmentsRead.Load(), ix.stats.bytesRead.Load()
	st.ReadTime = time.Duration(ix.stats.readNanos.Load())
	st.GraphsBuilt, st.GraphBuildTime = ix.stats.graphsBuilt.Load(), time.Duration(ix.stats.graphNanos.Load())
	st.WALSyncs, st.WALRecords = ix.stats.walSyncs.Load(), ix.stats.walRecords.Load()
	st.Compactions = ix.stats.compactions.Load()
	st.Merges, st.MergeTime = ix.stats.merges.Load(), time.Duration(ix.stats.mergeNanos.Load())
	return st
}

func (c *Config) ensureDefaults() {
	if c.SegmentSize == 0 {
		c.SegmentSize = 100_000
	}
	if c.EfSearch == 0 {
		c.EfSearch = 512
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.CompactAfter == 0 {
		c.CompactAfter = 5 * time.Second
	}
	if c.MergeFactor == 0 {
		c.MergeFactor = 10
	}
}

// Open loads the latest manifest and its segments from the store, replays the local WAL and
// starts the background persister. With SharedLog it removes the WAL instead of replaying it;
// a Follower starts no persister and writes nothing to the store.
func Open(ctx context.Context, cfg Config) (*Index, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.ensureDefaults()
	if cfg.Quantized {
		q, err := graph.NewQuantizer(cfg.Dim)
		if err != nil {
			return nil, fmt.Errorf("index: %w", err)
		}
		cfg.Graph = cfg.Graph.quantized(q)
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("index: %w", err)
	}
	ix := &Index{
		cfg: cfg, log: cfg.Logger.With("component", "index"),
		live: map[uint64]struct{}{}, lastLSNs: map[*segment]uint64{}, walMaxLSN: map[uint64]uint64{},
		wake: make(chan struct{}, 1), deleted: make(chan struct{}, 1), compactC: make(chan chan error), done: make(chan struct{}),
	}
	empty := map[uint64]uint64{}
	ix.tombstones.Store(&empty)
	start := time.Now()
	var err error
	if ix.vecs, err = openVecCache(filepath.Join(cfg.Dir, vectorDir), ix.log); err != nil {
		return nil, err
	}
	if cfg.SharedLog && !cfg.Follower {
		if err := removeWAL(cfg.Dir, ix.log); err != nil {
			return nil, err
		}
	}
	if err := ix.load(ctx); err != nil {
		return nil, err
	}
	if cfg.SharedLog {
		ix.openShared()
		if cfg.Follower {
			// No persister: Close has nothing to stop, Compact finds it gone.
			ix.stop = func() {}
			close(ix.done)
			ix.log.Info("index opened as a follower", "faces", len(ix.live), "segments", len(ix.sealed),
				"generation", ix.persisted.Generation, "applied_seq", ix.shared.applied, "elapsed", time.Since(start))
			return ix, nil
		}
	} else if err := ix.replay(); err != nil {
		ix.retire(ix.sealed...)
		return nil, err
	}
	if a, ok := cfg.Store.(incompleteUploadAborter); ok {
		// As the prefix's single writer, any unfinished upload under it is a dead process's.
		n, err := a.AbortIncompleteUploads(ctx, strings.TrimSuffix(cfg.Prefix, "/")+"/")
		if err != nil {
			ix.log.Warn("aborting incomplete uploads", "err", err)
		} else if n > 0 {
			ix.log.Info("aborted incomplete uploads", "count", n)
		}
	}
	if !cfg.SharedLog {
		nums, err := walFiles(cfg.Dir)
		if err != nil {
			return nil, err
		}
		next := uint64(1)
		if len(nums) > 0 {
			next = nums[len(nums)-1] + 1
		}
		if ix.wal, err = openWAL(cfg.Dir, next, cfg.Dim); err != nil {
			return nil, err
		}
	}
	ix.log.Info("index opened", "faces", len(ix.live), "segments", len(ix.sealed), "growing", ix.growing.len(),
		"tombstones", len(*ix.tombstones.Load()), "elapsed", time.Since(start))
	pctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	ix.stop = cancel
	go ix.persistLoop(pctx)
	ix.signal()
	return ix, nil
}

// load reads the latest manifest and its segments. A follower whose segment object is gone (the
// writer merged or compacted it away meanwhile) tries the newest manifest again, as Refresh does.
func (ix *Index) load(ctx context.Context) error {
	for attempt := 1; ; attempt++ {
		err := ix.loadLatest(ctx)
		if err == nil || !ix.cfg.Follower || !errors.Is(err, blob.ErrNotFound) || attempt == refreshAttempts {
			return err
		}
		ix.log.Info("a segment of the latest manifest is gone (merged away meanwhile); reading the newest", "err", err)
	}
}

func (ix *Index) loadLatest(ctx context.Context) error {
	m, _, err := latestManifest(ctx, ix.cfg.Store, ix.cfg.Prefix)
	if err != nil {
		return err
	}
	if m == nil {
		m = &manifest{Format: manifestFormat, Model: ix.cfg.Model, Dim: ix.cfg.Dim}
	}
	if m.Model != ix.cfg.Model || m.Dim != ix.cfg.Dim {
		return fmt.Errorf("%w: stored index is %s (%d-d), configured %s (%d-d)", ErrModelMismatch, m.Model, m.Dim, ix.cfg.Model, ix.cfg.Dim)
	}
	ix.persisted = *m
	ix.shared.base = m.SourceSeq // kept by the manifests a writer without a shared log publishes
	ix.lsn = m.CoveredLSN
	ix.nextSeq = m.NextSeq
	segs := make([]*segment, len(m.Segments))
	var wg sync.WaitGroup
	errs := make([]error, len(m.Segments))
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for i, ms := range m.Segments {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			segs[i], errs[i] = ix.readSegment(ctx, ms)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		ix.retire(segs...)
		return err
	}
	ts := map[uint64]uint64{}
	for _, id := range m.Tombstones {
		ts[id] = m.CoveredLSN
	}
	for _, s := range segs {
		for _, id := range s.ids {
			if _, dead := ts[id]; !dead {
				ix.live[id] = struct{}{}
			}
		}
		ix.lastLSNs[s] = m.CoveredLSN
	}
	ix.sealed = segs
	ix.tombstones.Store(&ts)
	ix.growing = newSegment(ix.nextSeq, ix.cfg.Dim)
	ix.nextSeq++
	return nil
}

func (ix *Index) readSegment(ctx context.Context, ms manifestSegment) (*segment, error) {
	start := time.Now()
	rc, err := ix.cfg.Store.Get(ctx, ms.Key)
	if err != nil {
		return nil, fmt.Errorf("index: segment %s: %w", ms.Key, err)
	}
	defer rc.Close()
	cr := &countingReader{r: rc}
	s, err := readSegment(ctx, cr, readOptions{model: ix.cfg.Model, dim: ix.cfg.Dim, graph: ix.cfg.Graph, vecs: ix.vecs})
	if err != nil {
		return nil, fmt.Errorf("index: segment %s: %w", ms.Key, err)
	}
	if s.rewrite != nil {
		ix.log.Warn("segment object rebuilt in part at load; it will be rewritten", "key", ms.Key, "seq", ms.Seq, "reason", s.rewrite)
	}
	ix.stats.segmentsRead.Add(1)
	ix.stats.bytesRead.Add(cr.n)
	ix.stats.readNanos.Add(int64(time.Since(start)))
	if s.len() != ms.Count || s.seq != ms.Seq {
		ix.retire(s)
		return nil, fmt.Errorf("index: segment %s: %w: holds %d faces (seq %d), manifest says %d (seq %d)", ms.Key, ErrCorrupt, s.len(), s.seq, ms.Count, ms.Seq)
	}
	s.key = ms.Key
	return s, nil
}

// replay applies every WAL record after the manifest's covered LSN, in order. Runs of deletes
// are applied together, so a log of many small deletes costs one tombstone copy per run.
func (ix *Index) replay() error {
	nums, err := walFiles(ix.cfg.Dir)
	if err != nil {
		return err
	}
	covered := ix.persisted.CoveredLSN
	for _, num := range nums {
		var maxLSN uint64
		var deletes []record
		_, err := replayWAL(ix.cfg.Dir, num, ix.cfg.Dim, func(r record) error {
			maxLSN = max(maxLSN, r.lsn)
			if r.lsn <= covered {
				return nil
			}
			ix.lsn = max(ix.lsn, r.lsn)
			if r.kind == recInsert {
				ix.applyDeletes(deletes)
				deletes = deletes[:0]
				ix.applyInsert(r)
			} else {
				deletes = append(deletes, r)
			}
			return nil
		})
		if err != nil {
			return err
		}
		ix.applyDeletes(deletes)
		ix.walMaxLSN[num] = maxLSN
	}
	return nil
}

// applyInsert adds one logged insert to the growing segment. The caller holds mu for writing.
// A follower's growing segment is its tail: it never seals, the writer's manifests replace it.
func (ix *Index) applyInsert(r record) {
	ix.growing.add(r.id, r.gallery, r.vector)
	ix.live[r.id] = struct{}{}
	if ix.growing.len() >= ix.cfg.SegmentSize && !ix.cfg.Follower {
		ix.seal()
	}
}

// applyDeletes applies logged deletes (recDelete or recDeleteBatch) with one copy of the
// tombstone set: searches read it without a lock, so it is replaced, never changed in place.
// The caller holds mu for writing.
func (ix *Index) applyDeletes(recs []record) {
	if len(recs) == 0 {
		return
	}
	n := 0
	for _, r := range recs {
		n += max(1, len(r.ids))
	}
	old := *ix.tombstones.Load()
	ts := make(map[uint64]uint64, len(old)+n)
	for k, v := range old {
		ts[k] = v
	}
	for _, r := range recs {
		ids := r.ids
		if r.kind == recDelete {
			ids = []uint64{r.id}
		}
		for _, id := range ids {
			delete(ix.live, id)
			ts[id] = r.lsn
		}
	}
	ix.tombstones.Store(&ts)
}

// seal freezes the growing segment, dropping faces deleted while it grew (their delete records
// stay in the WAL until a manifest covers them), and starts a new one. The caller holds mu.
func (ix *Index) seal() {
	g := ix.growing
	ts := *ix.tombstones.Load()
	live := 0
	for _, id := range g.ids {
		if _, dead := ts[id]; !dead {
			live++
		}
	}
	// Exact capacity: a sealed segment lives long, and append's doubling would leave up to half
	// of its vector array unused.
	s := &segment{seq: g.seq, dim: g.dim, ids: make([]uint64, 0, live), galleries: make([]uint64, 0, live),
		vectors: make([]float32, 0, live*g.dim)}
	purged := 0
	for i, id := range g.ids {
		if _, dead := ts[id]; dead {
			purged++
			continue
		}
		s.add(id, g.galleries[i], g.vectors[i*g.dim:(i+1)*g.dim])
	}
	if purged > 0 {
		rest := make(map[uint64]uint64, len(ts))
		for id, lsn := range ts {
			rest[id] = lsn
		}
		for _, id := range g.ids {
			delete(rest, id)
		}
		ix.tombstones.Store(&rest)
	}
	ix.sealed = append(ix.sealed, s)
	ix.lastLSNs[s] = ix.lsn
	ix.growing = newSegment(ix.nextSeq, ix.cfg.Dim)
	ix.nextSeq++
	// Start a new WAL file, so the one holding this segment's records can be dropped once a
	// manifest covers them. (During replay there is no open file yet.)
	if ix.wal != nil {
		if nw, err := openWAL(ix.cfg.Dir, ix.wal.num+1, ix.cfg.Dim); err == nil {
			ix.wal.close()
			ix.wal = nw
		} else {
			ix.log.Warn("rotating wal", "err", err)
		}
	}
	ix.signal()
}

func (ix *Index) signal() {
	select {
	case ix.wake <- struct{}{}:
	default:
	}
}

func (ix *Index) checkVector(model string, v []float32) error {
	if model != ix.cfg.Model {
		return fmt.Errorf("%w: got %s, index holds %s", ErrModelMismatch, model, ix.cfg.Model)
	}
	if len(v) != ix.cfg.Dim {
		return fmt.Errorf("%w: got %d, want %d", ErrDimension, len(v), ix.cfg.Dim)
	}
	for _, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return ErrInvalidVector
		}
	}
	return nil
}

// Add indexes faces of the given model. When it returns nil, every entry is durable (fsynced to
// the WAL) and visible to searches. Either all entries are added or none.
func (ix *Index) Add(ctx context.Context, model string, entries []Entry) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if ix.cfg.SharedLog {
		return ErrSharedLog
	}
	seen := make(map[uint64]struct{}, len(entries))
	for _, e := range entries {
		if err := ix.checkVector(model, e.Vector); err != nil {
			return fmt.Errorf("face %d: %w", e.ID, err)
		}
		if _, dup := seen[e.ID]; dup {
			return fmt.Errorf("%w: %d appears twice in one batch", ErrExists, e.ID)
		}
		seen[e.ID] = struct{}{}
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.closed {
		return ErrClosed
	}
	ts := *ix.tombstones.Load()
	for _, e := range entries {
		_, isLive := ix.live[e.ID]
		_, isDead := ts[e.ID]
		if isLive || isDead {
			return fmt.Errorf("%w: %d", ErrExists, e.ID)
		}
	}
	recs := make([]record, len(entries))
	for i, e := range entries {
		recs[i] = record{kind: recInsert, lsn: ix.lsn + uint64(i) + 1, id: e.ID, gallery: e.Gallery, vector: e.Vector}
	}
	if err := ix.appendWAL(recs); err != nil {
		return err
	}
	for _, r := range recs {
		ix.lsn = r.lsn // applyInsert copies the vector: the caller may reuse its slices
		ix.applyInsert(r)
	}
	return nil
}

// Delete removes faces. When it returns nil the deletion is durable; searches never return the
// faces again, and their vectors leave object storage at the next compaction. Either all are
// deleted or none: an id that is not in the index fails the call with ErrNotFound.
func (ix *Index) Delete(ctx context.Context, ids ...uint64) error {
	missing, err := ix.delete(ctx, ids, true)
	if err != nil {
		return err
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: %d", ErrNotFound, missing[0])
	}
	return nil
}

// DeleteBatch removes the faces among ids that are in the index and returns the others
// (unknown, or deleted before), in the order given. The whole batch costs one fsync and one
// copy of the tombstone set, whatever its size. When err is nil the deletion is durable, as
// with Delete.
func (ix *Index) DeleteBatch(ctx context.Context, ids []uint64) (missing []uint64, err error) {
	return ix.delete(ctx, ids, false)
}

// delete logs and applies the deletion of the live ids among ids and returns the rest; with
// strict it deletes nothing when any is missing. An id given twice is deleted once.
func (ix *Index) delete(ctx context.Context, ids []uint64, strict bool) (missing []uint64, err error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if ix.cfg.SharedLog {
		return nil, ErrSharedLog
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.closed {
		return nil, ErrClosed
	}
	gone := make([]uint64, 0, len(ids))
	seen := make(map[uint64]struct{}, len(ids))
	for _, id := range ids {
		if _, dup := seen[id]; dup {
			continue
		}
		seen[id] = struct{}{}
		if _, ok := ix.live[id]; ok {
			gone = append(gone, id)
		} else {
			missing = append(missing, id)
		}
	}
	if len(gone) == 0 || (strict && len(missing) > 0) {
		return missing, nil
	}
	var recs []record
	for from := 0; from < len(gone); from += maxBatchIDs {
		recs = append(recs, record{kind: recDeleteBatch, lsn: ix.lsn + uint64(len(recs)) + 1,
			ids: gone[from:min(from+maxBatchIDs, len(gone))]})
	}
	if err := ix.appendWAL(recs); err != nil {
		return nil, err
	}
	ix.lsn = recs[len(recs)-1].lsn
	ix.applyDeletes(recs)
	select {
	case ix.deleted <- struct{}{}:
	default: // a compaction is already due
	}
	return missing, nil
}

func (ix *Index) appendWAL(recs []record) error {
	if err := ix.wal.append(recs); err != nil {
		// The file may now end in a partial record; a later append after it would be lost at
		// replay. Start a new file: replay truncates the torn tail of this one.
		ix.log.Error("wal append failed", "err", err)
		if nw, oerr := openWAL(ix.cfg.Dir, ix.wal.num+1, ix.cfg.Dim); oerr == nil {
			ix.wal.close()
			ix.wal = nw
		}
		return err
	}
	ix.stats.walSyncs.Add(1)
	ix.stats.walRecords.Add(int64(len(recs)))
	ix.walMaxLSN[ix.wal.num] = recs[len(recs)-1].lsn
	return nil
}

// Len is the number of live (not deleted) faces.
func (ix *Index) Len() int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return len(ix.live)
}

// Filter restricts a search; the zero value matches every face.
type Filter struct {
	Galleries []uint64 // only faces of these galleries (none: all)
	// Ef overrides Config.EfSearch for this query (0: the configured value). Benchmarks sweep it;
	// searches leave it alone, clustering asks less (it needs only the close neighbours).
	Ef int
}

// Search returns the k most similar live faces to query, best first. The query must come from
// the index's model.
func (ix *Index) Search(ctx context.Context, model string, query []float32, k int, f Filter) ([]Hit, error) {
	if err := ix.checkVector(model, query); err != nil {
		return nil, err
	}
	if k < 1 {
		return nil, fmt.Errorf("index: k must be >= 1, got %d", k)
	}
	ix.mu.RLock()
	if ix.closed {
		ix.mu.RUnlock()
		return nil, ErrClosed
	}
	views := make([]*segment, 0, len(ix.sealed)+1)
	for _, s := range ix.sealed {
		views = append(views, s.view())
	}
	views = append(views, ix.growing.view())
	// Under the same lock as the views: a follower's Refresh swaps segments and tombstones
	// together, and a face deleted and sealed away is in neither the new set nor the new
	// tombstones, while an old view still holds it.
	ts := *ix.tombstones.Load()
	ix.mu.RUnlock()

	var galleries map[uint64]struct{}
	if len(f.Galleries) > 0 {
		galleries = make(map[uint64]struct{}, len(f.Galleries))
		for _, g := range f.Galleries {
			galleries[g] = struct{}{}
		}
	}
	ok := func(id, gallery uint64) bool {
		if _, dead := ts[id]; dead {
			return false
		}
		if galleries != nil {
			_, in := galleries[gallery]
			return in
		}
		return true
	}
	qq, release, err := prepareQuery(views, query)
	if err != nil {
		return nil, fmt.Errorf("index: prepare query: %w", err)
	}
	defer release()
	qs := &querySearch{qq: qq}
	if !ix.cfg.searchUnbounded {
		qs.bound = &graph.SharedBound{}
	}
	results := make([][]Hit, len(views))
	errs := make([]error, len(views))
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for i, s := range views {
		if s.len() == 0 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			if ctx.Err() != nil {
				errs[i] = ctx.Err()
				return
			}
			results[i], errs[i] = ix.searchSegment(s, qs, query, k, f.Ef, galleries != nil, ok)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	var all []Hit
	for _, r := range results {
		all = append(all, r...)
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].Similarity != all[j].Similarity {
			return all[i].Similarity > all[j].Similarity
		}
		return all[i].ID < all[j].ID
	})
	if len(all) > k {
		all = all[:k]
	}
	return all, nil
}

// searchSegment searches one segment: by graph when it has one, exactly otherwise, and publishes
// its k-th hit to the walks still running. With a gallery filter the graph results are filtered
// afterwards; when too few survive (a selective filter), the segment is scanned exactly, which
// is cheap for the few faces that match.
func (ix *Index) searchSegment(s *segment, qs *querySearch, query []float32, k, ef int, filtered bool, ok accept) ([]Hit, error) {
	hits, err := ix.searchSegmentHits(s, qs, query, k, ef, filtered, ok)
	if err == nil {
		qs.publish(hits, k)
	}
	return hits, err
}

func (ix *Index) searchSegmentHits(s *segment, qs *querySearch, query []float32, k, ef int, filtered bool, ok accept) ([]Hit, error) {
	// s's vectors (and its graph's) may be a mapped file, which stays mapped while s.vm is
	// reachable: the garbage collector does not see pointers into a mapping.
	defer runtime.KeepAlive(s)
	h := s.graph.Load()
	if h == nil {
		return s.searchExact(query, k, ok), nil
	}
	want := k
	if filtered {
		want = 4 * k
	}
	if ef <= 0 {
		ef = ix.cfg.EfSearch
	}
	ef = max(segmentEf(ef, s.len(), ix.cfg.SegmentSize), want)
	ns, err := qs.searchGraph(h.g, query, want, ef)
	if err != nil {
		return nil, err
	}
	hits := make([]Hit, 0, k)
	for _, n := range ns {
		id, gallery := s.ids[n.ID], s.galleries[n.ID]
		if !ok(id, gallery) {
			continue
		}
		// The graph returns float32 scores (a quantized walk rescores its candidates); the
		// exact re-rank is this dot product, recomputed so every segment's scores come from one
		// function.
		hits = append(hits, Hit{ID: id, Gallery: gallery, Similarity: dot(query, s.vectors[int(n.ID)*s.dim:(int(n.ID)+1)*s.dim])})
		if len(hits) == k {
			break
		}
	}
	if len(hits) < k && len(ns) > len(hits) && (len(ns) == want || !qs.cutByBound()) {
		return s.searchExact(query, k, ok), nil
	}
	return hits, nil
}

// ForEach calls fn for every live face, sealed segments first (for exports, benchmarks and
// rebuilding derived data). It holds the read lock throughout, so fn must not call back into
// the index, and must not keep the vector slice: a sealed segment's vectors are a mapped file,
// unmapped once a merge or compaction has replaced the segment (copy what you keep).
func (ix *Index) ForEach(fn func(id, gallery uint64, vector []float32)) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	ts := *ix.tombstones.Load()
	for _, s := range append(ix.sealed[:len(ix.sealed):len(ix.sealed)], ix.growing) {
		for i, id := range s.ids {
			if _, dead := ts[id]; !dead {
				fn(id, s.galleries[i], s.vectors[i*s.dim:(i+1)*s.dim])
			}
		}
	}
}
