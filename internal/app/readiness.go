package app

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/facematch/facematch/api"
	"github.com/facematch/facematch/engine"
	"github.com/facematch/facematch/internal/blob"
)

// readiness answers /readyz: the catalog and the blob store both answer. The result is kept for
// a second, so that an unauthenticated client polling /readyz cannot make the service hammer
// object storage.
type readiness struct {
	checks []func(context.Context) error
	mu     sync.Mutex
	at     time.Time
	err    error
}

func (r *readiness) Ready() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if time.Since(r.at) < time.Second {
		return r.err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var errs []error
	for _, check := range r.checks {
		errs = append(errs, check(ctx))
	}
	r.at, r.err = time.Now(), errors.Join(errs...)
	return r.err
}

// blobsReachable lists a prefix that holds nothing: one request to the store.
func blobsReachable(store blob.Store) func(context.Context) error {
	return func(ctx context.Context) error {
		if _, err := store.List(ctx, "readiness-probe/"); err != nil {
			return fmt.Errorf("blob store: %w", err)
		}
		return nil
	}
}

// Gauges are the service's state for /metrics: memory admission and each index's size.
func (a *App) Gauges() []api.Gauge {
	ad := a.Service.Admission()
	gs := []api.Gauge{
		{Name: "facematch_admission_budget_bytes", Help: "Memory budget of photos being decoded and analysed at once.", Value: float64(ad.Budget)},
		{Name: "facematch_admission_held_bytes", Help: "Memory budget held now by photos being decoded and analysed.", Value: float64(ad.Held)},
		{Name: "facematch_admission_peak_bytes", Help: "Most memory budget ever held at once.", Value: float64(ad.Peak)},
		{Name: "facematch_admission_refused_total", Help: "Uploads and searches answered 503 because the memory budget stayed full.", Value: float64(ad.Refused)},
		{Name: "facematch_admission_late_decodes_total", Help: "Decodes that outlived the decode timeout.", Value: float64(ad.Late)},
	}
	gs = append(gs, a.queueGauges()...)
	gs = append(gs, a.jobGauges()...)
	for _, st := range a.Service.InferenceStats() {
		l := map[string]string{"model": st.Model}
		gs = append(gs,
			api.Gauge{Name: "facematch_inference_seconds_total", Help: "Time spent analysing photos (detection, quality, embedding; decoding excluded) per model: rate() over facematch_inferences_total is the mean latency.", Labels: l, Value: st.Seconds, Counter: true},
			api.Gauge{Name: "facematch_inferences_total", Help: "Photos analysed per model.", Labels: l, Value: float64(st.Analyses), Counter: true})
	}
	gs = append(gs, runtimeGauges()...)
	names := make([]string, 0, len(a.identities))
	for name := range a.identities {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		ix := a.IndexOf(name)
		if ix == nil {
			continue
		}
		s := ix.Stats()
		l := map[string]string{"model": name}
		gs = append(gs,
			api.Gauge{Name: "facematch_index_faces", Help: "Faces in the vector index.", Labels: l, Value: float64(s.Faces)},
			api.Gauge{Name: "facematch_index_segments", Help: "Sealed index segments.", Labels: l, Value: float64(s.Segments)},
			api.Gauge{Name: "facematch_index_tombstones", Help: "Deleted faces not yet compacted away.", Labels: l, Value: float64(s.Tombstones)},
			api.Gauge{Name: "facematch_index_compactions_total", Help: "Compactions that took deleted faces out of object storage.", Labels: l, Value: float64(s.Compactions)})
		if a.Replica != nil {
			gs = append(gs, api.Gauge{Name: "facematch_index_applied_seq", Help: "Position in the shared index log this replica's index has applied.", Labels: l, Value: float64(s.AppliedSeq)})
		}
	}
	if a.Replica != nil {
		writer, since := a.Replica.Writer()
		v := 0.0
		if writer {
			v = 1
		}
		gs = append(gs,
			api.Gauge{Name: "facematch_replica_writer", Help: "1 while this replica holds the lease and writes the index, else 0.", Value: v},
			api.Gauge{Name: "facematch_replica_role_since_seconds", Help: "Unix time of this replica's last change of role.", Value: float64(since.Unix())})
	}
	return gs
}

// metricsTimeout bounds the catalog reads behind one scrape.
const metricsTimeout = 2 * time.Second

// queueGauges are the review queue's depth per gallery and status, and the age of each
// gallery's oldest pending and disputed item.
func (a *App) queueGauges() []api.Gauge {
	ctx, cancel := context.WithTimeout(context.Background(), metricsTimeout)
	defer cancel()
	counts, err := a.Service.QueueCounts(ctx)
	if err != nil {
		a.log.Warn("metrics: queue counts", "err", err)
		return nil
	}
	// Per gallery and status, over the cases (a case label would grow without bound).
	type key struct {
		gallery int64
		status  engine.MatchStatus
	}
	items, oldest := map[key]int{}, map[key]time.Time{}
	var keys []key
	for _, q := range counts {
		k := key{q.GalleryID, q.Status}
		if _, seen := items[k]; !seen {
			keys = append(keys, k)
		}
		items[k] += q.Items
		if o, ok := oldest[k]; !ok || q.Oldest.Before(o) {
			oldest[k] = q.Oldest
		}
	}
	var gs []api.Gauge
	now := time.Now()
	for _, k := range keys {
		l := map[string]string{"gallery": strconv.FormatInt(k.gallery, 10), "status": string(k.status)}
		gs = append(gs, api.Gauge{Name: "facematch_review_items", Help: "Review items per gallery and status (pending, disputed, or the final decision).", Labels: l, Value: float64(items[k])})
		if k.status == engine.Pending || k.status == engine.Disputed {
			gs = append(gs, api.Gauge{Name: "facematch_review_oldest_age_seconds", Help: "Age of the oldest pending or disputed review item per gallery.", Labels: l, Value: now.Sub(oldest[k]).Seconds()})
		}
	}
	return gs
}

// jobGauges are the running jobs' progress.
func (a *App) jobGauges() []api.Gauge {
	ctx, cancel := context.WithTimeout(context.Background(), metricsTimeout)
	defer cancel()
	jobs, err := a.Service.Jobs(ctx, engine.Actor{Name: "metrics", Role: engine.RoleAdmin}, engine.JobFilter{State: []engine.JobState{engine.JobRunning}, Limit: 100})
	if err != nil {
		a.log.Warn("metrics: jobs", "err", err)
		return nil
	}
	var gs []api.Gauge
	for _, j := range jobs {
		l := map[string]string{"job": strconv.FormatInt(j.ID, 10), "kind": string(j.Kind)}
		gs = append(gs,
			api.Gauge{Name: "facematch_job_files", Help: "Files a running job has found so far.", Labels: l, Value: float64(j.Total)},
			api.Gauge{Name: "facematch_job_processed_files", Help: "Files a running job has processed.", Labels: l, Value: float64(j.Processed)},
			api.Gauge{Name: "facematch_job_failed_files", Help: "Files a running job could not use.", Labels: l, Value: float64(j.Failed)})
	}
	return gs
}

// runtimeGauges are the Go runtime's: goroutines, heap and collections.
func runtimeGauges() []api.Gauge {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return []api.Gauge{
		{Name: "go_goroutines", Help: "Goroutines that currently exist.", Value: float64(runtime.NumGoroutine())},
		{Name: "go_memstats_heap_alloc_bytes", Help: "Heap bytes allocated and still in use.", Value: float64(ms.HeapAlloc)},
		{Name: "go_memstats_heap_sys_bytes", Help: "Heap bytes obtained from the system.", Value: float64(ms.HeapSys)},
		{Name: "go_memstats_sys_bytes", Help: "Bytes obtained from the system.", Value: float64(ms.Sys)},
		{Name: "go_gc_cycles_total", Help: "Completed garbage collections.", Value: float64(ms.NumGC), Counter: true},
		{Name: "go_gc_pause_seconds_total", Help: "Time the collector stopped the world.", Value: float64(ms.PauseTotalNs) / 1e9, Counter: true},
		{Name: "process_peak_resident_bytes", Help: "Peak resident set size of the process.", Value: float64(PeakRSS())},
	}
}
