package engine_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/facematch/facematch/engine"
	"github.com/facematch/facematch/internal/blob/engineblob"
	"github.com/facematch/facematch/internal/blob/local"
	"github.com/facematch/facematch/internal/catalog"
	"github.com/facematch/facematch/internal/catalog/pgtest"
)

// The shared ingest job on a real PostgreSQL: each "process" has its own catalog handle (its
// own pool, and its own session holding its claims), as replicas do; the in-memory claimer of
// jobshards_test.go stands in for this one in the quick scenarios.

// pgProcess is one process of a shared job on PostgreSQL.
type pgProcess struct {
	svc    *engine.Service
	cat    *catalog.DB
	opened atomic.Int64
}

func (f *jobFixture) pgProcess(t *testing.T, dsn string) *pgProcess {
	t.Helper()
	cat, err := catalog.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cat.Close() })
	p := &pgProcess{cat: cat}
	vecs := map[string]engine.VectorIndex{}
	for model, ix := range f.indexes {
		vecs[model] = ix
	}
	p.svc, err = engine.NewService(engine.ServiceConfig{Catalog: cat, Blobs: engineblob.Store{Blobs: f.blobs},
		Pipelines: only(fakePipeline()), DefaultModel: defaultModel, Indexes: vecs, Sources: countingSource{&p.opened},
		JobWorkers: 1, JobCommitBatch: 2, Shards: cat.Shards()})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// pgFixture is the fixture on a fresh PostgreSQL database, and its DSN.
func pgFixture(t *testing.T) (*jobFixture, string) {
	f, dsn, _ := pgFixtureOn(t)
	return f, dsn
}

// pgFixtureOn is pgFixture with its server.
func pgFixtureOn(t *testing.T) (*jobFixture, string, *pgtest.Server) {
	t.Helper()
	srv := pgtest.Start(t)
	dsn := srv.NewDB(t)
	dir := t.TempDir()
	blobs, err := local.Open(dir + "/blobs")
	if err != nil {
		t.Fatal(err)
	}
	f := openFixtureAt(t, dir, dsn, only(fakePipeline()), blobs)
	f.blobs = blobs
	return f, dsn, srv
}

// Two processes at once: each file once, the job finished once.
func TestShardedIngestJobOnPostgres(t *testing.T) {
	const n = 40
	f, dsn := pgFixture(t)
	j, coll := sharedJob(t, f, n)
	procs := []*pgProcess{f.pgProcess(t, dsn), f.pgProcess(t, dsn)}
	var wg sync.WaitGroup
	for i, p := range procs {
		wg.Go(func() {
			if _, err := p.svc.RunJob(ctx(), j.ID, nil); err != nil {
				t.Errorf("process %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	// A run that found every shard taken returns with the job still running; the last one
	// to finish its shards finishes the job.
	checkDoneOnce(t, f, j.ID, coll.ID, n)
	a, b := procs[0].opened.Load(), procs[1].opened.Load()
	if a+b != n {
		t.Errorf("processes read %d and %d files, want %d in all (each file once)", a, b, n)
	}
	t.Logf("files read by the two processes: %d and %d", a, b)
}

// A process dies part-way (its context ends and its catalog closes: its session and its claims
// with it); another process's runner takes its shards over.
func TestShardedIngestJobOnPostgresSurvivesAProcessDying(t *testing.T) {
	const n = 40
	f, dsn := pgFixture(t)
	j2, coll2 := sharedJob(t, f, n)
	dying, survivor := f.pgProcess(t, dsn), f.pgProcess(t, dsn)
	life, die := context.WithCancel(ctx())
	if _, err := dying.svc.RunJob(life, j2.ID, func(engine.Job) { die() }); err == nil {
		t.Error("the dying process's run ended without an error")
	}
	dying.cat.Close()
	runner := engine.NewJobRunner(survivor.svc)
	runner.SetRetry(20 * time.Millisecond)
	c, cancel := context.WithCancel(ctx())
	ran := make(chan struct{})
	go func() { defer close(ran); runner.Run(c) }()
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cur, err := f.cat.Job(ctx(), j2.ID); err != nil || cur.State.Finished() {
			break
		}
	}
	cancel()
	<-ran
	checkDoneOnce(t, f, j2.ID, coll2.ID, n)
	if dying.opened.Load() == 0 {
		t.Error("the dying process read no file: the test did not kill it part-way")
	}
}

// A process whose claim session breaks mid-run (its server process terminated, the process
// itself alive): its next commit of a lost shard is refused, its run ends leaving the job
// running (not failed), and another process's runner finishes the job with every file once.
func TestShardedIngestJobOnPostgresSurvivesALostSession(t *testing.T) {
	const n = 40
	f, dsn, srv := pgFixtureOn(t)
	j, coll := sharedJob(t, f, n)
	cut, other := f.pgProcess(t, dsn), f.pgProcess(t, dsn)
	var once sync.Once
	end, err := cut.svc.RunJob(ctx(), j.ID, func(engine.Job) {
		once.Do(func() {
			// Every server process holding a shard claim (a two-key advisory lock) ends, as
			// a network cut or a server-side kill would end it.
			if err := srv.Exec(ctx(), "postgres", `SELECT pg_terminate_backend(pid) FROM pg_locks
				WHERE locktype = 'advisory' AND objsubid = 2`); err != nil {
				t.Error(err)
			}
		})
	})
	if err != nil || end.State != engine.JobRunning {
		t.Fatalf("the cut process's run: %s, %v; want the job left running without an error", end.State, err)
	}
	runner := engine.NewJobRunner(other.svc)
	runner.SetRetry(20 * time.Millisecond)
	c, cancel := context.WithCancel(ctx())
	ran := make(chan struct{})
	go func() { defer close(ran); runner.Run(c) }()
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cur, err := f.cat.Job(ctx(), j.ID); err != nil || cur.State.Finished() {
			break
		}
	}
	cancel()
	<-ran
	checkDoneOnce(t, f, j.ID, coll.ID, n)
	t.Logf("files read: cut %d, other %d", cut.opened.Load(), other.opened.Load())
}
