package catalog

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/facematch/facematch/engine"
	"github.com/facematch/facematch/internal/catalog/pgtest"
)

// Claims of jobs and of their shards on a real PostgreSQL, between two handles as between two
// processes: one holder at a time, a done shard never claimed again, every claim ended by its
// holder's death (its handle closed), and the job done once every shard is.
func TestShardClaimsOnPostgres(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.Shared(t).NewDB(t)
	open := func() *DB {
		d, err := Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	a, b := open(), open()
	defer b.Close()
	g := must[engine.Gallery](t)(a.CreateGallery(ctx, engine.Gallery{Name: "ads", Kind: engine.Collection, Model: "m@1"}))
	j := must[engine.Job](t)(a.CreateJob(ctx, engine.Job{Kind: engine.IngestJob, GalleryID: g.ID, State: engine.JobQueued, Spec: engine.JobSpec{Source: "dir:x"}}))
	sa, sb := a.Shards(), b.Shards()
	if sa == nil || sb == nil {
		t.Fatal("a PostgreSQL catalog has no shard claimer")
	}
	claim := func(s engine.ShardClaimer, shard int) (func(), bool) {
		t.Helper()
		release, ok, err := s.ClaimShard(ctx, j.ID, shard)
		if err != nil {
			t.Fatal(err)
		}
		return release, ok
	}
	rel, ok := claim(sa, 3)
	if !ok {
		t.Fatal("a free shard was refused")
	}
	if _, ok := claim(sb, 3); ok {
		t.Fatal("a shard held by one process was claimed by another")
	}
	rel()
	relB, ok := claim(sb, 3)
	if !ok {
		t.Fatal("a released shard was refused")
	}
	if done, err := sb.FinishShards(ctx, j.ID, []int{3}); err != nil || done {
		t.Fatalf("one shard of %d done: all done %v, %v", engine.JobShards, done, err)
	}
	relB()
	if _, ok := claim(sa, 3); ok {
		t.Fatal("a done shard was claimed again")
	}
	// A process dies holding shards and the whole job: its claims end with its session.
	if _, ok := claim(sa, 7); !ok {
		t.Fatal("a free shard was refused")
	}
	if _, ok, err := sa.ClaimJob(ctx, j.ID); err != nil || !ok {
		t.Fatalf("claiming a free job: %v, %v", ok, err)
	}
	if _, ok, err := sb.ClaimJob(ctx, j.ID); err != nil || ok {
		t.Fatalf("a job held by one process was claimed by another: %v, %v", ok, err)
	}
	a.Close()
	if _, ok := claim(sb, 7); !ok {
		t.Fatal("a dead process's shard was not freed")
	}
	if _, ok, err := sb.ClaimJob(ctx, j.ID); err != nil || !ok {
		t.Fatalf("a dead process's job was not freed: %v, %v", ok, err)
	}
	rest := []int{}
	for s := range engine.JobShards {
		if s != 3 {
			rest = append(rest, s)
		}
	}
	if done, err := sb.FinishShards(ctx, j.ID, rest); err != nil || !done {
		t.Fatalf("every shard done: all done %v, %v", done, err)
	}
	if got, err := sb.ShardsDone(ctx, j.ID); err != nil || len(got) != engine.JobShards {
		t.Fatalf("done shards: %d, %v", len(got), err)
	}
}

// On SQLite the catalog belongs to one process, which runs every job and every file: it has
// no claimer.
func TestSQLiteHasNoClaimer(t *testing.T) {
	d, _ := openTest(t)
	if d.Shards() != nil {
		t.Fatal("a SQLite catalog offers claims of jobs and shards")
	}
}

// A process whose claim session broke (its server process terminated: its locks ended with it)
// can no longer commit files of the shards it had: another process may hold them now. A
// process that never ran the job in shards commits as before.
func TestCommitRefusedAfterTheClaimIsLost(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.Shared(t).NewDB(t)
	a, err := Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	g := must[engine.Gallery](t)(a.CreateGallery(ctx, engine.Gallery{Name: "ads", Kind: engine.Collection, Model: "m@1"}))
	j := must[engine.Job](t)(a.CreateJob(ctx, engine.Job{Kind: engine.IngestJob, GalleryID: g.ID, Spec: engine.JobSpec{Source: "dir:x"}}))
	// Two files of one shard.
	first, second := "a0.jpg", ""
	for i := 1; second == ""; i++ {
		if n := fmt.Sprintf("a%d.jpg", i); engine.ShardOf(n) == engine.ShardOf(first) {
			second = n
		}
	}
	failed := func(name string) []engine.IngestItem {
		return []engine.IngestItem{{Item: engine.JobItem{Name: name, State: engine.ItemFailed, Reason: "not a photo"}}}
	}
	if _, ok, err := a.Shards().ClaimShard(ctx, j.ID, engine.ShardOf(first)); err != nil || !ok {
		t.Fatalf("claim: %v, %v", ok, err)
	}
	if _, _, err := a.CommitIngest(ctx, j, failed(first)); err != nil {
		t.Fatalf("commit under a held claim: %v", err)
	}
	if _, err := b.write.ExecContext(ctx, `SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 2`); err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.CommitIngest(ctx, j, failed(second)); !errors.Is(err, engine.ErrClaimLost) {
		t.Fatalf("commit after the claim's session ended: %v, want engine.ErrClaimLost", err)
	}
	if got := must[engine.Job](t)(b.Job(ctx, j.ID)); got.Processed != 1 {
		t.Fatalf("job processed %d files, want 1 (the refused commit left nothing)", got.Processed)
	}
	// The other process claims the shard and commits the file.
	if _, ok, err := b.Shards().ClaimShard(ctx, j.ID, engine.ShardOf(second)); err != nil || !ok {
		t.Fatalf("the freed shard: %v, %v", ok, err)
	}
	if _, _, err := b.CommitIngest(ctx, j, failed(second)); err != nil {
		t.Fatalf("commit by the shard's new holder: %v", err)
	}
	// A handle that never claimed shards of a job (no sharded run of it) is not checked.
	c, err := Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, _, err := c.CommitIngest(ctx, j, failed("other.jpg")); err != nil {
		t.Fatalf("commit by a process not running the job in shards: %v", err)
	}
}
