package catalog

import (
	"context"
	"slices"
	"testing"

	"github.com/facematch/facematch/engine"
)

// A SQLite catalog belongs to one process: it offers no shard claimer, so the engine runs a
// job's every file as always.
func TestShardsOnlyWhereShared(t *testing.T) {
	d, _ := openTest(t)
	if c := d.Shards(); c != nil {
		t.Fatalf("SQLite catalog's Shards() = %v, want nil", c)
	}
}

// The done-shard records are plain SQL that SQLite runs too; the advisory locks of ClaimShard
// need PostgreSQL (the PostgreSQL suite runs them).
func TestFinishShardsCountsEveryShardOnce(t *testing.T) {
	ctx := context.Background()
	d, _ := openTest(t)
	g := must[engine.Gallery](t)(d.CreateGallery(ctx, engine.Gallery{Name: "a", Kind: engine.Collection, Model: "m@1", CreatedAt: now, CreatedBy: "a"}))
	j := must[engine.Job](t)(d.CreateJob(ctx, engine.Job{Kind: engine.IngestJob, GalleryID: g.ID, Spec: engine.JobSpec{Source: "/x", Purpose: "p"}, CreatedBy: "a", CreatedAt: now}))
	other := must[engine.Job](t)(d.CreateJob(ctx, engine.Job{Kind: engine.IngestJob, GalleryID: g.ID, Spec: engine.JobSpec{Source: "/y", Purpose: "p"}, CreatedBy: "a", CreatedAt: now}))
	c := &shardClaimer{d: d, pool: d.write, held: map[[2]int32]bool{}}
	var first, rest []int
	for s := range engine.JobShards {
		if s < engine.JobShards/2 {
			first = append(first, s)
		} else {
			rest = append(rest, s)
		}
	}
	if all, err := c.FinishShards(ctx, j.ID, first); err != nil || all {
		t.Fatalf("half the shards finished: all done = %v, %v; want false", all, err)
	}
	if all, err := c.FinishShards(ctx, j.ID, first[:3]); err != nil || all { // again: counted once
		t.Fatalf("a shard finished twice: all done = %v, %v; want false", all, err)
	}
	if all, err := c.FinishShards(ctx, other.ID, rest); err != nil || all {
		t.Fatalf("another job's shards: all done = %v, %v; want false", all, err)
	}
	if all, err := c.FinishShards(ctx, j.ID, rest); err != nil || !all {
		t.Fatalf("every shard finished: all done = %v, %v; want true", all, err)
	}
	done, err := c.ShardsDone(ctx, j.ID)
	if err != nil || len(done) != engine.JobShards || !slices.IsSorted(done) {
		t.Fatalf("done shards = %v, %v; want all %d", done, err, engine.JobShards)
	}
	if done, err := c.ShardsDone(ctx, other.ID); err != nil || !slices.Equal(done, rest) {
		t.Fatalf("other job's done shards = %v, %v; want %v", done, err, rest)
	}
}
