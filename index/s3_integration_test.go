package index

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/facematch/facematch/internal/blob"
	"github.com/facematch/facematch/internal/blob/s3"
	"github.com/facematch/facematch/internal/blob/s3/s3test"
)

// The index against a real S3 server: Versity's versitygw (internal/blob/s3/s3test), with
// versioning on, so that "deleted" must mean every version, and so that the server can be
// killed and restarted under load.

// openS3Store opens cfg's bucket as a versioned bucket.
func openS3Store(t *testing.T, cfg s3.Config) *s3.Store {
	t.Helper()
	store, err := s3.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.EnsureBucket(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	return store
}

// s3Opener opens the test index with its segments and manifests in bucket on g (the WAL stays
// under dir, on local disk, as in openTest).
func s3Opener(g *s3test.Gateway, bucket string) opener {
	return func(t *testing.T, dir string, segmentSize int, graph *GraphKind) *testIndex {
		t.Helper()
		cfg := Config{Dir: filepath.Join(dir, "wal"), Store: openS3Store(t, g.Config(bucket, "")), Prefix: "index/test",
			Model: testModel, Dim: 32, SegmentSize: segmentSize, Graph: graph}
		ix, err := Open(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ix.Close() })
		return &testIndex{ix, cfg}
	}
}

func TestS3RestartKeepsEverything(t *testing.T) {
	g := s3test.Start(t)
	testRestartKeepsEverything(t, s3Opener(g, "index-restart"))
}

// TestS3CompactionRemovesDeletedVectors: after Compact, no version of any object in the
// versioned bucket (delete markers aside: they hold no data) contains a deleted face's vector,
// and neither does any file the server keeps on disk (its data and version directories,
// unfinished uploads included).
func TestS3CompactionRemovesDeletedVectors(t *testing.T) {
	g := s3test.Start(t)
	const bucket = "index-compact"
	testCompactionRemovesDeletedVectors(t, s3Opener(g, bucket), func(t *testing.T, _ *testIndex, needle []byte) bool {
		t.Helper()
		inVersions := bucketVersionsHold(t, g, bucket, needle)
		onDisk := dirHolds(t, g.Dir(), needle)
		if inVersions != onDisk {
			// Not a failure by itself, but the two views of the server disagree: say so.
			t.Logf("the vector is in an object version: %v; in a file of the server: %v", inVersions, onDisk)
		}
		return inVersions || onDisk
	})
}

// bucketVersionsHold reads every version of every object in bucket and reports whether one
// contains needle.
func bucketVersionsHold(t *testing.T, g *s3test.Gateway, bucket string, needle []byte) bool {
	t.Helper()
	ctx := context.Background()
	versions, err := g.Versions(ctx, bucket, "")
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, v := range versions {
		if v.IsDeleteMarker {
			continue
		}
		data, err := g.ReadVersion(ctx, bucket, v.Key, v.VersionID)
		if errors.Is(err, blob.ErrNotFound) {
			continue // deleted since the listing (the persister drops old manifests after Flush)
		}
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(data, needle) {
			t.Logf("version %q of %s holds the vector", v.VersionID, v.Key)
			found = true
		}
	}
	return found
}

// dirHolds reports whether a file below dir contains needle.
func dirHolds(t *testing.T, dir string, needle []byte) bool {
	t.Helper()
	found := false
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil // removed since its directory was read
		}
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		data, err := os.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if bytes.Contains(data, needle) {
			t.Logf("server file %s holds the vector", p)
			found = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// checkManifests lists the index's objects and checks that the latest manifest (with all, every
// manifest) decodes and names only segments that exist and read back whole (checksum, count,
// seq). Without compaction every kept manifest must pass; after one, the previous manifest,
// kept beside the latest, may name the segments it replaced. It returns the number of
// manifests.
func checkManifests(t *testing.T, store ObjectStore, prefix string, all bool) int {
	t.Helper()
	ctx := context.Background()
	objs, err := store.List(ctx, prefix+"/")
	if err != nil {
		t.Fatal(err)
	}
	exists := map[string]bool{}
	var latest uint64
	manifests := 0
	for _, o := range objs {
		exists[o.Key] = true
		if gen, ok := parseManifestKey(prefix, o.Key); ok {
			latest = max(latest, gen)
			manifests++
		}
	}
	for _, o := range objs {
		if gen, ok := parseManifestKey(prefix, o.Key); !ok || !all && gen != latest {
			continue
		}
		rc, err := store.Get(ctx, o.Key)
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		m, err := decodeManifest(data)
		if err != nil {
			t.Fatalf("manifest %s: %v", o.Key, err)
		}
		for _, ms := range m.Segments {
			if !exists[ms.Key] {
				t.Errorf("manifest %s names segment %s, which is not in the bucket", o.Key, ms.Key)
				continue
			}
			rc, err := store.Get(ctx, ms.Key)
			if err != nil {
				t.Fatal(err)
			}
			s, err := readSegment(ctx, rc, readOptions{model: testModel, dim: 32})
			rc.Close()
			if err != nil {
				t.Errorf("manifest %s: segment %s: %v", o.Key, ms.Key, err)
			} else if s.len() != ms.Count || s.seq != ms.Seq {
				t.Errorf("manifest %s: segment %s holds %d faces (seq %d), manifest says %d (seq %d)", o.Key, ms.Key, s.len(), s.seq, ms.Count, ms.Seq)
			}
		}
	}
	return manifests
}

// loadLog records what the load goroutines were told: every acknowledged face, and which of
// them were deleted (acknowledged deletes).
type loadLog struct {
	mu      sync.Mutex
	acked   map[uint64]Entry
	deleted map[uint64]bool
}

func (l *loadLog) counts() (acked, deleted int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.acked), len(l.deleted)
}

// live returns the acknowledged faces not deleted.
func (l *loadLog) live() map[uint64]Entry {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[uint64]Entry, len(l.acked))
	for id, e := range l.acked {
		if !l.deleted[id] {
			out[id] = e
		}
	}
	return out
}

func (l *loadLog) deletedIDs() map[uint64]bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[uint64]bool, len(l.deleted))
	for id := range l.deleted {
		out[id] = true
	}
	return out
}

// runLoad starts writers that Add batches of 5 faces (and delete one face of every fourth
// batch) and a searcher, until stop is called (at the latest by t.Cleanup, before the index's
// Close). Any error is a test failure: with object storage down, writes still go to the WAL and
// searches to memory.
func runLoad(t *testing.T, ix *Index, l *loadLog, nextID *atomic.Uint64, seed uint64) (stop func()) {
	ctx := context.Background()
	done := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(seed, uint64(w)))
			for batch := 0; ; batch++ {
				select {
				case <-done:
					return
				case <-time.After(2 * time.Millisecond): // a steady load, not a flood
				}
				from := nextID.Add(5) - 5
				es := entries(r, int(from), 5, uint64(w))
				if err := ix.Add(ctx, testModel, es); err != nil {
					t.Errorf("Add: %v", err)
					return
				}
				l.mu.Lock()
				for _, e := range es {
					l.acked[e.ID] = e
				}
				l.mu.Unlock()
				if batch%4 == 3 {
					if err := ix.Delete(ctx, es[0].ID); err != nil {
						t.Errorf("Delete: %v", err)
						return
					}
					l.mu.Lock()
					l.deleted[es[0].ID] = true
					l.mu.Unlock()
				}
			}
		})
	}
	wg.Go(func() {
		r := rand.New(rand.NewPCG(seed, 99))
		for {
			select {
			case <-done:
				return
			case <-time.After(5 * time.Millisecond):
			}
			gone := l.deletedIDs() // acknowledged before the search starts: must not come back
			hits, err := ix.Search(ctx, testModel, unitVector(r, 32), 10, Filter{})
			if err != nil {
				t.Errorf("Search: %v", err)
				return
			}
			for _, h := range hits {
				if gone[h.ID] {
					t.Errorf("Search returned face %d, deleted before the search began", h.ID)
					return
				}
			}
		}
	})
	stop = sync.OnceFunc(func() {
		close(done)
		wg.Wait()
	})
	t.Cleanup(stop)
	return stop
}

// waitFor polls cond every 10 ms for up to 30 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if t.Failed() || time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// checkSearchExact compares a few searches with brute force over live.
func checkSearchExact(t *testing.T, ix *Index, live map[uint64]Entry, seed uint64) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 7))
	for i := range 10 {
		q := unitVector(r, 32)
		h, err := ix.Search(context.Background(), testModel, q, 10, Filter{})
		if err != nil {
			t.Fatalf("Search: %v", err)
		}
		if want := exactTop(live, q, 10); !slices.Equal(hitIDs(h), want) {
			t.Fatalf("query %d: got %v, want %v", i, hitIDs(h), want)
		}
		h, err = ix.Search(context.Background(), testModel, q, 5, Filter{Galleries: []uint64{1}})
		if err != nil {
			t.Fatalf("Search in gallery 1: %v", err)
		}
		if want := exactTop(live, q, 5, 1); !slices.Equal(hitIDs(h), want) {
			t.Fatalf("query %d in gallery 1: got %v, want %v", i, hitIDs(h), want)
		}
	}
}

// TestS3OutageUnderLoad kills the S3 server while faces are being added and sealed segments
// uploaded, and restarts it: writes keep being acknowledged (the WAL on local disk holds them),
// Flush reports the outage as blob.ErrUnavailable, searches keep answering, and after the
// server is back and the index reopened every acknowledged face is there with its exact vector
// and no manifest names a missing or damaged segment.
func TestS3OutageUnderLoad(t *testing.T) {
	g := s3test.Start(t)
	ctx := context.Background()
	const prefix = "index/outage"
	scfg := g.Config("index-outage", "")
	scfg.MaxRetries = 1 // fail fast: the persister retries on its own
	scfg.DialTimeout = time.Second
	scfg.ResponseHeaderTimeout = 5 * time.Second
	cfg := Config{Dir: filepath.Join(t.TempDir(), "wal"), Store: openS3Store(t, scfg), Prefix: prefix,
		Model: testModel, Dim: 32, SegmentSize: 50,
		// Without merges every kept manifest names only live objects (checkManifests(all));
		// TestS3MergeDuringOutage has the merges.
		MergeFactor: -1,
		Logger:      slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	ix, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ix.Close() })

	l := &loadLog{acked: map[uint64]Entry{}, deleted: map[uint64]bool{}}
	var nextID atomic.Uint64
	persistedSegments := func() int {
		objs, err := cfg.Store.List(ctx, path.Join(prefix, "segments")+"/")
		if err != nil {
			t.Errorf("listing segments: %v", err)
		}
		return len(objs)
	}

	// 1. Server up: segments seal and reach the bucket.
	stop := runLoad(t, ix, l, &nextID, 1)
	waitFor(t, "two segments in the bucket", func() bool { return persistedSegments() >= 2 })

	// 2. The server crashes under load; writes and searches go on.
	g.Kill()
	atKill, _ := l.counts()
	waitFor(t, "three segments' worth of faces acknowledged with the server down", func() bool {
		n, _ := l.counts()
		return n >= atKill+3*cfg.SegmentSize
	})
	fctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	err = ix.Flush(fctx)
	cancel()
	if !errors.Is(err, blob.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Flush with the server down = %v; want an error wrapping blob.ErrUnavailable and the deadline", err)
	}
	t.Logf("Flush with the server down: %v", err)
	stop()
	if t.Failed() {
		t.FailNow()
	}
	acked, deleted := l.counts()
	t.Logf("server down: %d faces acknowledged (%d since the crash), %d deleted", acked, acked-atKill, deleted)
	live := l.live()
	if ix.Len() != len(live) {
		t.Fatalf("with the server down Len = %d, want %d", ix.Len(), len(live))
	}
	checkSearchExact(t, ix, live, 2)

	// 3. The server comes back (same port, same data) under load; Flush then succeeds.
	stop = runLoad(t, ix, l, &nextID, 3)
	if err := g.Restart(); err != nil {
		stop()
		t.Fatal(err)
	}
	before, _ := l.counts()
	waitFor(t, "two segments' worth of faces acknowledged after the restart", func() bool {
		n, _ := l.counts()
		return n >= before+2*cfg.SegmentSize
	})
	stop()
	if t.Failed() {
		t.FailNow()
	}
	fctx, cancel = context.WithTimeout(ctx, 30*time.Second)
	err = ix.Flush(fctx)
	cancel()
	if err != nil {
		t.Fatalf("Flush after the server restarted: %v", err)
	}
	if err := ix.Close(); err != nil { // after it the persister is done, old manifests dropped
		t.Fatal(err)
	}
	if n := checkManifests(t, cfg.Store, prefix, true); n == 0 {
		t.Fatal("no manifest in the bucket after Flush")
	}

	// 4. Reopen (a new client, the same WAL): every acknowledged face, exactly.
	cfg.Store = openS3Store(t, scfg)
	re, err := Open(ctx, cfg)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	t.Cleanup(func() { re.Close() })
	live = l.live()
	present := map[uint64][]float32{}
	re.ForEach(func(id, _ uint64, v []float32) { present[id] = append([]float32(nil), v...) })
	for id, e := range live {
		v, ok := present[id]
		if !ok {
			t.Errorf("acknowledged face %d is missing after the outage and a reopen", id)
		} else if !slices.Equal(v, e.Vector) {
			t.Errorf("face %d came back with a different vector", id)
		}
	}
	for id := range present {
		if _, ok := live[id]; !ok {
			t.Errorf("face %d is present after the reopen but was deleted (%v) or never acknowledged", id, l.deleted[id])
		}
	}
	if re.Len() != len(live) {
		t.Errorf("after the reopen Len = %d, want %d", re.Len(), len(live))
	}
	if t.Failed() {
		t.FailNow()
	}
	checkSearchExact(t, re, live, 4)
	checkManifests(t, cfg.Store, prefix, true)
	acked, deleted = l.counts()
	t.Logf("after the reopen: %d acknowledged, %d deleted, %d live, all present; %d segment objects", acked, deleted, len(live), persistedSegments())
}

// TestS3OpenAbortsIncompleteUploads: the parts of an upload a killed process left behind hold
// face vectors that no List or Delete sees; opening the index aborts them.
func TestS3OpenAbortsIncompleteUploads(t *testing.T) {
	g := s3test.Start(t)
	const bucket = "index-abort"
	openS3Store(t, g.Config(bucket, "")) // creates the bucket
	ctx := context.Background()
	client, err := g.Client()
	if err != nil {
		t.Fatal(err)
	}
	core := minio.Core{Client: client}
	name := segmentKey("index/test", 3, 2)
	id, err := core.NewMultipartUpload(ctx, bucket, name, minio.PutObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	part := bytes.Repeat([]byte{7}, 5<<20)
	if _, err := core.PutObjectPart(ctx, bucket, name, id, 1, bytes.NewReader(part), int64(len(part)), minio.PutObjectPartOptions{}); err != nil {
		t.Fatal(err)
	}
	s3Opener(g, bucket)(t, t.TempDir(), 100, nil)
	for up := range client.ListIncompleteUploads(ctx, bucket, "index/", true) {
		if up.Err != nil {
			t.Fatal(up.Err)
		}
		t.Fatalf("upload of %s still incomplete after Open", up.Key)
	}
}

// TestS3MergeDuringOutage: the S3 server dies while a merge is under way (its graph built, its
// upload about to start). Searches keep answering exactly from the old segments and writes
// keep being acknowledged while the persister retries; once the server is back the merge
// completes, no version of any object holds the face it dropped, and a reopen finds every
// acknowledged face.
func TestS3MergeDuringOutage(t *testing.T) {
	g := s3test.Start(t)
	ctx := context.Background()
	const bucket, prefix = "index-merge-outage", "index/merge-outage"
	scfg := g.Config(bucket, "")
	scfg.MaxRetries = 1 // fail fast: the persister retries on its own
	scfg.DialTimeout = time.Second
	scfg.ResponseHeaderTimeout = 5 * time.Second
	reached, release := make(chan struct{}), make(chan struct{})
	var once atomic.Bool
	var mu sync.Mutex
	var stages []string
	cfg := Config{Dir: filepath.Join(t.TempDir(), "wal"), Store: openS3Store(t, scfg), Prefix: prefix,
		Model: testModel, Dim: 32, SegmentSize: 40, Graph: mergeTestGraph(), MergeFactor: 3, CompactAfter: -1,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		mergeHook: func(stage string) {
			mu.Lock()
			stages = append(stages, stage)
			mu.Unlock()
			if stage == "built" && once.CompareAndSwap(false, true) {
				close(reached)
				<-release
			}
		}}
	ix, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ix.Close() })

	l := &loadLog{acked: map[uint64]Entry{}, deleted: map[uint64]bool{}}
	add := func(es []Entry) {
		t.Helper()
		if err := ix.Add(ctx, testModel, es); err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			l.acked[e.ID] = e
		}
	}
	r := rand.New(rand.NewPCG(41, 42))
	add(entries(r, 0, 80, 1))
	victim := l.acked[5]
	if err := ix.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := ix.Delete(ctx, victim.ID); err != nil {
		t.Fatal(err)
	}
	l.deleted[victim.ID] = true
	add(entries(r, 80, 40, 0))
	select {
	case <-reached:
	case <-time.After(30 * time.Second):
		t.Fatal("no merge began")
	}
	if !bucketVersionsHold(t, g, bucket, floatBytes(victim.Vector)) {
		t.Fatal("the deleted face's vector is not in the bucket before the merge: the test would prove nothing")
	}

	// The server dies with the merged segment built; its upload fails and is retried.
	g.Kill()
	close(release)
	var nextID atomic.Uint64
	nextID.Store(10_000)
	stop := runLoad(t, ix, l, &nextID, 43)
	waitFor(t, "the merge's upload to fail", func() bool {
		p := ix.lastErr.Load()
		return p != nil && errors.Is(*p, blob.ErrUnavailable)
	})
	time.Sleep(time.Second) // searches and writes under the outage, a retry or two
	stop()
	if t.Failed() {
		t.FailNow()
	}
	if n := ix.Stats().Merges; n != 0 {
		t.Fatalf("%d merges with the server down", n)
	}
	start := time.Now()
	checkSearchExact(t, ix, l.live(), 44)
	t.Logf("with the server down: %d faces live, 20 searches in %s, last error: %v", ix.Len(), time.Since(start), *ix.lastErr.Load())

	// Back up: the retry completes the merge. Flush wakes the persister, whose backoff grew
	// during the outage; the merge follows the segments it persists.
	if err := g.Restart(); err != nil {
		t.Fatal(err)
	}
	fctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err = ix.Flush(fctx)
	cancel()
	if err != nil {
		t.Fatalf("Flush after the server came back: %v", err)
	}
	waitMerges(t, &testIndex{ix, cfg}, 1)
	mu.Lock()
	if first := stages[:3]; !slices.Equal(first, []string{"built", "uploaded", "published"}) {
		t.Errorf("the first merge went through %v; its retries should upload the segment built once", first)
	}
	mu.Unlock()
	checkSearchExact(t, ix, l.live(), 45)
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	if bucketVersionsHold(t, g, bucket, floatBytes(victim.Vector)) {
		t.Fatal("a version in the bucket still holds the face the merge dropped")
	}
	checkManifests(t, cfg.Store, prefix, false)

	cfg.Store, cfg.mergeHook = openS3Store(t, scfg), nil
	re, err := Open(ctx, cfg)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	t.Cleanup(func() { re.Close() })
	live := l.live()
	present := map[uint64][]float32{}
	re.ForEach(func(id, _ uint64, v []float32) { present[id] = append([]float32(nil), v...) })
	for id, e := range live {
		if v, ok := present[id]; !ok || !slices.Equal(v, e.Vector) {
			t.Fatalf("acknowledged face %d: present %v, same vector %v", id, ok, slices.Equal(v, e.Vector))
		}
	}
	if re.Len() != len(live) {
		t.Fatalf("after the reopen Len = %d, want %d", re.Len(), len(live))
	}
	checkSearchExact(t, re, live, 46)
}
