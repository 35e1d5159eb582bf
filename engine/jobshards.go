package engine

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
)

// JobShards is how many shards an ingest job's files fall into (by a stable hash of the file
// name) when several processes share its work: enough that nodes split a job finely, few
// enough that claiming and finishing them stays cheap.
const JobShards = 64

// ShardClaimer is implemented by a catalog that several processes share (PostgreSQL; set as
// ServiceConfig.Shards): an ingest job's shards are claimed one at a time by whichever process
// has capacity, so one job uses the cores of every node, and a dead node's shards are claimed
// again; a job that is not sharded (reprocessing) is claimed whole, by one process at a time.
// Without it, one process runs every job and every file, as always. Implementations must be
// safe for concurrent use.
type ShardClaimer interface {
	// ClaimJob claims a job that is not sharded for this process unless another process holds
	// it, without waiting; the claim ends with release or with the process.
	ClaimJob(ctx context.Context, jobID int64) (release func(), claimed bool, err error)
	// ClaimShard claims one shard of the job for this process unless another process holds
	// it or it is done; it never waits for another holder. The claim ends with release or
	// with the process. shard is in [0, JobShards], JobShards being the job's finishing.
	ClaimShard(ctx context.Context, jobID int64, shard int) (release func(), claimed bool, err error)
	// FinishShards records the shards as done (all their files committed) and reports whether
	// every shard of the job is done.
	FinishShards(ctx context.Context, jobID int64, shards []int) (allDone bool, err error)
	// ShardsDone lists the job's finished shards.
	ShardsDone(ctx context.Context, jobID int64) ([]int, error)
}

// finishShard is the shard number of a job's finishing work (grouping, placing, the state
// change to done), never recorded done: the process that claims it finishes the job, and holds
// it until the job is recorded done, so that the job is finished once. It also guards the
// creation of the job's cross-match search record.
const finishShard = JobShards

// ShardOf is the shard of an ingest job's file: FNV-1a 64 of its name, modulo JobShards. Every
// process computes the same.
func ShardOf(name string) int {
	h := fnv.New64a()
	h.Write([]byte(name))
	return int(h.Sum64() % JobShards)
}

// sharded reports whether j's files are split among processes.
func (s *Service) sharded(j Job) bool { return s.cfg.Shards != nil && j.Kind == IngestJob }

// ErrClaimLost is a store's refusal to commit files of shards this process no longer holds: its
// claims ended with a broken session, and another process may be doing those files now. The
// run stops; the job stays running, and the runner comes back to it.
var ErrClaimLost = errors.New("this process's claim of the job's shard was lost")

// errShardsLeft ends a run of a sharded ingest job that leaves the job running: shards are
// with other processes, or another is finishing the job.
var errShardsLeft = errors.New("shards of the job are with other processes")

// shardState is what one run decided about a shard.
type shardState uint8

const (
	shardUndecided shardState = iota
	shardMine                 // claimed by this run: its files are processed here
	shardElsewhere            // held by another process when this run asked
	shardDone                 // finished before this run started
)

// shardPass is one run's view of a sharded job's shards. Only the run's reader goroutine
// uses it while the pump runs; the run reads it after the pump has ended.
type shardPass struct {
	claimer  ShardClaimer
	jobID    int64
	state    [JobShards]shardState
	seen     [JobShards]bool // a file of the shard was listed in this pass
	releases []func()
}

func newShardPass(ctx context.Context, c ShardClaimer, jobID int64) (*shardPass, error) {
	p := &shardPass{claimer: c, jobID: jobID}
	done, err := c.ShardsDone(ctx, jobID)
	if err != nil {
		return nil, fmt.Errorf("job %d shards: %w", jobID, err)
	}
	for _, s := range done {
		if s >= 0 && s < JobShards {
			p.state[s] = shardDone
		}
	}
	// One free shard first: without one (every shard left is held by another process) a pass
	// would list the whole source for nothing, and an idle process looks in every few seconds.
	for s, st := range p.state {
		if st != shardUndecided {
			continue
		}
		release, ok, err := c.ClaimShard(ctx, jobID, s)
		if err != nil {
			return nil, fmt.Errorf("job %d shard %d: %w", jobID, s, err)
		}
		if ok {
			p.state[s], p.releases = shardMine, append(p.releases, release)
			return p, nil // the others are claimed at the workers' pace
		}
	}
	if len(done) < JobShards {
		return nil, errShardsLeft
	}
	return p, nil // every shard is done: this pass only finishes the job
}

// take reports whether this run processes the named file, claiming its shard the first time
// one of its files comes up. The reader calls it at the workers' pace, so a process claims a
// new shard only when it has room for more work: nodes split a job roughly by their speed.
func (p *shardPass) take(ctx context.Context, name string) (bool, error) {
	s := ShardOf(name)
	p.seen[s] = true
	if p.state[s] == shardUndecided {
		// A refusal is remembered for the pass: asking again at each file would cost a round
		// trip per file, and the shard's holder finishes it (or dies, and the next pass takes it).
		p.state[s] = shardElsewhere
		release, ok, err := p.claimer.ClaimShard(ctx, p.jobID, s)
		if err != nil {
			return false, fmt.Errorf("job %d shard %d: %w", p.jobID, s, err)
		}
		if ok {
			p.state[s], p.releases = shardMine, append(p.releases, release)
		}
	}
	return p.state[s] == shardMine, nil
}

// finished returns the shards a complete pass finished: those it claimed (every file of them
// is committed), and those with no file in the source, which nobody would ever claim.
func (p *shardPass) finished() []int {
	var out []int
	for s, st := range p.state {
		if st == shardMine || (st == shardUndecided && !p.seen[s]) {
			out = append(out, s)
		}
	}
	return out
}

func (p *shardPass) release() {
	for _, r := range p.releases {
		r()
	}
	p.releases = nil
}

// finishShards ends a pass of a sharded job that went through the whole source: it records
// the pass's shards done and gives up its claims. When every shard is done, the process that
// claims the finishing work and finds the job still running finishes it, and calls the
// returned release once the job is recorded done. Otherwise it returns errShardsLeft: the job
// stays running for the processes that hold its other shards.
func (r *ingestRun) finishShards(ctx context.Context, job Job) (Job, func(), error) {
	p := r.shards
	defer p.release()
	noop := func() {}
	all, err := p.claimer.FinishShards(ctx, job.ID, p.finished())
	switch {
	case err != nil:
		return job, noop, fmt.Errorf("job %d shards: %w", job.ID, err)
	case !all:
		return job, noop, errShardsLeft
	}
	release, ok, err := p.claimer.ClaimShard(ctx, job.ID, finishShard)
	switch {
	case err != nil:
		return job, noop, fmt.Errorf("job %d finishing: %w", job.ID, err)
	case !ok:
		return job, noop, errShardsLeft // another process is finishing it
	}
	cur, err := r.s.cfg.Catalog.Job(ctx, job.ID)
	if err != nil || cur.State != JobRunning {
		release() // finished (or gone) meanwhile, by another process
		if err == nil {
			err = errShardsLeft
		}
		return job, noop, err
	}
	return cur, release, nil
}
