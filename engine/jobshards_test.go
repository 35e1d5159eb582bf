package engine_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/facematch/facematch/engine"
	"github.com/facematch/facematch/face/facetest"
	"github.com/facematch/facematch/internal/blob/engineblob"
)

// Several processes sharing one ingest job, on the real parts of jobFixture and an in-memory
// ShardClaimer standing in for PostgreSQL's advisory locks (the PostgreSQL catalog's own
// claimer runs the same tests where a server is at hand).

// memShards is an in-memory engine.ShardClaimer shared by a test's processes: each gets a
// session, whose claims end with their release or when the session's context ends (its
// process died). It is safe for concurrent use.
type memShards struct {
	mu   sync.Mutex
	held map[[2]int64]*memSession // by (job, shard)
	done map[int64]map[int]bool   // by job

	// together holds the first claim of each session until this many sessions have asked
	// (or a second passed): processes started at once both get work, whichever the scheduler
	// favours.
	together int
	asked    int
	allAsked chan struct{}
}

func newMemShards(together int) *memShards {
	return &memShards{held: map[[2]int64]*memSession{}, done: map[int64]map[int]bool{}, together: together,
		allAsked: make(chan struct{})}
}

type memSession struct {
	m      *memShards
	ctx    context.Context
	asked  bool
	claims atomic.Int64 // shards claimed
}

var _ engine.ShardClaimer = (*memSession)(nil)

// session starts a process's session; its claims end when ctx does.
func (m *memShards) session(ctx context.Context) *memSession {
	s := &memSession{m: m, ctx: ctx}
	go func() {
		<-ctx.Done()
		m.mu.Lock()
		defer m.mu.Unlock()
		for k, holder := range m.held {
			if holder == s {
				delete(m.held, k)
			}
		}
	}()
	return s
}

func (s *memSession) ClaimShard(ctx context.Context, jobID int64, shard int) (func(), bool, error) {
	m := s.m
	m.mu.Lock()
	first := !s.asked
	if first {
		s.asked = true
		if m.asked++; m.asked == m.together {
			close(m.allAsked)
		}
	}
	m.mu.Unlock()
	if first && m.together > 0 {
		select {
		case <-m.allAsked:
		case <-time.After(time.Second):
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	key := [2]int64{jobID, int64(shard)}
	if s.ctx.Err() != nil || m.held[key] != nil || m.done[jobID][shard] {
		return nil, false, nil
	}
	m.held[key] = s
	s.claims.Add(1)
	return func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		if m.held[key] == s {
			delete(m.held, key)
		}
	}, true, nil
}

// ClaimJob claims a whole job as the shard -1, which no file falls into.
func (s *memSession) ClaimJob(ctx context.Context, jobID int64) (func(), bool, error) {
	return s.ClaimShard(ctx, jobID, -1)
}

func (s *memSession) FinishShards(ctx context.Context, jobID int64, shards []int) (bool, error) {
	m := s.m
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.done[jobID] == nil {
		m.done[jobID] = map[int]bool{}
	}
	for _, sh := range shards {
		m.done[jobID][sh] = true
	}
	return len(m.done[jobID]) == engine.JobShards, nil
}

func (s *memSession) ShardsDone(ctx context.Context, jobID int64) ([]int, error) {
	m := s.m
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []int
	for sh := range m.done[jobID] {
		out = append(out, sh)
	}
	return out, nil
}

// countingSource opens any path and counts the files the job reads from it.
type countingSource struct{ opened *atomic.Int64 }

func (c countingSource) OpenSource(ctx context.Context, spec string) (engine.JobSource, error) {
	src, err := anyPath{}.OpenSource(ctx, spec)
	return countedFiles{src, c.opened}, err
}

type countedFiles struct {
	engine.JobSource
	opened *atomic.Int64
}

func (c countedFiles) Files(ctx context.Context, fn func(engine.SourceFile) error) error {
	return c.JobSource.Files(ctx, func(f engine.SourceFile) error {
		open := f.Open
		f.Open = func(ctx context.Context) (io.ReadCloser, error) {
			c.opened.Add(1)
			return open(ctx)
		}
		return fn(f)
	})
}

// shardProcess is one "process" of a shared job: its own service over the fixture's catalog,
// blobs and index, with a session of the shared claimer.
type shardProcess struct {
	svc     *engine.Service
	session *memSession
	opened  atomic.Int64 // files it read
}

func (f *jobFixture) process(t *testing.T, shards *memShards, session context.Context) *shardProcess {
	t.Helper()
	p := &shardProcess{session: shards.session(session)}
	vecs := map[string]engine.VectorIndex{}
	for model, ix := range f.indexes {
		vecs[model] = ix
	}
	var err error
	p.svc, err = engine.NewService(engine.ServiceConfig{Catalog: f.cat, Blobs: engineblob.Store{Blobs: f.blobs},
		Pipelines: only(fakePipeline()), DefaultModel: defaultModel, Indexes: vecs, Sources: countingSource{&p.opened},
		JobWorkers: 1, JobCommitBatch: 2, Shards: p.session})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// photoDir writes n distinct photos of one face each and returns the directory.
func photoDir(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	for i := range n {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("p%03d.png", i)), facetest.Photo(100+i/2, 1+i%2), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// sharedJob queues an ingest job of n photos into a new collection.
func sharedJob(t *testing.T, f *jobFixture, n int) (engine.Job, engine.Gallery) {
	t.Helper()
	coll, err := f.svc.CreateGallery(ctx(), admin, "shared", engine.Collection, "")
	if err != nil {
		t.Fatal(err)
	}
	j, err := f.svc.CreateJob(ctx(), admin, engine.JobRequest{Kind: engine.IngestJob, GalleryID: coll.ID,
		Spec: engine.JobSpec{Source: photoDir(t, n), Purpose: "case 18"}})
	if err != nil {
		t.Fatal(err)
	}
	return j, coll
}

// checkDoneOnce checks that the job stored each of its n files exactly once, counted them
// right, and was finished once.
func checkDoneOnce(t *testing.T, f *jobFixture, jobID, gallery int64, n int) {
	t.Helper()
	j, err := f.cat.Job(ctx(), jobID)
	if err != nil {
		t.Fatal(err)
	}
	if j.State != engine.JobDone || j.Total != n || j.Processed != n || j.Stored != n || j.Duplicates != 0 || j.Failed != 0 || j.Faces != n {
		t.Errorf("job = %s, total %d processed %d stored %d duplicates %d failed %d faces %d; want done with %d of each stored, one face each",
			j.State, j.Total, j.Processed, j.Stored, j.Duplicates, j.Failed, j.Faces, n)
	}
	items, err := f.cat.JobItems(ctx(), jobID, "", "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != n {
		t.Errorf("job has %d items, want %d", len(items), n)
	}
	imgs, err := f.cat.Images(ctx(), engine.ImageFilter{GalleryID: gallery, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(imgs) != n {
		t.Errorf("gallery holds %d images, want %d", len(imgs), n)
	}
	entries, err := f.cat.Entries(ctx(), engine.AuditFilter{Action: "job.done", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("job finished %d times, want once", len(entries))
	}
}

func TestShardedIngestJobIsSharedByProcesses(t *testing.T) {
	const n = 40
	f := openFixture(t, t.TempDir(), only(fakePipeline()))
	j, coll := sharedJob(t, f, n)
	shards := newMemShards(2)
	procs := []*shardProcess{f.process(t, shards, ctx()), f.process(t, shards, ctx())}
	var wg sync.WaitGroup
	ends := make([]engine.Job, len(procs))
	for i, p := range procs {
		wg.Go(func() {
			var err error
			if ends[i], err = p.svc.RunJob(ctx(), j.ID, nil); err != nil {
				t.Errorf("process %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	checkDoneOnce(t, f, j.ID, coll.ID, n)
	a, b := procs[0].opened.Load(), procs[1].opened.Load()
	if a == 0 || b == 0 || a+b != n {
		t.Errorf("processes read %d and %d files, want both some, %d in all (each file once)", a, b, n)
	}
	t.Logf("files read: %d and %d; shards claimed: %d and %d; runs ended %s and %s",
		a, b, procs[0].session.claims.Load(), procs[1].session.claims.Load(), ends[0].State, ends[1].State)
}

func TestShardedIngestJobSurvivesAProcessDying(t *testing.T) {
	const n = 40
	f := openFixture(t, t.TempDir(), only(fakePipeline()))
	j, coll := sharedJob(t, f, n)
	shards := newMemShards(2)
	life, die := context.WithCancel(ctx())
	defer die()
	dying, survivor := f.process(t, shards, life), f.process(t, shards, ctx())
	runner := engine.NewJobRunner(survivor.svc)
	runner.SetRetry(20 * time.Millisecond)
	stop := make(chan struct{})
	go func() {
		defer close(stop)
		// Dies after its first batch, holding shards with files still to do (its claims end
		// with its session, as a PostgreSQL session's advisory locks do).
		if _, err := dying.svc.RunJob(life, j.ID, func(engine.Job) { die() }); err == nil {
			t.Error("dying process's run ended without an error")
		}
	}()
	c, cancel := context.WithCancel(ctx())
	ran := make(chan struct{})
	go func() { defer close(ran); runner.Run(c) }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		cur, err := f.cat.Job(ctx(), j.ID)
		if err != nil {
			t.Fatal(err)
		}
		if cur.State.Finished() || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	<-ran
	<-stop
	checkDoneOnce(t, f, j.ID, coll.ID, n)
	if dying.opened.Load() == 0 {
		t.Errorf("the dying process read no file: the test did not kill it part-way")
	}
	t.Logf("files read: dying %d, survivor %d", dying.opened.Load(), survivor.opened.Load())
}

// Cancelling a shared job through one process stops the others' runs at their next batch (the
// state they commit against is the catalog's), and resuming it completes it with every file once.
func TestShardedIngestJobCancelledFromOneProcess(t *testing.T) {
	const n = 40
	f := openFixture(t, t.TempDir(), only(fakePipeline()))
	j, coll := sharedJob(t, f, n)
	shards := newMemShards(2)
	procs := []*shardProcess{f.process(t, shards, ctx()), f.process(t, shards, ctx())}
	var wg sync.WaitGroup
	ends := make([]engine.Job, len(procs))
	var once sync.Once
	for i, p := range procs {
		wg.Go(func() {
			var err error
			ends[i], err = p.svc.RunJob(ctx(), j.ID, func(engine.Job) {
				if i == 0 {
					once.Do(func() {
						if _, err := p.svc.CancelJob(ctx(), admin, j.ID); err != nil {
							t.Error(err)
						}
					})
				}
			})
			if err != nil {
				t.Errorf("process %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	cur, err := f.cat.Job(ctx(), j.ID)
	if err != nil {
		t.Fatal(err)
	}
	// The other run ends cancelled, unless it had finished its shards before the cancel.
	if cur.State != engine.JobCancelled || cur.Processed >= n || ends[0].State != engine.JobCancelled || ends[1].State == engine.JobDone {
		t.Fatalf("job = %s with %d of %d files, runs ended %s and %s; want cancelled part-way", cur.State, cur.Processed, n, ends[0].State, ends[1].State)
	}
	if _, err := procs[1].svc.ResumeJob(ctx(), admin, j.ID); err != nil {
		t.Fatal(err)
	}
	if j, err := procs[1].svc.RunJob(ctx(), j.ID, nil); err != nil || j.State != engine.JobDone {
		t.Fatalf("resumed job = %s, %v; want done", j.State, err)
	}
	checkDoneOnce(t, f, j.ID, coll.ID, n)
}

// A shared job another process failed stays failed: a run that stops because of it does not
// record it done.
func TestShardedIngestJobFailedElsewhereStaysFailed(t *testing.T) {
	const n = 40
	f := openFixture(t, t.TempDir(), only(fakePipeline()))
	j, _ := sharedJob(t, f, n)
	p := f.process(t, newMemShards(0), ctx())
	var once sync.Once
	end, err := p.svc.RunJob(ctx(), j.ID, func(engine.Job) {
		once.Do(func() { // as the failing process records it
			if _, err := f.cat.SetJobState(ctx(), j.ID, engine.JobFailed, "storage broke", time.Now()); err != nil {
				t.Error(err)
			}
		})
	})
	if err != nil || end.State != engine.JobFailed || end.Processed >= n {
		t.Fatalf("run = %s with %d of %d files, %v; want failed part-way", end.State, end.Processed, n, err)
	}
	if cur, err := f.cat.Job(ctx(), j.ID); err != nil || cur.State != engine.JobFailed {
		t.Fatalf("job = %s, %v; want failed", cur.State, err)
	}
}
