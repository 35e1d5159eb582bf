package engine

import (
	"context"
	"time"
)

// JobRunner works through the service's unfinished jobs one at a time (a job already uses every
// core): interrupted ones first, then queued ones, oldest first. Its owner runs Run in one
// goroutine and stops it by cancelling Run's context; a job interrupted that way stays running
// and resumes at the next start.
type JobRunner struct {
	svc  *Service
	wake chan struct{}
	poll time.Duration
	// retry is how long a sharded job whose other shards are with other processes waits
	// before this process looks again (for shards a dead process held); later maps such jobs
	// to that time. Only Run's goroutine uses later.
	retry time.Duration
	later map[int64]time.Time
}

// NewJobRunner returns a runner for svc's jobs. Wire Wake to ServiceConfig.JobQueued.
func NewJobRunner(svc *Service) *JobRunner {
	return &JobRunner{svc: svc, wake: make(chan struct{}, 1), poll: 30 * time.Second, retry: 5 * time.Second,
		later: map[int64]time.Time{}}
}

// Wake tells the runner a job was queued. It never blocks.
func (r *JobRunner) Wake() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Run runs jobs until ctx ends. A job that fails is recorded as failed and the runner goes
// on with the next; polling also picks up jobs queued by another process on the same data, and
// (with a shared catalog) jobs whose replica died.
func (r *JobRunner) Run(ctx context.Context) {
	for {
		j, release, ok := r.next(ctx)
		if ok {
			j, err := r.svc.RunJob(ctx, j.ID, nil)
			release()
			if err == nil && j.State == JobRunning && r.svc.sharded(j) {
				r.later[j.ID] = time.Now().Add(r.retry) // other processes hold its other shards
			}
			if err == nil || ctx.Err() != nil {
				continue
			}
			if !j.State.Finished() {
				// Still unfinished: the catalog could not even record the failure (a failure
				// it recorded, RunJob has logged). Wait before trying again rather than spin
				// on the same error.
				r.svc.log.Error("job could not be marked failed; retrying later", "job", j.ID, "err", err)
				select {
				case <-ctx.Done():
					return
				case <-time.After(5 * time.Second):
				}
			}
			continue
		}
		wait := r.poll
		for _, at := range r.later {
			wait = min(wait, time.Until(at))
		}
		select {
		case <-ctx.Done():
			return
		case <-r.wake:
		case <-time.After(wait):
		}
	}
}

// claimScan is how many unfinished jobs of a state the runner looks at for one it can claim.
const claimScan = 50

// next returns the oldest job to run (interrupted before queued) and the release of its claim.
// A sharded ingest job is not claimed whole: every process works on it (ShardClaimer).
func (r *JobRunner) next(ctx context.Context) (Job, func(), bool) {
	claimer := r.svc.cfg.Shards // nil: this process runs every job
	limit := 1
	if claimer != nil {
		limit = claimScan
	}
	now := time.Now()
	for id, at := range r.later {
		if !now.Before(at) {
			delete(r.later, id)
		}
	}
	for _, st := range []JobState{JobRunning, JobQueued} {
		js, err := r.svc.cfg.Catalog.Jobs(ctx, JobFilter{State: []JobState{st}, OldestFirst: true, Limit: limit})
		if err != nil {
			if ctx.Err() == nil {
				r.svc.log.Error("listing jobs failed", "err", err)
			}
			return Job{}, nil, false
		}
		for _, j := range js {
			if _, wait := r.later[j.ID]; wait {
				continue
			}
			if claimer == nil {
				return j, func() {}, true
			}
			release := func() {}
			if !r.svc.sharded(j) {
				var ok bool
				release, ok, err = claimer.ClaimJob(ctx, j.ID)
				if err != nil {
					if ctx.Err() == nil {
						r.svc.log.Error("claiming a job failed", "job", j.ID, "err", err)
					}
					return Job{}, nil, false
				}
				if !ok {
					continue
				}
			}
			// Another process may have cancelled it (or finished it, and released its claim)
			// since the listing: RunJob would resume a cancelled job.
			if cur, err := r.svc.cfg.Catalog.Job(ctx, j.ID); err != nil || cur.State.Finished() {
				release()
				continue
			}
			return j, release, true
		}
	}
	return Job{}, nil, false
}
